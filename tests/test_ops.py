"""The Gram products of the ridge solves (nmfdnn._ops) against float64 NumPy references."""

import numpy as np
import pytest

from nmfdnn import to_numpy
from nmfdnn._linalg import solve_gram_right
from nmfdnn._ops import cross_tilde, gram_cross_centered, gram_tilde, wide_dtype


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("m", [40, 0], ids=["m=40", "no-samples"])
def test_gram_cross_centered_is_the_gram_of_v_tilde(problem, rng, bias, m):
    """G = Ṽ Ṽᵀ, C = T Ṽᵀ (Ṽ = [V; 1ᵀ] with a bias), in float64 for float32 data where the
    backend has float64; zero sums for a process without samples."""
    xp = problem.xp
    V = 3.0 + rng.random((6, m))
    T = rng.standard_normal((4, m))
    G, C = gram_cross_centered(problem.dev(V), problem.dev(T), bias=bias, xp=xp)
    assert G.dtype == wide_dtype(problem.dev(V), xp=xp) == C.dtype
    if problem.dtype == xp.float32:  # every backend of the suite has float64 (JAX: x64 on)
        assert G.dtype == xp.float64
    Vh, Th = problem.host(V), problem.host(T)
    Vt = np.vstack([Vh, np.ones((1, m))]) if bias else Vh
    tol = dict(rtol=1e-12, atol=1e-12) if problem.dtype == xp.float64 else dict(rtol=1e-5,
                                                                                 atol=1e-4)
    np.testing.assert_allclose(to_numpy(G), Vt @ Vt.T, **tol)
    np.testing.assert_allclose(to_numpy(C), Th @ Vt.T, **tol)


def test_centered_products_resolve_the_ridge_solve_of_features_with_a_large_mean(rng):
    """Features with mean 10 (ReLU-like, positive): the float32 ridge solve from the centred
    products matches the float64 solution of the same float32 data to 1e-4; from the plain
    float32 products (gram_tilde, cross_tilde) it is off by more than 10 times that."""
    m, h, lam = 5000, 300, 1e-3
    V = (10.0 + rng.standard_normal((h, m))).astype(np.float32)
    T = (rng.standard_normal((10, h)) @ V + rng.standard_normal((10, m))).astype(np.float32)
    Vt = np.vstack([V.astype(np.float64), np.ones((1, m))])
    ref = np.linalg.solve(Vt @ Vt.T + lam * np.eye(h + 1), Vt @ T.astype(np.float64).T).T

    def rel(X):
        return np.linalg.norm(X - ref) / np.linalg.norm(ref)

    G, C = gram_cross_centered(V, T, bias=True, xp=np)
    X = solve_gram_right(G, C, lam, dtype=np.float32, xp=np)
    assert X.dtype == np.float32
    assert rel(X) < 1e-4
    G32, C32 = gram_tilde(V, bias=True, xp=np), cross_tilde(T, V, bias=True, xp=np)
    assert rel(solve_gram_right(G32, C32, lam, xp=np)) > 10 * rel(X)


def test_solve_gram_right_with_a_working_dtype(rng):
    """dtype=float32 for float64 products: the result is float32, and the pseudo-inverse (λ = 0)
    drops the directions below float32's default cut-off, as a float32 Gram matrix would."""
    A = rng.standard_normal((5, 40))
    A[4] = A[3] + 1e-5 * rng.standard_normal(40)  # singular value ≈ 6e-5 of ≈ 7: kept in
    G, B = A @ A.T, rng.standard_normal((2, 40)) @ A.T  # float64, dropped at float32's cut-off
    X64 = solve_gram_right(G, B, 0.0, xp=np)
    X32 = solve_gram_right(G, B, 0.0, dtype=np.float32, xp=np)
    assert X32.dtype == np.float32
    ref = B @ np.linalg.pinv(G, rcond=float(np.sqrt(5 * np.finfo(np.float32).eps)) ** 2,
                             hermitian=True)
    np.testing.assert_allclose(X32, ref, rtol=1e-4, atol=1e-4)
    assert np.abs(X64 - ref).max() > 1.0  # float64's own cut-off keeps the direction
