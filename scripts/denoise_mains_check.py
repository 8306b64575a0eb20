#!/usr/bin/env python3
"""Is mains hum why `denoise` changes some clean recordings by over 1 dB?

Five ICBHI recordings lose more than 1 dB to the denoiser on clean input
(`AUSCULT_DENOISE_SLICE=all cargo test --test reference_plugins
denoise_changes -- --nocapture`), and three of them carry 50 Hz hum. This
runs each recording through the real plugins twice with `auscult process`:
band-passed as the test does (100-1800 Hz), then denoised; and the same with
the mains harmonics (50 Hz to 1800 Hz, 3 Hz wide) notched out before the
denoiser. If hum were the cause, the second change would be under 1 dB.

    cargo build --release
    .venv/bin/python scripts/denoise_mains_check.py ../shared/data
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile
from scipy.signal import filtfilt, iirnotch

RECORDINGS = ["154_2b4_Tc", "154_1b3_Tc", "154_2b4_Pr", "163_2b2_Pr", "163_8b3_Lr"]
BINARY = os.path.join("target", "release", "auscult")


def process(chain, src, dst):
    env = dict(os.environ, AUSCULT_PLUGIN_PATH=os.path.join("target", "release"))
    subprocess.run([BINARY, "process", "--chain", chain, src, dst], check=True, env=env, capture_output=True)
    return soundfile.read(dst, dtype="float64")


def change_db(x, y, latency):
    x, y = x[: len(x) - latency], y[latency:]
    return 10 * np.log10(np.sum(y**2) / np.sum(x**2))


def main(data):
    tmp = tempfile.mkdtemp()
    bandpass, denoise = os.path.join(tmp, "bandpass.toml"), os.path.join(tmp, "denoise.toml")
    with open(bandpass, "w") as f:
        f.write('[[chain]]\nplugin = "bandpass"\nparams = { low_hz = 100.0, high_hz = 1800.0, order = 4 }\n')
    with open(denoise, "w") as f:
        f.write('[[chain]]\nplugin = "denoise"\n')
    for name in RECORDINGS:
        src = os.path.join(data, "icbhi", "audio_and_txt_files", f"{name}_mc_AKGC417L.wav")
        x, sr = process(bandpass, src, os.path.join(tmp, "x.wav"))
        # The plugin's latency at 44.1 kHz (all five): n_fft 4096 + 2 hops of 1024.
        assert sr == 44100, f"{src}: {sr} Hz"
        latency = 4096 + 2 * 1024
        y, _ = process(denoise, os.path.join(tmp, "x.wav"), os.path.join(tmp, "y.wav"))
        notched = x
        for h in range(50, 1800, 50):
            b, a = iirnotch(h, h / 3.0, sr)
            notched = filtfilt(b, a, notched)
        hum = 1 - np.sum(notched**2) / np.sum(x**2)
        soundfile.write(os.path.join(tmp, "n.wav"), notched.astype(np.float32), sr, subtype="FLOAT")
        yn, _ = process(denoise, os.path.join(tmp, "n.wav"), os.path.join(tmp, "yn.wav"))
        print(f"{name}: the notches take {100 * hum:3.0f}% of the energy; denoised {change_db(x, y, latency):+.2f} dB, "
              f"hum notched first {change_db(notched, yn, latency):+.2f} dB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
