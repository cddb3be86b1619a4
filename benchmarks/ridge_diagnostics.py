"""Where the ridge λ_W acts in a trained network — opt-in diagnostics, not run in CI.

Usage (from the repository root; data from ``--data`` or ``NMFDNN_DATA``)::

    python benchmarks/ridge_diagnostics.py --data "$NMFDNN_DATA" --arch 1500,1000,500 --seed 0
    python benchmarks/ridge_diagnostics.py --data "$NMFDNN_DATA" --kind fashion --arch 1000,500

Fits ``NMFNetworkClassifier(hidden, alpha_W=…, max_epochs=…)`` (library defaults otherwise),
then, on the fitted network (host, float64):

1. **The output layer's ridge alone.**  The output layer is refitted on the last hidden layer's
   features of all training samples, ``W̃_d = Y Z̃ᵀ(Z̃Z̃ᵀ + λI)⁻¹`` (centred, bias unpenalized,
   one eigendecomposition for the whole λ grid), and the test and training errors are
   reported for every λ of ``--lams``; also the λ a held-out tenth of the training samples
   would choose (by error and by squared error).  The hidden layers were trained on those
   samples too, so that choice is optimistic by construction — the point of reporting it.
2. **The scale each layer's ridge meets.**  For every layer, on a mini-batch of the first
   5000 training samples: the mean square of its input, the median, 10 % quantile and
   largest eigenvalue of the input's centred Gram matrix (the matrix the layer's ridge
   λ_W I is added to in the mini-batch solves), and ``‖W_i‖²_F``.

One JSON line per run is printed and appended to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _bench import emit_jsonl

from nmfdnn.datasets import load_mnist
from nmfdnn.estimators import NMFNetworkClassifier

LAMS = (1e-3, 1e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0, 30.0, 100.0)


def layer_inputs(clf, X):
    """Every layer's input of the fitted network (rows = samples), float64 on the host: ``X``,
    then each hidden layer's output."""
    H = np.asarray(X, dtype=np.float64)
    yield H
    for coef, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        H = np.maximum(H @ np.asarray(coef, np.float64) + np.asarray(b, np.float64), 0.0)
        yield H


def hidden_features(clf, X):
    """Last hidden layer of the fitted network (rows = samples), float64 on the host."""
    *_, H = layer_inputs(clf, X)
    return H


def ridge_path(H, Y, lams):
    """``{λ: (W, b)}`` of ``min ‖Y − H W − b‖² + λ‖W‖²`` (b unpenalized) for every λ."""
    mu, ym = H.mean(axis=0), Y.mean(axis=0)
    Hc = H - mu
    evals, V = np.linalg.eigh(Hc.T @ Hc)
    VC = V.T @ (Hc.T @ (Y - ym))
    path = {}
    for lam in lams:
        W = V @ (VC / (evals + lam)[:, None])
        path[lam] = (W, ym - mu @ W)
    return path


def layer_scales(clf, X, n=5000):
    """Per layer: mean square of the input, its centred Gram's eigenvalues, ``‖W_i‖²``."""
    rows = []
    for H, coef in zip(layer_inputs(clf, X[:n]), clf.coefs_):
        Hc = H - H.mean(axis=0)
        ev = np.linalg.eigvalsh(Hc.T @ Hc)
        ev = ev[ev > 1e-9 * ev[-1]]
        rows.append(dict(mean_sq=float(np.mean(H ** 2)), eig_median=float(np.median(ev)),
                         eig_q10=float(np.quantile(ev, 0.1)), eig_max=float(ev[-1]),
                         n_eig=int(ev.size), w_sq=float(np.sum(np.asarray(coef, np.float64) ** 2))))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="directory with mnist/ (default: NMFDNN_DATA)")
    p.add_argument("--kind", default="mnist", choices=["mnist", "fashion"])
    p.add_argument("--arch", default="1000,500", help="hidden sizes, e.g. 1500,1000,500")
    p.add_argument("--alpha-W", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset", type=int, default=None, help="use the first N training images")
    p.add_argument("--lams", default=",".join(map(str, LAMS)), help="λ grid of the refit")
    p.add_argument("--out", default="ridge_diagnostics.jsonl")
    args = p.parse_args(argv)
    lams = [float(v) for v in args.lams.split(",")]
    X, y, Xt, yt = load_mnist(args.data, kind=args.kind)
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    hidden = tuple(int(h) for h in args.arch.split(","))
    t0 = time.perf_counter()
    clf = NMFNetworkClassifier(hidden, alpha_W=args.alpha_W, max_epochs=args.epochs,
                               random_state=args.seed).fit(X, y)
    seconds = time.perf_counter() - t0
    H, Ht = hidden_features(clf, X), hidden_features(clf, Xt)
    Y = (y[:, None] == clf.classes_[None, :]).astype(np.float64)

    def error(Hs, ys, Wb):
        return round(100 * float(np.mean(clf.classes_[np.argmax(Hs @ Wb[0] + Wb[1], 1)] != ys)),
                     2)

    path = ridge_path(H, Y, lams)
    n_val = len(y) // 10
    held = ridge_path(H[:-n_val], Y[:-n_val], lams)
    val_error = {lam: error(H[-n_val:], y[-n_val:], held[lam]) for lam in lams}
    val_mse = {lam: float(np.mean((H[-n_val:] @ held[lam][0] + held[lam][1] - Y[-n_val:]) ** 2))
               for lam in lams}
    by_error = min(lams, key=lambda lam: (val_error[lam], -lam))
    by_mse = min(lams, key=lambda lam: val_mse[lam])
    test = {lam: error(Ht, yt, path[lam]) for lam in lams}
    record = dict(kind=args.kind, arch=args.arch, seed=args.seed, alpha_W=args.alpha_W,
                  epochs=args.epochs, n_train=len(y), fit_seconds=round(seconds, 1),
                  library_test_error=round(100 * (1 - clf.score(Xt, yt)), 2),
                  refit_test_error=test,
                  refit_train_error={lam: error(H, y, path[lam]) for lam in lams},
                  heldout_error=val_error, heldout_mse=val_mse,
                  chosen_by_heldout_error=by_error, chosen_by_heldout_mse=by_mse,
                  test_error_at_chosen=[test[by_error], test[by_mse]],
                  layer_scale=layer_scales(clf, X))
    emit_jsonl(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
