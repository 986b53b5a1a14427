#!/usr/bin/env python3
"""Keras' answers for the Features tests: what Keras lists, how it preprocesses, and which
features it computes for real images.

Usage:  .venv/bin/python scripts/make_feature_references.py FIXTURES_DIR

Runs after make_fixtures.py (whose reference weights it uses) and make_images.py (whose
photographs it reads). Writes FIXTURES_DIR/features/:
* tree/: a class-folder dataset of empty files with awkward names (spaces, non-ASCII, case,
  hidden folders, nested folders, non-image files) and listing.json, the order and labels
  `ImageDataGenerator().flow_from_directory` gives it (it lists without opening files);
* preprocess.json + preprocess_*.f32: `preprocess_input` of a fixed uint8 image in every mode
  (raw little-endian float32, HWC);
* index.json describing everything, for the Swift tests.
"""
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import json  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras.src.legacy.preprocessing.image import ImageDataGenerator  # noqa: E402

TREE = [
    # (class folder, relative file) — empty files: flow_from_directory only lists.
    ("cats", "b.jpg"), ("cats", "A.JPG"), ("cats", "a b.png"), ("cats", "a.png"),
    ("cats", "sub/z.jpeg"), ("cats", "sub dir/y.bmp"), ("cats", "sub/deeper/x.jpg"),
    ("cats", "notes.txt"), ("cats", ".hidden.jpg"), ("cats", "café.jpg"), ("cats", "Zebra.gif"),
    ("Dogs", "1.png"), ("Dogs", "10.png"), ("Dogs", "2.png"),
    ("dogs_small", "ñ.jpg"), ("dogs_small", "e.jpg"),
    (".ipynb_checkpoints", "x-checkpoint.jpg"),
    ("empty_class", None),
]
LOOSE = ["readme.txt", "loose.jpg"]  # files beside the class folders: not read by Keras


def make_tree(root):
    shutil.rmtree(root, ignore_errors=True)
    for cls, rel in TREE:
        d = os.path.join(root, cls)
        os.makedirs(d, exist_ok=True)
        if rel:
            p = os.path.join(d, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "wb").close()
    for name in LOOSE:
        open(os.path.join(root, name), "wb").close()
    it = ImageDataGenerator().flow_from_directory(root, target_size=(8, 8), shuffle=False)
    return {
        "classes": sorted(it.class_indices, key=it.class_indices.get),
        "filenames": [f.replace(os.sep, "/") for f in it.filenames],
        "labels": [int(c) for c in it.classes],
    }


def make_preprocess(out):
    rng = np.random.default_rng(7)
    # Every byte value appears, plus random pixels: (16, 17, 3).
    pixels = np.concatenate([np.arange(256, dtype=np.uint8).repeat(3).reshape(256, 3),
                             rng.integers(0, 256, size=(16 * 17 - 256, 3), dtype=np.uint8)])
    image = pixels.reshape(16, 17, 3)
    image.tofile(os.path.join(out, "preprocess_input.u8"))
    entries = {"input": {"file": "preprocess_input.u8", "shape": list(image.shape)}}
    for mode, fn in (("caffe", keras.applications.resnet50.preprocess_input),
                     ("tf", keras.applications.mobilenet_v2.preprocess_input),
                     ("torch", keras.applications.densenet.preprocess_input)):
        # As users call it: load_img -> img_to_array (float32) -> preprocess_input.
        y = fn(keras.utils.img_to_array(image)[None])[0]
        name = f"preprocess_{mode}.f32"
        np.ascontiguousarray(y, dtype="<f4").tofile(os.path.join(out, name))
        entries[mode] = {"file": name, "shape": list(y.shape)}
    return entries


def main(fixtures):
    out = os.path.join(fixtures, "features")
    os.makedirs(out, exist_ok=True)
    index = {
        "tree": {"root": "tree", "loose": LOOSE, **make_tree(os.path.join(out, "tree"))},
        "preprocess": make_preprocess(out),
    }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, ensure_ascii=False)
    print(f"features/: {len(index['tree']['filenames'])} listed files, "
          f"{len(index['preprocess']) - 1} preprocessing modes")


if __name__ == "__main__":
    main(sys.argv[1])
