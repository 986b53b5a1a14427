#!/usr/bin/env bash
# Installs what the tool needs on a fresh Debian machine: the C libraries it links.
# With --python, also the Python reference tooling (Keras, TensorFlow) the tests use to make
# fixtures and reference outputs; it goes to .venv/ and is never needed to run the tool.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(libhdf5-dev libopenblas-dev libjpeg-dev libpng-dev libgif-dev pkg-config)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--python" ]; then
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
