#!/usr/bin/env bash
# Creates .venv-bench/, the Python side of the benchmark (scripts/bench.py): TensorFlow/Keras,
# ONNX Runtime, and tf2onnx, which Keras 3's model.export(format="onnx") calls to write the
# ONNX model, and tf-keras, which make_fixtures (the seeded weights) imports. Kept apart from
# the test venv (.venv/) so the tests never depend on it.
# Needs only PyPI. The tool itself is built separately: `swift build -c release`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The stamp holds the requirements' hash, so an edited list reinstalls.
want=$(sha256sum scripts/bench-requirements.txt | cut -c1-16)
if [ "$(cat .venv-bench/.stamp 2>/dev/null)" != "$want" ]; then
    echo "bench_setup: creating .venv-bench with $(tr '\n' ' ' <scripts/bench-requirements.txt)" >&2
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q --upgrade pip
    .venv-bench/bin/pip install -q -r scripts/bench-requirements.txt
    echo "$want" > .venv-bench/.stamp
fi
echo "bench_setup: ready; run .venv-bench/bin/python scripts/bench.py" >&2
