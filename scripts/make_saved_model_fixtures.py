#!/usr/bin/env python3
"""Write whole saved Keras models and Keras' outputs on a few photographs (issue 22).

Usage:  .venv/bin/python scripts/make_saved_model_fixtures.py OUTDIR [CASE-PREFIX ...]

Run after make_images.py into the same OUTDIR (the photographs come from OUTDIR/images/photos).
Writes OUTDIR/saved_models/:
  images/<class>/<file>     five photographs in two class folders: landscape and portrait
                            JPEGs, a grayscale JPEG, a PNG (the portrait is derived here: the
                            photos fixture holds none)
  <base>.<writer>.<ext>     the model files, each model as written by
                              tfk.h5    tf-keras 2 `model.save("x.h5")`
                              k3.h5     Keras 3 `model.save("x.h5")` (legacy layout)
                              k3.keras  Keras 3 `model.save("x.keras")`
  <case>.config.json        the model config the file holds (for reading the dialects)
  <case>.<output>.npy       Keras' `model.predict` of the images, per output (float32)
  index.json                every case (below)
The optional CASE-PREFIX arguments write only the cases whose base name starts with one of
them (for working on the script; the index then lists only those).

index.json: {"images": dir, "filenames": [rows in order], "cases": [{
    "name", "group", "file", "writer" ("keras 3.15.1", "tf-keras 2.21.0"), "format"
    ("h5"/"keras"), "args" (extra CLI args), "outputs": {output name: expected .npy},
    "input": [h, w, c], "preprocess": mode applied before predict, "layer" (optional),
    "expect_error" (optional substrings), "classes" (layer classes the model holds),
    "keras_reload" ("ok" or why the writer's own load_model fails on the file)}]}
All paths are relative to OUTDIR.

How Keras sees the images (what `extract --weights FILE DIR` must reproduce):
  rows      flow_from_directory(shuffle=False) order: sorted class folders, sorted files
  loading   keras.utils.load_img(p, target_size=(h, w), color_mode="rgb" | "grayscale",
            interpolation="nearest") -> img_to_array (grayscale: PIL convert("L"))
  preprocess the nested keras.applications backbone's preprocess_input (ResNet50: "caffe";
            MobileNet, MobileNetV2, Xception, InceptionV3: "tf"), "none" without a backbone;
            a model that preprocesses inside itself is run with --preprocess none
Weights: built with weights=None, then EVERY variable (BatchNormalization moving statistics
included; variance in [0.5, 1.5]) gets seeded random values as in make_fixtures.py, kernels
rescaled to std 1/sqrt(fan_in) so activations stay O(1), and each classifier head's kernel
scaled so that its logits on the images have std 2 (softmax neither uniform nor one-hot).
"""
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402
import zlib  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
import keras  # noqa: E402  (Keras 3)
import tf_keras  # noqa: E402  (Keras 2 API)

tf.get_logger().setLevel("ERROR")
warnings.simplefilter("ignore")

K3 = f"keras {keras.__version__}"
TFK = f"tf-keras {tf_keras.__version__}"
# tag -> (framework, writer, format)
WRITERS = {
    "tfk.h5": ("tfk", TFK, "h5"),
    "k3.h5": ("k3", K3, "h5"),
    "k3.keras": ("k3", K3, "keras"),
}
ALL_WRITERS = tuple(WRITERS)
HEAD_LOGIT_STD = 2.0

# (source in images/photos, destination in saved_models/images); the portrait is made below.
IMAGES = [
    ("city/china.jpg", "city/china.jpg"),            # 640x427 landscape JPEG
    ("city/china-gray.jpg", "city/gray.jpg"),        # 321x213 grayscale JPEG
    (None, "city/portrait.jpg"),                     # 213x321 portrait JPEG (rotated china-444)
    ("cat/chelsea.png", "misc/chelsea.png"),         # 451x300 RGB PNG
    ("misc/flower.jpg", "misc/flower.jpg"),          # 640x427 landscape JPEG
]


# ----------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------

def seed_of(text):
    return zlib.crc32(text.encode("utf8"))


def var_kind(w):
    """'kernel', 'gamma', 'moving_variance', ... (tf-keras names are 'conv1/bn/gamma:0')."""
    return w.name.split("/")[-1].split(":")[0]


def all_layers(model):
    """Every layer, nested models' layers included (each shared layer once)."""
    seen = set()
    for layer in model.layers:
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if hasattr(layer, "layers"):
            yield from all_layers(layer)
        else:
            yield layer


def randomize(model, seed):
    """make_fixtures.py's values: gamma and variances uniform [0.5, 1.5], everything else
    N(0, 0.1), then kernels rescaled to std 1/sqrt(fan_in) (Dense hidden layers with ReLU:
    sqrt(2)/sqrt(fan_in)). Normalization keeps what adapt() computed; random layers' seed
    states (integer variables) are left alone."""
    rng = np.random.default_rng(seed)
    for layer in all_layers(model):
        kind = type(layer).__name__
        if kind == "Normalization":
            continue
        for w in layer.weights:
            dtype = np.dtype(w.dtype if isinstance(w.dtype, str) else w.dtype.name)
            if not np.issubdtype(dtype, np.floating):
                continue
            shape, name = tuple(w.shape), var_kind(w)
            if name in ("gamma", "moving_variance"):
                v = rng.uniform(0.5, 1.5, size=shape)
            else:
                v = rng.standard_normal(size=shape) * 0.1
                fan_in = None
                if name == "kernel" and kind == "Dense":
                    fan_in = shape[0] / (2.0 if _activation(layer) == "relu" else 1.0)
                elif name == "kernel" and kind == "DepthwiseConv2D":
                    fan_in = shape[0] * shape[1]
                elif name == "kernel" and len(shape) == 4:
                    fan_in = shape[0] * shape[1] * shape[2]
                elif name == "depthwise_kernel":
                    fan_in = shape[0] * shape[1]
                elif name == "pointwise_kernel":
                    fan_in = shape[2]
                if fan_in:
                    v = v / 0.1 / np.sqrt(fan_in)
            w.assign(np.asarray(v, dtype=dtype))


def _activation(layer):
    a = getattr(layer, "activation", None)
    return getattr(a, "__name__", str(a))


def scale_heads(model, heads, x):
    """Scales each head Dense's kernel so its logits on the preprocessed images x have std 2."""
    k = keras if isinstance(model, keras.Model) else tf_keras
    for name in heads:
        dense = model.get_layer(name)
        features = k.Model(model.inputs, dense.input).predict(x, verbose=0)
        kernel = np.asarray(dense.kernel.numpy())
        logits = features.reshape(len(x), -1) @ kernel
        gain = HEAD_LOGIT_STD / max(float(logits.std()), 1e-6)
        dense.kernel.assign((kernel * gain).astype(np.float32))


# ----------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------

def make_images(outdir):
    photos = os.path.join(outdir, "images", "photos")
    if not os.path.isdir(photos):
        sys.exit(f"{photos} missing: run scripts/make_images.py {outdir} first")
    root = os.path.join(outdir, "saved_models", "images")
    for src, dst in IMAGES:
        os.makedirs(os.path.dirname(os.path.join(root, dst)), exist_ok=True)
        if src is None:
            im = Image.open(os.path.join(photos, "city/china-444.jpg"))
            im.transpose(Image.Transpose.ROTATE_90).save(
                os.path.join(root, dst), "JPEG", quality=90)
        else:
            shutil.copy(os.path.join(photos, src), os.path.join(root, dst))
    # flow_from_directory(shuffle=False): sorted class folders, then sorted files in each.
    rows = []
    for cls in sorted(os.listdir(root)):
        for f in sorted(os.listdir(os.path.join(root, cls))):
            rows.append(f"{cls}/{f}")
    return root, rows


def load_images(root, rows, input_shape):
    h, w, c = input_shape
    mode = {1: "grayscale", 3: "rgb"}[c]
    return np.stack([
        keras.utils.img_to_array(keras.utils.load_img(
            os.path.join(root, r), target_size=(h, w), color_mode=mode,
            interpolation="nearest"))
        for r in rows]).astype(np.float32)


def preprocess(x, mode):
    if mode == "none":
        return x.copy()
    return keras.applications.imagenet_utils.preprocess_input(x.copy(), mode=mode)


# ----------------------------------------------------------------------------------------
# Models. Each builder takes the framework module (keras or tf_keras) and returns the model.
# ----------------------------------------------------------------------------------------

def seed_resnet50(k):
    base = k.applications.ResNet50(include_top=False, weights=None, pooling="avg",
                                   input_shape=(224, 224, 3))
    return k.Sequential([base, k.layers.Dense(2, activation="softmax")])


def seed_xception(k):
    base = k.applications.Xception(include_top=False, weights=None, input_shape=(150, 150, 3))
    inputs = k.Input((150, 150, 3))
    x = base(inputs, training=False)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Dense(10)(x)  # logits
    return k.Model(inputs, outputs)


def seed_inceptionv3(k):
    base = k.applications.InceptionV3(include_top=False, weights=None, input_shape=(299, 299, 3))
    x = k.layers.GlobalAveragePooling2D()(base.output)
    x = k.layers.Dense(1024, activation="relu")(x)
    outputs = k.layers.Dense(200, activation="softmax")(x)
    return k.Model(base.input, outputs)


def seed_mobilenet(k):
    base = k.applications.MobileNet(include_top=False, weights=None, input_shape=(224, 224, 3))
    inputs = k.Input((224, 224, 3))
    x = base(inputs)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Dense(3, activation="softmax")(x)
    return k.Model(inputs, outputs)


def sample_shape(k):
    """The README's sample: MobileNetV2 (alpha 1.0, 160x160) nested, GAP, Dense(19, softmax)."""
    base = k.applications.MobileNetV2(alpha=1.0, include_top=False, weights=None,
                                      input_shape=(160, 160, 3))
    base.trainable = False
    inputs = k.Input((160, 160, 3))
    x = base(inputs, training=False)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Dropout(0.2)(x)
    outputs = k.layers.Dense(19, activation="softmax")(x)
    return k.Model(inputs, outputs)


def preprocess_inside_mobilenetv2(k):
    """mobilenet_v2.preprocess_input called on the Input: x / 127.5 - 1 inside the graph."""
    base = k.applications.MobileNetV2(alpha=0.35, include_top=False, weights=None,
                                      input_shape=(96, 96, 3))
    inputs = k.Input((96, 96, 3))
    x = k.applications.mobilenet_v2.preprocess_input(inputs)
    x = base(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Dense(4, activation="softmax")(x)
    return k.Model(inputs, outputs)


def preprocess_inside_caffe(k):
    """resnet50.preprocess_input ("caffe": RGB -> BGR, minus the ImageNet means) called on the
    Input, before a small CNN."""
    inputs = k.Input((64, 64, 3))
    x = k.applications.resnet50.preprocess_input(inputs)
    x = k.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = k.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Dense(4, activation="softmax")(x)
    return k.Model(inputs, outputs)


def augmentation(k):
    """Keras' tutorial shape: a Sequential of random layers (identity at inference),
    Rescaling(1/255), a small CNN."""
    L = k.layers
    augment = k.Sequential([
        L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1),
        L.RandomContrast(0.2), L.RandomTranslation(0.1, 0.1),
    ], name="data_augmentation")
    inputs = k.Input((64, 64, 3))
    x = augment(inputs)
    x = L.Rescaling(1.0 / 255)(x)
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D()(x)
    x = L.Flatten()(x)
    x = L.Dense(32, activation="relu")(x)
    outputs = L.Dense(5, activation="softmax")(x)
    return k.Model(inputs, outputs)


def grayscale(k):
    """One channel in: images are read with convert("L")."""
    L = k.layers
    return k.Sequential([
        k.Input((48, 48, 1)),
        L.Rescaling(1.0 / 255),
        L.Conv2D(8, 3, activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Conv2D(16, 3, activation="relu"),
        L.GlobalAveragePooling2D(),
        L.Dense(7, activation="softmax"),
    ])


def two_outputs(k):
    """A shared trunk, a softmax head and a sigmoid head: `-o x.npz` holds one array per output."""
    L = k.layers
    inputs = k.Input((64, 64, 3))
    x = L.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = L.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = L.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    species = L.Dense(3, activation="softmax", name="species")(x)
    is_cat = L.Dense(1, activation="sigmoid", name="is_cat")(x)
    return k.Model(inputs, [species, is_cat])


def lambda_layer(k):
    L = k.layers
    inputs = k.Input((32, 32, 3))
    x = L.Conv2D(4, 3)(inputs)
    x = L.Lambda(lambda t: t * 2.0 + 1.0)(x)
    x = L.GlobalAveragePooling2D()(x)
    return k.Model(inputs, L.Dense(2)(x))


# --- the layer zoo: small models on 24x24 (or so) images scaled to [-1, 1] ---------------

def _zoo_input(k, size=24):
    inputs = k.Input((size, size, 3))
    return inputs, k.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)


def _dense_activations(k):
    return ["relu", "elu", "selu", "tanh", "sigmoid", "softmax", "softplus", "softsign",
            "leaky_relu", "gelu", "swish", "silu", "linear", "exponential", "hard_sigmoid",
            "relu6"]


def zoo_dense_activations(k):
    L = k.layers
    inputs, x = _zoo_input(k, 16)
    x = L.Conv2D(4, 3, strides=2)(x)
    x = L.Flatten()(x)
    x = L.Dense(16)(x)
    heads = [L.Dense(6, activation=a, name=f"dense_{a}")(x) for a in _dense_activations(k)]
    return k.Model(inputs, L.Concatenate()(heads))


def zoo_activation_layers(k):
    L = k.layers
    leaky = (L.LeakyReLU(negative_slope=0.2) if k is keras else L.LeakyReLU(alpha=0.2))
    inputs, x = _zoo_input(k, 16)
    x = L.Conv2D(4, 3, strides=2)(x)
    x = L.Flatten()(x)
    x = L.Dense(24)(x)
    x = L.BatchNormalization()(x)  # after Dense
    branches = [
        L.Activation("relu")(x), L.Activation("tanh")(x), L.Activation("sigmoid")(x),
        L.Activation("swish")(x), L.Activation("gelu")(x), L.Activation("softmax")(x),
        L.ReLU()(x), L.ReLU(max_value=6.0)(L.Dense(24)(x)),
        L.ReLU(negative_slope=0.1, threshold=0.5)(x), leaky(x), L.ELU(alpha=0.7)(x),
        L.Softmax()(x),
    ]
    return k.Model(inputs, L.Concatenate()(branches))


def zoo_conv(k):
    L = k.layers
    inputs, x = _zoo_input(k, 23)  # odd: 'same' with stride 2 pads bottom/right
    a = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)           # 12x12
    b = L.Conv2D(8, 3, strides=2, padding="valid", activation="tanh")(x)          # 11x11
    c = L.Conv2D(8, 3, dilation_rate=2, padding="same", activation="elu")(a)      # 12x12
    d = L.Conv2D(8, (1, 3), padding="valid", use_bias=False)(b)                   # 11x9
    d = L.BatchNormalization()(d)                                                 # after Conv
    e = L.SeparableConv2D(8, 3, padding="same", depth_multiplier=2,
                          activation="sigmoid")(c)                                # 12x12
    f = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                          activation="relu6")(e)                                  # 6x6x16
    g = L.DepthwiseConv2D(3, padding="valid", use_bias=False)(d)                  # 9x7x8
    up = L.UpSampling2D(2)(f)                                                     # 12x12x16
    h = L.Conv2D(4, 5, strides=(2, 1), padding="same", activation="swish")(up)    # 6x12x4
    out = [L.Flatten()(t) for t in (a, b, c, d, e, f, g, h)]
    return k.Model(inputs, L.Concatenate()(out))


def zoo_upsampling_bilinear(k):
    L = k.layers
    inputs, x = _zoo_input(k, 12)
    x = L.Conv2D(4, 3, strides=2, padding="same")(x)              # 6x6x4
    a = L.UpSampling2D(2, interpolation="bilinear")(x)             # 12x12x4
    b = L.UpSampling2D((3, 2), interpolation="bilinear")(x)        # 18x12x4
    return k.Model(inputs, L.Concatenate()([L.Flatten()(a), L.Flatten()(b)]))


def zoo_pooling(k):
    L = k.layers
    inputs, x = _zoo_input(k, 23)
    x = L.Conv2D(6, 3, padding="same")(x)
    parts = [
        L.MaxPooling2D(3, strides=2, padding="same")(x), L.MaxPooling2D(2, padding="valid")(x),
        L.AveragePooling2D(3, strides=2, padding="same")(x),
        L.AveragePooling2D(2, padding="valid")(x),
        L.GlobalAveragePooling2D(keepdims=True)(x), L.GlobalMaxPooling2D(keepdims=True)(x),
        L.GlobalAveragePooling2D()(x), L.GlobalMaxPooling2D()(x),
    ]
    return k.Model(inputs, L.Concatenate()([L.Flatten()(p) for p in parts]))


def zoo_merge(k):
    """Every merge layer; the same Conv2D applied to two branches; a nested Sequential."""
    L = k.layers
    inputs, x = _zoo_input(k, 16)
    a = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    b = L.Conv2D(6, 3, padding="same", activation="tanh")(x)
    shared = L.Conv2D(6, 1, name="shared_conv")
    sa, sb = shared(a), shared(b)  # one layer, two nodes
    block = k.Sequential([L.Conv2D(6, 3, padding="same"), L.BatchNormalization(), L.ReLU()],
                         name="nested_block")
    n = block(sa)
    merged = [
        L.Add()([sa, sb, n]), L.Subtract()([sa, sb]), L.Multiply()([sa, sb]),
        L.Average()([sa, sb, n]), L.Maximum()([sa, sb]), L.Minimum()([sa, n]),
        L.Concatenate(axis=-1)([a, b]),
    ]
    return k.Model(inputs, L.Concatenate()([L.Flatten()(m) for m in merged]))


def zoo_reshape(k):
    L = k.layers
    inputs, x = _zoo_input(k, 20)
    x = L.Conv2D(4, 3, padding="same")(x)                          # 20x20x4
    a = L.ZeroPadding2D(((1, 2), (3, 0)))(x)                        # 23x23x4
    a = L.Conv2D(4, 3, strides=2)(a)                                # 11x11x4
    b = L.Cropping2D(((2, 1), (0, 3)))(x)                           # 17x17x4
    c = L.CenterCrop(12, 10)(x)                                     # 12x10x4
    d = L.Permute((2, 1, 3))(c)                                     # 10x12x4
    e = L.Reshape((30, 16))(d)                                      # 30x16
    e = L.Dense(5)(e)                                               # per-row Dense: 30x5
    f = L.Reshape((-1,))(b)
    return k.Model(inputs, L.Concatenate()([L.Flatten()(a), f, L.Flatten()(d),
                                            L.Flatten()(e)]))


def zoo_normalization(k):
    """Rescaling, Normalization adapted (mean/variance/count as weights) and with mean and
    variance given (in the config), BatchNormalization with centre/scale off."""
    L = k.layers
    inputs = k.Input((16, 16, 3))
    adapted = L.Normalization(axis=-1)
    rng = np.random.default_rng(seed_of("zoo_normalization adapt"))
    adapted.adapt(rng.uniform(0, 255, size=(64, 16, 16, 3)).astype(np.float32))
    a = adapted(inputs)
    b = L.Normalization(mean=[120.0, 110.0, 100.0], variance=[3600.0, 3000.0, 2500.0])(inputs)
    c = L.Rescaling(1 / 64.0, offset=-2.0)(inputs)
    d = L.Conv2D(4, 3)(a)
    d = L.BatchNormalization(center=False, scale=False, epsilon=0.01)(d)
    return k.Model(inputs, L.Concatenate()([L.Flatten()(t) for t in (a, b, c, d)]))


def zoo_inference_identity(k):
    """Layers that are the identity in predict()."""
    L = k.layers
    inputs, x = _zoo_input(k, 16)
    x = L.Conv2D(6, 3)(x)
    x = L.SpatialDropout2D(0.3)(x)
    x = L.GaussianNoise(0.5)(x)
    x = L.GaussianDropout(0.3)(x)
    x = L.Dropout(0.5)(x)
    x = L.ActivityRegularization(l1=0.01, l2=0.01)(x)
    x = L.Flatten()(x)
    x = L.AlphaDropout(0.2)(x) if hasattr(L, "AlphaDropout") else x
    return k.Model(inputs, L.Dense(8)(x))


# ----------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------

class Case:
    def __init__(self, base, group, builder, preprocess="none", writers=ALL_WRITERS,
                 frozen=None, heads=(), args=(), layer=None, expect_error=None):
        self.base, self.group, self.builder = base, group, builder
        self.preprocess, self.writers, self.frozen = preprocess, writers, frozen
        self.heads, self.args, self.layer = list(heads), list(args), layer
        self.expect_error = expect_error


def _cases():
    cases = []
    seeds = [("resnet50", seed_resnet50, "caffe", ["dense"]),
             ("xception", seed_xception, "tf", ["dense"]),
             ("inceptionv3", seed_inceptionv3, "tf", ["dense_1"]),
             ("mobilenet", seed_mobilenet, "tf", ["dense"])]
    for name, build, mode, heads in seeds:
        for frozen in (True, False):
            # InceptionV3 is built on base.output, so no keras.applications model is nested
            # to take the preprocessing from: the user names it, as for any flat model.
            cases.append(Case(f"seed_{name}_{'frozen' if frozen else 'unfrozen'}", "seed", build,
                              mode, frozen=frozen, heads=heads,
                              args=["--preprocess", "tf"] if name == "inceptionv3" else []))
    cases.append(Case("sample_mobilenetv2_160", "sample", sample_shape, "tf", writers=("k3.h5",),
                      heads=["dense"]))
    cases.append(Case("sample_mobilenetv2_160_gap", "sample", sample_shape, "tf",
                      writers=("k3.h5",), heads=["dense"],
                      args=["--layer", "global_average_pooling2d"],
                      layer="global_average_pooling2d"))
    # The tool cannot know the model preprocesses itself: the user says --preprocess none.
    cases.append(Case("preprocess_inside_mobilenetv2", "preprocess_inside",
                      preprocess_inside_mobilenetv2, heads=["dense"],
                      args=["--preprocess", "none"]))
    cases.append(Case("preprocess_inside_caffe", "preprocess_inside", preprocess_inside_caffe,
                      heads=["dense"], args=["--preprocess", "none"]))
    cases.append(Case("augmentation", "augmentation", augmentation, heads=["dense_1"]))
    cases.append(Case("grayscale", "grayscale", grayscale, heads=["dense"]))
    cases.append(Case("two_outputs", "two_outputs", two_outputs, heads=["species", "is_cat"]))
    for build in (zoo_dense_activations, zoo_activation_layers, zoo_conv,
                  zoo_upsampling_bilinear, zoo_pooling, zoo_merge, zoo_reshape,
                  zoo_normalization, zoo_inference_identity):
        cases.append(Case(build.__name__, "zoo", build))
    cases.append(Case("lambda", "lambda", lambda_layer, expect_error=["lambda"]))
    return cases


def model_config(path, fmt):
    if fmt == "keras":
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    with h5py.File(path, "r") as f:
        config = f.attrs["model_config"]
        return json.loads(config.decode() if isinstance(config, bytes) else config)


def config_classes(config):
    """Every class_name of a layer in the config, nested models walked."""
    found = set()

    def walk(layer):
        found.add(layer["class_name"])
        for sub in layer.get("config", {}).get("layers", []) or []:
            walk(sub)

    walk(config)
    return sorted(found)


def output_names(model):
    """The output layers' names, in model.outputs order."""
    if isinstance(model, keras.Model):
        return [t._keras_history[0].name for t in model.outputs]
    return list(model.output_names)


def reload_check(framework, path, x, expected):
    """Whether the writer's own load_model reads the file back to the same outputs."""
    try:
        if framework == "k3":
            model = keras.models.load_model(path, compile=False, safe_mode=True)
        else:
            model = tf_keras.models.load_model(path, compile=False)
        got = model.predict(x, verbose=0)
        got = got if isinstance(got, list) else [got]
        worst = max(float(np.max(np.abs(g.reshape(len(x), -1) - e)))
                    for g, e in zip(got, expected))
        return "ok" if worst <= 1e-5 * max(1.0, max(float(np.abs(e).max()) for e in expected)) \
            else f"reloaded outputs differ by {worst:.3g}"
    except Exception as e:  # noqa: BLE001  (recorded: the file is still what the tool reads)
        return f"fails: {type(e).__name__}: {str(e).splitlines()[0][:200]}"


def make_case(case, tag, out, root, rows):
    framework, writer, fmt = WRITERS[tag]
    k = keras if framework == "k3" else tf_keras
    k.backend.clear_session()
    k.utils.set_random_seed(seed_of(case.base))
    model = case.builder(k)
    input_shape = [int(d) for d in model.inputs[0].shape[1:]]
    x = preprocess(load_images(root, rows, input_shape), case.preprocess)
    randomize(model, seed_of(case.base))
    if case.heads:
        scale_heads(model, case.heads, x)
    if case.frozen:
        nested = [l for l in model.layers if hasattr(l, "layers")]
        if nested:  # base.trainable = False on the nested backbone
            nested[0].trainable = False
        else:  # built on base.output: the backbone's layers are the model's own
            for layer in model.layers:
                if type(layer).__name__ not in ("GlobalAveragePooling2D", "Dense"):
                    layer.trainable = False

    name = f"{case.base}.{tag}"
    rel = f"saved_models/{name}"
    path = out(rel)
    model.save(path)
    config = model_config(path, fmt)
    with open(out(f"{rel}.config.json"), "w") as f:
        json.dump(config, f, indent=1)
    entry = {"name": name, "group": case.group, "file": rel, "writer": writer, "format": fmt,
             "args": case.args, "outputs": {}, "input": input_shape,
             "preprocess": case.preprocess, "classes": config_classes(config)}
    if case.layer:
        entry["layer"] = case.layer
    if case.expect_error:
        entry["expect_error"] = case.expect_error
        return entry

    if case.layer:
        probe = k.Model(model.inputs, model.get_layer(case.layer).output)
        names, predicted = [case.layer], [probe.predict(x, verbose=0)]
    else:
        predicted = model.predict(x, verbose=0)
        predicted = predicted if isinstance(predicted, list) else [predicted]
        names = output_names(model)
    flat = []
    for output, y in zip(names, predicted):
        y = np.asarray(y, np.float32).reshape(len(rows), -1)
        if not np.all(np.isfinite(y)):
            raise SystemExit(f"{name}: non-finite output {output}")
        npy = f"{rel}.{output}.npy"
        np.save(out(npy), y)
        entry["outputs"][output] = npy
        flat.append(y)
    if not case.layer:
        entry["keras_reload"] = reload_check(framework, path, x, flat)
    return entry


def main(outdir, prefixes):
    start = time.time()
    out = lambda rel: os.path.join(outdir, rel)  # noqa: E731
    os.makedirs(out("saved_models"), exist_ok=True)
    root, rows = make_images(outdir)
    index = {"images": "saved_models/images", "filenames": rows, "cases": []}
    for case in _cases():
        if prefixes and not any(case.base.startswith(p) for p in prefixes):
            continue
        for tag in case.writers:
            t = time.time()
            entry = make_case(case, tag, out, root, rows)
            index["cases"].append(entry)
            size = os.path.getsize(out(entry["file"]))
            print(f"saved_models: {entry['name']}: {size / 1e6:.1f} MB, "
                  f"{', '.join(entry['outputs']) or 'error case'}, "
                  f"reload {entry.get('keras_reload', '-')}, {time.time() - t:.1f} s",
                  flush=True)
    with open(out("saved_models/index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(f"saved_models: {len(index['cases'])} cases in {time.time() - start:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__.split("\n\n")[1])
    main(sys.argv[1], sys.argv[2:])
