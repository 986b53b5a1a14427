#!/usr/bin/env python3
"""Write small full-model .h5 files with an old Keras, and its predict on the photographs.

Usage:  PYTHON scripts/make_old_keras_fixtures.py OUTDIR

Runs under a venv of its own, NOT the project's .venv: `scripts/setup.sh --old-keras` makes
.venv-oldkeras with Keras 2.3.1, the last multi-backend Keras, on Theano 1.0.5 (TensorFlow 1.x
has no Python 3.11 wheels, and Keras 2.3.1 does not run on TensorFlow 2); scripts/test.sh runs
it as  KERAS_BACKEND=theano THEANO_FLAGS="device=cpu,blas.ldflags=" .venv-oldkeras/bin/python ...
(Theano compiles its convolution with g++; the script aliases collections.Iterable & co., which
Keras 2.3.1 imports from their pre-3.10 place). Under a tf.keras venv it writes the same models
as that Keras.
Run after make_saved_model_fixtures.py into the same OUTDIR: the images are its
OUTDIR/saved_models/images. Writes OUTDIR/saved_models/old_keras/<name>.h5,
<name>.config.json, <name>.<output>.npy and merges its cases into
OUTDIR/saved_models/old_keras/index.json (same case schema as saved_models/index.json; entries
of another writer are kept, so the venvs can be run one after the other).

Models use the Keras 2 API that both versions share. Weights: every array seeded random
(BatchNormalization variance in [0.5, 1.5]), kernels scaled to std 1/sqrt(fan_in), the head
scaled to logits of std 2. A Theano-written file holds Theano's kernels (Keras flips them when
loading into TensorFlow: the file's `backend` attribute says "theano"); the expected outputs
are Theano's own predict.
"""
import collections
import collections.abc
import json
import os
import sys
import zlib

for _name in ("Iterable", "Mapping", "Sequence", "MutableMapping", "Callable"):
    if not hasattr(collections, _name):  # Keras 2.3.1 imports these from `collections`
        setattr(collections, _name, getattr(collections.abc, _name))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

try:  # Keras 2.12 is tf.keras; Keras 2.3.1 is the standalone package
    import tensorflow as tf  # noqa: E402
    keras = tf.keras
    from tensorflow.keras.preprocessing import image as kimage  # noqa: E402
    BACKEND = "tensorflow"
    KERAS_VERSION = tf.keras.__version__ if hasattr(tf.keras, "__version__") else tf.__version__
except ImportError:
    import keras  # noqa: E402
    from keras.preprocessing import image as kimage  # noqa: E402
    BACKEND = keras.backend.backend()
    KERAS_VERSION = keras.__version__
WRITER = f"keras {KERAS_VERSION}" + ("" if BACKEND == "tensorflow" else f" ({BACKEND})")
TAG = f"k{KERAS_VERSION.replace('.', '')}{'' if BACKEND == 'tensorflow' else '_' + BACKEND}"
L = keras.layers


def seed_of(text):
    return zlib.crc32(text.encode("utf8"))


def small_cnn():
    """Sequential: Conv2D (valid, same, stride 2), BatchNormalization, pooling, Dense head."""
    return keras.models.Sequential([
        L.Conv2D(8, 3, activation="relu", input_shape=(48, 48, 3)),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.Conv2D(16, 3, strides=2, padding="same"),
        L.Activation("relu"),
        L.GlobalAveragePooling2D(),
        L.Dense(16, activation="relu"),
        L.Dense(3, activation="softmax", name="head"),
    ])


def nested_mobilenetv2():
    """Transfer learning: MobileNetV2(alpha 0.35, 96x96) nested, GAP, Dropout, Dense."""
    base = keras.applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3),
                                          include_top=False, weights=None)
    base.trainable = False
    inputs = L.Input((96, 96, 3))
    x = base(inputs)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.2)(x)
    return keras.models.Model(inputs, L.Dense(4, activation="softmax", name="head")(x))


# name -> (builder, preprocess mode the tool applies by default)
MODELS = {"small_cnn": (small_cnn, "none"), "nested_mobilenetv2": (nested_mobilenetv2, "tf")}


def leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from leaf_layers(layer)
        else:
            yield layer


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for layer in leaf_layers(model):
        kind = type(layer).__name__
        arrays = layer.get_weights()
        if not arrays:
            continue
        new = []
        for i, a in enumerate(arrays):
            if kind == "BatchNormalization" and (i == 0 or i == len(arrays) - 1):
                v = rng.uniform(0.5, 1.5, size=a.shape)  # gamma, moving_variance
            else:
                v = rng.standard_normal(size=a.shape) * 0.1
                if a.ndim == 2:  # Dense kernel
                    v = v / 0.1 / np.sqrt(a.shape[0] / 2.0)
                elif a.ndim == 4 and kind == "DepthwiseConv2D":
                    v = v / 0.1 / np.sqrt(a.shape[0] * a.shape[1])
                elif a.ndim == 4:
                    v = v / 0.1 / np.sqrt(a.shape[0] * a.shape[1] * a.shape[2])
            new.append(v.astype(np.float32))
        layer.set_weights(new)


def load_images(root, rows, size):
    return np.stack([
        kimage.img_to_array(kimage.load_img(os.path.join(root, r), target_size=(size, size),
                                            interpolation="nearest"))
        for r in rows]).astype(np.float32)


def main(outdir):
    out = lambda rel: os.path.join(outdir, rel)  # noqa: E731
    index_path = out("saved_models/index.json")
    if not os.path.exists(index_path):
        sys.exit(f"{index_path} missing: run scripts/make_saved_model_fixtures.py first")
    rows = json.load(open(index_path))["filenames"]
    root = out("saved_models/images")
    os.makedirs(out("saved_models/old_keras"), exist_ok=True)
    old_index = out("saved_models/old_keras/index.json")
    index = json.load(open(old_index)) if os.path.exists(old_index) else {
        "images": "saved_models/images", "filenames": rows, "cases": []}
    index["cases"] = [c for c in index["cases"] if c["writer"] != WRITER]
    for name, (build, mode) in MODELS.items():
        if hasattr(keras.backend, "clear_session"):  # Theano has no session
            keras.backend.clear_session()
        np.random.seed(seed_of(name))
        model = build()
        size = int(model.input_shape[1])
        x = load_images(root, rows, size)
        if mode == "tf":
            x = x / np.float32(127.5) - np.float32(1.0)
        randomize(model, seed_of(name))
        head = model.get_layer("head")
        features = keras.models.Model(model.inputs, head.input).predict(x)
        kernel, bias = head.get_weights()
        kernel = kernel * np.float32(2.0 / max(float((features @ kernel).std()), 1e-6))
        head.set_weights([kernel, bias])
        rel = f"saved_models/old_keras/{name}.{TAG}.h5"
        model.save(out(rel))
        with h5py.File(out(rel), "r") as f:
            config = f.attrs["model_config"]
            config = json.loads(config.decode() if isinstance(config, bytes) else config)
        with open(out(rel + ".config.json"), "w") as f:
            json.dump(config, f, indent=1)
        y = np.asarray(model.predict(x), np.float32).reshape(len(rows), -1)
        npy = f"{rel}.head.npy"
        np.save(out(npy), y)
        index["cases"].append({
            "name": f"{name}.{TAG}.h5", "group": "old_keras", "file": rel, "writer": WRITER,
            "format": "h5", "args": [], "outputs": {"head": npy}, "input": [size, size, 3],
            "preprocess": mode, "backend": BACKEND})
        print(f"old keras: {rel}: {os.path.getsize(out(rel)) / 1e6:.1f} MB, head {y.shape}")
    with open(old_index, "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    main(sys.argv[1])
