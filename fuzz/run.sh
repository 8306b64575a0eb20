#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) one after another, on
# nightly (cargo install cargo-fuzz), growing fuzz/corpus/<target>/ and
# printing each target's last status line: executions, coverage, corpus.
# A crash leaves its input in fuzz/artifacts/<target>/; once fixed, copy it
# to fuzz/regressions/<target>/ so that `cargo test` replays it for good.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
targets=${TARGETS:-"decode toml_files annotations descriptor"}
mkdir -p logs
for t in $targets; do
    echo "== $t: ${seconds} s"
    status=0
    cargo +nightly fuzz run -O "$t" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
        > "logs/$t.log" 2>&1 || status=$?
    grep -E "^#[0-9]+.*(DONE|pulse|NEW|REDUCE)" "logs/$t.log" | tail -1 || true
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "logs/$t.log" || true
    if [ "$status" -ne 0 ]; then
        echo "$t: FOUND A CRASH (exit $status): see fuzz/logs/$t.log and fuzz/artifacts/$t/"
    fi
done
