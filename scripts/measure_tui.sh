#!/usr/bin/env bash
# Measures the TUI in steady state: frames per second and CPU use of one
# core, in a real terminal (tmux, 100x30 by default), replaying a sample.
#
#   cargo build --release && bash scripts/measure_tui.sh [SECONDS] [WIDTH] [HEIGHT]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}; width=${2:-100}; height=${3:-30}
bin=target/release/auscult
stats=$(mktemp); out=$(mktemp -d)
sock=auscult-measure-$$
tmux -L "$sock" new-session -d -s m -x "$width" -y "$height" \
    "AUSCULT_UI_STATS=$stats AUSCULT_PLUGIN_PATH=target/release $bin --input samples/kauh-EP109-normal.wav --out $out"
sleep 5   # start-up, first fill of the spectrogram
pid=$(pgrep -f "^$bin --input samples/kauh-EP109-normal.wav --out $out" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$secs"
t1=$(ticks); s1=$(date +%s.%N)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
tmux -L "$sock" send-keys -t m q
sleep 1
tmux -L "$sock" kill-server 2>/dev/null || true
cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" 'BEGIN {print (b - a) / hz / (s1 - s0) * 100}')
printf 'terminal %sx%s, %s s steady state\n' "$width" "$height" "$secs"
printf 'CPU: %.1f%% of one core (all threads: replay, analysis, UI)\n' "$cpu"
printf 'peak RSS: %s kB\n' "$rss"
cat "$stats"
rm -rf "$stats" "$out"
