"""Time to accuracy on MNIST: wall time to reach a test error (2 %), NMF trainer vs
backpropagation (nmfdnn's and PyTorch's own) on the same machine and dtype — opt-in, not in CI.

    python benchmarks/time_to_accuracy.py --data "$NMFDNN_DATA" --backend numpy --dtype float32
    python benchmarks/time_to_accuracy.py --data "$NMFDNN_DATA" --backend torch \\
        --nmf-params '{"average": 0.9}' --out benchmarks/results/tta_torch_f32
    python benchmarks/time_to_accuracy.py --from-json benchmarks/results/tta_torch_f32.json

Methods (``--methods``, default ``bias-reg,bp,torch-ce,torch-mse``):

- ``bias-reg``: ``NMFNetworkClassifier([1000, 500], method="bias-reg")`` with the library's
  defaults, ``--nmf-epochs`` (10) epochs, plus any estimator parameters in ``--nmf-params``
  (JSON);
- ``original``: the same with ``method="original"``;
- ``bp``: ``BackpropClassifier([1000, 500])``: Adam (10⁻³, 0.9, 0.999, 10⁻⁸), batch 100,
  ``--bp-epochs`` (10) epochs, plus ``--bp-params``;
- ``torch-ce`` and ``torch-mse``: what a PyTorch user would write — ``nn.Sequential`` of
  ``nn.Linear`` and ``nn.ReLU`` (PyTorch's default initialization, seeded by
  ``torch.manual_seed(--seed)``), ``torch.optim.Adam`` (lr 10⁻³), batch 100 from a shuffle per
  epoch, ``nn.functional.cross_entropy`` on the labels or ``nn.functional.mse_loss`` on the
  one-hot targets, ``--bp-epochs`` epochs, in ``--dtype`` on the CPU (or ``--device``) with
  ``torch.set_num_threads`` = the thread count of the other rows (``OMP_NUM_THREADS``, else
  PyTorch's default).  Needs ``torch``.

Each is fitted with ``X_val, y_val`` = the MNIST test set, so ``validation_scores_`` is the
test accuracy after every epoch (the PyTorch rows score the test set after every epoch the
same way, in ``torch.no_grad``).  The time axis is the estimator's training clock
(``fit_time_``): the set-up before the first epoch (``fit_time_ − Σ epoch_times_``: low-rank
input of §1.5, initial weights) and then the cumulative ``epoch_times_``.  Every epoch time
includes the scoring of the 10 000 test images after that epoch (one forward pass, the same for
both methods; a few % of an NMF epoch).  Not on the axis: the conversion of the host data to
the backend at the start of ``fit``, before its clock starts (stored as
``conversion_seconds`` = wall time of ``fit`` − ``fit_time_``); for the PyTorch rows the clock
starts after the data are tensors (set-up: building the model and the optimizer).

The summary line gives each row's time to the target and the ratio of the ``bias-reg`` row's
time to each PyTorch row's (< 1: nmfdnn is faster).  On a machine shared with other jobs the
epoch times vary with the load, so it also gives both at each row's fastest epoch
(set-up + epochs to the target × the fastest epoch time; ``quiet_time``).  ``--repeats N``
trains every row N times, round robin (so a slow spell of the machine hits every row), and
reports per row the median of the runs' times to the target, the median clock of every epoch
and each run's own figures (``runs``); the test errors are the first run's (same seed).

Writes ``OUT.json`` (per method: test error per epoch, cumulative seconds, set-up, the time and
epoch at which the error first reaches ≤ ``--target`` or null; the settings; the machine) and
``OUT.png`` (test error % against wall time, one line per method, the target as a horizontal
line).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np


def machine():
    info = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{platform.system()}"
    try:  # the CPU's name where Linux tells it
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return info


def estimator(method, args):
    common = dict(backend=args.backend, device=args.device, dtype=args.dtype,
                  random_state=args.seed)
    hidden = tuple(int(h) for h in args.arch.split(","))
    if method == "bp":
        from nmfdnn.estimators import BackpropClassifier

        params = {"batch_size": 100, "max_epochs": args.bp_epochs, **json.loads(args.bp_params)}
        return f"nmfdnn BP (Adam, batch {params['batch_size']})", \
            BackpropClassifier(hidden, **common, **params), params
    from nmfdnn.estimators import NMFNetworkClassifier

    params = {"method": method, "max_epochs": args.nmf_epochs, **json.loads(args.nmf_params)}
    extra = ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("method", "max_epochs"))
    return f"nmfdnn {method} ({extra or 'defaults'})", \
        NMFNetworkClassifier(hidden, **common, **params), params


def torch_threads():
    """The thread count of the NumPy rows: ``OMP_NUM_THREADS`` if set, else PyTorch's own."""
    import torch

    n = os.environ.get("OMP_NUM_THREADS")
    return int(n) if n else torch.get_num_threads()


def torch_fit(loss, X, y, Xt, yt, args):
    """PyTorch's own training of the same MLP; returns the per-epoch record of :func:`run`.

    ``loss`` is ``"ce"`` (cross-entropy on the labels) or ``"mse"`` (mean squared error on
    the one-hot targets, ``nn.functional.mse_loss``).
    """
    import torch

    torch.set_num_threads(torch_threads())
    torch.manual_seed(args.seed)
    dt = getattr(torch, args.dtype)
    dev = torch.device(args.device or "cpu")
    Xd = torch.as_tensor(X, dtype=dt, device=dev)
    yd = torch.as_tensor(y, device=dev)
    Yd = torch.nn.functional.one_hot(yd, 10).to(dt)
    Xtd = torch.as_tensor(Xt, dtype=dt, device=dev)
    ytd = torch.as_tensor(yt, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    batch = 100
    t0 = time.perf_counter()
    sizes = [X.shape[1], *(int(h) for h in args.arch.split(",")), 10]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b, dtype=dt, device=dev), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    setup = time.perf_counter() - t0
    errors, epoch_seconds = [], []
    for _ in range(args.bp_epochs):
        t = time.perf_counter()
        model.train()
        for J in torch.randperm(X.shape[0], generator=gen).to(dev).split(batch):
            out = model(Xd[J])
            if loss == "ce":
                obj = torch.nn.functional.cross_entropy(out, yd[J])
            else:
                obj = torch.nn.functional.mse_loss(out, Yd[J])
            opt.zero_grad(set_to_none=True)
            obj.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            wrong = int((model(Xtd).argmax(1) != ytd).sum())
        errors.append(100.0 * wrong / Xt.shape[0])
        epoch_seconds.append(time.perf_counter() - t)
    return setup, errors, epoch_seconds


def first_reach(errors, times, target):
    for e, (err, t) in enumerate(zip(errors, times), start=1):
        if err <= target:
            return t, e
    return None, None


def fit_row(method, X, y, Xt, yt, args):
    """One training of ``method``; returns its record (test error and clock per epoch)."""
    if method in ("torch-ce", "torch-mse"):
        loss = method.split("-")[1]
        t0 = time.perf_counter()
        setup, errors, epoch_seconds = torch_fit(loss, X, y, Xt, yt, args)
        wall = time.perf_counter() - t0
        name = "cross-entropy" if loss == "ce" else "MSE on one-hot"
        label = f"PyTorch BP ({name}, Adam, batch 100)"
        params = dict(loss=loss, lr=1e-3, batch_size=100, epochs=args.bp_epochs,
                      threads=torch_threads())
        fit_time = setup + float(np.sum(epoch_seconds))
    else:
        label, est, params = estimator(method, args)
        t0 = time.perf_counter()
        est.fit(X, y, X_val=Xt, y_val=yt)
        wall = time.perf_counter() - t0
        errors = [100.0 * (1.0 - s) for s in est.validation_scores_]
        epoch_seconds = list(est.epoch_times_)
        setup = est.fit_time_ - sum(epoch_seconds)
        fit_time = est.fit_time_
    cumulative = list(setup + np.cumsum(epoch_seconds))
    t_hit, e_hit = first_reach(errors, cumulative, args.target)
    return dict(method=label, params=params, test_error=errors, epoch_seconds=epoch_seconds,
                cumulative_seconds=cumulative, setup_seconds=setup, fit_time=float(fit_time),
                wall_seconds=wall, conversion_seconds=wall - float(fit_time),
                time_to_target=t_hit, epoch_to_target=e_hit, final_test_error=errors[-1])


def merge_runs(runs):
    """One row from repeated runs of a method: the median clock of every epoch.

    The test errors are the first run's (the runs share the seed; ``test_error_runs`` keeps
    every run's); set-up, epoch times and the cumulative clock are medians over the runs, and
    the time to the target is the median of the runs' own times (None unless more than half
    of them reach it).  ``runs`` keeps each run's time to the target and fastest epoch.
    """
    if len(runs) == 1:
        return runs[0]
    row = dict(runs[0])
    n = min(len(r["epoch_seconds"]) for r in runs)
    row["setup_seconds"] = float(np.median([r["setup_seconds"] for r in runs]))
    row["epoch_seconds"] = [float(v) for v in
                            np.median([r["epoch_seconds"][:n] for r in runs], axis=0)]
    row["cumulative_seconds"] = list(row["setup_seconds"] + np.cumsum(row["epoch_seconds"]))
    row["fit_time"] = float(np.median([r["fit_time"] for r in runs]))
    hits = [r["time_to_target"] for r in runs if r["time_to_target"] is not None]
    row["time_to_target"] = float(np.median(hits)) if 2 * len(hits) > len(runs) else None
    row["test_error_runs"] = [r["test_error"] for r in runs]
    row["runs"] = [dict(time_to_target=r["time_to_target"],
                        epoch_to_target=r["epoch_to_target"], setup_seconds=r["setup_seconds"],
                        fastest_epoch=min(r["epoch_seconds"]),
                        final_test_error=r["final_test_error"]) for r in runs]
    return row


def run(args):
    from nmfdnn.datasets import load_mnist

    X, y, Xt, yt = load_mnist(args.data)
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    methods = [m.strip() for m in args.methods.split(",")]
    runs = {m: [] for m in methods}
    for k in range(args.repeats):  # round robin: a slow spell of the machine hits every row
        for method in methods:
            r = fit_row(method, X, y, Xt, yt, args)
            runs[method].append(r)
            t_hit, e_hit = r["time_to_target"], r["epoch_to_target"]
            reach = (f"{args.target:g} % reached after {t_hit:.1f} s (epoch {e_hit})"
                     if t_hit is not None else f"{args.target:g} % not reached")
            print(f"{r['method']}{f' [run {k + 1}/{args.repeats}]' if args.repeats > 1 else ''}"
                  f": test error per epoch {[round(e, 2) for e in r['test_error']]}; fit "
                  f"{r['fit_time']:.1f} s (set-up {r['setup_seconds']:.1f} s); {reach}",
                  flush=True)
    results = [merge_runs(runs[m]) for m in methods]
    return dict(
        settings=dict(arch=args.arch, backend=args.backend or "numpy", device=args.device,
                      dtype=args.dtype, seed=args.seed, target_error=args.target,
                      n_train=int(X.shape[0]), n_test=int(Xt.shape[0]), repeats=args.repeats,
                      nmf_params=json.loads(args.nmf_params),
                      bp_params=json.loads(args.bp_params),
                      timing=("fit_time_ clock: set-up, then cumulative epoch_times_; each "
                              "epoch includes scoring the test set; data conversion before "
                              "fit's clock not included (conversion_seconds); with repeats, "
                              "the median over the runs")),
        machine=machine(), load_average=os.getloadavg(), methods=results,
    )


def quiet_time(m):
    """Set-up + (epochs to the target) × (the row's fastest epoch), or None.

    On a machine shared with other jobs the epoch times of one run vary several-fold with
    the load; the fastest epoch of a row is the closest to its cost on a quiet machine, so
    this is the time to the target as the same run would take with every epoch that fast.
    """
    if m["epoch_to_target"] is None:
        return None
    fastest = min([min(m["epoch_seconds"])] + [r["fastest_epoch"] for r in m.get("runs", [])])
    return m["setup_seconds"] + m["epoch_to_target"] * fastest


def ratios(res, key="time_to_target"):
    """``{PyTorch row: time to target of the bias-reg row / its time}`` (None: not reached).

    ``key="quiet"`` compares :func:`quiet_time` instead of the measured times.
    """
    get = quiet_time if key == "quiet" else (lambda m: m[key])
    nmf = next((m for m in res["methods"] if m["method"].startswith("nmfdnn bias-reg")), None)
    out = {}
    for m in res["methods"]:
        if m["method"].startswith("PyTorch") and nmf is not None:
            a, b = get(nmf), get(m)
            out[m["method"]] = None if a is None or b is None else a / b
    return out


def plot(res, out_png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st = res["settings"]
    target = st["target_error"]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    top = 0.0
    for i, m in enumerate(res["methods"]):
        colour = plt.get_cmap("tab10")(i)
        t, err = m["cumulative_seconds"], m["test_error"]
        top = max(top, max(err))
        hit = (f"{target:g} % at {m['time_to_target']:.3g} s (epoch {m['epoch_to_target']})"
               if m["time_to_target"] is not None else f"{target:g} % not reached")
        ax.plot(t, err, "-o", ms=4, color=colour, label=f"{m['method']}: {hit}")
        if m["time_to_target"] is not None:
            ax.plot([m["time_to_target"]], [err[m["epoch_to_target"] - 1]], "*", ms=14,
                    color=colour)
    ax.axhline(target, color="k", ls="--", lw=1, label=f"target: {target:g} % test error")
    ax.set_ylim(0, max(min(top, 10), target) * 1.08 + 0.2)
    ax.set_xlim(left=0)
    ax.set_xlabel("training wall time, fit_time_ clock (s)")
    ax.set_ylabel("MNIST test error (%)")
    ax.set_title(f"MNIST [{st['arch']}], {st['backend']} {st['dtype']}, {st['n_train']} "
                 f"training images\n{res['machine']}", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="directory with mnist/ (default: NMFDNN_DATA)")
    p.add_argument("--methods", default="bias-reg,bp,torch-ce,torch-mse",
                   help="comma list of bias-reg, original, bp, torch-ce, torch-mse")
    p.add_argument("--arch", default="1000,500")
    p.add_argument("--nmf-epochs", type=int, default=10)
    p.add_argument("--bp-epochs", type=int, default=10)
    p.add_argument("--nmf-params", default="{}",
                   help='extra NMFNetworkClassifier parameters as JSON, e.g. \'{"average": 0.9}\'')
    p.add_argument("--bp-params", default="{}", help="extra BackpropClassifier parameters (JSON)")
    p.add_argument("--target", type=float, default=2.0, help="test error %% to reach")
    p.add_argument("--subset", type=int, default=None, help="use the first N training images")
    p.add_argument("--backend", default=None, help="numpy (default), torch, cupy, jax")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1,
                   help="train every row this many times, round robin, and report medians")
    p.add_argument("--out", default=None,
                   help="output prefix (default: time_to_accuracy_BACKEND_DTYPE)")
    p.add_argument("--from-json", default=None, help="re-plot a saved JSON (no training)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.from_json:
        res = json.loads(pathlib.Path(args.from_json).read_text())
        out = pathlib.Path(args.out or pathlib.Path(args.from_json).with_suffix(""))
    else:
        res = run(args)
        res["ratio_to_torch"] = ratios(res)
        res["ratio_to_torch_quiet"] = ratios(res, "quiet")
        out = pathlib.Path(args.out or f"time_to_accuracy_{args.backend or 'numpy'}_{args.dtype}")
        out.with_suffix(".json").write_text(json.dumps(res, indent=1))
        print(f"wrote {out.with_suffix('.json')}")
    for m in res["methods"]:
        t = m["time_to_target"]
        print(f"{m['method']}: " + (f"{res['settings']['target_error']:g} % test error after "
                                    f"{t:.1f} s (epoch {m['epoch_to_target']}; "
                                    f"{quiet_time(m):.1f} s at its fastest epoch)"
                                    if t is not None
                                    else f"{res['settings']['target_error']:g} % not reached "
                                         f"(final {m['final_test_error']:.2f} %)"))
    quiet = ratios(res, "quiet")
    for name, r in ratios(res).items():
        q = quiet[name]
        print(f"time to {res['settings']['target_error']:g} %, nmfdnn bias-reg / {name}: "
              + (f"{r:.2f} (at every row's fastest epoch: {q:.2f})" if r is not None
                 else "n/a (not reached)"))
    plot(res, out.with_suffix(".png"))
    print(f"plot: {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
