#!/usr/bin/env python3
"""Generate the architecture catalog and the weights manifest from Keras itself.

Writes (paths relative to the package root):
  Sources/WeightLoader/Generated/ArchitectureData.swift
      per architecture: its weighted layers in `model.layers` order, each with its arrays
      (path, shape, dtype) in legacy order, i.e. what Keras' legacy h5 loader zips a
      published weight file against (keras/src/legacy/saving/legacy_h5_format.py).
  weights-manifest.json
      one entry per published weight file: URL, cache name and hash as the installed Keras
      sources give them, plus sizes, preprocessing and counts of the architecture it fits.
  Sources/WeightLoader/Generated/WeightsManifestData.swift
      weights-manifest.json embedded verbatim.

Usage (from the package root):
  .venv/bin/python scripts/gen_catalog.py                 # regenerate everything
  .venv/bin/python scripts/gen_catalog.py --only VGG16,ResNet50_top
                                                          # rebuild these ids, keep the rest
  .venv/bin/python scripts/gen_catalog.py --check [--only ...]
                                                          # exit 1 if the files are stale

Python and Keras are used only here, to produce data; the Swift package never runs them.
Every model is built with weights=None (random init, nothing downloaded). URLs and hashes are
captured by calling each application with weights="imagenet" while `get_file` is replaced by
a stub that records its arguments and aborts the build, so no file is ever downloaded either.
"""

import os

# Must be set before TensorFlow / Keras are imported.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import argparse
import collections
import contextlib
import gc
import importlib
import inspect
import json
import re
import sys
import time
import types
import urllib.parse
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ARCH_SWIFT = ROOT / "Sources/WeightLoader/Generated/ArchitectureData.swift"
MANIFEST_JSON = ROOT / "weights-manifest.json"
MANIFEST_SWIFT = ROOT / "Sources/WeightLoader/Generated/WeightsManifestData.swift"

# --------------------------------------------------------------------------------------------
# Architectures: id -> (builder, kwargs). `include_top=False` and `weights=None` are added by
# `build_kwargs`. A builder is a `keras.applications` function name, or a dotted
# `keras_applications.<module>.<function>` (keras-applications 1.0.8 on tf-keras).
# --------------------------------------------------------------------------------------------
S224 = (224, 224, 3)
TOP = {"include_top": True}

MOBILENET_ALPHAS = (1.0, 0.75, 0.5, 0.25)
MOBILENET_ROWS = (128, 160, 192, 224)
MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
MOBILENET_V2_ROWS = (96, 128, 160, 192, 224)

ARCHITECTURES = [
    ("ResNet50", "ResNet50", {}),
    ("ResNet101", "ResNet101", {}),
    ("ResNet152", "ResNet152", {}),
    ("ResNet50V2", "ResNet50V2", {}),
    ("ResNet101V2", "ResNet101V2", {}),
    ("ResNet152V2", "ResNet152V2", {}),
    ("VGG16", "VGG16", {}),
    ("VGG19", "VGG19", {}),
    ("InceptionV3", "InceptionV3", {}),
    ("InceptionResNetV2", "InceptionResNetV2", {}),
    ("Xception", "Xception", {}),
    ("DenseNet121", "DenseNet121", {}),
    ("DenseNet169", "DenseNet169", {}),
    ("DenseNet201", "DenseNet201", {}),
    # MobileNet v1/v2 need a static input; the weight shapes do not depend on the rows, so
    # one architecture per alpha (built at 224) serves every rows file of that alpha.
    *[(f"MobileNet_{a}", "MobileNet", {"alpha": a, "input_shape": S224}) for a in MOBILENET_ALPHAS],
    *[(f"MobileNetV2_{a}", "MobileNetV2", {"alpha": a, "input_shape": S224})
      for a in MOBILENET_V2_ALPHAS],
    ("MobileNetV3Small", "MobileNetV3Small", {}),
    ("MobileNetV3Small_0.75", "MobileNetV3Small", {"alpha": 0.75}),
    ("MobileNetV3Small_minimalistic", "MobileNetV3Small", {"minimalistic": True}),
    ("MobileNetV3Large", "MobileNetV3Large", {}),
    ("MobileNetV3Large_0.75", "MobileNetV3Large", {"alpha": 0.75}),
    ("MobileNetV3Large_minimalistic", "MobileNetV3Large", {"minimalistic": True}),
    # NASNet's graph depends on the static input shape (`_adjust_block` compares spatial
    # sizes): the published notop files match the static-shape builds (388 / 532 weighted
    # layers); NASNetLarge at (None, None, 3) would have 526.
    ("NASNetMobile", "NASNetMobile", {"input_shape": S224}),
    ("NASNetLarge", "NASNetLarge", {"input_shape": (331, 331, 3)}),
    *[(f"EfficientNetB{i}", f"EfficientNetB{i}", {}) for i in range(8)],
    *[(f"EfficientNetV2{v}", f"EfficientNetV2{v}", {})
      for v in ("B0", "B1", "B2", "B3", "S", "M", "L")],
    *[(f"ConvNeXt{v}", f"ConvNeXt{v}", {}) for v in ("Tiny", "Small", "Base", "Large", "XLarge")],
    # The old fchollet ResNet50 (release v0.2): conv1, bn_conv1, res2a_branch2a, ...,
    # BatchNormalization with the default epsilon 1e-3, convolutions with bias.
    ("ResNet50_v0.2", "keras_applications.resnet50.ResNet50", {}),
    # include_top variants of the seed models, at their default input size.
    ("ResNet50_top", "ResNet50", TOP),
    ("VGG16_top", "VGG16", TOP),
    ("MobileNet_1.0_top", "MobileNet", {**TOP, "alpha": 1.0}),
    ("MobileNetV2_1.0_top", "MobileNetV2", {**TOP, "alpha": 1.0}),
    ("InceptionV3_top", "InceptionV3", TOP),
    ("Xception_top", "Xception", TOP),
    ("DenseNet121_top", "DenseNet121", TOP),
    ("EfficientNetB0_top", "EfficientNetB0", TOP),
]
ARCH_BY_ID = {a: (fn, kw) for a, fn, kw in ARCHITECTURES}
assert len(ARCH_BY_ID) == len(ARCHITECTURES), "duplicate architecture id"

# MobileNetV3 does not call imagenet_utils.obtain_input_shape, so its sizes cannot be
# recorded: mobilenet_v3.py raises for inputs below 32x32 ("Input size must be at least
# 32x32") and its weights exist only for 224 (the "_224_" in the file names).
SIZES_WITHOUT_OBTAIN_INPUT_SHAPE = {"MobileNetV3Small": (224, 32), "MobileNetV3Large": (224, 32)}


def build_kwargs(arch_id):
    """(builder, kwargs) without `weights`, which every caller sets explicitly."""
    fn, kw = ARCH_BY_ID[arch_id]
    return fn, {"include_top": False, **kw}


# --------------------------------------------------------------------------------------------
# Published weight files, in manifest order: the 88 include_top=False files Keras 3 can
# download (family order of keras/src/applications), then the old fchollet ResNet50 notop
# file, then the include_top files of the seed models.
# --------------------------------------------------------------------------------------------
def weight_files():
    files = []

    def add(file_id, arch, rows=None, notes=""):
        files.append({"id": file_id, "arch": arch, "rows": rows, "notes": notes})

    for a in ("ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2",
              "VGG16", "VGG19", "InceptionV3", "InceptionResNetV2", "Xception"):
        add(f"{a.lower()}_notop", a, notes=NOTES.get(a, ""))
    for a in MOBILENET_ALPHAS:
        for r in MOBILENET_ROWS:
            add(f"mobilenet_{a}_{r}_notop", f"MobileNet_{a}", rows=r, notes=NOTES["MobileNet"])
    for a in MOBILENET_V2_ALPHAS:
        for r in MOBILENET_V2_ROWS:
            add(f"mobilenet_v2_{a}_{r}_notop", f"MobileNetV2_{a}", rows=r,
                notes=NOTES["MobileNetV2"])
    for size in ("Small", "Large"):
        for suffix in ("", "_0.75", "_minimalistic"):
            add(f"mobilenet_v3_{size.lower()}{suffix}_notop", f"MobileNetV3{size}{suffix}",
                notes=NOTES["MobileNetV3"])
    for a in ("DenseNet121", "DenseNet169", "DenseNet201", "NASNetMobile", "NASNetLarge"):
        add(f"{a.lower()}_notop", a, notes=NOTES.get(a, ""))
    for i in range(8):
        add(f"efficientnetb{i}_notop", f"EfficientNetB{i}", notes=NOTES["EfficientNet"])
    for v in ("B0", "B1", "B2", "B3", "S", "M", "L"):
        add(f"efficientnetv2{v.lower()}_notop", f"EfficientNetV2{v}",
            notes=NOTES["EfficientNetV2" + ("B" if v.startswith("B") else "SML")])
    for v in ("Tiny", "Small", "Base", "Large", "XLarge"):
        add(f"convnext{v.lower()}_notop", f"ConvNeXt{v}", notes=NOTES["ConvNeXt"])
    add("resnet50_v0.2_notop", "ResNet50_v0.2", notes=NOTES["ResNet50_v0.2"])
    for a, file_id in (("ResNet50", "resnet50"), ("VGG16", "vgg16"),
                       ("MobileNet_1.0", "mobilenet_1.0_224"),
                       ("MobileNetV2_1.0", "mobilenet_v2_1.0_224"),
                       ("InceptionV3", "inceptionv3"), ("Xception", "xception"),
                       ("DenseNet121", "densenet121"), ("EfficientNetB0", "efficientnetb0")):
        # The MobileNet top files are the 224-rows members of their rows series.
        rows = 224 if a.startswith("MobileNet") else None
        add(f"{file_id}_top", f"{a}_top", rows=rows, notes=NOTES.get(f"{a}_top", ""))
    ids = [f["id"] for f in files]
    assert len(set(ids)) == len(ids), "duplicate file id"
    return files


# Human notes carried into the manifest (facts a reader of the file needs and cannot get
# from the other fields).
NOTES = {
    "ResNet50": "A cached file of this name may be the old fchollet v0.2 file "
                "(see resnet50_v0.2_notop); tell them apart by the hash.",
    "ResNet50_top": "A cached file of this name may be the old fchollet v0.2 file "
                    "(md5 a7b3fe01876f51b976af0dea6bc144eb); tell them apart by the hash.",
    "MobileNet": "Keras gives no hash for this file.",
    "MobileNetV2": "Keras gives no hash for this file.",
    "MobileNet_1.0_top": "Keras gives no hash for this file.",
    "MobileNetV2_1.0_top": "Keras gives no hash for this file.",
    "MobileNetV3": "Preprocessing is inside the model: Rescaling(1/127.5, offset=-1).",
    "NASNetLarge": "Build at a static 331x331 input: with (None,None,3) Keras 3 builds "
                   "526 weighted layers, the file has 532.",
    "EfficientNet": "Preprocessing is inside the model: Rescaling(1/255), Normalization whose "
                    "mean/variance/count come from the file, then (imagenet weights only) "
                    "Rescaling(1/sqrt([0.229,0.224,0.225])).",
    "EfficientNetV2B": "Preprocessing is inside the model: Rescaling(1/255), then Normalization("
                       "mean=[0.485,0.456,0.406], variance=[0.229^2,0.224^2,0.225^2]).",
    "EfficientNetV2SML": "Preprocessing is inside the model: Rescaling(1/128, offset=-1).",
    "ConvNeXt": "Preprocessing is inside the model: Normalization(mean=255*[0.485,0.456,0.406], "
                "variance=(255*[0.229,0.224,0.225])^2).",
    "ResNet50_v0.2": "Old fchollet release v0.2 (keras-applications resnet50.py): same cache "
                     "name as resnet50_notop, other layer names (conv1, bn_conv1, "
                     "res2a_branch2a, ...) and BatchNormalization epsilon 1e-3; tell them apart "
                     "by the hash.",
    "EfficientNetB0_top": "Preprocessing is inside the model: Rescaling(1/255), Normalization "
                          "whose mean/variance/count come from the file, then Rescaling("
                          "1/sqrt([0.229,0.224,0.225])).",
}


# --------------------------------------------------------------------------------------------
# Building models
# --------------------------------------------------------------------------------------------
def is_legacy(fn):
    return fn.startswith("keras_applications.")


def tf_keras_submodules():
    import tf_keras

    return {"backend": tf_keras.backend, "layers": tf_keras.layers,
            "models": tf_keras.models, "utils": tf_keras.utils}


def build(fn, kwargs):
    """Build a fresh model; name counters start from zero as in a fresh process."""
    assert "weights" in kwargs, "the applications default to weights='imagenet'"
    free_memory()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if is_legacy(fn):
            module, name = fn.rsplit(".", 1)
            return getattr(importlib.import_module(module), name)(**kwargs,
                                                                  **tf_keras_submodules())
        import keras

        return getattr(keras.applications, fn)(**kwargs)


def free_memory():
    import keras

    # clear_session also resets the auto-name counters (conv2d, conv2d_1, ..., and the
    # `variable_N` names of unnamed variables such as ConvNeXt's LayerScale gamma).
    keras.backend.clear_session()
    if "tf_keras" in sys.modules:
        sys.modules["tf_keras"].backend.clear_session()
    gc.collect()


# --------------------------------------------------------------------------------------------
# Architecture description
# --------------------------------------------------------------------------------------------
def legacy_weights(layer):
    # Same as keras/src/legacy/saving/legacy_h5_format.py `_legacy_weights`. For a nested
    # model (ConvNeXt's stem / downsampling Sequentials) this is all trainable weights of the
    # inner layers, then all non-trainable ones.
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def variable_record(v):
    path = getattr(v, "path", None)  # Keras 3 variables
    if path is None:  # tf-keras: a tf.Variable named "conv1/kernel:0"
        path = re.sub(r":\d+$", "", v.name)
    dtype = np.dtype(getattr(v.dtype, "name", v.dtype)).name
    return [path, [int(d) for d in v.shape], dtype]


def shape_list(tensor):
    shape = tensor.shape
    shape = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return [None if d is None else int(d) for d in shape]


def all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def is_auto_named(layer):
    from keras.src.utils.naming import to_snake_case

    # Keras (3 and 2) names an unnamed layer snake_case(class name) plus "_<n>" when taken.
    return re.fullmatch(re.escape(to_snake_case(type(layer).__name__)) + r"(_\d+)?",
                        layer.name) is not None


def bn_epsilon(model, arch_id):
    eps = collections.Counter(l.epsilon for l in all_layers(model)
                              if type(l).__name__ == "BatchNormalization")
    if not eps:
        return None
    if len(eps) > 1:
        log(f"  note: {arch_id} has several BatchNormalization epsilons {dict(eps)}")
    return float(eps.most_common(1)[0][0])


def describe(arch_id, model):
    fn, kwargs = build_kwargs(arch_id)
    layers = []
    for layer in model.layers:
        weights = legacy_weights(layer)
        if weights:
            layers.append([layer.name, type(layer).__name__, [variable_record(w) for w in weights]])
    arrays = [w for layer in layers for w in layer[2]]
    num_params = sum(int(np.prod(w[1], dtype=np.int64)) for w in arrays)
    assert num_params == model.count_params(), (arch_id, num_params, model.count_params())
    weighted = [l for l in model.layers if legacy_weights(l)]
    return {
        "id": arch_id,
        "keras": fn,
        "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(kwargs.items())},
        "input_shape": shape_list(model.inputs[0])[1:],
        "output_shape": shape_list(model.outputs[0])[1:],
        "num_layers": len(model.layers),
        "num_weighted_layers": len(layers),
        "num_arrays": len(arrays),
        "num_params": num_params,
        "auto_named": [l.name for l in weighted if is_auto_named(l)],
        "bn_epsilon": bn_epsilon(model, arch_id),
        "layers": layers,
    }


# --------------------------------------------------------------------------------------------
# What Keras would download: run the application with weights="imagenet" while get_file is
# a recording stub that aborts before anything is fetched.
# --------------------------------------------------------------------------------------------
class _Captured(Exception):
    pass


def _download_record(get_file, args, kwargs):
    from keras.src.utils import file_utils

    a = inspect.signature(get_file).bind(*args, **kwargs)
    a.apply_defaults()
    a = a.arguments
    url = a["origin"]
    # Same rules as get_file: md5_hash is the legacy spelling of an md5 file_hash; a missing
    # fname means the URL's basename; resolve_hasher picks sha256 for 64 hex digits.
    file_hash, algorithm = a["file_hash"], a["hash_algorithm"]
    if a["md5_hash"] is not None and file_hash is None:
        file_hash, algorithm = a["md5_hash"], "md5"
    fname = a["fname"] or os.path.basename(urllib.parse.urlsplit(url).path)
    assert a["cache_subdir"] == "models", a
    return {
        "file": fname,
        "url": url,
        "hash": file_hash,
        "hash_algorithm": file_utils.resolve_hasher(algorithm, file_hash).name
        if file_hash else None,
    }


@contextlib.contextmanager
def recording_downloads(sizes):
    """Patch Keras 3 get_file (abort + record) and obtain_input_shape (record sizes)."""
    from keras.src.applications import imagenet_utils
    from keras.src.utils import file_utils

    real_get_file, real_obtain = file_utils.get_file, imagenet_utils.obtain_input_shape

    def get_file(*args, **kwargs):
        raise _Captured(_download_record(real_get_file, args, kwargs))

    def obtain_input_shape(*args, **kwargs):
        a = inspect.signature(real_obtain).bind(*args, **kwargs).arguments
        sizes.update(default=a["default_size"], min=a["min_size"])
        return real_obtain(*args, **kwargs)

    file_utils.get_file, imagenet_utils.obtain_input_shape = get_file, obtain_input_shape
    try:
        yield
    finally:
        file_utils.get_file, imagenet_utils.obtain_input_shape = real_get_file, real_obtain


def capture_download(fn, kwargs):
    """(download record, (default_size, min_size) or None) for the weights="imagenet" build."""
    sizes = {}
    kwargs = {**kwargs, "weights": "imagenet"}
    if is_legacy(fn):
        module_name, name = fn.rsplit(".", 1)
        module = importlib.import_module(module_name)
        subs = tf_keras_submodules()
        real_utils, real_obtain = subs["utils"], module._obtain_input_shape

        def get_file(*args, **kw):
            raise _Captured(_download_record(real_utils.get_file, args, kw))

        def obtain_input_shape(*args, **kw):
            a = inspect.signature(real_obtain).bind(*args, **kw).arguments
            sizes.update(default=a["default_size"], min=a["min_size"])
            return real_obtain(*args, **kw)

        subs["utils"] = types.SimpleNamespace(get_file=get_file,
                                              get_source_inputs=real_utils.get_source_inputs)
        module._obtain_input_shape = obtain_input_shape
        free_memory()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(module, name)(**kwargs, **subs)
        except _Captured as e:
            record = e.args[0]
        else:
            raise RuntimeError(f"{fn} did not call get_file")
        finally:
            module._obtain_input_shape = real_obtain
    else:
        try:
            with recording_downloads(sizes):
                build(fn, kwargs)
        except _Captured as e:
            record = e.args[0]
        else:
            raise RuntimeError(f"{fn} did not call get_file")
    free_memory()  # the aborted build's traceback held the model
    return record, ((sizes["default"], sizes["min"]) if sizes else None)


# --------------------------------------------------------------------------------------------
# Preprocessing mode, from each application module's own preprocess_input
# --------------------------------------------------------------------------------------------
def preprocess_function(fn):
    if is_legacy(fn):
        module = importlib.import_module(fn.rsplit(".", 1)[0])
        backend = tf_keras_submodules()["backend"]
        return lambda x: module.preprocess_input(x, backend=backend)
    import keras

    module = importlib.import_module(getattr(keras.applications, fn).__module__)
    return module.preprocess_input


def preprocess_mode(fn):
    """caffe / tf / torch as in imagenet_utils.preprocess_input, or none (identity)."""
    x = np.array([[[[10.0, 100.0, 200.0]]]], dtype="float32")
    y = np.asarray(preprocess_function(fn)(x.copy()), dtype="float64")
    candidates = {
        "none": x,
        "tf": x / 127.5 - 1.0,
        "caffe": x[..., ::-1] - np.array([103.939, 116.779, 123.68]),
        "torch": (x / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]),
    }
    modes = [m for m, v in candidates.items() if np.allclose(y, v, atol=1e-4)]
    assert len(modes) == 1, (fn, y, modes)
    return modes[0]


# --------------------------------------------------------------------------------------------
# Manifest entries
# --------------------------------------------------------------------------------------------
def manifest_entry(spec, arch):
    fn, kwargs = build_kwargs(spec["arch"])
    include_top = kwargs["include_top"]
    build_args = dict(kwargs)
    if spec["rows"] is not None:
        build_args["input_shape"] = (spec["rows"], spec["rows"], 3)
    download, sizes = capture_download(fn, build_args)
    model = fn.rsplit(".", 1)[-1]
    default_input, min_input = sizes or SIZES_WITHOUT_OBTAIN_INPUT_SHAPE[model]
    if include_top:
        # With imagenet weights and include_top, obtain_input_shape pins the input to the
        # default square (it raises for anything else).
        min_input = default_input
    notes = spec["notes"]
    url_name = os.path.basename(urllib.parse.urlsplit(download["url"]).path)
    if url_name != download["file"]:
        notes = f"The URL's file is {url_name}; Keras caches it as {download['file']}. " + notes
    return {
        "id": spec["id"],
        "model": model,
        "architecture": spec["arch"],
        "include_top": include_top,
        "alpha": float(kwargs.get("alpha", 1.0)) if model.startswith("MobileNet") else None,
        "rows": spec["rows"],
        "variant": "minimalistic" if kwargs.get("minimalistic") else None,
        **download,
        "default_input": default_input,
        "min_input": min_input,
        "preprocess": preprocess_mode(fn),
        "output_width": arch["output_shape"][-1],
        "bn_epsilon": arch["bn_epsilon"],
        "weighted_layers": arch["num_weighted_layers"],
        "params": arch["num_params"],
        "notes": notes.strip(),
    }


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------
def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def versions():
    import keras
    import tf_keras

    return keras.__version__, tf_keras.__version__


def render_arch_swift(arch_json):
    keras_v, tf_keras_v = versions()
    lines = [
        f"// Generated by scripts/gen_catalog.py (Keras {keras_v}, tf-keras {tf_keras_v}); "
        "do not edit by hand.",
        "// One compact JSON document per architecture: its weighted layers in Keras "
        "`model.layers` order,",
        "// the order the legacy loader binds files in, each with its arrays (path, shape, dtype).",
        "extension ArchitectureCatalog {",
        "    static let embeddedJSON: [String: String] = [",
    ]
    for arch_id in sorted(arch_json):
        text = arch_json[arch_id]
        # A raw string #"..."# ends at the first `"#`; JSON never needs a newline.
        assert '"#' not in text and "\n" not in text, arch_id
        lines.append(f'        "{arch_id}": #"{text}"#,')
    lines += ["    ]", "}", ""]
    return "\n".join(lines)


ARCH_LINE = re.compile(r'^        "(?P<id>[^"]+)": #"(?P<json>.*)"#,$')


def parse_arch_swift(text):
    return {m["id"]: m["json"] for m in map(ARCH_LINE.match, text.splitlines()) if m}


def render_manifest(entries):
    keras_v, _ = versions()
    doc = {"generated_by": "scripts/gen_catalog.py", "keras_version": keras_v, "entries": entries}
    return json.dumps(doc, indent=1) + "\n"


def render_manifest_swift(manifest_text):
    # Content and closing delimiter at column 0, so Swift strips no indentation. Swift drops
    # the line break just before the closing delimiter, hence the file's final newline is
    # followed by one more: the string is byte-for-byte weights-manifest.json.
    assert '"""#' not in manifest_text
    return (
        "// Generated by scripts/gen_catalog.py from weights-manifest.json; do not edit by hand.\n"
        "extension WeightsManifest {\n"
        '    static let embeddedJSON: String = #"""\n'
        f"{manifest_text}\n"
        '"""#\n'
        "}\n"
    )


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------
def log(msg):
    print(msg, file=sys.stderr, flush=True)


def generate(arch_ids, files):
    """Build the given architectures and capture the given files; returns (json texts, entries)."""
    arch_json, arch_desc, entries = {}, {}, {}
    for arch_id in arch_ids:
        t0 = time.time()
        fn, kwargs = build_kwargs(arch_id)
        model = build(fn, {**kwargs, "weights": None})
        desc = describe(arch_id, model)
        del model
        free_memory()
        arch_desc[arch_id] = desc
        arch_json[arch_id] = compact(desc)
        mine = [f for f in files if f["arch"] == arch_id]
        for spec in mine:
            entries[spec["id"]] = manifest_entry(spec, desc)
        log(f"{arch_id:32s} {desc['num_weighted_layers']:4d} weighted layers "
            f"{desc['num_params']:>11,d} params  {len(mine):2d} files  {time.time() - t0:6.1f}s")
    return arch_json, entries


def existing_outputs():
    arch_json = parse_arch_swift(ARCH_SWIFT.read_text()) if ARCH_SWIFT.exists() else {}
    entries = {}
    if MANIFEST_JSON.exists():
        entries = {e["id"]: e for e in json.loads(MANIFEST_JSON.read_text())["entries"]}
    return arch_json, entries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated architecture ids to rebuild; the other "
                                       "ids are kept from the existing files")
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory; exit 1 if the committed files differ")
    args = parser.parse_args()

    started = time.time()
    files = weight_files()
    if args.only:
        arch_ids = args.only.split(",")
        unknown = [a for a in arch_ids if a not in ARCH_BY_ID]
        if unknown:
            parser.error(f"unknown ids {unknown}; known: {', '.join(ARCH_BY_ID)}")
    else:
        arch_ids = [a for a, _, _ in ARCHITECTURES]
    file_ids = [f["id"] for f in files if f["arch"] in arch_ids]

    new_arch, new_entries = generate(arch_ids, files)
    old_arch, old_entries = existing_outputs()

    if args.check:
        stale = [a for a in arch_ids if old_arch.get(a) != new_arch[a]]
        stale += [f for f in file_ids if old_entries.get(f) != new_entries[f]]
        if not args.only:
            stale += [f"(extra {a})" for a in old_arch if a not in new_arch]
            stale += [f"(extra {f})" for f in old_entries if f not in new_entries]
            arch_text = render_arch_swift(new_arch)
            manifest_text = render_manifest([new_entries[f["id"]] for f in files])
            for path, text in ((ARCH_SWIFT, arch_text), (MANIFEST_JSON, manifest_text),
                               (MANIFEST_SWIFT, render_manifest_swift(manifest_text))):
                if not path.exists() or path.read_text() != text:
                    stale.append(f"({path.relative_to(ROOT)})")
        log(f"checked {len(arch_ids)} architectures, {len(file_ids)} files "
            f"in {time.time() - started:.0f}s")
        if stale:
            print("stale: " + " ".join(stale))
            return 1
        print("up to date")
        return 0

    # --only: splice the rebuilt ids into what is already there.
    arch_json = {**old_arch, **new_arch} if args.only else new_arch
    merged = {**old_entries, **new_entries} if args.only else new_entries
    missing = [f["id"] for f in files if f["id"] not in merged]
    if missing:
        log(f"warning: {len(missing)} manifest entries missing, e.g. {missing[0]} "
            "(run without --only)")
    entries = [merged[f["id"]] for f in files if f["id"] in merged]
    manifest_text = render_manifest(entries)

    ARCH_SWIFT.parent.mkdir(parents=True, exist_ok=True)
    ARCH_SWIFT.write_text(render_arch_swift(arch_json))
    MANIFEST_JSON.write_text(manifest_text)
    MANIFEST_SWIFT.write_text(render_manifest_swift(manifest_text))
    log(f"wrote {len(arch_json)} architectures, {len(entries)} manifest entries "
        f"in {time.time() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
