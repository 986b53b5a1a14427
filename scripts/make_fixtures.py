#!/usr/bin/env python3
"""Write the Keras weight-file fixtures used by the Swift WeightLoader tests.

Usage:  .venv/bin/python scripts/make_fixtures.py OUTDIR

Writes every fixture under OUTDIR (legacy/, full/, v3/, attr/ (models that track layers as
attributes, with their backbones' arrays, images and features), bad/, an empty inputs/,
reference/ Keras outputs for the Swift backbones' parity tests) plus
OUTDIR/expectations.json, which records for each file its layout, writer, counts and six
value checks. Python/Keras are used only here, to produce test data; the Swift code never
runs Python.

Conventions (also written into expectations.json under "conventions"):
* Every model is built with weights=None and then ALL its variables (kernels, biases, BN
  gamma/beta/moving statistics, Normalization mean/variance/count) are overwritten with
  seeded random values, so no array is constant and a wrong binding shows up in the sums.
  The random stream depends only on the architecture id and on the legacy weight order, so
  a Keras 3 and a tf-keras build of the same architecture receive identical values.
* Checks are computed from the Keras model objects, never from the written files, and are
  indexed by the architecture's LEGACY ORDER: model.layers filtered to layers with weights,
  arrays in trainable_weights + non_trainable_weights order of the backbone built fresh.
  `keras_layer` is the Keras 3 layer name (what the architecture manifests use); `file_layer`,
  `file_array` and `file_path` say where the same array sits in that particular file.
* The script re-opens every file afterwards and checks counts and check values against it
  (a cheap guard against fixture bugs); it exits non-zero if anything disagrees.
"""
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import io  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from unittest import mock  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
import zlib  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
import keras  # noqa: E402  (Keras 3)
import tf_keras  # noqa: E402  (Keras 2 API, writes Keras-2 style files)
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402
from keras.src.utils.naming import to_snake_case  # noqa: E402

tf.get_logger().setLevel("ERROR")

K3 = f"keras {keras.__version__}"
TFK = f"tf-keras {tf_keras.__version__}"
HANDMADE_K1 = "handmade keras-1 style"

# Architecture id -> builder taking an `applications` module (keras.applications or
# tf_keras.applications). Only include_top=False backbones, as published ("notop").
ARCHITECTURES = {
    "MobileNetV2_0.35": lambda app: app.MobileNetV2(
        alpha=0.35, input_shape=(96, 96, 3), include_top=False, weights=None),
    "ResNet50": lambda app: app.ResNet50(include_top=False, weights=None),
    "VGG16": lambda app: app.VGG16(include_top=False, weights=None),
    "Xception": lambda app: app.Xception(include_top=False, weights=None),
    "DenseNet121": lambda app: app.DenseNet121(include_top=False, weights=None),
    "MobileNetV3Small": lambda app: app.MobileNetV3Small(include_top=False, weights=None),
    "EfficientNetB0": lambda app: app.EfficientNetB0(include_top=False, weights=None),
    "InceptionV3": lambda app: app.InceptionV3(include_top=False, weights=None),
}
MNV2 = "MobileNetV2_0.35"
MNV2_NAME = "mobilenetv2_0.35_96"  # model name Keras gives that backbone (both frameworks)
NESTED_INPUT = (96, 96, 3)
N_CHECKS = 6


# ----------------------------------------------------------------------------------------
# Building and randomizing models
# ----------------------------------------------------------------------------------------

def seed_of(text):
    return zlib.crc32(text.encode("utf8"))


def var_kind(w):
    """Short variable name: 'kernel', 'gamma', 'moving_variance', 'count', ...
    (Keras 3: w.name is already short; tf-keras: 'conv1/bn/gamma:0')."""
    return w.name.split("/")[-1].split(":")[0]


def to_numpy(w):
    return np.array(w.numpy())


def random_value(kind, shape, dtype, rng):
    if kind in ("gamma", "moving_variance", "variance"):
        v = rng.uniform(0.5, 1.5, size=shape)
    elif kind == "count":  # Normalization sample count, an integer scalar
        v = rng.integers(100, 100_000, size=shape)
    else:  # kernel, bias, depthwise/pointwise kernel, beta, moving_mean, mean
        v = rng.standard_normal(size=shape, dtype=np.float32) * np.float32(0.1)
    return np.asarray(v, dtype=dtype)


def legacy_weights(layer):
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def legacy_order(model):
    """[(layer, [variables])] for layers with weights, in model.layers order."""
    return [(l, legacy_weights(l)) for l in model.layers if legacy_weights(l)]


def randomize(order, seed):
    rng = np.random.default_rng(seed)
    for _, weights in order:
        for w in weights:
            w.assign(random_value(var_kind(w), tuple(w.shape), to_numpy(w).dtype, rng))


class Backbone:
    """A freshly built, randomized backbone and its legacy order.

    framework: "k3" (Keras 3, stored weight names are w.path, no ':0') or
               "tfk" (tf-keras, stored weight names are w.name, with ':0').
    """

    def __init__(self, arch, framework):
        if framework == "k3":
            keras.backend.clear_session()  # fresh auto names (conv2d, conv2d_1, ...)
            keras.utils.set_random_seed(seed_of(arch))
            self.model = ARCHITECTURES[arch](keras.applications)
        else:
            tf_keras.backend.clear_session()
            tf_keras.utils.set_random_seed(seed_of(arch))
            self.model = ARCHITECTURES[arch](tf_keras.applications)
        self.arch, self.framework = arch, framework
        self.order = legacy_order(self.model)  # captured while everything is trainable
        randomize(self.order, seed_of(arch))
        self.ref_names = keras3_names(arch, self)

    def stored_name(self, w):
        return w.path if self.framework == "k3" else w.name

    @property
    def n_layers(self):
        return len(self.model.layers)

    def counts(self):
        arrays = sum(len(ws) for _, ws in self.order)
        params = sum(int(np.prod(w.shape)) for _, ws in self.order for w in ws)
        return {"layers": self.n_layers, "weighted_layers": len(self.order),
                "arrays": arrays, "params": params}


_K3_NAME_CACHE = {}


def keras3_names(arch, backbone):
    """Keras 3 layer names of the architecture in legacy order. For a tf-keras backbone this
    builds the Keras 3 model once and asserts that both legacy orders have the same shapes
    (the positional-loading premise the Swift binder relies on)."""
    mine = [[tuple(w.shape) for w in ws] for _, ws in backbone.order]
    if backbone.framework == "k3":
        return [l.name for l, _ in backbone.order]
    if arch not in _K3_NAME_CACHE:
        keras.backend.clear_session()
        ref = legacy_order(ARCHITECTURES[arch](keras.applications))
        _K3_NAME_CACHE[arch] = ([l.name for l, _ in ref],
                                [[tuple(w.shape) for w in ws] for _, ws in ref])
    names, shapes = _K3_NAME_CACHE[arch]
    if shapes != mine:
        raise SystemExit(f"{arch}: tf-keras and Keras 3 legacy orders differ")
    return names


def build_nested(framework, frozen):
    """The transfer-learning model: Input -> MobileNetV2 backbone -> GAP -> Dropout -> Dense head."""
    base = Backbone(MNV2, framework)
    k = keras if framework == "k3" else tf_keras
    inp = k.Input(NESTED_INPUT)
    x = base.model(inp)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Dropout(0.2)(x)
    out = k.layers.Dense(5, name="head")(x)
    model = k.Model(inp, out)
    head = model.get_layer("head")
    randomize([(head, legacy_weights(head))], seed_of("head"))
    if frozen:
        base.model.trainable = False
    return model, base, head


def head_entry(head):
    kernel, bias = (to_numpy(w) for w in legacy_weights(head))
    return {"layer": "head", "kernel_shape": list(kernel.shape),
            "sum": float(kernel.sum(dtype=np.float64)),
            "bias_shape": list(bias.shape), "bias_sum": float(bias.sum(dtype=np.float64))}


# ----------------------------------------------------------------------------------------
# Expectations
# ----------------------------------------------------------------------------------------

def check_positions(order):
    """Six (layer_index, array_index) spread over the weighted layers, including the first
    and the last; first/last use the layer's last array (e.g. Normalization count, BN
    moving_variance), the others cycle through array positions."""
    n = len(order)
    layer_idx = sorted({int(round(x)) for x in np.linspace(0, n - 1, N_CHECKS)})
    out = []
    for j, k in enumerate(layer_idx):
        na = len(order[k][1])
        i = na - 1 if k in (0, n - 1) else j % na
        out.append((k, i))
    return out


def make_checks(bb, file_layer, file_array, file_path):
    """file_layer(k) / file_array(k, i) / file_path(k, i): where position (k, i) is in the file."""
    checks = []
    for k, i in check_positions(bb.order):
        a = to_numpy(bb.order[k][1][i])
        checks.append({
            "layer_index": k, "array_index": i, "keras_layer": bb.ref_names[k],
            "shape": list(a.shape), "sum": float(np.sum(a, dtype=np.float64)),
            "first": [float(v) for v in a.reshape(-1)[:4]],
            "file_layer": file_layer(k), "file_array": file_array(k, i),
            "file_path": file_path(k, i),
        })
    return checks


def legacy_checks(bb, prefix=""):
    """Checks for a legacy layout where each backbone layer is its own group under `prefix`."""
    def layer(k):
        return bb.order[k][0].name

    def array(k, i):
        return bb.stored_name(bb.order[k][1][i])

    return make_checks(bb, layer, array, lambda k, i: f"{prefix}/{layer(k)}/{array(k, i)}")


def nested_legacy_checks(bb, group):
    """Checks for a full-model file where the backbone is ONE group holding all inner arrays."""
    def array(k, i):
        return bb.stored_name(bb.order[k][1][i])

    return make_checks(bb, lambda k: bb.order[k][0].name, array,
                       lambda k, i: f"{group}/{array(k, i)}")


def v3_keys(layers):
    """Keys Keras 3 saving_lib gives a list of layers: snake_case(class), then _1, _2, ..."""
    used, keys = {}, {}
    for layer in layers:
        base = to_snake_case(layer.__class__.__name__)
        if base in used:
            used[base] += 1
            keys[id(layer)] = f"{base}_{used[base]}"
        else:
            used[base] = 0
            keys[id(layer)] = base
    return keys


def v3_checks(bb, prefix):
    keys = v3_keys(bb.model.layers)
    return make_checks(
        bb, lambda k: bb.order[k][0].name, lambda k, i: str(i),
        lambda k, i: f"{prefix}/layers/{keys[id(bb.order[k][0])]}/vars/{i}")


def entry(layout, writer, architecture, checks=(), keras_version=None, backend=None,
          nested_in=None, layer_names_count=None, weighted_layers=None, arrays=None,
          params=None, backbone=None, error=None, error_detail=None, **extra):
    e = {"layout": layout, "writer": writer, "keras_version": keras_version,
         "backend": backend, "architecture": architecture, "nested_in": nested_in,
         "layer_names_count": layer_names_count, "weighted_layers": weighted_layers,
         "arrays": arrays, "params": params, "checks": list(checks),
         "error": error, "error_detail": error_detail}
    if backbone is not None:
        e["backbone"] = backbone
    e.update(extra)
    return e


def plain_legacy_entry(bb, layout, writer, version, prefix=""):
    """Entry for a legacy file holding exactly one plain backbone."""
    c = bb.counts()
    return entry(layout, writer, bb.arch, legacy_checks(bb, prefix), keras_version=version,
                 backend="tensorflow", layer_names_count=c["layers"],
                 weighted_layers=c["weighted_layers"], arrays=c["arrays"],
                 params=c["params"], backbone=c)


# ----------------------------------------------------------------------------------------
# Small HDF5 helpers
# ----------------------------------------------------------------------------------------

def read_names(group, name):
    """A string-list attribute, plain or chunked (name0, name1, ...), decoded to str."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, n = [], 0
        while f"{name}{n}" in group.attrs:
            values += list(group.attrs[f"{name}{n}"])
            n += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def replace_dataset(group, name, data):
    del group[name]
    group.create_dataset(name, data=data)


def edit_copy(src, dst):
    shutil.copyfile(src, dst)
    return h5py.File(dst, "r+")


# ----------------------------------------------------------------------------------------
# Fixtures. Each function writes one file (path relative to OUTDIR) and returns its entry.
# ----------------------------------------------------------------------------------------

def source_facts(bb, e):
    """Private facts about fixture 1 that the derived fixtures need (stripped before writing)."""
    e["_file_layers"] = [l.name for l, _ in bb.order]
    e["_k3_layers"] = list(bb.ref_names)
    e["_classes"] = [l.__class__.__name__ for l, _ in bb.order]
    e["_arrays_per_layer"] = [[bb.stored_name(w) for w in ws] for _, ws in bb.order]
    return e


def fx_legacy_k3(out, rel):
    """1. The legacy weights-only layout as Keras 3 writes it (vlen strings, no ':0').
    Also the source of most derived fixtures (8, 21-26)."""
    bb = Backbone(MNV2, "k3")
    with h5py.File(out(rel), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, bb.model)
    # Private facts for the derived fixtures (stripped before expectations.json is written).
    return source_facts(bb, plain_legacy_entry(bb, "legacy-weights", K3, keras.__version__))


def fx_legacy_tfkeras(arch):
    """2, 3, 6, 7, 9, 10. tf-keras save_weights(.h5): the layout of the published files,
    with Keras 2 names (':0', 'depthwise_kernel', tf-keras layer names such as the DenseNet
    and MobileNetV3 slash names, InceptionV3 auto names)."""
    def fx(out, rel):
        bb = Backbone(arch, "tfk")
        bb.model.save_weights(out(rel))
        return plain_legacy_entry(bb, "legacy-weights", TFK, tf_keras.__version__)
    fx.__doc__ = fx_legacy_tfkeras.__doc__
    return fx


# Keras 1 class-name prefixes for auto layer names and Keras 1 variable suffixes.
K1_PREFIX = {"Conv2D": "convolution2d", "SeparableConv2D": "separableconvolution2d",
             "BatchNormalization": "batchnormalization", "Activation": "activation",
             "MaxPooling2D": "maxpooling2d", "Add": "merge"}
K1_VAR = {"kernel": "W", "bias": "b", "depthwise_kernel": "depthwise_kernel",
          "pointwise_kernel": "pointwise_kernel", "gamma": "gamma", "beta": "beta",
          "moving_mean": "running_mean", "moving_variance": "running_std"}


def write_keras1_file(path, layers):
    """Mirror Keras 1.2.2 save_weights_to_hdf5_group: root has ONLY layer_names; string lists
    are fixed-length NUL-padded byte strings (numpy |S, as h5py 2 wrote lists of bytes);
    weightless layers get weight_names = np.asarray([]) (empty float64); groups are created
    in sorted name order; datasets sit directly under the layer group.

    layers: [(layer_name, [(weight_name, array), ...])] in model.layers order."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode("utf8") for n, _ in layers])
        for name, weights in sorted(layers, key=lambda t: t[0]):
            g = f.create_group(name)
            if weights:
                g.attrs["weight_names"] = np.array([w.encode("utf8") for w, _ in weights])
                for wname, value in weights:
                    g.create_dataset(wname, data=value)
            else:
                g.attrs["weight_names"] = np.asarray([])


def keras1_entry(bb, layers, names_of):
    """names_of: Keras 3 layer -> (Keras 1 layer name, [Keras 1 weight names])."""
    c = bb.counts()
    def layer(k):
        return names_of[id(bb.order[k][0])][0]

    def array(k, i):
        return names_of[id(bb.order[k][0])][1][i]

    checks = make_checks(bb, layer, array, lambda k, i: f"/{layer(k)}/{array(k, i)}")
    return entry("legacy-weights", HANDMADE_K1, bb.arch, checks, layer_names_count=len(layers),
                 weighted_layers=c["weighted_layers"], arrays=c["arrays"], params=c["params"],
                 backbone=c)


def fx_vgg16_keras1(out, rel):
    """4. VGG16 notop like the published v0.1 file (Keras 1.2.2 + TF): current layer names,
    variables 'block1_conv1_W_1:0' / 'block1_conv1_b_1:0', no keras_version/backend."""
    bb = Backbone("VGG16", "k3")
    layers, names_of = [], {}
    for layer in bb.model.layers:
        name = "input_1" if layer.__class__.__name__ == "InputLayer" else layer.name
        ws = legacy_weights(layer)
        wnames = [f"{name}_{K1_VAR[var_kind(w)]}_1:0" for w in ws]
        layers.append((name, [(n, to_numpy(w)) for n, w in zip(wnames, ws)]))
        names_of[id(layer)] = (name, wnames)
    write_keras1_file(out(rel), layers)
    return keras1_entry(bb, layers, names_of)


def fx_xception_keras1(out, rel):
    """5. Xception notop like the published v0.4 file: Keras 1 auto layer names
    (convolution2d_N, separableconvolution2d_N, batchnormalization_N, ... numbered per class
    from 1 in model.layers order) and Keras 1 variable names ('_W:0', '_running_std:0' holding
    the variance). No keras_version/backend."""
    bb = Backbone("Xception", "k3")
    layers, names_of, counters = [], {}, {}
    for layer in bb.model.layers:
        cls = layer.__class__.__name__
        if cls == "InputLayer":
            name = "input_1"
        else:
            prefix = K1_PREFIX.get(cls, cls.lower())
            counters[prefix] = counters.get(prefix, 0) + 1
            name = f"{prefix}_{counters[prefix]}"
        ws = legacy_weights(layer)
        wnames = [f"{name}_{K1_VAR[var_kind(w)]}:0" for w in ws]
        layers.append((name, [(n, to_numpy(w)) for n, w in zip(wnames, ws)]))
        names_of[id(layer)] = (name, wnames)
    write_keras1_file(out(rel), layers)
    return keras1_entry(bb, layers, names_of)


def fx_chunked_attrs(src_rel, src_entry):
    """8. Fixture 1 with layer_names split into layer_names0..2 and one layer's weight_names
    into weight_names0..1, the way save_attributes_to_hdf5_group chunks attributes over
    64512 bytes (np.array_split of np.asarray(list of bytes) -> fixed-length |S chunks)."""
    def fx(out, rel):
        e = json.loads(json.dumps(src_entry))
        # Chunk the weight_names of a checked layer with >= 2 arrays (values get verified).
        chunked = next(c["file_layer"] for c in e["checks"][1:]
                       if len(src_entry["_arrays_per_layer"][c["layer_index"]]) >= 2)
        with edit_copy(out(src_rel), out(rel)) as f:
            names = read_names(f, "layer_names")
            del f.attrs["layer_names"]
            for n, part in enumerate(np.array_split(np.asarray([s.encode() for s in names]), 3)):
                f.attrs[f"layer_names{n}"] = part
            g = f[chunked]
            wn = read_names(g, "weight_names")
            del g.attrs["weight_names"]
            for n, part in enumerate(np.array_split(np.asarray([s.encode() for s in wn]), 2)):
                g.attrs[f"weight_names{n}"] = part
        e["writer"] = f"{K3} + handmade attribute chunking"
        e["chunked"] = {"layer_names": 3, "weight_names_layer": chunked, "weight_names": 2}
        return e
    return fx


def fx_full_k3(out, rel):
    """11. Keras 3 model.save('x.h5') of the plain backbone: root model_config, weights under
    /model_weights (same per-layer layout as fixture 1)."""
    bb = Backbone(MNV2, "k3")
    bb.model.save(out(rel))
    return plain_legacy_entry(bb, "legacy-full-model", K3, keras.__version__,
                              prefix="/model_weights")


def nested_full_entry(model, bb, head, writer, version):
    """Entry for a full-model .h5 whose backbone is a nested sub-model (one group)."""
    group = f"/model_weights/{bb.model.name}"
    c = bb.counts()
    return entry("legacy-full-model", writer, MNV2, nested_legacy_checks(bb, group),
                 keras_version=version, backend="tensorflow", nested_in=bb.model.name,
                 layer_names_count=len(model.layers), weighted_layers=2,
                 arrays=c["arrays"] + 2, params=c["params"] + 1280 * 5 + 5, backbone=c,
                 head=head_entry(head), nested_path=group)


def fx_nested_k3(frozen):
    """12, 13. Keras 3 transfer-learning model saved as .h5. The backbone is ONE entry of
    layer_names; its weight_names are all inner arrays: trainables of all inner layers first,
    then non-trainables when the base is trainable; per-layer order when it was frozen."""
    def fx(out, rel):
        model, bb, head = build_nested("k3", frozen)
        model.save(out(rel))
        e = nested_full_entry(model, bb, head, K3, keras.__version__)
        e["base_trainable"] = not frozen
        return e
    fx.__doc__ = fx_nested_k3.__doc__
    return fx


def fx_nested_tfkeras(frozen):
    """14, 15. The same nested model written by tf-keras (Keras 2 names with ':0')."""
    def fx(out, rel):
        model, bb, head = build_nested("tfk", frozen)
        model.save(out(rel))
        e = nested_full_entry(model, bb, head, TFK, tf_keras.__version__)
        e["base_trainable"] = not frozen
        return e
    fx.__doc__ = fx_nested_tfkeras.__doc__
    return fx


def fx_v3_plain(out, rel):
    """16. Keras 3 native .weights.h5 (H5IOStore): class-based keys, datasets vars/0, vars/1."""
    bb = Backbone(MNV2, "k3")
    bb.model.save_weights(out(rel))
    c = bb.counts()
    return entry("keras3-weights", K3, MNV2, v3_checks(bb, ""), weighted_layers=c["weighted_layers"],
                 arrays=c["arrays"], params=c["params"], backbone=c)


def nested_v3_entry(layout, model, bb, head, keras_version):
    outer = v3_keys(model.layers)
    prefix = f"/layers/{outer[id(bb.model)]}"
    c = bb.counts()
    return entry(layout, K3, MNV2, v3_checks(bb, prefix), keras_version=keras_version,
                 nested_in=bb.model.name, weighted_layers=c["weighted_layers"] + 1,
                 arrays=c["arrays"] + 2, params=c["params"] + 1280 * 5 + 5, backbone=c,
                 head=dict(head_entry(head), file_path=f"/layers/{outer[id(head)]}/vars/0"),
                 nested_path=prefix)


def fx_v3_nested_weights(out, rel):
    """17. Keras 3 save_weights('.weights.h5') of the nested model: the backbone lives at
    /layers/functional/layers/..."""
    model, bb, head = build_nested("k3", frozen=False)
    model.save_weights(out(rel))
    return nested_v3_entry("keras3-weights", model, bb, head, None)


def fx_v3_nested_archive(out, rel):
    """18. Keras 3 model.save('.keras'): zip of metadata.json, config.json, model.weights.h5
    (same layout as 17). keras_version comes from metadata.json; file_path is inside
    model.weights.h5."""
    model, bb, head = build_nested("k3", frozen=False)
    model.save(out(rel))
    e = nested_v3_entry("keras3-archive", model, bb, head, keras.__version__)
    e["archive_member"] = "model.weights.h5"
    return e


# --- error fixtures ---------------------------------------------------------------------

def error_entry(kind, detail, writer="handmade", **counts):
    return entry("error", writer, MNV2, error=kind, error_detail=detail, **counts)


def fx_not_hdf5(out, rel):
    """19. A text file with an .h5 name (e.g. an HTML error page saved by a downloader)."""
    with open(out(rel), "w") as f:
        f.write("<html>\n<head><title>404 Not Found</title></head>\n"
                "<body>This is not an HDF5 file.</body>\n</html>\n")
    return error_entry("not-hdf5", {})


def fx_empty(out, rel):
    """20. A zero-byte file (interrupted download)."""
    open(out(rel), "wb").close()
    return error_entry("empty-file", {"bytes": 0})


def h5_failure(path):
    """None if h5py can open the file and read every listed array, else (stage, message)."""
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001
        return "open", f"{type(exc).__name__}: {exc}"
    try:
        with f:
            for layer in read_names(f, "layer_names"):
                g = f[layer]
                for w in read_names(g, "weight_names"):
                    g[w][()]
    except Exception as exc:  # noqa: BLE001
        return "read", f"{type(exc).__name__}: {exc}"
    return None


def fx_truncated(src_rel):
    """21. The first 60% of fixture 1 (interrupted download). If h5py could still open and
    read it, cut further in 10% steps; error_detail records where h5py failed."""
    def fx(out, rel):
        data = open(out(src_rel), "rb").read()
        for fraction in (0.6, 0.5, 0.4, 0.3, 0.2, 0.1):
            n = int(len(data) * fraction)
            with open(out(rel), "wb") as f:
                f.write(data[:n])
            failure = h5_failure(out(rel))
            if failure:
                break
        else:
            raise SystemExit("truncated fixture: h5py reads every cut")
        return error_entry("truncated", {
            "fraction": fraction, "bytes": n, "original_bytes": len(data),
            "h5py_fails_at": failure[0], "h5py_error": failure[1][:300]})
    return fx


def fx_unknown_layout(out, rel):
    """22. Valid HDF5 with groups, datasets and attributes but none of the Keras markers
    (no layer_names, no model_weights, no layers/ + vars/)."""
    rng = np.random.default_rng(seed_of("unknown"))
    with h5py.File(out(rel), "w") as f:
        f.attrs["title"] = "some dataset"
        f.create_dataset("images", data=rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8))
        g = f.create_group("meta")
        g.attrs["created_by"] = "make_fixtures.py"
        g.create_dataset("labels", data=np.arange(4, dtype=np.int64))
        f.create_group("weights").create_dataset("w", data=rng.standard_normal((3, 3)))
    return error_entry("unknown-layout", {"root_keys": ["images", "meta", "weights"]})


def fx_layer_count(src_rel, src_entry):
    """23. Fixture 1 with the LAST weighted layer's name dropped from layer_names (its group
    stays in the file: a reader must follow layer_names, not walk the tree)."""
    def fx(out, rel):
        last = src_entry["_file_layers"][-1]
        with edit_copy(out(src_rel), out(rel)) as f:
            names = read_names(f, "layer_names")
            f.attrs["layer_names"] = [n.encode("utf8") for n in names if n != last]
        n = src_entry["weighted_layers"]
        return error_entry("layer-count-mismatch", {
            "expected": n, "actual": n - 1, "layer": src_entry["_k3_layers"][-1],
            "layer_index": n - 1, "file_layer": last},
            writer=f"{K3} + handmade edit", layer_names_count=src_entry["layer_names_count"] - 1,
            weighted_layers=n - 1)
    return fx


def pick_layer(src_entry, cls, near):
    """Index of the first weighted layer of class `cls` at or after position `near`."""
    classes = src_entry["_classes"]
    return next(k for k in range(near, len(classes)) if classes[k] == cls)


def fx_shape_mismatch(src_rel, src_entry):
    """24. Fixture 1 with a middle 1x1 conv kernel replaced by one with its last two axes
    swapped (what a wrong-variant weight file looks like)."""
    def fx(out, rel):
        k = pick_layer(src_entry, "Conv2D", len(src_entry["_classes"]) // 2)
        layer = src_entry["_file_layers"][k]
        array = src_entry["_arrays_per_layer"][k][0]
        with edit_copy(out(src_rel), out(rel)) as f:
            g = f[layer]
            old = g[array][()]
            new = np.ascontiguousarray(np.swapaxes(old, -1, -2))
            replace_dataset(g, array, new)
        return error_entry("shape-mismatch", {
            "layer": src_entry["_k3_layers"][k], "layer_index": k, "array": array,
            "array_index": 0, "expected_shape": list(old.shape),
            "actual_shape": list(new.shape)}, writer=f"{K3} + handmade edit")
    return fx


def fx_unsupported_dtype(src_rel, src_entry):
    """25. Fixture 1 with one kernel replaced by a same-shape |S4 string dataset."""
    def fx(out, rel):
        k = pick_layer(src_entry, "Conv2D", (3 * len(src_entry["_classes"])) // 4)
        layer = src_entry["_file_layers"][k]
        array = src_entry["_arrays_per_layer"][k][0]
        with edit_copy(out(src_rel), out(rel)) as f:
            g = f[layer]
            shape = g[array].shape
            replace_dataset(g, array, np.full(shape, b"junk", dtype="S4"))
        return error_entry("unsupported-dtype", {
            "layer": src_entry["_k3_layers"][k], "layer_index": k, "array": array,
            "array_index": 0, "shape": list(shape), "dtype": "|S4"},
            writer=f"{K3} + handmade edit")
    return fx


def fx_float64(src_rel, src_entry):
    """26. Fixture 1 with every float32 array stored as float64: NOT an error, the loader
    converts (float32 -> float64 is exact, so the checks are unchanged)."""
    def fx(out, rel):
        with edit_copy(out(src_rel), out(rel)) as f:
            paths = []
            f.visititems(lambda p, o: paths.append(p)
                         if isinstance(o, h5py.Dataset) and o.dtype == np.float32 else None)
            for p in paths:
                parent, name = p.rsplit("/", 1)
                replace_dataset(f[parent], name, f[p][()].astype(np.float64))
        e = json.loads(json.dumps(src_entry))
        e["writer"] = f"{K3} + handmade float64 rewrite"
        e["dtype"] = "float64"
        return e
    return fx


# --- attribute-tracked Keras 3 models (layers held as attributes) --------------------------
#
# saving_lib._save_state walks a model by _walk_saveable: a Functional or Sequential model's
# `layers` list first, then every attribute in sorted order (private ones last), and stores a
# layer once, at the first path it is met. A subclassed model's attributes become root groups
# (`backbone/layers/conv2d/vars/0`), a layer's sub-layers groups inside it
# (`layers/conv_block/bn/vars/0`); the `vars` group's `name` attribute is the layer's name.

L = keras.layers


@keras.saving.register_keras_serializable(package="fixtures")
class AttrClassifier(keras.Model):
    """(a) A subclassed model holding a keras.applications backbone, a Sequential block and a
    head as attributes. block1 reuses the backbone's first layer names (conv1, conv1_bn), as
    Keras allows across models: only the path tells them apart."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.backbone = keras.applications.MobileNet(
            alpha=0.25, input_shape=(ATTR_SIZES["MobileNet_0.25"],) * 2 + (3,),
            include_top=False, weights=None)
        self.block1 = keras.Sequential([L.Conv2D(16, 1, name="conv1"),
                                        L.BatchNormalization(name="conv1_bn"), L.ReLU()],
                                       name="block1")
        self.pool = L.GlobalAveragePooling2D()
        self.head = L.Dense(5, name="head")

    def call(self, x):
        return self.head(self.pool(self.block1(self.backbone(x))))


@keras.saving.register_keras_serializable(package="fixtures")
class ConvBlock(L.Layer):
    """A layer holding its sub-layers as attributes (conv, bn)."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv = L.Conv2D(filters, 1, use_bias=False)
        self.bn = L.BatchNormalization()

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(tuple(input_shape[:-1]) + (self.filters,))

    def call(self, x):
        return keras.activations.relu(self.bn(self.conv(x)))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="fixtures")
class AttrTagger(keras.Model):
    """(b) A Functional model whose backbone and Sequential neck are also attributes, with a
    ConvBlock (sub-layers as attributes) in its graph."""

    def __init__(self, **kwargs):
        size = ATTR_SIZES["MobileNetV2_0.35"]
        backbone = keras.applications.MobileNetV2(
            alpha=0.35, input_shape=(size, size, 3), include_top=False, weights=None)
        neck = keras.Sequential([L.Conv2D(32, 1, name="neck_conv"),
                                 L.BatchNormalization(name="neck_bn"), L.ReLU()], name="neck")
        inp = keras.Input((size, size, 3))
        x = ConvBlock(24, name="refine")(neck(backbone(inp)))
        out = L.Dense(4, name="tags")(L.GlobalAveragePooling2D()(x))
        super().__init__(inp, out, **kwargs)
        self.backbone = backbone
        self.neck = neck


# Architecture id -> input side of the attribute-tracked fixtures' backbones (odd 97: the
# asymmetric "same" padding of stride-2 convolutions).
ATTR_SIZES = {"MobileNet_0.25": 97, "MobileNetV2_0.35": 96}
ATTR_IMAGES = 3
_ATTR_CACHE = {}
_ATTR_SIDE = {}


def attr_model(kind):
    """The randomized model of kind "subclassed" or "functional" (built once: the .weights.h5
    and .keras fixtures hold the same values), its backbone, the backbone's path in the file,
    and the shared side files: every backbone array (.npz, keyed `<layer name>/<index>` in the
    legacy order), seeded PNG images of the input size, and Keras' backbone.predict on them."""
    if kind in _ATTR_CACHE:
        return _ATTR_CACHE[kind]
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed_of(f"attr {kind}"))
    if kind == "subclassed":
        arch, model = "MobileNet_0.25", AttrClassifier()
        prefix = "backbone"
    else:
        arch, model = "MobileNetV2_0.35", AttrTagger()
        prefix = f"layers/{v3_keys(model.layers)[id(model.backbone)]}"
    size = ATTR_SIZES[arch]
    model(np.zeros((1, size, size, 3), np.float32))  # builds a subclassed model
    # Every variable of every layer, BatchNorm moving statistics included, then the backbone's
    # kernels at the parity references' gain (activations stay O(1) through its depth).
    randomize([(None, list(model.weights))], seed_of(f"attr {kind} values"))
    _scale_conv_kernels(model.backbone, 1.0)
    # Saved with the optimizer's state, as a training script's model.save leaves it (a group
    # at the root that is no layer).
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    _ATTR_CACHE[kind] = (arch, model, prefix)
    return _ATTR_CACHE[kind]


def attr_side_files(out, kind):
    """attr/<kind>_arrays.npz, attr/<kind>_images/*.png, attr/<kind>_features.f32."""
    arch, model, _ = attr_model(kind)
    backbone, size = model.backbone, ATTR_SIZES[arch]
    order = legacy_order(backbone)
    np.savez(out(f"attr/{kind}_arrays.npz"),
             **{f"{l.name}/{i}": to_numpy(w) for l, ws in order for i, w in enumerate(ws)})
    rng = np.random.default_rng(seed_of(f"attr {kind} images"))
    pixels = rng.integers(0, 256, size=(ATTR_IMAGES, size, size, 3), dtype=np.uint8)
    os.makedirs(out(f"attr/{kind}_images"), exist_ok=True)
    images = []
    for n, image in enumerate(pixels):
        rel = f"attr/{kind}_images/{n}.png"
        Image.fromarray(image).save(out(rel))
        images.append(rel)
    # The tool's input: the PNG's pixels, not resized (same size), preprocessed as the
    # backbone's family does (MobileNet, MobileNetV2: "tf", x / 127.5 - 1).
    x = keras.applications.mobilenet.preprocess_input(pixels.astype(np.float32))
    y = backbone.predict(x, batch_size=ATTR_IMAGES, verbose=0)
    write_f32(out(f"attr/{kind}_features.f32"), y)
    return {"arrays_npz": f"attr/{kind}_arrays.npz", "images": images, "size": size,
            "features": f"attr/{kind}_features.f32", "features_shape": list(y.shape),
            "max_abs": float(np.abs(y).max())}


def fx_attr(kind, archive):
    """27-30. Keras 3 files of models that track layers as attributes: (a) "subclassed", a
    subclassed keras.Model holding a MobileNet 0.25 backbone (root groups backbone/, block1/,
    head/, layers/ for the attributes Keras met first through Model.layers, optimizer/);
    (b) "functional", a Functional model with attribute-held Sequential blocks and a layer whose
    sub-layers are attributes (layers/conv_block/bn/vars). Saved by save_weights (.weights.h5)
    and model.save (.keras). The checks and the .npz hold the backbone's arrays."""
    def fx(out, rel):
        arch, model, prefix = attr_model(kind)
        if archive:
            model.save(out(rel))
        else:
            model.save_weights(out(rel))
        backbone = model.backbone
        order = legacy_order(backbone)
        bb = type("AttrBackbone", (), {"order": order, "ref_names": [l.name for l, _ in order]})
        keys = v3_keys(backbone.layers)
        checks = make_checks(bb, lambda k: order[k][0].name, lambda k, i: str(i),
                             lambda k, i: f"/{prefix}/layers/{keys[id(order[k][0])]}/vars/{i}")
        n_arrays = sum(len(ws) for _, ws in order)
        params = sum(int(np.prod(w.shape)) for _, ws in order for w in ws)
        all_params = sum(int(np.prod(w.shape)) for w in model.weights)
        # Layers with variables of their own, at any depth (each one `vars` group with arrays).
        weighted = sum(1 for l in model._flatten_layers(include_self=False, recursive=True)
                       if l._trainable_variables or l._non_trainable_variables)
        e = entry("keras3-archive" if archive else "keras3-weights", K3, arch, checks,
                  keras_version=keras.__version__ if archive else None, nested_in=backbone.name,
                  weighted_layers=weighted, arrays=len(model.weights), params=all_params,
                  backbone={"layers": len(backbone.layers), "weighted_layers": len(order),
                            "arrays": n_arrays, "params": params},
                  tracking="attributes", binding_path=prefix, kind=kind)
        if archive:
            e["archive_member"] = "model.weights.h5"
        if kind not in _ATTR_SIDE:
            _ATTR_SIDE[kind] = attr_side_files(out, kind)
        e["e2e"] = _ATTR_SIDE[kind]
        return e
    fx.__doc__ = fx_attr.__doc__
    return fx


# ----------------------------------------------------------------------------------------
# Verification: re-open each written file and compare with its entry
# ----------------------------------------------------------------------------------------

def open_h5(path, e):
    if e["layout"] == "keras3-archive":
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("metadata.json"))
            assert meta["keras_version"] == e["keras_version"], meta
            return h5py.File(io.BytesIO(z.read(e["archive_member"])), "r")
    return h5py.File(path, "r")


def file_counts(f, e):
    if e["layout"] in ("legacy-weights", "legacy-full-model"):
        root = f if "layer_names" in f.attrs or "layer_names0" in f.attrs else f["model_weights"]
        names = read_names(root, "layer_names")
        weighted = arrays = params = 0
        for n in names:
            wn = read_names(root[n], "weight_names")
            weighted += bool(wn)
            arrays += len(wn)
            params += sum(root[n][w].size for w in wn)
        return {"layer_names_count": len(names), "weighted_layers": weighted,
                "arrays": arrays, "params": params}
    groups = []
    # An attribute-tracked file has layers anywhere in the tree, beside an optimizer/ group.
    top = f if e.get("tracking") == "attributes" else f["layers"]
    top.visititems(lambda p, o: groups.append(o)
                   if isinstance(o, h5py.Group) and p.split("/")[-1] == "vars"
                   and not p.startswith("optimizer/") else None)
    ds = [d for g in groups for d in g.values() if isinstance(d, h5py.Dataset)]
    return {"layer_names_count": None,
            "weighted_layers": sum(any(isinstance(d, h5py.Dataset) for d in g.values())
                                   for g in groups),
            "arrays": len(ds), "params": sum(d.size for d in ds)}


def verify(path, e):
    problems = []
    with open_h5(path, e) as f:
        got = file_counts(f, e)
        for key, value in got.items():
            if value != e[key]:
                problems.append(f"{key}: file {value} != expected {e[key]}")
        for c in e["checks"]:
            a = f[c["file_path"]][()]
            if list(a.shape) != c["shape"] or not np.isclose(
                    np.sum(a, dtype=np.float64), c["sum"], rtol=1e-9, atol=1e-9):
                problems.append(f"check {c['file_path']} differs")
            if e["layout"].startswith("keras3"):
                vars_name = f[c["file_path"]].parent.attrs.get("name")
                if vars_name != c["keras_layer"]:
                    problems.append(f"{c['file_path']}: vars name {vars_name!r}")
        if e.get("tracking") == "attributes":
            problems += verify_attr_reload(path, e)
        if "head" in e and "file_path" in e["head"]:
            if not np.isclose(f[e["head"]["file_path"]][()].sum(dtype=np.float64),
                              e["head"]["sum"], rtol=1e-9):
                problems.append("head differs")
    return problems


def verify_attr_reload(path, e):
    """Keras itself loads the attribute-tracked file into a fresh model of the same class and
    gets every value back."""
    _, saved, _ = attr_model(e["kind"])
    fresh = AttrClassifier() if e["kind"] == "subclassed" else AttrTagger()
    size = ATTR_SIZES[e["architecture"]]
    fresh(np.zeros((1, size, size, 3), np.float32))
    fresh.load_weights(path)
    differ = [w.path for w, v in zip(fresh.weights, saved.weights)
              if not np.array_equal(to_numpy(w), to_numpy(v))]
    return [f"Keras reloads {len(differ)} arrays differently: {differ[:3]}"] if differ else []


def verify_error(path, e):
    """The error fixtures must really fail (or really mismatch) the way the entry says."""
    d, kind = e["error_detail"], e["error"]
    if kind in ("not-hdf5", "empty-file"):
        return [] if not h5py.is_hdf5(path) else ["h5py accepts it"]
    if kind == "truncated":
        return [] if h5_failure(path) else ["h5py reads it"]
    with h5py.File(path, "r") as f:
        if kind == "unknown-layout":
            bad = [m for m in ("layer_names", "layer_names0") if m in f.attrs]
            bad += [m for m in ("model_weights", "layers", "vars") if m in f]
            return [f"marker {m}" for m in bad]
        names = read_names(f, "layer_names")
        weighted = [n for n in names if read_names(f[n], "weight_names")]
        if kind == "layer-count-mismatch":
            return [] if len(weighted) == d["actual"] else ["count"]
        ds = f[weighted[d["layer_index"]]][d["array"]]
        if kind == "shape-mismatch":
            return [] if list(ds.shape) == d["actual_shape"] else ["shape"]
        return [] if ds.dtype == np.dtype(d["dtype"]) else ["dtype"]


# ----------------------------------------------------------------------------------------
# Reference outputs: Keras forward passes the Swift backbones must reproduce
# ----------------------------------------------------------------------------------------

REF_BATCH = 2


def write_f32(path, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(path)


def make_references(out):
    """reference/*.f32: raw little-endian float32, C order (NHWC). The model is the SAME
    seeded backbone as fixture 1 (legacy/mobilenet_v2_0.35_96_k3.h5); the input is
    REF_BATCH seeded images in [-1, 1]. Returns the "references" entry of expectations.json."""
    bb = Backbone(MNV2, "k3")
    rng = np.random.default_rng(seed_of("reference input"))
    images = rng.uniform(-1.0, 1.0, size=(REF_BATCH, 96, 96, 3)).astype(np.float32)
    stem = "reference/mobilenet_v2_0.35_96"
    write_f32(out(f"{stem}_input.f32"), images)
    refs = {f"{stem}_input.f32": {"shape": list(images.shape), "role": "input"}}
    features = bb.model.predict(images, batch_size=REF_BATCH, verbose=0)
    write_f32(out(f"{stem}_output.f32"), features)
    refs[f"{stem}_output.f32"] = {
        "shape": list(features.shape), "role": "output", "architecture": MNV2,
        "weights": "legacy/mobilenet_v2_0.35_96_k3.h5", "input": f"{stem}_input.f32",
        "pooling": None, "max_abs": float(np.abs(features).max())}
    pooled_model = keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(96, 96, 3), include_top=False, weights=None, pooling="avg")
    pooled_model.set_weights(bb.model.get_weights())
    pooled = pooled_model.predict(images, batch_size=REF_BATCH, verbose=0)
    write_f32(out(f"{stem}_avg.f32"), pooled)
    refs[f"{stem}_avg.f32"] = {
        "shape": list(pooled.shape), "role": "output", "architecture": MNV2,
        "weights": "legacy/mobilenet_v2_0.35_96_k3.h5", "input": f"{stem}_input.f32",
        "pooling": "avg", "max_abs": float(np.abs(pooled).max())}
    for rel, e in refs.items():
        print(f"{rel:45s} {os.path.getsize(out(rel)):>12,d} bytes  shape {e['shape']}",
              flush=True)
    return refs


def _all_layers(model):
    """model.layers and, depth first, the layers of nested models (ConvNeXt's Sequential stem
    and downsampling blocks)."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _scale_conv_kernels(model, gain):
    """Rescales every Conv2D/DepthwiseConv2D/Dense kernel from randomize()'s 0.1 std to
    std gain/sqrt(fan_in), so activations stay O(1) through deep stacks and the comparison
    is not decided by saturated ReLU6s or exploding residual sums. A SeparableConv2D gets
    gain 1 on its depthwise half (fan_in KH*KW) and `gain` on its pointwise half (fan_in C*M).
    A grouped Conv2D's fan_in is KH*KW*C/groups (its kernel's first three axes); a Dense's is
    its input width (ConvNeXt's per-pixel pointwise layers)."""
    def scale(variable, fan_in, g):
        k = to_numpy(variable)
        variable.assign((k * np.float32(g / np.sqrt(fan_in) / 0.1)).astype(np.float32))

    for layer in _all_layers(model):
        # By class name: tf-keras layers (the keras-applications ResNet50 v0.2) count too.
        kind = type(layer).__name__
        if kind == "Dense":
            scale(layer.kernel, layer.kernel.shape[0], gain)
        elif kind in ("Conv2D", "DepthwiseConv2D"):
            k = layer.kernel.shape
            scale(layer.kernel, k[0] * k[1] * (1 if kind == "DepthwiseConv2D" else k[2]), gain)
        elif kind == "SeparableConv2D":
            k = layer.depthwise_kernel.shape
            scale(layer.depthwise_kernel, k[0] * k[1], 1.0)
            scale(layer.pointwise_kernel, layer.pointwise_kernel.shape[2], gain)


def _refresh_state(model):
    """Normalization caches its mean/variance as tensors when built; Keras' weight loaders call
    finalize_state() after assigning, randomize()/set_weights do not (EfficientNet would
    otherwise run with mean 0, variance 1 while its file holds the random values)."""
    for layer in model.layers:
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()


def _as_imagenet(build):
    """EfficientNet adds Rescaling(1/sqrt(std)) after its Normalization only when
    weights="imagenet", and the Swift graph mirrors that model (it serves the published files).
    Build it that way offline: while the model is constructed, get_file and load_weights are
    stubbed; the caller fills in the weights."""
    from keras.src.applications import efficientnet

    def wrapped(p, s):
        with mock.patch.object(efficientnet.file_utils, "get_file", return_value="unused.h5"), \
                mock.patch.object(keras.Model, "load_weights", lambda self, *a, **k: None):
            return build(p, s)
    return wrapped


A = keras.applications

# Builders by catalog id: include_top=False, weights=None, the given pooling and square input
# side; and the kernel gain: He gain for plain ReLU stacks; 1 for residual nets, whose sums grow
# block after block, and for the MobileNets, whose ReLU6 would otherwise saturate at 224
# (measured: MobileNetV2 1.0 with gain sqrt 2 reaches |x| 32 before out_relu, 10% of it
# clipped at 6; with gain 1 it stays below 2.5). Measured at 97 (IRV2 139) with the gains below,
# output max|x| / rms: InceptionV3 3.5 / 0.53; Xception 8 / 1.0 (its 8 identity-residual
# middle blocks reach 2000 at gain sqrt 2); InceptionResNetV2 1.3 / 0.26 (48 / 8 at sqrt 2);
# DenseNet121 16 / 2.4 (0.9 / 0.17 at gain 1, the signal fading block after block);
# NASNetMobile 6 / 0.67 (940 / 117 at sqrt 2: the cells' concatenations and adds compound).
BACKBONE_BUILDERS = {
    "ResNet50": (lambda p, s: A.ResNet50(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "ResNet50V2": (lambda p, s: A.ResNet50V2(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNet_0.5": (lambda p, s: A.MobileNet(
        alpha=0.5, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNet_1.0": (lambda p, s: A.MobileNet(
        alpha=1.0, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNetV2_0.35": (lambda p, s: A.MobileNetV2(
        alpha=0.35, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNetV2_1.0": (lambda p, s: A.MobileNetV2(
        alpha=1.0, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    # keras-applications 1.0.8 on tf-keras, as the catalog builds it.
    "ResNet50_v0.2": (lambda p, s: __import__("keras_applications.resnet50").resnet50.ResNet50(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p,
        backend=tf_keras.backend, layers=tf_keras.layers, models=tf_keras.models,
        utils=tf_keras.utils), 1.0),
    "VGG16": (lambda p, s: A.VGG16(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), np.sqrt(2.0)),
    "MobileNetV3Small": (lambda p, s: A.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNetV3Small_0.75": (lambda p, s: A.MobileNetV3Small(
        alpha=0.75, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNetV3Small_minimalistic": (lambda p, s: A.MobileNetV3Small(
        minimalistic=True, include_top=False, weights=None, input_shape=(s, s, 3),
        pooling=p), 1.0),
    "MobileNetV3Large": (lambda p, s: A.MobileNetV3Large(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNetV3Large_minimalistic": (lambda p, s: A.MobileNetV3Large(
        minimalistic=True, include_top=False, weights=None, input_shape=(s, s, 3),
        pooling=p), 1.0),
    "EfficientNetB0": (_as_imagenet(lambda p, s: A.EfficientNetB0(
        include_top=False, weights="imagenet", input_shape=(s, s, 3), pooling=p)), 1.0),
    "EfficientNetB3": (_as_imagenet(lambda p, s: A.EfficientNetB3(
        include_top=False, weights="imagenet", input_shape=(s, s, 3), pooling=p)), 1.0),
    # EfficientNetV2's graph does not depend on `weights` (its Normalization has constant
    # ImageNet statistics, no weights), so weights=None builds the published model.
    "EfficientNetV2B0": (lambda p, s: A.EfficientNetV2B0(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "EfficientNetV2B1": (lambda p, s: A.EfficientNetV2B1(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "EfficientNetV2B2": (lambda p, s: A.EfficientNetV2B2(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "EfficientNetV2B3": (lambda p, s: A.EfficientNetV2B3(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "EfficientNetV2S": (lambda p, s: A.EfficientNetV2S(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "InceptionV3": (lambda p, s: A.InceptionV3(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), np.sqrt(2.0)),
    "Xception": (lambda p, s: A.Xception(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "InceptionResNetV2": (lambda p, s: A.InceptionResNetV2(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "DenseNet121": (lambda p, s: A.DenseNet121(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), np.sqrt(2.0)),
    # Variants whose code paths differ from the seed models only in depth, width or rounding
    # (VGG19's fourth convs, alpha 0.25 and 1.4's _make_divisible and 1792-wide last layer,
    # MobileNetV3Large at alpha 0.75, EfficientNetB2's round_filters/round_repeats, DenseNet169's
    # block counts).
    "VGG19": (lambda p, s: A.VGG19(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), np.sqrt(2.0)),
    "MobileNet_0.25": (lambda p, s: A.MobileNet(
        alpha=0.25, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNetV2_1.4": (lambda p, s: A.MobileNetV2(
        alpha=1.4, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "MobileNetV3Large_0.75": (lambda p, s: A.MobileNetV3Large(
        alpha=0.75, include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "EfficientNetB2": (_as_imagenet(lambda p, s: A.EfficientNetB2(
        include_top=False, weights="imagenet", input_shape=(s, s, 3), pooling=p)), 1.0),
    "DenseNet169": (lambda p, s: A.DenseNet169(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), np.sqrt(2.0)),
    # include_preprocessing=True (the default): the constant ImageNet Normalization is inside.
    "ConvNeXtTiny": (lambda p, s: A.ConvNeXtTiny(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "ConvNeXtSmall": (lambda p, s: A.ConvNeXtSmall(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
    "NASNetMobile": (lambda p, s: A.NASNetMobile(
        include_top=False, weights=None, input_shape=(s, s, 3), pooling=p), 1.0),
}

# Models that preprocess inside (MobileNetV3: Rescaling(1/127.5, -1); EfficientNet and
# EfficientNetV2B*: Rescaling(1/255) + Normalization; EfficientNetV2S: Rescaling(1/128, -1);
# ConvNeXt: Normalization with the ImageNet mean and variance in pixel units) take pixels: they
# get the same images mapped to [0, 255], or their input would be nearly constant after the
# in-model scaling.
PIXEL_INPUT = {"MobileNetV3Small", "MobileNetV3Small_0.75", "MobileNetV3Small_minimalistic",
               "MobileNetV3Large", "MobileNetV3Large_minimalistic", "EfficientNetB0",
               "EfficientNetB3", "MobileNetV3Large_0.75", "EfficientNetB2",
               "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
               "EfficientNetV2S", "ConvNeXtTiny", "ConvNeXtSmall"}

# (catalog id, input side): every family at an odd size (97 exercises the asymmetric stride-2
# windows and paddings), every family also at its default size. InceptionResNetV2's odd size is
# 139, odd at every stage, so its last stage is 3×3, not 1×1 as at 97, and block8's 1×3 and 3×1
# "same" convolutions see padding. NASNetLarge is checked for structure only (skeleton): one
# reference costs a minute of model building for little the NASNetMobile ones do not cover.
BACKBONE_REFERENCES = [
    ("ResNet50", 97), ("ResNet50", 224),
    ("ResNet50V2", 97), ("ResNet50V2", 224),
    ("ResNet50_v0.2", 97), ("ResNet50_v0.2", 224),
    ("MobileNet_0.5", 97), ("MobileNet_1.0", 224),
    ("MobileNetV2_0.35", 97), ("MobileNetV2_1.0", 224),
    ("VGG16", 97), ("VGG16", 224),
    ("MobileNetV3Small", 97), ("MobileNetV3Small_0.75", 97),
    ("MobileNetV3Small_minimalistic", 97),
    ("MobileNetV3Large", 97), ("MobileNetV3Large", 224), ("MobileNetV3Large_minimalistic", 97),
    ("EfficientNetB0", 97), ("EfficientNetB0", 224), ("EfficientNetB3", 97),
    # EfficientNetV2: B0 (MBConv, Fused with expansion, the B preprocessing) and S (Fused
    # without expansion, residual around it, Rescaling(1/128, -1)). B1-B3 add only widths and
    # depths, checked at 97 once (worst 9.5e-7) but left out: ~40 s each to generate. M and L:
    # structure only (BackboneRegistryTests, EfficientNetV2Tests).
    ("EfficientNetV2B0", 97), ("EfficientNetV2B0", 224), ("EfficientNetV2S", 97),
    ("InceptionV3", 97), ("InceptionV3", 299),
    ("Xception", 97), ("Xception", 299),
    ("InceptionResNetV2", 139), ("InceptionResNetV2", 299),
    ("DenseNet121", 97), ("DenseNet121", 224),
    ("VGG19", 97), ("MobileNet_0.25", 97), ("MobileNetV2_1.4", 97),
    ("MobileNetV3Large_0.75", 97), ("EfficientNetB2", 97), ("DenseNet169", 97),
    ("ConvNeXtTiny", 97), ("ConvNeXtTiny", 224), ("ConvNeXtSmall", 97),
    ("NASNetMobile", 97), ("NASNetMobile", 224),
]

# include_top=True models by catalog `_top` id (the published top files' layout), built with
# weights=None at a small size where Keras allows it (VGG's fc1 then has (H/32)·(W/32)·512 rows,
# not the catalog's 25088: the reference records that shape), and the conv kernel gain as above.
# EfficientNet needs weights="imagenet" for its third preprocessing layer, and Keras then builds
# the top only at the default 224.
TOP_BUILDERS = {
    "ResNet50_top": (lambda p, s: A.ResNet50(
        include_top=True, weights=None, input_shape=(s, s, 3)), 1.0),
    "VGG16_top": (lambda p, s: A.VGG16(
        include_top=True, weights=None, input_shape=(s, s, 3)), np.sqrt(2.0)),
    "MobileNet_1.0_top": (lambda p, s: A.MobileNet(
        alpha=1.0, include_top=True, weights=None, input_shape=(s, s, 3)), 1.0),
    "MobileNetV2_1.0_top": (lambda p, s: A.MobileNetV2(
        alpha=1.0, include_top=True, weights=None, input_shape=(s, s, 3)), 1.0),
    "EfficientNetB0_top": (_as_imagenet(lambda p, s: A.EfficientNetB0(
        include_top=True, weights="imagenet", input_shape=(s, s, 3))), 1.0),
    "DenseNet121_top": (lambda p, s: A.DenseNet121(
        include_top=True, weights=None, input_shape=(s, s, 3)), np.sqrt(2.0)),
}
BACKBONE_BUILDERS.update(TOP_BUILDERS)
PIXEL_INPUT.add("EfficientNetB0_top")

# (catalog id, input side) of the classifiers: probabilities, pooling None. MobileNetV2 also at
# 224, the weights of the end-to-end `--include-top` case (make_feature_references.py). The
# InceptionV3 and Xception heads are ResNet's (avg_pool + predictions) on backbones checked above.
TOP_REFERENCES = [
    ("ResNet50_top", 97), ("VGG16_top", 97), ("MobileNet_1.0_top", 97),
    ("MobileNetV2_1.0_top", 97), ("MobileNetV2_1.0_top", 224), ("EfficientNetB0_top", 224),
    ("DenseNet121_top", 97),
]
BACKBONE_REFERENCES += TOP_REFERENCES

# The spread of the random classifiers' logits (std over classes and images). Left as they come,
# they can be so narrow that every probability is ~1/1000 (an error hides under 1e-4 of the
# largest) or so wide that one class takes everything. At std 2 the largest probabilities are
# 0.05-0.34 and the rest spread over six decades (measured); dropping the classifier's bias
# (std 0.1) moves them by 5-25% of the largest, which BackboneParityTests checks is caught.
TOP_LOGIT_STD = 2.0


def _scale_classifier(model, images):
    """For include_top models: He-scales VGG's hidden Dense layers (fc1, fc2: ReLU) like the
    convolutions, then scales the classifier's kernel (Dense `predictions`, or the 1×1
    `conv_preds` of MobileNet) so that its logits on `images` have std TOP_LOGIT_STD."""
    weighted = [l for l in model.layers if legacy_weights(l)]
    classifier = weighted[-1]
    for layer in weighted[:-1]:
        if type(layer).__name__ == "Dense":
            k = layer.kernel
            gain = np.float32(np.sqrt(2.0) / np.sqrt(k.shape[0]) / 0.1)
            k.assign((to_numpy(k) * gain).astype(np.float32))
    _refresh_state(model)
    features = keras.Model(model.input, classifier.input).predict(
        images, batch_size=REF_BATCH, verbose=0)
    kernel = to_numpy(classifier.kernel)
    logits = features.reshape(len(images), -1) @ kernel.reshape(-1, kernel.shape[-1])
    gain = TOP_LOGIT_STD / float(logits.std())
    classifier.kernel.assign((kernel * np.float32(gain)).astype(np.float32))


def catalog_shapes():
    """{arch id: {array path: shape}} of the catalog (ArchitectureData.swift)."""
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "Sources/WeightLoader/Generated/ArchitectureData.swift")
    shapes = {}
    for m in re.finditer(r'^\s*"([^"]+)": #"(.*)"#,?$', open(data).read(), re.M):
        arch = json.loads(m.group(2))
        shapes[m.group(1)] = {path: shape for _, _, arrays in arch["layers"]
                              for path, shape, _ in arrays}
    return shapes


# (catalog id, input side, layer): `Model(model.input, model.get_layer(layer).output)` of the
# same weights, the features "from this block" (`extract --layer`).
BACKBONE_LAYER_REFERENCES = [
    ("ResNet50", 97, "conv3_block4_out"),
    ("VGG16", 224, "block4_pool"),
    ("MobileNetV2_1.0", 224, "block_13_expand_relu"),
]


def make_backbone_references(out):
    """reference/<id>_<size>*: for each BACKBONE_REFERENCES entry, seeded random weights and BN
    statistics in the legacy layout (.h5, what the Swift test binds), the feature map and the
    pooling="avg" and "max" outputs for REF_BATCH seeded images in [-1, 1] of that size
    (reference/backbones_<size>_input.f32, shared by every model of the size), raw float32
    like make_references. Returns the entries to add to "references" in expectations.json;
    Tests/BackbonesTests/BackboneParityTests.swift checks every one of them. The TOP_REFERENCES
    (`_top` ids) give only the include_top=True probabilities, with their size-dependent shapes."""
    refs = {}
    catalog = catalog_shapes()
    for arch, size in BACKBONE_REFERENCES:
        input_rel = f"reference/backbones_{size}_input.f32"
        if input_rel not in refs:
            rng = np.random.default_rng(seed_of(f"backbone reference input {size}"))
            images = rng.uniform(-1.0, 1.0, size=(REF_BATCH, size, size, 3)).astype(np.float32)
            write_f32(out(input_rel), images)
            refs[input_rel] = {"shape": list(images.shape), "role": "input"}
        images = np.fromfile(out(input_rel), dtype="<f4").reshape(refs[input_rel]["shape"])
        if arch in PIXEL_INPUT:
            input_rel = f"reference/backbones_{size}_pixels_input.f32"
            if input_rel not in refs:
                write_f32(out(input_rel), (images + np.float32(1)) * np.float32(127.5))
                refs[input_rel] = {"shape": list(images.shape), "role": "input"}
            images = np.fromfile(out(input_rel), dtype="<f4").reshape(images.shape)
        build, gain = BACKBONE_BUILDERS[arch]
        keras.backend.clear_session()
        tf_keras.backend.clear_session()
        keras.utils.set_random_seed(seed_of(arch))
        model = build(None, size)
        randomize(legacy_order(model), seed_of(f"{arch} reference"))
        _scale_conv_kernels(model, gain)
        top = arch in TOP_BUILDERS
        if top:
            _scale_classifier(model, images)
        stem = f"reference/{arch.lower()}_{size}"
        weights_rel = f"{stem}.h5"
        if isinstance(model, tf_keras.Model):
            model.save_weights(out(weights_rel))  # tf-keras writes the legacy layout for .h5
        else:
            with h5py.File(out(weights_rel), "w") as f:
                legacy_h5_format.save_weights_to_hdf5_group(f, model)
        # The arrays whose shape depends on the input size and so differs from the catalog's
        # (VGG16_top's fc1 below 224): the Swift test binds with these.
        shapes = {w.path: list(w.shape) for _, ws in legacy_order(model) for w in ws
                  if list(w.shape) != catalog[arch][w.path]} if top else {}
        poolings = ((None, "output"), ("avg", "avg"), ("max", "max"))
        for pooling, suffix in poolings[:1] if top else poolings:
            m = model
            if pooling is not None:
                m = build(pooling, size)
                m.set_weights(model.get_weights())
            _refresh_state(m)
            y = m.predict(images, batch_size=REF_BATCH, verbose=0)
            rel = f"{stem}_{suffix}.f32"
            write_f32(out(rel), y)
            refs[rel] = {"shape": list(y.shape), "role": "output", "architecture": arch,
                         "size": size, "weights": weights_rel, "input": input_rel,
                         "pooling": pooling, "max_abs": float(np.abs(y).max())}
            if top:
                refs[rel]["shapes"] = shapes
                top6 = np.sort(y, 1)[:, ::-1][:, :6]
                print(f"{arch} {size}: probabilities max {y.max():.4f} min {y.min():.2e}, "
                      f"smallest top-6 gap {(-np.diff(top6, axis=1)).min():.2e}", flush=True)
        for layer in [l for a, s, l in BACKBONE_LAYER_REFERENCES if (a, s) == (arch, size)]:
            sub = keras.Model(model.input, model.get_layer(layer).output)
            y = sub.predict(images, batch_size=REF_BATCH, verbose=0)
            rel = f"{stem}_layer_{layer}.f32"
            write_f32(out(rel), y)
            refs[rel] = {"shape": list(y.shape), "role": "output", "architecture": arch,
                         "size": size, "weights": weights_rel, "input": input_rel,
                         "pooling": None, "layer": layer, "max_abs": float(np.abs(y).max())}
    for rel, e in refs.items():
        print(f"{rel:45s} {os.path.getsize(out(rel)):>12,d} bytes  shape {e['shape']}",
              flush=True)
    return refs


# ----------------------------------------------------------------------------------------

def main(outdir):
    t0 = time.time()
    os.makedirs(outdir, exist_ok=True)
    for sub in ("legacy", "full", "v3", "attr", "bad", "inputs", "reference"):
        shutil.rmtree(os.path.join(outdir, sub), ignore_errors=True)
        os.makedirs(os.path.join(outdir, sub))

    def out(rel):
        return os.path.join(outdir, rel)

    fixtures = {}

    def run(rel, fx):
        t = time.time()
        e = fx(out, rel)
        fixtures[rel] = e
        print(f"{rel:45s} {os.path.getsize(out(rel)):>12,d} bytes  ({time.time() - t:5.1f}s)",
              flush=True)
        return e

    src = "legacy/mobilenet_v2_0.35_96_k3.h5"
    e1 = run(src, fx_legacy_k3)
    run("legacy/mobilenet_v2_0.35_96_tfkeras.h5", fx_legacy_tfkeras(MNV2))
    run("legacy/resnet50_tfkeras.h5", fx_legacy_tfkeras("ResNet50"))
    run("legacy/vgg16_keras1.h5", fx_vgg16_keras1)
    run("legacy/xception_keras1_autonames.h5", fx_xception_keras1)
    run("legacy/densenet121_slash_tfkeras.h5", fx_legacy_tfkeras("DenseNet121"))
    run("legacy/mobilenet_v3_small_tfkeras.h5", fx_legacy_tfkeras("MobileNetV3Small"))
    run("legacy/chunked_attrs.h5", fx_chunked_attrs(src, e1))
    run("legacy/efficientnetb0_tfkeras.h5", fx_legacy_tfkeras("EfficientNetB0"))
    run("legacy/inception_v3_tfkeras.h5", fx_legacy_tfkeras("InceptionV3"))
    run("full/mobilenet_v2_0.35_96_k3_full.h5", fx_full_k3)
    run("full/nested_unfrozen_k3.h5", fx_nested_k3(frozen=False))
    run("full/nested_frozen_k3.h5", fx_nested_k3(frozen=True))
    run("full/nested_tfkeras.h5", fx_nested_tfkeras(frozen=False))
    run("full/nested_frozen_tfkeras.h5", fx_nested_tfkeras(frozen=True))
    run("v3/mobilenet_v2_0.35_96.weights.h5", fx_v3_plain)
    run("v3/nested.weights.h5", fx_v3_nested_weights)
    run("v3/nested.keras", fx_v3_nested_archive)
    run("attr/subclassed.weights.h5", fx_attr("subclassed", archive=False))
    run("attr/subclassed.keras", fx_attr("subclassed", archive=True))
    run("attr/functional_blocks.weights.h5", fx_attr("functional", archive=False))
    run("attr/functional_blocks.keras", fx_attr("functional", archive=True))
    run("bad/not_hdf5.h5", fx_not_hdf5)
    run("bad/empty.h5", fx_empty)
    run("bad/truncated.h5", fx_truncated(src))
    run("bad/unknown_layout.h5", fx_unknown_layout)
    run("bad/layer_count.h5", fx_layer_count(src, e1))
    run("bad/shape_mismatch.h5", fx_shape_mismatch(src, e1))
    run("bad/unsupported_dtype.h5", fx_unsupported_dtype(src, e1))
    run("legacy/float64_mobilenet_v2.h5", fx_float64(src, e1))

    references = make_references(out)
    references.update(make_backbone_references(out))

    for e in fixtures.values():
        for k in [k for k in e if k.startswith("_")]:
            del e[k]

    failures = []
    for rel, e in fixtures.items():
        problems = verify_error(out(rel), e) if e["layout"] == "error" else verify(out(rel), e)
        failures += [f"{rel}: {p}" for p in problems]

    doc = {
        "conventions": {
            "checks": "layer_index/array_index are positions in the architecture's legacy order "
                      "(model.layers with weights; trainable+non_trainable arrays of the fresh "
                      "backbone). keras_layer = Keras 3 layer name; file_layer/file_array/"
                      "file_path = where that array is stored in this file (file_path inside "
                      "archive_member for .keras).",
            "counts": "layer_names_count/weighted_layers/arrays/params describe the whole file "
                      "(legacy: layer_names entries and groups with non-empty weight_names, so "
                      "a nested backbone counts as ONE weighted layer; keras3: vars groups with "
                      "datasets). 'backbone' gives the same numbers for the backbone alone.",
            "values": "all weights and BN statistics are seeded random; the same architecture "
                      "gets the same values in every fixture and in both frameworks.",
            "errors": "error fixtures carry architecture MobileNetV2_0.35 so a test can load "
                      "them like fixture 1.",
        },
        "generator": {"keras": keras.__version__, "tf_keras": tf_keras.__version__,
                      "tensorflow": tf.__version__, "h5py": h5py.__version__,
                      "numpy": np.__version__},
        "fixtures": fixtures,
        "references": references,
    }
    with open(out("expectations.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"{'expectations.json':45s} {os.path.getsize(out('expectations.json')):>12,d} bytes")
    print(f"{len(fixtures)} fixtures in {time.time() - t0:.1f}s")
    if failures:
        print("VERIFICATION FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    main(sys.argv[1])
