#!/usr/bin/env python3
"""The MFCC + SVM baseline on the lung corpora's official splits.

Features as in baseline_mfcc_svm.py (20 MFCC at 4 kHz: their means, spreads
and the spreads of their deltas); an RBF SVM, C = 10, balanced class
weights, trained on a training side and scored once on each official test
set. The figures `auscult eval` prints for a model, on the same examples:

- ICBHI 2017 (`ICBHI/`, its `ICBHI_challenge_train_test.txt`): each
  annotated cycle, normal / crackle / wheeze / both; Sp, Se, Score, balanced
  accuracy, with the 95% interval over patients.
- SPRSound (`SPRSOUND/Classification/`): Task 1-1 (each event, normal or
  adventitious), Task 1-2 (each event, its seven classes), Task 2-1 (each
  record, normal / adventitious / poor quality), and the event classes mapped to the four cycle classes (as
  `auscult`'s lung-cycles task maps them), on test-inter, test-intra and
  test-2023: SE, SP, AS, HS, Score.
- lung-cycles trained on both training sides joined, scored on every test
  set: the baseline beside a model trained that way.

    .venv/bin/python scripts/baseline_official.py --icbhi DIR/icbhi --sprsound DIR/sprsound
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

sys.path.insert(0, os.path.dirname(__file__))
from baseline_mfcc_svm import icbhi_dir, icbhi_score, load, mfcc_features, patient_interval, SR  # noqa: E402

# An event's class in ICBHI's four: normal, crackle, wheeze, both.
EVENT_AS_CYCLE = {"Normal": 0, "Fine Crackle": 1, "Coarse Crackle": 1, "Wheeze": 2, "Rhonchi": 2, "Stridor": 2, "Wheeze+Crackle": 3}
# The seven event classes, for Task 1-2 (the order does not change its Score).
EVENT_7 = {"Normal": 0, "Rhonchi": 1, "Wheeze": 2, "Stridor": 3, "Coarse Crackle": 4, "Fine Crackle": 5, "Wheeze+Crackle": 6}
RECORD_3 = {"Normal": 0, "CAS": 1, "DAS": 1, "CAS & DAS": 1, "Poor Quality": 2}
SETS = {
    "train": ("train_classification_json", "train_classification_wav"),
    "test-inter": ("test_classification_json/2022/inter_test_json", "test_classification_wav/2022"),
    "test-intra": ("test_classification_json/2022/intra_test_json", "test_classification_wav/2022"),
    "test-2023": ("test_classification_json/2023", "test_classification_wav/2023"),
}


def svm():
    return make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10, class_weight="balanced"))


def icbhi_cycles(root):
    """(X, y, patients, is_train) for every cycle of a recording with audio."""
    split = dict(line.split() for line in open(os.path.join(root, "ICBHI_challenge_train_test.txt")) if line.strip())
    # The copy names one recording differently from the split file.
    split["226_1b1_Pl_sc_LittC2SE"] = split.get("226_1b1_Pl_sc_Meditron", "train")
    X, y, g, paths = icbhi_dir(root)
    train = np.array([split[os.path.basename(p)[:-4]] == "train" for p in paths])
    return X, y, g, train


def sprsound(root):
    """Per set: events (X, cycle class, patient, event class) and records (X, 3-class, patient)."""
    base = os.path.join(root, "Classification") if os.path.isdir(os.path.join(root, "Classification")) else root
    out = {}
    for name, (json_dir, wav_dir) in SETS.items():
        ev, rec = ([], [], [], []), ([], [], [])
        for j in sorted(glob.glob(os.path.join(base, json_dir, "*.json"))):
            wav = os.path.join(base, wav_dir, os.path.basename(j)[:-5] + ".wav")
            if not os.path.exists(wav):
                continue
            a = json.load(open(j))
            audio = load(wav)
            patient = os.path.basename(j).split("_")[0]
            rec[0].append(mfcc_features(audio))
            rec[1].append(RECORD_3[a["record_annotation"]])
            rec[2].append(patient)
            for e in a.get("event_annotation", []):
                s, t = int(float(e["start"]) * SR / 1000), int(float(e["end"]) * SR / 1000)
                if s >= len(audio) or t <= s:
                    continue
                ev[0].append(mfcc_features(audio[s:t]))
                ev[1].append(EVENT_AS_CYCLE[e["type"]])
                ev[2].append(patient)
                ev[3].append(EVENT_7[e["type"]])
        out[name] = (tuple(np.array(v) for v in ev), tuple(np.array(v) for v in rec))
    return out


def sprsound_score(y, p, groups):
    """SE, SP, AS, HS, Score with class c in group groups[c] (0: normal)."""
    gy, gp = groups[y], groups[p]
    normal = gy == 0
    sp = (gp[normal] == 0).mean() if normal.any() else 0.0
    se = (gp[~normal] == gy[~normal]).mean() if (~normal).any() else 0.0
    hs = 2 * se * sp / (se + sp) if se + sp > 0 else 0.0
    return se, sp, (se + sp) / 2, hs, ((se + sp) / 2 + hs) / 2


def report(name, y, p, g, groups=None, icbhi=False):
    lo, hi = patient_interval(y, p, g, balanced_accuracy_score)
    line = f"{name:<34} n={len(y):<5} balanced accuracy {balanced_accuracy_score(y, p):.3f} ({lo:.3f}-{hi:.3f})"
    if icbhi:
        sp, se, score = icbhi_score(y, p)
        lo, hi = patient_interval(y, p, g, lambda a, b: icbhi_score(a, b)[2])
        line += f"   Sp {sp:.3f} Se {se:.3f} Score {score:.3f} ({lo:.3f}-{hi:.3f})"
    if groups is not None:
        se, sp, as_, hs, score = sprsound_score(y, p, np.array(groups))
        lo, hi = patient_interval(y, p, g, lambda a, b: sprsound_score(a, b, np.array(groups))[4])
        line += f"   SE {se:.3f} SP {sp:.3f} AS {as_:.3f} HS {hs:.3f} Score {score:.3f} ({lo:.3f}-{hi:.3f})"
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--icbhi", required=True, help="the ICBHI directory (audio_and_txt_files/, the split file)")
    parser.add_argument("--sprsound", required=True, help="the SPRSound directory (Classification/)")
    args = parser.parse_args()

    X, y, g, train = icbhi_cycles(args.icbhi)
    print(f"ICBHI: {train.sum()} training and {(~train).sum()} test cycles, {len(np.unique(g[train]))} and {len(np.unique(g[~train]))} patients", flush=True)
    assert not set(g[train]) & set(g[~train]), "the official ICBHI split shares patients"
    p = svm().fit(X[train], y[train]).predict(X[~train])
    report("ICBHI official test, lung-cycles", y[~train], p, g[~train], icbhi=True)

    spr = sprsound(args.sprsound)
    (ex, ey, eg, e7), (rx, ry, rg) = spr["train"]
    print(f"SPRSound train: {len(ey)} events, {len(ry)} records, {len(np.unique(rg))} patients", flush=True)
    task11 = svm().fit(ex, (ey > 0).astype(int))
    task12 = svm().fit(ex, e7)
    task21 = svm().fit(rx, ry)
    cycles = svm().fit(ex, ey)
    joint = svm().fit(np.concatenate([X[train], ex]), np.concatenate([y[train], ey]))
    p = joint.predict(X[~train])
    report("ICBHI official test, joint", y[~train], p, g[~train], icbhi=True)
    for name in ["test-inter", "test-intra", "test-2023"]:
        (tx, ty, tg, t7), (qx, qy, qg) = spr[name]
        if len(ty) == 0:
            continue
        report(f"{name} Task 1-1", (ty > 0).astype(int), task11.predict(tx), tg, groups=[0, 1])
        report(f"{name} Task 1-2", t7, task12.predict(tx), tg, groups=list(range(7)))
        report(f"{name} Task 2-1", qy, task21.predict(qx), qg, groups=[0, 1, 2])
        report(f"{name} lung-cycles (Task 1-1 of it)", ty, cycles.predict(tx), tg, groups=[0, 1, 1, 1])
        report(f"{name} joint lung-cycles (Task 1-1)", ty, joint.predict(tx), tg, groups=[0, 1, 1, 1])


if __name__ == "__main__":
    main()
