#!/usr/bin/env python3
"""What the reference denoiser does to clean recordings.

The issue asks that `denoise` change clean input by less than 1 dB RMS
(`cargo test --test reference_plugins denoise -- --nocapture`, with
AUSCULT_DENOISE_SLICE=all for every recording). This measures the same
figure for noisereduce's stationary mode, the method `denoise` follows, run
as a user would run it (defaults; no noise clip, so its noise statistics
come from the whole recording), on the same input: each recording
band-passed as the chain does (4th-order Butterworth, lung 100-1800 Hz,
heart 25-400 Hz).

    .venv/bin/pip install noisereduce soundfile scipy
    .venv/bin/python scripts/denoise_reference.py ../shared/data
"""
import glob
import os
import sys

import noisereduce
import numpy as np
import soundfile
from scipy.signal import butter, sosfilt


def rms_change_db(path):
    y, sr = soundfile.read(path, dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    low, high = (25, 400) if "heart" in path else (100, 1800)
    y = sosfilt(butter(4, [low, min(high, 0.45 * sr)], btype="band", fs=sr, output="sos"), y)
    # noisereduce's defaults assume 44.1 kHz (1024-point frames); keep its
    # ~23 ms frames at other rates (its mask smoothing needs >= 1 hop).
    n_fft = max(64, 1 << int(round(np.log2(1024 * sr / 44100))))
    out = noisereduce.reduce_noise(y=y, sr=sr, stationary=True, n_fft=n_fft)
    return 20 * np.log10(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(y**2)))


def main(data):
    sets = {"kauh": "kauh/audio/*.wav", "icbhi": "icbhi/audio_and_txt_files/*.wav", "heart": "heart-yaseen2018/*/*.wav"}
    for name, pattern in sets.items():
        files = sorted(glob.glob(os.path.join(data, pattern)))
        if not files:
            continue
        changes = np.array([rms_change_db(f) for f in files])
        within = int((np.abs(changes) < 1.0).sum())
        print(f"{name:6} {len(files):4} recordings: within 1 dB {within:4}; RMS change median {np.median(changes):+.2f} dB, worst {changes.min():+.2f} dB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
