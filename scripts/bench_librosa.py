#!/usr/bin/env python3
"""Time librosa 0.11 on the signals benches/mel.rs uses, on one core.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        .venv/bin/python scripts/bench_librosa.py

Whole: melspectrogram of a 20 s signal. Frame: melspectrogram of one n_fft
frame with center=False (what a live path built on librosa would call for
each new frame).
"""
import timeit

import librosa
import numpy as np

SETTINGS = {
    "lung4k": dict(sr=4000, n_fft=256, hop_length=64, n_mels=64, fmin=50.0, fmax=2000.0),
    "librosa22k": dict(sr=22050, n_fft=2048, hop_length=512, n_mels=128),
    "speech16k": dict(sr=16000, n_fft=400, hop_length=160, n_mels=128),
}


def signal(sr, seconds):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1234 * t)).astype(np.float32)


def best(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=7)) / number


print(f"librosa {librosa.__version__}")
print(f"{'setting':<12} {'whole 20 s (ms)':>16} {'audio s/s':>10} {'one frame (us)':>15}")
for name, p in SETTINGS.items():
    y = signal(p["sr"], 20.0)
    librosa.feature.melspectrogram(y=y, **p)  # warm the filterbank cache
    whole = best(lambda: librosa.feature.melspectrogram(y=y, **p), 5)
    frame = y[: p["n_fft"]]
    one = best(lambda: librosa.feature.melspectrogram(y=frame, center=False, **p), 200)
    print(f"{name:<12} {whole * 1e3:>16.2f} {20.0 / whole:>10.0f} {one * 1e6:>15.1f}")
