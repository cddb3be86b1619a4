"""Gram-route least squares (§1.4) against numpy.linalg.pinv / lstsq in float64."""

import numpy as np
import pytest

from nmfdnn import gram_pinv, lstsq_left, lstsq_right, to_numpy


def test_gram_pinv_matches_numpy_pinv(problem, rng, tol):
    A = rng.standard_normal((6, 40))
    Ad = problem.dev(A)
    G = Ad @ Ad.T
    A_pinv = Ad.T @ gram_pinv(G, xp=problem.xp)
    problem.assert_close(A_pinv, np.linalg.pinv(problem.host(A)), **tol)


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_lstsq_right_matches_lstsq(problem, rng, tol, lam):
    # X = argmin ‖X A − B‖² + λ‖X‖²  <=>  augmented lstsq [Aᵀ; √λ I] Xᵀ = [Bᵀ; 0]
    A = rng.standard_normal((5, 50))
    B = rng.standard_normal((3, 50))
    X = lstsq_right(problem.dev(B), problem.dev(A), lam=lam, xp=problem.xp)
    Ah, Bh = problem.host(A), problem.host(B)
    lhs = np.vstack([Ah.T, np.sqrt(lam) * np.eye(5)])
    rhs = np.vstack([Bh.T, np.zeros((5, 3))])
    ref = np.linalg.lstsq(lhs, rhs, rcond=None)[0].T
    problem.assert_close(X, ref, **tol)


@pytest.mark.parametrize("m", [25, 60], ids=["few-rhs", "many-rhs"])  # m > max(n, p): operator
@pytest.mark.parametrize("shape", [(30, 4), (4, 30)], ids=["tall", "wide"])
@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_lstsq_left_both_gram_sides(problem, rng, tol, shape, lam, m):
    n, p = shape
    U = rng.standard_normal((n, p))
    R = rng.standard_normal((n, m))
    X = lstsq_left(problem.dev(U), problem.dev(R), lam=lam, xp=problem.xp)
    Uh, Rh = problem.host(U), problem.host(R)
    if lam == 0:
        ref = np.linalg.pinv(Uh) @ Rh
    else:
        lhs = np.vstack([Uh, np.sqrt(lam) * np.eye(p)])
        ref = np.linalg.lstsq(lhs, np.vstack([Rh, np.zeros((p, m))]), rcond=None)[0]
    assert X.shape == (p, m)
    problem.assert_close(X, ref, **tol)


@pytest.mark.parametrize("lam", [0.0, 1e-12])
def test_singular_gram_stays_finite(problem, rng, lam):
    # a zero row (a dead hidden unit) and two equal rows: A Aᵀ is singular
    A = rng.standard_normal((5, 30))
    A[2] = 0.0
    A[4] = A[3]
    B = rng.standard_normal((2, 30))
    X = lstsq_right(problem.dev(B), problem.dev(A), lam=lam, xp=problem.xp)
    assert np.all(np.isfinite(to_numpy(X)))
    # still the minimum-norm least-squares solution when λ = 0 (up to the dtype)
    if lam == 0.0:
        ref = problem.host(B) @ np.linalg.pinv(problem.host(A))
        scale = 1e-6 if problem.name == "float64" else 2e-2
        problem.assert_close(X, ref, rtol=0, atol=scale * np.abs(ref).max())
