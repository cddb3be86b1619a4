"""Weakly non-negative factorization: gradients against finite differences, the transposed
convolution against PyTorch's, AdamW against PyTorch's, η = 1 / η = 0 limits."""

import numpy as np
import pytest

from nmfdnn import WeaklyNMF, to_numpy
from nmfdnn._optim import adam_update
from nmfdnn.factorizations import (
    deconv_grad,
    deconv_objective,
    deconv_transpose,
    weak_nmf_grad,
    weak_nmf_objective,
)
from nmfdnn.factorizations._weak_nmf import eta_schedule


def _fd(f, A, h=1e-6):
    """Central finite differences of a scalar function of a host float64 array."""
    g = np.zeros_like(A)
    for i in np.ndindex(A.shape):
        Ap, Am = A.copy(), A.copy()
        Ap[i] += h
        Am[i] -= h
        g[i] = (f(Ap) - f(Am)) / (2 * h)
    return g


def _f64(problem):
    if problem.name != "float64":
        pytest.skip("finite differences need float64")


@pytest.mark.parametrize("loss", ["l1", "l2"])
@pytest.mark.parametrize("depth", [1, 2])
def test_gradients_match_finite_differences(problem, rng, loss, depth):
    _f64(problem)
    m, b = 7, 5
    ranks = [3, 4][:depth]
    dims = ranks + [m]
    X = rng.random((m, b))
    Ws = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(depth)]
    H = rng.standard_normal((ranks[0], b))
    kw = dict(eta=0.1, lam=0.1, loss=loss, xp=problem.xp)
    dev = problem.dev
    value, gWs, gH = weak_nmf_grad(dev(X), [dev(W) for W in Ws], dev(H), **kw)

    def obj(Ws_, H_):
        return float(weak_nmf_objective(dev(X), [dev(W) for W in Ws_], dev(H_), **kw))

    problem.assert_close(value, obj(Ws, H), rtol=1e-12)
    problem.assert_close(gH, _fd(lambda A: obj(Ws, A), H), rtol=0, atol=1e-6)
    for i in range(depth):
        def f(A, i=i):
            W2 = list(Ws)
            W2[i] = A
            return obj(W2, H)

        problem.assert_close(gWs[i], _fd(f, Ws[i]), rtol=0, atol=1e-6)


@pytest.mark.parametrize("loss", ["l1", "l2"])
@pytest.mark.parametrize("stride", [2, 4])
def test_deconv_gradients_match_finite_differences(problem, rng, loss, stride):
    _f64(problem)
    s, r, b = stride, (2 if stride == 2 else 1), (2 if stride == 2 else 1)
    h, w = (2 * s, 3 * s) if stride == 2 else (s, 2 * s)
    X = rng.random((h * w, b))
    W = rng.standard_normal((h // s, w // s, r))
    H = rng.standard_normal((4 * r, s * s, b))
    kw = dict(stride=s, eta=0.1, lam=0.1, loss=loss, xp=problem.xp)
    dev = problem.dev
    _, gW, gH = deconv_grad(dev(X), dev(W), dev(H), **kw)
    problem.assert_close(
        gW, _fd(lambda A: float(deconv_objective(dev(X), dev(A), dev(H), **kw)), W),
        rtol=0, atol=1e-6)
    problem.assert_close(
        gH, _fd(lambda A: float(deconv_objective(dev(X), dev(W), dev(A), **kw)), H),
        atol=1e-6)


@pytest.mark.parametrize("stride", [2, 4])
def test_deconv_matches_torch_conv_transpose(problem, rng, stride):
    torch = pytest.importorskip("torch")
    s, r, b = stride, 3, 2
    h, w = 3 * s, 2 * s
    F = rng.standard_normal((h // s, w // s, r))
    K = rng.standard_normal((4 * r, s * s, b))
    Y = deconv_transpose(problem.dev(F), problem.dev(K), stride=s, xp=problem.xp)
    Fh, Kh = problem.host(F), problem.host(K)
    for i in range(b):
        # kernel entry [dy*s + ty, dx*s + tx, c] from the (dy, dx, c) x (ty, tx) layout
        kern = Kh[:, :, i].reshape(2, 2, r, s, s).transpose(2, 0, 3, 1, 4).reshape(r, 2 * s, 2 * s)
        ref = torch.nn.functional.conv_transpose2d(
            torch.tensor(Fh.transpose(2, 0, 1)[None]), torch.tensor(kern[:, None]), stride=s,
            padding=s // 2)
        tol = 1e-10 if problem.name == "float64" else 1e-4
        problem.assert_close(Y[:, i], ref[0, 0].numpy().ravel(), rtol=0, atol=tol)


def test_adamw_matches_torch(problem, rng):
    torch = pytest.importorskip("torch")
    theta0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    p = torch.nn.Parameter(torch.tensor(theta0))
    opt = torch.optim.AdamW([p], lr=1e-2, weight_decay=0.1)
    theta, m, v = problem.dev(theta0), problem.dev(np.zeros((3, 4))), problem.dev(
        np.zeros((3, 4)))
    for t, g in enumerate(grads, start=1):
        p.grad = torch.tensor(g)
        opt.step()
        theta, m, v = adam_update(theta, problem.dev(g), m, v, t, lr=1e-2, weight_decay=0.1,
                                 xp=problem.xp)
    tol = 1e-10 if problem.name == "float64" else 1e-5
    problem.assert_close(theta, p.detach().numpy(), rtol=0, atol=tol)


def test_eta_one_is_unconstrained(problem, rng):
    # mixed-sign data of rank 2: only an unconstrained factorization can fit it
    X = rng.standard_normal((60, 2)) @ rng.standard_normal((2, 8))
    kw = dict(loss="l2", alpha=0.0, learning_rate=5e-2, batch_size=60, max_epochs=300,
              random_state=0)
    free = WeaklyNMF(2, eta=1.0, **kw)
    Z = free.fit_transform(problem.dev(X))
    err_free = np.linalg.norm(to_numpy(Z) @ to_numpy(free.components_) - X)
    nonneg = WeaklyNMF(2, eta=0.0, **kw)
    Zn = nonneg.fit_transform(problem.dev(X))
    err_nonneg = np.linalg.norm(to_numpy(Zn) @ to_numpy(nonneg.components_) - X)
    assert err_free < 0.01 * np.linalg.norm(X), err_free
    assert err_free < 0.5 * err_nonneg
    # φ₁ is the identity: the objective is ℓ(X, W H) + λ(‖W‖² + ‖H‖²) exactly
    W = rng.standard_normal((8, 2))
    H = rng.standard_normal((2, 5))
    val = weak_nmf_objective(problem.dev(X[:5].T), [problem.dev(W)], problem.dev(H),
                             eta=1.0, lam=0.3, loss="l2", xp=problem.xp)
    ref = 0.5 * np.sum((W @ H - X[:5].T) ** 2) + 0.3 * (np.sum(W**2) + np.sum(H**2))
    problem.assert_close(val, ref, rtol=1e-5)


def test_eta_zero_keeps_factors_nonnegative(problem, rng):
    X = rng.random((40, 10))
    est = WeaklyNMF(3, eta=0.0, max_epochs=20, batch_size=20, random_state=0)
    Z = est.fit_transform(problem.dev(X))
    assert np.all(to_numpy(Z) >= 0) and np.all(to_numpy(est.components_) >= 0)
    assert Z.dtype == problem.dtype
    # weak non-negativity (η = 0.1): small negative entries are allowed, scaled by η
    est = WeaklyNMF(3, eta=0.1, max_epochs=20, batch_size=20, random_state=0)
    est.fit(problem.dev(X))
    W = to_numpy(est.W_[0]).T.astype(np.float64)
    problem.assert_close(est.components_, np.where(W >= 0, W, 0.1 * W), rtol=1e-6, atol=1e-7)


def test_training_decreases_objective_all_models(problem, rng):
    X = rng.random((30, 16))  # 30 images of 4 x 4
    for kw in (dict(n_components=3), dict(n_components=(3, 5)),
               dict(n_components=2, stride=2, image_shape=(4, 4), latent="sum"),
               dict(n_components=2, stride=2, image_shape=(4, 4), latent="raw"),
               dict(n_components=3, eta="curriculum", loss="l2")):
        est = WeaklyNMF(max_epochs=30, batch_size=10, learning_rate=1e-2, random_state=0, **kw)
        Z = est.fit_transform(problem.dev(X))
        assert est.loss_curve_[-1] < est.loss_curve_[0]
        n_latent = {"raw": 4 * 4 * 2}.get(kw.get("latent"), 2 if "stride" in kw else 3)
        assert tuple(Z.shape) == (30, n_latent) and Z.dtype == problem.dtype
    # transform of new samples with the factors held fixed
    est = WeaklyNMF(3, max_epochs=10, batch_size=10, random_state=0).fit(problem.dev(X))
    assert tuple(est.transform(problem.dev(X[:7])).shape) == (7, 3)


def test_curriculum_schedule():
    assert eta_schedule("curriculum", 5) == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert eta_schedule(0.1, 2) == [0.1, 0.1]
    with pytest.raises(ValueError, match=r"eta must be in \[0, 1\] or 'curriculum', got 1.5"):
        eta_schedule(1.5, 2)


@pytest.mark.parametrize("bad", ["loss", "latent", "shape", "divisible", "nan", "rank"])
def test_weak_nmf_bad_input(bad, rng):
    X = rng.random((10, 16))
    kw = dict(max_epochs=1)
    if bad == "loss":
        kw["loss"] = "huber"
    elif bad == "latent":
        kw["latent"] = "max"
    elif bad == "shape":
        kw.update(stride=2, image_shape=(4, 3))
    elif bad == "divisible":
        X = rng.random((10, 15))
        kw.update(stride=2, image_shape=(5, 3))
    elif bad == "nan":
        X[0, 0] = np.nan
    else:
        kw["n_components"] = 0
    match = {"loss": "'loss' parameter of WeaklyNMF", "latent": "'latent' parameter of WeaklyNMF",
             "shape": r"image_shape \(4, 3\) has 12 pixels but X has 16",
             "divisible": "must be divisible by stride 2", "nan": "NaN", "rank": "n_components"}
    with pytest.raises(ValueError, match=match[bad]):
        WeaklyNMF(**kw).fit(X)
