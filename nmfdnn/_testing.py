"""Implementation of :mod:`nmfdnn.testing` (host-side comparisons; NumPy allowed here)."""

from __future__ import annotations

import array_api_compat
import numpy as np

from nmfdnn._host import to_numpy

__all__ = ["assert_close", "default_tolerance"]


def default_tolerance(dtype):
    """``rtol = 4·sqrt(eps(dtype))`` as in array-api-extra's ``assert_close``."""
    name = str(dtype)
    eps = np.finfo(np.float32 if name.endswith("float32") else np.float64).eps
    return 4 * float(np.sqrt(eps))


def assert_close(actual, desired, *, rtol=None, atol=0.0, xp=None, err_msg=""):
    """Check namespace, device, dtype and shape of ``actual``, then values against ``desired``.

    Parameters
    ----------
    actual : array
        A result in namespace ``xp``.
    desired : array
        Reference (NumPy or any backend).
    rtol : float, optional
        Default: :func:`default_tolerance` of ``actual.dtype``.
    atol : float, default=0.0
    xp : namespace, optional
        Namespace ``actual`` must belong to.
    err_msg : str, optional
    """
    if xp is not None:
        got = array_api_compat.array_namespace(actual)
        assert got is xp or got.__name__ == xp.__name__, (
            f"result is in {got.__name__}, expected {xp.__name__}"
        )
    if array_api_compat.is_array_api_obj(desired) and not isinstance(desired, np.ndarray):
        assert actual.dtype == desired.dtype, f"dtype {actual.dtype} != {desired.dtype}"
        assert array_api_compat.device(actual) == array_api_compat.device(desired), "device differs"
    a = to_numpy(actual)
    d = to_numpy(desired)
    assert a.shape == d.shape, f"shape {a.shape} != {d.shape}"
    rtol = default_tolerance(actual.dtype) if rtol is None else rtol
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)
