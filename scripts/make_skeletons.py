"""Writes one legacy-layout weight file per catalog architecture, shaped like a published file.

Usage: .venv/bin/python scripts/make_skeletons.py OUTDIR

Each file has the published layout (root layer_names with weightless layers interleaved,
per-layer weight_names with `:0` suffixes, datasets under <layer>/<variable path>) and the
catalog's names and shapes. Datasets are chunked and never written, so HDF5 allocates no
storage: a ConvNeXtXLarge file is a few hundred KB. They prove the loader binds every
architecture in weights-manifest.json; values are covered by make_fixtures.py.
"""
import json
import re
import sys
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "Sources/WeightLoader/Generated/ArchitectureData.swift"


def architectures():
    text = DATA.read_text()
    for match in re.finditer(r'^\s*"([^"]+)": #"(.*)"#,?$', text, re.M):
        yield match.group(1), json.loads(match.group(2))


def write(path, arch):
    with h5py.File(path, "w") as f:
        names = []
        for i, (layer, _cls, arrays) in enumerate(arch["layers"]):
            # Weightless layers sit between weighted ones in real files; the loader must skip them.
            names.append(f"activation_skeleton_{i}")
            names.append(layer)
            group = f.require_group(layer)
            weight_names = []
            for weight_path, shape, dtype in arrays:
                name = weight_path + ":0"
                weight_names.append(name.encode())
                chunks = tuple(max(1, s) for s in shape) if shape else None
                group.create_dataset(name, shape=tuple(shape), dtype=np.dtype(dtype), chunks=chunks)
            group.attrs["weight_names"] = weight_names
        for name in names:
            if name.startswith("activation_skeleton_"):
                f.require_group(name).attrs["weight_names"] = np.asarray([])
        f.attrs["layer_names"] = [n.encode() for n in names]
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for arch_id, arch in architectures():
        write(out / f"{arch_id}.h5", arch)
        count += 1
    print(f"{count} skeleton files in {out}")


if __name__ == "__main__":
    main()
