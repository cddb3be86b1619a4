"""Data-parallel scaling over MPI: equivalence with one process, speed-up, bytes, a model.

Run everything (MNIST from ``--data DIR`` or ``NMFDNN_DATA``; needs ``pip install 'nmfdnn[mpi]'``)::

    python benchmarks/scaling_mpi.py all --data DIR

It launches the configurations below with ``mpiexec`` itself (each rank pinned to the given
number of BLAS threads through ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``)
and writes ``benchmarks/results/scaling_mpi.json`` and ``scaling_mpi.md``:

1. ``equiv64``: MNIST, first 10 000 samples, [1000, 500], 3 epochs, float64 — the weights of
   ``mpiexec -n 2`` against one process (relative Frobenius difference per matrix);
2. ``acc32``: all of MNIST, 10 epochs, float32 — the test errors of 1 and 2 ranks;
3. ``nmf``/``seminmf``: ``NMF`` and ``SemiNMF`` on all of MNIST (float64) — objective and
   factors of 1 vs 2 ranks;
4. ``bp``: the backprop baseline, 1 rank (seeds 0 and 1: the seed noise) vs 2 ranks (seed 0);
5. ``epoch``: seconds per epoch of Algorithm 3 (batch 5000, all of MNIST) at 1 rank × 1
   thread, 2 ranks × 1 thread and 1 rank × 2 threads, and bytes all-reduced per epoch for the
   NMF trainer and for data-parallel backprop;
6. ``allreduce``: all-reduce latency (8 bytes) and bandwidth (8 MiB) between 2 ranks;
7. a model of the time per epoch at 8, 64 and 512 ranks (assumptions in the output).

Single tasks: ``python benchmarks/scaling_mpi.py TASK [options]`` under ``mpiexec`` or alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _threads_env(threads):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    return env


def _mpiexec():
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else "mpiexec"


# --- tasks (run inside each rank) --------------------------------------------------------------


def _load(args, comm):
    import numpy as np

    from nmfdnn.datasets import load_mnist
    from nmfdnn.distributed import shard

    X, y, Xt, yt = load_mnist(args.data, dtype=args.dtype)
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    if comm is not None:
        X, y = shard((X, y), comm)
        Xt, yt = shard((Xt, yt), comm)
    return np.ascontiguousarray(X), y, np.ascontiguousarray(Xt), yt


def task_fit(args):
    """Train a network (NMF trainer or backprop) and save rank 0's weights and records."""
    import numpy as np

    from nmfdnn import BackpropClassifier, NMFNetworkClassifier, to_numpy
    from nmfdnn.distributed import global_score, world

    comm = world()
    X, y, Xt, yt = _load(args, comm)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    snapshots, cpu = [], [time.process_time()]

    def count(est, record):
        snapshots.append(0 if comm is None else comm.bytes_reduced)
        cpu.append(time.process_time())  # CPU seconds of this rank (MPI waits spin: included)

    common = dict(max_epochs=args.epochs, dtype=args.dtype, random_state=args.seed,
                  callbacks=[count])
    if args.model == "bp":
        est = BackpropClassifier(hidden, **common)
    else:
        est = NMFNetworkClassifier(hidden, batch_size=args.batch_size, **common)
    t0 = time.perf_counter()
    est.fit(X, y, comm=comm)
    fit_time = time.perf_counter() - t0
    acc = global_score(est, Xt, yt, comm)
    epoch_cpu = [b - a for a, b in zip(cpu[:-1], cpu[1:])]
    if comm is not None:  # the slowest rank of every epoch
        epoch_cpu = [max(v) for v in zip(*comm.allgather(epoch_cpu))]
    if comm is None or comm.rank == 0:
        arrays = {f"coef{i}": to_numpy(c) for i, c in enumerate(est.coefs_)}
        arrays.update({f"intercept{i}": to_numpy(b) for i, b in enumerate(est.intercepts_)})
        per_epoch = [b - a for a, b in zip(snapshots[:-1], snapshots[1:])]
        meta = {"test_error": 100 * (1 - acc), "epoch_times": est.epoch_times_,
                "epoch_cpu": epoch_cpu,
                "fit_time": fit_time, "loss": est.loss_curve_,
                "bytes_per_epoch": per_epoch[-1] if per_epoch else None,
                "ranks": 1 if comm is None else comm.size,
                "rank": int(getattr(est, "rank_", 0))}
        np.savez(args.out, meta=json.dumps(meta), **arrays)
    return 0


def task_factorize(args):
    """NMF or SemiNMF on MNIST; rank 0 saves the components, objective and iterations."""
    import numpy as np

    from nmfdnn import NMF, SemiNMF, to_numpy
    from nmfdnn.distributed import world

    comm = world()
    X, _, _, _ = _load(args, comm)
    if args.model == "nmf":
        est = NMF(args.components, init="nndsvda", max_iter=args.iters, tol=0.0,
                  dtype=args.dtype)
    else:
        X = X - 0.5  # mixed signs
        est = SemiNMF(args.components, fit_intercept=True, max_iter=args.iters, tol=0.0,
                      random_state=args.seed, dtype=args.dtype)
    t0 = time.perf_counter()
    W = est.fit_transform(X, comm=comm)
    seconds = time.perf_counter() - t0
    W0 = to_numpy(W)[:1000]  # the first 1000 samples' factors (held by rank 0)
    if comm is None or comm.rank == 0:
        meta = {"err": est.reconstruction_err_, "n_iter": est.n_iter_, "seconds": seconds}
        np.savez(args.out, meta=json.dumps(meta), components=to_numpy(est.components_), W0=W0)
    return 0


def task_allreduce(args):
    """Latency (8-byte sum) and bandwidth (8 MiB float64 sum) of the all-reduce."""
    import numpy as np

    from nmfdnn.distributed import world

    comm = world()
    small, big = np.ones(1), np.ones(1 << 20)
    comm.barrier()
    reps = 2000
    t0 = time.perf_counter()
    for _ in range(reps):
        comm.allreduce(small)
    latency = (time.perf_counter() - t0) / reps
    reps = 30
    comm.barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        comm.allreduce(big)
    seconds = (time.perf_counter() - t0) / reps
    if comm.rank == 0:
        with open(args.out, "w") as f:
            json.dump({"ranks": comm.size, "latency_s": latency, "bytes": big.nbytes,
                       "seconds_8MiB": seconds, "bandwidth_Bps": big.nbytes / seconds}, f)
    return 0


# --- driver ------------------------------------------------------------------------------------


def _launch(task_args, ranks, threads, timeout=3600):
    cmd = [sys.executable, str(Path(__file__).resolve()), *task_args]
    if ranks > 1:
        cmd = [_mpiexec(), "-n", str(ranks), *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_threads_env(threads), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - t0


def _npz(path):
    import numpy as np

    with np.load(path) as z:
        return json.loads(str(z["meta"])), {k: z[k] for k in z.files if k != "meta"}


def _rel(a, b):
    import numpy as np

    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-300))


def _fit_args(out, *, model="nmf", subset=0, hidden="1000,500", epochs=10, dtype="float32",
              batch=5000, seed=0, data=None):
    a = ["fit", "--out", str(out), "--model", model, "--hidden", hidden, "--epochs",
         str(epochs), "--dtype", dtype, "--batch-size", str(batch), "--seed", str(seed)]
    if subset:
        a += ["--subset", str(subset)]
    if data:
        a += ["--data", data]
    return a


def run_all(args):
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    res = {"load_before": os.getloadavg(), "tasks": {}}
    only = set(args.only.split(",")) if args.only else None

    def want(name):
        return only is None or name in only

    def log(msg):
        print(msg, flush=True)

    if want("equiv64"):
        out = {}
        for ranks in (1, 2):
            _launch(_fit_args(tmp / f"e64_{ranks}.npz", subset=10000, epochs=3, dtype="float64",
                              data=args.data), ranks, 1)
            out[ranks] = _npz(tmp / f"e64_{ranks}.npz")
        errs = {k: _rel(out[1][1][k], out[2][1][k]) for k in out[1][1]}
        res["tasks"]["equiv64"] = {"max_rel_diff": max(errs.values()), "rel_diff": errs,
                                   "test_error": [out[1][0]["test_error"],
                                                  out[2][0]["test_error"]],
                                   "loss": [out[1][0]["loss"], out[2][0]["loss"]]}
        log(f"equiv64: max relative weight difference {max(errs.values()):.3g}")
    if want("acc32"):
        errs = {}
        for ranks in (1, 2):
            _launch(_fit_args(tmp / f"a32_{ranks}.npz", data=args.data), ranks, 1)
            errs[ranks] = _npz(tmp / f"a32_{ranks}.npz")[0]["test_error"]
        res["tasks"]["acc32"] = {"test_error_1": errs[1], "test_error_2": errs[2]}
        log(f"acc32: test error 1 rank {errs[1]:.2f} %, 2 ranks {errs[2]:.2f} %")
    for model in ("nmf", "seminmf"):
        if not want(model):
            continue
        out = {}
        for ranks in (1, 2):
            f = tmp / f"{model}_{ranks}.npz"
            a = ["factorize", "--model", model, "--out", str(f), "--components", "20",
                 "--iters", "50", "--dtype", "float64"] + (["--data", args.data] if args.data
                                                            else [])
            _launch(a, ranks, 1)
            out[ranks] = _npz(f)
        res["tasks"][model] = {
            "err": [out[1][0]["err"], out[2][0]["err"]],
            "err_rel_diff": abs(out[1][0]["err"] - out[2][0]["err"]) / out[1][0]["err"],
            "components_rel_diff": _rel(out[1][1]["components"], out[2][1]["components"]),
            "W_rel_diff_first_1000": _rel(out[1][1]["W0"], out[2][1]["W0"]),
            "seconds": [out[1][0]["seconds"], out[2][0]["seconds"]]}
        log(f"{model}: {res['tasks'][model]}")
    if want("bp"):
        runs = {}
        for ranks, seed in ((1, 0), (1, 1), (2, 0)):
            f = tmp / f"bp_{ranks}_{seed}.npz"
            _launch(_fit_args(f, model="bp", epochs=args.bp_epochs, seed=seed, data=args.data),
                    ranks, 1)
            runs[f"{ranks}r_seed{seed}"] = _npz(f)[0]
        res["tasks"]["bp"] = {k: {"test_error": v["test_error"], "epoch_times": v["epoch_times"],
                                  "bytes_per_epoch": v["bytes_per_epoch"]}
                              for k, v in runs.items()}
        log(f"bp: {res['tasks']['bp']}")
    if want("epoch"):
        timing = {}
        for label, ranks, threads in (("1x1", 1, 1), ("2x1", 2, 1), ("1x2", 1, 2)):
            f = tmp / f"ep_{label}.npz"
            load = os.getloadavg()
            _launch(_fit_args(f, epochs=3, data=args.data), ranks, threads)
            meta = _npz(f)[0]
            timing[label] = {"epoch_times": meta["epoch_times"], "rank": meta["rank"],
                             "epoch_cpu": meta["epoch_cpu"],
                             "best_epoch": min(meta["epoch_times"]),
                             "bytes_per_epoch": meta["bytes_per_epoch"], "load": load}
        t = {k: v["best_epoch"] for k, v in timing.items()}
        c = {k: min(v["epoch_cpu"]) for k, v in timing.items()}
        res["tasks"]["epoch"] = {"runs": timing, "speedup_2x1_over_1x1": t["1x1"] / t["2x1"],
                                 "speedup_2x1_over_1x2": t["1x2"] / t["2x1"],
                                 "cpu_speedup_2x1_over_1x1": c["1x1"] / c["2x1"]}
        log(f"epoch: {res['tasks']['epoch']}")
    if want("allreduce"):
        f = tmp / "allreduce.json"
        _launch(["allreduce", "--out", str(f)], 2, 1)
        res["tasks"]["allreduce"] = json.loads(f.read_text())
        log(f"allreduce: {res['tasks']['allreduce']}")
    res["load_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "scaling_mpi.json"
    old = json.loads(path.read_text()) if path.exists() else {"tasks": {}}
    old["tasks"].update(res["tasks"])
    old["load"] = {"before": res["load_before"], "after": res["load_after"]}
    path.write_text(json.dumps(old, indent=1))
    (RESULTS / "scaling_mpi.md").write_text(report(old))
    print(report(old))
    return 0


# --- the model ---------------------------------------------------------------------------------


def model_rows(t1, rank, *, alpha, beta, ranks=(1, 2, 8, 64, 512), sizes=(784, 1000, 500, 10),
               batch=5000, m=60000, bp_epoch=None, bp_batch=100, itemsize=4, frac_rep=None):
    """Seconds per epoch at P ranks: the per-sample share of one rank's measured epoch divided
    by P, the replicated share (layer solves and weight-only products, from the flop counts of
    benchmarks/_flops.py) not divided, plus the all-reduces (Rabenseifner/ring:
    ``2 log₂P α + 2 (P−1)/P · bytes / β`` per message)."""
    from _flops import bias_reg_step_flops, bias_reg_step_solve_flops

    sizes = list(sizes)
    full = bias_reg_step_flops(sizes, rank, batch) + bias_reg_step_solve_flops(sizes, rank, batch)
    rep = bias_reg_step_flops(sizes, rank, 0) + bias_reg_step_solve_flops(sizes, rank, 0)
    if frac_rep is None:
        frac_rep = rep / full
    n_batches = math.ceil(m / batch)
    d = len(sizes) - 1
    # G and C of every U-step (one message per layer), the loss/counters once per epoch
    floats = (sizes[d - 1] + 1) * (sizes[d - 1] + 1 + sizes[d])
    floats += sum((sizes[i - 1] + 1) * (sizes[i - 1] + 1 + sizes[i]) for i in range(2, d))
    floats += (rank + 1) * (rank + 1 + sizes[1])
    # the ridge U-steps' G and C are formed and all-reduced in float64 for float32 data
    # (nmfdnn._ops.gram_cross_centered); backprop's gradients travel in the working dtype
    nmf_bytes, nmf_msgs = floats * max(itemsize, 8) * n_batches, d * n_batches
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    bp_batches = math.ceil(m / bp_batch)
    bp_bytes, bp_msgs = params * itemsize * bp_batches, bp_batches
    rows = []
    for P in ranks:
        def comm(nbytes, msgs, P=P):
            if P == 1:
                return 0.0
            return msgs * 2 * math.log2(P) * alpha + 2 * (P - 1) / P * nbytes / beta
        nmf_compute = t1 * (frac_rep + (1 - frac_rep) / P)
        row = {"P": P, "nmf_compute": nmf_compute, "nmf_comm": comm(nmf_bytes, nmf_msgs),
               "nmf_bytes": nmf_bytes}
        if bp_epoch is not None:
            row.update(bp_compute=bp_epoch / P, bp_comm=comm(bp_bytes, bp_msgs),
                       bp_bytes=bp_bytes)
        rows.append(row)
    return rows, frac_rep


def report(res):
    t = res["tasks"]
    lines = ["# Data-parallel scaling over MPI (benchmarks/scaling_mpi.py)", ""]
    load = res.get("load", {})
    lines.append(f"Machine load (1/5/15-min averages) before/after: {load.get('before')} / "
                 f"{load.get('after')} (2 cores shared with other jobs).")
    lines.append("")
    if "equiv64" in t:
        e = t["equiv64"]
        lines.append(f"- MNIST 10 000 samples, [1000, 500], 3 epochs, float64: max relative "
                     f"weight difference 2 ranks vs 1 process **{e['max_rel_diff']:.2e}**; test "
                     f"error {e['test_error'][0]:.2f} % vs {e['test_error'][1]:.2f} %.")
    if "acc32" in t:
        a = t["acc32"]
        lines.append(f"- All of MNIST, 10 epochs, float32: test error 1 rank "
                     f"**{a['test_error_1']:.2f} %**, 2 ranks **{a['test_error_2']:.2f} %**.")
    for model in ("nmf", "seminmf"):
        if model in t:
            r = t[model]
            lines.append(f"- {model} (MNIST, 20 components, 50 iterations, float64): objective "
                         f"rel. diff {r['err_rel_diff']:.1e}, components "
                         f"{r['components_rel_diff']:.1e}, factors "
                         f"{r['W_rel_diff_first_1000']:.1e}.")
    if "bp" in t:
        b = t["bp"]
        lines.append("- Backprop [1000, 500] test error: " + ", ".join(
            f"{k} {v['test_error']:.2f} %" for k, v in b.items()) + ".")
    if "epoch" in t:
        e = t["epoch"]
        lines += ["", "| configuration | seconds per epoch (best of 3) | bytes all-reduced per "
                  "epoch (per rank) |", "|---|---|---|"]
        for k, v in e["runs"].items():
            lines.append(f"| {k.replace('x', ' rank(s) × ')} thread(s) | {v['best_epoch']:.2f} | "
                         f"{v['bytes_per_epoch'] or 0:,} |")
        if "bp" in t and t["bp"].get("2r_seed0", {}).get("bytes_per_epoch"):
            lines.append(f"| backprop, 2 ranks (per epoch) | "
                         f"{min(t['bp']['2r_seed0']['epoch_times']):.2f} | "
                         f"{t['bp']['2r_seed0']['bytes_per_epoch']:,} |")
        lines += ["", f"Speed-up (wall time) 2 ranks × 1 thread over 1 rank × 1 thread: "
                  f"**{e['speedup_2x1_over_1x1']:.2f}**; over 1 rank × 2 threads: "
                  f"**{e['speedup_2x1_over_1x2']:.2f}** (load at the start of each run: " +
                  ", ".join(f"{k} {v['load'][0]:.1f}" for k, v in e["runs"].items()) + ")."]
        if "cpu_speedup_2x1_over_1x1" in e:
            lines.append(f"CPU seconds per epoch, 1 rank vs the busier of 2 ranks (MPI waits "
                         f"spin and count): {min(e['runs']['1x1']['epoch_cpu']):.2f} vs "
                         f"{min(e['runs']['2x1']['epoch_cpu']):.2f}, ratio "
                         f"**{e['cpu_speedup_2x1_over_1x1']:.2f}**.")
    if "allreduce" in t:
        a = t["allreduce"]
        lines += ["", f"All-reduce between 2 ranks (shared memory): latency "
                  f"{1e6 * a['latency_s']:.1f} µs, bandwidth {a['bandwidth_Bps'] / 1e9:.2f} GB/s "
                  f"(8 MiB)."]
    if "epoch" in t and "allreduce" in t:
        t1 = t["epoch"]["runs"]["1x1"]["best_epoch"]
        bp_epoch = None
        if "bp" in t:
            bp_epoch = min(t["bp"]["1r_seed0"]["epoch_times"])
        rank = t["epoch"]["runs"]["1x1"]["rank"]
        lines += ["", "## Model of the time per epoch (MNIST, [1000, 500], float32)", "",
                  "Assumptions: the per-sample work of one rank's measured epoch (1 thread) "
                  "divides by P, the replicated work (layer solves, weight-only products, "
                  f"per-mini-batch overhead; input rank {rank}) does not; one all-reduce per "
                  "layer and mini-batch for the NMF trainer, one per mini-batch of 100 for "
                  "backprop (all gradients in one message); all-reduce time "
                  "`2 log2(P) α + 2 (P−1)/P · bytes/β`; network "
                  "α = 2 µs, β = 10 GB/s (an InfiniBand-class interconnect; the shared-memory "
                  "values measured above are for 2 ranks on one node); global batch 5000 (NMF) "
                  "and 100 (backprop) kept, so at 512 ranks a backprop rank holds < 1 sample "
                  "of a mini-batch (its compute cannot shrink further in practice).", ""]
        _, frac_flops = model_rows(t1, rank, alpha=2e-6, beta=10e9)
        cpu = t["epoch"]["runs"]
        frac = None
        if "epoch_cpu" in cpu["1x1"] and "epoch_cpu" in cpu["2x1"]:
            # c₂ = c₁ (s + (1 − s)/2)  ⇒  s = 2 c₂/c₁ − 1 (spin waits count as serial)
            c1, c2 = min(cpu["1x1"]["epoch_cpu"]), min(cpu["2x1"]["epoch_cpu"])
            frac = min(max(2 * c2 / c1 - 1, frac_flops), 1.0)
        rows, frac = model_rows(t1, rank, alpha=2e-6, beta=10e9, bp_epoch=bp_epoch,
                                frac_rep=frac)
        lines += [f"Replicated (non-shrinking) fraction of the NMF epoch: {100 * frac:.1f} % "
                  f"(from the CPU seconds of 1 vs 2 ranks: `s = 2 c₂/c₁ − 1`; the flop counts "
                  f"alone give {100 * frac_flops:.1f} %: the rest is element-wise work, Python "
                  "overhead and MPI's spinning waits). Backprop's Adam update (replicated) is "
                  "not modelled: its column is optimistic.", "",
                  "| ranks | NMF compute (s) | NMF all-reduce (s) | NMF total (s) | NMF bytes/epoch"
                  " | BP compute (s) | BP all-reduce (s) | BP total (s) | BP bytes/epoch |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            bp = ("| {:.2f} | {:.2f} | {:.2f} | {:,.0f} |".format(
                r["bp_compute"], r["bp_comm"], r["bp_compute"] + r["bp_comm"], r["bp_bytes"])
                  if "bp_compute" in r else "| – | – | – | – |")
            lines.append(f"| {r['P']} | {r['nmf_compute']:.2f} | {r['nmf_comm']:.3f} | "
                         f"{r['nmf_compute'] + r['nmf_comm']:.2f} | {r['nmf_bytes']:,.0f} " + bp)
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=["all", "fit", "factorize", "allreduce", "report"])
    p.add_argument("--data", default=None, help="directory with mnist/ (default: NMFDNN_DATA)")
    p.add_argument("--out", default=None)
    p.add_argument("--model", default="nmf", choices=["nmf", "bp", "seminmf"])
    p.add_argument("--hidden", default="1000,500")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bp-epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--subset", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--components", type=int, default=20)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--only", default=None, help="comma-separated subset of the 'all' tasks")
    p.add_argument("--tmp", default="/tmp/nmfdnn_scaling")
    args = p.parse_args(argv)
    if args.task == "all":
        return run_all(args)
    if args.task == "report":  # rewrite the markdown from the stored results
        text = report(json.loads((RESULTS / "scaling_mpi.json").read_text()))
        (RESULTS / "scaling_mpi.md").write_text(text)
        print(text)
        return 0
    if args.model == "seminmf" or args.task == "factorize":
        return task_factorize(args)
    if args.task == "allreduce":
        return task_allreduce(args)
    return task_fit(args)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
