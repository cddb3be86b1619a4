"""Deep NMF (Flenner & Hunter) against single-layer SSNMF on a labeled subset of (Fashion-)MNIST.

A fraction of the labels is hidden; each method is fitted on all columns (semi-supervised,
transductive) and scored by its accuracy on the hidden-label columns.

Two layouts:

- ``image``: one column per image (784 pixels); segments are single images, so pooling is
  the identity and DeepNMF is the multilayer NMF with the eq. (4) updates;
- ``strips``: every image is cut into ``--strips`` horizontal strips, one column each, and an
  image is a segment: max pooling of half-width ``--pool`` runs along the strips of an image
  (never across images), as the paper pools along the paragraphs of a document.  An image's
  label is read from the sum of ``B S⁽ᴸ⁾`` over its strips.

    python benchmarks/reproduce_deep_nmf.py --data "$NMFDNN_DATA/mnist" --n 3000

Opt-in (not run by the test suite).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np

from nmfdnn.estimators import SSNMF, DeepNMF


def _read_idx(path):
    """Tiny IDX reader (uint8 images or labels), gzip-compressed."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_subset(folder, n, seed):
    X = _read_idx(Path(folder) / "train-images-idx3-ubyte.gz")
    y = _read_idx(Path(folder) / "train-labels-idx1-ubyte.gz").astype(np.int64)
    idx = np.random.default_rng(seed).permutation(X.shape[0])[:n]
    return X[idx].reshape(n, -1).astype(np.float64) / 255.0, y[idx]


def to_strips(X, n_strips):
    """(n, 784) images -> (n * n_strips, 784 / n_strips) strips, segment ids per strip."""
    n = X.shape[0]
    imgs = X.reshape(n, 28, 28)
    h = 28 // n_strips
    strips = imgs[:, : h * n_strips].reshape(n, n_strips, h * 28).reshape(n * n_strips, h * 28)
    return strips, np.repeat(np.arange(n), n_strips)


def run(method, X, y_obs, *, ranks, lam, iters, init_iter, seed, pool, strips, dtype):
    if strips:
        Xs, seg = to_strips(X, strips)
        y_cols = np.repeat(y_obs, strips)
    else:
        Xs, seg, y_cols = X, None, y_obs
    if method == "SSNMF":
        est = SSNMF(ranks[-1], lam=lam, max_iter=iters, init_iter=init_iter, random_state=seed,
                    dtype=dtype)
    else:
        est = DeepNMF(tuple(ranks), pool_width=pool, lam=lam, max_iter=iters,
                      init_iter=init_iter, random_state=seed, dtype=dtype)
    est.fit(Xs, y_cols, segments=seg)
    scores = np.asarray(est.label_scores_)
    if strips:
        scores = scores.reshape(X.shape[0], strips, -1).sum(axis=1)
    return est.classes_[scores.argmax(axis=1)], est


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(os.environ.get("NMFDNN_DATA", "."), "mnist"),
                    help="directory with the MNIST IDX files (default: $NMFDNN_DATA/mnist)")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--hidden", type=float, default=0.9, help="fraction of labels hidden")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--ranks", default="100,40")
    ap.add_argument("--lam", type=float, default=10.0)
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--init-iter", type=int, default=100)
    ap.add_argument("--layouts", default="image")
    ap.add_argument("--strips", type=int, default=4)
    ap.add_argument("--pool", type=int, default=1)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--out", default="benchmarks/results/deep_nmf.json")
    args = ap.parse_args(argv)
    ranks = [int(r) for r in args.ranks.split(",")]
    runs = []
    for seed in range(args.seeds):
        X, y = load_subset(args.data, args.n, seed)
        rng = np.random.default_rng(100 + seed)
        hidden = rng.random(args.n) < args.hidden
        y_obs = np.where(hidden, -1, y)
        for layout in args.layouts.split(","):
            strips = args.strips if layout == "strips" else 0
            for method in ("SSNMF", "DeepNMF"):
                t0 = time.perf_counter()
                pred, est = run(method, X, y_obs, ranks=ranks, lam=args.lam, iters=args.iters,
                                init_iter=args.init_iter, seed=seed,
                                pool=args.pool if strips else 0, strips=strips,
                                dtype=args.dtype)
                secs = time.perf_counter() - t0
                acc = float(np.mean(pred[hidden] == y[hidden]))
                curve = est.loss_curve_
                mono = bool(np.all(np.diff(curve) <= 1e-6 * np.abs(np.asarray(curve[:-1]))))
                runs.append(dict(seed=seed, layout=layout, method=method, accuracy=acc,
                                 seconds=secs, energy_first=curve[0], energy_last=curve[-1],
                                 energy_monotone=mono))
                print(f"seed={seed} {layout:6s} {method:7s} hidden-label accuracy "
                      f"{100 * acc:.2f} % ({secs:.1f} s, energy {curve[0]:.4g} -> "
                      f"{curve[-1]:.4g}, monotone {mono})", flush=True)
    summary = {}
    for r in runs:
        summary.setdefault(f"{r['layout']}/{r['method']}", []).append(100 * r["accuracy"])
    summary = {k: dict(mean=float(np.mean(v)), std=float(np.std(v)), n=len(v))
               for k, v in summary.items()}
    rec = dict(protocol=vars(args), runs=runs, summary=summary)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1))
    for k, v in summary.items():
        print(f"{k:20s} {v['mean']:.2f} ± {v['std']:.2f} % (n={v['n']})")


if __name__ == "__main__":
    main()
