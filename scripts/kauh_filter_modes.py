#!/usr/bin/env python3
"""Whether a KAUH patient's three files (bell, diaphragm, extended) are one
recording filtered three ways or three recordings.

For each patient: the three files' lengths and the pairwise correlation of
their samples over the shortest. One length and every pair above r = 0.5 is
counted as one recording; the others are listed. Run by hand:

    python3 -m venv .venv && .venv/bin/pip install numpy
    .venv/bin/python scripts/kauh_filter_modes.py ../shared/data/kauh
"""
import argparse
import collections
import glob
import os
import re
import wave

import numpy as np


def samples(path):
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(float)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kauh", help="the KAUH directory (with audio/)")
    args = parser.parse_args()
    by_patient = collections.defaultdict(dict)
    for path in glob.glob(os.path.join(args.kauh, "audio", "*.wav")):
        m = re.match(r"([BDE])P(\d+)_", os.path.basename(path))
        if m:
            by_patient[int(m.group(2))][m.group(1)] = path
    one = 0
    for patient, files in sorted(by_patient.items()):
        if sorted(files) != ["B", "D", "E"]:
            print(f"patient {patient}: only {''.join(sorted(files))}")
            continue
        x = {mode: samples(files[mode]) for mode in "BDE"}
        lengths = {mode: len(v) for mode, v in x.items()}
        n = min(lengths.values())
        r = np.corrcoef([x[mode][:n] for mode in "BDE"])
        pairs = {"B-D": r[0, 1], "B-E": r[0, 2], "D-E": r[1, 2]}
        if len(set(lengths.values())) == 1 and min(pairs.values()) > 0.5:
            one += 1
        else:
            shown = ", ".join(f"{k} r={v:.2f}" for k, v in pairs.items())
            print(f"patient {patient}: lengths {lengths}; {shown}")
    print(f"{one} of {len(by_patient)} patients: one recording (one length, every pair r > 0.5)")


if __name__ == "__main__":
    main()
