#!/usr/bin/env python3
"""Feature files and scikit-learn's classifiers on them: the reference for `extract fit` / `predict`.

Usage:  .venv/bin/python scripts/make_head_fixtures.py OUTDIR

Writes OUTDIR/heads/<case>/feats.npy with feats.labels.npy, feats.classes.txt and feats.index.csv
beside it, as an extraction of class folders writes them, and OUTDIR/heads/index.json listing
per case and setting what scikit-learn gives:
  cv_accuracy      cross_val_score(estimator, X, y, cv=StratifiedKFold(5)) per fold
  folds            each row's test fold in StratifiedKFold(5)
  scores           the estimator fitted on every row: predict_proba (logreg) or
                   decision_function (svm) of every row, .npy
  coef, intercept  its coef_ and intercept_, .npy
  scores_default   predict_proba / decision_function of the estimator with scikit-learn's own
                   tol and max_iter on the float32 features, as a user runs it
The estimator is LogisticRegression(C) or LinearSVC(C), behind StandardScaler in a Pipeline when
"standardize", with class_weight="balanced" when "balanced". For the reference it runs to its
optimum on the features as float64 (the same values; on float32 input LogisticRegression
solves in float32 and stops up to 1e-3 away in probability): tol 1e-10 and max_iter 10000
(LogisticRegression), tol 1e-9 and max_iter 100000 (LinearSVC), so the comparison is of
objectives, not of where two optimisers stopped.

heads/four_neighbors_{cosine,euclidean}_{distances,indices}.npy: scikit-learn's
NearestNeighbors(n_neighbors=6, algorithm="brute") of the four-class rows among themselves;
heads/four_pca.npy: PCA(n_components=2).fit_transform of them (the report's scatter).

And the seed workflow, class folders to labels for new images (heads/workflow/): train/ and
test/ folders of generated photographs (three classes told apart by colour and texture), the
MobileNetV2 (alpha 0.35, 96x96) file make_fixtures.py wrote (full/mobilenet_v2_0.35_96_k3_full.h5,
run after it), Keras' avg-pooled features of its layer Conv1_relu for both folders (load_img
nearest, preprocess_input, predict), and scikit-learn on them in workflow.json: LogisticRegression's and LinearSVC's
cross-validated accuracy on train/ and LogisticRegression's probabilities for test/.

Features are CNN-like: non-negative (ReLU'd) class-dependent Gaussians, float32, seeded. The
cases cover 2 classes (sklearn's binary parameterisation), 4 classes, more features than rows
(LinearSVC then solves the dual) and imbalanced classes.
"""
import json
import os
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

warnings.simplefilter("ignore", ConvergenceWarning)

# name -> (rows per class, features, separation, seed)
CASES = {
    "binary": ([60, 60], 32, 0.8, 1),
    "four": ([50, 40, 45, 45], 64, 0.6, 2),
    "wide": ([30, 25, 25], 256, 0.2, 3),
    "imbalanced": ([90, 20, 15], 48, 0.7, 4),
}

SETTINGS = [
    {"classifier": "logreg", "C": 1.0, "standardize": False, "balanced": False},
    {"classifier": "logreg", "C": 0.1, "standardize": True, "balanced": False},
    {"classifier": "svm", "C": 1.0, "standardize": False, "balanced": False},
    {"classifier": "svm", "C": 0.5, "standardize": True, "balanced": False},
    {"classifier": "logreg", "C": 1.0, "standardize": False, "balanced": True},
    {"classifier": "svm", "C": 1.0, "standardize": False, "balanced": True},
]


def features(counts, width, separation, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(counts), width)) * separation
    x, y = [], []
    for k, n in enumerate(counts):
        x.append(np.maximum(rng.normal(size=(n, width)) + centres[k], 0) * 3.0)
        y += [k] * n
    order = rng.permutation(sum(counts))
    return np.concatenate(x)[order].astype(np.float32), np.asarray(y, np.int64)[order]


def estimator(s, tight=True):
    weight = "balanced" if s["balanced"] else None
    if s["classifier"] == "logreg":
        extra = {"tol": 1e-10, "max_iter": 10000} if tight else {}
        model = LogisticRegression(C=s["C"], class_weight=weight, **extra)
    else:
        extra = {"tol": 1e-9, "max_iter": 100000} if tight else {}
        model = LinearSVC(C=s["C"], class_weight=weight, **extra)
    return make_pipeline(StandardScaler(), model) if s["standardize"] else model


def neighbors(outdir):
    """NearestNeighbors(algorithm="brute") on the four-class features: each row's 6 nearest rows
    (itself first) by cosine and by Euclidean distance."""
    from sklearn.neighbors import NearestNeighbors
    x = np.load(os.path.join(outdir, "heads/four/feats.npy")).astype(np.float64)
    for metric in ("cosine", "euclidean"):
        nn = NearestNeighbors(n_neighbors=6, algorithm="brute", metric=metric).fit(x)
        distances, indices = nn.kneighbors(x)
        np.save(os.path.join(outdir, f"heads/four_neighbors_{metric}_distances.npy"), distances)
        np.save(os.path.join(outdir, f"heads/four_neighbors_{metric}_indices.npy"), indices.astype(np.int64))
    from sklearn.decomposition import PCA
    np.save(os.path.join(outdir, "heads/four_pca.npy"), np.ascontiguousarray(PCA(n_components=2).fit_transform(x)))


def workflow_images(root, seed=7):
    """Three classes of 64x64 JPEGs: warm blotches, green stripes, grey-blue speckle."""
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    classes = {"blotches": (140, 115, 100), "stripes": (120, 128, 105), "speckle": (112, 116, 124)}
    for split, count in (("train", 12), ("test", 4)):
        for name, base in classes.items():
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                pixels = np.clip(rng.normal(base, 40, size=(64, 64, 3)), 0, 255).astype(np.uint8)
                img = Image.fromarray(pixels)
                draw = ImageDraw.Draw(img)
                for _ in range(6):
                    x, y = rng.integers(0, 64, size=2)
                    shade = tuple(int(v) for v in np.clip(np.asarray(base) + rng.normal(0, 60, 3), 0, 255))
                    if name == "blotches":
                        draw.ellipse([x, y, x + 14, y + 14], fill=shade)
                    elif name == "stripes":
                        draw.rectangle([0, y, 63, y + 3], fill=shade)
                    else:
                        draw.point([(int(a), int(b)) for a, b in rng.integers(0, 64, size=(40, 2))], fill=shade)
                img.save(os.path.join(folder, f"{name}_{i:02d}.jpg"), quality=92)


def keras_features(model, folder):
    """Avg-pooled features of a class folder as extract reads it: sorted classes, sorted files."""
    import keras
    from keras.applications.mobilenet_v2 import preprocess_input
    paths = [os.path.join(folder, c, f) for c in sorted(os.listdir(folder))
             for f in sorted(os.listdir(os.path.join(folder, c)))]
    x = np.stack([keras.utils.img_to_array(keras.utils.load_img(p, target_size=(96, 96), interpolation="nearest"))
                  for p in paths])
    maps = model.predict(preprocess_input(x), verbose=0)
    labels = [sorted(os.listdir(folder)).index(os.path.basename(os.path.dirname(p))) for p in paths]
    return maps.mean(axis=(1, 2)).astype(np.float32), np.asarray(labels), paths


def workflow(outdir):
    import keras
    root = os.path.join(outdir, "heads", "workflow")
    workflow_images(root)
    weights = "full/mobilenet_v2_0.35_96_k3_full.h5"
    full = keras.models.load_model(os.path.join(outdir, weights), compile=False)
    # Random weights keep what tells the classes apart only in the first block's features:
    # the workflow takes them with --layer (an "intermediate output" transfer).
    layer = "Conv1_relu"
    model = keras.Model(full.input, full.get_layer(layer).output)
    x, y, _ = keras_features(model, os.path.join(root, "train"))
    xt, yt, test_paths = keras_features(model, os.path.join(root, "test"))
    x64, xt64 = x.astype(np.float64), xt.astype(np.float64)
    result = {"weights": weights, "layer": layer, "train": "heads/workflow/train", "test": "heads/workflow/test",
              "classes": sorted(os.listdir(os.path.join(root, "train"))),
              "test_files": [os.path.relpath(p, os.path.join(root, "test")) for p in test_paths]}
    for kind in ("logreg", "svm"):
        s = {"classifier": kind, "C": 1.0, "standardize": False, "balanced": False}
        result[f"{kind}_cv_accuracy"] = cross_val_score(estimator(s), x64, y, cv=StratifiedKFold(5)).tolist()
    logreg = estimator(SETTINGS[0]).fit(x64, y)
    result["logreg_test_probabilities"] = logreg.predict_proba(xt64).tolist()
    result["test_labels"] = yt.tolist()
    with open(os.path.join(root, "workflow.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"heads: workflow: cv logreg {np.mean(result['logreg_cv_accuracy']):.4f}, "
          f"svm {np.mean(result['svm_cv_accuracy']):.4f}, test accuracy {logreg.score(xt64, yt):.4f}")


def main(outdir):
    root = os.path.join(outdir, "heads")
    index = {"cases": []}
    for name, (counts, width, separation, seed) in CASES.items():
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        x, y = features(counts, width, separation, seed)
        classes = [f"class_{chr(ord('a') + k)}" for k in range(len(counts))]
        np.save(os.path.join(folder, "feats.npy"), x)
        np.save(os.path.join(folder, "feats.labels.npy"), y)
        with open(os.path.join(folder, "feats.classes.txt"), "w") as f:
            f.write("".join(c + "\n" for c in classes))
        with open(os.path.join(folder, "feats.index.csv"), "w") as f:
            f.write("row,path,label,class\n")
            f.write("".join(f"{i},{classes[l]}/img_{i:04d}.jpg,{l},{classes[l]}\n" for i, l in enumerate(y)))
        folds = np.zeros(len(y), np.int64)
        for f, (_, test) in enumerate(StratifiedKFold(5).split(x, y)):
            folds[test] = f
        for k, s in enumerate(SETTINGS):
            x64 = x.astype(np.float64)
            cv = cross_val_score(estimator(s), x64, y, cv=StratifiedKFold(5))
            model = estimator(s).fit(x64, y)
            final = model[-1] if hasattr(model, "steps") else model
            scores = model.predict_proba(x64) if s["classifier"] == "logreg" else model.decision_function(x64)
            default = estimator(s, tight=False).fit(x, y)
            scores_default = (default.predict_proba(x) if s["classifier"] == "logreg"
                              else default.decision_function(x))
            tag = f"{name}/{k}"
            files = {}
            for what, array in [("scores", scores), ("scores_default", scores_default), ("coef", final.coef_),
                                ("intercept", final.intercept_)]:
                rel = f"heads/{tag.replace('/', '_')}_{what}.npy"
                np.save(os.path.join(outdir, rel), np.asarray(array, np.float64))
                files[what] = rel
            index["cases"].append({
                "name": tag, "features": f"heads/{name}/feats.npy", "rows": int(len(y)),
                "width": width, "classes": classes, **s, "cv_accuracy": cv.tolist(), "folds": folds.tolist(),
                "predicted": model.predict(x).tolist(), **files})
            print(f"heads: {tag} {s['classifier']} C={s['C']} std={s['standardize']} "
                  f"bal={s['balanced']}: cv {cv.mean():.4f}")
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    neighbors(outdir)
    workflow(outdir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    main(sys.argv[1])
