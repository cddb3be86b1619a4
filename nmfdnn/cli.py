"""Command line: ``nmfdnn <command>`` (also ``python -m nmfdnn``).

Commands
--------
train
    Train a network without backpropagation (``NMFNetworkClassifier``) on digits (default, no
    download), MNIST or Fashion-MNIST (from ``--data`` or ``NMFDNN_DATA``), with a progress bar
    per epoch, the test accuracy and wall time at the end, ``--save`` to keep the model and
    ``--checkpoint FILE`` / ``--resume`` to continue an interrupted run bit for bit.
demo
    Factorize scikit-learn's bundled digits with the layer solvers (NMF, semi-NMF, Algorithm 1,
    nonlinear semi-NMF) and print each objective falling.  Needs no downloaded data.
fetch
    Download MNIST or Fashion-MNIST into the data directory, verified by SHA-256 (needs pooch).
bench
    A short timed comparison of the NMF trainer and backpropagation on digits, as a table.

Every argument is checked by its argparse type before any data is read, and errors name the
command-line flag.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits as sklearn_digits
from tqdm import tqdm

import nmfdnn
from nmfdnn._array_api import (
    _ALIASES,
    BACKENDS,
    BackendError,
    resolve_device,
    resolve_dtype,
    resolve_namespace,
)
from nmfdnn._host import check_random_state, random_uniform, to_numpy
from nmfdnn._io import save_model
from nmfdnn._linalg import CholeskyJitterWarning, jitter_events
from nmfdnn.datasets import fetch_mnist, load_digits, load_mnist
from nmfdnn.distributed import abort_on_error, global_score, shard, world
from nmfdnn.estimators import BackpropClassifier, NMFNetworkClassifier
from nmfdnn.factorizations import nmf, nonlinear_semi_nmf, semi_nmf

__all__ = ["main", "build_parser"]

#: Python parameter names in estimator errors -> the flag a user typed.
_FLAGS = {
    "hidden_layer_sizes": "--hidden",
    "max_epochs": "--epochs",
    "batch_size": "--batch-size",
    "inner_iter": "--inner-iter",
    "alpha_W": "--alpha-W",
    "alpha_Z": "--alpha-Z",
    "rank_tol": "--rank-tol",
    "momentum_epochs": "--momentum-epochs",
    "random_state": "--seed",
}
#: Plain words, replaced only where they name the parameter ("omega must ...", "omega=...").
_WORD_FLAGS = ("omega", "average", "momentum", "method", "init", "device", "dtype", "rcond")


# ---- argparse types: each rejects a bad value with a message argparse prefixes by the flag ----

def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _float_in(low, high, *, low_open=False, high_open=False):
    lo, hi = "(" if low_open else "[", ")" if high_open else "]"
    interval = f"{lo}{low:g}, {high:g}{hi}" if high != float("inf") else f"{lo}{low:g}, inf)"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = np.isfinite(value) and (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text!r}")
        return value

    parse.__name__ = f"number in {interval}"
    return parse


def _auto_or(parse):
    """``"auto"`` or a value accepted by ``parse``."""
    def parse_auto(text):
        return "auto" if text.strip().lower() == "auto" else parse(text)

    parse_auto.__name__ = f"'auto' or {parse.__name__}"
    return parse_auto


def _none_or(parse):
    """``"none"`` (None) or a value accepted by ``parse``."""
    def parse_none(text):
        return None if text.strip().lower() == "none" else parse(text)

    parse_none.__name__ = f"'none' or {parse.__name__}"
    return parse_none


def _hidden_sizes(text):
    parts = [p.strip() for p in text.split(",")]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 1000,500, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"every layer width must be >= 1, got {text!r}")
    return sizes


def _batch_size(text):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 'auto' or an integer >= 1, got {text!r}")
    return value


def _backend(text):
    key = _ALIASES.get(text.strip().lower(), text.strip().lower())
    if key not in BACKENDS:
        raise argparse.ArgumentTypeError(
            f"unknown backend {text!r}; choose from {', '.join(BACKENDS)}")
    return key


def _device(text):
    if not re.fullmatch(r"cpu|cuda|gpu|cuda:\d+|gpu:\d+", text):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return text


def _writable_file(example):
    """A file path whose folder exists and is writable (the file itself need not exist)."""

    def parse(text):
        path = Path(text).expanduser()
        parent = path.parent
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(f"folder {str(parent)!r} does not exist")
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a folder, give a file name such as "
                                             f"{example}")
        if not os.access(parent, os.W_OK):
            raise argparse.ArgumentTypeError(f"folder {str(parent)!r} is not writable")
        return path

    parse.__name__ = "file path"
    return parse


_save_path = _writable_file("model.npz")
_checkpoint_path = _writable_file("train.ckpt")


def _existing_dir(text):
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"folder {text!r} does not exist")
    return path


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows ``(default: ...)`` unless the help text already says what the default is."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default is None or isinstance(action.default, bool)
                or action.default is argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _version():
    try:
        return version("nmfdnn")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return nmfdnn.__version__


def build_parser():
    """The argparse parser of ``nmfdnn`` (one sub-parser per command).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="nmfdnn", formatter_class=_Formatter,
        description="Networks trained without backpropagation, and the NMF family, on any array "
                    "backend.",
        epilog="Start with `nmfdnn train` (bundled digits, no download). "
               "`nmfdnn COMMAND --help` lists a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser(
        "train", formatter_class=_Formatter,
        help="train a network without backpropagation (digits by default)",
        description="Train a ReLU network by semi-NMF layer solves (no backpropagation) and "
                    "report test accuracy and wall time.")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", default="digits", choices=["digits", "mnist", "fashion"],
                      help="digits (bundled with scikit-learn, no download), mnist or fashion "
                           "(Fashion-MNIST)")
    data.add_argument("--data", default=None, type=_existing_dir, metavar="DIR",
                      help="folder with mnist/ or fashion-mnist/ (default: $NMFDNN_DATA, then "
                           "the download cache of `nmfdnn fetch`)")
    data.add_argument("--download", action="store_true",
                      help="download MNIST / Fashion-MNIST if not found (verified by SHA-256; "
                           "needs pooch)")
    data.add_argument("--subset", type=_positive_int, default=None, metavar="N",
                      help="train on the first N training samples (default: all)")
    net = train.add_argument_group("network and training")
    net.add_argument("--hidden", type=_hidden_sizes, default=None, metavar="N[,N...]",
                     help="hidden layer widths, comma separated (default: 500 for digits, "
                          "1000,500 for MNIST)")
    net.add_argument("--method", default="bias-reg", choices=["bias-reg", "original"],
                     help="bias-reg: Algorithm 3 with biases and ridge terms; original: the "
                          "original alternating scheme without them")
    net.add_argument("--init", default="auto", choices=["auto", "random", "autoencoder"],
                     help="initial weights: random, or the NMF stacked autoencoder; auto: the "
                          "autoencoder with >= 4 mini-batches per epoch, else random")
    net.add_argument("--epochs", type=_positive_int, default=10, help="training epochs")
    net.add_argument("--batch-size", type=_batch_size, default="auto", metavar="N|auto",
                     help="mini-batch size (default: auto = min(5000, n_samples))")
    net.add_argument("--inner-iter", type=_positive_int, default=1,
                     help="iterations per layer problem and mini-batch")
    net.add_argument("--alpha-W", type=_auto_or(_float_in(0, float("inf"))), default="auto",
                     metavar="L|auto",
                     help="λ_W, ridge weight of the weights; auto: 3e-2 for >= 3 hidden layers "
                          "with >= 4 mini-batches per epoch, else 1e-3")
    net.add_argument("--alpha-Z", type=_float_in(0, float("inf")), default=1e-5,
                     help="λ_Z, ridge weight of the hidden targets")
    net.add_argument("--rank-tol", type=_float_in(0, 1), default=4e-2,
                     help="τ of the low-rank input (singular values below τ·σ_max dropped; "
                          "0: off)")
    net.add_argument("--omega", type=_auto_or(_float_in(0, 2, low_open=True, high_open=True)),
                     default="auto", metavar="W|auto",
                     help="step of the hidden layers' updates, in (0, 2); auto: 1.8 with >= 4 "
                          "mini-batches per epoch, else 1")
    net.add_argument("--average", type=_auto_or(_float_in(0, 1, high_open=True)),
                     default="auto", metavar="B|auto",
                     help="β of the weight average across mini-batches, in [0, 1) (0: off); "
                          "auto: 0.9 with >= 4 mini-batches per epoch, else 0")
    net.add_argument("--momentum", type=_auto_or(_float_in(0, 1, high_open=True)),
                     default="auto", metavar="M|auto",
                     help="μ of the heavy-ball term on the hidden layers' weights across "
                          "mini-batches, in [0, 1) (0: off); auto: 0.7 with >= 4 mini-batches "
                          "per epoch, else 0")
    net.add_argument("--momentum-epochs", type=_none_or(_nonneg_int), default=2,
                     metavar="N|none",
                     help="the momentum acts in the first N epochs only (none: in all; "
                          "default: 2)")
    net.add_argument("--rcond", type=_auto_or(_float_in(0, 1, low_open=True, high_open=True)),
                     default="auto", metavar="R|auto",
                     help="cut-off of the pseudo-inverses of --method original, in (0, 1); auto: "
                          "1e-3 in float32, sqrt(n*eps) in float64")
    net.add_argument("--no-refit-output", dest="refit_output", action="store_false",
                     help="keep the last mini-batch's output layer (default: refit it on "
                          "all training samples after every epoch)")
    net.add_argument("--seed", type=_nonneg_int, default=0,
                     help="random seed (data split, initial weights, batch order)")
    out = train.add_argument_group("output")
    out.add_argument("--save", type=_save_path, default=None, metavar="FILE",
                     help="save the fitted model (.npz; load with nmfdnn.load_model); its folder "
                          "must exist (default: not saved)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    out.add_argument("--checkpoint", type=_checkpoint_path, default=None, metavar="FILE",
                     help="write the full training state to FILE after every epoch (atomically; "
                          "its folder must exist; default: no checkpoints)")
    out.add_argument("--resume", action="store_true",
                     help="continue from --checkpoint FILE if it exists (same final weights, bit "
                          "for bit, as an uninterrupted run; other parameters or data: an error)")
    _add_backend_args(train)
    train.set_defaults(func=_train)

    demo = sub.add_parser("demo", formatter_class=_Formatter,
                          help="factorize scikit-learn's digits with the layer solvers",
                          description="Factorize scikit-learn's bundled digits with NMF, "
                                      "semi-NMF, Algorithm 1 and nonlinear semi-NMF, printing "
                                      "each objective.")
    demo.add_argument("--rank", type=_positive_int, default=16, help="factorization rank")
    demo.add_argument("--iters", type=_positive_int, default=100, help="iterations")
    demo.add_argument("--every", type=_positive_int, default=20,
                      help="print the objective every N iterations")
    demo.add_argument("--seed", type=_nonneg_int, default=0, help="random seed")
    _add_backend_args(demo)
    demo.set_defaults(func=_demo)

    fetch = sub.add_parser(
        "fetch", formatter_class=_Formatter,
        help="download MNIST or Fashion-MNIST (verified by SHA-256)",
        description="Download the four IDX files of MNIST or Fashion-MNIST into DIR/mnist/ "
                    "(DIR/fashion-mnist/), verified by SHA-256; needs pooch "
                    "(pip install 'nmfdnn[data]'). `nmfdnn train --dataset mnist` then finds "
                    "them.")
    fetch.add_argument("dataset", choices=["mnist", "fashion"], help="which data set")
    fetch.add_argument("--dir", default=None, metavar="DIR",
                       help="data folder (default: $NMFDNN_DATA, else the user cache folder "
                            "of nmfdnn)")
    fetch.add_argument("--base-url", default=None, metavar="URL",
                       help="mirror holding the four .gz files (default: "
                            "$NMFDNN_MNIST_URL / $NMFDNN_FASHION_MNIST_URL, else the "
                            "publishers' site)")
    fetch.set_defaults(func=_fetch)

    bench = sub.add_parser(
        "bench", formatter_class=_Formatter,
        help="quick timed comparison: NMF trainer vs backpropagation on digits",
        description="Train NMFNetworkClassifier and BackpropClassifier (same network, same "
                    "backend) on scikit-learn's digits and print test accuracy and wall time.")
    bench.add_argument("--hidden", type=_hidden_sizes, default=(500,), metavar="N[,N...]",
                       help="hidden layer widths (default: 500)")
    bench.add_argument("--epochs", type=_positive_int, default=10, help="epochs of each trainer")
    bench.add_argument("--seed", type=_nonneg_int, default=0, help="random seed")
    _add_backend_args(bench)
    bench.set_defaults(func=_bench)
    return parser


def _checkpoint_kwargs(args):
    """Estimator parameters of ``--checkpoint`` / ``--resume``."""
    if args.resume and args.checkpoint is None:
        raise _FlagError("argument --resume: needs --checkpoint FILE")
    return {"checkpoint": args.checkpoint, "resume": args.resume}


def _final_train_loss(clf, X, y):
    """Mean ``½‖y − ŷ‖²`` per sample of the fitted network on its training data (one-hot
    targets), i.e. the loss of the weights that are returned."""
    out = to_numpy(clf._output(X)[0])
    target = (np.asarray(y)[:, None] == clf.classes_[None, :]).astype(out.dtype)
    return float(0.5 * ((out - target) ** 2).sum(axis=1).mean())


def _add_backend_args(p):
    g = p.add_argument_group("backend")
    g.add_argument("--backend", type=_backend, default="numpy",
                   help=f"array backend: {', '.join(BACKENDS)}")
    g.add_argument("--device", type=_device, default=None,
                   help="cpu, cuda or cuda:N (default: the backend's default device)")
    g.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="floating dtype of the computation")


def _resolve_backend(args):
    """Import the backend and resolve device and dtype before any data is read."""
    try:
        xp = resolve_namespace(args.backend)
    except BackendError as exc:
        raise _FlagError(f"argument --backend: {exc}") from None
    try:
        device = resolve_device(xp, args.device)
    except (BackendError, ValueError, RuntimeError) as exc:
        raise _FlagError(f"argument --device: {exc}") from None
    return xp, device, resolve_dtype(xp, args.dtype)


class _FlagError(ValueError):
    """An error already phrased in terms of the command line."""


def _demo(args):
    xp, device, dtype = _resolve_backend(args)
    rng = check_random_state(args.seed)
    X_host = sklearn_digits().data.T / 16.0  # data are columns: (64 features, 1797 samples)
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
    if args.dataset == "digits":
        return load_digits(random_state=args.seed)
    return load_mnist(args.data, kind=args.dataset, download=args.download)


def _mpi_comm():
    """The MPI communicator when launched by ``mpiexec``/``srun`` with more than one process
    (mpi4py is imported only then), else ``None``.  Each rank then keeps its contiguous block
    of the loaded training and test rows (sharded after loading), trains data-parallel,
    and only rank 0 prints and saves; an error on one rank only ends all of them."""
    return world()


def _train(args):
    checkpoint = _checkpoint_kwargs(args)
    _resolve_backend(args)  # before the data: a missing backend is reported at once
    comm = _mpi_comm()
    if comm is None:
        return _train_on(args, None, checkpoint)
    # errors raised on every rank together pass; any other error on one rank ends all ranks
    with abort_on_error(comm, passthrough=(ValueError, TypeError, FileNotFoundError,
                                           FloatingPointError)):
        return _train_on(args, comm, checkpoint)


def _train_on(args, comm, checkpoint):
    lead = comm is None or comm.rank == 0  # prints and saves
    default_hidden = (500,) if args.dataset == "digits" else (1000, 500)
    hidden = args.hidden or default_hidden

    def progress(est, record):
        bar.set_postfix(loss=f"{record.loss:.4f}", test_acc=f"{record.val_score:.4f}")
        bar.update(1)

    clf = NMFNetworkClassifier(
        hidden, method=args.method, batch_size=args.batch_size, max_epochs=args.epochs,
        inner_iter=args.inner_iter, alpha_W=args.alpha_W, alpha_Z=args.alpha_Z,
        rank_tol=args.rank_tol, init=args.init, omega=args.omega, average=args.average,
        momentum=args.momentum, momentum_epochs=args.momentum_epochs, rcond=args.rcond,
        refit_output=args.refit_output, backend=args.backend, device=args.device,
        dtype=args.dtype, random_state=args.seed, callbacks=[progress], **checkpoint,
    )
    X, y, Xt, yt = _load(args)
    if args.subset is not None:
        if args.subset > X.shape[0]:
            raise _FlagError(f"argument --subset: {args.subset} is more than the "
                             f"{X.shape[0]} training samples of {args.dataset}")
        X, y = X[: args.subset], y[: args.subset]
    n_train, n_test = X.shape[0], Xt.shape[0]
    if comm is not None:  # this rank's contiguous blocks (sharded after loading)
        X, y = shard((X, y), comm)
        Xt, yt = shard((Xt, yt), comm)
    ranks = "" if comm is None else f", {comm.size} MPI ranks"
    if lead:
        print(f"{args.dataset}: {n_train} training / {n_test} test samples, {X.shape[1]} "
              f"features; hidden {list(hidden)}, method {args.method}, backend {args.backend}, "
              f"{args.dtype}{ranks}", flush=True)
    bar = tqdm(total=args.epochs, unit="epoch", disable=args.no_progress or not lead,
               dynamic_ncols=True)
    t0 = time.perf_counter()
    jitter_events(reset=True)
    try:  # the test set is scored per epoch for display only
        with warnings.catch_warnings():  # reported below in one line
            warnings.simplefilter("ignore", CholeskyJitterWarning)
            clf.fit(X, y, X_val=Xt, y_val=yt, comm=comm)
    finally:
        bar.close()
    jittered = jitter_events(reset=True)
    seconds = time.perf_counter() - t0
    acc = global_score(clf, Xt, yt, comm)
    if not lead:
        return 0
    print(f"test accuracy {100 * acc:.2f} % (error {100 * (1 - acc):.2f} %), "
          f"train loss {_final_train_loss(clf, X, y):.4g}{'' if comm is None else ' (rank 0)'} "
          f"(running mean during the last epoch "
          f"{clf.loss_curve_[-1]:.4g}), {clf.n_iter_} epochs, wall time {seconds:.1f} s "
          f"(input rank {clf.rank_}, batch {clf.batch_size_})")
    if jittered:
        print(f"note: {jittered} ridge solves were not positive definite in {args.dtype} and got "
              "a small diagonal jitter (near-singular Gram matrices; --dtype float64 or a larger "
              "--alpha-W avoids it)")
    if args.save:
        path = save_model(clf, args.save)
        print(f"saved to {path}")
    return 0


def _fetch(args):
    directory = fetch_mnist(args.dataset, args.dir, base_url=args.base_url, progress=True)
    _, y, _, yt = load_mnist(directory, kind=args.dataset)  # parse once: the files are usable
    print(f"{args.dataset}: {y.shape[0]} training / {yt.shape[0]} test images in {directory}")
    return 0


def _bench(args):
    _resolve_backend(args)
    X, y, Xt, yt = load_digits(random_state=args.seed)
    common = dict(max_epochs=args.epochs, backend=args.backend, device=args.device,
                  dtype=args.dtype, random_state=args.seed)
    print(f"digits: {X.shape[0]} training / {Xt.shape[0]} test samples; hidden "
          f"{list(args.hidden)}, {args.epochs} epochs, backend {args.backend}, {args.dtype}")
    print(f"{'trainer':<34s} {'test acc %':>10s} {'wall s':>8s} {'s/epoch':>8s}")
    for name, est in [("NMF layer solves (Algorithm 3)", NMFNetworkClassifier(args.hidden,
                                                                             **common)),
                      ("backprop, Adam, batch 100 (§5)", BackpropClassifier(args.hidden,
                                                                           **common))]:
        t0 = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - t0
        acc = est.score(Xt, yt)
        print(f"{name:<34s} {100 * acc:10.2f} {seconds:8.2f} {seconds / est.n_iter_:8.3f}")
    return 0


def _with_flags(message):
    """Replace Python parameter names in an error message by the flags that set them."""
    for param, flag in _FLAGS.items():
        message = re.sub(rf"(?<![\w-]){param}(?!\w)", flag, message)
    for word in _WORD_FLAGS:
        message = re.sub(rf"(?<![\w-]){word}(?=\s+must\b|=)", f"--{word}", message)
    return message


def main(argv=None):
    """Entry point of the ``nmfdnn`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a usage or data error (reported on one line).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad flag (already reported)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except _FlagError as exc:
        print(f"nmfdnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError) as exc:  # one line
        print(f"nmfdnn {args.command}: error: {_with_flags(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
