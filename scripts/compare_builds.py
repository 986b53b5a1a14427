#!/usr/bin/env python3
"""Byte-compare the features two builds of `extract` write on the test fixtures.

    scripts/compare_builds.py OLD_EXTRACT NEW_EXTRACT [FIXTURES]

Runs both binaries on every end-to-end and defaults case of FIXTURES/features/index.json (the
cases the tests check against Keras) with the same command line, and compares the written
feature files byte for byte (.npy, and the labels beside them). A refactoring that must not
change bits (issue 21) passes with "identical" on every line. Exit status 1 on any difference.
"""
import json
import os
import subprocess
import sys
import tempfile


def run(binary, args, out):
    r = subprocess.run([binary] + args + ["-o", out, "--quiet"], capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


def main():
    old, new = sys.argv[1], sys.argv[2]
    fixtures = sys.argv[3] if len(sys.argv) > 3 else ".fixtures/current"
    idx = json.load(open(os.path.join(fixtures, "features/index.json")))
    fx = lambda p: os.path.join(fixtures, p)
    cases = []
    e2e = idx["e2e"]
    for name, c in sorted(e2e["cases"].items()):
        args = ["--weights", fx(c["weights"]), "--pooling", c["pooling"], "--interpolation", c["interpolation"],
                "--resize", c["resize"], fx(e2e["photos"])]
        if c.get("keep_aspect_ratio"):
            args.append("--keep-aspect-ratio")
        if c.get("layer"):
            args += ["--layer", c["layer"]]
        cases.append(("e2e/" + name, args))
        # The same file with no options at all: what a new user types.
        cases.append(("e2e-bare/" + name, ["--weights", fx(c["weights"]), fx(e2e["photos"])]))
    d = idx.get("defaults", {})
    for name, c in sorted(d.get("cases", {}).items()):
        cases.append(("defaults/" + name, ["--weights", fx(c["weights"])] + c["options"] + [fx(d["photos"])]))
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, args) in enumerate(cases):
            outs = []
            for tag, binary in (("old", old), ("new", new)):
                out = os.path.join(tmp, f"{i}-{tag}.npy")
                code, err = run(binary, args, out)
                outs.append((code, err, out))
            (c1, e1, o1), (c2, e2, o2) = outs
            if c1 != c2 or (c1 != 0 and e1 != e2):
                print(f"{name}: exit {c1} vs {c2}: {e1!r} vs {e2!r}")
                bad += 1
                continue
            if c1 != 0:
                print(f"{name}: both refused alike (exit {c1})")
                continue
            same = all(
                open(a, "rb").read() == open(b, "rb").read()
                for a, b in [(o1, o2), (o1[:-4] + ".labels.npy", o2[:-4] + ".labels.npy")]
                if os.path.exists(a) or os.path.exists(b)
            )
            print(f"{name}: {'identical' if same else 'DIFFERENT'} ({os.path.getsize(o1)} bytes)")
            bad += not same
    print(f"{len(cases)} runs, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
