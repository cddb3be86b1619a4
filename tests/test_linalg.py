"""Gram-route least squares (§1.4) against numpy.linalg.pinv / lstsq / solve in float64."""

import numpy as np
import pytest

from nmfdnn import gram_pinv, lstsq_left, lstsq_right, to_numpy
from nmfdnn._linalg import (
    CholeskyJitterWarning,
    jitter_events,
    ridge_solve_left,
    ridge_solve_right,
)


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


# --- Cholesky ridge solves (§1.4): λ means λ, jitter only where the factorization fails -------


def _spd(rng, n):
    A = rng.standard_normal((n, 3 * n))
    return A @ A.T / n


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("lam_kind", ["scalar", "diagonal"])
def test_ridge_solve_matches_numpy_solve(problem, rng, tol, side, lam_kind):
    n, k = 7, 4
    G = _spd(rng, n)
    lam = 0.25 if lam_kind == "scalar" else rng.uniform(0.1, 2.0, n)
    B = rng.standard_normal((k, n) if side == "right" else (n, k))
    lam_dev = lam if lam_kind == "scalar" else problem.dev(lam)
    before = jitter_events()
    if side == "right":
        X = ridge_solve_right(problem.dev(G), problem.dev(B), lam_dev, xp=problem.xp)
    else:
        X = ridge_solve_left(problem.dev(G), problem.dev(B), lam_dev, xp=problem.xp)
    J = problem.host(G) + np.diag(np.broadcast_to(problem.host(lam), (n,)))
    Bh = problem.host(B)
    ref = np.linalg.solve(J, Bh.T).T if side == "right" else np.linalg.solve(J, Bh)
    problem.assert_close(X, ref, **tol)
    assert jitter_events() == before  # a positive definite system is solved as given


def _relu_features(m, h, seed=0):
    """MNIST-like hidden features: ReLU of random weights on sparse non-negative "pixels", with
    dead units (zero rows) and duplicated units, plus the bias row of ones (the batch size m on
    the diagonal of the Gram matrix): ``V V^T`` is singular, so λ alone makes it definite."""
    rng = np.random.default_rng(seed)
    X = rng.random((784, m)) * (rng.random((784, m)) < 0.2)
    W = rng.standard_normal((h, 784)) / np.sqrt(784)
    V = np.maximum(W @ X - 0.3 * rng.random((h, 1)), 0.0)
    V[:20] = 0.0
    V[20:40] = V[40:60]
    return np.vstack([V, np.ones((1, m))]), rng.standard_normal((10, m))


def test_float32_ridge_solve_honours_lambda_at_mnist_size(xp, device):
    # the output-layer solve of the trainers at MNIST's λ_W and batch size, in float32 against
    # an independent float64 reference of the same (float32-rounded) data
    lam, m, h = 1e-3, 5000, 500
    V, B = _relu_features(m, h)
    V32, B32 = V.astype(np.float32), B.astype(np.float32)
    Vd, Bd = xp.asarray(V32, device=device), xp.asarray(B32, device=device)
    before = jitter_events()
    X = to_numpy(ridge_solve_right(Vd @ Vd.T, Bd @ Vd.T, lam, xp=xp))
    assert X.dtype == np.float32
    Vh, Bh = V32.astype(np.float64), B32.astype(np.float64)
    ref = np.linalg.solve(Vh @ Vh.T + lam * np.eye(h + 1), Vh @ Bh.T).T
    # predictions X V agree within float32 noise; the former diagonal floor n·eps·|G_ii| in
    # place of λ (0.15 on the bias row here) moved them by ≈ 3e-4
    pred_err = np.linalg.norm((X - ref) @ Vh) / np.linalg.norm(ref @ Vh)
    assert pred_err < 5e-5
    assert jitter_events() == before


def test_failed_factorization_is_jittered_and_reported(problem, rng):
    # a dead unit (zero row of A) with no ridge on it: the pivot is exactly 0, Cholesky fails
    A = rng.standard_normal((5, 30))
    A[2] = 0.0
    B = rng.standard_normal((2, 30))
    Ad = problem.dev(A)
    lam = problem.dev(np.array([0.1, 0.1, 0.0, 0.1, 0.1]))
    before = jitter_events()
    with pytest.warns(CholeskyJitterWarning, match="not positive definite"):
        X = ridge_solve_right(Ad @ Ad.T, problem.dev(B) @ Ad.T, lam, xp=problem.xp)
        X = to_numpy(X)  # JAX reports from a host callback: wait for the result
    assert jitter_events() == before + 1
    # the dead unit gets weight 0; the others are the ridge solution without that unit
    Ah, Bh = problem.host(A), problem.host(B)
    keep = [0, 1, 3, 4]
    ref = np.linalg.solve(Ah[keep] @ Ah[keep].T + 0.1 * np.eye(4), Ah[keep] @ Bh.T).T
    scale = 1e-6 if problem.name == "float64" else 2e-3
    np.testing.assert_allclose(X[:, 2], 0.0, atol=scale)
    np.testing.assert_allclose(X[:, keep], ref, rtol=scale, atol=scale * np.abs(ref).max())


def test_non_finite_gram_gives_nan_and_is_reported(problem, rng):
    if problem.xp.__name__.startswith("jax"):
        pytest.skip("JAX takes one jitter level inside lax.cond; NaN propagates through it")
    G = _spd(rng, 4)
    G[1, 1] = np.nan
    with pytest.warns(CholeskyJitterWarning):
        X = to_numpy(ridge_solve_right(problem.dev(G), problem.dev(np.ones((2, 4))), 0.1,
                                       xp=problem.xp))
    assert np.all(np.isnan(X))


def test_accelerator_path_selects_the_jittered_factor_without_a_host_read():
    """The GPU path of the Cholesky solve (both factorizations, ``where`` on the device, the
    failure counted on the device) run on torch CPU tensors: same answer as the host path for a
    positive definite system; for a singular one the jittered factor is used and the failure
    is only counted when :func:`jitter_events` reads it."""
    torch = pytest.importorskip("torch")
    from nmfdnn._array_api import namespace_from_name
    from nmfdnn._linalg import _PENDING, CholeskyJitterWarning, _select_factor

    xp = namespace_from_name("torch")
    rng = np.random.default_rng(0)

    def chol(A):
        return torch.linalg.cholesky_ex(A)[0]

    G = _spd(rng, 6)
    B = rng.standard_normal((6, 3))
    jitter_events(reset=True)
    L = _select_factor(torch.asarray(G), xp, chol)
    X = torch.cholesky_solve(torch.asarray(B), L).numpy()
    np.testing.assert_allclose(X, np.linalg.solve(G, B), rtol=1e-10)
    assert jitter_events() == 0
    Gs = G.copy()
    Gs[:, 0] = Gs[0, :] = 0.0  # a dead unit: singular, the plain factorization fails
    L = _select_factor(torch.asarray(Gs), xp, chol)
    assert bool(torch.all(torch.isfinite(L)))
    assert len(_PENDING) == 1  # counted on the device, not yet read
    with pytest.warns(CholeskyJitterWarning):
        assert jitter_events() == 1
    assert not _PENDING


def test_scipy_blas_runs_on_one_thread_inside_the_numpy_solves():
    """SciPy's own OpenBLAS (a second BLAS runtime beside NumPy's) is held at one thread
    during the NumPy solves, so that its spinning workers do not slow NumPy's products; the
    previous thread count is restored after."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS)

    from nmfdnn._linalg import _scipy_blas_one_thread

    def scipy_pools():
        return [i for i in threadpoolctl.threadpool_info()
                if i.get("user_api") == "blas" and "scipy.libs" in i["filepath"]]

    if not scipy_pools():
        pytest.skip("SciPy shares NumPy's BLAS here (no separate pool to limit)")
    before = [p["num_threads"] for p in scipy_pools()]
    with _scipy_blas_one_thread():
        assert [p["num_threads"] for p in scipy_pools()] == [1] * len(before)
    assert [p["num_threads"] for p in scipy_pools()] == before


def test_float32_system_indefinite_by_rounding_is_jittered_at_float32_size():
    """A float32 Gram system is factorized in float64, but it is known to float32's precision
    only: one that is indefinite by a float32-sized amount (as Gram products of dead ReLU
    units can be) gets a float32-sized jitter and a finite answer, not NaN."""
    import warnings

    from nmfdnn._linalg import CholeskyJitterWarning, ridge_solve_right

    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    w = np.linspace(1.0, 10.0, 50)
    w[0] = -1e-5 * w.max()  # indefinite by far more than float64's, less than float32's jitter
    G = ((Q * w) @ Q.T).astype(np.float32)
    B = rng.normal(size=(3, 50)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CholeskyJitterWarning)
        X = ridge_solve_right(G, B, 1e-12, xp=np)
    assert X.dtype == np.float32 and np.isfinite(X).all()
