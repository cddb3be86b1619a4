"""One command that measures nmfdnn on a GPU — opt-in, not run in CI (its ``--smoke`` mode is).

    python benchmarks/gpu_suite.py --data DIR --out benchmarks/results/gpu_NAME
    python benchmarks/gpu_suite.py --smoke --out /tmp/gpu_smoke       # the same code, CPU, seconds

On a GPU machine that has CuPy / PyTorch / JAX but not nmfdnn's pure-Python dependencies,
``benchmarks/gpu_run.sh`` is the whole device command (install the carried wheels, run this).

The suite runs in **under 8 minutes** on one H100-class GPU.  It is cut into parts, each run in
its own subprocess with its own wall-clock budget (seconds, ``--budget PART=S`` overrides); a part
that runs out is killed and recorded as ``cut``, the parts after it still run.  Results are
written **as they come**: every measurement is appended to ``records.jsonl`` by the part that
made it, and after every part the parent rewrites ``results.json``, ``results.md`` and the PNG
plots from everything recorded so far, so a cut-off run still leaves results.

==========  ======  ==========================================================================
part        budget  what
==========  ======  ==========================================================================
machine       30 s  GPU name, memory, driver, CUDA, library versions; bare SGEMM and TF32 GEMM
                    TFLOP/s at 8192³ (torch, else CuPy): the roofline of every efficiency
tests        150 s  ``python -m pytest -x --backend B tests`` for B = cupy, torch:cuda,
                    jax:cuda (those present), each with a share of the budget
epoch         90 s  one epoch of ``NMFNetworkClassifier`` (bias-reg, original) across batch
                    sizes 1000 … 60000 on MNIST shapes 784 → 1000 → 500 → 10 (MNIST, or random
                    data of that shape), float32, TF32 off and on, cupy and torch; the BP
                    baseline (``BackpropClassifier``) and PyTorch's own autograd + Adam loop at
                    batch 100 and 1000: samples/s, GFLOP/s (``_flops.py`` counts), efficiency
                    against the measured SGEMM (TF32 GEMM for TF32 rows), peak device memory
mnist        110 s  MNIST, 10 epochs: test error against wall time of NMFNetworkClassifier
                    (library defaults) for [1000, 500], [1500, 1000, 500] and
                    [2000, 1500, 1000, 500], and of PyTorch's own BP on [1000, 500]
                    (cross-entropy, Adam 10⁻³, batch 100); time to 2 % test error
orl           80 s  the ORL table of docs/orl.md at the full 112 × 92 images with longer
                    training (``reproduce_orl.py``: 3000 epochs / iterations, 2 seeds,
                    k = 40, 50, 20, 30 in that order)
==========  ======  ==========================================================================

Files under ``--out`` (at most six): ``records.jsonl`` (raw, one JSON object a line),
``results.json`` (parts with status and budget, records grouped by part), ``results.md`` (the
tables), ``epoch.png`` (samples/s against batch size), ``mnist.png`` (test error against wall
time), ``orl.json`` (``reproduce_orl.py``'s own file).  Without matplotlib the PNGs are skipped
and ``results.md`` says so.

``--smoke`` runs the same code paths on the CPU in seconds: numpy and torch (CPU), tiny layer
sizes and sample counts, random data, a one-test pytest run on numpy, a 2-run ORL table on
random faces.  ``tests/test_gpu_suite.py`` runs it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import platform
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

PARTS = ("machine", "tests", "epoch", "mnist", "orl")
BUDGETS = {"machine": 30, "tests": 150, "epoch": 90, "mnist": 110, "orl": 80}
SMOKE_BUDGETS = {"machine": 60, "tests": 90, "epoch": 90, "mnist": 90, "orl": 90}

MNIST_SIZES = [784, 1000, 500, 10]
# most telling first: a part cut by its budget has measured these
EPOCH_BATCHES = [5000, 10000, 60000, 1000, 20000, 2500, 30000]
BP_BATCHES = [100, 1000]
MNIST_ARCHS = [(1000, 500), (1500, 1000, 500), (2000, 1500, 1000, 500)]
TARGET_ERROR = 2.0


# ----------------------------------------------------------------------------- recording


class Recorder:
    """Appends one JSON object per measurement to ``records.jsonl`` (flushed at once)."""

    def __init__(self, out, part):
        self.path = pathlib.Path(out) / "records.jsonl"
        self.part = part

    def __call__(self, kind, **fields):
        rec = {"part": self.part, "kind": kind, "time": time.time(), **fields}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(rec, default=_jsonable) + "\n")
        print(f"[{self.part}] {kind}: {json.dumps(fields, default=_jsonable)[:300]}", flush=True)
        return rec


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return str(x)


def read_records(out):
    path = pathlib.Path(out) / "records.jsonl"
    if not path.exists():
        return []
    recs = []
    for line in path.read_text().splitlines():
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill
            continue
    return recs


class Deadline:
    """The end of a part's budget, for its items to stop early (the kill is the hard stop)."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()


# ----------------------------------------------------------------------------- backends


def _have(module):
    try:
        importlib.import_module(module)
        return True
    except Exception:  # not installed, or a broken CUDA install raising at import
        return False


def gpu_backends(smoke):
    """``(label, backend, device)`` of the array backends timed: cupy and torch on the GPU
    (numpy and torch on the CPU in smoke mode)."""
    if smoke:
        out = [("numpy", "numpy", None)]
        if _have("torch"):
            out.append(("torch-cpu", "torch", "cpu"))
        return out
    from nmfdnn._array_api import gpu_available

    out = []
    if gpu_available("cupy"):
        out.append(("cupy", "cupy", None))
    if gpu_available("torch"):
        out.append(("torch-cuda", "torch", "cuda"))
    return out


def set_tf32(backend, on):
    """TF32 matmuls on or off for ``backend`` (CuPy reads ``CUPY_TF32`` at import: the epoch
    part sets it in the environment of its subprocess)."""
    if backend == "torch" and _have("torch"):
        import torch

        torch.backends.cuda.matmul.allow_tf32 = bool(on)
        torch.backends.cudnn.allow_tf32 = bool(on)
    if backend == "jax" and _have("jax"):
        import jax

        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if on else "float32")


def peak_memory_reset(backend):
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
    elif backend == "cupy":
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def peak_memory(backend):
    """Peak device bytes since the reset: torch's allocator peak, CuPy's pool size (the pool
    only grows between resets, so its size is the peak of what it held)."""
    try:
        if backend == "torch":
            import torch

            return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None
        if backend == "cupy":
            import cupy

            return int(cupy.get_default_memory_pool().total_bytes())
    except Exception:  # no device
        return None
    return None


def device_sync(backend):
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    elif backend == "cupy":
        import cupy

        cupy.cuda.Device().synchronize()


# ----------------------------------------------------------------------------- data


def mnist_or_random(data, smoke, n_train=None, seed=0):
    """``(X, y, Xt, yt, source)``: MNIST from ``data`` when found (not in smoke mode), else
    random images of MNIST's shape (pixels in [0, 1], 10 classes)."""
    if not smoke:
        try:
            from nmfdnn.datasets import load_mnist

            X, y, Xt, yt = load_mnist(data)
            return X, y, Xt, yt, "MNIST"
        except Exception as exc:  # not found: random data of MNIST's shape
            print(f"MNIST not found ({exc}); random data of its shape", flush=True)
    rng = np.random.default_rng(seed)
    m = n_train or (400 if smoke else 60000)
    mt = 200 if smoke else 10000
    X = rng.random((m, 784), dtype=np.float32)
    Xt = rng.random((mt, 784), dtype=np.float32)
    return X, rng.integers(0, 10, m), Xt, rng.integers(0, 10, mt), "random"


# ----------------------------------------------------------------------------- part: machine


def part_machine(args, rec, deadline):
    facts = dict(python=sys.version.split()[0], platform=platform.platform(),
                 cpu_count=os.cpu_count(), smoke=args.smoke)
    for mod in ("numpy", "scipy", "torch", "cupy", "jax", "array_api_compat", "array_api_extra",
                "sklearn", "nmfdnn"):
        try:
            facts[f"version_{mod}"] = importlib.import_module(mod).__version__
        except Exception:  # not installed
            facts[f"version_{mod}"] = None
    try:
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        facts["nvidia_smi"] = q.stdout.strip() or q.stderr.strip()
    except Exception as exc:  # no nvidia-smi: a CPU machine
        facts["nvidia_smi"] = f"unavailable ({type(exc).__name__})"
    if _have("torch"):
        import torch

        facts["torch_cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            facts.update(gpu_name=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                         gpu_sms=p.multi_processor_count)
    if _have("cupy"):
        try:
            import cupy

            facts["cupy_cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
            facts["cupy_cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
        except Exception as exc:  # no device
            facts["cupy_cuda_runtime"] = f"unavailable ({type(exc).__name__})"
    rec("facts", **facts)

    n = 512 if args.smoke else 8192
    for label, backend, device in gpu_backends(args.smoke):
        for tf32 in (False, True):
            if deadline.left() < 3:
                rec("cut", what=f"gemm {label} tf32={tf32}")
                return
            if backend == "numpy" and tf32:
                continue
            tflops = bare_gemm_tflops(backend, device, n, tf32)
            rec("gemm", backend=label, n=n, tf32=tf32, tflops=tflops)


def bare_gemm_tflops(backend, device, n, tf32, repeat=10):
    """Mean TFLOP/s of ``repeat`` float32 n³ products after 3 warm-ups (synchronized)."""
    from nmfdnn._array_api import namespace_from_name, resolve_device, sync

    if backend == "cupy" and bool(tf32) != (os.environ.get("CUPY_TF32") == "1"):
        return None  # CuPy's TF32 is fixed at import (CUPY_TF32): measured in the epoch part
    set_tf32(backend, tf32)
    xp = namespace_from_name(backend)
    dev = resolve_device(xp, device)
    rng = np.random.default_rng(0)
    A = xp.asarray(rng.random((n, n), dtype=np.float32), device=dev)
    B = xp.asarray(rng.random((n, n), dtype=np.float32), device=dev)
    for _ in range(3):
        C = A @ B
    sync(C)
    t = time.perf_counter()
    for _ in range(repeat):
        C = A @ B
    sync(C)
    return 2.0 * n**3 * repeat / (time.perf_counter() - t) / 1e12


# ----------------------------------------------------------------------------- part: tests


def part_tests(args, rec, deadline):
    if args.smoke:
        runs = [("numpy", ["tests/test_linalg.py", "-k", "test_lstsq_right_matches_lstsq"])]
    else:
        from nmfdnn._array_api import gpu_available

        runs = [(b, ["tests"]) for b in ("cupy", "torch:cuda", "jax:cuda") if gpu_available(b)]
        if not runs:
            rec("skipped", why="no GPU backend (cupy, torch:cuda, jax:cuda) sees a GPU")
            return
    if not _have("pytest"):
        rec("skipped", why="pytest is not installed")
        return
    for i, (backend, targets) in enumerate(runs):
        share = deadline.left() / (len(runs) - i) - 2
        if share < 5:
            rec("pytest", backend=backend, status="cut", why="no time left")
            continue
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "--backend", backend, *targets]
        status, seconds, output = run_bounded(cmd, share, cwd=ROOT)
        rec("pytest", backend=backend, status=status, seconds=seconds,
            counts=pytest_counts(output), summary=output.strip().splitlines()[-1:] or [""],
            tail=output[-2500:], command=" ".join(cmd[1:]))


def pytest_counts(output):
    """``{passed, failed, skipped, errors}`` from pytest's summary line, or counted from the
    progress characters when the run was cut before it."""
    import re

    counts = {}
    last = output.strip().splitlines()[-1] if output.strip() else ""
    for num, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", last):
        counts[word.rstrip("s") if word.startswith("error") else word] = int(num)
    if counts:
        return counts
    progress = "".join(line.split(" [")[0] for line in output.splitlines()
                       if re.fullmatch(r"[.sFExX]+\s*(\[\s*\d+%\])?", line.strip()))
    return {"passed": progress.count("."), "failed": progress.count("F"),
            "skipped": progress.count("s"), "error": progress.count("E"), "cut": True}


def run_bounded(cmd, seconds, *, cwd=None, env=None):
    """Run ``cmd`` for at most ``seconds`` (its whole process group is killed after that).

    Returns ``(status, seconds, output)``: status ``done``, ``failed`` (non-zero exit) or
    ``cut``; output is stdout and stderr together (also echoed to ours).
    """
    t0 = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=max(seconds, 1))
            status = "done" if rc == 0 else "failed"
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            status = "cut"
        log.seek(0)
        output = log.read()
    sys.stdout.write(output[-6000:])
    sys.stdout.flush()
    return status, round(time.monotonic() - t0, 2), output


# ----------------------------------------------------------------------------- part: epoch


def part_epoch(args, rec, deadline):
    """Parent of the epoch sub-runs: one subprocess per (backend, TF32) — CuPy's TF32 is set
    by the environment at import."""
    combos = []
    for label, backend, device in gpu_backends(args.smoke):
        # smoke: numpy, and torch with the TF32 switch on (the code path of both settings)
        tf32s = (False,) if backend == "numpy" else (True,) if args.smoke else (False, True)
        combos += [(label, backend, device, tf32) for tf32 in tf32s]
    if not combos:
        rec("skipped", why="no GPU backend (cupy, torch) sees a GPU")
        return
    for i, (label, backend, device, tf32) in enumerate(combos):
        share = deadline.left() / (len(combos) - i) - 1
        if share < 3:
            rec("cut", what=f"epoch {label} tf32={tf32}")
            continue
        env = dict(os.environ, CUPY_TF32="1" if tf32 else "0")
        cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child", "epoch-one",
               "--out", str(args.out), "--label", label, "--backend", backend,
               "--tf32", str(int(tf32)), "--seconds", str(share)]
        cmd += ["--device", device] if device else []
        cmd += ["--smoke"] if args.smoke else []
        cmd += ["--data", args.data] if args.data else []
        status, seconds, _ = run_bounded(cmd, share, env=env)
        rec("epoch-run", backend=label, tf32=tf32, status=status, seconds=seconds)


def part_epoch_one(args, rec, deadline):
    from _flops import (
        backprop_epoch_flops,
        bias_reg_step_flops,
        epoch_flops,
        original_step_flops,
    )

    from nmfdnn.estimators import BackpropClassifier, NMFNetworkClassifier

    backend, device, tf32 = args.backend, args.device, bool(args.tf32)
    set_tf32(backend, tf32)
    gemm = bare_gemm_tflops(backend, device, 512 if args.smoke else 8192, tf32, repeat=5)
    X, y, _, _, source = mnist_or_random(args.data, args.smoke)
    m = X.shape[0]
    sizes = [784, 50, 20, 10] if args.smoke else MNIST_SIZES
    hidden = tuple(sizes[1:-1])
    batches = [200] if args.smoke else EPOCH_BATCHES
    bp_batches = [100] if args.smoke else BP_BATCHES
    common = dict(backend=backend, device=device, dtype="float32", random_state=0)
    for batch in batches:
        for method in ("bias-reg", "original"):
            if deadline.left() < 2:
                rec("cut", what=f"{method} batch {batch}")
                return
            est = NMFNetworkClassifier(hidden, method=method, batch_size=batch, max_epochs=2,
                                       **common)
            peak_memory_reset(backend)
            est.fit(X, y)
            seconds = float(min(est.epoch_times_))
            step = bias_reg_step_flops if method == "bias-reg" else original_step_flops
            flops = epoch_flops(step, sizes, est.rank_, m, batch)
            _epoch_record(rec, f"nmf {method}", args.label, tf32, batch, m, seconds, flops, gemm,
                          peak_memory(backend), source, rank=est.rank_)
    for batch in bp_batches:
        if deadline.left() < 2:
            rec("cut", what=f"bp batch {batch}")
            return
        est = BackpropClassifier(hidden, batch_size=batch, max_epochs=2, **common)
        peak_memory_reset(backend)
        est.fit(X, y)
        _epoch_record(rec, "nmfdnn BP (Adam)", args.label, tf32, batch, m,
                      float(min(est.epoch_times_)), backprop_epoch_flops(sizes, m), gemm,
                      peak_memory(backend), source)
    if backend == "torch":
        for batch in bp_batches:
            if deadline.left() < 2:
                rec("cut", what=f"torch BP batch {batch}")
                return
            peak_memory_reset(backend)
            res = torch_bp(X, y, None, None, sizes, device=device or "cpu", batch=batch,
                           epochs=2, seed=0)
            _epoch_record(rec, "PyTorch BP (autograd, Adam)", args.label, tf32, batch, m,
                          min(res["epoch_seconds"]), backprop_epoch_flops(sizes, m), gemm,
                          peak_memory(backend), source)


def _epoch_record(rec, trainer, label, tf32, batch, m, seconds, flops, gemm_tflops, peak, source,
                  **extra):
    gflops = flops / seconds / 1e9
    rec("epoch", trainer=trainer, backend=label, tf32=tf32, batch=batch, samples=m,
        seconds=seconds, samples_per_s=m / seconds, gflops=gflops, gemm_tflops=gemm_tflops,
        efficiency=(gflops / (1e3 * gemm_tflops)) if gemm_tflops else None,
        peak_bytes=peak, data=source, **extra)


# ----------------------------------------------------------------------------- PyTorch's BP


def torch_bp(X, y, Xt, yt, sizes, *, device, batch, epochs, seed, lr=1e-3, deadline=None):
    """PyTorch's own loop: ``nn.Sequential`` of Linear/ReLU, cross-entropy, ``torch.optim.Adam``
    (lr 10⁻³), the training set on the device once, mini-batches gathered there from a device
    permutation.  Returns per-epoch seconds (test scoring included when ``Xt`` is given, read
    once per epoch) and test errors."""
    import torch

    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xd = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    yd = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    Xtd = None if Xt is None else torch.as_tensor(np.asarray(Xt, dtype=np.float32), device=device)
    ytd = None if yt is None else torch.as_tensor(np.asarray(yt, dtype=np.int64), device=device)
    m = Xd.shape[0]
    seconds, errors = [], []
    for _ in range(epochs):
        if deadline is not None and deadline.left() < 1:
            break
        device_sync("torch")
        t = time.perf_counter()
        perm = torch.randperm(m, device=device)
        for start in range(0, m, batch):
            J = perm[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xd[J]), yd[J])
            loss.backward()
            opt.step()
        if Xtd is not None:
            with torch.no_grad():
                errors.append(100.0 * float((model(Xtd).argmax(1) != ytd).float().mean()))
        device_sync("torch")
        seconds.append(time.perf_counter() - t)
    return {"epoch_seconds": seconds, "test_error": errors}


# ----------------------------------------------------------------------------- part: mnist


def part_mnist(args, rec, deadline):
    from nmfdnn.estimators import NMFNetworkClassifier

    X, y, Xt, yt, source = mnist_or_random(args.data, args.smoke)
    backs = gpu_backends(args.smoke)
    if not backs:
        rec("skipped", why="no GPU backend (cupy, torch) sees a GPU")
        return
    # torch first where present (PyTorch's BP runs on the same device for comparison)
    label, backend, device = sorted(backs, key=lambda b: b[1] != "torch")[0]
    archs = [(50, 20), (30, 20, 10)] if args.smoke else MNIST_ARCHS
    epochs = 2 if args.smoke else 10
    for i, hidden in enumerate(archs):
        if deadline.left() < 5:
            rec("cut", what=f"NMF {list(hidden)}")
            return
        est = NMFNetworkClassifier(hidden, max_epochs=epochs, backend=backend, device=device,
                                   dtype="float32", random_state=0)
        t0 = time.perf_counter()
        est.fit(X, y, X_val=Xt, y_val=yt)
        wall = time.perf_counter() - t0
        errors = [100.0 * (1.0 - s) for s in est.validation_scores_]
        setup = est.fit_time_ - sum(est.epoch_times_)
        cumulative = list(setup + np.cumsum(est.epoch_times_))
        _curve_record(rec, "nmfdnn NMF (bias-reg, defaults)", label, hidden, errors, cumulative,
                      source, setup_seconds=setup, fit_time=est.fit_time_, wall_seconds=wall,
                      final_score_error=100.0 * (1 - est.score(Xt, yt)))
        if i == 0 and backend == "torch":
            res = torch_bp(X, y, Xt, yt, [784, *hidden, 10], device=device or "cpu", batch=100,
                           epochs=epochs, seed=0, deadline=deadline)
            _curve_record(rec, "PyTorch BP (cross-entropy, Adam 1e-3, batch 100)", label, hidden,
                          res["test_error"], list(np.cumsum(res["epoch_seconds"])), source)


def _curve_record(rec, trainer, label, hidden, errors, cumulative, source, **extra):
    hit = next((t for e, t in zip(errors, cumulative) if e <= TARGET_ERROR), None)
    rec("curve", trainer=trainer, backend=label, arch=list(hidden), test_error=errors,
        cumulative_seconds=[float(t) for t in cumulative], time_to_target=hit,
        target=TARGET_ERROR, final_test_error=errors[-1] if errors else None, data=source,
        **extra)


# ----------------------------------------------------------------------------- part: orl


def part_orl(args, rec, deadline):
    out = pathlib.Path(args.out)
    if args.smoke:  # random faces, in a folder that lives as long as this process
        rng = np.random.default_rng(0)
        folder = pathlib.Path(tempfile.mkdtemp(prefix="nmfdnn-smoke-orl-"))
        np.savez(folder / "faces.npz", X=rng.integers(0, 256, (400, 112 * 92), dtype=np.uint8),
                 y=np.repeat(np.arange(40), 10))
        path, extra = str(folder), ["--ks", "5", "--seeds", "1", "--epochs", "2",
                                    "--nmf-iter", "5", "--downscale", "8"]
    else:
        path = None
        if args.data:
            path = str(pathlib.Path(args.data) / "orl-faces")
        extra = ["--ks", "40,50,20,30", "--seeds", "2", "--epochs", "3000", "--nmf-iter", "3000",
                 "--downscale", "1"]
        try:
            from nmfdnn.datasets import load_orl_faces

            load_orl_faces(path)
        except Exception as exc:  # not found
            rec("skipped", why=f"ORL faces not found ({exc})")
            return
    label, backend, device = sorted(gpu_backends(args.smoke) or [("numpy", "numpy", None)],
                                    key=lambda b: b[1] != "torch")[0]
    cmd = [sys.executable, str(HERE / "reproduce_orl.py"), "--batch-size", "100",
           "--backend", backend, "--out", str(out / "orl.json"), *extra]
    cmd += ["--path", path] if path else []
    cmd += ["--device", device] if device else []
    status, seconds, output = run_bounded(cmd, deadline.left() - 1, cwd=ROOT)
    rec("orl-run", backend=label, status=status, seconds=seconds, tail=output[-1500:])
    if args.smoke:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


CHILDREN = {"machine": part_machine, "tests": part_tests, "epoch": part_epoch,
            "epoch-one": part_epoch_one, "mnist": part_mnist, "orl": part_orl}


# ----------------------------------------------------------------------------- reports


def write_reports(out, parts):
    """``results.json``, ``results.md`` and the PNGs from all records so far."""
    out = pathlib.Path(out)
    recs = read_records(out)
    by_part = {}
    for r in recs:
        by_part.setdefault(r["part"], []).append(r)
    orl = None
    if (out / "orl.json").exists():
        try:
            orl = json.loads((out / "orl.json").read_text())
        except json.JSONDecodeError:  # being written when the part was cut
            orl = None
    notes = []
    pngs = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        pngs += plot_epoch(out, by_part.get("epoch", []))
        pngs += plot_mnist(out, by_part.get("mnist", []))
    except ImportError:
        notes.append("matplotlib is not installed: no PNG plots (pip install 'nmfdnn[plot]')")
    result = {"parts": parts, "records": by_part, "orl": orl and orl.get("summary"),
              "plots": pngs, "notes": notes}
    (out / "results.json").write_text(json.dumps(result, indent=1, default=_jsonable))
    (out / "results.md").write_text(markdown(by_part, parts, orl, notes, pngs))
    return result


def _fmt(x, spec=".3g"):
    return "–" if x is None else format(x, spec)


def markdown(by_part, parts, orl, notes, pngs):
    lines = ["# nmfdnn GPU suite", ""]
    facts = next((r for r in by_part.get("machine", []) if r["kind"] == "facts"), None)
    if facts:
        keys = ["gpu_name", "gpu_memory_gib", "nvidia_smi", "torch_cuda", "cupy_cuda_runtime",
                "python", "version_numpy", "version_torch", "version_cupy", "version_jax",
                "version_nmfdnn", "smoke"]
        lines += ["| fact | value |", "| --- | --- |"]
        lines += [f"| {k} | {facts.get(k)} |" for k in keys if k in facts]
        lines.append("")
    lines += ["## Parts", "", "| part | status | seconds | budget (s) |",
              "| --- | --- | --- | --- |"]
    lines += [f"| {p['part']} | {p['status']} | {_fmt(p.get('seconds'), '.1f')} | "
              f"{p['budget']} |" for p in parts]
    lines.append("")
    gemm = [r for r in by_part.get("machine", []) if r["kind"] == "gemm"]
    if gemm:
        lines += ["## Bare GEMM (float32)", "", "| backend | n | TF32 | TFLOP/s |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {r['backend']} | {r['n']} | {r['tf32']} | {_fmt(r['tflops'])} |"
                  for r in gemm]
        lines.append("")
    tests = [r for r in by_part.get("tests", []) if r["kind"] == "pytest"]
    if tests:
        lines += ["## Test suite", "", "| backend | status | counts | seconds |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {r['backend']} | {r['status']} | {r.get('counts')} | "
                  f"{_fmt(r.get('seconds'), '.1f')} |" for r in tests]
        lines.append("")
    epochs = [r for r in by_part.get("epoch", []) if r["kind"] == "epoch"]
    if epochs:
        lines += ["## One epoch (float32)", "",
                  "| trainer | backend | TF32 | batch | s/epoch | samples/s | GFLOP/s | "
                  "efficiency | GEMM TFLOP/s | peak MiB |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in epochs:
            peak = None if r.get("peak_bytes") is None else r["peak_bytes"] / 2**20
            eff = None if r.get("efficiency") is None else 100 * r["efficiency"]
            lines.append(f"| {r['trainer']} | {r['backend']} | {r['tf32']} | {r['batch']} | "
                         f"{_fmt(r['seconds'], '.4g')} | {_fmt(r['samples_per_s'], '.3g')} | "
                         f"{_fmt(r['gflops'], '.4g')} | {_fmt(eff, '.1f')} % | "
                         f"{_fmt(r.get('gemm_tflops'))} | {_fmt(peak, '.0f')} |")
        lines.append("")
    curves = [r for r in by_part.get("mnist", []) if r["kind"] == "curve"]
    if curves:
        lines += [f"## MNIST, test error against wall time (target {TARGET_ERROR:g} %)", "",
                  "| trainer | backend | hidden | final test error (%) | total s | "
                  f"time to {TARGET_ERROR:g} % (s) | per epoch (%) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in curves:
            total = r["cumulative_seconds"][-1] if r["cumulative_seconds"] else None
            lines.append(f"| {r['trainer']} | {r['backend']} | {r['arch']} | "
                         f"{_fmt(r['final_test_error'], '.2f')} | {_fmt(total, '.3g')} | "
                         f"{_fmt(r['time_to_target'], '.3g')} | "
                         f"{', '.join(f'{e:.2f}' for e in r['test_error'])} |")
        lines.append("")
    if orl and orl.get("summary"):
        sys.path.insert(0, str(HERE))
        from reproduce_orl import markdown as orl_markdown

        lines += ["## ORL (NMI×100, full-size images)", "", orl_markdown(orl), "",
                  f"Protocol: {json.dumps(orl.get('protocol'))}", ""]
    others = [r for p in by_part.values() for r in p if r["kind"] in ("cut", "skipped")]
    if others:
        lines += ["## Cut or skipped", ""]
        lines += [f"- {r['part']}: {r['kind']} — {r.get('what') or r.get('why')}" for r in others]
        lines.append("")
    if pngs or notes:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in pngs] + [f"- {n}" for n in notes]
        lines.append("")
    return "\n".join(lines)


def plot_epoch(out, recs):
    import matplotlib.pyplot as plt

    epochs = [r for r in recs if r["kind"] == "epoch"]
    if not epochs:
        return []
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    series = {}
    for r in epochs:
        key = f"{r['trainer']}, {r['backend']}" + (", TF32" if r["tf32"] else "")
        series.setdefault(key, []).append((r["batch"], r["samples_per_s"]))
    for key, pts in sorted(series.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", ms=3, label=key)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mini-batch size")
    ax.set_ylabel("training samples / s (one epoch)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(pathlib.Path(out) / "epoch.png", dpi=110)
    plt.close(fig)
    return ["epoch.png"]


def plot_mnist(out, recs):
    import matplotlib.pyplot as plt

    curves = [r for r in recs if r["kind"] == "curve" and r["test_error"]]
    if not curves:
        return []
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for r in curves:
        ax.plot(r["cumulative_seconds"], r["test_error"], "-o", ms=3,
                label=f"{r['trainer']} {r['arch']} ({r['backend']})")
    ax.axhline(TARGET_ERROR, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("training wall time (s)")
    ax.set_ylabel("test error (%)")
    ax.set_ylim(0, min(10, max(max(r["test_error"]) for r in curves) * 1.05 + 0.2))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(pathlib.Path(out) / "mnist.png", dpi=110)
    plt.close(fig)
    return ["mnist.png"]


# ----------------------------------------------------------------------------- main


def parse_budgets(items, smoke):
    budgets = dict(SMOKE_BUDGETS if smoke else BUDGETS)
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or name not in budgets:
            raise SystemExit(f"--budget: expected PART=SECONDS with PART in {list(budgets)}, "
                             f"got {item!r}")
        try:
            budgets[name] = float(value)
        except ValueError:
            raise SystemExit(f"--budget: {value!r} is not a number of seconds") from None
    return budgets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--data", default=os.environ.get("NMFDNN_DATA"),
                    help="folder with mnist/ and orl-faces/ (default: NMFDNN_DATA)")
    ap.add_argument("--smoke", action="store_true", help="the same code paths on the CPU, tiny")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    ap.add_argument("--budget", action="append", metavar="PART=SECONDS",
                    help="override a part's budget (repeatable)")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument("--label", help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    ap.add_argument("--device", help=argparse.SUPPRESS)
    ap.add_argument("--tf32", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    args.out = str(out)

    if args.child:  # one part (or epoch sub-run), in this process
        part = "epoch" if args.child == "epoch-one" else args.child
        CHILDREN[args.child](args, Recorder(out, part), Deadline(args.seconds - 1))
        return 0

    parts_wanted = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts_wanted) - set(PARTS))
    if unknown:
        raise SystemExit(f"--parts: unknown part(s) {unknown}; choose from {list(PARTS)}")
    budgets = parse_budgets(args.budget, args.smoke)
    (out / "records.jsonl").unlink(missing_ok=True)
    (out / "orl.json").unlink(missing_ok=True)
    parts = [{"part": p, "status": "pending", "budget": budgets[p]} for p in parts_wanted]
    write_reports(out, parts)
    t_all = time.monotonic()
    for entry in parts:
        cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child", entry["part"],
               "--out", str(out), "--seconds", str(entry["budget"])]
        cmd += ["--smoke"] if args.smoke else []
        cmd += ["--data", args.data] if args.data else []
        print(f"== part {entry['part']} (budget {entry['budget']:g} s)", flush=True)
        status, seconds, output = run_bounded(cmd, entry["budget"])
        entry.update(status=status, seconds=seconds,
                     log_tail=output[-1500:] if status != "done" else "")
        write_reports(out, parts)
    print(f"== suite done in {time.monotonic() - t_all:.1f} s; {out / 'results.md'}", flush=True)
    print((out / "results.md").read_text())
    return 0 if all(p["status"] == "done" for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
