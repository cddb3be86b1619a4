"""Save and load fitted networks to a portable file: weights as NumPy arrays + JSON parameters.

A host-side module (like ``_host.py``): file I/O happens on the host, so NumPy is allowed here.
The file is a plain ``.npz`` (no pickle): ``coef_<i>``, ``intercept_<i>``, ``classes`` and a
JSON string ``__meta__`` with the estimator class, its parameters and fitted scalars.  It loads
onto any backend, device and dtype.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nmfdnn._host import to_numpy

__all__ = ["save_model", "load_model"]

FORMAT = "nmfdnn-network/1"


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
        params[key] = value
    return params


def save_model(est, path):
    """Write a fitted :class:`~nmfdnn.estimators.NMFNetworkClassifier` or
    :class:`~nmfdnn.estimators.NMFNetworkRegressor` to ``path`` (``.npz``).

    Returns
    -------
    pathlib.Path
        The file written (``.npz`` appended if missing).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est, "coefs_")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays = {}
    for i, (c, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        arrays[f"coef_{i}"] = to_numpy(c)
        arrays[f"intercept_{i}"] = to_numpy(b)
    meta = {
        "format": FORMAT,
        "class": type(est).__name__,
        "params": _jsonable_params(est),
        "n_layers": len(est.coefs_),
        "n_features_in_": int(est.n_features_in_),
        "n_iter_": int(est.n_iter_),
        "loss_curve_": [float(v) for v in est.loss_curve_],
        "dtype": str(arrays["coef_0"].dtype),
    }
    if hasattr(est, "classes_"):
        arrays["classes"] = np.asarray(est.classes_)
    else:
        meta["y_1d"] = bool(est._y_1d)
        meta["n_outputs_"] = int(est.n_outputs_)
    arrays["__meta__"] = np.asarray(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
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
    """
    from nmfdnn._array_api import namespace_name, resolve_device, resolve_dtype, resolve_namespace
    from nmfdnn.estimators import (
        BackpropClassifier,
        BackpropRegressor,
        NMFNetworkClassifier,
        NMFNetworkRegressor,
    )

    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    meta = json.loads(str(data.pop("__meta__")))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an nmfdnn network file (format {meta.get('format')!r})")
    cls = {"NMFNetworkClassifier": NMFNetworkClassifier,
           "NMFNetworkRegressor": NMFNetworkRegressor,
           "BackpropClassifier": BackpropClassifier,
           "BackpropRegressor": BackpropRegressor}[meta["class"]]
    params = dict(meta["params"])
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    if backend is not None:
        params["backend"] = backend if isinstance(backend, str) else params.get("backend")
    if device is not None and isinstance(device, str):
        params["device"] = device
    est = cls(**params)
    xp = resolve_namespace(backend if backend is not None else params.get("backend") or "numpy")
    dev = resolve_device(xp, device if device is not None else params.get("device"))
    dt = resolve_dtype(xp, dtype if dtype is not None else meta["dtype"])
    name = "float32" if dt == xp.float32 else "float64"
    est.coefs_ = [xp.asarray(data[f"coef_{i}"].astype(name), device=dev)
                  for i in range(meta["n_layers"])]
    est.intercepts_ = [xp.asarray(data[f"intercept_{i}"].astype(name), device=dev)
                       for i in range(meta["n_layers"])]
    est.n_features_in_ = meta["n_features_in_"]
    est.n_iter_ = meta["n_iter_"]
    est.loss_curve_ = meta["loss_curve_"]
    est.backend_ = namespace_name(xp)
    if "classes" in data:
        est.classes_ = data["classes"]
    else:
        est._y_1d = meta["y_1d"]
        est.n_outputs_ = meta["n_outputs_"]
    return est
