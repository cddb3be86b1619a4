"""The autoencoder initialization's decoder steps (§3) against a float64 NumPy reference in the
full input coordinates, on every backend."""

import numpy as np
import pytest

from nmfdnn import to_numpy
from nmfdnn.training._autoencoder import _semi_nmf_code_steps


def _ref_semi_nmf(X, Z, n_steps, eps_dtype):
    """Semi-NMF steps on X ≈ D Z written out (ALGORITHMS.md §1.1) with a ridge decoder solve
    D = X Zᵀ (Z Zᵀ + δI)⁻¹, δ = n·eps·tr(Z Zᵀ), in the n0 input coordinates."""
    p = lambda A: (np.abs(A) + A) / 2  # noqa: E731
    q = lambda A: (np.abs(A) - A) / 2  # noqa: E731
    for _ in range(n_steps):
        G = Z @ Z.T
        n = G.shape[0]
        delta = n * eps_dtype * np.trace(G)
        D = np.linalg.solve(G + delta * np.eye(n), Z @ X.T).T
        DtX, DtD = D.T @ X, D.T @ D
        Z = Z * np.sqrt((p(DtX) + q(DtD) @ Z) / (q(DtX) + p(DtD) @ Z + eps_dtype))
    return Z


@pytest.mark.parametrize("n_steps", [1, 3])
def test_reduced_semi_nmf_steps_match_the_full_coordinates(xp, device, dtype, n_steps):
    """Decoding X = Q diag(σ) V in its r coordinates (``‖X − Q D′ Z‖ = ‖diag(σ) V − D′ Z‖``)
    gives the same code Z as semi-NMF on X itself (n0 = 30 > r = 4, a wider code n = 12)."""
    rng = np.random.default_rng(0)
    n0, r, n, s = 30, 4, 12, 200
    Q, _ = np.linalg.qr(rng.standard_normal((n0, r)))
    sigma = np.array([5.0, 3.0, 1.5, 0.7])
    V = rng.standard_normal((r, s))
    X = (Q * sigma) @ V  # any sign: the semi-NMF case
    Z0 = rng.uniform(0.1, 1.0, (n, s))
    dtype = "float32" if dtype == xp.float32 else "float64"
    eps = float(np.finfo(dtype).eps)
    ref = _ref_semi_nmf(X, Z0, n_steps, eps)
    A1 = xp.asarray((sigma[:, None] * V).astype(dtype), device=device)
    Z = _semi_nmf_code_steps(A1, xp.asarray(Z0.astype(dtype), device=device), n_steps, xp=xp)
    got = to_numpy(Z).astype(float)
    assert got.shape == (n, s) and (got >= 0).all()
    tol = 1e-9 if dtype == "float64" else 2e-3
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())
