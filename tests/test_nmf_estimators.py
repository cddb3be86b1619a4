"""NMF / SemiNMF estimators and NNDSVD init against scikit-learn, masks, bad input."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import NMF as SklearnNMF  # noqa: N811

from nmfdnn import NMF, SemiNMF, nmf_init, to_numpy
from nmfdnn._array_api import namespace_name


def _data(rng, n=40, m=30):
    return rng.random((n, m)) + 0.01


def _backend(xp):
    return namespace_name(xp)


@pytest.mark.parametrize("init", ["nndsvda", "nndsvd", "custom"])
def test_matches_sklearn_mu(problem, rng, init):
    X = _data(rng)
    Xh = problem.host(X)
    kw = dict(init=init, solver="mu", beta_loss="frobenius", max_iter=60, tol=0.0)
    fit_kw = {}
    if init == "custom":
        W0, H0 = rng.random((40, 5)) + 0.1, rng.random((5, 30)) + 0.1
        fit_kw = dict(W=problem.dev(W0), H=problem.dev(H0))
        sk_kw = dict(W=problem.host(W0), H=problem.host(H0))
    else:
        sk_kw = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about nndsvd + mu
        sk = SklearnNMF(5, random_state=0, **kw)
        sk.fit_transform(Xh, **sk_kw)
    est = NMF(5, init=init, max_iter=60, tol=0.0)
    W = est.fit_transform(problem.dev(X), **fit_kw)
    # same reconstruction error within 1 %
    assert abs(est.reconstruction_err_ - sk.reconstruction_err_) <= 0.01 * sk.reconstruction_err_
    # result in the input's namespace, device and dtype; float32 stays float32
    assert W.dtype == problem.dtype and est.components_.dtype == problem.dtype
    assert type(W) is type(problem.dev(X))
    assert est.n_iter_ == 60
    err = np.linalg.norm(Xh - to_numpy(W) @ to_numpy(est.components_))
    assert est.reconstruction_err_ == pytest.approx(err, rel=1e-3)
    if init == "custom":  # same start: same iterates
        rtol = 1e-7 if problem.name == "float64" else 2e-2
        problem.assert_close(est.components_, sk.components_, rtol=rtol, atol=rtol)


def test_nndsvd_matches_sklearn_init(problem, rng):
    from sklearn.decomposition._nmf import _initialize_nmf

    # a well-separated spectrum so that the randomized SVD of scikit-learn is exact to rounding
    X = rng.random((50, 6)) @ (rng.random((6, 40)) * np.array([[8], [4], [2], [1], [.5], [.25]]))
    Xh = problem.host(X)
    for init in ("nndsvd", "nndsvda"):
        Wsk, Hsk = _initialize_nmf(Xh, 4, init=init, random_state=0)
        Wc, Hc = nmf_init(problem.dev(X).T, 4, init=init, xp=problem.xp)  # columns: A = Xᵀ
        tol = 1e-6 if problem.name == "float64" else 2e-3
        problem.assert_close(Hc.T, Wsk, rtol=tol, atol=tol)
        problem.assert_close(Wc.T, Hsk, rtol=tol, atol=tol)


def test_random_init_seeded_and_nonnegative(problem, rng):
    X = problem.dev(_data(rng))
    a = NMF(4, init="random", random_state=3, max_iter=5).fit_transform(X)
    b = NMF(4, init="random", random_state=3, max_iter=5).fit_transform(X)
    problem.assert_equal(a, b)
    assert np.all(to_numpy(a) >= 0)


def test_masked_entry_does_not_influence_fit(problem, rng):
    X = _data(rng)
    mask = (rng.random(X.shape) > 0.2).astype(float)
    X2 = X.copy()
    X2[mask == 0] = 1e3 * rng.random(int((mask == 0).sum()))  # wildly different values
    X3 = X.copy()
    X3[mask == 0] = np.nan  # missing values
    kw = dict(init="nndsvda", max_iter=30, tol=0.0)
    fits = []
    for data in (X, X2, X3):
        est = NMF(4, **kw)
        W = est.fit_transform(problem.dev(data), mask=problem.dev(mask))
        fits.append((W, est.components_, est.reconstruction_err_))
    for W, H, err in fits[1:]:
        problem.assert_equal(W, fits[0][0])
        problem.assert_equal(H, fits[0][1])
        assert err == fits[0][2]
    # ... while the same change without the mask changes the fit
    W_nomask = to_numpy(NMF(4, **kw).fit_transform(problem.dev(X2)))
    assert not np.allclose(W_nomask, to_numpy(fits[0][0]))


def test_mask_weighted_objective_decreases_and_all_ones_is_plain(problem, rng):
    X = _data(rng)
    ones = np.ones_like(X)
    kw = dict(init="nndsvda", max_iter=20, tol=0.0)
    a = NMF(4, **kw).fit(problem.dev(X), mask=problem.dev(ones))
    b = NMF(4, **kw).fit(problem.dev(X))
    rtol = 1e-10 if problem.name == "float64" else 1e-4
    problem.assert_close(a.components_, b.components_, rtol=rtol, atol=rtol)


def test_transform_inverse_transform_and_params(problem, rng):
    X = problem.dev(_data(rng))
    est = NMF(4, max_iter=60, tol=0.0).fit(X)
    W = est.transform(X)
    assert tuple(W.shape) == (40, 4) and W.dtype == problem.dtype
    Xr = est.inverse_transform(W)
    assert tuple(Xr.shape) == (40, 30)
    err = np.linalg.norm(problem.host(to_numpy(X)) - to_numpy(Xr))
    assert err <= 1.05 * est.reconstruction_err_
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "components_")


def test_tolerance_stops_early(problem, rng):
    est = NMF(4, max_iter=5000, tol=1e-3, check_every=10).fit(problem.dev(_data(rng)))
    assert est.n_iter_ < 5000 and est.n_iter_ % 10 == 0


@pytest.mark.parametrize("bad", ["negative", "nan", "inf", "zero_rank", "nndsvd_rank",
                                 "mask_shape", "custom_missing"])
def test_nmf_bad_input(problem, rng, bad):
    X = _data(rng)
    kw, fit_kw = dict(n_components=4), {}
    if bad == "negative":
        X[0, 0] = -1.0
    elif bad == "nan":
        X[0, 0] = np.nan
    elif bad == "inf":
        X[0, 0] = np.inf
    elif bad == "zero_rank":
        kw["n_components"] = 0
    elif bad == "nndsvd_rank":
        kw["n_components"] = 31
    elif bad == "mask_shape":
        fit_kw["mask"] = problem.dev(np.ones((40, 29)))
    else:
        kw["init"] = "custom"
    match = {"negative": "non-negative", "nan": "NaN", "inf": "NaN", "zero_rank": "n_components",
             "nndsvd_rank": "n_components", "mask_shape": "mask", "custom_missing": "custom"}
    with pytest.raises(ValueError, match=match[bad]):
        NMF(**kw).fit(problem.dev(X), **fit_kw)


def test_semi_nmf_estimator(problem, rng):
    # mixed-sign data of rank 3 with a non-negative latent and an offset
    V = rng.random((60, 3))
    U = rng.standard_normal((3, 12))
    b = rng.standard_normal(12)
    X = V @ U + b
    kw = dict(max_iter=100, tol=0.0, random_state=0)
    with_b = SemiNMF(3, fit_intercept=True, **kw)
    Z = with_b.fit_transform(problem.dev(X))
    no_b = SemiNMF(3, **kw).fit(problem.dev(X))
    assert np.all(to_numpy(Z) >= 0) and Z.dtype == problem.dtype
    assert with_b.reconstruction_err_ < no_b.reconstruction_err_
    assert with_b.reconstruction_err_ < 0.05 * np.linalg.norm(X)
    assert tuple(with_b.intercept_.shape) == (12,)
    Xr = with_b.inverse_transform(with_b.transform(problem.dev(X)))
    assert np.linalg.norm(to_numpy(Xr) - X) < 0.1 * np.linalg.norm(X)
    with pytest.raises(ValueError, match="n_components"):
        SemiNMF(0).fit(problem.dev(X))


def test_partial_fit_is_the_online_update(problem, rng):
    """Each partial_fit: the batch's latent with H fixed (transform, tested against
    scikit-learn above), then one step of H on the ρ-weighted statistics N, D — the
    accumulation and the step written out in NumPy here."""
    X = _data(rng, n=60)
    batches = [X[:20], X[20:40], X[40:]]
    est = NMF(4, init="random", random_state=0, max_iter=30, tol=0.0, forget_factor=0.6)
    Wc, _ = nmf_init(problem.dev(batches[0]).T, 4, init="random", random_state=0)
    H = problem.host(Wc).T  # the first batch's initial components
    N = D = None
    for B in batches:
        ref = NMF(4, max_iter=30, tol=0.0)  # transform with the reference's H held fixed
        ref.components_ = problem.dev(H)
        ref.n_components_, ref.n_features_in_ = 4, X.shape[1]
        WJ, Bh = problem.host(ref.transform(problem.dev(B))), problem.host(B)
        num, den = (WJ.T @ Bh) * H, WJ.T @ WJ @ H
        N = num if N is None else 0.6 * N + num
        D = den if D is None else 0.6 * D + den
        H = N / (D + np.finfo(Bh.dtype).eps)
        est.partial_fit(problem.dev(B))
        rtol = 1e-10 if problem.name == "float64" else 1e-4
        problem.assert_close(est.components_, H, rtol=rtol, atol=rtol)
    assert est.n_steps_ == 3 and bool((problem.host(est.components_) >= 0).all())


def test_partial_fit_passes_approach_the_batch_fit(problem, rng):
    X = _data(rng, n=80)
    batch = NMF(5, init="nndsvda", max_iter=200, tol=0.0).fit(problem.dev(X))
    online = NMF(5, init="nndsvda", max_iter=50, tol=0.0, forget_factor=0.9)
    errors = []
    for _ in range(8):
        for J in (slice(0, 40), slice(40, 80)):
            online.partial_fit(problem.dev(X[J]))
        W = problem.host(online.transform(problem.dev(X)))
        errors.append(np.linalg.norm(problem.host(X) - W @ problem.host(online.components_)))
    assert errors[-1] < 0.99 * errors[0]  # the passes keep improving the factorization
    assert errors[-1] <= 1.10 * batch.reconstruction_err_  # near the batch solution


def test_partial_fit_bad_input(problem, rng):
    est = NMF(3, init="random", random_state=0)
    with pytest.raises(ValueError, match="negative"):
        est.partial_fit(problem.dev(-_data(rng)))
    est.partial_fit(problem.dev(_data(rng)))
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(problem.dev(_data(rng, m=7)))
    with pytest.raises(ValueError, match="custom"):
        NMF(3, init="custom").partial_fit(problem.dev(_data(rng)))
