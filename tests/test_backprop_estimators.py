"""BackpropClassifier/Regressor: the §5 baseline with the NMF estimators' API and records."""

import numpy as np
import pytest
from sklearn.base import clone

from nmfdnn import NumericalError, load_model, save_model
from nmfdnn.datasets import load_digits, make_sin
from nmfdnn.estimators import BackpropClassifier, BackpropRegressor
from nmfdnn.testing import assert_close, assert_equal


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """OpenBLAS's threads on small matrices are 10-100x slower than one thread on a busy
    machine (the digits fit: 0.05 s with one thread, 11 s with two on a loaded 2-core box)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # BLAS and OpenMP (torch)
        yield


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.slow  # a learning test: trains to an accuracy threshold
def test_digits_on_every_backend(backend, xp, dtype, digits):
    X, y, Xt, yt = digits
    name = "float32" if dtype == xp.float32 else "float64"
    clf = BackpropClassifier((200,), max_epochs=10, backend=backend.split(":")[0],
                             device="cuda" if ":cuda" in backend else None, dtype=name,
                             random_state=0).fit(X, y)
    assert clf.score(Xt, yt) >= 0.94
    assert clf.coefs_[0].dtype == dtype and clf.n_iter_ == 10
    loss = np.asarray(clf.loss_curve_)
    assert loss[-1] < 0.5 * loss[0]
    # same seed, same host draws and batch order: every backend follows NumPy's trajectory
    ref = BackpropClassifier((200,), max_epochs=10, dtype=name, random_state=0).fit(X, y)
    rtol = 1e-6 if name == "float64" else 5e-2
    assert_close(np.asarray(clf.loss_curve_), np.asarray(ref.loss_curve_), rtol=rtol)


def test_parameters_reach_the_optimizer(digits):
    X, y, _, _ = digits
    a = BackpropClassifier((50,), max_epochs=2, random_state=0).fit(X, y)
    b = BackpropClassifier((50,), max_epochs=2, learning_rate=1e-2, random_state=0).fit(X, y)
    c = BackpropClassifier((50,), max_epochs=2, loss="cross_entropy", random_state=0).fit(X, y)
    assert a.loss_curve_ != b.loss_curve_ and a.loss_curve_ != c.loss_curve_
    assert clone(b).get_params() == b.get_params()
    assert a.batch_size_ == 100  # §5: mini-batch 100


def test_records_callbacks_and_early_stopping(digits):
    X, y, Xt, yt = digits
    seen = []
    clf = BackpropClassifier((50,), max_epochs=30, early_stopping=True, n_iter_no_change=2,
                             tol=0.5, random_state=0,
                             callbacks=[lambda est, rec: seen.append(rec.epoch)]).fit(X, y)
    assert clf.n_iter_ < 30 and seen == list(range(1, clf.n_iter_ + 1))
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.epoch_times_)
    stop = BackpropClassifier((50,), max_epochs=9, random_state=0,
                              callbacks=[lambda est, rec: rec.epoch == 3]).fit(X, y)
    assert stop.n_iter_ == 3


def test_save_load_onto_another_backend(tmp_path, digits):
    pytest.importorskip("torch")
    X, y, Xt, _ = digits
    clf = BackpropClassifier((40,), max_epochs=2, random_state=0).fit(X, y)
    loaded = load_model(save_model(clf, tmp_path / "bp"), backend="torch")
    assert type(loaded) is BackpropClassifier and loaded.get_params()["loss"] == "mse"
    assert_equal(loaded.predict(Xt), clf.predict(Xt))  # host data in, host labels out


@pytest.mark.slow  # a learning test: trains to an accuracy threshold
def test_regressor_fits_the_sin_toy():
    X, y, Xt, yt = make_sin(random_state=0)
    # zero biases on a 1-D input start nearly linear (ALGORITHMS.md §2): many small steps
    reg = BackpropRegressor((100,), max_epochs=1000, batch_size=50, learning_rate=3e-2,
                            dtype="float64", random_state=0).fit(X, y)
    mse = float(np.mean((reg.predict(Xt) - yt) ** 2))
    assert mse < 0.05, mse


@pytest.mark.parametrize(
    "params,match",
    [(dict(learning_rate=-1.0), "learning_rate"), (dict(loss="hinge"), "loss"),
     (dict(beta_1=1.0), "beta_1"), (dict(alpha=-1.0), "alpha"), (dict(max_epochs=0), "max_epochs"),
     (dict(batch_size=10_000), "larger than")],
)
def test_bad_parameters(params, match, digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match=match):
        BackpropClassifier((10,), **params).fit(X, y)
    with pytest.raises(ValueError, match="mse"):
        BackpropRegressor((10,), loss="cross_entropy").fit(X, y.astype(float))


@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
def test_divergence_is_an_error(digits):
    X, y, _, _ = digits
    with pytest.raises(NumericalError, match="epoch 1"):
        BackpropClassifier((50,), max_epochs=3, learning_rate=1e38, epsilon=1e-30,
                           random_state=0).fit(X * 1e30, y)


@pytest.mark.slow  # 100 epochs each, to reach the accuracy thresholds of check_*_train
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_check_estimator(Est):
    """scikit-learn conformance; enough epochs for check_*_train's accuracy thresholds."""
    from sklearn.utils.estimator_checks import check_estimator

    expected = {}
    if Est is BackpropRegressor:
        expected["check_regressor_multioutput"] = (
            "float32 is the default compute dtype; the check demands float64 predictions"
        )
    results = check_estimator(Est((20,), max_epochs=100, learning_rate=1e-2, random_state=0),
                              on_fail=None, expected_failed_checks=expected)
    failed = [f"{r['check_name']}: {r['exception']!r}" for r in results if r["status"] == "failed"]
    assert not failed, failed
