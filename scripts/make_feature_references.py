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
* verify_*.npz: reference inputs and outputs as a user saves them for `extract verify`;
* e2e_*.f32: Keras features of every photograph in images/photos/ (make_images.py), in
  flow_from_directory's shuffle=False order, with the reference weights of make_fixtures.py,
  computed the ways users compute them (E2E_CASES);
* e2e_top_*.f32 + imagenet_class_index.json: the include_top=True probabilities of the photos
  and decode_predictions(top=5) of them (TOP_E2E), Keras reading the project's class index
  (Sources/Features/Generated/ImageNetClassIndex.swift) instead of downloading its file, after
  checking that the two are the same table;
* index.json describing everything, for the Swift tests;
* datasets/ + datasets.json: class folders and tables (empty files) with the order and labels
  Keras gives them with `flow_from_directory(classes=[...])` and `flow_from_dataframe` (with
  and without `classes=`), for --classes, --classes-from and table inputs (DATASET_CASES).
"""
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import json  # noqa: E402
import shutil  # noqa: E402
from unittest import mock  # noqa: E402

import csv  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras.src.applications import imagenet_utils  # noqa: E402
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


# Stable labels and tables. A training folder of four classes and a second folder holding two
# of them; a .csv with quoting (commas, quotes, a newline, CRLF line ends, a blank line), labels
# that sort by code point, a missing file and a non-image row; a .tsv whose paths are not in
# the first column. All files are empty: both iterators list without opening files.
TRAIN = {"a_cat": ["1.jpg", "2.png"], "b_dog": ["1.jpg", "sub/3.jpg"], "c_fox": ["x.bmp"],
         "d_owl": ["o.jpeg", "notes.txt"]}
SECOND = {"b_dog": ["9.jpg"], "d_owl": ["p.png", "q.png"]}
TABLE_HEADER = ["filename", "note", "class"]
TABLE_ROWS = [  # (path, note, class); paths relative to the table's folder
    ("imgs/a, b.png", "a comma in the path", "big, cat"),
    ('imgs/say "hi".jpg', 'quotes "inside"', "2"),
    ("imgs/plain.jpg", "two\nlines", "10"),
    ("imgs/missing.jpg", "no such file: dropped, and its class B with it", "B"),
    ("imgs/notes.txt", "not an image: dropped", "a"),
    ("imgs/sub/deep.png", "", "a"),
    ("imgs/plain.jpg", "the same file twice", "2"),
    ("imgs/é.png", "non-ASCII", "10"),
]
TSV_ROWS = [("7", "owl", "pics/z z.png"), ("3", "cat", "pics/a.jpg"), ("5", "owl", "pics/b.jpg")]


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()


def make_datasets(out):
    """Keras' answers for DATASET_CASES: filenames, labels and class order."""
    root = os.path.join(out, "datasets")
    shutil.rmtree(root, ignore_errors=True)
    for name, tree in (("train", TRAIN), ("second", SECOND)):
        for cls, files in tree.items():
            for f in files:
                touch(os.path.join(root, name, cls, f))
    touch(os.path.join(root, "second", "stray.jpg"))  # beside the class folders: not read
    train_classes = sorted(TRAIN)
    # The classes file a run over train/ writes beside its output (FeatureOutput).
    with open(os.path.join(root, "train.classes.txt"), "w", encoding="utf-8") as f:
        f.write("".join(c + "\n" for c in train_classes))

    table_dir = os.path.join(root, "table")
    for path, _, _ in TABLE_ROWS:
        if "missing" not in path:
            touch(os.path.join(table_dir, path))
    with open(os.path.join(table_dir, "table.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)  # QUOTE_MINIMAL, "\r\n" line ends
        w.writerow(TABLE_HEADER)
        for i, row in enumerate(TABLE_ROWS):
            w.writerow(row)
            if i == 2:
                f.write("\r\n")  # a blank line: pandas skips it
    for _, _, path in TSV_ROWS:
        touch(os.path.join(table_dir, path))
    with open(os.path.join(table_dir, "table.tsv"), "w", encoding="utf-8") as f:
        f.write("id\tlabel\tpath\n" + "".join("\t".join(r) + "\n" for r in TSV_ROWS))

    def directory(rel, classes):
        it = ImageDataGenerator().flow_from_directory(
            os.path.join(root, rel), classes=classes, target_size=(8, 8), shuffle=False)
        return it

    def dataframe(rel, x_col, y_col, classes=None):
        sep = "\t" if rel.endswith(".tsv") else ","
        # Cells as text, as the tool reads them (pandas would read a column of numbers as int,
        # which flow_from_dataframe refuses as a label).
        df = pd.read_csv(os.path.join(root, rel), sep=sep, dtype=str, keep_default_na=False)
        return ImageDataGenerator().flow_from_dataframe(
            df, directory=os.path.dirname(os.path.join(root, rel)), x_col=x_col, y_col=y_col,
            classes=classes, target_size=(8, 8), shuffle=False)

    # name -> (input, rule, classes, path column, label column, Keras' iterator). rule:
    # "select" (--classes), "complete" (--classes-from datasets/train.classes.txt) or None.
    cases = {
        "folder_classes": ("train", "select", ["c_fox", "a_cat", "zz_missing"], None, None,
                           directory("train", ["c_fox", "a_cat", "zz_missing"])),
        "folder_classes_from": ("second", "complete", train_classes, None, None,
                                directory("second", train_classes)),
        "csv_sorted": ("table/table.csv", None, None, None, None,
                       dataframe("table/table.csv", "filename", "class")),
        "csv_classes": ("table/table.csv", "select", ["10", "zz_missing", "big, cat"], None, None,
                        dataframe("table/table.csv", "filename", "class", ["10", "zz_missing", "big, cat"])),
        "tsv_columns": ("table/table.tsv", None, None, "path", None,
                        dataframe("table/table.tsv", "path", "label")),
    }
    result = {"root": "datasets", "classes_file": "datasets/train.classes.txt", "cases": {}}
    for name, (rel, rule, classes, path_col, label_col, it) in cases.items():
        result["cases"][name] = {
            "input": f"datasets/{rel}", "rule": rule, "classes": classes,
            "path_column": path_col, "label_column": label_col,
            "filenames": [f.replace(os.sep, "/") for f in it.filenames],
            "labels": [int(c) for c in it.classes],
            "class_names": sorted(it.class_indices, key=it.class_indices.get)}
    with open(os.path.join(out, "datasets.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
    return result


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


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import BACKBONE_BUILDERS, legacy_order, randomize  # noqa: E402  (the reference weights' models)
import gen_imagenet_classes  # noqa: E402  (the committed class index and its sources)

A = keras.applications
# name -> (catalog id, preprocess_input, input side, interpolation, keep_aspect_ratio, how the
# pixels are made: "flow" (the seed tutorials' flow_from_directory code path), "pil" (load_img)
# or "tf" (tf.image.resize as image_dataset_from_directory), pooling). The weights are
# make_fixtures.py's reference/<id>_<size>.h5.
E2E_CASES = {
    "mobilenet_flow": ("MobileNet_1.0", A.mobilenet.preprocess_input, 224, "nearest", False, "flow", "avg"),
    "resnet50_bilinear_max": ("ResNet50", A.resnet50.preprocess_input, 224, "bilinear", False, "pil", "max"),
    "vgg16_bicubic_aspect": ("VGG16", A.vgg16.preprocess_input, 224, "bicubic", True, "pil", "avg"),
    "mobilenet_tf_resize": ("MobileNet_1.0", A.mobilenet.preprocess_input, 224, "bilinear", False, "tf", "avg"),
    # Preprocessing inside the model (Rescaling + Normalization from the weights file).
    "efficientnetb0_flow": ("EfficientNetB0", A.efficientnet.preprocess_input, 224, "nearest", False, "flow", "avg"),
    "densenet121_flow": ("DenseNet121", A.densenet.preprocess_input, 224, "nearest", False, "flow", "avg"),
}


# An early layer per architecture: with random weights the last block's features hardly depend
# on the image (their spread over the photos is 2e-4 of their size for MobileNet), so a wrong
# resize or preprocessing could hide inside the tolerance there. An early block's pooled output
# follows the pixels closely; each case is also checked there (`extract --layer`).
EARLY_LAYER = {"MobileNet_1.0": "conv_pw_3_relu", "ResNet50": "conv2_block3_out",
               "VGG16": "block2_pool", "EfficientNetB0": "block2b_add", "DenseNet121": "pool2_pool"}


def make_e2e(fixtures, out):
    photos = os.path.join(fixtures, "images", "photos")
    listing = ImageDataGenerator().flow_from_directory(photos, shuffle=False, class_mode=None)
    files = [os.path.join(photos, f) for f in listing.filenames]
    cases = {}
    for name, (arch, pre, size, interp, aspect, how, pooling) in E2E_CASES.items():
        keras.backend.clear_session()
        model = BACKBONE_BUILDERS[arch][0](pooling, size)
        weights = f"{arch.lower()}_{size}.h5"
        model.load_weights(os.path.join(fixtures, "reference", weights))
        pool = {"avg": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D}[pooling]
        early = keras.Model(model.input, pool()(model.get_layer(EARLY_LAYER[arch]).output))
        if how == "flow":
            # The seed tutorials' code, verbatim in spirit.
            def flow():
                return ImageDataGenerator(preprocessing_function=pre).flow_from_directory(
                    photos, target_size=(size, size), batch_size=8, class_mode=None,
                    shuffle=False, interpolation=interp)
            y, y_early = model.predict(flow(), verbose=0), early.predict(flow(), verbose=0)
        else:
            xs = []
            for path in files:
                if how == "pil":
                    img = keras.utils.load_img(path, target_size=(size, size), interpolation=interp,
                                               keep_aspect_ratio=aspect)
                    xs.append(keras.utils.img_to_array(img))
                else:  # tf.image.resize on the PIL-decoded pixels, as image_dataset_from_directory
                    rgb = keras.utils.img_to_array(keras.utils.load_img(path))
                    xs.append(tf.image.resize(rgb, (size, size), method=interp).numpy())
            x = pre(np.stack(xs))
            y, y_early = model.predict(x, batch_size=8, verbose=0), early.predict(x, batch_size=8, verbose=0)
        for suffix, layer, values in (("", None, y), ("_early", EARLY_LAYER[arch], y_early)):
            rel = f"e2e_{name}{suffix}.f32"
            np.ascontiguousarray(values, dtype="<f4").tofile(os.path.join(out, rel))
            cases[name + suffix] = {
                "file": rel, "shape": list(values.shape), "architecture": arch, "size": size,
                "weights": f"reference/{weights}", "interpolation": interp,
                "keep_aspect_ratio": aspect, "resize": "tf" if how == "tf" else "pil",
                "pooling": pooling, "layer": layer, "max_abs": float(np.abs(values).max()),
                "spread": float(values.std(0).mean() / (np.abs(values).mean() + 1e-30))}
    return {"photos": "images/photos", "filenames": [f.replace(os.sep, "/") for f in listing.filenames],
            "labels": [int(c) for c in listing.classes],
            "classes": sorted(listing.class_indices, key=listing.class_indices.get), "cases": cases}


# The classifier end to end, as the Keras tutorials do it: load_img (nearest) at the model's
# size, preprocess_input, predict, decode_predictions(top=5). The weights are make_fixtures.py's
# reference/mobilenetv2_1.0_top_224.h5 (random, logits scaled to std 2).
TOP_E2E = {
    "mobilenetv2_top": ("MobileNetV2_1.0_top", A.mobilenet_v2.preprocess_input, 224, "nearest"),
}


def class_index(out):
    """Writes out/imagenet_class_index.json from the committed Swift table after checking that
    the table is keras-hub's (wnid and name of all 1000 classes, in order) and serializes to the
    file Keras downloads (its pinned md5). Returns the file's path."""
    ours = gen_imagenet_classes.read_swift_table()
    package = gen_imagenet_classes.keras_hub_table()
    differing = [i for i, (a, b) in enumerate(zip(ours, package)) if a != b]
    if len(ours) != 1000 or len(package) != 1000 or differing:
        sys.exit(f"class index differs from {gen_imagenet_classes.KERAS_HUB} at {differing[:5]}")
    md5 = gen_imagenet_classes.check(ours)
    path = os.path.join(out, "imagenet_class_index.json")
    with open(path, "w") as f:
        f.write(gen_imagenet_classes.class_index_json(ours))
    print(f"class index: 1000 classes equal to {gen_imagenet_classes.KERAS_HUB}'s, "
          f"md5 {md5} as Keras' file")
    return path


def make_top_e2e(fixtures, out, files):
    """Keras' probabilities and decode_predictions of the photos for each TOP_E2E case, with
    Keras' downloader answering from the project's class index."""
    index_path = class_index(out)

    def get_file(fname, *args, **kwargs):
        assert fname == "imagenet_class_index.json", fname
        return index_path

    cases = {}
    for name, (arch, pre, size, interp) in TOP_E2E.items():
        keras.backend.clear_session()
        model = BACKBONE_BUILDERS[arch][0](None, size)
        weights = f"reference/{arch.lower()}_{size}.h5"
        model.load_weights(os.path.join(fixtures, weights))
        x = pre(np.stack([keras.utils.img_to_array(keras.utils.load_img(
            p, target_size=(size, size), interpolation=interp)) for p in files]))
        probs = model.predict(x, batch_size=8, verbose=0)
        imagenet_utils.CLASS_INDEX = None
        with mock.patch.object(imagenet_utils.file_utils, "get_file", get_file):
            decoded = imagenet_utils.decode_predictions(probs, top=5)
        # The top-5 order must not hinge on float32 noise: the gaps between neighbours stay
        # above 1e-5 of the row's largest, ten times the worst backbone error (1.7e-6).
        top6 = -np.sort(-probs, axis=1)[:, :6]
        gap = float((-np.diff(top6, axis=1) / top6[:, :1]).min())
        print(f"{name}: max probability {probs.max():.4f}, "
              f"smallest top-6 gap {gap:.2e} of the row's max")
        assert gap > 1e-5, "a top-5 order this close would test float32 noise"
        rel = f"e2e_{name}.f32"
        np.ascontiguousarray(probs, dtype="<f4").tofile(os.path.join(out, rel))
        cases[name] = {
            "file": rel, "shape": list(probs.shape), "architecture": arch, "size": size,
            "weights": weights, "interpolation": interp,
            "decoded": [[[wnid, label, float(p)] for wnid, label, p in row] for row in decoded]}
    return {"class_index": "imagenet_class_index.json", "cases": cases}


def make_verify(fixtures, out):
    """verify_resnet50_97.npz: the backbone references of make_fixtures.py as a user would save
    them for `extract verify` (inputs + Keras outputs by pooling and layer), and a copy with
    one output perturbed by 1e-3 of its scale, which must fail."""
    expectations = json.load(open(os.path.join(fixtures, "expectations.json")))["references"]

    def load(rel):
        return np.fromfile(os.path.join(fixtures, rel), dtype="<f4").reshape(expectations[rel]["shape"])

    stem = "reference/resnet50_97"
    arrays = {"inputs": load(expectations[f"{stem}_output.f32"]["input"]),
              "none": load(f"{stem}_output.f32"), "avg": load(f"{stem}_avg.f32"),
              "max": load(f"{stem}_max.f32"),
              "layer_conv3_block4_out": load(f"{stem}_layer_conv3_block4_out.f32")}
    np.savez(os.path.join(out, "verify_resnet50_97.npz"), **arrays)
    off = dict(arrays)
    off["avg"] = off["avg"] + np.float32(1e-3) * np.abs(off["avg"]).max()
    np.savez_compressed(os.path.join(out, "verify_resnet50_97_off.npz"), **off)
    return {"good": "verify_resnet50_97.npz", "perturbed": "verify_resnet50_97_off.npz",
            "weights": f"{stem}.h5", "outputs": sorted(k for k in arrays if k != "inputs")}


# Keras' own defaults, for the command lines users type with the fewest options (`extract
# --weights FILE imgs/`): each case names the file as users hold it, the extra options of the
# command, and the model Keras builds for that file when nothing else is said (MobileNet's
# input_shape=None means rows 224; the `_160_` file is the one Keras loads for a 160x160
# input; a saved model runs at its InputLayer's size). Features are taken at the last block
# and, because with random weights the last block hardly depends on the image, at an early
# block too (DEFAULTS_EARLY), where a wrong input size cannot hide inside the tolerance.
# (case, weights fixture, name the user's file has, extra options, keras builder(height, width),
#  input (height, width), where the size must be said to come from)
DEFAULTS = [
    ("mobilenet_published_224", "reference/mobilenet_1.0_224.h5", "mobilenet_1_0_224_tf_no_top.h5", [],
     lambda h, w: A.MobileNet(include_top=False, weights=None), (224, 224), "file name"),
    ("mobilenet_published_160", "reference/mobilenet_1.0_224.h5", "mobilenet_1_0_160_tf_no_top.h5", [],
     lambda h, w: A.MobileNet(input_shape=(h, w, 3), include_top=False, weights=None), (160, 160), "file name"),
    ("mobilenet_model_named", "reference/mobilenet_1.0_224.h5", "mobilenet_1_0_224_tf_no_top.h5",
     ["--model", "mobilenet"],
     lambda h, w: A.MobileNet(include_top=False, weights=None), (224, 224), "file name"),
    ("mobilenet_unnamed", "reference/mobilenet_1.0_224.h5", "my_weights.h5", [],
     lambda h, w: A.MobileNet(include_top=False, weights=None), (224, 224), "Keras default"),
    ("mobilenet_nonsquare", "reference/mobilenet_1.0_224.h5", "mobilenet_1_0_224_tf_no_top.h5",
     ["--input-size", "160x224"],
     lambda h, w: A.MobileNet(input_shape=(h, w, 3), include_top=False, weights=None), (160, 224), "command line"),
    ("mobilenetv2_published_224", "reference/mobilenetv2_1.0_224.h5",
     "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", [],
     lambda h, w: A.MobileNetV2(include_top=False, weights=None), (224, 224), "file name"),
    # A user's own model, as the seeds save it: MobileNetV2 at 160 nested, GAP, Dense(19).
    ("saved_mobilenetv2_160", "SAVED", "dog_breeds.h5", [],
     None, (160, 160), "model config"),
    ("saved_mobilenetv2_160_model_named", "SAVED", "dog_breeds.h5", ["--model", "mobilenet_v2"],
     None, (160, 160), "model config"),
    # The same in tf-keras 2's dialect (batch_input_shape, nested-list inbound_nodes), at 128.
    ("saved_tfkeras_mobilenetv2_128", "SAVED_TFK", "tfkeras_model.h5", [],
     None, (128, 128), "model config"),
]
DEFAULTS_EARLY = {"MobileNet": "conv_pw_3_relu", "MobileNetV2": "block_3_expand_relu"}


def saved_user_model(path):
    """Keras 3 `model.save("x.h5")` of the seeds' shape; returns its backbone."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(160)
    base = A.MobileNetV2(input_shape=(160, 160, 3), include_top=False, weights=None)
    randomize(legacy_order(base), 160)  # as every reference backbone: BatchNorm statistics too
    base.trainable = False
    inputs = keras.Input((160, 160, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(19, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)
    return base


def saved_tfkeras_model(path):
    """tf-keras 2 `model.save("x.h5")`: Sequential([MobileNetV2 at 128, GAP, Dense(3)])."""
    import tf_keras
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(128)
    base = tf_keras.applications.MobileNetV2(input_shape=(128, 128, 3), include_top=False, weights=None)
    randomize(legacy_order(base), 128)
    model = tf_keras.Sequential([base, tf_keras.layers.GlobalAveragePooling2D(),
                                 tf_keras.layers.Dense(3, activation="softmax")])
    model.save(path)
    return base


def make_defaults(fixtures, out, files):
    os.makedirs(os.path.join(out, "defaults"), exist_ok=True)
    saved = os.path.join(out, "defaults", "dog_breeds.h5")
    saved_base = None
    cases = {}
    for name, weights, user_name, options, build, (h, w), source in DEFAULTS:
        keras.backend.clear_session()
        framework = keras
        if weights == "SAVED_TFK":
            import tf_keras
            framework = tf_keras
            base = saved_tfkeras_model(os.path.join(out, "defaults", user_name))
            rel_weights = f"features/defaults/{user_name}"
        elif weights == "SAVED":
            if saved_base is None:
                saved_base = saved_user_model(saved)
            base, rel_weights = saved_base, "features/defaults/dog_breeds.h5"
        else:
            base = build(h, w)
            base.load_weights(os.path.join(fixtures, weights))
            rel_weights = weights
        family = "MobileNetV2" if "mobilenetv2" in name or weights.startswith("SAVED") else "MobileNet"
        pre = A.mobilenet_v2.preprocess_input if family == "MobileNetV2" else A.mobilenet.preprocess_input
        early_layer = DEFAULTS_EARLY[family]
        x = pre(np.stack([keras.utils.img_to_array(keras.utils.load_img(p, target_size=(h, w))) for p in files]))
        for suffix, layer in (("", base.output), ("_early", base.get_layer(early_layer).output)):
            model = framework.Model(base.input, framework.layers.GlobalAveragePooling2D()(layer))
            y = model.predict(x, batch_size=8, verbose=0)
            rel = f"defaults_{name}{suffix}.f32"
            np.ascontiguousarray(y, dtype="<f4").tofile(os.path.join(out, rel))
            cases[name + suffix] = {
                "file": rel, "shape": list(y.shape), "weights": rel_weights, "user_file": user_name,
                "options": options + (["--layer", early_layer] if suffix else []),
                "input": [h, w], "source": source}
    return {"photos": "images/photos", "cases": cases}


def main(fixtures):
    out = os.path.join(fixtures, "features")
    os.makedirs(out, exist_ok=True)
    index = {
        "tree": {"root": "tree", "loose": LOOSE, **make_tree(os.path.join(out, "tree"))},
        "preprocess": make_preprocess(out),
        "verify": make_verify(fixtures, out),
        "e2e": make_e2e(fixtures, out),
    }
    photos = os.path.join(fixtures, index["e2e"]["photos"])
    index["top"] = make_top_e2e(fixtures, out, [os.path.join(photos, f) for f in index["e2e"]["filenames"]])
    index["defaults"] = make_defaults(fixtures, out, [os.path.join(photos, f) for f in index["e2e"]["filenames"]])
    make_datasets(out)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, ensure_ascii=False)
    print(f"features/: {len(index['tree']['filenames'])} listed files, "
          f"{len(index['preprocess']) - 1} preprocessing modes, "
          f"{len(index['e2e']['filenames'])} photos x {len(E2E_CASES)} end-to-end cases")


if __name__ == "__main__":
    main(sys.argv[1])
