#!/usr/bin/env python3
"""Our tool against TensorFlow/Keras and ONNX Runtime, side by side in one run (issue 5).

Usage:  scripts/bench_setup.sh          (once: .venv-bench/ with TensorFlow, ONNX Runtime, tf2onnx)
        .venv-bench/bin/python scripts/bench.py [MODEL_ID ...] [--repeat 3] [--images 256]
            [--model-images 64] [--threads T] [--quick] [--markdown] [--binary PATH]
            [--profile [K]]
        (after `swift build -c release`; MODEL_IDs from MODELS below, default: all of them)

Per model, one set of seeded weights (make_fixtures' builders and randomizer, written in the
published legacy .h5 layout) is shared by all three:
  TF    keras.applications.X(include_top=False, pooling="avg", weights=W.h5)
  ORT   the same Keras model exported with Keras 3's `model.export(path, format="onnx")`, which
        converts the traced TensorFlow function with tf2onnx (opset printed; Normalization's mean
        and variance are made constants first, or tf2onnx leaves them as graph inputs); the ONNX
        model's output on the benchmark's inputs is compared with Keras' and printed
  ours  `extract --model ... --weights W.h5`

Model only (the inputs already preprocessed, float32, in memory; N seeded images at the model's
default size): Keras `predict_on_batch` and ORT `InferenceSession.run` at batch 1 and batch 32,
after one warm-up call per batch shape; ours `extract verify REF.npz --threads T`, whose images/s
column times our model on the same inputs (one pass, no warm-up; one image per thread, never
batched, so one figure, compared with both of theirs) and whose error column re-checks our output
against Keras'.
End to end: a folder of --images JPEGs (the fixture photos copied under new names) to features
on disk, each tool a fresh process timed from start to exit: ours `extract ... DIR -o feats.npy`;
TF a Python script doing load_img + preprocess_input + model.predict(batch_size=32) + np.save;
ORT the same script with PIL + numpy for load_img/preprocess_input and InferenceSession.run.
The scripts are the jobs of scripts/bench_worker.py.

Threads: ours --threads T, ORT intra_op_num_threads T (inter_op 1, sequential), TensorFlow its
defaults (one intra-op pool over every core); T defaults to the CPU count.
Each repetition runs the three tools in turn, the order rotating; the tables give medians of
--repeat repetitions and the largest peak resident memory (max RSS of the process, from
os.wait4). Ratios are the figures; absolute numbers on a shared machine are noise.
Not a test: run it by hand on a quiet machine.
"""
import argparse
import collections
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Keep this process small: Linux starts a child's ru_maxrss at its parent's high-water mark, so
# a parent holding TensorFlow would inflate every measured peak. All heavy work (TensorFlow,
# numpy, ONNX) happens in bench_worker.py processes.
ROOT = os.path.dirname(os.path.abspath(os.path.dirname(__file__)))
WORKER = os.path.join(ROOT, "scripts", "bench_worker.py")

Model = collections.namedtuple("Model", "args size keras kwargs module preprocess")
# catalog id (as in make_fixtures.BACKBONE_BUILDERS) -> extract's model arguments, default input
# side, keras.applications constructor and arguments, preprocess_input's module and its mode
MODELS = {
    "ResNet50": Model(["--model", "resnet50"], 224, "ResNet50", {}, "resnet50", "caffe"),
    "VGG16": Model(["--model", "vgg16"], 224, "VGG16", {}, "vgg16", "caffe"),
    "MobileNet_1.0": Model(["--model", "mobilenet", "--alpha", "1.0"], 224, "MobileNet",
                           {"alpha": 1.0}, "mobilenet", "tf"),
    "MobileNetV2_1.0": Model(["--model", "mobilenetv2", "--alpha", "1.0"], 224, "MobileNetV2",
                             {"alpha": 1.0}, "mobilenet_v2", "tf"),
    "InceptionV3": Model(["--model", "inceptionv3"], 299, "InceptionV3", {}, "inception_v3", "tf"),
    "Xception": Model(["--model", "xception"], 299, "Xception", {}, "xception", "tf"),
    "DenseNet121": Model(["--model", "densenet121"], 224, "DenseNet121", {}, "densenet", "torch"),
    "EfficientNetB0": Model(["--model", "efficientnetb0"], 224, "EfficientNetB0", {},
                            "efficientnet", "none"),
}
TOOLS = ("ours", "tf", "ort")
TARGETS = ("targets (issue 5): model only ours/TF >= 1.5 and ours/ORT >= 1.0 at b1 and b32; "
           "end to end ours/TF >= 3; peak memory ours <= 0.5 x TF")


class Failed(Exception):
    pass


def run(cmd, workdir, name):
    """Runs cmd to its end: (wall seconds, peak RSS in MB, stdout). stdout and stderr go to
    files in workdir (no pipes to drain while timing); a failure raises with stderr's tail."""
    out_path, err_path = (os.path.join(workdir, f"{name}.{s}") for s in ("out", "err"))
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    text = open(out_path).read()
    if p.returncode != 0:
        tail = open(err_path).read().strip().splitlines()[-8:]
        raise Failed(f"{name} exited {p.returncode}: {' '.join(cmd[:3])} ...\n"
                     + "\n".join(["    " + line for line in text.strip().splitlines()[-4:] + tail]))
    return wall, usage.ru_maxrss / 1024, text


def worker(job, *args):
    return [sys.executable, WORKER, job, *map(str, args)]


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


# `extract verify` prints one row per output: name, shape, max|keras|, max abs err,
# err/max|keras|, max rel err, cosine, images/s, then ok or BEYOND TOLERANCE.
VERIFY_ROW = re.compile(r"^avg\s+\[[^\]]*\]\s+(?P<max_keras>\S+)\s+(?P<abs>\S+)\s+(?P<rel>\S+)\s+"
                        r"\S+\s+\S+\s+(?P<rate>\S+)\s+(?P<status>ok|BEYOND TOLERANCE)\s*$", re.M)


def photo_folder(n, tmp):
    src = os.path.join(ROOT, ".fixtures", "current", "images", "photos")
    photos = sorted(os.path.join(r, f) for r, _, fs in os.walk(src) for f in fs
                    if f.lower().endswith((".jpg", ".jpeg")))
    if not photos:
        sys.exit("bench: no fixture photos in .fixtures/current; run scripts/test.sh once first")
    out = os.path.join(tmp, "imgs")
    os.makedirs(out)
    for i in range(n):
        shutil.copy(photos[i % len(photos)], os.path.join(out, f"{i:05d}.jpg"))
    return out, len(photos)


def bench_model(arch, a, folder, tmp):
    """All measurements of one model: {"prepare": ..., "model": {tool: [...]}, "e2e": ...}."""
    m = MODELS[arch]
    work = os.path.join(tmp, arch)
    os.makedirs(work)
    weights, ref, onnx = (os.path.join(work, f) for f in ("w.h5", "ref.npz", "model.onnx"))
    log(f"{arch}: seeded weights, Keras reference, ONNX export")
    _, _, text = run(worker("prepare", arch, work, a.model_images), work, "prepare")
    r = {"prepare": last_json(text), "model": collections.defaultdict(list),
         "e2e": collections.defaultdict(list)}
    threads = str(a.threads)
    model_only = {
        "ours": [a.binary, "verify", ref, *m.args, "--weights", weights, "--threads", threads],
        "tf": worker("keras-model", arch, weights, ref),
        "ort": worker("ort-model", onnx, ref, threads)}
    outputs = {t: os.path.join(work, f"{t}.npy") for t in TOOLS}
    e2e = {
        "ours": [a.binary, *m.args, "--weights", weights, "--threads", threads, "--quiet",
                 folder, "-o", outputs["ours"]],
        "tf": worker("keras-e2e", arch, weights, folder, outputs["tf"]),
        "ort": worker("ort-e2e", arch, onnx, folder, outputs["ort"], threads)}
    for rep in range(a.repeat):
        order = TOOLS[rep % 3:] + TOOLS[:rep % 3]
        for tool in order:
            _, peak, text = run(model_only[tool], work, f"model-{tool}")
            if tool == "ours":
                row = VERIFY_ROW.search(text)
                if not row:
                    raise Failed(f"no `avg` row with images/s in extract verify's output:\n{text}")
                res = {"b": float(row["rate"]), "vs_ref": float(row["rel"]),
                       "ok": row["status"] == "ok"}
            else:
                res = last_json(text)
            r["model"][tool].append({**res, "peak": peak})
        for tool in order:
            wall, peak, _ = run(e2e[tool], work, f"e2e-{tool}")
            r["e2e"][tool].append({"rate": a.images / wall, "wall": wall, "peak": peak})
        log(f"{arch}: repetition {rep + 1}/{a.repeat} done")
    _, _, text = run(worker("compare", outputs["tf"], outputs["ours"], outputs["ort"]), work,
                     "compare")
    same = last_json(text)
    r["e2e_vs_tf"] = {t: same[outputs[t]] for t in ("ours", "ort")}
    if a.profile:
        # Both on one thread at batch 1: our per-step times (verify --profile) and ORT's own
        # per-node trace, for the per-layer comparisons the notes quote.
        _, _, r["profile_ours"] = run(
            [a.binary, "verify", ref, *m.args, "--weights", weights, "--threads", "1", "--profile",
             "--profile-steps", str(a.profile)], work, "profile-ours")
        _, _, text = run(worker("ort-profile", onnx, ref, 1, a.profile), work, "profile-ort")
        r["profile_ort"] = last_json(text)
        log(f"{arch}: profiles done")
    return r


def med(runs, key):
    return statistics.median(x[key] for x in runs)


def table(headers, rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(
            ":---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(headers)] + [fmt(r) for r in rows])


def report(results, a, n_photos, load_before, markdown):
    f1, f2 = (lambda v: f"{v:.1f}"), (lambda v: f"{v:.2f}")
    first = next((r["prepare"] for r in results.values() if "prepare" in r), {})
    v = first.get("versions", {})
    version = subprocess.run([a.binary, "--version"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())
    h = "### " if markdown else "== "
    print(f"{h}extract {version.strip()} vs TensorFlow {v.get('tensorflow', '?')} "
          f"(Keras {v.get('keras', '?')}) vs ONNX Runtime {v.get('onnxruntime', '?')}")
    print(f"\n{cpu}, {os.cpu_count()} CPUs, {a.threads} threads; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; median of {a.repeat} "
          f"repetition{'s' if a.repeat > 1 else ''}, tools alternating. ONNX: Keras 3 "
          f"model.export(format=\"onnx\") via tf2onnx {v.get('tf2onnx', '?')}, "
          f"opset {first.get('opset', '?')}.\n")

    rows = []
    for arch, r in results.items():
        if "error" in r:
            rows.append([arch, f"failed: {r['error'].splitlines()[0]}"] + [""] * 12)
            continue
        mo = r["model"]
        ours, tf1, tf32, ort1, ort32 = (med(mo["ours"], "b"), med(mo["tf"], "b1"),
                                        med(mo["tf"], "b32"), med(mo["ort"], "b1"),
                                        med(mo["ort"], "b32"))
        peak = [max(x["peak"] for x in mo[t]) for t in TOOLS]
        rows.append([arch, str(MODELS[arch].size), f1(ours), f1(tf1), f1(tf32), f1(ort1),
                     f1(ort32), f2(ours / tf1), f2(ours / tf32), f2(ours / ort1),
                     f2(ours / ort32)] + [f"{p:.0f}" for p in peak])
    print(f"{h}Model only: {a.model_images} preprocessed inputs in memory, images/s")
    print()
    print(table(["model", "size", "ours", "TF b1", "TF b32", "ORT b1", "ORT b32", "ours/TF b1",
                 "ours/TF b32", "ours/ORT b1", "ours/ORT b32", "peak MB ours", "TF", "ORT"],
                rows, markdown))

    rows = []
    for arch, r in results.items():
        if "error" in r:
            continue
        e = r["e2e"]
        rate = [med(e[t], "rate") for t in TOOLS]
        peak = [max(x["peak"] for x in e[t]) for t in TOOLS]
        rows.append([arch, f1(rate[0]), f1(rate[1]), f1(rate[2]), f2(rate[0] / rate[1]),
                     f2(rate[0] / rate[2])] + [f"{p:.0f}" for p in peak]
                    + [f2(peak[0] / peak[1])])
    print(f"\n{h}End to end: {a.images} JPEGs ({n_photos} fixture photos repeated) to feats.npy, "
          f"process start to exit, images/s")
    print()
    print(table(["model", "ours", "TF", "ORT", "ours/TF", "ours/ORT", "peak MB ours", "TF",
                 "ORT", "peak ours/TF"], rows, markdown))

    rows = []
    for arch, r in results.items():
        if "error" in r:
            continue
        p, mo = r["prepare"], r["model"]
        ok = all(x["ok"] for x in mo["ours"])
        rows.append([arch, f"{p['onnx_vs_keras']:.1e}",
                     f"{max(x['vs_ref'] for x in mo['ours']):.1e}" + ("" if ok else " FAIL"),
                     f"{max(x['vs_ref'] for x in mo['tf']):.1e}",
                     f"{r['e2e_vs_tf']['ours']:.1e}", f"{r['e2e_vs_tf']['ort']:.1e}"
                     + ("" if p["numpy_preprocess_exact"] else " (numpy preprocess differs)")])
    print(f"\n{h}Same model: max|x - keras| / max|keras| of the pooled features")
    print()
    print(table(["model", "ONNX vs Keras", "ours vs Keras", "TF from W.h5 vs Keras",
                 "e2e ours vs TF", "e2e ORT vs TF"], rows, markdown))
    print(f"\n{TARGETS}")
    for arch, r in results.items():
        if "profile_ort" not in r:
            continue
        o = r["profile_ort"]
        print(f"\n{h}Profile of {arch}, one thread, batch 1 ({o['images']} images)\n")
        print("ours (extract verify --profile):")
        text = r["profile_ours"]
        print(text[text.index("profile:"):].rstrip() if "profile:" in text else text.rstrip())
        print(f"\nONNX Runtime (SessionOptions.enable_profiling): {o['kernel_ms']:.1f} ms per image "
              f"in kernels, {o['wall_ms']:.1f} ms per run, by op type:")
        for op, ms in o["ops"]:
            print(f"  {ms:8.2f} ms {100 * ms / o['kernel_ms']:5.1f} %  {op}")
        print("slowest nodes:")
        for node, op, ms in o["slowest"]:
            print(f"  {ms:8.2f} ms {100 * ms / o['kernel_ms']:5.1f} %  {node}  ({op})")


def log(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", metavar="MODEL_ID",
                    help=f"default: all of {', '.join(MODELS)}")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions per tool (default 3)")
    ap.add_argument("--images", type=int, default=256, help="JPEGs end to end (default 256)")
    ap.add_argument("--model-images", type=int, default=64,
                    help="inputs of the model-only runs, a multiple of 32 (default 64)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="ours --threads and ORT intra_op_num_threads (default: the CPU count)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 32 images, 32 model inputs, 1 repetition")
    ap.add_argument("--markdown", action="store_true", help="tables in Markdown")
    ap.add_argument("--profile", type=int, nargs="?", const=15, default=0, metavar="K",
                    help="also profile each model on one thread at batch 1, ours and ONNX "
                         "Runtime's per-node trace, listing the K slowest steps (default 15)")
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "extract"))
    a = ap.parse_args()
    a.models = a.models or list(MODELS)
    if a.quick:
        a.images, a.model_images, a.repeat = 32, 32, 1
    unknown = [m for m in a.models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if a.model_images < 32 or a.model_images % 32 or a.images < 1 or a.repeat < 1:
        ap.error("--model-images must be a positive multiple of 32; --images, --repeat >= 1")
    if not os.access(a.binary, os.X_OK):
        sys.exit(f"bench: no {a.binary}; run `swift build -c release` or pass --binary")
    import importlib.util
    if not all(importlib.util.find_spec(p) for p in ("tensorflow", "onnxruntime", "tf2onnx")):
        sys.exit("bench: needs TensorFlow, ONNX Runtime and tf2onnx: run scripts/bench_setup.sh, "
                 "then .venv-bench/bin/python scripts/bench.py")

    load_before = os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder, n_photos = photo_folder(a.images, tmp)
        for arch in a.models:
            try:
                results[arch] = bench_model(arch, a, folder, tmp)
            except Failed as e:
                log(f"{arch}: {e}")
                results[arch] = {"error": str(e)}
    report(results, a, n_photos, load_before, a.markdown)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
