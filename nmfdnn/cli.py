"""Command line: ``nmfdnn <command>`` (also ``python -m nmfdnn``).

Commands
--------
demo
    Factorize scikit-learn's bundled digits with the layer solvers (NMF, semi-NMF, Algorithm 1,
    nonlinear semi-NMF) and print each objective falling.  Needs no downloaded data.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from nmfdnn._array_api import available_backends, resolve_device, resolve_dtype, resolve_namespace
from nmfdnn._host import check_random_state, random_uniform, to_numpy

__all__ = ["main", "build_parser"]


def build_parser():
    """The argparse parser of ``nmfdnn`` (one sub-parser per command)."""
    parser = argparse.ArgumentParser(
        prog="nmfdnn",
        description="Networks without backpropagation and the NMF family, on any array backend.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="factorize scikit-learn's digits with the layer solvers")
    _add_backend_args(demo)
    demo.add_argument("--rank", type=int, default=16, help="factorization rank (default 16)")
    demo.add_argument("--iters", type=int, default=100, help="iterations (default 100)")
    demo.add_argument("--every", type=int, default=20, help="print every N iterations")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def _add_backend_args(p):
    p.add_argument("--backend", default="numpy",
                   help=f"array backend (installed: {', '.join(available_backends())})")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: backend default)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])


def _demo(args):
    from sklearn.datasets import load_digits

    from nmfdnn.factorizations import nmf, nonlinear_semi_nmf, semi_nmf

    xp = resolve_namespace(args.backend)
    device = resolve_device(xp, args.device)
    dtype = resolve_dtype(xp, args.dtype)
    rng = check_random_state(args.seed)
    X_host = load_digits().data.T / 16.0  # data are columns: (64 features, 1797 samples)
    n, m = X_host.shape
    X = xp.asarray(X_host.astype(args.dtype), device=device)
    Xc = X - xp.mean(X, axis=1, keepdims=True)  # centered: mixed signs, for semi-NMF
    r = args.rank
    print(f"digits: {m} samples x {n} features; backend={args.backend} device={device} "
          f"dtype={args.dtype} rank={r}")

    def report(name, info, seconds):
        hist = to_numpy(xp.stack(info.history)) if info.history else np.array([])
        shown = ", ".join(f"{v:.4g}" for v in hist)
        print(f"{name:<34s} objective every {args.every} it: {shown}  ({seconds:.2f} s)")

    def draw(shape):
        return random_uniform(shape, rng=rng, low=0.0, high=1.0, xp=xp, device=device,
                              dtype=dtype)

    common = dict(n_iter=args.iters, check_every=args.every, xp=xp)
    t = time.perf_counter()
    _, _, info = nmf(X, draw((n, r)), draw((r, m)), **common)
    report("NMF (Lee-Seung, §1.6)", info, time.perf_counter() - t)
    t = time.perf_counter()
    _, _, info = semi_nmf(Xc, draw((n, r)), draw((r, m)), **common)
    report("semi-NMF (§1.1)", info, time.perf_counter() - t)
    t = time.perf_counter()
    _, _, info = semi_nmf(Xc, draw((n, r + 1)), draw((r, m)), lam_u=1e-2, lam_v=1e-3, **common)
    report("semi-NMF + bias + ridge (Alg. 1)", info, time.perf_counter() - t)
    t = time.perf_counter()
    _, _, info = nonlinear_semi_nmf(X, draw((n, r + 1)) - 0.5, draw((r, m)), lam_u=1e-2,
                                    lam_v=1e-3, **common)
    report("nonlinear semi-NMF X≈f(ŨṼ) (Alg. 2)", info, time.perf_counter() - t)
    return 0


def main(argv=None):
    """Entry point of the ``nmfdnn`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as exc:  # bad input: one clear line, no traceback
        print(f"nmfdnn: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
