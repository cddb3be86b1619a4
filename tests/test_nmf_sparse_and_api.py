"""NMF / SemiNMF, scikit-learn-complete (issue 15): scipy.sparse input without densifying,
scikit-learn's custom-init rules, feature names, and the namespace rule at transform."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import NMF as SkNMF  # noqa: N811

import nmfdnn
from nmfdnn.estimators import NMF, SemiNMF

SK_MAX_ITER = pytest.mark.filterwarnings(
    "ignore:Maximum number of iterations:sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def sparse_data():
    X = sp.random(400, 120, density=0.04, random_state=0, format="csr", dtype=np.float64)
    return X, X.toarray()


@pytest.mark.parametrize("init", ["random", "nndsvda", "nndsvd"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_nmf_sparse_equals_dense(init, fmt, sparse_data):
    Xs, Xd = sparse_data
    dense = NMF(6, init=init, random_state=0)
    Wd = dense.fit_transform(Xd)
    sparse = NMF(6, init=init, random_state=0)
    Ws = sparse.fit_transform(Xs.asformat(fmt))
    assert isinstance(Ws, np.ndarray) and sparse.n_iter_ == dense.n_iter_
    scale = np.abs(Wd).max()
    np.testing.assert_allclose(Ws, Wd, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(sparse.components_, dense.components_, rtol=0,
                               atol=1e-10 * np.abs(dense.components_).max())
    np.testing.assert_allclose(sparse.reconstruction_err_, dense.reconstruction_err_, rtol=1e-9)
    np.testing.assert_allclose(sparse.transform(Xs), dense.transform(Xd), rtol=0,
                               atol=1e-10 * scale)


def test_nmf_sparse_matches_scikit_learn(sparse_data):
    """Independent reference: scikit-learn's MU solver on the same sparse matrix, from the
    same custom start (same iterates up to rounding)."""
    Xs, _ = sparse_data
    rng = np.random.default_rng(0)
    W0, H0 = rng.random((400, 6)) + 0.1, rng.random((6, 120)) + 0.1
    ours = NMF(6, init="custom", max_iter=60, tol=0)
    W = ours.fit_transform(Xs, W=W0, H=H0)
    ref = SkNMF(6, init="custom", solver="mu", max_iter=60, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Wr = ref.fit_transform(Xs, W=W0, H=H0)
    np.testing.assert_allclose(ours.reconstruction_err_, ref.reconstruction_err_, rtol=1e-7)
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(W, Wr, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_semi_nmf_sparse_equals_dense(fit_intercept):
    X = sp.random(300, 60, density=0.05, random_state=1, format="csr")
    X.data -= 0.5  # mixed signs
    dense = SemiNMF(5, fit_intercept=fit_intercept, alpha_u=1e-3, random_state=0)
    Vd = dense.fit_transform(X.toarray())
    sparse = SemiNMF(5, fit_intercept=fit_intercept, alpha_u=1e-3, random_state=0)
    Vs = sparse.fit_transform(X)
    np.testing.assert_allclose(Vs, Vd, rtol=0, atol=1e-10 * np.abs(Vd).max())
    np.testing.assert_allclose(sparse.reconstruction_err_, dense.reconstruction_err_, rtol=1e-9)
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X.toarray()), rtol=0,
                               atol=1e-10 * np.abs(Vd).max())


def test_nmf_large_sparse_is_never_densified():
    """200 000 × 5 000 with 10⁶ stored values: dense would take 8 GB; the fit's peak Python
    allocation (NumPy's buffers are traced) stays below 1 % of it."""
    n, p = 200_000, 5_000
    rng = np.random.default_rng(0)
    nnz = 1_000_000
    X = sp.csr_matrix((rng.random(nnz), (rng.integers(0, n, nnz), rng.integers(0, p, nnz))),
                      shape=(n, p))
    tracemalloc.start()
    try:
        est = NMF(4, init="random", max_iter=5, tol=0, random_state=0).fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense_bytes = n * p * 8
    assert peak < 0.01 * dense_bytes, (peak, dense_bytes)
    assert est.components_.shape == (4, p) and np.isfinite(est.reconstruction_err_)


def test_sparse_refused_where_unsupported(sparse_data):
    Xs, Xd = sparse_data
    try:
        nmfdnn.namespace_from_name("array_api_strict")
    except nmfdnn.BackendError as exc:
        pytest.skip(str(exc))
    with pytest.raises(TypeError, match="sparse X is supported on the NumPy backend only"):
        NMF(3, backend="array_api_strict").fit(Xs)
    with pytest.raises(TypeError, match="NumPy backend only"):
        SemiNMF(3, backend="array_api_strict").fit(Xs)
    with pytest.raises(ValueError, match="mask is not supported with sparse X"):
        NMF(3).fit(Xs, mask=np.ones(Xd.shape))
    bad = Xs.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        NMF(3).fit(bad)
    bad.data[0] = -1.0
    with pytest.raises(ValueError, match="X must be non-negative"):
        NMF(3).fit(bad)


@SK_MAX_ITER  # scikit-learn warns that its short reference runs stop at max_iter
def test_custom_init_as_scikit_learn(sparse_data):
    _, Xd = sparse_data
    X = Xd[:120]  # square: W=X and H=0*X have the custom shapes of n_components=None
    for est in (NMF(init="custom"), SkNMF(init="custom")):
        with pytest.raises(ValueError, match=r"Array passed to NMF \(input H\) is full of zeros"):
            est.fit(X, W=X, H=0 * X)
    with pytest.raises(ValueError, match=r"NMF \(input W\) is full of zeros"):
        NMF(init="custom").fit(X, W=0 * X, H=X)
    with pytest.raises(ValueError, match=r"wrong first dimension passed to NMF \(input H\)"):
        NMF(3, init="custom").fit(X, W=np.ones((120, 3)), H=np.ones((4, 120)))
    with pytest.raises(ValueError, match="H must be non-negative"):
        NMF(3, init="custom").fit(X, W=np.ones((120, 3)), H=-np.ones((3, 120)))
    for W, H in ((np.ones((120, 3)), None), (None, np.ones((3, 120)))):
        with pytest.warns(RuntimeWarning, match="provided W or H are ignored"):
            NMF(3, max_iter=5).fit(X, W=W, H=H)
        with pytest.warns(RuntimeWarning, match="provided W or H are ignored"):
            SkNMF(3, max_iter=5).fit(X, W=W, H=H)


@SK_MAX_ITER  # scikit-learn warns that its short reference runs stop at max_iter
def test_feature_names_and_set_output(sparse_data):
    _, Xd = sparse_data
    nmf = NMF(3, max_iter=20).fit(Xd)
    ref = SkNMF(3, max_iter=20).fit(Xd)
    assert list(nmf.get_feature_names_out()) == list(ref.get_feature_names_out())
    assert list(SemiNMF(2, max_iter=5).fit(Xd).get_feature_names_out()) == ["seminmf0",
                                                                           "seminmf1"]
    pd = pytest.importorskip("pandas")
    out = NMF(3, max_iter=20).set_output(transform="pandas").fit_transform(Xd)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["nmf0", "nmf1", "nmf2"]


def test_transform_refuses_other_namespace(sparse_data):
    _, Xd = sparse_data
    try:
        strict = nmfdnn.namespace_from_name("array_api_strict")
    except nmfdnn.BackendError as exc:
        pytest.skip(str(exc))
    nmf = NMF(3, max_iter=10).fit(Xd)  # fitted on NumPy
    with pytest.raises(ValueError, match="inputs must use the fitted namespace and device"):
        nmf.transform(strict.asarray(Xd))
    with pytest.raises(ValueError, match="inputs must use the fitted namespace and device"):
        nmf.inverse_transform(strict.asarray(np.ones((2, 3))))
    semi = SemiNMF(3, max_iter=10, backend="array_api_strict").fit(Xd)
    V = semi.transform(Xd)  # host NumPy: converted once, NumPy back
    assert isinstance(V, np.ndarray)
