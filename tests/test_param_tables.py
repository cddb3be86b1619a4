"""The NMF family's parameter tables and the one check of ``X`` per ``fit``."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_param_validation

import nmfdnn._validation
from nmfdnn.estimators import NMF, SSNMF, DeepNMF, SemiNMF, WeaklyNMF

ESTIMATORS = [
    NMF(2, max_iter=5),
    SemiNMF(2, max_iter=5),
    WeaklyNMF(2, max_epochs=1, batch_size=10),
    DeepNMF((3, 2), pool_width=1, max_iter=2, init_iter=2),
    SSNMF(2, max_iter=2, init_iter=2),
]
IDS = [type(e).__name__ for e in ESTIMATORS]


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_scikit_learn_param_validation(est):
    # scikit-learn's own check: every parameter has a constraint, and each kind of invalid
    # value raises InvalidParameterError naming it, in fit (and fit_transform)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_param_validation(type(est).__name__, est)


@pytest.mark.parametrize(
    "Est, bad",
    [(NMF, {"init": "svd"}), (SemiNMF, {"alpha_u": -1.0}), (WeaklyNMF, {"eta": 1.5}),
     (DeepNMF, {"pool_width": -1}), (SSNMF, {"n_components": (3,)})],
)
def test_bad_parameter_is_named(Est, bad):
    X = np.random.default_rng(0).random((12, 6))
    y = np.arange(12) % 2
    name = next(iter(bad))
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {Est.__name__}"):
        Est(**bad).fit(X, y)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_x_checked_once_per_fit_and_transform(est, monkeypatch):
    # every full check of an array (finite, non-negative: a pass over it and a host
    # synchronization) goes through check_matrix; a fit checks X once, the solvers it calls
    # get check_input=False
    seen = []
    original = nmfdnn._validation.check_matrix

    def spy(A, name, **kwargs):
        seen.append(name)
        return original(A, name, **kwargs)

    for module in list(sys.modules.values()):
        if (getattr(module, "__name__", "") or "").startswith("nmfdnn") and getattr(
            module, "check_matrix", None
        ) is original:
            monkeypatch.setattr(module, "check_matrix", spy)
    rng = np.random.default_rng(0)
    X = rng.random((30, 8))
    y = np.arange(30) % 3
    y[::4] = -1
    supervised = isinstance(est, DeepNMF)
    est.fit(X, y) if supervised else est.fit(X)
    assert seen == ["X"]
    seen.clear()
    est.predict(X) if supervised else est.transform(X)
    assert seen == ["X"]
