"""Checkpoints, resume, warm_start and partial_fit of the network estimators (issue 15):
a killed run resumed from its checkpoint ends with the same weights, bit for bit, as the run
that was never interrupted; so do ``partial_fit`` × k and ``warm_start`` with ``fit``."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nmfdnn
from nmfdnn import to_numpy
from nmfdnn._io import read_checkpoint
from nmfdnn.cli import main
from nmfdnn.datasets import load_digits, make_sin
from nmfdnn.estimators import (
    BackpropClassifier,
    BackpropRegressor,
    NMFNetworkClassifier,
    NMFNetworkRegressor,
)

ROOT = Path(nmfdnn.__file__).resolve().parents[1]
CLI_ARGS = ["train", "--hidden", "64", "--epochs", "5", "--batch-size", "400", "--average",
            "0.5", "--no-progress", "--seed", "3"]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _weights(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k.startswith(("coef_", "intercept_"))}


def _assert_same_file_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    assert sorted(wa) == sorted(wb) and wa
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k


def _epoch_of(path):
    try:
        return read_checkpoint(path)[1]["epoch"]
    except (ValueError, OSError, KeyError):
        return None


def _run_and_kill(ck, env_var, ready):
    """Start ``nmfdnn train --checkpoint ck`` with a test pause, SIGKILL it once ``ready()``."""
    # one BLAS thread, as the in-process runs it is compared with (threadpool_limits above):
    # LAPACK's factorizations may round differently with another thread count
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", **{env_var: "1.5"})
    proc = subprocess.Popen([sys.executable, "-m", "nmfdnn", *CLI_ARGS, "--checkpoint", str(ck)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the training run never reached the kill point"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.npz"
    assert main([*CLI_ARGS, "--save", str(out)]) == 0
    return out


def test_cli_killed_after_epoch_2_resumes_bitwise(tmp_path, uninterrupted, capsys):
    ck = tmp_path / "run.ckpt"
    # the writer sleeps after each checkpoint: the kill lands right after epoch 2's
    _run_and_kill(ck, "NMFDNN_TEST_CHECKPOINT_PAUSE", lambda: _epoch_of(ck) == 2)
    assert _epoch_of(ck) == 2
    out = tmp_path / "resumed.npz"
    assert main([*CLI_ARGS, "--checkpoint", str(ck), "--resume", "--save", str(out)]) == 0
    assert "5 epochs" in capsys.readouterr().out
    assert _epoch_of(ck) == 5
    _assert_same_file_weights(uninterrupted, out)


def test_cli_killed_during_checkpoint_write_resumes_bitwise(tmp_path, uninterrupted):
    ck = tmp_path / "run.ckpt"

    def writing_epoch_3():  # epoch 2 renamed in place, epoch 3's temporary file being written
        return _epoch_of(ck) == 2 and any(tmp_path.glob("run.ckpt.*.tmp"))

    _run_and_kill(ck, "NMFDNN_TEST_SLOW_CHECKPOINT", writing_epoch_3)
    assert _epoch_of(ck) == 2  # the previous checkpoint is intact
    assert any(tmp_path.glob("run.ckpt.*.tmp"))  # the interrupted write left its temp file
    out = tmp_path / "resumed.npz"
    assert main([*CLI_ARGS, "--checkpoint", str(ck), "--resume", "--save", str(out)]) == 0
    _assert_same_file_weights(uninterrupted, out)


def test_cli_resume_needs_checkpoint(capsys):
    assert main([*CLI_ARGS, "--resume"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "nmfdnn train: error: argument --resume: needs --checkpoint FILE", last


@pytest.mark.parametrize("flag_value, message", [
    ("/nonexistent/dir/ck.npz", "folder '/nonexistent/dir' does not exist"),
    (".", "is a folder, give a file name such as train.ckpt"),
])
def test_cli_checkpoint_path_checked_before_data(flag_value, message, capsys):
    assert main(["train", "--checkpoint", flag_value]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("nmfdnn train: error: argument --checkpoint:"), last
    assert message in last, last


# --- the estimators, on every backend ---------------------------------------------------------


def _skip_jax(backend):
    if backend.startswith("jax"):
        pytest.skip("whole training runs are too slow op by op on JAX (tests/test_minibatch.py "
                    "checks the trainer's arithmetic there)")


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = load_digits(random_state=0)
    return X[:300], y[:300]


CASES = [
    (NMFNetworkClassifier, dict(batch_size=100, average=0.5, step_decay=0.2)),
    (NMFNetworkClassifier, dict(batch_size=100, method="original")),
    # the heavy ball runs on across the interruption (epoch 2 of 3 with momentum)
    (NMFNetworkClassifier, dict(batch_size=100, momentum=0.5, momentum_epochs=3)),
    (BackpropClassifier, dict(batch_size=50, alpha=1e-3)),
]


def _same_weights(a, b):
    return all(np.array_equal(to_numpy(u), to_numpy(v))
               for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))


def _est(cls, backend, kw, **more):
    return cls((24,), random_state=0, backend=backend.split(":")[0], dtype="float64",
               **kw, **more)


@pytest.mark.parametrize("cls, kw", CASES)
def test_resume_from_checkpoint_equals_uninterrupted(cls, kw, backend, xp, tmp_path, data):
    _skip_jax(backend)
    X, y = data
    ref = _est(cls, backend, kw, max_epochs=5, early_stopping=True,
               n_iter_no_change=10).fit(X, y)
    ck = tmp_path / "c.ckpt"
    _est(cls, backend, kw, max_epochs=2, early_stopping=True, n_iter_no_change=10,
         checkpoint=ck).fit(X, y)  # "killed" after 2 epochs
    res = _est(cls, backend, kw, max_epochs=5, early_stopping=True, n_iter_no_change=10,
               checkpoint=ck, resume=True).fit(X, y)
    assert _same_weights(ref, res)
    assert res.loss_curve_ == ref.loss_curve_ and res.validation_scores_ == ref.validation_scores_
    # resuming a finished run trains nothing and returns the same model
    again = _est(cls, backend, kw, max_epochs=5, early_stopping=True, n_iter_no_change=10,
                 checkpoint=ck, resume=True).fit(X, y)
    assert _same_weights(ref, again) and again.n_iter_ == 5


def test_checkpoint_of_other_parameters_or_data_is_refused(tmp_path, data):
    X, y = data
    ck = tmp_path / "c.ckpt"
    NMFNetworkClassifier((16,), max_epochs=1, batch_size=100, random_state=0,
                         checkpoint=ck).fit(X, y)
    with pytest.raises(ValueError, match=r"other parameters \(alpha_W='auto' there, 0.01 here"):
        NMFNetworkClassifier((16,), max_epochs=2, batch_size=100, random_state=0, alpha_W=1e-2,
                             checkpoint=ck, resume=True).fit(X, y)
    X2 = X.copy()
    X2[7, 30] += 1.0  # one value changed: same shape
    with pytest.raises(ValueError, match="other training data"):
        NMFNetworkClassifier((16,), max_epochs=2, batch_size=100, random_state=0,
                             checkpoint=ck, resume=True).fit(X2, y)
    with pytest.raises(ValueError, match="written by NMFNetworkClassifier"):
        BackpropClassifier((16,), max_epochs=2, batch_size=100, random_state=0,
                           checkpoint=ck, resume=True).fit(X, y)
    (tmp_path / "junk").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        NMFNetworkClassifier((16,), checkpoint=tmp_path / "junk", resume=True).fit(X, y)


ALL = [
    (NMFNetworkClassifier, dict(batch_size=100, average=0.5)),
    (NMFNetworkClassifier, dict(batch_size=100, momentum=0.5, momentum_epochs=None)),
    (NMFNetworkRegressor, dict(batch_size=100, alpha_W=1e-2, alpha_Z=1e-2)),
    (BackpropClassifier, dict(batch_size=50)),
    (BackpropRegressor, dict(batch_size=50)),
]


@pytest.mark.parametrize("cls, kw", ALL)
def test_partial_fit_10_calls_equals_fit_10_epochs(cls, kw, backend, xp, device, data):
    _skip_jax(backend)
    if "Regressor" in cls.__name__:
        X, y, _, _ = make_sin(n_train=300, random_state=0)
        extra = {}
    else:
        X, y = data
        extra = {"classes": np.unique(y)}
    Xd = xp.asarray(X, device=device)  # device arrays: the run stays there
    ref = _est(cls, backend, kw, max_epochs=10).fit(Xd, y)
    inc = _est(cls, backend, kw)
    for k in range(10):
        inc.partial_fit(Xd, y, **(extra if k == 0 else {}))
    assert _same_weights(ref, inc)
    assert inc.n_iter_ == 10 and inc.loss_curve_ == ref.loss_curve_
    warm = _est(cls, backend, kw, max_epochs=4, warm_start=True).fit(Xd, y)
    warm.set_params(max_epochs=6).fit(Xd, y)
    assert _same_weights(ref, warm) and warm.n_iter_ == 10


def test_partial_fit_classes(data):
    X, y = data
    clf = NMFNetworkClassifier((8,), batch_size=100, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))  # not every class present
    assert list(clf.classes_) == list(range(10))
    assert clf.decision_function(X).shape == (300, 10)
    with pytest.raises(ValueError, match=r"labels not in classes: \[11\]"):
        clf.partial_fit(X[:4], np.array([0, 1, 11, 2]))
    with pytest.raises(ValueError, match="differs from classes_"):
        clf.partial_fit(X, y, classes=np.arange(9))
    with pytest.raises(ValueError, match="expecting 64 features"):
        clf.partial_fit(X[:, :10], y)


def test_other_namespace_at_predict_is_refused(backend, xp, device, data):
    """Arrays of another library or device than the fitted one: a clear error; host NumPy is
    converted once (the documented convenience) and gets NumPy back."""
    _skip_jax(backend)
    X, y = data
    clf = NMFNetworkClassifier((8,), max_epochs=1, batch_size=100, random_state=0,
                               backend=backend.split(":")[0], device=device).fit(X, y)
    pred = clf.predict(X)  # host NumPy in: NumPy out
    assert isinstance(pred, np.ndarray)
    name = backend.split(":")[0]
    other = "array_api_strict" if name != "array_api_strict" else "torch"
    try:
        X_other = nmfdnn.namespace_from_name(other).asarray(X)
    except nmfdnn.BackendError as exc:
        pytest.skip(str(exc))
    for method in (clf.predict, clf.decision_function, clf.score, clf.partial_fit):
        args = (X_other, y) if method in (clf.score, clf.partial_fit) else (X_other,)
        with pytest.raises(ValueError, match="inputs must use the fitted namespace and device"):
            method(*args)
