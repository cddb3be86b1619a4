"""Command line: ``nmfdnn <command>`` (also ``python -m nmfdnn``).

Commands
--------
train
    Train a network without backpropagation (``NMFNetworkClassifier``) on digits (default, no
    download), MNIST or Fashion-MNIST (from ``--data`` or ``NMFDNN_DATA``), with a progress bar
    per epoch, the test accuracy and wall time at the end, and ``--save`` to keep the model.
demo
    Factorize scikit-learn's bundled digits with the layer solvers (NMF, semi-NMF, Algorithm 1,
    nonlinear semi-NMF) and print each objective falling.  Needs no downloaded data.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from nmfdnn._array_api import BACKENDS, resolve_device, resolve_dtype, resolve_namespace
from nmfdnn._host import check_random_state, random_uniform, to_numpy
from nmfdnn._io import save_model

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

    train = sub.add_parser(
        "train", help="train a network without backpropagation (digits by default)",
        description="Train a ReLU network by semi-NMF layer solves (no backpropagation) and "
                    "report test accuracy and wall time.")
    train.add_argument("--dataset", default="digits", choices=["digits", "mnist", "fashion"],
                       help="digits (bundled with scikit-learn, default), mnist, fashion")
    train.add_argument("--data", default=None,
                       help="directory with mnist/ or fashion-mnist/ (default: $NMFDNN_DATA)")
    train.add_argument("--hidden", default=None,
                       help="hidden layer sizes, comma separated (default: 500 for digits, "
                            "1000,500 for MNIST)")
    train.add_argument("--method", default="bias-reg", choices=["bias-reg", "original"])
    train.add_argument("--init", default="random", choices=["random", "autoencoder"])
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", default="auto",
                       help="mini-batch size (default: min(5000, n_samples))")
    train.add_argument("--inner-iter", type=int, default=1)
    train.add_argument("--alpha-W", type=float, default=1e-3, help="λ_W (default 1e-3)")
    train.add_argument("--alpha-Z", type=float, default=1e-5, help="λ_Z (default 1e-5)")
    train.add_argument("--rank-tol", type=float, default=4e-2, help="τ of the low-rank input")
    train.add_argument("--omega", type=float, default=1.0,
                       help="step of the hidden layers' updates, in (0, 2) (default 1)")
    train.add_argument("--average", type=float, default=0.0,
                       help="β of the weight average across mini-batches (default 0: off)")
    train.add_argument("--no-refit-output", dest="refit_output", action="store_false",
                       help="keep the last mini-batch's output layer (default: refit it on "
                            "all training samples after every epoch)")
    train.add_argument("--subset", type=int, default=None, help="train on the first N samples")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", default=None, metavar="FILE",
                       help="save the fitted model (.npz; load with nmfdnn.load_model)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_checkpoint_args(train)
    _add_backend_args(train)
    train.set_defaults(func=_train)
    return parser


def _add_checkpoint_args(p):
    """``--checkpoint FILE`` / ``--resume`` of ``nmfdnn train`` (issue 15)."""
    p.add_argument("--checkpoint", default=None, metavar="FILE",
                   help="write the full training state to FILE after every epoch (atomically)")
    p.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint FILE if it exists (same final weights, bit "
                        "for bit, as an uninterrupted run; other parameters/data: an error)")


def _checkpoint_kwargs(args):
    """Estimator parameters of ``--checkpoint`` / ``--resume``."""
    if args.resume and not args.checkpoint:
        raise ValueError("--resume needs --checkpoint FILE")
    return {"checkpoint": args.checkpoint, "resume": bool(args.resume)}


def _final_train_loss(clf, X, y):
    """Mean ``½‖y − ŷ‖²`` per sample of the fitted network on its training data (one-hot
    targets), i.e. the loss of the weights that are returned."""
    out = to_numpy(clf._output(X)[0])
    target = (np.asarray(y)[:, None] == clf.classes_[None, :]).astype(out.dtype)
    return float(0.5 * ((out - target) ** 2).sum(axis=1).mean())


def _add_backend_args(p):
    p.add_argument("--backend", default="numpy",
                   help=f"array backend: {', '.join(BACKENDS)} (default numpy)")
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


def _load(args):
    from nmfdnn.datasets import load_digits, load_mnist

    if args.dataset == "digits":
        return load_digits(random_state=args.seed)
    return load_mnist(args.data, kind=args.dataset)


def _train(args):
    from tqdm import tqdm

    from nmfdnn.estimators import NMFNetworkClassifier

    X, y, Xt, yt = _load(args)
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    default_hidden = "500" if args.dataset == "digits" else "1000,500"
    try:
        hidden = tuple(int(h) for h in (args.hidden or default_hidden).split(",") if h.strip())
    except ValueError:
        raise ValueError(f"--hidden must be comma-separated ints, got {args.hidden!r}") from None
    batch = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    def progress(est, record):
        bar.set_postfix(loss=f"{record.loss:.4f}", test_acc=f"{record.val_score:.4f}")
        bar.update(1)

    clf = NMFNetworkClassifier(
        hidden, method=args.method, batch_size=batch, max_epochs=args.epochs,
        inner_iter=args.inner_iter, alpha_W=args.alpha_W, alpha_Z=args.alpha_Z,
        rank_tol=args.rank_tol, init=args.init, omega=args.omega, average=args.average,
        refit_output=args.refit_output, backend=args.backend, device=args.device,
        dtype=args.dtype, random_state=args.seed, callbacks=[progress], **_checkpoint_kwargs(args),
    )
    print(f"{args.dataset}: {X.shape[0]} training / {Xt.shape[0]} test samples, {X.shape[1]} "
          f"features; hidden {list(hidden)}, method {args.method}, backend {args.backend}, "
          f"{args.dtype}", flush=True)
    bar = tqdm(total=args.epochs, unit="epoch", disable=args.no_progress, dynamic_ncols=True)
    t0 = time.perf_counter()
    clf.fit(X, y, X_val=Xt, y_val=yt)  # the test set is scored per epoch for display only
    seconds = time.perf_counter() - t0
    bar.close()
    acc = clf.score(Xt, yt)
    print(f"test accuracy {100 * acc:.2f} % (error {100 * (1 - acc):.2f} %), "
          f"train loss {_final_train_loss(clf, X, y):.4g} (running mean during the last epoch "
          f"{clf.loss_curve_[-1]:.4g}), {clf.n_iter_} epochs, wall time {seconds:.1f} s "
          f"(input rank {clf.rank_}, batch {clf.batch_size_})")
    if args.save:
        path = save_model(clf, args.save)
        print(f"saved to {path}")
    return 0


def main(argv=None):
    """Entry point of the ``nmfdnn`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as exc:  # one line
        print(f"nmfdnn: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
