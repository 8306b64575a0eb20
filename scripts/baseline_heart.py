#!/usr/bin/env python3
"""The MFCC + SVM baseline for the heart corpora, on the CNN's own folds.

Features: 20 MFCC at 4 kHz over the whole recording (their means, spreads
and the spreads of their deltas); an RBF SVM with C = 10 and balanced class
weights (scikit-learn), as for the lung baseline.

- CirCor DigiScope 2022, `heart-murmur`: each recording labelled as
  `auscult` labels it (the patient's murmur where it was heard), trained per
  recording; each held-out patient is then scored once, present if any of
  their recordings is, else unknown if any is, else absent, and the
  challenge's weighted accuracy (5, 3, 1 for present, unknown, absent) is
  pooled over the folds. The folds are `auscult folds --task heart-murmur`'s
  (the patients `auscult train --folds 5 --fold F --seed S` holds out).
- PhysioNet/CinC 2016, `heart-abnormal`: MAcc = (Se + Sp) / 2 with abnormal
  positive, on `auscult folds --task heart-abnormal`'s random folds, and
  leave-one-site-out (train on five sites, test the sixth; the mean of six).

    .venv/bin/python scripts/baseline_heart.py --auscult target/release/auscult \
        --circor CIRCOR --physionet PHYSIONET2016 [--seed 1]
"""
import argparse
import csv
import io
import subprocess
import sys
from collections import defaultdict

import librosa
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

SR = 4000
WEIGHTS = {"absent": 1.0, "present": 5.0, "unknown": 3.0}


def mfcc_features(path):
    y, _ = librosa.load(path, sr=SR, mono=True)
    if len(y) < 512:
        y = np.pad(y, (0, 512 - len(y)))
    m = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20, n_fft=256, hop_length=64, fmin=25, fmax=2000)
    d = librosa.feature.delta(m) if m.shape[1] >= 9 else np.zeros_like(m)
    return np.concatenate([m.mean(1), m.std(1), d.std(1)])


def folds(auscult, task, data, seed):
    out = subprocess.run([auscult, "folds", "--task", task, "--data", data, "--seed", str(seed)], check=True, capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out)))


def svm():
    return make_pipeline(StandardScaler(), SVC(C=10, kernel="rbf", class_weight="balanced"))


def patient_murmur(labels):
    if "present" in labels:
        return "present"
    return "unknown" if "unknown" in labels else "absent"


def weighted_accuracy(pairs):
    hit = sum(WEIGHTS[t] for t, p in pairs if t == p)
    return hit / sum(WEIGHTS[t] for t, _ in pairs)


def balanced_accuracy(pairs):
    classes = sorted({t for t, _ in pairs})
    return np.mean([np.mean([p == c for t, p in pairs if t == c]) for c in classes])


def bootstrap(pairs, score, resamples=2000, seed=1):
    rng = np.random.default_rng(seed)
    n = len(pairs)
    values = sorted(score([pairs[i] for i in rng.integers(0, n, n)]) for _ in range(resamples))
    return values[int(0.025 * resamples)], values[int(0.975 * resamples)]


def circor(auscult, data, seed):
    rows = folds(auscult, "heart-murmur", data, seed)
    x = np.array([mfcc_features(r["path"]) for r in rows])
    y = np.array([r["class"] for r in rows])
    fold = np.array([int(r["fold"]) for r in rows])
    pairs_by_fold = {}
    for f in sorted(set(fold)):
        model = svm().fit(x[fold != f], y[fold != f])
        predicted = model.predict(x[fold == f])
        by_patient = defaultdict(lambda: ([], []))
        for r, p in zip([r for r, k in zip(rows, fold) if k == f], predicted):
            by_patient[r["patient"]][0].append(r["class"])
            by_patient[r["patient"]][1].append(p)
        pairs_by_fold[f] = [(patient_murmur(t), patient_murmur(p)) for t, p in by_patient.values()]
    pooled = [p for f in pairs_by_fold for p in pairs_by_fold[f]]
    lo, hi = bootstrap(pooled, weighted_accuracy)
    print(f"CirCor heart-murmur, {len(pooled)} patients, 5 patient-disjoint folds (auscult folds --seed {seed}):")
    print(f"  weighted accuracy {weighted_accuracy(pooled):.3f} ({lo:.3f}-{hi:.3f}), balanced accuracy {balanced_accuracy(pooled):.3f}")
    for f, pairs in pairs_by_fold.items():
        print(f"  fold {f}: {len(pairs)} patients, weighted accuracy {weighted_accuracy(pairs):.3f}, balanced accuracy {balanced_accuracy(pairs):.3f}")


def macc(truth, predicted):
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    se = np.mean(predicted[truth == "abnormal"] == "abnormal")
    sp = np.mean(predicted[truth == "normal"] == "normal")
    return (se + sp) / 2, se, sp


def physionet(auscult, data, seed):
    rows = folds(auscult, "heart-abnormal", data, seed)
    x = np.array([mfcc_features(r["path"]) for r in rows])
    y = np.array([r["class"] for r in rows])
    fold = np.array([int(r["fold"]) for r in rows])
    site = np.array([r["patient"].split("/")[0] for r in rows])
    truth, predicted = [], []
    for f in sorted(set(fold)):
        predicted += list(svm().fit(x[fold != f], y[fold != f]).predict(x[fold == f]))
        truth += list(y[fold == f])
    m, se, sp = macc(truth, predicted)
    print(f"PhysioNet 2016 heart-abnormal, {len(rows)} recordings:")
    print(f"  random 5 folds (auscult folds --seed {seed}): MAcc {m:.3f} (Se {se:.3f}, Sp {sp:.3f})")
    per_site = []
    for s in sorted(set(site)):
        predicted = svm().fit(x[site != s], y[site != s]).predict(x[site == s])
        m, se, sp = macc(y[site == s], predicted)
        per_site.append(m)
        print(f"  held-out site {s}: {np.sum(site == s)} recordings, MAcc {m:.3f} (Se {se:.3f}, Sp {sp:.3f})")
    print(f"  leave-one-site-out: mean MAcc {np.mean(per_site):.3f} over {len(per_site)} sites")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--auscult", required=True, help="the built auscult binary (its folds command deals the patients)")
    ap.add_argument("--circor", help="a CirCor DigiScope copy (training_data.csv, training_data/)")
    ap.add_argument("--physionet", help="a PhysioNet/CinC 2016 copy (training-a..f/)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not (args.circor or args.physionet):
        sys.exit("name --circor and/or --physionet")
    if args.circor:
        circor(args.auscult, args.circor, args.seed)
    if args.physionet:
        physionet(args.auscult, args.physionet, args.seed)


if __name__ == "__main__":
    main()
