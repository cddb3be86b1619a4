"""Shared plumbing of the scikit-learn style estimators: the backend chosen once at ``fit``.

- :func:`resolve_fit_backend` — namespace, device and dtype from ``backend=``, ``device=``,
  ``dtype=`` or, when they are ``None``, from ``X`` itself (arrays keep their namespace).
- :func:`to_backend` — validate an input (2-D, finite, optionally non-negative) and move it
  there once (host data are cast on the host first).
- :func:`like_input` — return a result in the namespace of the caller's input.
"""

from __future__ import annotations

import array_api_compat

from nmfdnn._array_api import (
    asarray,
    device_of,
    get_namespace,
    resolve_device,
    resolve_dtype,
    resolve_namespace,
)
from nmfdnn._host import check_host_input, to_host, to_numpy
from nmfdnn._validation import check_matrix, check_positive_int

__all__ = ["resolve_fit_backend", "to_backend", "like_input", "is_array", "check_ranks",
           "check_2d", "check_same_namespace"]


def is_array(x):
    """True for an array of any array-API library (NumPy included)."""
    return array_api_compat.is_array_api_obj(x)


def resolve_fit_backend(X, *, backend=None, device=None, dtype=None, default_dtype="float32"):
    """Namespace, device and dtype an estimator computes in.

    Parameters
    ----------
    X : array-like
        Training input. An array of a namespace decides the backend when ``backend`` is None.
    backend : str, namespace or None
    device : str, device object or None
        ``None``: the device of ``X`` if it is an array of the chosen namespace, else the
        backend's default device.
    dtype : str, dtype or None
        ``None``: ``X``'s real floating dtype if it has one, else ``default_dtype``.
    default_dtype : str, default="float32"

    Returns
    -------
    xp, device, dtype
    """
    xp = resolve_namespace(backend, X)
    same_ns = is_array(X) and array_api_compat.array_namespace(X) is xp
    if device is None and same_ns:
        device = device_of(X)
    else:
        device = resolve_device(xp, device)
    if dtype is None:
        if same_ns and X.dtype in (xp.float32, xp.float64):
            dtype = X.dtype
        else:
            dtype = resolve_dtype(xp, None, default=default_dtype)
    else:
        dtype = resolve_dtype(xp, dtype)
    return xp, device, dtype


def to_backend(X, *, xp, device, dtype, name="X", ndim=2, nonnegative=False):
    """Validate ``X`` and return it as an array of ``xp`` on ``device`` with ``dtype``.

    Raises
    ------
    ValueError
        Wrong number of dimensions (e.g. a 1-D ``X``), empty, NaN/Inf, negative entries when
        ``nonnegative``.
    """
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) != ndim:
        hint = " (reshape a single feature with X.reshape(-1, 1))" if len(shape) == 1 else ""
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(shape)}{hint}")
    A = convert(X, xp=xp, device=device, dtype=dtype, name=name)
    check_matrix(A, name, xp=xp, nonnegative=nonnegative, ndim=ndim)
    return A


def convert(X, *, xp, device, dtype, name="X"):
    """:func:`nmfdnn._array_api.asarray` with the failures of non-numeric data (strings,
    objects, ragged lists, complex values) as a TypeError/ValueError naming ``name``."""
    check_host_input(X, name)
    try:
        return asarray(X, xp=xp, device=device, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be real numeric data convertible to {dtype} "
                        f"({type(exc).__name__}: {exc})") from None


def check_same_namespace(X, fitted, estimator, name="X"):
    """Refuse an array of another library or device than the fitted model's arrays.

    The rule (scikit-learn's array-API mode, plus one convenience): after ``fit``, inputs must
    be arrays of the fitted namespace on the fitted device — the computation then stays
    there — or host data (NumPy arrays, lists), which are converted once and whose results
    come back as NumPy.  An array of another library (a torch tensor for a NumPy model, a
    NumPy-backed array-api-strict array for a torch model, …) or on another device is never
    moved silently: convert it explicitly (e.g. ``torch.asarray(x, device=...)``), or refit
    or reload the model there (``nmfdnn.load_model(path, backend=..., device=...)``).

    Parameters
    ----------
    X : array-like
    fitted : array
        A fitted array of the model (its namespace and device are the reference).
    estimator : str
        Name used in the message.
    name : str, default="X"

    Raises
    ------
    ValueError
        If ``X`` is an array of another namespace or device.
    """
    if not is_array(X) or array_api_compat.is_numpy_array(X):
        return  # host data: converted once, results come back as NumPy
    xp_fit = array_api_compat.array_namespace(fitted)
    xp_in = array_api_compat.array_namespace(X)
    dev_fit, dev_in = device_of(fitted), device_of(X)
    if xp_in is not xp_fit or str(dev_in) != str(dev_fit):
        raise ValueError(
            f"{name} is an array of {xp_in.__name__} on device {dev_in}, but this {estimator} "
            f"was fitted with {xp_fit.__name__} on device {dev_fit}: inputs must use the "
            "fitted namespace and device (or be host NumPy/list data). Convert explicitly, "
            "or reload the model there with nmfdnn.load_model(path, backend=..., device=...)"
        )


def like_input(result, X_input):
    """``result`` converted to the namespace (and device) of ``X_input``; host NumPy for lists."""
    if is_array(X_input):
        xp_in = get_namespace(X_input)
        if array_api_compat.array_namespace(result) is xp_in:
            return result
        return xp_in.asarray(to_numpy(result), device=device_of(X_input))
    return to_numpy(result)


def check_ranks(n_components):
    """Layer ranks from ``n_components``: an int (one layer) or a non-empty sequence of ints."""
    r = n_components
    ranks = list(r) if isinstance(r, (tuple, list)) else [r]
    if not ranks:
        raise ValueError("n_components must be an int or a non-empty tuple of ints")
    return [check_positive_int(k, "n_components") for k in ranks]


def check_2d(X, name):
    """Sparse/complex refused; 1-D and empty inputs get scikit-learn's wording.

    Parameters
    ----------
    X : array-like
    name : str
        Name used in error messages.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or has no sample or no feature.
    """
    check_host_input(X, name)
    shape = getattr(X, "shape", None)
    if shape is None:
        shape = to_host(X).shape
    if len(shape) != 2:
        raise ValueError(
            f"Expected a 2-D {name} (n_samples, n_features), got shape {tuple(shape)}. Reshape "
            f"your data with {name}.reshape(-1, 1) for a single feature or {name}.reshape(1, -1) "
            "for a single sample."
        )
    if shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={tuple(shape)}) while a minimum "
                         "of 1 is required.")
    if shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum "
                         "of 1 is required.")
