"""Save and load fitted networks to a portable file: weights as NumPy arrays + JSON parameters.

A host-side module (like ``_host.py``): file I/O happens on the host, so NumPy is allowed here.
It knows the file format only.  The file is a plain ``.npz`` (no pickle): the estimator's state
arrays (``coef_<i>``, ``intercept_<i>``, ``classes`` …) and a JSON string ``__meta__`` with the
format, the estimator class name, its parameters and its fitted attributes.  What the state is
belongs to the estimators (``_get_model_state`` / ``_from_model_state``); the class is looked up
by name among the registered network estimators (:func:`nmfdnn.estimators.network_class`).  A
file loads onto any backend, device and dtype.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import resolve_device, resolve_dtype, resolve_namespace
from nmfdnn.estimators import network_class

__all__ = ["save_model", "load_model", "write_checkpoint", "read_checkpoint",
           "data_fingerprint"]

FORMAT = "nmfdnn-network/1"
CHECKPOINT_FORMAT = "nmfdnn-checkpoint/1"


def _jsonable_params(est):
    params = {}
    for key, value in est.get_params(deep=False).items():
        if key == "callbacks":
            continue
        if key == "backend" and value is not None and not isinstance(value, str):
            value = getattr(value, "__name__", None)
        if key in ("device", "dtype") and value is not None and not isinstance(value, str):
            value = str(value)
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        params[key] = value
    return params


def save_model(est, path):
    """Write a fitted network estimator to ``path`` (``.npz``), atomically.

    Parameters
    ----------
    est : NMFNetworkClassifier, NMFNetworkRegressor, BackpropClassifier or BackpropRegressor
        A fitted network estimator.
    path : str or Path
        ``.npz`` is appended if missing.  The file is written to a temporary file in the same
        folder and renamed, so an interrupted write never leaves a truncated model.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``est`` is not fitted.
    TypeError
        If ``est`` is not a network estimator of nmfdnn.
    """
    if not hasattr(est, "_get_model_state"):
        raise TypeError(f"save_model takes a network estimator of nmfdnn, got {type(est)!r}")
    check_is_fitted(est, "coefs_")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays, attributes = est._get_model_state()
    meta = {
        "format": FORMAT,
        "class": type(est).__name__,
        "params": _jsonable_params(est),
        **attributes,
        "dtype": str(arrays["coef_0"].dtype),
    }
    arrays = dict(arrays, __meta__=np.asarray(json.dumps(meta)))
    _write_atomic(path, arrays)
    return path


def _write_atomic(path, arrays, *, pause=0.0):
    """``np.savez`` to a temporary file in the folder of ``path``, flushed to disk, then
    ``os.replace``: a reader (or a crash) sees the old file or the new one, never half of one.
    ``pause`` seconds are slept between the write and the rename (tests kill the writer there).
    """
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if pause:
            time.sleep(pause)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def checkpoint_params(est, exclude=("checkpoint", "resume", "warm_start", "max_epochs",
                                    "verbose")):
    """The parameters of ``est`` that a checkpoint must match (JSON-able).

    ``max_epochs`` may differ (a resumed run may be extended), and so may the parameters
    that do not change the computation (``verbose``, ``callbacks``, ``checkpoint``,
    ``resume``, ``warm_start``).
    """
    return {k: v for k, v in _jsonable_params(est).items() if k not in exclude}


def data_fingerprint(shape, dtype, sample, sums):
    """A cheap fingerprint of a training set: shape, dtype and a SHA-256 of a sample.

    Parameters
    ----------
    shape : tuple of int
    dtype : str
    sample : numpy.ndarray
        A strided sample of the rows (taken on the device, then copied).
    sums : numpy.ndarray
        The column sums (every entry counts).

    Returns
    -------
    dict
        ``{"shape": [...], "dtype": ..., "sha256": ...}`` (JSON-able).
    """
    h = hashlib.sha256()
    for a in (sample, sums):
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return {"shape": [int(s) for s in shape], "dtype": str(dtype), "sha256": h.hexdigest()}


def write_checkpoint(path, arrays, meta):
    """Write a training checkpoint atomically (temporary file in the same folder + rename).

    Parameters
    ----------
    path : str or Path
        The checkpoint file (written as given; ``.npz`` content).
    arrays : dict of str to numpy.ndarray
        Host arrays of the training state.
    meta : dict
        JSON-able description (epoch, generator state, records, parameters, data
        fingerprint, …); the format tag is added.

    Notes
    -----
    A run killed at any moment leaves the previous checkpoint intact (and possibly a stale
    ``<name>.*.tmp`` file, which is never read).  For tests, the environment variables
    ``NMFDNN_TEST_SLOW_CHECKPOINT`` and ``NMFDNN_TEST_CHECKPOINT_PAUSE`` (seconds) make the
    writer sleep between the write and the rename, and after the rename.
    """
    path = Path(path)
    meta = dict(meta, format=CHECKPOINT_FORMAT)
    arrays = dict(arrays, __meta__=np.asarray(json.dumps(meta, default=_json_default)))
    _write_atomic(path, arrays,
                  pause=float(os.environ.get("NMFDNN_TEST_SLOW_CHECKPOINT", 0) or 0))
    pause = float(os.environ.get("NMFDNN_TEST_CHECKPOINT_PAUSE", 0) or 0)
    if pause:
        time.sleep(pause)
    return path


def read_checkpoint(path):
    """Read a checkpoint written by :func:`write_checkpoint`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    arrays : dict of str to numpy.ndarray
    meta : dict

    Raises
    ------
    ValueError
        If the file is not an nmfdnn checkpoint.
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"checkpoint {path} cannot be read ({exc})") from exc
    meta = json.loads(str(data.pop("__meta__", "{}")))
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an nmfdnn checkpoint (format {meta.get('format')!r})")
    return data, meta


def load_model(path, *, backend=None, device=None, dtype=None):
    """Load a network saved by :func:`save_model` onto any backend.

    Parameters
    ----------
    path : str or Path
    backend : str or namespace, optional
        Where the weights go. Default: the saved ``backend`` parameter, else NumPy.
    device : str or device, optional
    dtype : {"float32", "float64"}, optional
        Default: the saved weights' dtype.

    Returns
    -------
    estimator
        A fitted estimator whose ``predict`` equals the saved one's (up to the dtype chosen).

    Raises
    ------
    ValueError
        If the file is not an nmfdnn network file or names an unknown class.
    """
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    if "__meta__" not in data:
        raise ValueError(f"{path} is not an nmfdnn network file (no __meta__ entry)")
    meta = json.loads(str(data.pop("__meta__")))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an nmfdnn network file (format {meta.get('format')!r})")
    cls = network_class(meta["class"])
    params = dict(meta["params"])
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    if backend is not None:
        params["backend"] = backend if isinstance(backend, str) else params.get("backend")
    if device is not None and isinstance(device, str):
        params["device"] = device
    xp = resolve_namespace(backend if backend is not None else params.get("backend") or "numpy")
    dev = resolve_device(xp, device if device is not None else params.get("device"))
    dt = resolve_dtype(xp, dtype if dtype is not None else meta["dtype"])
    return cls._from_model_state(params, data, meta, xp=xp, device=dev, dtype=dt)
