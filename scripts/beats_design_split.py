#!/usr/bin/env python3
"""Splits `auscult eval-beats --csv` rows into the recordings heart mode's
HSMM settings were chosen on and the patients it was not tuned on.

The first design set is 60 CirCor recordings drawn with Python's
`random.seed(0)` and `random.sample` from the sorted paths of the WAVs that
have a `.tsv` (59 patients): the HSMM's band, frame, window and logistic
were chosen on them. The pitch's bands and weight were chosen on 300: those
60 and 240 more drawn with `random.seed(1)` from the rest (273 patients).
The held-out figure leaves out every recording of those 273 patients.

    auscult eval-beats --data CIRCOR --csv beats.csv
    python3 scripts/beats_design_split.py CIRCOR beats.csv
"""
import csv
import glob
import os
import random
import sys


def design_sets(circor):
    files = sorted(glob.glob(os.path.join(circor, "training_data", "*.wav")))
    files = [f for f in files if os.path.exists(f[:-4] + ".tsv")]
    random.seed(0)
    first = random.sample(files, 60)
    chosen = set(first)
    random.seed(1)
    more = random.sample([f for f in files if f not in chosen], 240)
    name = lambda fs: {os.path.basename(f) for f in fs}
    return name(first), name(first + more)


def figures(rows, kind):
    matched, detected, reference = (sum(int(r[f"{kind}_{c}"]) for r in rows) for c in ("matched", "detected", "reference"))
    p, r = matched / max(detected, 1), matched / max(reference, 1)
    return f"{kind.upper()} precision {p:.3f} recall {r:.3f} F1 {2 * p * r / max(p + r, 1e-12):.3f}"


def main():
    circor, path = sys.argv[1], sys.argv[2]
    first, design = design_sets(circor)
    design_patients = {d.split("_")[0] for d in design}
    rows = list(csv.DictReader(open(path)))
    patient = lambda r: os.path.basename(r["path"]).split("_")[0]
    for name, chosen in [
        (f"first design set ({len(first)} recordings)", [r for r in rows if os.path.basename(r["path"]) in first]),
        (f"design ({len(design)} recordings, {len(design_patients)} patients)", [r for r in rows if os.path.basename(r["path"]) in design]),
        ("held-out patients", [r for r in rows if patient(r) not in design_patients]),
        ("all", rows),
    ]:
        print(f"{name}: {len(chosen)} recordings; {figures(chosen, 's1')}; {figures(chosen, 's2')}")


if __name__ == "__main__":
    main()
