"""nmfdnn.testing: assert_close / assert_equal fail on a wrong namespace, dtype, device, shape or
value, and pass on the right ones."""

import numpy as np
import pytest

from nmfdnn import namespace_from_name
from nmfdnn._array_api import namespace_name
from nmfdnn.testing import assert_close, assert_equal, default_tolerance

ASSERTS = [assert_close, assert_equal]


@pytest.fixture(scope="module")
def strict():
    return namespace_from_name("array_api_strict")


@pytest.mark.parametrize("check", ASSERTS)
def test_passes_on_matching_arrays(check, xp, device, dtype):
    host = np.arange(6.0).reshape(2, 3)
    a = xp.asarray(host, device=device, dtype=dtype)
    check(a, host, xp=xp, device=device, dtype=dtype)
    check(a, xp.asarray(host, device=device, dtype=dtype))  # all inferred from desired


@pytest.mark.parametrize("check", ASSERTS)
def test_wrong_namespace(check, strict):
    a = strict.asarray([1.0, 2.0], dtype=strict.float64)
    with pytest.raises(AssertionError, match="namespaces differ: actual is in array_api_strict, "
                                             "expected numpy"):
        check(a, np.array([1.0, 2.0]))  # a NumPy reference, no xp: NumPy expected
    with pytest.raises(AssertionError, match="actual is in numpy, expected array_api_strict"):
        check(np.array([1.0, 2.0]), np.array([1.0, 2.0]), xp=strict)
    with pytest.raises(AssertionError, match="actual is in numpy, expected array_api_strict"):
        check(np.array([1.0, 2.0]), a)  # a reference of another namespace
    check(a, np.array([1.0, 2.0]), xp=strict)


@pytest.mark.parametrize("check", ASSERTS)
def test_wrong_dtype(check, strict):
    host32 = np.array([1.0, 2.0], dtype=np.float32)
    with pytest.raises(AssertionError, match="dtypes differ: actual is float32, expected float64"):
        check(host32, np.array([1.0, 2.0]))  # same values, other precision
    a = strict.asarray([1.0, 2.0], dtype=strict.float32)
    with pytest.raises(AssertionError, match="actual is float32, expected float64"):
        check(a, np.array([1.0, 2.0]), xp=strict)  # a host reference's dtype counts too
    with pytest.raises(AssertionError, match="actual is float32, expected float64"):
        check(a, np.array([1.0, 2.0], dtype=np.float32), xp=strict, dtype=strict.float64)
    with pytest.raises(AssertionError, match="actual is float32, expected float64"):
        check(a, strict.asarray([1.0, 2.0], dtype=strict.float64))
    check(a, np.array([1.0, 2.0]), xp=strict, dtype="float32")  # explicit dtype, by name
    check(a, np.array([1.0, 2.0]), xp=strict, check_dtype=False)
    with pytest.raises(AssertionError, match="actual is int64, expected float64"):
        check(np.array([1, 2]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("check", ASSERTS)
def test_wrong_device(check, strict):
    """array-api-strict has several fake devices: a result on the wrong one fails."""
    other = strict.Device("device1")
    a = strict.asarray([1.0, 2.0], dtype=strict.float64, device=other)
    with pytest.raises(AssertionError, match="devices differ.*device1.*CPU_DEVICE"):
        check(a, np.array([1.0, 2.0]), xp=strict)  # default device expected
    with pytest.raises(AssertionError, match="devices differ"):
        check(a, strict.asarray([1.0, 2.0], dtype=strict.float64))  # desired's device
    with pytest.raises(AssertionError, match="devices differ"):
        check(strict.asarray([1.0, 2.0], dtype=strict.float64), np.array([1.0, 2.0]), xp=strict,
              device=other)
    check(a, np.array([1.0, 2.0]), xp=strict, device=other)
    check(a, strict.asarray([1.0, 2.0], dtype=strict.float64, device=other))


@pytest.mark.parametrize("check", ASSERTS)
def test_wrong_shape(check):
    with pytest.raises(AssertionError, match=r"shapes differ: actual \(1, 3\), desired \(3,\)"):
        check(np.ones((1, 3)), np.ones(3))  # would pass np.testing by broadcasting
    with pytest.raises(AssertionError, match=r"shapes differ: actual \(3,\), desired \(\)"):
        check(np.ones(3), np.float64(1.0))
    with pytest.raises(AssertionError, match="shapes differ"):
        check(np.ones((2, 3)), np.ones((3, 2)))


@pytest.mark.parametrize("check", ASSERTS)
def test_wrong_values(check, strict):
    a = strict.asarray([1.0, 2.0, 3.0], dtype=strict.float64)
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 3"):
        check(a, np.array([1.0, 2.0, 3.1]), xp=strict, err_msg="the note")
    with pytest.raises(AssertionError, match="the note"):
        check(a, np.array([1.0, 2.0, 3.1]), xp=strict, err_msg="the note")
    with pytest.raises(AssertionError, match="nan location mismatch"):
        check(np.array([1.0, np.nan]), np.array([1.0, 2.0]))  # NaN where desired has none
    check(np.array([1.0, np.nan]), np.array([1.0, np.nan]))  # NaNs at the same places


def test_tolerances():
    assert default_tolerance(np.float64) == pytest.approx(4 * np.sqrt(np.finfo(np.float64).eps))
    assert default_tolerance("float32") == pytest.approx(4 * np.sqrt(np.finfo(np.float32).eps))
    assert default_tolerance(np.int64) == 0.0
    d = np.array([1.0, 100.0])
    assert_close(d * (1 + 5e-8), d)  # inside the float64 default (6e-8)
    with pytest.raises(AssertionError, match="Mismatched"):
        assert_close(d * (1 + 1e-7), d)
    with pytest.raises(AssertionError, match="Mismatched"):
        assert_equal(d * (1 + 1e-15), d)
    assert_close(d + 0.5, d, atol=0.5, rtol=0.0)
    with pytest.raises(AssertionError, match="Mismatched"):
        assert_close(d + 0.6, d, atol=0.5, rtol=0.0)
    f32 = np.array([1.0, 2.0], dtype=np.float32)
    assert_close(f32 * np.float32(1 + 1e-3), f32)  # float32 default rtol is 1.4e-3
    with pytest.raises(AssertionError, match="Mismatched"):
        assert_close(f32 * np.float32(1 + 2e-3), f32)


@pytest.mark.parametrize("check", ASSERTS)
def test_python_scalar_actual_is_refused(check):
    with pytest.raises(AssertionError, match="actual is a float, not an array"):
        check(1.0, 1.0)
    check(np.float64(1.0), 1.0)  # a NumPy scalar (NumPy's 0-d results) is an array
    with pytest.raises(AssertionError, match="dtypes differ: actual is float32"):
        check(np.float32(1.0), np.float64(1.0))


def test_backend_arrays_against_host_references(xp, device, dtype):
    """What the test suite does everywhere: a backend result, a float64 host reference."""
    host = np.linspace(0.0, 1.0, 5)
    a = xp.asarray(host, device=device, dtype=dtype)
    assert_close(a, host, xp=xp, device=device, dtype=dtype)
    with pytest.raises(AssertionError, match="Mismatched"):
        assert_close(a, host + 0.1, xp=xp, device=device, dtype=dtype)
    wrong = xp.float32 if dtype == xp.float64 else xp.float64
    with pytest.raises(AssertionError, match="dtypes differ"):
        assert_close(a, host, xp=xp, device=device, dtype=wrong)
    if namespace_name(xp) != "numpy":
        with pytest.raises(AssertionError, match="namespaces differ"):
            assert_close(a, host, dtype=dtype)  # NumPy expected without xp=
