"""Peers in the same run: nmfdnn's NMF vs scikit-learn's NMF, nmfdnn's backprop epoch vs
PyTorch autograd + torch.optim.Adam vs scikit-learn's MLPClassifier (one epoch each; the peers'
efficiency is against the bare GEMM of their own library, PyTorch's or NumPy's)."""

import numpy as np
import pytest
from _bench import Backend, run_timed
from _flops import backprop_epoch_flops

from nmfdnn.baselines import adam_init, glorot_init, train_epoch
from nmfdnn.factorizations import nmf

N_SAMPLES = 10000
SIZES = [784, 1000, 500, 10]


def _mnist_like(rng, n=N_SAMPLES):
    X = rng.random((n, 784)).astype(np.float64) * (rng.random((n, 784)) < 0.2)
    y = rng.integers(0, 10, size=n)
    return X, y


# --- NMF: 50 multiplicative iterations, rank 50, 784 features ---------------------------------

def test_nmf_nmfdnn(benchmark, bk, dtype_name):
    rng = np.random.default_rng(0)
    X, _ = _mnist_like(rng, 5000)
    A = bk.asarray(X.T, dtype_name)
    W0 = bk.asarray(rng.random((784, 50)), dtype_name)
    H0 = bk.asarray(rng.random((50, 5000)), dtype_name)
    flops = 50 * 2 * (2 * 784 * 50 * 5000 + 50 * 50 * (784 + 5000) * 2)
    run_timed(benchmark, bk, lambda: nmf(A, W0, H0, n_iter=50, check_every=0, xp=bk.xp)[:2],
              flops=flops, samples=5000, dtype_name=dtype_name, group="NMF 50 it",
              method="nmfdnn NMF", batch=5000, rounds=3)


def test_nmf_sklearn(benchmark, dtype_name):
    from sklearn.decomposition import NMF

    rng = np.random.default_rng(0)
    X, _ = _mnist_like(rng, 5000)
    X = X.astype(dtype_name)
    W0 = rng.random((5000, 50)).astype(dtype_name)
    H0 = rng.random((50, 784)).astype(dtype_name)
    model = NMF(50, init="custom", solver="mu", max_iter=50, tol=0.0)
    benchmark.group = "NMF 50 it"
    benchmark.extra_info.update(backend="scikit-learn", dtype=dtype_name, method="sklearn NMF",
                                batch=5000)
    benchmark.pedantic(lambda: model.fit_transform(X, W=W0.copy(), H=H0.copy()), rounds=3,
                       iterations=1)


# --- backprop: one epoch, batch 100, [1000, 500] ---------------------------------------------

def test_backprop_epoch_nmfdnn(benchmark, bk, dtype_name):
    from nmfdnn._host import check_random_state

    rng = check_random_state(0)
    X, y = _mnist_like(rng)
    Xd = bk.asarray(X.T, dtype_name)
    Yd = bk.asarray(np.eye(10)[:, y], dtype_name)
    params = glorot_init(SIZES, rng=rng, xp=bk.xp, device=bk.device,
                         dtype=getattr(bk.xp, dtype_name))
    order = bk.xp.asarray(rng.permutation(N_SAMPLES), device=bk.device)

    def epoch():
        p, s, loss = train_epoch(params, adam_init(params, xp=bk.xp), Xd, Yd, order,
                                 batch_size=100, xp=bk.xp)
        return loss

    flops = backprop_epoch_flops(SIZES, N_SAMPLES)
    run_timed(benchmark, bk, epoch, flops=flops, samples=N_SAMPLES, dtype_name=dtype_name,
              group="BP epoch (batch 100)", method="nmfdnn BP", batch=100, rounds=2)


def test_backprop_epoch_torch_autograd(benchmark, dtype_name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, y = _mnist_like(rng)
    dt = getattr(torch, dtype_name)
    Xt, Yt = torch.tensor(X, dtype=dt), torch.tensor(np.eye(10)[y], dtype=dt)
    layers = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        layers += [torch.nn.Linear(a, b, dtype=dt), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(N_SAMPLES, generator=torch.Generator().manual_seed(0))

    def epoch():
        for start in range(0, N_SAMPLES, 100):
            J = order[start:start + 100]
            opt.zero_grad()
            loss = 0.5 * ((model(Xt[J]) - Yt[J]) ** 2).sum(1).mean()
            loss.backward()
            opt.step()
        return loss

    run_timed(benchmark, Backend("torch"), epoch, flops=backprop_epoch_flops(SIZES, N_SAMPLES),
              samples=N_SAMPLES, dtype_name=dtype_name, group="BP epoch (batch 100)",
              method="torch BP", batch=100, rounds=2)


def test_backprop_epoch_sklearn_mlp(benchmark, dtype_name):
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    X, y = _mnist_like(rng)
    X = X.astype(dtype_name)
    model = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], batch_size=100, learning_rate_init=1e-3,
                          random_state=0)
    run_timed(benchmark, Backend("numpy"), lambda: model.partial_fit(X, y, classes=np.arange(10)),
              flops=backprop_epoch_flops(SIZES, N_SAMPLES), samples=N_SAMPLES,
              dtype_name=dtype_name, group="BP epoch (batch 100)", method="sklearn MLP",
              batch=100, rounds=2)
