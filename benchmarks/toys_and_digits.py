"""The small acceptance figures: sin and disk toys (ALGORITHMS.md §8) and digits on several
backends — opt-in, prints one line per case.

    python benchmarks/toys_and_digits.py [--backend numpy --backend torch ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nmfdnn
from nmfdnn.datasets import load_digits, make_disk, make_sin
from nmfdnn.estimators import NMFNetworkClassifier, NMFNetworkRegressor


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--backend", action="append", default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    backends = args.backend or ["numpy", "array_api_strict", "torch"]

    X, y, Xt, yt = make_sin(random_state=args.seed)
    sin = dict(hidden_layer_sizes=(500,), batch_size=50, max_epochs=10, random_state=args.seed)
    for name, kw in [("bias-reg, λ=(1e-2, 1e-2)", dict(alpha_W=1e-2, alpha_Z=1e-2)),
                     ("bias-reg, λ=(0, 0)", dict(alpha_W=0.0, alpha_Z=0.0)),
                     ("bias-reg without bias, λ=(1e-2, 1e-2)",
                      dict(alpha_W=1e-2, alpha_Z=1e-2, bias=False)),
                     ("original method", dict(method="original"))]:
        reg = NMFNetworkRegressor(**sin, **kw).fit(X, y)
        mse = float(np.mean((reg.predict(Xt) - yt) ** 2))
        print(f"sin [500] batch 50, 10 epochs, {name}: test MSE vs clean curve {mse:.4f}")

    X, y, Xt, yt = make_disk(random_state=args.seed)
    for bs in (150, 300):
        clf = NMFNetworkClassifier((100, 500), batch_size=bs, max_epochs=20,
                                   random_state=args.seed).fit(X, y)
        acc = 100 * clf.score(Xt, yt)
        print(f"disk [100, 500] batch {bs}, 20 epochs: test accuracy {acc:.1f} %")

    X, y, Xt, yt = load_digits()
    ref = {}
    for method in ("bias-reg", "original"):
        for backend in backends:
            t = time.perf_counter()
            clf = NMFNetworkClassifier((500,), method=method, backend=backend,
                                       random_state=args.seed).fit(X, y)
            seconds = time.perf_counter() - t
            dec = nmfdnn.to_numpy(clf.decision_function(Xt))
            ref.setdefault(method, dec)
            diff = np.abs(dec - ref[method]).max() / np.abs(ref[method]).max()
            print(f"digits [500] {method:8s} {backend:16s}: test accuracy "
                  f"{100 * clf.score(Xt, yt):.2f} %, max rel. difference of the outputs vs "
                  f"{backends[0]} {diff:.1e}, {seconds:.1f} s")


if __name__ == "__main__":
    main()
