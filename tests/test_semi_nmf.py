"""Semi-NMF (§1.1) and Algorithm 1 (bias + ridge): U-step against lstsq, monotone objective,
KKT conditions at convergence, cross-backend agreement, bad input."""

import numpy as np
import pytest

from nmfdnn import NumericalError, semi_nmf, semi_nmf_step, to_numpy
from nmfdnn.factorizations import semi_nmf_objective


def _data(rng, k=8, n=4, m=60):
    """A mixed-sign A ≈ U V with V ≥ 0 plus noise."""
    U = rng.standard_normal((k, n))
    V = rng.random((n, m))
    A = U @ V + 0.1 * rng.standard_normal((k, m)) + 0.3
    return A, U, V


def _tilde(V):
    return np.vstack([V, np.ones((1, V.shape[1]))])


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("lam_u", [0.0, 0.5])
def test_u_step_is_the_ridge_least_squares_solution(problem, rng, tol, bias, lam_u):
    A, U, V = _data(rng)
    V0 = rng.random(V.shape) + 0.1
    U0 = np.zeros((A.shape[0], V.shape[0] + bias))
    U1, _ = semi_nmf_step(problem.dev(A), problem.dev(U0), problem.dev(V0), lam_u=lam_u,
                          xp=problem.xp)
    Ah, Vh = problem.host(A), problem.host(V0)
    Vt = _tilde(Vh) if bias else Vh
    p = Vt.shape[0]
    lhs = np.vstack([Vt.T, np.sqrt(lam_u) * np.eye(p)])      # [Ṽᵀ; √λ I] Ũᵀ ≈ [Aᵀ; 0]
    ref = np.linalg.lstsq(lhs, np.vstack([Ah.T, np.zeros((p, A.shape[0]))]), rcond=None)[0].T
    problem.assert_close(U1, ref, **tol)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("k,n", [(8, 4), (2, 8)])  # (2, 8): (UᵀŨ)⁻Ṽ through Uᵀ(ŨṼ)
def test_v_step_matches_the_multiplicative_rule(problem, rng, tol, bias, k, n):
    # the V update written out in float64 NumPy, on the U the step itself produced
    A, _, V = _data(rng, k=k, n=n)
    V0 = rng.random(V.shape) + 0.1
    U0 = np.zeros((A.shape[0], V.shape[0] + bias))
    lam_v = 0.2
    U1, V1 = semi_nmf_step(problem.dev(A), problem.dev(U0), problem.dev(V0), lam_u=0.1,
                           lam_v=lam_v, xp=problem.xp)
    Ut = to_numpy(U1).astype(np.float64)
    Ah, Vh = problem.host(A), problem.host(V0)
    n = Vh.shape[0]
    Un = Ut[:, :n]
    Vtil = _tilde(Vh) if bias else Vh
    UtA, UtU = Un.T @ Ah, Un.T @ Ut
    P, N = lambda M: np.maximum(M, 0), lambda M: np.maximum(-M, 0)
    eps = float(np.finfo(problem.name).eps)
    ref = Vh * np.sqrt((P(UtA) + N(UtU) @ Vtil) / (N(UtA) + P(UtU) @ Vtil + lam_v * Vh + eps))
    problem.assert_close(V1, ref, **tol)


@pytest.mark.parametrize("bias,lam", [(False, 0.0), (True, 0.0), (True, 0.3)])
def test_objective_never_increases(problem, rng, bias, lam):
    A, _, V = _data(rng)
    U0 = np.zeros((A.shape[0], V.shape[0] + bias))
    V0 = rng.random(V.shape) + 0.1
    _, V1, info = semi_nmf(problem.dev(A), problem.dev(U0), problem.dev(V0), n_iter=40,
                           lam_u=lam, lam_v=lam, check_every=1, xp=problem.xp)
    hist = np.array([float(to_numpy(h)) for h in info.history])
    slack = 1e-10 if problem.name == "float64" else 1e-4
    assert np.all(np.diff(hist) <= slack * hist[0]), np.diff(hist).max()
    assert bool(problem.xp.all(V1 >= 0))


@pytest.mark.parametrize("bias,n", [(False, 1), (True, 1), (False, 3), (True, 3)])
def test_kkt_conditions_at_convergence(rng, bias, n):
    """Algorithm 1 converges to a KKT point of ½‖A − ŨṼ‖² + λ_U/2‖Ũ‖² + λ_V/2‖V‖², V ≥ 0.

    Stationarity ∇_Ũ = (ŨṼ − A)Ṽᵀ + λ_U Ũ = 0 and complementarity V ⊙ ∇_V = 0 with
    ∇_V = Uᵀ(ŨṼ − A) + λ_V V (Ding, Li & Jordan, Theorem 2: the fixed points of the
    multiplicative rule).  Dual feasibility ∇_V ≥ 0 is checked where the solution is interior
    (rank one, no bias): a multiplicative update cannot move an entry that reached 0.
    """
    from nmfdnn import namespace_from_name

    xp = namespace_from_name("numpy")
    U = rng.standard_normal((6, n))
    A = U @ (rng.random((n, 40)) + 0.5) + 0.05 * rng.standard_normal((6, 40)) + 0.3
    lam_u, lam_v = 0.05, 0.05
    U0 = np.zeros((6, n + bias))
    U, V, _ = semi_nmf(A, U0, rng.random((n, 40)) + 0.1, n_iter=4000, lam_u=lam_u,
                       lam_v=lam_v, check_every=0, xp=xp)
    Vt = _tilde(V) if bias else V
    E = U @ Vt - A
    grad_U = E @ Vt.T + lam_u * U
    grad_V = U[:, :n].T @ E + lam_v * V
    scale = np.abs(A).max()
    assert V.min() >= 0
    assert np.abs(grad_U).max() <= 2e-3 * scale
    assert np.abs(V * grad_V).max() <= 2e-3 * scale
    if n == 1 and not bias:
        assert np.abs(np.minimum(V, grad_V)).max() <= 1e-6 * scale
        assert V.min() > 0.1  # interior: the check above is full KKT


def test_results_match_numpy_across_backends(problem, rng):
    A, _, V = _data(rng)
    U0 = np.zeros((A.shape[0], V.shape[0] + 1))
    V0 = rng.random(V.shape) + 0.1
    kwargs = dict(n_iter=10, lam_u=0.1, lam_v=0.01, check_every=5)
    U, V1, info = semi_nmf(problem.dev(A), problem.dev(U0), problem.dev(V0), xp=problem.xp,
                           **kwargs)
    from nmfdnn import namespace_from_name

    np_xp = namespace_from_name("numpy")
    Ur, Vr, _ = semi_nmf(problem.host(A), problem.host(U0), problem.host(V0), xp=np_xp,
                         **kwargs)
    rtol = 1e-8 if problem.name == "float64" else 5e-3
    problem.assert_close(U, Ur, rtol=rtol, atol=rtol)
    problem.assert_close(V1, Vr, rtol=rtol, atol=rtol)
    assert U.dtype == problem.dtype and V1.dtype == problem.dtype
    assert info.objective.dtype == problem.dtype
    assert len(info.history) == 2 and info.n_iter == 10


def test_objective_reports_the_regularized_value(rng):
    A, U, V = _data(rng)
    Ub = np.hstack([U, rng.standard_normal((U.shape[0], 1))])
    obj = float(semi_nmf_objective(A, Ub, V, lam_u=0.3, lam_v=0.2))
    E = A - (U @ V + Ub[:, -1:])
    ref = 0.5 * (E**2).sum() + 0.15 * (Ub**2).sum() + 0.1 * (V**2).sum()
    assert obj == pytest.approx(ref, rel=1e-12)


def test_dead_unit_gives_finite_factors(problem, rng):
    # a zero row of V makes Ṽ Ṽᵀ singular: regularized by the truncated pseudo-inverse
    A, _, V = _data(rng)
    V0 = rng.random(V.shape) + 0.1
    V0[1] = 0.0
    U, V1, info = semi_nmf(problem.dev(A), problem.dev(np.zeros((8, 5))), problem.dev(V0),
                           n_iter=5, xp=problem.xp)
    assert np.all(np.isfinite(to_numpy(U))) and np.all(np.isfinite(to_numpy(V1)))


@pytest.mark.parametrize(
    "case,match",
    [
        ("nan", "NaN"),
        ("inf", "NaN or infinite"),
        ("negative_v", "non-negative"),
        ("columns", "columns"),
        ("u_shape", "columns"),
        ("u_rows", "rows"),
        ("lam", "lam_u"),
        ("iters", "n_iter"),
        ("one_d", "2-D"),
    ],
)
def test_bad_input_is_a_clear_error(problem, rng, case, match):
    A, U, V = _data(rng)
    kwargs = {}
    if case == "nan":
        A[0, 0] = np.nan
    elif case == "inf":
        A[0, 0] = np.inf
    elif case == "negative_v":
        V[0, 0] = -1.0
    elif case == "columns":
        V = V[:, :-1]
    elif case == "u_shape":
        U = np.zeros((8, 7))
    elif case == "u_rows":
        U = np.zeros((3, 4))
    elif case == "lam":
        kwargs["lam_u"] = -1.0
    elif case == "iters":
        kwargs["n_iter"] = -2
    elif case == "one_d":
        A = A[0]
    with pytest.raises(ValueError, match=match):
        semi_nmf(problem.dev(A), problem.dev(U), problem.dev(V), xp=problem.xp, **kwargs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_is_reported_not_returned(rng):
    # eps < 0 lets the denominator reach 0 → inf/NaN: must raise, not return NaN factors
    A, U, V = _data(rng)
    V[0] = 0.0
    with pytest.raises(NumericalError, match="semi_nmf"):
        semi_nmf(A, np.zeros((8, 4)), V, n_iter=3, eps=-1e300, check_every=0)
