#!/usr/bin/env bash
# Convolution libraries and the project's packed GEMM side by side on ResNet50's and VGG16's
# layer shapes (see conv_libs.c).
# Not a test. Needs Debian's libopenblas-dev, libblis-dev and libdnnl-dev.
# Usage: Benchmarks/ConvLibraries/run.sh [REPS] [-v]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for p in libopenblas-dev libblis-dev libdnnl-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || { echo "conv_libs: needs $p (sudo apt-get install $p)" >&2; exit 1; }
done
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
src="$here/../../Sources/CKernels"
${CC:-clang} -O3 -I "$src/include" -o "$out/conv_libs" "$here/conv_libs.c" "$src/gemm.c" "$src/cpu.c" -ldnnl -ldl
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$(nproc)}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
"$out/conv_libs" "$@"
