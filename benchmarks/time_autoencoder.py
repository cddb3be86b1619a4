"""Time the autoencoder initialization (ALGORITHMS.md §3) alone on MNIST — opt-in, not in CI.

    python benchmarks/time_autoencoder.py --data DIR                      # [1000, 500], seed 0
    python benchmarks/time_autoencoder.py --data DIR --samples 5000 --nmf-iter 3 --seed 3
    python benchmarks/time_autoencoder.py --data DIR --ae-iter 5,5   # every layer autoencoded

Builds the low-rank input of all training images (§1.5, τ = 4·10⁻², not timed), then times
``nmfdnn.training.autoencoder_init`` (2000 samples, 2 NMF steps per iteration, λ_W = 10⁻³,
bias; iterations per hidden layer as the estimators' ``ae_iter="auto"``: none for the first
of two or more hidden layers, 5 for the others) and prints its seconds and the test error
of the initial network (hidden layers from the autoencoder, output layer fitted by least
squares, no training), with the load average of the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def main(argv=None):
    from nmfdnn import NMFNetworkClassifier
    from nmfdnn.datasets import load_mnist
    from nmfdnn.training import autoencoder_init, prepare_inputs

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="directory with mnist/ (default: NMFDNN_DATA)")
    p.add_argument("--kind", default="mnist", choices=["mnist", "fashion"])
    p.add_argument("--arch", default="1000,500")
    p.add_argument("--nmf-iter", type=int, default=2)
    p.add_argument("--ae-iter", default="auto",
                   help="iterations per hidden layer: 'auto', one int, or one per layer '0,5'")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    X, y, Xt, yt = load_mnist(args.data, kind=args.kind)
    Xc = np.ascontiguousarray(X.T)
    Y = np.eye(10, dtype=Xc.dtype)[y].T.copy()
    inputs = prepare_inputs(Xc, 4e-2, xp=np)
    sizes = [Xc.shape[0], *(int(h) for h in args.arch.split(",")), 10]
    n_hidden = len(sizes) - 2
    given = args.ae_iter if args.ae_iter == "auto" else [int(c) for c in args.ae_iter.split(",")]
    if given != "auto" and len(given) == 1:
        given = given[0]
    ae_iter = NMFNetworkClassifier(ae_iter=given)._resolved_ae_iter(n_hidden)  # as in fit
    load = os.getloadavg()[0]
    t = time.perf_counter()
    W = autoencoder_init(inputs, Y, sizes, bias=True, lam_w=1e-3, n_samples=args.samples,
                         iter_ae=ae_iter, nmf_iter=args.nmf_iter,
                         rng=np.random.default_rng(args.seed), xp=np)
    seconds = time.perf_counter() - t
    Z = np.ascontiguousarray(Xt.T)
    for Wi in W[:-1]:
        Z = np.maximum(Wi[:, :-1] @ Z + Wi[:, -1:], 0)
    out = W[-1][:, :-1] @ Z + W[-1][:, -1:]
    err = 100 * float(np.mean(out.argmax(0) != yt))
    print(json.dumps(dict(arch=args.arch, kind=args.kind, rank=inputs.rank, seed=args.seed,
                          nmf_iter=args.nmf_iter, ae_iter=ae_iter, samples=args.samples,
                          init_seconds=round(seconds, 2), init_test_error=round(err, 2),
                          load_average=[round(load, 2), round(os.getloadavg()[0], 2)])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
