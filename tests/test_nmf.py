"""Lee–Seung NMF (§1.6) against scikit-learn's NMF(solver="mu"), and monotone objective."""

import numpy as np
import pytest
from sklearn.decomposition import NMF as SklearnNMF  # noqa: N811

from nmfdnn import nmf, nmf_step, to_numpy


def _data(rng, n=30, m=40, r=5):
    A = rng.random((n, m)) + 0.01
    W0 = rng.random((n, r)) + 0.1
    H0 = rng.random((r, m)) + 0.1
    return A, W0, H0


def test_matches_sklearn_mu(problem, rng):
    A, W0, H0 = _data(rng)
    n_iter = 50
    W, H, info = nmf(problem.dev(A), problem.dev(W0), problem.dev(H0), n_iter=n_iter,
                     xp=problem.xp)
    # scikit-learn: samples are rows, X = Aᵀ ≈ W_sk H_sk with W_sk = Hᵀ, H_sk = Wᵀ
    Ah, W0h, H0h = problem.host(A), problem.host(W0), problem.host(H0)
    sk = SklearnNMF(n_components=5, init="custom", solver="mu", beta_loss="frobenius",
                    max_iter=n_iter, tol=0.0)
    Wsk = sk.fit_transform(Ah.T, W=np.ascontiguousarray(H0h.T), H=np.ascontiguousarray(W0h.T))
    err_ours = np.linalg.norm(Ah - to_numpy(W) @ to_numpy(H))
    err_sk = np.linalg.norm(Ah.T - Wsk @ sk.components_)
    assert abs(err_ours - err_sk) <= 0.01 * err_sk, (err_ours, err_sk)
    rtol = 1e-6 if problem.name == "float64" else 2e-2
    problem.assert_close(H, Wsk.T, rtol=rtol, atol=rtol)
    # the reported objective is ½‖A − WH‖² at the returned factors
    problem.assert_close(info.objective, np.asarray(0.5 * err_ours**2), rtol=rtol)


def test_objective_never_increases(problem, rng):
    A, W0, H0 = _data(rng)
    _, _, info = nmf(problem.dev(A), problem.dev(W0), problem.dev(H0), n_iter=60,
                     check_every=1, xp=problem.xp)
    hist = np.array([float(to_numpy(h)) for h in info.history])
    slack = 1e-12 if problem.name == "float64" else 1e-5
    assert np.all(np.diff(hist) <= slack * hist[:-1]), np.diff(hist).max()
    assert hist[-1] < 0.9 * hist[0]


def test_outputs_keep_namespace_dtype_and_nonnegativity(problem, rng):
    A, W0, H0 = _data(rng)
    W, H = nmf_step(problem.dev(A), problem.dev(W0), problem.dev(H0), xp=problem.xp)
    for out in (W, H):
        assert out.dtype == problem.dtype
        assert bool(problem.xp.all(out >= 0))


def test_tolerance_stops_early(rng):
    from nmfdnn import namespace_from_name

    xp = namespace_from_name("numpy")
    A, W0, H0 = _data(rng)
    _, _, info = nmf(A, W0, H0, n_iter=5000, tol=1e-3, check_every=10, xp=xp)
    assert info.n_iter < 5000 and info.n_iter % 10 == 0


@pytest.mark.parametrize("bad", ["negative", "nan", "shape"])
def test_bad_input(problem, rng, bad):
    A, W0, H0 = _data(rng)
    if bad == "negative":
        A[0, 0] = -1.0
    elif bad == "nan":
        A[0, 0] = np.nan
    else:
        W0 = W0[:-1]
    match = {"negative": "non-negative", "nan": "NaN", "shape": "shapes"}[bad]
    with pytest.raises(ValueError, match=match):
        nmf(problem.dev(A), problem.dev(W0), problem.dev(H0), xp=problem.xp)
