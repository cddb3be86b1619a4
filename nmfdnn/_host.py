"""Host-side (NumPy) helpers: seeded random draws, conversion to host for reporting.

This is one of the few modules allowed to import NumPy directly: the array API standard has no
random number generator, so random initial factors are drawn on the host with a seeded
:class:`numpy.random.Generator`, cast there, and moved to the target device in one transfer.
The same seed therefore gives the same draws on every backend.
"""

from __future__ import annotations

import warnings

import array_api_compat
import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets

__all__ = [
    "check_random_state",
    "numpy_dtype_name",
    "random_normal",
    "random_uniform",
    "to_host",
    "to_numpy",
]


def check_random_state(random_state=None):
    """A :class:`numpy.random.Generator` from ``None``, an int, a Generator or a RandomState.

    Global seeds (``np.random.seed``, ``torch.manual_seed``) are never touched.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        ``None``: fresh OS entropy; an int: a seeded Generator; a Generator: itself; a
        RandomState: a Generator seeded by one draw from it.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    ValueError
        For any other type.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise ValueError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}"
    )


def numpy_dtype_name(dtype):
    """``"float32"`` or ``"float64"`` for a dtype of any namespace (or a string)."""
    if isinstance(dtype, str):
        return dtype
    for name in ("float32", "float64"):
        if name in str(dtype) or getattr(dtype, "name", None) == name:
            return name
    raise TypeError(f"unsupported dtype {dtype!r}")


def to_host(x, dtype=None):
    """A NumPy array from host data (lists, scalars, NumPy arrays), cast on the host."""
    arr = np.asarray(x)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def to_numpy(x):
    """Copy an array of any supported backend to a host NumPy array (for reporting/tests).

    Never use inside an iteration: on a GPU this is a device-to-host synchronization.

    Parameters
    ----------
    x : array or None
        An array of NumPy, torch, CuPy, JAX or array-api-strict.

    Returns
    -------
    numpy.ndarray or None
        ``x`` itself when it is a NumPy array (or None).
    """
    if x is None or isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        # array-api-strict hides the NumPy array; the buffer protocol/DLPack reach it on CPU.
        return np.from_dlpack(x) if hasattr(x, "__dlpack__") else np.asarray(x)
    return np.asarray(x)


def _draw(host, *, xp, device, dtype):
    host = host.astype(numpy_dtype_name(dtype), copy=False)  # cast while still on host
    return xp.asarray(host, device=device)  # one transfer


def random_normal(shape, *, rng, scale=1.0, xp, device=None, dtype):
    """Normal draws ``N(0, scale²)`` made on the host and moved to ``device`` once.

    Parameters
    ----------
    shape : tuple of int
    rng : numpy.random.Generator
    scale : float, default=1.0
    xp : namespace
    device : device, optional
    dtype : dtype of ``xp``

    Returns
    -------
    array of ``xp`` of the given shape, dtype and device
    """
    return _draw(rng.standard_normal(shape) * scale, xp=xp, device=device, dtype=dtype)


def random_uniform(shape, *, rng, low=0.0, high=1.0, xp, device=None, dtype):
    """Uniform draws on ``[low, high)`` made on the host and moved to ``device`` once."""
    return _draw(rng.uniform(low, high, size=shape), xp=xp, device=device, dtype=dtype)


# --- host-side input checks and label encoding for the estimators (issue 4) -------------------


def check_host_input(X, name="X"):
    """Refuse what cannot become a real floating array: sparse matrices and complex data.

    Arrays of an array-API library pass through untouched (no transfer).
    """
    if hasattr(X, "tocsr"):  # scipy.sparse matrices and arrays
        raise TypeError(
            f"sparse {name} is not supported (nmfdnn trains dense networks); pass {name}.toarray()"
        )
    dtype = getattr(X, "dtype", None)
    if dtype is None and not array_api_compat.is_array_api_obj(X):
        try:
            dtype = np.asarray(X).dtype
        except Exception:
            return
    if dtype is not None and "complex" in str(dtype):
        raise ValueError(f"Complex data not supported ({name} has dtype {dtype})")


def encode_labels(y, n_samples=None):
    """Class labels on the host: ``classes`` (sorted unique) and each sample's class index.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels of any hashable, sortable kind (ints, strings); arrays of any backend are copied
        to the host once.
    n_samples : int, optional
        Expected number of labels.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    indices : ndarray of shape (n_samples,), int64

    Raises
    ------
    ValueError
        Continuous or multi-output targets, NaN, a count that differs from ``n_samples``, or
        fewer than two classes.
    """
    check_host_input(y, "y")
    y = to_numpy(y) if array_api_compat.is_array_api_obj(y) else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change "
                      "the shape of y to (n_samples, ), for example using ravel().",
                      DataConversionWarning, stacklevel=3)
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}")
    if n_samples is not None and y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n_samples}, y has {y.shape[0]}"
        )
    check_classification_targets(y)
    classes, indices = np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y has only 1 class ({classes[0]!r}); a classifier needs at least two classes"
        )
    return classes, indices.astype(np.int64)


def take_labels(classes, indices):
    """``classes[indices]`` on the host (``indices`` of any backend)."""
    return classes[to_numpy(indices)]


def label_indices(classes, y):
    """Index of each label of ``y`` in the sorted ``classes`` (−1 for an unknown label)."""
    y = to_numpy(y) if array_api_compat.is_array_api_obj(y) else np.asarray(y)
    y = y.reshape(-1)
    pos = np.clip(np.searchsorted(classes, y), 0, classes.shape[0] - 1)
    return np.where(classes[pos] == y, pos, -1).astype(np.int64)
