#!/usr/bin/env python3
"""The Python processes scripts/bench.py starts and times; one job per process.

Usage:  python scripts/bench_worker.py JOB ARGS...   (bench.py runs these; not meant by hand)

  prepare ARCH DIR N          seeded weights DIR/w.h5 (legacy layout), DIR/model.onnx (Keras 3
                              model.export(format="onnx"), i.e. tf2onnx), DIR/ref.npz (N seeded
                              preprocessed inputs and Keras' pooling="avg" output); prints the
                              ONNX model's agreement with Keras and the versions
  keras-model ARCH W REF      Keras predict_on_batch over REF's inputs at batch 1 and 32
  ort-model ONNX REF T        InferenceSession.run over REF's inputs at batch 1 and 32
  keras-e2e ARCH W DIR OUT    the plain Keras script: load_img + preprocess_input + predict
  ort-e2e ARCH ONNX DIR OUT T the same with ONNX Runtime (PIL + numpy, no TensorFlow import)
  ort-profile ONNX REF T K     ONNX Runtime's own per-node profile (SessionOptions.enable_profiling)
                              over REF's inputs at batch 1 on T threads: ms per image by op type
                              and the K slowest nodes, to set beside `extract verify --profile`
  compare REF.npy A.npy ...   max|a - ref| / max|ref| for each A

Each job prints one JSON line on stdout. Imports happen inside the jobs, so a timed process
imports exactly what that job needs: the end-to-end scripts' wall time (bench.py measures it
from outside) includes their interpreter start and imports, as a user's would.
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import MODELS  # noqa: E402  (a table; bench.py imports nothing heavy)

BATCHES = (1, 32)


def keras_model(arch, weights):
    """The backbone as a user builds it from a weights file: keras.applications with
    weights=PATH (EfficientNet: weights="imagenet" with the download answered by PATH, since
    only that variant has the Rescaling(1/sqrt(std)) layer after Normalization that the
    published files, our tool and the exported ONNX model have)."""
    import keras
    m = MODELS[arch]
    build = getattr(keras.applications, m.keras)
    kwargs = dict(include_top=False, input_shape=(m.size, m.size, 3), pooling="avg", **m.kwargs)
    if arch.startswith("EfficientNet"):
        from unittest import mock
        from keras.src.applications import efficientnet
        with mock.patch.object(efficientnet.file_utils, "get_file", return_value=weights):
            return build(weights="imagenet", **kwargs)
    return build(weights=weights, **kwargs)


def numpy_preprocess(x, mode):
    """preprocess_input of keras.applications.imagenet_utils on a float32 (N, H, W, 3) RGB
    array, in numpy (what an ONNX Runtime script does without importing Keras); `prepare`
    checks it is bit-identical to Keras' on the benchmark's inputs."""
    import numpy as np
    if mode == "caffe":  # RGB -> BGR, minus the ImageNet mean, no scaling
        return x[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    if mode == "tf":  # [0, 255] -> [-1, 1]
        return x / np.float32(127.5) - np.float32(1)
    if mode == "torch":  # [0, 1], minus mean, over std, per RGB channel
        mean = np.array([0.485, 0.456, 0.406], np.float32)
        std = np.array([0.229, 0.224, 0.225], np.float32)
        return (x / np.float32(255) - mean) / std
    return x  # "none": the model rescales inside (EfficientNet)


def ort_session(path, threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # one operator on all cores, as TF and ours do
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def rel_err(a, ref):
    import numpy as np
    return float(np.abs(a.astype(np.float64) - ref).max() / np.abs(ref).max())


def prepare(arch, folder, n):
    import h5py
    import numpy as np
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx
    from keras.src.legacy.saving import legacy_h5_format
    from make_fixtures import (BACKBONE_BUILDERS, _refresh_state, _scale_conv_kernels,
                               legacy_order, randomize, seed_of)
    m = MODELS[arch]
    build, gain = BACKBONE_BUILDERS[arch]
    keras.utils.set_random_seed(seed_of(arch))
    model = build("avg", m.size)
    # As the parity fixtures: every array seeded, kernels at He-like scale so activations stay
    # O(1) through the whole network (a meaningful agreement check, realistic arithmetic).
    randomize(legacy_order(model), seed_of(f"{arch} bench"))
    _scale_conv_kernels(model, gain)
    _refresh_state(model)
    with h5py.File(os.path.join(folder, "w.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)

    rng = np.random.default_rng(seed_of(f"bench inputs {m.size}"))
    pixels = rng.integers(0, 256, size=(n, m.size, m.size, 3)).astype(np.float32)
    x = getattr(keras.applications, m.module).preprocess_input(pixels.copy())
    same_preprocess = bool(np.array_equal(x, numpy_preprocess(pixels, m.preprocess)))
    y = model.predict(x, batch_size=32, verbose=0)
    np.savez(os.path.join(folder, "ref.npz"), inputs=x, avg=y)

    # tf2onnx turns the tensors a traced function captures into graph inputs, and
    # Normalization.finalize_state() leaves its mean and variance as such tensors (EfficientNet:
    # "Required inputs ['.../normalization_1/Sub/y:0', ...] are missing"); as numpy arrays they
    # are traced as constants, the same values.
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            layer.mean, layer.variance = np.asarray(layer.mean), np.asarray(layer.variance)
    onnx_path = os.path.join(folder, "model.onnx")
    start = time.perf_counter()
    model.export(onnx_path, format="onnx", verbose=False)
    export_seconds = time.perf_counter() - start
    session = ort_session(onnx_path, 1)
    name = session.get_inputs()[0].name
    y_ort = np.concatenate([session.run(None, {name: x[i:i + 32]})[0]
                            for i in range(0, n, 32)])
    opset = max(o.version for o in onnx.load(onnx_path, load_external_data=False).opset_import
                if o.domain in ("", "ai.onnx"))
    return {"onnx_vs_keras": rel_err(y_ort, y), "numpy_preprocess_exact": same_preprocess,
            "opset": opset, "export_seconds": export_seconds, "output": list(y.shape),
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                         "onnxruntime": onnxruntime.__version__, "tf2onnx": tf2onnx.__version__,
                         "onnx": onnx.__version__}}


def time_batches(predict, x):
    """images/s of predict over x in slices of each batch size, after one warm-up call per
    shape (graph tracing, allocation); and the batch-32 outputs."""
    import numpy as np
    for b in BATCHES:
        predict(x[:b])
    rates, outputs = {}, None
    for b in BATCHES:
        start = time.perf_counter()
        ys = [predict(x[i:i + b]) for i in range(0, len(x), b)]
        rates[f"b{b}"] = len(x) / (time.perf_counter() - start)
        outputs = np.concatenate(ys)
    return rates, outputs


def keras_model_only(arch, weights, ref):
    import numpy as np
    data = np.load(ref)
    model = keras_model(arch, weights)
    rates, y = time_batches(model.predict_on_batch, data["inputs"])
    return {**rates, "vs_ref": rel_err(np.asarray(y), data["avg"])}


def ort_model_only(onnx_path, ref, threads):
    import numpy as np
    data = np.load(ref)
    session = ort_session(onnx_path, int(threads))
    name = session.get_inputs()[0].name
    rates, y = time_batches(lambda b: session.run(None, {name: b})[0], data["inputs"])
    return {**rates, "vs_ref": rel_err(y, data["avg"])}


def ort_profile(onnx_path, ref, threads, top):
    """Per node and per op type, ms per image: the `Node` events (kernel time only, named
    `<node>_kernel_time`) of ORT's JSON trace over every input at batch 1, after one warm-up
    run outside the trace's count."""
    import tempfile
    import numpy as np
    import onnxruntime as ort
    data = np.load(ref)
    x = data["inputs"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    session.run(None, {name: x[:1]})
    start = time.perf_counter()
    for i in range(len(x)):
        session.run(None, {name: x[i:i + 1]})
    wall = time.perf_counter() - start
    with open(session.end_profiling()) as f:
        events = json.load(f)
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    # The warm-up run is the first model_run; count only nodes that start after it ended.
    after = runs[0]["ts"] + runs[0]["dur"] if len(runs) > len(x) else -1
    nodes, ops = {}, {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < after:
            continue
        node, op = e["name"][:-len("_kernel_time")], e.get("args", {}).get("op_name", "?")
        ms = e["dur"] / 1000 / len(x)
        nodes[node] = (op, nodes.get(node, (op, 0))[1] + ms)
        ops[op] = ops.get(op, 0) + ms
    slowest = sorted(nodes.items(), key=lambda kv: -kv[1][1])[:int(top)]
    return {"images": len(x), "threads": int(threads), "wall_ms": 1000 * wall / len(x),
            "kernel_ms": sum(ops.values()),
            "ops": sorted(([op, ms] for op, ms in ops.items()), key=lambda r: -r[1]),
            "slowest": [[node, op, ms] for node, (op, ms) in slowest]}


def keras_e2e(arch, weights, folder, out):
    """What a Keras user runs: every image through load_img + preprocess_input, then predict."""
    import numpy as np
    import keras
    m = MODELS[arch]
    model = keras_model(arch, weights)
    preprocess_input = getattr(keras.applications, m.module).preprocess_input
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    x = np.stack([keras.utils.img_to_array(keras.utils.load_img(f, target_size=(m.size, m.size)))
                  for f in files])
    np.save(out, model.predict(preprocess_input(x), batch_size=32, verbose=0))
    return {"images": len(files)}


def ort_e2e(arch, onnx_path, folder, out, threads):
    """The same with ONNX Runtime: load_img's decoding (PIL, RGB, nearest resize) and
    preprocess_input in numpy, InferenceSession.run in batches of 32."""
    import numpy as np
    from PIL import Image
    m = MODELS[arch]
    session = ort_session(onnx_path, int(threads))
    name = session.get_inputs()[0].name

    def load(path):
        img = Image.open(path)
        if img.mode != "RGB":
            img = img.convert("RGB")
        if img.size != (m.size, m.size):
            img = img.resize((m.size, m.size), Image.NEAREST)
        return np.asarray(img, dtype=np.float32)

    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    x = numpy_preprocess(np.stack([load(f) for f in files]), m.preprocess)
    np.save(out, np.concatenate([session.run(None, {name: x[i:i + 32]})[0]
                                 for i in range(0, len(x), 32)]))
    return {"images": len(files)}


def compare(ref, *others):
    import numpy as np
    r = np.load(ref)
    return {path: rel_err(np.load(path), r) for path in others}


JOBS = {"prepare": lambda a, d, n: prepare(a, d, int(n)), "keras-model": keras_model_only,
        "ort-model": ort_model_only, "keras-e2e": keras_e2e, "ort-e2e": ort_e2e,
        "ort-profile": ort_profile, "compare": compare}

if __name__ == "__main__":
    print(json.dumps(JOBS[sys.argv[1]](*sys.argv[2:])), flush=True)
