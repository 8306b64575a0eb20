#!/usr/bin/env python3
"""librosa 0.11 and auscult side by side, in one run, on one machine.

Signals (what benches/mel.rs times, on one core):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        .venv/bin/python scripts/bench_librosa.py

Whole: melspectrogram of a 20 s signal. Frame: melspectrogram of one n_fft
frame with center=False (what a live path built on librosa would call for
each new frame).

Recordings (the corpus-scale figures in the README's Measurements):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        .venv/bin/python scripts/bench_librosa.py --files LIST --model MODEL

LIST holds one recording per line. For each rate (4, 16 and 44.1 kHz) the
script times librosa's feature step over every file (`librosa.load` at that
rate, `melspectrogram`, `power_to_db`: one thread) and `auscult features mel
--out-dir` over the same list with `--jobs 1`; then `auscult analyze --model
MODEL` (each one given) with `--jobs 1` and `--jobs 2`. Each figure is the best of `--repeat`
runs. Printed: seconds, audio seconds per second (x real time), the ratios,
and the machine's core count.
"""
import argparse
import os
import subprocess
import tempfile
import time
import timeit
from pathlib import Path

import librosa
import numpy as np
import soundfile

SETTINGS = {
    "lung4k": dict(sr=4000, n_fft=256, hop_length=64, n_mels=64, fmin=50.0, fmax=2000.0),
    "librosa22k": dict(sr=22050, n_fft=2048, hop_length=512, n_mels=128),
    "speech16k": dict(sr=16000, n_fft=400, hop_length=160, n_mels=128),
}

# The rates of the recordings comparison, each with the mel settings usual there.
CORPUS_SETTINGS = {
    "4 kHz": dict(sr=4000, n_fft=256, hop_length=64, n_mels=64, fmin=25.0, fmax=2000.0),
    "16 kHz": dict(sr=16000, n_fft=400, hop_length=160, n_mels=128, fmin=0.0, fmax=8000.0),
    "44.1 kHz": dict(sr=44100, n_fft=2048, hop_length=512, n_mels=128, fmin=0.0, fmax=22050.0),
}

BINARY = Path(__file__).resolve().parent.parent / "target" / "release" / "auscult"


def signal(sr, seconds):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1234 * t)).astype(np.float32)


def best(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=7)) / number


def signals():
    print(f"librosa {librosa.__version__}")
    print(f"{'setting':<12} {'whole 20 s (ms)':>16} {'audio s/s':>10} {'one frame (us)':>15}")
    for name, p in SETTINGS.items():
        y = signal(p["sr"], 20.0)
        librosa.feature.melspectrogram(y=y, **p)  # warm the filterbank cache
        whole = best(lambda: librosa.feature.melspectrogram(y=y, **p), 5)
        frame = y[: p["n_fft"]]
        one = best(lambda: librosa.feature.melspectrogram(y=frame, center=False, **p), 200)
        print(f"{name:<12} {whole * 1e3:>16.2f} {20.0 / whole:>10.0f} {one * 1e6:>15.1f}")


def librosa_features(files, p):
    """librosa's feature step over every file, as a notebook writes it."""
    for f in files:
        y, sr = librosa.load(f, sr=p["sr"])
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=p["n_fft"], hop_length=p["hop_length"], n_mels=p["n_mels"], fmin=p["fmin"], fmax=p["fmax"])
        librosa.power_to_db(mel, ref=1.0, top_db=80.0)


def run(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def best_of(repeat, fn):
    return min(fn() for _ in range(repeat))


def recordings(args):
    files = [line.strip() for line in Path(args.files).read_text().splitlines() if line.strip()]
    audio_s = sum(soundfile.info(f).duration for f in files)
    cores = os.cpu_count()
    print(f"librosa {librosa.__version__}; {len(files)} recordings, {audio_s:.0f} s of audio; {cores} cores; best of {args.repeat}")
    print(f"{'step':<42} {'seconds':>8} {'x real time':>12} {'ratio':>16}")
    # Each file's first decode warms the page cache and librosa's filter banks.
    librosa_features(files[:3], CORPUS_SETTINGS["4 kHz"])
    with tempfile.TemporaryDirectory() as out:
        for rate, p in CORPUS_SETTINGS.items():
            ours_cmd = [str(BINARY), "features", "mel", "--files-from", args.files, "--out-dir", out, "--jobs", "1", "--db",
                        "--sr", str(p["sr"]), "--n-fft", str(p["n_fft"]), "--hop", str(p["hop_length"]), "--n-mels", str(p["n_mels"]),
                        "--fmin", str(p["fmin"]), "--fmax", str(p["fmax"])]
            theirs = best_of(args.repeat, lambda: timed(lambda: librosa_features(files, p)))
            ours = best_of(args.repeat, lambda: run(ours_cmd))
            print(f"{'librosa load + mel + dB, ' + rate:<42} {theirs:>8.2f} {audio_s / theirs:>12.0f}")
            print(f"{'auscult features mel --jobs 1, ' + rate:<42} {ours:>8.2f} {audio_s / ours:>12.0f} {theirs / ours:>10.2f}x librosa")
    theirs = best_of(args.repeat, lambda: timed(lambda: librosa_features(files, CORPUS_SETTINGS["4 kHz"])))
    for model in args.model:
        analyze = [str(BINARY), "analyze", "--files-from", args.files, "--model", model, "--format", "csv"]
        one = best_of(args.repeat, lambda: run(analyze + ["--jobs", "1"]))
        two = best_of(args.repeat, lambda: run(analyze + ["--jobs", "2"]))
        print(f"analyze --model {model}")
        print(f"{'  --jobs 1':<42} {one:>8.2f} {audio_s / one:>12.0f} {theirs / one:>10.2f}x librosa 4 kHz")
        print(f"{'  --jobs 2':<42} {two:>8.2f} {audio_s / two:>12.0f} {one / two:>10.2f}x --jobs 1")


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", help="a file listing recordings, one a line: time them instead of the signals")
    parser.add_argument("--model", action="append", help="a model analyze runs (a name in models/ or a card); again for another")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.files:
        if not args.model:
            parser.error("--files needs --model")
        recordings(args)
    else:
        signals()


if __name__ == "__main__":
    main()
