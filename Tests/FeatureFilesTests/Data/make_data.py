"""Writes the tiny feature files FeatureFilesTests reads, with numpy, h5py and Python's csv
module as a user's script would (the Swift tests never run Python). Run from the repository
root after changing it:  .venv/bin/python Tests/FeatureFilesTests/Data/make_data.py
The expected values are spelled out again in FeatureFileReadTests.swift."""
import csv
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# (N, H, W, C) = (3, 1, 2, 2): values i/8 - 0.75 are exact in float32.
FEATURES = (np.arange(12, dtype=np.float32) / 8 - 0.75).reshape(3, 1, 2, 2)
PATHS = ["b/one.jpg", "a,comma/\"quoted\".png", "é/🦊\nnewline.bmp"]
LABELS = np.array([1, 0, 1], dtype=np.int64)
CLASSES = ["a,comma", "b"]


def out(name):
    return os.path.join(HERE, name)


np.save(out("numpy.npy"), FEATURES)
np.save(out("numpy.labels.npy"), LABELS)
with open(out("numpy.classes.txt"), "w", encoding="utf-8", newline="\n") as f:
    f.write("".join(c + "\n" for c in CLASSES))
with open(out("numpy.index.csv"), "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["row", "path", "label", "class"])
    for i, (p, l) in enumerate(zip(PATHS, LABELS)):
        w.writerow([i, p, int(l), CLASSES[l]])

np.savez(out("numpy.npz"), features=FEATURES, paths=np.array(PATHS), labels=LABELS, class_names=np.array(CLASSES))
np.savez_compressed(out("compressed.npz"), features=FEATURES.reshape(3, 4), paths=np.array(PATHS))

with h5py.File(out("h5py.h5"), "w") as f:
    f["features"] = FEATURES
    f.create_dataset("paths", data=PATHS, dtype=h5py.string_dtype())
    f["labels"] = LABELS
    f.create_dataset("class_names", data=CLASSES, dtype=h5py.string_dtype())
# Fixed-length byte strings (numpy 'S'), as older scripts store them; pooled (N, C) rows.
with h5py.File(out("h5py_fixed.h5"), "w") as f:
    f["features"] = FEATURES.reshape(3, 4).astype(np.float64)
    f["paths"] = np.array([p.encode() for p in PATHS])
