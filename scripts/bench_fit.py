#!/usr/bin/env python3
"""Fitting speed: `extract fit` against scikit-learn on the same features, in one run.

Usage:  .venv/bin/python scripts/bench_fit.py [--extract .build/release/extract] [--rows 10000]
            [--width 2048] [--classes 10] [--repeat 3]

Generates CNN-like features (non-negative, correlated, class-dependent, float32; seeded), fitting
rows plus 2,000 held-out rows, and times on this machine, best of --repeat:
  LogisticRegression()             vs  extract fit --classifier logreg --cv 0
  LogisticRegression(tol=1e-6)     (our default tolerance, the same test; in float64)
  LinearSVC(), LinearSVC(tol=1e-5) vs  extract fit --classifier svm --cv 0
as a user runs them (scikit-learn on the float32 .npy; our binary reading the same file and
writing its head). Prints seconds, the ratio scikit-learn / ours, and both held-out
accuracies (ours from `extract predict`). Not part of the tests: timings on shared machines are
noise, the ratio in one run is the figure.
"""
import argparse
import csv
import os
import subprocess
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

warnings.simplefilter("ignore", ConvergenceWarning)


def data(rows, width, classes, separation, seed=0):
    """Correlated, sparse, heavy-tailed like pooled CNN features: a rank-128 latent space with
    class-dependent means, mapped to `width` channels, shifted, ReLU'd and scaled per channel."""
    rng = np.random.default_rng(seed)
    rank = 128
    y = rng.integers(0, classes, rows)
    latent = rng.normal(size=(rows, rank)) + (rng.normal(size=(classes, rank)) * separation)[y]
    mix = rng.normal(size=(rank, width)) / np.sqrt(rank)
    scale = rng.gamma(2.0, 0.5, size=width)
    x = np.maximum(latent @ mix - 0.5, 0) * scale
    return x.astype(np.float32), y.astype(np.int64)


def write(folder, name, x, y, classes):
    stem = os.path.join(folder, name)
    np.save(stem + ".npy", x)
    np.save(stem + ".labels.npy", y)
    with open(stem + ".classes.txt", "w") as f:
        f.write("".join(f"class_{k}\n" for k in range(classes)))
    return stem + ".npy"


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--extract", default=".build/release/extract")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--separation", type=float, default=0.25,
                    help="class means' spread in the latent space (0.25: about 90 %% held-out accuracy)")
    a = ap.parse_args()
    x, y = data(a.rows + 2000, a.width, a.classes, a.separation)
    xf, yf, xt, yt = x[:a.rows], y[:a.rows], x[a.rows:], y[a.rows:]
    with tempfile.TemporaryDirectory() as tmp:
        train = write(tmp, "train", xf, yf, a.classes)
        test = write(tmp, "test", xt, yt, a.classes)
        print(f"fit: {a.rows} rows x {a.width} features, {a.classes} classes; held out {len(yt)}; "
              f"best of {a.repeat}")
        runs = (
            ("logreg", "LogisticRegression()", lambda: LogisticRegression().fit(xf, yf), []),
            # The same stopping test at our default tolerance (scipy's pgtol = tol), in float64:
            # scikit-learn solves float32 input in float32, which cannot reach it.
            ("logreg", "LogisticRegression(tol=1e-6)",
             lambda: LogisticRegression(tol=1e-6, max_iter=10000).fit(xf.astype(np.float64), yf), []),
            ("svm", "LinearSVC()", lambda: LinearSVC().fit(xf, yf), []),
            ("svm", "LinearSVC(tol=1e-5)", lambda: LinearSVC(tol=1e-5).fit(xf, yf), []),
        )
        ours = {}
        for kind, label, fit, _ in runs:
            t_sk, model = best(fit, a.repeat)
            acc_sk = model.score(xt, yt)
            if kind not in ours:
                head = os.path.join(tmp, f"{kind}.json")
                t_us, _ = best(lambda: subprocess.run(
                    [a.extract, "fit", train, "-o", head, "--classifier", kind, "--cv", "0"],
                    check=True, capture_output=True), a.repeat)
                preds = os.path.join(tmp, f"{kind}.csv")
                subprocess.run([a.extract, "predict", "--head", head, test, "-o", preds, "--top", "1"],
                               check=True, capture_output=True)
                with open(preds) as f:
                    predicted = [int(r["class"].split("_")[1]) for r in csv.DictReader(f)]
                ours[kind] = (t_us, float(np.mean(np.asarray(predicted) == yt)))
            t_us, acc_us = ours[kind]
            print(f"{label:30s} {t_sk:7.2f} s   extract fit --classifier {kind} {t_us:6.2f} s   "
                  f"ratio {t_sk / t_us:5.2f}x   held-out accuracy {acc_sk:.4f} / {acc_us:.4f}")


if __name__ == "__main__":
    main()
