"""§1.5: exact low-rank recovery, and the reduced first-layer solve against the direct form."""

import numpy as np
import pytest

from nmfdnn import lowrank_approximation, nonlinear_u_step, reduced_first_layer_step, to_numpy
from nmfdnn.testing import assert_close


def test_exact_low_rank_matrix_is_recovered(problem, rng):
    X = rng.random((20, 5)) @ rng.random((5, 300))  # rank 5, non-negative like images
    lr = lowrank_approximation(problem.dev(X), tau=1e-3, xp=problem.xp)
    assert lr.rank == 5
    rtol = 1e-9 if problem.name == "float64" else 2e-3
    problem.assert_close(lr.reconstruct(), problem.host(X), rtol=rtol,
                 atol=rtol * np.abs(X).max())
    problem.assert_close(lr.Q.T @ lr.Q, np.eye(5), rtol=0, atol=10 * rtol)  # orthonormal
    # singular values match numpy's SVD
    s_ref = np.linalg.svd(problem.host(X), compute_uv=False)[:5]
    problem.assert_close(lr.sigma, s_ref, rtol=rtol)


def test_threshold_keeps_the_singular_values_above_tau(rng):
    U, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    V, _ = np.linalg.qr(rng.standard_normal((200, 12)))
    s = np.array([10, 8, 5, 3, 1, 0.5, 0.3, 0.1, 0.05, 0.01, 0.005, 0.001])
    X = (U * s) @ V.T
    for tau, r in [(0.04, 6), (0.2, 4), (0.0, 12)]:
        assert lowrank_approximation(X, tau=tau).rank == r
    assert lowrank_approximation(X, tau=0.0, max_rank=3).rank == 3


def test_mini_batch_columns(rng):
    X = rng.random((15, 3)) @ rng.random((3, 100))
    lr = lowrank_approximation(X, tau=1e-6)
    J = np.arange(10, 40)
    assert_close(lr.reconstruct(J), X[:, J], rtol=0, atol=1e-10)


def test_wide_input_uses_svd(problem, rng):
    X = rng.random((50, 4)) @ rng.random((4, 30))  # more features than samples
    lr = lowrank_approximation(problem.dev(X), tau=1e-3, xp=problem.xp)
    assert lr.rank == 4
    rtol = 1e-9 if problem.name == "float64" else 2e-3
    problem.assert_close(lr.reconstruct(), problem.host(X), rtol=rtol, atol=rtol * 10)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_reduced_solve_equals_direct_solve_on_low_rank_input(problem, rng, tol, bias, lam):
    """On X = Q diag(σ) V exactly, the reduced U-step is the direct U-step of Algorithm 2
    (penalty λ‖W̃‖²), checked against an augmented numpy.linalg.lstsq in float64."""
    n0, r, s, n1 = 12, 4, 80, 6
    X = rng.random((n0, r)) @ rng.random((r, s))
    lr = lowrank_approximation(problem.dev(X), tau=1e-4, xp=problem.xp)
    assert lr.rank == r
    Z1 = np.maximum(rng.standard_normal((n1, n0)) @ X, 0)
    W0 = 0.3 * rng.standard_normal((n1, n0 + bias))
    W1 = reduced_first_layer_step(problem.dev(Z1), problem.dev(W0), lr, lam_w=lam,
                                  xp=problem.xp)
    assert W1.shape == W0.shape and W1.dtype == problem.dtype
    # reference: the minimum-norm ridge solution of the linearized problem on X̃ (float64)
    Xh, Zh, Wh = problem.host(X), problem.host(Z1), problem.host(W0)
    Xt = np.vstack([Xh, np.ones((1, s))]) if bias else Xh
    P = Wh @ Xt
    T = P + Zh - np.maximum(P, 0)
    p = Xt.shape[0]
    if lam > 0:
        lhs = np.vstack([Xt.T, np.sqrt(lam) * np.eye(p)])
        ref = np.linalg.lstsq(lhs, np.vstack([T.T, np.zeros((p, n1))]), rcond=None)[0].T
    else:
        ref = T @ np.linalg.pinv(Xt, rcond=1e-8)
    rt = tol if problem.name == "float64" else dict(rtol=1e-2, atol=1e-2)
    # compare what the layer computes on the data: W̃ X̃ (and the weights themselves for λ > 0)
    problem.assert_close(W1 @ problem.dev(Xt), ref @ Xt, **rt)
    if lam > 0:
        problem.assert_close(W1, ref, **rt)


def test_reduced_solve_on_tiny_input(problem, rng):
    """Inputs near 1e-30: σ² underflows in float32, so λ_W/σ² is infinite there; the ridge
    minimizer is still finite (first-layer weights ~0, the bias fitted) and matches the float64
    least-squares reference, as it does in float64, where nothing underflows."""
    n0, s, n1, lam = 3, 40, 4, 1e-3
    X = 1e-30 * rng.random((n0, s))
    lr = lowrank_approximation(problem.dev(X), tau=1e-4, xp=problem.xp)
    Z1 = np.maximum(rng.standard_normal((n1, s)), 0)
    W0 = 0.3 * rng.standard_normal((n1, n0 + 1))
    W1 = reduced_first_layer_step(problem.dev(Z1), problem.dev(W0), lr, lam_w=lam,
                                  xp=problem.xp)
    Xh, Zh, Wh = problem.host(X), problem.host(Z1), problem.host(W0)
    Xt = np.vstack([Xh, np.ones((1, s))])
    P = Wh @ Xt
    T = P + Zh - np.maximum(P, 0)
    lhs = np.vstack([Xt.T, np.sqrt(lam) * np.eye(n0 + 1)])
    ref = np.linalg.lstsq(lhs, np.vstack([T.T, np.zeros((n0 + 1, n1))]), rcond=None)[0].T
    problem.assert_close(W1, ref, rtol=1e-4, atol=1e-6)


def test_reduced_solve_matches_u_step_on_batch(rng):
    """With the same batch columns, the reduced solve equals nonlinear_u_step on X_J̃ when the
    weights already lie in span(Q) and λ = 0."""
    n0, r = 10, 3
    X = rng.random((n0, r)) @ rng.random((r, 60))
    lr = lowrank_approximation(X, tau=1e-6)
    J = np.arange(5, 45)
    Z1 = np.maximum(rng.standard_normal((4, n0)) @ X[:, J], 0)
    W0 = rng.standard_normal((4, n0 + 1))
    Q = to_numpy(lr.Q)
    W0[:, :n0] = W0[:, :n0] @ Q @ Q.T  # rows in span(Q)
    W_red = reduced_first_layer_step(Z1, W0, lr, columns=J)
    W_dir = nonlinear_u_step(Z1, W0, X[:, J])
    Xt = np.vstack([X[:, J], np.ones((1, J.size))])
    assert_close(W_red @ Xt, W_dir @ Xt, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kwargs,match", [({"tau": -1.0}, "tau"), ({"tau": 1.5}, "tau"),
                                          ({"max_rank": 0}, "max_rank"),
                                          ({"max_rank": 99}, "max_rank")])
def test_bad_arguments(rng, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lowrank_approximation(rng.random((5, 20)), **kwargs)


def test_zero_input_is_an_error():
    with pytest.raises(ValueError, match="zero"):
        lowrank_approximation(np.zeros((4, 10)))


@pytest.mark.parametrize("sign", [1.0, -1.0])  # −1: max|X| is the magnitude of the minimum
def test_large_values_do_not_overflow(problem, rng, sign):
    """X Xᵀ of float32 data near 1e20 would overflow; the decomposition scales X first."""
    X = sign * rng.random((8, 3)) @ rng.random((3, 50))
    big = 1e20 if problem.name == "float32" else 1e200
    lr = lowrank_approximation(problem.dev(X * big), tau=1e-3, xp=problem.xp)
    assert lr.rank == 3
    problem.assert_close(lr.reconstruct() / big, X, rtol=1e-3, atol=1e-3)
