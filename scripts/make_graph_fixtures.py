#!/usr/bin/env python3
"""Write the Keras reference for the Swift Graph API's multi-input, multi-output, nested case.

Usage:  .venv/bin/python scripts/make_graph_fixtures.py OUTDIR

Writes OUTDIR/graph/two_in_two_out_nested.json: a small Keras 3 Functional model with two
inputs, two outputs and a Functional model nested two deep (outer > "inner" > "innermost"),
seeded random weights (BatchNormalization statistics included), seeded inputs and Keras'
outputs. Layer names repeat across scopes ("conv", "dense"), as Keras allows: names are unique
per model, not per file. The Swift test (BackbonesTests/NestedGraphTests) builds the same graph
by hand and binds the weights by their scoped paths.

JSON layout:
  inputs   [{name, shape, values}]        per-image shapes (no batch axis), float32 values
  outputs  [{name, shape, values}]        Keras' model(inputs) in model.outputs order
  weights  [{path, shape, values}]        path = nested model names / layer name / variable,
                                          e.g. "inner/innermost/conv/kernel"
Floats are written with repr() of the float32 value, which a Float parse reads back exactly.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402


def build():
    # innermost: (4,4,6) -> conv 3x3 same -> BN -> ReLU -> (4,4,8)
    x = keras.Input((4, 4, 6), name="innermost_input")
    y = layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(x)
    y = layers.BatchNormalization(epsilon=1e-3, name="bn")(y)
    y = layers.ReLU(name="relu")(y)
    innermost = keras.Model(x, y, name="innermost")

    # inner: (4,4,6) -> innermost -> 1x1 conv -> global average pool -> Dense(5) -> (5)
    x = keras.Input((4, 4, 6), name="inner_input")
    y = innermost(x)
    y = layers.Conv2D(8, 1, name="conv")(y)
    y = layers.GlobalAveragePooling2D(name="pool")(y)
    y = layers.Dense(5, activation="tanh", name="dense")(y)
    inner = keras.Model(x, y, name="inner")

    # outer: two (8,8,3) images; their stride-2 branches joined by Add and Concatenate.
    a = keras.Input((8, 8, 3), name="image_a")
    b = keras.Input((8, 8, 3), name="image_b")
    xa = layers.Conv2D(6, 3, strides=2, padding="same", name="conv")(a)
    xb = layers.Conv2D(6, 3, strides=2, padding="same", name="conv_b")(b)
    xb = layers.BatchNormalization(name="bn")(xb)
    s = layers.Add(name="add")([xa, xb])
    v = inner(s)  # (5)
    logits = layers.Dense(3, name="dense")(v)
    probs = layers.Activation("softmax", name="probs")(logits)  # output 1: (3)
    c = layers.Concatenate(name="concat")([xa, s])  # (4,4,12)
    f = layers.Flatten(name="flatten")(c)  # (192)
    t = layers.Reshape((16, 12), name="reshape")(f)  # (T=16, C=12)
    t = layers.Dense(4, activation="relu", name="tokens")(t)  # output 2: (16, 4)
    return keras.Model([a, b], [probs, t], name="outer")


def weight_paths(model, prefix=""):
    """(path, variable) for every weight, nested models walked in `model.layers` order."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from weight_paths(layer, f"{prefix}{layer.name}/")
        else:
            for w in layer.weights:
                yield f"{prefix}{layer.name}/{w.name}", w


def main(outdir):
    keras.utils.set_random_seed(21)
    model = build()
    rng = np.random.default_rng(21)
    for path, w in weight_paths(model):
        shape = tuple(w.shape)
        if path.endswith("moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif path.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0, 0.5, shape)
        w.assign(value.astype(np.float32))
    inputs = [rng.uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32) for _ in range(2)]
    outputs = [np.asarray(o) for o in model(inputs, training=False)]

    def tensor(name, array):
        return {"name": name, "shape": list(array.shape),
                "values": [repr(float(v)) for v in array.astype(np.float32).ravel()]}

    record = {
        "keras_version": keras.__version__,
        "inputs": [tensor(t.name, a[0]) for t, a in zip(model.inputs, inputs)],
        "outputs": [tensor(n, o[0]) for n, o in zip(["probs", "tokens"], outputs)],
        "weights": [
            {"path": p, "shape": list(w.shape),
             "values": [repr(float(v)) for v in np.asarray(w.numpy(), np.float32).ravel()]}
            for p, w in weight_paths(model)
        ],
    }
    # Strings keep float32 reprs exact; Swift parses each with Float(String).
    os.makedirs(os.path.join(outdir, "graph"), exist_ok=True)
    with open(os.path.join(outdir, "graph", "two_in_two_out_nested.json"), "w") as f:
        json.dump(record, f, indent=0)
    print(f"graph: {len(record['weights'])} arrays; outputs "
          + ", ".join(f"{o['name']}{tuple(o['shape'])}" for o in record["outputs"]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
