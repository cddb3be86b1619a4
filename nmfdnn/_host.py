"""Host-side (NumPy) helpers: seeded random draws, conversion to host for reporting.

This is one of the few modules allowed to import NumPy directly: the array API standard has no
random number generator, so random initial factors are drawn on the host with a seeded
:class:`numpy.random.Generator`, cast there, and moved to the target device in one transfer.
The same seed therefore gives the same draws on every backend.
"""

from __future__ import annotations

import array_api_compat
import numpy as np

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
