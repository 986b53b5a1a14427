#!/usr/bin/env python3
"""Feature files and scikit-learn's classifiers on them: the reference for `extract fit` / `predict`.

Usage:  .venv/bin/python scripts/make_head_fixtures.py OUTDIR

Writes OUTDIR/heads/<case>/feats.npy with feats.labels.npy, feats.classes.txt and feats.index.csv
beside it, as an extraction of class folders writes them, and OUTDIR/heads/index.json listing
per case and setting what scikit-learn gives:
  cv_accuracy      cross_val_score(estimator, X, y, cv=StratifiedKFold(5)) per fold
  folds            each row's test fold in StratifiedKFold(5)
  scores           the estimator fitted on every row: predict_proba (logreg) or
                   decision_function (svm) of every row, .npy
  coef, intercept  its coef_ and intercept_, .npy
  scores_default   predict_proba / decision_function of the estimator with scikit-learn's own
                   tol and max_iter on the float32 features, as a user runs it
The estimator is LogisticRegression(C) or LinearSVC(C), behind StandardScaler in a Pipeline when
"standardize", with class_weight="balanced" when "balanced". For the reference it runs to its
optimum on the features as float64 (the same values; on float32 input LogisticRegression
solves in float32 and stops up to 1e-3 away in probability): tol 1e-10 and max_iter 10000
(LogisticRegression), tol 1e-9 and max_iter 100000 (LinearSVC), so the comparison is of
objectives, not of where two optimisers stopped.

Features are CNN-like: non-negative (ReLU'd) class-dependent Gaussians, float32, seeded. The
cases cover 2 classes (sklearn's binary parameterisation), 4 classes, more features than rows
(LinearSVC then solves the dual) and imbalanced classes.
"""
import json
import os
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

warnings.simplefilter("ignore", ConvergenceWarning)

# name -> (rows per class, features, separation, seed)
CASES = {
    "binary": ([60, 60], 32, 0.8, 1),
    "four": ([50, 40, 45, 45], 64, 0.6, 2),
    "wide": ([30, 25, 25], 256, 0.2, 3),
    "imbalanced": ([90, 20, 15], 48, 0.7, 4),
}

SETTINGS = [
    {"classifier": "logreg", "C": 1.0, "standardize": False, "balanced": False},
    {"classifier": "logreg", "C": 0.1, "standardize": True, "balanced": False},
    {"classifier": "svm", "C": 1.0, "standardize": False, "balanced": False},
    {"classifier": "svm", "C": 0.5, "standardize": True, "balanced": False},
    {"classifier": "logreg", "C": 1.0, "standardize": False, "balanced": True},
    {"classifier": "svm", "C": 1.0, "standardize": False, "balanced": True},
]


def features(counts, width, separation, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(counts), width)) * separation
    x, y = [], []
    for k, n in enumerate(counts):
        x.append(np.maximum(rng.normal(size=(n, width)) + centres[k], 0) * 3.0)
        y += [k] * n
    order = rng.permutation(sum(counts))
    return np.concatenate(x)[order].astype(np.float32), np.asarray(y, np.int64)[order]


def estimator(s, tight=True):
    weight = "balanced" if s["balanced"] else None
    if s["classifier"] == "logreg":
        extra = {"tol": 1e-10, "max_iter": 10000} if tight else {}
        model = LogisticRegression(C=s["C"], class_weight=weight, **extra)
    else:
        extra = {"tol": 1e-9, "max_iter": 100000} if tight else {}
        model = LinearSVC(C=s["C"], class_weight=weight, **extra)
    return make_pipeline(StandardScaler(), model) if s["standardize"] else model


def main(outdir):
    root = os.path.join(outdir, "heads")
    index = {"cases": []}
    for name, (counts, width, separation, seed) in CASES.items():
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        x, y = features(counts, width, separation, seed)
        classes = [f"class_{chr(ord('a') + k)}" for k in range(len(counts))]
        np.save(os.path.join(folder, "feats.npy"), x)
        np.save(os.path.join(folder, "feats.labels.npy"), y)
        with open(os.path.join(folder, "feats.classes.txt"), "w") as f:
            f.write("".join(c + "\n" for c in classes))
        with open(os.path.join(folder, "feats.index.csv"), "w") as f:
            f.write("row,path,label,class\n")
            f.write("".join(f"{i},{classes[l]}/img_{i:04d}.jpg,{l},{classes[l]}\n" for i, l in enumerate(y)))
        folds = np.zeros(len(y), np.int64)
        for f, (_, test) in enumerate(StratifiedKFold(5).split(x, y)):
            folds[test] = f
        for k, s in enumerate(SETTINGS):
            x64 = x.astype(np.float64)
            cv = cross_val_score(estimator(s), x64, y, cv=StratifiedKFold(5))
            model = estimator(s).fit(x64, y)
            final = model[-1] if hasattr(model, "steps") else model
            scores = model.predict_proba(x64) if s["classifier"] == "logreg" else model.decision_function(x64)
            default = estimator(s, tight=False).fit(x, y)
            scores_default = (default.predict_proba(x) if s["classifier"] == "logreg"
                              else default.decision_function(x))
            tag = f"{name}/{k}"
            files = {}
            for what, array in [("scores", scores), ("scores_default", scores_default), ("coef", final.coef_),
                                ("intercept", final.intercept_)]:
                rel = f"heads/{tag.replace('/', '_')}_{what}.npy"
                np.save(os.path.join(outdir, rel), np.asarray(array, np.float64))
                files[what] = rel
            index["cases"].append({
                "name": tag, "features": f"heads/{name}/feats.npy", "rows": int(len(y)),
                "width": width, "classes": classes, **s, "cv_accuracy": cv.tolist(), "folds": folds.tolist(),
                "predicted": model.predict(x).tolist(), **files})
            print(f"heads: {tag} {s['classifier']} C={s['C']} std={s['standardize']} "
                  f"bal={s['balanced']}: cv {cv.mean():.4f}")
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    main(sys.argv[1])
