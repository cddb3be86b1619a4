"""Implementation of :mod:`nmfdnn.testing` (host-side comparisons; NumPy allowed here).

Modelled on array-api-extra's ``xp_assert_close`` / ``xp_assert_equal``: before any value is
compared, the namespace, dtype, device and shape of the result are checked, so that a result
that silently left the backend (or became float64, or moved to another device) fails the test
even when its values are right.  The reference (``desired``) may be a host NumPy array computed
independently in float64; the expected namespace, dtype and device are then named explicitly
(``xp=``, ``dtype=``, ``device=``).
"""

from __future__ import annotations

import array_api_compat
import numpy as np

from nmfdnn._array_api import namespace_name, resolve_device
from nmfdnn._host import to_numpy

__all__ = ["assert_close", "assert_equal", "default_tolerance"]


def default_tolerance(dtype):
    """Default relative tolerance ``rtol = 4·sqrt(eps(dtype))`` (array-api-extra's choice).

    Parameters
    ----------
    dtype : dtype of any namespace, or str
        A floating dtype; anything else (integers, booleans) gets 0: exact comparison.

    Returns
    -------
    float
        About ``1.4e-3`` for float32 and ``6e-8`` for float64.

    See Also
    --------
    assert_close : Uses it when ``rtol`` is not given.
    """
    name = _dtype_name(dtype)
    if name not in ("float16", "float32", "float64", "complex64", "complex128"):
        return 0.0
    eps = np.finfo(name).eps
    return 4 * float(np.sqrt(eps))


def _dtype_name(dtype):
    """``"float32"``, ``"int64"``, … for a dtype of any namespace (or a string)."""
    if isinstance(dtype, str):
        return dtype
    name = getattr(dtype, "name", None)  # NumPy, CuPy and JAX dtype objects
    if isinstance(name, str):
        return name
    try:  # scalar classes: np.float64, jnp.float32
        return np.dtype(dtype).name
    except TypeError:
        pass
    return str(dtype).rsplit(".", 1)[-1]  # torch.float32, array_api_strict.float32


def _is_array(x):
    """An array of any namespace (NumPy scalars included: NumPy's 0-d results), not a Python
    scalar or list."""
    return array_api_compat.is_array_api_obj(x)


def _same_device(a, b):
    if a == b or str(a) == str(b):
        return True
    # torch: "cuda" (no index) is the current CUDA device
    ta, tb = getattr(a, "type", None), getattr(b, "type", None)
    if ta is not None and ta == tb and None in (getattr(a, "index", 0), getattr(b, "index", 0)):
        return True
    return False


def _host(x):
    """A NumPy copy of ``x`` (array-api-strict arrays on a non-CPU device moved first)."""
    if not _is_array(x):  # a Python scalar or list reference
        return np.asarray(x)
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        import array_api_strict

        x = x.to_device(array_api_strict.Device("CPU_DEVICE"))
    return np.asarray(to_numpy(x))


def _check_ns_dtype_device_shape(actual, desired, *, xp, device, dtype, check_dtype, err_msg):
    """The checks before the values; returns the NumPy copies of ``actual`` and ``desired``."""
    note = f"\n{err_msg}" if err_msg else ""
    # NumPy scalars (the 0-d results of NumPy reductions) as 0-d arrays
    actual, desired = (np.asarray(x) if isinstance(x, np.generic) else x
                       for x in (actual, desired))
    if not _is_array(actual):
        raise AssertionError(
            f"actual is a {type(actual).__name__}, not an array (compare Python scalars with "
            f"pytest.approx){note}"
        )
    got = array_api_compat.array_namespace(actual)
    desired_is_array = _is_array(desired)
    # namespace: xp if given, else that of desired (NumPy for a host reference or a list)
    if xp is not None:
        want = xp
    elif desired_is_array:
        want = array_api_compat.array_namespace(desired)
    else:
        want = array_api_compat.array_namespace(np.empty(0))
    if namespace_name(got) != namespace_name(want):
        raise AssertionError(
            f"namespaces differ: actual is in {namespace_name(got)}, expected "
            f"{namespace_name(want)}{note}"
        )
    same_ns = desired_is_array and namespace_name(
        array_api_compat.array_namespace(desired)) == namespace_name(got)
    # dtype: the explicit one, else that of desired (any namespace: compared by name)
    if check_dtype:
        if dtype is not None:
            want_dtype = dtype
        elif desired_is_array:
            want_dtype = desired.dtype
        else:
            want_dtype = None  # a Python scalar or list: nothing to compare with
        if want_dtype is not None and _dtype_name(actual.dtype) != _dtype_name(want_dtype):
            raise AssertionError(
                f"dtypes differ: actual is {_dtype_name(actual.dtype)}, expected "
                f"{_dtype_name(want_dtype)}{note}"
            )
    # device: the explicit one, else that of desired (same namespace), else the default one
    if device is not None:
        want_dev = resolve_device(got, device)  # strings ("cpu", "cuda:0") allowed
    elif same_ns:
        want_dev = array_api_compat.device(desired)
    else:
        want_dev = resolve_device(got, None)
    got_dev = array_api_compat.device(actual)
    if not _same_device(got_dev, want_dev):
        raise AssertionError(f"devices differ: actual is on {got_dev}, expected {want_dev}{note}")
    a = _host(actual)
    d = _host(desired)
    if a.shape != d.shape:
        raise AssertionError(f"shapes differ: actual {a.shape}, desired {d.shape}{note}")
    return a, d


def assert_close(actual, desired, *, rtol=None, atol=0.0, xp=None, device=None, dtype=None,
                 check_dtype=True, err_msg=""):
    """Check namespace, dtype, device and shape of ``actual``, then its values against ``desired``.

    Values must satisfy, elementwise (NaNs in the same places),

    .. math::

        |a - d| \\le \\mathrm{atol} + \\mathrm{rtol}\\,|d|.

    Parameters
    ----------
    actual : array
        A result of the library, in any namespace (a Python scalar is refused).
    desired : array, array-like or scalar
        The reference: a host NumPy array (typically an independent float64 computation), or an
        array of ``actual``'s namespace.
    rtol : float, optional
        Default: :func:`default_tolerance` of ``actual.dtype`` (``4·sqrt(eps)``).
    atol : float, default=0.0
        Absolute tolerance.
    xp : namespace, optional
        Namespace ``actual`` must belong to. Default: that of ``desired`` (NumPy for a list or
        scalar).
    device : device or str, optional
        Device ``actual`` must be on. Default: that of ``desired`` when it is in ``actual``'s
        namespace, else the default device of ``actual``'s namespace.
    dtype : dtype or str, optional
        Dtype ``actual`` must have (compared by name: ``"float32"`` matches ``torch.float32``).
        Default: ``desired.dtype`` (for a host reference pass ``dtype=`` when the result is in
        another precision than the reference).
    check_dtype : bool, default=True
        False skips the dtype check.
    err_msg : str, optional
        Appended to the failure message.

    Raises
    ------
    AssertionError
        Naming the first check that failed.

    See Also
    --------
    assert_equal : Exact equality, with the same checks first.

    Examples
    --------
    >>> import numpy as np
    >>> from nmfdnn.testing import assert_close
    >>> assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]))
    >>> assert_close(np.array([1.0, 2.0], dtype=np.float32), np.array([1.0, 2.0]))
    Traceback (most recent call last):
    ...
    AssertionError: dtypes differ: actual is float32, expected float64
    """
    a, d = _check_ns_dtype_device_shape(actual, desired, xp=xp, device=device, dtype=dtype,
                                        check_dtype=check_dtype, err_msg=err_msg)
    rtol = default_tolerance(actual.dtype) if rtol is None else rtol
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)


def assert_equal(actual, desired, *, xp=None, device=None, dtype=None, check_dtype=True,
                 err_msg=""):
    """Check namespace, dtype, device and shape of ``actual``, then exact equality of values.

    As :func:`assert_close` with no tolerance (NaNs in the same places).

    Parameters
    ----------
    actual : array
        A result of the library, in any namespace.
    desired : array, array-like or scalar
        The reference.
    xp : namespace, optional
        As in :func:`assert_close`.
    device : device or str, optional
        As in :func:`assert_close`.
    dtype : dtype or str, optional
        As in :func:`assert_close`.
    check_dtype : bool, default=True
        As in :func:`assert_close`.
    err_msg : str, optional
        Appended to the failure message.

    Raises
    ------
    AssertionError
        Naming the first check that failed.

    See Also
    --------
    assert_close : Equality within tolerances, with the same checks first.
    """
    a, d = _check_ns_dtype_device_shape(actual, desired, xp=xp, device=device, dtype=dtype,
                                        check_dtype=check_dtype, err_msg=err_msg)
    np.testing.assert_array_equal(a, d, err_msg=err_msg)
