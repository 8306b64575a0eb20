#!/usr/bin/env python3
"""Generate the mel conformance fixtures in tests/fixtures/mel from librosa.

Run by hand, not in CI (the tests need no Python):

    python3 -m venv .venv && .venv/bin/pip install librosa scipy
    .venv/bin/python scripts/make_mel_fixtures.py [--data ../shared/data]

For each case it stores the input signal (float32, already at the case's
sample rate) and librosa 0.11's outputs for it: the mel power spectrogram,
power_to_db(ref=np.max, top_db=80), and for the Kaldi case a numpy port of
torchaudio.compliance.kaldi.fbank. cases.toml lists the settings.
"""
import argparse
import os
import sys

import librosa
import numpy as np
import scipy.signal

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "mel")

SETTINGS = {
    # The three settings issue 3 asks for, plus variants of the options.
    "lung4k": dict(sr=4000, n_fft=256, hop=64, n_mels=64, fmin=50.0, fmax=2000.0),
    "librosa22k": dict(sr=22050, n_fft=2048, hop=512, n_mels=128, fmin=0.0, fmax=None),
    "speech16k": dict(sr=16000, n_fft=400, hop=160, n_mels=128, fmin=0.0, fmax=None),
}


def real_clip(data, rel, sr, seconds, offset):
    y, native = librosa.load(os.path.join(data, rel), sr=None, mono=True, offset=offset, duration=seconds)
    if native != sr:
        g = np.gcd(int(native), int(sr))
        y = scipy.signal.resample_poly(y, sr // g, native // g).astype(np.float32)
    return y.astype(np.float32)


def synthetic(sr, seconds, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    chirp = scipy.signal.chirp(t, f0=30, t1=seconds, f1=sr * 0.45, method="logarithmic")
    bursts = (np.sin(2 * np.pi * 1.5 * t) > 0.7) * rng.normal(0, 0.3, t.size)
    y = 0.5 * chirp + bursts + 1e-3 * rng.normal(size=t.size)
    y[: sr // 10] = 0.0  # exact silence: exercises amin and the dB floor
    return y.astype(np.float32)


def kaldi_fbank(y, sr, num_bins=128, window="povey"):
    """numpy port of torchaudio.compliance.kaldi.fbank (dither 0, no energy)."""
    win, shift = int(sr * 0.025), int(sr * 0.010)
    padded = 1 << (win - 1).bit_length()
    m = 1 + (len(y) - win) // shift
    frames = np.stack([y[i * shift : i * shift + win] for i in range(m)]).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    prev = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames - 0.97 * prev
    n = np.arange(win)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (win - 1))
    w = hann ** 0.85 if window == "povey" else hann
    spec = np.abs(np.fft.rfft(frames * w, n=padded)) ** 2
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)
    lo, hi = mel(20.0), mel(sr / 2)
    delta = (hi - lo) / (num_bins + 1)
    b = np.arange(num_bins)[:, None]
    left, center, right = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
    bin_mel = mel(np.arange(padded // 2) * sr / padded)[None, :]
    banks = np.maximum(0, np.minimum((bin_mel - left) / (center - left), (right - bin_mel) / (right - center)))
    banks = np.pad(banks, ((0, 0), (0, 1)))
    energies = spec @ banks.T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    cases = []
    inputs = {
        "lung4k": [
            ("kauh", lambda s: real_clip(args.data, "kauh/audio/BP1_Asthma,I E W,P L L,70,M.wav", s, 5.0, 0.0)),
            ("synthetic", lambda s: synthetic(s, 3.0, 1)),
        ],
        "librosa22k": [
            ("icbhi", lambda s: real_clip(args.data, "icbhi/audio_and_txt_files/103_2b2_Ar_mc_LittC2SE.wav", s, 2.5, 1.0)),
            ("synthetic", lambda s: synthetic(s, 1.5, 2)),
        ],
        "speech16k": [
            ("heart", lambda s: real_clip(args.data, "heart-yaseen2018/MR/" + sorted(os.listdir(os.path.join(args.data, "heart-yaseen2018/MR")))[0], s, 2.0, 0.0)),
            ("synthetic", lambda s: synthetic(s, 2.0, 3)),
        ],
    }
    for setting, sources in inputs.items():
        p = SETTINGS[setting]
        for source, make in sources:
            y = make(p["sr"])
            variants = [dict(htk=False, center=True, pad_mode="constant", power=2.0)]
            if source == "synthetic":
                variants += [
                    dict(htk=True, center=True, pad_mode="reflect", power=2.0),
                    dict(htk=False, center=False, pad_mode="constant", power=1.0),
                ]
            base = f"{setting}_{source}"
            np.save(os.path.join(OUT, base + ".input.npy"), y)
            for i, v in enumerate(variants):
                name = base if i == 0 else f"{base}_v{i}"
                S = librosa.feature.melspectrogram(
                    y=y, sr=p["sr"], n_fft=p["n_fft"], hop_length=p["hop"], n_mels=p["n_mels"], fmin=p["fmin"],
                    fmax=p["fmax"], htk=v["htk"], center=v["center"], pad_mode=v["pad_mode"], power=v["power"],
                )
                np.save(os.path.join(OUT, name + ".mel.npy"), S.astype(np.float32))
                np.save(os.path.join(OUT, name + ".db.npy"), librosa.power_to_db(S, ref=np.max, top_db=80.0).astype(np.float32))
                cases.append((name, base, setting, p, v))
            if setting == "speech16k":
                np.save(os.path.join(OUT, base + ".fbank.npy"), kaldi_fbank(y, p["sr"]))
    with open(os.path.join(OUT, "cases.toml"), "w") as f:
        f.write(f"# Generated by scripts/make_mel_fixtures.py with librosa {librosa.__version__}.\n")
        for name, base, setting, p, v in cases:
            fmax = "" if p["fmax"] is None else f"fmax = {p['fmax']}\n"
            f.write(
                f"\n[[case]]\nname = \"{name}\"\ninput = \"{base}.input.npy\"\nsetting = \"{setting}\"\n"
                f"sample_rate = {p['sr']}\nn_fft = {p['n_fft']}\nhop = {p['hop']}\nn_mels = {p['n_mels']}\n"
                f"fmin = {p['fmin']}\n{fmax}htk = {str(v['htk']).lower()}\ncenter = {str(v['center']).lower()}\n"
                f"pad_mode = \"{v['pad_mode']}\"\npower = {v['power']}\n"
                f"fbank = {str(setting == 'speech16k' and name == base).lower()}\n"
            )
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"{len(cases)} cases, {total / 1e6:.2f} MB in {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
