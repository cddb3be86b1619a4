"""Save and load fitted networks to a portable file: weights as NumPy arrays + JSON parameters.

A host-side module (like ``_host.py``): file I/O happens on the host, so NumPy is allowed here.
It knows the file format only.  The file is a plain ``.npz`` (no pickle): the estimator's state
arrays (``coef_<i>``, ``intercept_<i>``, ``classes`` …) and a JSON string ``__meta__`` with the
format, the estimator class name, its parameters and its fitted attributes.  What the state is
belongs to the estimators (``_get_model_state`` / ``_from_model_state``); the class is looked up
by name among the registered network estimators (:func:`nmfdnn.estimators.network_class`).  A
file loads onto any backend, device and dtype.  Training checkpoints (written by the estimators
during ``fit``) live in :mod:`nmfdnn._checkpoint`, which this module re-exports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import resolve_device, resolve_dtype, resolve_namespace
from nmfdnn._checkpoint import (
    data_fingerprint,
    jsonable_params,
    read_checkpoint,
    write_atomic,
    write_checkpoint,
)
from nmfdnn.estimators import network_class

__all__ = ["save_model", "load_model", "write_checkpoint", "read_checkpoint",
           "data_fingerprint"]

FORMAT = "nmfdnn-network/1"


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
        "params": jsonable_params(est),
        **attributes,
        "dtype": str(arrays["coef_0"].dtype),
    }
    arrays = dict(arrays, __meta__=np.asarray(json.dumps(meta)))
    write_atomic(path, arrays)
    return path


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
