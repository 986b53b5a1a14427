#!/usr/bin/env python3
"""Images per second, our tool against TensorFlow/Keras, side by side in one run.

Usage:  .venv/bin/python scripts/bench.py [--images 32] [--repeat 3] [MODEL_ID ...]
        (after `swift build -c release`; MODEL_IDs are catalog ids, default: the seed models)

For each model: the same seeded weights (written in the published legacy layout), the same
folder of JPEG photographs (the test fixtures' photos, repeated to --images), then
  ours   `extract --batch-size B` on the folder, end to end (decode, resize, preprocess,
         inference, writing), from the run record's images/s; and the whole process's wall time
  keras  load_img + preprocess_input per image, then predict_on_batch at batch 1 and batch 32
Each measurement is repeated --repeat times, alternating tools, and the median is printed with
the ratio ours/keras. Absolute numbers on a shared machine are noise; the ratios are the figure.
Not a test: run it by hand (issue 5 adds ONNX Runtime to it).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402
from make_fixtures import BACKBONE_BUILDERS, legacy_order, randomize, seed_of  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A = keras.applications
# catalog id -> (--model arguments, default size, preprocess_input)
MODELS = {
    "ResNet50": (["--model", "resnet50"], 224, A.resnet50.preprocess_input),
    "VGG16": (["--model", "vgg16"], 224, A.vgg16.preprocess_input),
    "MobileNet_1.0": (["--model", "mobilenet"], 224, A.mobilenet.preprocess_input),
    "MobileNetV2_1.0": (["--model", "mobilenetv2"], 224, A.mobilenet_v2.preprocess_input),
    "InceptionV3": (["--model", "inceptionv3"], 299, A.inception_v3.preprocess_input),
    "Xception": (["--model", "xception"], 299, A.xception.preprocess_input),
    "DenseNet121": (["--model", "densenet121"], 224, A.densenet.preprocess_input),
    "EfficientNetB0": (["--model", "efficientnetb0"], 224, A.efficientnet.preprocess_input),
}


def photo_folder(n, tmp):
    src = os.path.join(ROOT, ".fixtures", "current", "images", "photos")
    photos = sorted(os.path.join(r, f) for r, _, fs in os.walk(src) for f in fs
                    if f.lower().endswith((".jpg", ".jpeg")))
    if not photos:
        sys.exit("bench: no fixture photos; run scripts/test.sh once first")
    out = os.path.join(tmp, "imgs")
    os.makedirs(out)
    for i in range(n):
        shutil.copy(photos[i % len(photos)], os.path.join(out, f"{i:05d}.jpg"))
    return out


def ours(binary, args, weights, folder, batch, tmp):
    out = os.path.join(tmp, "f.npy")
    t = time.perf_counter()
    subprocess.run([binary, *args, "--weights", weights, "--quiet", "--batch-size", str(batch),
                    folder, "-o", out], check=True)
    wall = time.perf_counter() - t
    record = json.load(open(os.path.join(tmp, "f.run.json")))
    return record["images_per_second"], record["counts"]["written"] / wall


def keras_rates(model, pre, size, folder, batch):
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    t = time.perf_counter()
    x = pre(np.stack([keras.utils.img_to_array(keras.utils.load_img(f, target_size=(size, size)))
                      for f in files]))
    for i in range(0, len(files), batch):
        model.predict_on_batch(x[i:i + batch])
    return len(files) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=list(MODELS))
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "extract"))
    a = ap.parse_args()
    print(f"{a.images} JPEG photos per run, median of {a.repeat}; images/s end to end "
          f"(decode + resize + preprocess + inference)")
    print(f"{'model':18s} {'ours b1':>8s} {'ours b32':>9s} {'ours wall':>10s} "
          f"{'keras b1':>9s} {'keras b32':>10s} {'ours/keras b1':>14s} {'ours/keras b32':>15s}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = photo_folder(a.images, tmp)
        for arch in a.models:
            args, size, pre = MODELS[arch]
            build, _ = BACKBONE_BUILDERS[arch]
            keras.backend.clear_session()
            model = build("avg", size)
            randomize(legacy_order(model), seed_of(f"{arch} bench"))
            weights = os.path.join(tmp, "w.h5")
            with h5py.File(weights, "w") as f:
                legacy_h5_format.save_weights_to_hdf5_group(f, model)
            extra = ["--alpha", arch.split("_")[1]] if arch.startswith("MobileNet") else []
            keras_rates(model, pre, size, folder, 32)  # warm-up: graph tracing
            r = {k: [] for k in ("o1", "o32", "wall", "k1", "k32")}
            for _ in range(a.repeat):
                for b in (1, 32):
                    rate, wall = ours(a.binary, args + extra, weights, folder, b, tmp)
                    r[f"o{b}"].append(rate)
                    if b == 32:
                        r["wall"].append(wall)
                    r[f"k{b}"].append(keras_rates(model, pre, size, folder, b))
            m = {k: statistics.median(v) for k, v in r.items()}
            print(f"{arch:18s} {m['o1']:8.1f} {m['o32']:9.1f} {m['wall']:10.1f} {m['k1']:9.1f} "
                  f"{m['k32']:10.1f} {m['o1'] / m['k1']:14.2f} {m['o32'] / m['k32']:15.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
