"""Why the original scheme (§4) trains slowly: its truncated pseudo-inverses, measured.

The original scheme has no ridge term: every layer problem goes through a pseudo-inverse of a
Gram matrix (``gram_pinv``: eigenvalues ``≤ rcond² · λ_max`` dropped, default
``rcond = sqrt(n·eps)``, 0.011 for n = 1000 in float32, 4.7·10⁻⁷ in float64).  The directions
dropped there are not updated at all.  This script trains the original scheme on MNIST
(autoencoder initialization, as the estimator does) with a chosen dtype and cut-off, and
counts, for every pseudo-inverse, how many eigenvalues of its Gram matrix were dropped (one
host copy and ``eigvalsh`` per call: a diagnostic, slower than training).  If the truncation
is what slows the scheme, float64 (far fewer dropped directions) and a smaller cut-off in
float32 must train faster, and a larger cut-off slower.

    python benchmarks/original_diagnostics.py --data DIR --dtype float32
    python benchmarks/original_diagnostics.py --data DIR --dtype float64
    python benchmarks/original_diagnostics.py --data DIR --dtype float32 --rcond 1e-3

Appends one JSON line per run to ``--out``: test error per epoch, train error, and per Gram
size ``n`` the mean number and fraction of dropped eigenvalues.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import defaultdict

import numpy as np
from _bench import emit_jsonl

import nmfdnn._linalg as linalg
import nmfdnn.estimators._nmf_network as nmf_network
import nmfdnn.factorizations._nonlinear as nonlinear
import nmfdnn.training._original as original
from nmfdnn import NMFNetworkClassifier, to_numpy
from nmfdnn.datasets import load_mnist

DROPPED = defaultdict(list)  # Gram size n -> [(dropped, n), ...]


def counting(gram_pinv):
    """``gram_pinv`` that also records how many eigenvalues its cut-off drops."""

    @functools.wraps(gram_pinv)
    def wrapped(G, *, rcond=None, xp):
        n = G.shape[0]
        r = linalg.default_rcond(n, G.dtype, xp=xp) if rcond is None else rcond
        w = np.linalg.eigvalsh(to_numpy(G).astype(np.float64))
        DROPPED[n].append(int(np.sum(w <= r * r * w.max())))
        return gram_pinv(G, rcond=rcond, xp=xp)

    return wrapped


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("NMFDNN_DATA"))
    p.add_argument("--dtype", default="float32")
    p.add_argument("--rcond", type=float, default=None,
                   help="relative cut-off of every pseudo-inverse (default: sqrt(n·eps))")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--omega", type=float, default=1.8)
    p.add_argument("--average", type=float, default=0.9)
    p.add_argument("--no-count", action="store_true", help="train without counting (faster)")
    p.add_argument("--out", default="original_diagnostics.jsonl")
    args = p.parse_args(argv)

    pinv = linalg.gram_pinv
    if not args.no_count:
        for module in (linalg, original, nonlinear):
            module.gram_pinv = counting(pinv)
    if args.rcond is not None:
        nmf_network.train_original = functools.partial(original.train_original,
                                                       rcond=args.rcond)
    X, y, Xt, yt = load_mnist(args.data, dtype=args.dtype)
    clf = NMFNetworkClassifier((1000, 500), method="original", init="autoencoder",
                               omega=args.omega, average=args.average, max_epochs=args.epochs,
                               dtype=args.dtype, random_state=args.seed)
    t0 = time.perf_counter()
    clf.fit(X, y, X_val=Xt, y_val=yt)
    seconds = time.perf_counter() - t0
    res = dict(dtype=args.dtype, rcond=args.rcond, seed=args.seed, omega=args.omega,
               average=args.average, epochs=clf.n_iter_,
               test_error_per_epoch=[round(100 * (1 - s), 2) for s in clf.validation_scores_],
               train_error=round(100 * (1 - clf.score(X[:10000], y[:10000])), 2),
               seconds=round(seconds, 1), counted=not args.no_count,
               dropped={str(n): {"calls": len(v), "mean_dropped": float(np.mean(v)),
                                 "fraction": float(np.mean(v)) / n}
                        for n, v in sorted(DROPPED.items())})
    emit_jsonl(res, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
