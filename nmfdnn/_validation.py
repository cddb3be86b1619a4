"""Input checks shared by the solvers: clear errors before any computation starts.

Each check costs at most one reduction and one host synchronization, done once at the entry of a
solver loop (tier 2), never inside an iteration.
"""

from __future__ import annotations

import numbers

__all__ = [
    "NumericalError",
    "check_matrix",
    "check_same_columns",
    "check_nonnegative_scalar",
    "check_positive_int",
    "check_finite_result",
]


class NumericalError(FloatingPointError):
    """A solver produced non-finite values (divergence, breakdown)."""


class DivergenceWarning(RuntimeWarning):
    """Training diverges with finite values: the weights get worse, not better.

    Issued once per run by the trainers when an epoch's loss exceeds 10 times the best
    earlier epoch's (:func:`nmfdnn.training.run_epochs`).
    """


def check_matrix(A, name, *, xp, nonnegative=False, ndim=2, dtype=None):
    """Validate an array argument: dimension, real dtype, finiteness, optional non-negativity.

    Parameters
    ----------
    A : array
    name : str
        Name used in error messages.
    xp : namespace
    nonnegative : bool, default=False
        Require ``A >= 0``.
    ndim : int, default=2
    dtype : dtype, optional
        Required dtype (the dtype of the other operands).

    Returns
    -------
    array
        ``A`` itself.

    Raises
    ------
    ValueError
        On a wrong number of dimensions, an empty array, NaN/Inf or negative entries.
    TypeError
        On a non-floating dtype or a dtype that differs from ``dtype``.
    """
    if getattr(A, "ndim", None) != ndim:
        shape = getattr(A, "shape", None)
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {shape}")
    if any(s == 0 for s in A.shape):
        raise ValueError(f"{name} is empty (shape {tuple(A.shape)})")
    if not xp.isdtype(A.dtype, "real floating"):
        raise TypeError(f"{name} must be real floating (float32 or float64), got {A.dtype}")
    if dtype is not None and A.dtype != dtype:
        raise TypeError(f"{name} has dtype {A.dtype} but the other inputs are {dtype}")
    if not bool(xp.all(xp.isfinite(A))):
        raise ValueError(f"{name} contains NaN or infinite values")
    if nonnegative and bool(xp.any(A < 0)):
        raise ValueError(f"{name} must be non-negative (its minimum is {float(xp.min(A))})")
    return A


def check_same_columns(*named):
    """All ``(name, array)`` pairs have the same number of columns (samples)."""
    counts = {name: A.shape[1] for name, A in named}
    if len(set(counts.values())) > 1:
        raise ValueError(f"number of columns (samples) differ: {counts}")


def check_nonnegative_scalar(value, name):
    """A finite real ``value >= 0`` (regularization weights, tolerances)."""
    if not isinstance(value, numbers.Real) or not value >= 0 or value != value or value == float(
        "inf"
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_real_in(value, name, low, high, *, low_open=False, high_open=False):
    """A real ``value`` (not a bool) in the interval from ``low`` to ``high`` (open ends as
    given): step sizes, the momentum."""
    real = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if not (real and (value > low if low_open else value >= low)
            and (value < high if high_open else value <= high)):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def check_positive_int(value, name, *, minimum=1, maximum=None):
    """An int in ``[minimum, maximum]`` (ranks, iteration counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_finite_result(value, what, *, xp):
    """Raise :class:`NumericalError` if ``value`` (an array, e.g. the objective) is not finite.

    Meant to run once after a loop (one host synchronization).
    """
    if not bool(xp.all(xp.isfinite(value))):
        raise NumericalError(
            f"{what} produced non-finite values (diverged or broke down); try float64, a larger "
            "regularization or fewer iterations"
        )
