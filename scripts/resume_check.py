"""A long run killed for real and resumed: byte-identical to an uninterrupted one, and the time saved.

    .venv/bin/python scripts/resume_check.py [--images 10000] [--kill-at 0.6] [--weights FILE]

Generates N distinct JPEGs in 10 class folders (seeded), runs `extract` on them once without
interruption, then again with SIGKILL sent from outside once the run's progress record says
`--kill-at` of the images are done, then the same command a third time, which resumes. Compares
every output file byte for byte (the run record without its time and speed) and prints the
times: the saving is what starting over would have cost minus what the resume cost. Not part
of CI (minutes); the unit of proof there is ResumeCommandTests.
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent


def make_images(folder: pathlib.Path, n: int) -> None:
    rng = np.random.default_rng(24)
    for i in range(n):
        cls = folder / f"class_{i % 10}"
        cls.mkdir(parents=True, exist_ok=True)
        h, w = int(rng.integers(48, 160)), int(rng.integers(48, 160))
        base = rng.integers(0, 256, size=(1, 1, 3))
        ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(0, 256, size=(1, 1, 3))
        noise = rng.integers(0, 40, size=(h, w, 3))
        pixels = np.clip(base + ramp + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(cls / f"{i:06d}.jpg", quality=90)


def outputs(folder: pathlib.Path) -> dict:
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            continue
        data = path.read_bytes()
        if path.name.endswith(".run.json"):
            record = json.loads(data)
            for key in ("created", "seconds", "images_per_second", "working_directory"):
                record.pop(key, None)
            data = json.dumps(record, sort_keys=True).encode()
        files[path.name] = data
    return files


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--kill-at", type=float, default=0.6)
    parser.add_argument("--weights", default=str(ROOT / ".fixtures/current/reference/mobilenet_1.0_224.h5"))
    parser.add_argument("--binary", default=str(ROOT / ".build/release/extract"))
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="resume-check-"))
    try:
        imgs = work / "imgs"
        start = time.monotonic()
        make_images(imgs, args.images)
        print(f"generated {args.images} JPEGs in {time.monotonic() - start:.1f} s")
        # Not --quiet: the resumed run's "resuming:" line is read, and the record names the command.
        command = [args.binary, "--weights", args.weights, str(imgs), "-o", "f.npy"]

        whole = work / "whole"
        whole.mkdir()
        start = time.monotonic()
        subprocess.run(command, cwd=whole, check=True, capture_output=True)
        t_whole = time.monotonic() - start
        print(f"uninterrupted: {t_whole:.1f} s")

        killed = work / "killed"
        killed.mkdir()
        progress = killed / ".f.npy.partial" / "progress.json"
        start = time.monotonic()
        process = subprocess.Popen(command, cwd=killed, stderr=subprocess.DEVNULL)
        done = 0
        while process.poll() is None:
            try:
                done = json.loads(progress.read_text())["done"]
            except (OSError, ValueError, KeyError):
                done = 0
            if done >= args.kill_at * args.images:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        process.wait()
        t_killed = time.monotonic() - start
        if process.returncode != -signal.SIGKILL:
            print(f"the run ended ({process.returncode}) before it could be killed", file=sys.stderr)
            return 1
        kept = json.loads(progress.read_text())["done"]
        print(f"killed with SIGKILL after {t_killed:.1f} s, {kept} of {args.images} images kept")

        start = time.monotonic()
        resumed = subprocess.run(command, cwd=killed, check=True, capture_output=True, text=True)
        t_resume = time.monotonic() - start
        line = next((l for l in resumed.stderr.splitlines() if "resuming" in l), "(no resuming line)")
        print(f"resumed: {t_resume:.1f} s  [{line.strip()}]")

        expected, got = outputs(whole), outputs(killed)
        same = expected.keys() == got.keys() and all(expected[k] == got[k] for k in expected)
        for name in sorted(expected):
            print(f"  {name}: {'identical' if got.get(name) == expected[name] else 'DIFFERENT'}")
            if name.endswith(".run.json") and got.get(name) != expected[name]:
                a, b = json.loads(expected[name]), json.loads(got.get(name) or b"{}")
                print("    differing keys:", sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)))
        print(
            f"{'byte-identical' if same else 'NOT identical'}; starting over would have taken {t_whole:.1f} s,"
            f" the resume took {t_resume:.1f} s: {t_whole - t_resume:.1f} s saved"
            f" ({100 * (t_whole - t_resume) / t_whole:.0f} %)"
        )
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
