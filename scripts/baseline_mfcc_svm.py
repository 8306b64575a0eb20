#!/usr/bin/env python3
"""The classic baseline the CNN must beat, on held-out patients.

MFCC (20 coefficients; mean and std, plus the std of their deltas) and an
RBF SVM with balanced class weights, scored with patient-disjoint 5-fold
cross-validation (grouped by patient; the heart set has no patient ids, so
each recording is its own group). Prints balanced accuracy per task, and
the ICBHI score for the cycle task, which is scored twice: trained on the
ICBHI folds alone, and with the KAUH recordings (labelled by sound type,
as `auscult train --extra-train` does) added to every training fold. For
the KAUH diagnosis it also prints the figures from the MFCC means alone
and from their spreads alone, and what the annotated sound types alone
allow (a ceiling for any wheeze and crackle detector).

With `--tuned` the two lung tasks are scored again with the SVM's C and
gamma chosen on each training fold alone (a grid, scored by balanced
accuracy over 4 patient-grouped inner folds of the training patients), so
the held-out patients never pick a setting: how far a tuned classic model
gets on the same folds.

With `--auscult BIN` (the built `auscult`) the folds are the CNN's own:
`BIN folds --task T --data DIR --seed S` deals the patients exactly as
`auscult train --folds 5 --seed S` does (`--seed`, default 1), so the
baseline and the pooled CNN are scored on the same held-out patients. Without it sklearn's
StratifiedGroupKFold deals them, and with eleven ICBHI patients which
patients share a fold moves the figures by more than the models differ.

    python3 -m venv .venv && .venv/bin/pip install librosa scikit-learn
    .venv/bin/python scripts/baseline_mfcc_svm.py ../shared/data [--auscult target/release/auscult [--seed S] [--file-blocks N]] [--tuned]

With `--file-blocks N` only the heart task is scored, on the folds `train
--file-blocks N` deals (each block of N consecutively numbered files of a
class one patient).
"""
import argparse
import csv
import glob
import io
import os
import subprocess
import warnings

import librosa
import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

SR = 4000

# A held-out fold, a patient resample or an inner fold of `--tuned` may lack
# a class the predictions name (KAUH has 4 pneumonia patients): expected.
warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")


def mfcc_features(y):
    if len(y) < 512:
        y = np.pad(y, (0, 512 - len(y)))
    m = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20, n_fft=256, hop_length=64, fmin=25, fmax=2000)
    d = librosa.feature.delta(m, width=min(9, m.shape[1] - (1 - m.shape[1] % 2))) if m.shape[1] >= 3 else np.zeros_like(m)
    return np.concatenate([m.mean(1), m.std(1), d.std(1)])


def load(path):
    y, _ = librosa.load(path, sr=SR, mono=True)
    return y


def heart(data):
    X, y, g = [], [], []
    for label, cls in enumerate(["N", "MR", "MS", "MVP"]):
        for f in sorted(glob.glob(os.path.join(data, "heart-yaseen2018", cls, "*.wav"))):
            X.append(mfcc_features(load(f)))
            y.append(label)
            g.append(f)
    return np.array(X), np.array(y), np.array(g), np.array(g)


KAUH = {"n": 0, "normal": 0, "asthma": 1, "heart failure": 2, "copd": 3, "pneumonia": 4}


def kauh(data):
    X, y, g, paths = [], [], [], []
    for f in sorted(glob.glob(os.path.join(data, "kauh", "audio", "*.wav"))):
        stem = os.path.basename(f)[:-4]
        head = stem.split(",")[0]
        pid, diag = head.split("_", 1)
        diag = " ".join(diag.split()).lower()
        X.append(mfcc_features(load(f)))
        y.append(KAUH.get(diag, 5))
        g.append(pid[1:].upper())
        paths.append(f)
    return np.array(X), np.array(y), np.array(g), np.array(paths)


def kauh_sound_class(field):
    """The ICBHI cycle class of a KAUH sound-type field, as the Rust loader."""
    tokens = field.lower().split()
    crackles = any(t in ("c", "crep", "crepitations", "crackles") for t in tokens)
    wheezes = any(t in ("w", "wheeze", "wheezes") for t in tokens)
    if crackles or wheezes:
        return int(crackles) + 2 * int(wheezes)
    return 0 if any(t in ("n", "normal") for t in tokens) else None


def kauh_sounds(data):
    X, y = [], []
    for f in sorted(glob.glob(os.path.join(data, "kauh", "audio", "*.wav"))):
        fields = os.path.basename(f)[:-4].split(",")
        label = kauh_sound_class(fields[1]) if len(fields) > 1 else None
        if label is not None:
            X.append(mfcc_features(load(f)))
            y.append(label)
    return np.array(X), np.array(y)


def kauh_sound_ceiling(data, folds=None):
    """Diagnosis read from each recording's annotated sound type alone.

    Each sound type (normal, crackles, wheezes, both, other) is mapped to the
    diagnosis most of its training-fold recordings have, in the same
    patient-disjoint folds as `evaluate`. It is what a perfect wheeze and
    crackle detector could reach on the lung-diagnosis task: in KAUH, COPD
    sounds are annotated as asthma's are (expiratory wheezes) and pneumonia
    and most "other" diagnoses as heart failure's (crepitations).
    """
    X, y, g, _ = kauh(data)
    sounds = []
    for f in sorted(glob.glob(os.path.join(data, "kauh", "audio", "*.wav"))):
        fields = os.path.basename(f)[:-4].split(",")
        label = kauh_sound_class(fields[1]) if len(fields) > 1 else None
        sounds.append(4 if label is None else label)
    sounds = np.array(sounds)
    preds = np.zeros_like(y)
    for train, test in splits(X, y, g, folds):
        majority = {s: np.bincount(y[train][sounds[train] == s]).argmax() for s in np.unique(sounds[train])}
        preds[test] = [majority.get(s, 0) for s in sounds[test]]
    print(f"{'lung-diagnosis from annotated sound types (a ceiling for sound detectors)':<16} balanced accuracy {balanced_accuracy_score(y, preds):.3f}")
    print(confusion_matrix(y, preds))


def icbhi(data):
    return icbhi_dir(os.path.join(data, "icbhi"))


def icbhi_dir(root):
    """Every annotated cycle of the ICBHI recordings in `root` that have audio."""
    X, y, g, paths = [], [], [], []
    for txt in sorted(glob.glob(os.path.join(root, "audio_and_txt_files", "*.txt"))):
        wav = txt[:-4] + ".wav"
        if not os.path.exists(wav):
            continue
        audio = load(wav)
        for line in open(txt):
            parts = line.split()
            if len(parts) != 4:
                continue
            s, e, c, w = float(parts[0]), float(parts[1]), int(parts[2]), int(parts[3])
            X.append(mfcc_features(audio[int(s * SR):int(e * SR)]))
            y.append(c + 2 * w)
            g.append(os.path.basename(txt).split("_")[0])
            paths.append(wav)
    return np.array(X), np.array(y), np.array(g), np.array(paths)


def icbhi_score(y, p):
    normal = y == 0
    sp = (p[normal] == 0).mean() if normal.any() else 0.0
    se = (p[~normal] == y[~normal]).mean() if (~normal).any() else 0.0
    return sp, se, (sp + se) / 2


def patient_interval(y, p, g, metric, resamples=2000):
    """95% interval of `metric` from resampling whole patients, as `auscult eval` prints it."""
    rng = np.random.default_rng(1)
    patients = np.unique(g)
    rows = {q: np.flatnonzero(g == q) for q in patients}
    values = []
    for _ in range(resamples):
        idx = np.concatenate([rows[q] for q in rng.choice(patients, len(patients))])
        values.append(metric(y[idx], p[idx]))
    return np.percentile(values, [2.5, 97.5])


def auscult_folds(binary, task, data_dir, paths, seed, extra=()):
    """The fold and the patient (a block of files, with --file-blocks) of
    each example, as `auscult train --folds 5 --seed SEED` deals them."""
    command = [binary, "folds", "--task", task, "--data", data_dir, "--seed", str(seed), *extra]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = {os.path.realpath(row["path"]): row for row in csv.DictReader(io.StringIO(out))}
    missing = sorted({p for p in paths if os.path.realpath(p) not in rows})
    if missing:
        raise SystemExit(f"{binary} folds --task {task}: no fold for {len(missing)} recordings, e.g. {missing[0]}")
    found = [rows[os.path.realpath(p)] for p in paths]
    return np.array([int(r["fold"]) for r in found]), np.array([r["patient"] for r in found])


def splits(X, y, g, folds):
    """(train, test) index pairs: the given folds, or sklearn's."""
    if folds is None:
        return list(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=1).split(X, y, g))
    return [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in np.unique(folds)]


def svm():
    return make_pipeline(StandardScaler(), SVC(kernel="rbf", class_weight="balanced"))


# What `--tuned` searches, around sklearn's defaults (C 1, gamma "scale":
# 1/60 on 60 standardised features): C 0.1 to 100, gamma 0.001 to 0.1.
GRID = {"svc__C": [0.1, 0.3, 1, 3, 10, 30, 100], "svc__gamma": [0.001, 0.003, 0.01, 0.03, 0.1]}


def fit_tuned(X, y, g):
    """An SVM whose C and gamma are picked on these patients alone."""
    search = GridSearchCV(svm(), GRID, scoring="balanced_accuracy", cv=GroupKFold(n_splits=4))
    search.fit(X, y, groups=g)
    return search


def evaluate(name, X, y, g, folds=None, icbhi_task=False, extra=None, tuned=False):
    preds = np.zeros_like(y)
    for train, test in splits(X, y, g, folds):
        assert not set(g[train]) & set(g[test]), "patient leak"
        if tuned:
            assert extra is None, "--tuned scores the training folds alone"
            model = fit_tuned(X[train], y[train], g[train])
            print(f"  held-out fold of {len(np.unique(g[test]))} patients: C {model.best_params_['svc__C']}, gamma {model.best_params_['svc__gamma']} (inner balanced accuracy {model.best_score_:.3f})")
        elif extra is None:
            model = svm().fit(X[train], y[train])
        else:
            model = svm().fit(np.concatenate([X[train], extra[0]]), np.concatenate([y[train], extra[1]]))
        preds[test] = model.predict(X[test])
    lo, hi = patient_interval(y, preds, g, balanced_accuracy_score)
    line = f"{name:<16} n={len(y):<5} balanced accuracy {balanced_accuracy_score(y, preds):.3f} (patients' 95% interval {lo:.3f}-{hi:.3f})"
    if icbhi_task:
        sp, se, score = icbhi_score(y, preds)
        lo, hi = patient_interval(y, preds, g, lambda a, b: icbhi_score(a, b)[2])
        line += f"   ICBHI specificity {sp:.3f} sensitivity {se:.3f} score {score:.3f} ({lo:.3f}-{hi:.3f})"
    print(line)
    print(confusion_matrix(y, preds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default="../shared/data", help="the shared data directory")
    parser.add_argument("--auscult", metavar="BIN", help="score on the folds this auscult binary deals (the CNN's)")
    parser.add_argument("--seed", type=int, default=1, help="with --auscult: the folds `train --seed SEED` deals")
    parser.add_argument("--file-blocks", type=int, metavar="N", help="with --auscult: the heart folds `train --file-blocks N` deals (blocks of N numbered files as one patient)")
    parser.add_argument("--tuned", action="store_true", help="also score the lung tasks with C and gamma tuned on each training fold")
    args = parser.parse_args()
    data = args.data

    def folds(task, subdir, paths, extra=()):
        return None if args.auscult is None else auscult_folds(args.auscult, task, os.path.join(data, subdir), paths, args.seed, extra)[0]

    print("folds:", f"as `{args.auscult} folds --seed {args.seed}` deals them (the CNN's)" if args.auscult else "sklearn StratifiedGroupKFold(5, seed 1)")
    X, y, g, paths = heart(data)
    if args.file_blocks and args.auscult:
        # Blocks of numbered files dealt as patients, and resampled as such.
        extra = ["--file-blocks", str(args.file_blocks)]
        heart_folds, g = auscult_folds(args.auscult, "heart", os.path.join(data, "heart-yaseen2018"), paths, args.seed, extra)
        evaluate(f"heart, blocks of {args.file_blocks} files", X, y, g, heart_folds)
        return
    evaluate("heart", X, y, g, folds("heart", "heart-yaseen2018", paths))
    X, y, g, paths = kauh(data)
    kauh_folds = folds("lung-diagnosis", "kauh", paths)
    evaluate("lung-diagnosis", X, y, g, kauh_folds)
    # Which of the 60 numbers carry it: the 20 MFCC means (where in the
    # spectrum the sound lies), or the 40 spreads (how it moves).
    evaluate("  means alone", X[:, :20], y, g, kauh_folds)
    evaluate("  spreads alone", X[:, 20:], y, g, kauh_folds)
    kauh_sound_ceiling(data, kauh_folds)
    if args.tuned:
        evaluate("lung-diagnosis, tuned", X, y, g, kauh_folds, tuned=True)
    X, y, g, paths = icbhi(data)
    cycle_folds = folds("lung-cycles", "icbhi", paths)
    evaluate("lung-cycles", X, y, g, cycle_folds, icbhi_task=True)
    evaluate("lung-cycles+kauh", X, y, g, cycle_folds, icbhi_task=True, extra=kauh_sounds(data))
    if args.tuned:
        evaluate("lung-cycles, tuned", X, y, g, cycle_folds, icbhi_task=True, tuned=True)


if __name__ == "__main__":
    main()
