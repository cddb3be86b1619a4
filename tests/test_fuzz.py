"""Property-based input hardening (issue 15): every public estimator and the CLI, fed random
shapes, dtypes, NaN/Inf positions, empty and single-sample data and wrong label types, either
succeed with finite results or raise a ValueError/TypeError that names the argument — never
another exception type, a hang or a silently non-finite result.  The one other error allowed
is :class:`nmfdnn.NumericalError` (the documented divergence error, a FloatingPointError) for
finite inputs so large that their squares overflow the computing dtype.

Sizes are tiny and ``max_examples`` modest so the whole file runs in well under a minute.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmfdnn import NumericalError, to_numpy
from nmfdnn.cli import main
from nmfdnn.estimators import (
    NMF,
    SSNMF,
    BackpropClassifier,
    BackpropRegressor,
    DeepNMF,
    NMFNetworkClassifier,
    NMFNetworkRegressor,
    SemiNMF,
    WeaklyNMF,
)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

# words one of which a clear message about bad data or parameters contains
NAMES = ("X", "y", "sample", "feature", "n_components", "class", "label", "batch_size",
         "W", "H", "mask", "dtype", "shape", "segments")

ESTIMATORS = {
    "NMF": lambda: NMF(2, max_iter=5, random_state=0),
    "SemiNMF": lambda: SemiNMF(2, max_iter=5, random_state=0),
    "WeaklyNMF": lambda: WeaklyNMF(2, max_epochs=2, batch_size=2, random_state=0),
    "DeepNMF": lambda: DeepNMF((2, 2), max_iter=3, init_iter=3, random_state=0),
    "SSNMF": lambda: SSNMF(2, max_iter=3, init_iter=3, random_state=0),
    "NMFNetworkClassifier": lambda: NMFNetworkClassifier((3,), max_epochs=1, random_state=0),
    "NMFNetworkRegressor": lambda: NMFNetworkRegressor((3,), max_epochs=1, random_state=0),
    "BackpropClassifier": lambda: BackpropClassifier((3,), max_epochs=1, random_state=0),
    "BackpropRegressor": lambda: BackpropRegressor((3,), max_epochs=1, random_state=0),
}
SUPERVISED = {"DeepNMF", "SSNMF", "NMFNetworkClassifier", "NMFNetworkRegressor",
              "BackpropClassifier", "BackpropRegressor"}
COUNTS = {}
OUTCOMES = {}


@st.composite
def data(draw):
    """``(X, y, what)``: an X of random shape/dtype with NaN/Inf at random positions, labels
    of random kinds; ``what`` describes the draw (for failure messages)."""
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 8]))
    p = draw(st.sampled_from([0, 1, 2, 4]))
    kind = draw(st.sampled_from(["float64"] * 4 + ["float32", "int64", "bool", "complex",
                                                   "str", "object", "list", "3d", "1d"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.random((n, p)) * draw(st.sampled_from([1.0, 1e-30, 1e30]))
    bad = draw(st.sampled_from([None] * 4 + [np.nan, np.inf, -np.inf, -1.0]))
    if bad is not None and X.size:
        X.flat[draw(st.integers(0, X.size - 1))] = bad
    if kind in ("float32", "int64", "bool", "complex"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X = X.astype(kind)
    elif kind == "str":
        X = X.astype(str)
    elif kind == "object":
        X = X.astype(object)
        if X.size:
            X.flat[0] = "a"
    elif kind == "list":
        X = X.tolist()
    elif kind == "3d":
        X = X[..., None]
    elif kind == "1d":
        X = X.reshape(-1)
    y_kind = draw(st.sampled_from(["int", "two", "str"] * 2 + ["float", "nan", "2d", "short",
                                                               "none", "one_class", "mixed"]))
    y = {
        "int": lambda: rng.integers(0, 3, n),
        "two": lambda: np.arange(n) % 2,
        "str": lambda: np.array(["a", "b"] * n)[:n],
        "float": lambda: rng.random(n),
        "nan": lambda: np.where(np.arange(n) == 0, np.nan, np.arange(n) % 2 * 1.0),
        "2d": lambda: rng.integers(0, 2, (n, 2)),
        "short": lambda: np.arange(max(n - 1, 0)) % 2,
        "none": lambda: None,
        "one_class": lambda: np.zeros(n, dtype=int),
        "mixed": lambda: np.array([1, "a"] * n, dtype=object)[:n],
    }[y_kind]()
    return X, y, f"X kind={kind} shape=({n},{p}) bad={bad}, y kind={y_kind}"


def _finite(a):
    a = to_numpy(a) if not isinstance(a, np.ndarray) else a
    if a.dtype.kind in "biu" or a.dtype.kind in "OUS":
        return True
    return bool(np.all(np.isfinite(a)))


def _overflows(X):
    """``‖X‖²`` beyond the largest float of the dtype the estimators compute in (float64
    only for float64 input; float32 otherwise)."""
    A = np.asarray(X, dtype=np.float64)
    big = float(np.finfo(np.float64 if np.asarray(X).dtype == np.float64 else np.float32).max)
    finite = A[np.isfinite(A)]
    return finite.size > 0 and float(np.max(np.abs(finite))) ** 2 * A.size > big


def _check(name, X, y, what):
    est = ESTIMATORS[name]()
    COUNTS[name] = COUNTS.get(name, 0) + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name in SUPERVISED:
                est.fit(X, y)
                out = (est.predict(X),)
            else:
                out = (est.fit_transform(X),)
    except NumericalError as exc:
        # documented divergence error: only for finite inputs whose squares overflow the dtype
        assert _overflows(X), f"{name}, {what}: NumericalError on tame input: {exc}"
        OUTCOMES[name, "overflow"] = OUTCOMES.get((name, "overflow"), 0) + 1
        return
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert any(word in msg for word in NAMES), f"{name}, {what}: unclear message {msg!r}"
        OUTCOMES[name, "error"] = OUTCOMES.get((name, "error"), 0) + 1
        return
    OUTCOMES[name, "fit"] = OUTCOMES.get((name, "fit"), 0) + 1
    # success: results finite
    for o in out:
        assert _finite(o), f"{name}, {what}: silently non-finite result"


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimators_fuzzed_inputs(name):
    @SETTINGS
    @given(data())
    def run(d):
        X, y, what = d
        _check(name, X, y, what)

    run()
    print(f"{name}: {COUNTS[name]} cases, "
          f"{ {k[1]: v for k, v in OUTCOMES.items() if k[0] == name} }")
    assert COUNTS[name] >= 30
    assert OUTCOMES.get((name, "fit"), 0) >= 5, OUTCOMES  # valid draws train and predict


@SETTINGS
@given(
    flag=st.sampled_from(["--epochs", "--hidden", "--batch-size", "--omega", "--average",
                          "--alpha-W", "--rank-tol", "--subset", "--inner-iter"]),
    value=st.sampled_from(["0", "-1", "1", "2", "0.5", "nan", "inf", "abc", "", "1,,2",
                           "7"]),
)
def test_cli_fuzzed_flags(flag, value, capsys):
    """Every flag value: exit 0, or exit 2 with one ``error:`` line naming the flag or its
    value — never a traceback."""
    COUNTS["cli"] = COUNTS.get("cli", 0) + 1
    argv = ["train", "--hidden", "4", "--epochs", "1", "--subset", "60", "--no-progress",
            flag, value]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: type errors of the flag
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert "error:" in err and "Traceback" not in err, err
