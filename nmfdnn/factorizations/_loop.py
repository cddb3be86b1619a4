"""The iteration driver shared by the tier-2 solvers: objective every k steps, no sync inside.

The objective is evaluated every ``check_every`` iterations and kept on the device; the history
is read back once, after the loop.  Early stopping (``tol > 0``) is the loop's only host
synchronization, and happens only at those checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nmfdnn._validation import NumericalError, check_finite_result

__all__ = ["SolverInfo", "iterate"]


@dataclass
class SolverInfo:
    """What a tier-2 solver reports besides its factors.

    The fields below are also its attributes.

    Parameters
    ----------
    objective : 0-d array
        Objective at the returned factors (on the inputs' device).
    history : list of 0-d arrays, optional
        Objective after iterations ``check_every, 2·check_every, ...`` (on the device; convert
        with ``nmfdnn.to_numpy(xp.stack(info.history))`` when needed).
    n_iter : int, default=0
        Iterations run (fewer than asked when ``tol`` stopped the loop).
    """

    objective: object
    history: list = field(default_factory=list)
    n_iter: int = 0


def iterate(step, state, objective, *, n_iter, check_every, tol, what, xp):
    """Run ``state = step(state)`` ``n_iter`` times, recording ``objective(state)``.

    Parameters
    ----------
    step : callable
        ``state -> state`` (a tuple of arrays).
    state : tuple of arrays
    objective : callable
        ``state -> 0-d array``.
    n_iter : int
    check_every : int
        Record the objective every ``check_every`` iterations (0: never).
    tol : float
        Stop when the relative decrease between two checkpoints falls below ``tol``
        (0: never stop early).  Needs ``check_every > 0``.
    what : str
        Solver name for error messages.
    xp : namespace

    Returns
    -------
    state, SolverInfo

    Raises
    ------
    NumericalError
        If the final objective is not finite.
    """
    history = []
    previous = None
    k = 0
    for k in range(1, n_iter + 1):
        try:
            state = step(state)
        except Exception as exc:
            # backends report a failed factorization (NaN input, singular system) in their own
            # exception types (numpy.linalg.LinAlgError, torch's _LinAlgError, ...)
            if "LinAlg" not in type(exc).__name__:
                raise
            raise NumericalError(
                f"{what} broke down at iteration {k} ({type(exc).__name__}: {exc}); the "
                "factors became non-finite or the linear system singular"
            ) from exc
        if check_every and k % check_every == 0:
            value = objective(state)
            history.append(value)
            if tol > 0:
                current = float(value)  # the loop's only sync, every `check_every` steps
                if previous is not None and previous - current <= tol * abs(previous):
                    break
                previous = current
    final = history[-1] if history and k % max(check_every, 1) == 0 else objective(state)
    check_finite_result(final, what, xp=xp)
    return state, SolverInfo(objective=final, history=history, n_iter=k)
