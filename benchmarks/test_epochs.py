"""Whole training epochs on MNIST-sized data, [784 → 1000 → 500 → 10], in one run:

- ``nmfdnn bias-reg``: one epoch of Algorithm 3 (``run_epochs`` with
  ``bias_reg_minibatch_step``, as ``train_bias_reg`` runs it) at every mini-batch size;
- ``nmfdnn original``: one epoch of the original scheme (§4) at every mini-batch size;
- ``nmfdnn BP``, ``torch BP`` (autograd + ``torch.optim.Adam``) and ``sklearn MLP``
  (``MLPClassifier.partial_fit``): one backpropagation epoch at batch 100 on the same data.

Data: the first ``NMFDNN_BENCH_SAMPLES`` (default 20000) MNIST training images when the IDX
files are found through ``NMFDNN_DATA``, else random MNIST-like data of that size (stored in
``extra_info["data"]``).  Samples/s do not depend on the sample count, but the epoch time (and
the run time of the suite) does: ``NMFDNN_BENCH_SAMPLES=60000`` times true MNIST epochs.

What is timed is the trainer's epoch as ``fit`` runs it: the permutation drawn on the host and
moved, the ``take`` of every mini-batch, the steps, the finiteness counters and the one
read-back that ends the epoch (it synchronizes).  Not timed: the low-rank input (once per run,
§1.5) and the initial weights.  Each call starts from the same weights and permutation.

FLOPs are the products of the epoch (``_flops.py``, exact counts); the efficiency is GEMM work ÷
time ÷ the bare GEMM rate of the same backend and dtype (LU solves, ``eigh``, element-wise work,
gathers and Python overhead all count against it).  ``sklearn MLP`` is timed against NumPy's
GEMM and ``torch BP`` against PyTorch's.  Note that scikit-learn trains with softmax
cross-entropy (the others: ½‖y − ŷ‖²); the products are the same.

    NMFDNN_DATA=DIR NMFDNN_BENCH_BACKENDS=numpy,torch \\
      python -m pytest benchmarks/test_epochs.py --benchmark-only \\
      --benchmark-json benchmarks/results/epochs.json
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from _bench import Backend, run_timed
from _flops import (
    backprop_epoch_flops,
    bias_reg_step_flops,
    bias_reg_step_solve_flops,
    epoch_flops,
    original_step_flops,
)

from nmfdnn.baselines import glorot_init, train_backprop
from nmfdnn.training import (
    bias_reg_minibatch_step,
    original_minibatch_step,
    prepare_inputs,
    random_weights,
    run_epochs,
)

SIZES = [784, 1000, 500, 10]
ARCH = "[1000, 500]"
TAU = 4e-2
LAM_W, LAM_Z = 1e-3, 1e-5
BP_BATCH = 100
N_SAMPLES = int(os.environ.get("NMFDNN_BENCH_SAMPLES", "20000"))
ROUNDS = int(os.environ.get("NMFDNN_BENCH_EPOCH_ROUNDS", "2"))

_HOST = {}
_DEVICE = {}


def host_data():
    """``(X rows (m × 784) float64, y, source)``: MNIST when found, else random MNIST-like."""
    if "data" not in _HOST:
        try:
            from nmfdnn.datasets import load_mnist

            X, y, _, _ = load_mnist(None, dtype="float64")  # NMFDNN_DATA
            X, y, source = X[:N_SAMPLES], y[:N_SAMPLES], "mnist"
        except FileNotFoundError:
            rng = np.random.default_rng(0)
            X = rng.random((N_SAMPLES, SIZES[0])) * (rng.random((N_SAMPLES, SIZES[0])) < 0.2)
            y, source = rng.integers(0, SIZES[-1], size=N_SAMPLES), "random"
        _HOST["data"] = (X, y, f"{source} ({X.shape[0]} samples)")
    return _HOST["data"]


def device_data(bk, dtype_name):
    """``(Xc (784 × m), Y one-hot (10 × m), low-rank input, source)`` on ``bk``, once per
    backend and dtype (the low-rank input is computed once per run by the trainers too)."""
    key = (bk.spec, dtype_name)
    if key not in _DEVICE:
        X, y, source = host_data()
        Xc = bk.asarray(X.T, dtype_name)
        Y = bk.asarray(np.eye(SIZES[-1])[:, y], dtype_name)
        inputs = prepare_inputs(Xc, TAU, xp=bk.xp)
        _DEVICE[key] = (Xc, Y, inputs, source)
    return _DEVICE[key]


def _nmf_epoch(benchmark, bk, dtype_name, batch, *, method):
    Xc, Y, inputs, source = device_data(bk, dtype_name)
    m, r, xp = Xc.shape[1], inputs.rank, bk.xp
    if batch > m:
        pytest.skip(f"batch {batch} > {m} samples")
    bias = method == "bias-reg"
    W0 = random_weights(SIZES, bias=bias, rng=np.random.default_rng(0), xp=xp,
                        device=bk.device, dtype=getattr(xp, dtype_name))
    if bias:
        def step(W, VJ, YJ):
            return bias_reg_minibatch_step(W, VJ, YJ, inputs, lam_w=LAM_W, lam_z=LAM_Z, xp=xp)

        flops = epoch_flops(bias_reg_step_flops, SIZES, r, m, batch)
        solve = epoch_flops(bias_reg_step_solve_flops, SIZES, r, m, batch)
    else:
        def step(W, VJ, YJ):
            return original_minibatch_step(W, VJ, YJ, inputs, xp=xp)

        flops = epoch_flops(original_step_flops, SIZES, r, m, batch)
        solve = None  # eigh-based pseudo-inverses: not counted

    def epoch():
        W, _ = run_epochs(step, W0, Y, inputs, batch_size=batch, max_epochs=1,
                          rng=np.random.default_rng(1), xp=xp)
        return tuple(W)

    seconds = run_timed(benchmark, bk, epoch, flops=flops, samples=m, dtype_name=dtype_name,
                        group=f"epoch {method} {ARCH}", rounds=ROUNDS, warmup_rounds=0,
                        method=f"nmfdnn {method}", batch=batch, data=source, rank=r,
                        arch=ARCH, solve_flops=solve)
    if seconds is not None and solve is not None:
        info = benchmark.extra_info
        info["efficiency_incl_solves"] = (flops + solve) / seconds / 1e9 / info["gemm_gflops"]


def test_epoch_bias_reg(benchmark, bk, dtype_name, batch):
    _nmf_epoch(benchmark, bk, dtype_name, batch, method="bias-reg")


def test_epoch_original(benchmark, bk, dtype_name, batch):
    _nmf_epoch(benchmark, bk, dtype_name, batch, method="original")


# --- backpropagation epochs at batch 100, same data, same group -----------------------------

BP_GROUP = f"epoch BP batch {BP_BATCH} {ARCH}"


def test_epoch_bp_nmfdnn(benchmark, bk, dtype_name):
    Xc, Y, _, source = device_data(bk, dtype_name)
    m, xp = Xc.shape[1], bk.xp
    params = glorot_init(SIZES, rng=np.random.default_rng(0), xp=xp, device=bk.device,
                         dtype=getattr(xp, dtype_name))

    def epoch():  # train_backprop's epoch: permutation, train_epoch, one read-back
        W, _ = train_backprop(Xc, Y, params, batch_size=BP_BATCH, max_epochs=1,
                              rng=np.random.default_rng(1), xp=xp)
        return tuple(W)

    run_timed(benchmark, bk, epoch, flops=backprop_epoch_flops(SIZES, m), samples=m,
              dtype_name=dtype_name, group=BP_GROUP, rounds=ROUNDS, warmup_rounds=0,
              method="nmfdnn BP", batch=BP_BATCH, data=source, arch=ARCH)


def test_epoch_bp_torch(benchmark, dtype_name):
    torch = pytest.importorskip("torch")
    X, y, source = host_data()
    m = X.shape[0]
    dt = getattr(torch, dtype_name)
    Xt = torch.tensor(X, dtype=dt)
    Yt = torch.tensor(np.eye(SIZES[-1])[y], dtype=dt)
    torch.manual_seed(0)
    layers = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        layers += [torch.nn.Linear(a, b, dtype=dt), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)

    def epoch():
        order = torch.as_tensor(rng.permutation(m))
        for start in range(0, m, BP_BATCH):
            J = order[start:start + BP_BATCH]
            opt.zero_grad()
            out = model(Xt[J])
            loss = 0.5 * ((out - Yt[J]) ** 2).sum() / J.shape[0]
            loss.backward()
            opt.step()
        return loss.detach()

    run_timed(benchmark, Backend("torch"), epoch, flops=backprop_epoch_flops(SIZES, m),
              samples=m, dtype_name=dtype_name, group=BP_GROUP, rounds=ROUNDS,
              warmup_rounds=0, method="torch BP", batch=BP_BATCH, data=source, arch=ARCH)


def test_epoch_bp_sklearn(benchmark, dtype_name):
    from sklearn.neural_network import MLPClassifier

    X, y, source = host_data()
    X = X.astype(dtype_name)
    model = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), batch_size=BP_BATCH,
                          learning_rate_init=1e-3, alpha=0.0, random_state=0)
    classes = np.arange(SIZES[-1])

    def epoch():
        model.partial_fit(X, y, classes=classes)

    run_timed(benchmark, Backend("numpy"), epoch, flops=backprop_epoch_flops(SIZES, X.shape[0]),
              samples=X.shape[0], dtype_name=dtype_name, group=BP_GROUP, rounds=ROUNDS,
              warmup_rounds=0, method="sklearn MLP", batch=BP_BATCH, data=source, arch=ARCH)


# --- the operation counts themselves (runs in smoke runs; skipped by --benchmark-only) -------

def test_flop_counts_match_torch():
    """``_flops.py`` equals what torch's FlopCounterMode sees in the real steps (tiny sizes)."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from nmfdnn._array_api import namespace_from_name
    from nmfdnn.baselines import adam_init, train_epoch

    xp = namespace_from_name("torch")
    rng = np.random.default_rng(0)
    for sizes in ([30, 40, 20, 5], [30, 17, 25, 12, 4]):
        m, s = 200, 64
        X = torch.tensor(rng.random((sizes[0], m)) * (rng.random((sizes[0], m)) < 0.5))
        Y = torch.tensor(np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], m)])
        inputs = prepare_inputs(X, 1e-3, xp=xp)
        r, VJ, YJ = inputs.rank, inputs.Vt[:, :s], Y[:, :s]
        W = random_weights(sizes, bias=True, rng=rng, xp=xp, device=None, dtype=torch.float64)
        with FlopCounterMode(display=False) as fc:
            bias_reg_minibatch_step(W, VJ, YJ, inputs, lam_w=1e-3, lam_z=1e-5, xp=xp)
        assert fc.get_total_flops() == bias_reg_step_flops(sizes, r, s), sizes
        W = random_weights(sizes, bias=False, rng=rng, xp=xp, device=None, dtype=torch.float64)
        with FlopCounterMode(display=False) as fc:
            original_minibatch_step(W, VJ, YJ, inputs, xp=xp)
        assert fc.get_total_flops() == original_step_flops(sizes, r, s), sizes
        params = glorot_init(sizes, rng=rng, xp=xp, dtype=torch.float64)
        with FlopCounterMode(display=False) as fc:
            train_epoch(params, adam_init(params, xp=xp), X, Y, torch.randperm(m),
                        batch_size=30, xp=xp)
        assert fc.get_total_flops() == backprop_epoch_flops(sizes, m)
