"""§1.2, §1.3 and Algorithm 2 against numpy.linalg.pinv / lstsq references."""

import numpy as np
import pytest

from nmfdnn import (
    nonlinear_lstsq_weights,
    nonlinear_lstsq_weights_step,
    nonlinear_semi_nmf,
    nonlinear_semi_nmf_step,
    nonneg_nonlinear_lstsq_targets,
    nonneg_nonlinear_lstsq_targets_step,
    to_numpy,
)


def relu(x):
    return np.maximum(x, 0)


def _layer(rng, k=5, p=7, m=80):
    """A ReLU layer B = f(W A) with A ≥ 0 (inputs of a hidden layer)."""
    W = rng.standard_normal((k, p))
    A = rng.random((p, m))
    return relu(W @ A), W, A


def test_weights_step_is_x_plus_r_pinv_a(problem, rng, tol):
    B, _, A = _layer(rng)
    X0 = rng.standard_normal((5, 7))
    X1 = nonlinear_lstsq_weights_step(problem.dev(B), problem.dev(X0), problem.dev(A),
                                      omega=0.7, xp=problem.xp)
    Bh, Xh, Ah = problem.host(B), problem.host(X0), problem.host(A)
    ref = Xh + 0.7 * (Bh - relu(Xh @ Ah)) @ np.linalg.pinv(Ah)
    problem.assert_close(X1, ref, **tol)


@pytest.mark.parametrize("shape", [(9, 4), (4, 9)], ids=["tall", "wide"])
def test_targets_step_is_projected_pinv_correction(problem, rng, tol, shape):
    k, p = shape
    A = rng.standard_normal((k, p))
    X0 = rng.random((p, 30))
    B = relu(A @ rng.random((p, 30)))
    X1 = nonneg_nonlinear_lstsq_targets_step(problem.dev(B), problem.dev(A), problem.dev(X0),
                                             xp=problem.xp)
    Bh, Ah, Xh = problem.host(B), problem.host(A), problem.host(X0)
    ref = relu(Xh + np.linalg.pinv(Ah) @ (Bh - relu(Ah @ Xh)))
    problem.assert_close(X1, ref, **tol)
    assert bool(problem.xp.all(X1 >= 0))


def test_weights_loop_fits_a_realizable_layer(problem, rng):
    B, W, A = _layer(rng)
    X0 = W + 0.3 * rng.standard_normal(W.shape)
    X, info = nonlinear_lstsq_weights(problem.dev(B), problem.dev(X0), problem.dev(A),
                                      n_iter=30, xp=problem.xp)
    hist = np.array([float(to_numpy(h)) for h in info.history])
    assert hist[-1] < 1e-2 * hist[0]
    assert X.dtype == problem.dtype


def test_targets_loop_reduces_the_residual(problem, rng):
    A = rng.standard_normal((9, 4))
    B = relu(A @ rng.random((4, 30)))
    X, info = nonneg_nonlinear_lstsq_targets(problem.dev(B), problem.dev(A),
                                             problem.dev(rng.random((4, 30))), n_iter=20,
                                             xp=problem.xp)
    hist = np.array([float(to_numpy(h)) for h in info.history])
    assert hist[-1] < 0.05 * hist[0]


@pytest.mark.parametrize("lam", [0.0, 0.2])
def test_algorithm2_u_step_is_ridge_fit_of_linearized_target(problem, rng, tol, lam):
    B, _, A = _layer(rng)
    U0 = rng.standard_normal((5, 8))  # bias column last
    U1, V1 = nonlinear_semi_nmf_step(problem.dev(B), problem.dev(U0), problem.dev(A),
                                     lam_u=lam, update_v=False, xp=problem.xp)
    Bh, Uh, Ah = problem.host(B), problem.host(U0), problem.host(A)
    At = np.vstack([Ah, np.ones((1, Ah.shape[1]))])
    P = Uh @ At
    T = P + Bh - relu(P)
    lhs = np.vstack([At.T, np.sqrt(lam) * np.eye(8)])
    ref = np.linalg.lstsq(lhs, np.vstack([T.T, np.zeros((8, 5))]), rcond=None)[0].T
    problem.assert_close(U1, ref, **tol)
    problem.assert_close(V1, problem.dev(A))  # U-step only: V untouched


def test_u_step_linearizes_around_the_given_preactivation(problem, rng, tol):
    """``P=`` (the trainers' forward pass) replaces ``Ũ Ṽ`` as the linearization point: with
    the true ``Ũ Ṽ`` the step is unchanged, with another ``P`` it is the ridge fit of
    ``P + B − f(P)``."""
    B, _, A = _layer(rng)
    U0 = rng.standard_normal((5, 8))
    At = np.vstack([A, np.ones((1, A.shape[1]))])
    lam = 0.2
    lhs = np.vstack([At.T, np.sqrt(lam) * np.eye(8)])

    def ref(P):
        T = P + B - relu(P)
        return np.linalg.lstsq(lhs, np.vstack([T.T, np.zeros((8, 5))]), rcond=None)[0].T

    P_true = U0 @ At
    P_other = rng.standard_normal(P_true.shape)
    for P in (P_true, P_other):
        U1, _ = nonlinear_semi_nmf_step(problem.dev(B), problem.dev(U0), problem.dev(A),
                                        lam_u=lam, update_v=False, P=problem.dev(P),
                                        xp=problem.xp)
        problem.assert_close(U1, ref(P), **tol)
    assert not np.allclose(ref(P_true), ref(P_other), rtol=1e-2)  # the two cases differ


@pytest.mark.parametrize("shape", [(5, 7), (9, 4)], ids=["wide-U", "tall-U"])
@pytest.mark.parametrize("lam_v", [0.0, 0.3])
def test_algorithm2_v_step_is_a_ridge_correction(problem, rng, tol, shape, lam_v):
    k, n = shape
    U0 = rng.standard_normal((k, n + 1))
    V0 = rng.random((n, 40))
    A = relu(rng.standard_normal((k, n)) @ rng.random((n, 40)))
    U1, V1 = nonlinear_semi_nmf_step(problem.dev(A), problem.dev(U0), problem.dev(V0),
                                     lam_u=0.1, lam_v=lam_v, xp=problem.xp)
    U1h = to_numpy(U1).astype(np.float64)
    Ah, Vh = problem.host(A), problem.host(V0)
    Un, b = U1h[:, :n], U1h[:, n:]
    R = Ah - relu(Un @ Vh + b)
    lhs = np.vstack([Un, np.sqrt(lam_v) * np.eye(n)])
    delta = np.linalg.lstsq(lhs, np.vstack([R, np.zeros((n, 40))]), rcond=None)[0]
    ref = relu(Vh + delta)
    rt = dict(tol)
    if problem.name == "float32":
        rt = dict(rtol=5e-3, atol=2e-3)
    problem.assert_close(V1, ref, **rt)


def test_algorithm2_without_regularization_is_the_original_pair(problem, rng, tol):
    """λ = 0, no bias: U-step = original Algorithm 2 (ω = 1), V-step = original Algorithm 3."""
    k, n = 9, 4
    U0 = rng.standard_normal((k, n))
    V0 = rng.random((n, 40))
    A = relu(rng.standard_normal((k, n)) @ rng.random((n, 40)))
    U1, V1 = nonlinear_semi_nmf_step(problem.dev(A), problem.dev(U0), problem.dev(V0),
                                     xp=problem.xp)
    U_ref = nonlinear_lstsq_weights_step(problem.dev(A), problem.dev(U0), problem.dev(V0),
                                         xp=problem.xp)
    V_ref = nonneg_nonlinear_lstsq_targets_step(problem.dev(A), U_ref, problem.dev(V0),
                                                xp=problem.xp)
    problem.assert_close(U1, U_ref, **tol)
    problem.assert_close(V1, V_ref, **tol)


def test_u_step_fixed_point_is_the_ridge_condition(problem, rng, tol):
    """A Ũ with R Ṽᵀ = λ_U Ũ (R = A − f(ŨṼ)) is a fixed point of the U-step (§2).

    Build such a point: pick Ũ*, V, take R = λ_U Ũ* (ṼṼᵀ)⁻¹ Ṽ and A = f(Ũ*Ṽ) + R.
    """
    lam = 0.05
    U_star = rng.standard_normal((4, 6))
    V = rng.random((5, 60))
    Vt = np.vstack([V, np.ones((1, 60))])
    R = lam * U_star @ np.linalg.solve(Vt @ Vt.T, Vt)
    A = relu(U_star @ Vt) + R
    np.testing.assert_allclose(R @ Vt.T, lam * U_star, atol=1e-12)  # the condition holds
    U1, _ = nonlinear_semi_nmf_step(problem.dev(A), problem.dev(U_star), problem.dev(V),
                                    lam_u=lam, update_v=False, xp=problem.xp)
    rt = tol if problem.name == "float64" else dict(rtol=5e-3, atol=5e-3)
    problem.assert_close(U1, problem.host(U_star), **rt)


def test_loop_matches_numpy_on_every_backend(problem, rng):
    k, n = 6, 9  # widening: U is wide, the V-step uses the k × k Gram side
    U0 = rng.standard_normal((k, n + 1))
    V0 = rng.random((n, 50))
    A = relu(rng.standard_normal((k, n)) @ rng.random((n, 50)))
    kw = dict(n_iter=3, lam_u=1e-2, lam_v=1e-2)
    U, V, info = nonlinear_semi_nmf(problem.dev(A), problem.dev(U0), problem.dev(V0),
                                    xp=problem.xp, **kw)
    Ur, Vr, _ = nonlinear_semi_nmf(problem.host(A), problem.host(U0), problem.host(V0), **kw)
    rtol = 1e-7 if problem.name == "float64" else 2e-2
    problem.assert_close(U, Ur, rtol=rtol, atol=rtol)
    problem.assert_close(V, Vr, rtol=rtol, atol=rtol)
    assert info.objective.dtype == problem.dtype


@pytest.mark.parametrize("case", ["nan", "negative_v", "shape", "omega"])
def test_bad_input(problem, rng, case):
    B, W, A = _layer(rng)
    if case == "nan":
        B[1, 1] = np.inf
        with pytest.raises(ValueError, match="NaN"):
            nonlinear_semi_nmf(problem.dev(B), problem.dev(W), problem.dev(A), xp=problem.xp)
    elif case == "negative_v":
        A[0, 0] = -1
        with pytest.raises(ValueError, match="non-negative"):
            nonlinear_semi_nmf(problem.dev(B), problem.dev(W), problem.dev(A), xp=problem.xp)
    elif case == "shape":
        with pytest.raises(ValueError, match="shapes"):
            nonlinear_lstsq_weights(problem.dev(B), problem.dev(W[:, :-1]), problem.dev(A),
                                    xp=problem.xp)
    else:
        with pytest.raises(ValueError, match="omega"):
            nonlinear_lstsq_weights(problem.dev(B), problem.dev(W), problem.dev(A), omega=3.0,
                                    xp=problem.xp)
