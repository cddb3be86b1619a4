"""Semi-NMF ``A ≈ U V`` with ``V ≥ 0`` (ALGORITHMS.md §1.1) and its biased, regularized form
``A ≈ Ũ Ṽ`` (§2, Algorithm 1), the output-layer problem of both training methods.
"""

from __future__ import annotations

from nmfdnn._array_api import get_namespace
from nmfdnn._linalg import solve_gram_right
from nmfdnn._ops import (
    affine,
    allsum,
    gram_cross_centered,
    has_bias,
    neg,
    pos,
    relu,
    split_bias,
    sq_norm,
)
from nmfdnn._validation import (
    check_matrix,
    check_nonnegative_scalar,
    check_positive_int,
    check_same_columns,
)
from nmfdnn.factorizations._loop import iterate

__all__ = ["semi_nmf_step", "semi_nmf", "semi_nmf_objective"]


def semi_nmf_objective(A, U, V, *, lam_u=0.0, lam_v=0.0, reduce=None, xp=None):
    """The objective of Algorithm 1, ``½‖A − Ũ Ṽ‖²_F + (λ_U/2)‖Ũ‖²_F + (λ_V/2)‖V‖²_F``.

    Parameters
    ----------
    A : array of shape (n_out, m)
    U : array of shape (n_out, n) or (n_out, n + 1)
        ``U`` or ``Ũ = [U, b]``.
    V : array of shape (n, m)
    lam_u, lam_v : float, default=0.0
        Ridge weights λ_U and λ_V.
    reduce : callable, optional
        All-reduce hook when the columns of ``A`` and ``V`` are split among processes: the two
        sums over samples are all-reduced, the ``Ũ`` term is counted once.
    xp : namespace, optional

    Returns
    -------
    0-d array
        On the device of the inputs (no host synchronization).
    """
    xp = get_namespace(A, U, V, xp=xp)
    E = A - affine(U, V, xp=xp)
    obj = 0.5 * sq_norm(E, xp=xp)
    if reduce is not None:  # the sums over samples, all-reduced once
        if lam_v:
            obj = obj + 0.5 * lam_v * sq_norm(V, xp=xp)
        obj = reduce(obj)
        return obj + 0.5 * lam_u * sq_norm(U, xp=xp) if lam_u else obj
    if lam_u:
        obj = obj + 0.5 * lam_u * sq_norm(U, xp=xp)
    if lam_v:
        obj = obj + 0.5 * lam_v * sq_norm(V, xp=xp)
    return obj


def semi_nmf_step(A, U, V, *, lam_u=0.0, lam_v=0.0, eps=None, rcond=None, bias=None,
                  reduce=None, xp=None):
    """One iteration of semi-NMF with optional bias and ridge terms (Algorithm 1).

    .. math::

        J_V &= Ṽ Ṽᵀ + λ_U I, \\qquad Ũ ← A Ṽᵀ J_V^{-1} \\\\
        V &← V ⊙ \\left[ \\frac{(UᵀA)^+ + (UᵀŨ)^- Ṽ}{(UᵀA)^- + (UᵀŨ)^+ Ṽ + λ_V V + ε}
        \\right]^{1/2}

    With no bias column and λ = 0 this is Ding–Li–Jordan semi-NMF (§1.1): ``U ← A V†`` (the
    pseudo-inverse through the Gram matrix, §1.4) and the same multiplicative ``V`` update.
    When ``A`` has fewer than half as many rows as ``V`` (a network's output layer: 10 against
    500 on MNIST), ``(UᵀŨ)⁻Ṽ`` is formed as ``(UᵀŨ)⁺Ṽ − Uᵀ(ŨṼ)``, two thin products instead of
    a second n × n × m one.

    Parameters
    ----------
    A : array of shape (n_out, m)
        Targets, one column per sample (any sign).
    U : array of shape (n_out, n) or (n_out, n + 1)
        Current weights ``U`` or ``Ũ = [U, b]`` (bias last). Only its shape is used: the
        U-step solves for it exactly.
    V : array of shape (n, m)
        Current non-negative factor.
    lam_u, lam_v : float, default=0.0
        Ridge weights λ_U (on ``Ũ``, bias included) and λ_V.
    eps : float, optional
        Added to the denominator. Default: the dtype's machine epsilon.
    rcond : float, optional
        Cut-off of the pseudo-inverse when ``lam_u == 0`` (see :func:`nmfdnn.gram_pinv`).
    bias : bool, optional
        Whether ``U`` is ``Ũ = [U, b]``. Default: read from the shapes (the trainers pass it).
    reduce : callable, optional
        All-reduce hook of data-parallel training (:mod:`nmfdnn.distributed`): when the columns
        are split among processes, ``Ṽ Ṽᵀ`` and ``A Ṽᵀ`` are summed over them (one message);
        the ``V``-step is per column and stays local.  ``None``: one process.
    xp : namespace, optional
        Default: inferred from the inputs.

    Returns
    -------
    U : array of shape (n_out, n) or (n_out, n + 1)
    V : array of shape (n, m)
        ``V ≥ 0``; same namespace, device and dtype as the inputs.
    """
    xp = get_namespace(A, U, V, xp=xp)
    if bias is None:
        bias = has_bias(U, V)
    if eps is None:
        eps = float(xp.finfo(V.dtype).eps)
    n = V.shape[0]
    # around V's mean, in float64 for float32 data (gram_cross_centered)
    G, C = gram_cross_centered(V, A, bias=bias, xp=xp)
    if reduce is not None:
        G, C = allsum(reduce, G, C, xp=xp)
    U = solve_gram_right(G, C, lam_u, rcond, dtype=V.dtype, xp=xp)
    Un, _ = split_bias(U, n, bias=bias, xp=xp)
    UtA = Un.T @ A
    UtU = Un.T @ U  # (n, n[+1]): UᵀŨ
    PV = affine(pos(UtU, xp=xp), V, bias=bias, xp=xp)  # (UᵀŨ)⁺Ṽ
    if 2 * A.shape[0] < n:  # few rows (a network's output layer): (UᵀŨ)⁻Ṽ = (UᵀŨ)⁺Ṽ − Uᵀ(ŨṼ)
        NV = relu(PV - Un.T @ affine(U, V, bias=bias, xp=xp), xp=xp)  # two thin products
    else:
        NV = affine(neg(UtU, xp=xp), V, bias=bias, xp=xp)
    numer = pos(UtA, xp=xp) + NV
    denom = neg(UtA, xp=xp) + PV + eps
    if lam_v:
        denom = denom + lam_v * V
    V = V * xp.sqrt(numer / denom)
    return U, V


def semi_nmf(
    A,
    U,
    V,
    *,
    n_iter=100,
    lam_u=0.0,
    lam_v=0.0,
    eps=None,
    rcond=None,
    check_every=10,
    tol=0.0,
    check_input=True,
    reduce=None,
    xp=None,
):
    """Semi-NMF ``A ≈ Ũ Ṽ`` (``V ≥ 0``), with optional bias and regularization (Algorithm 1).

    Minimizes ``½‖A − Ũ Ṽ‖² + (λ_U/2)‖Ũ‖² + (λ_V/2)‖V‖²`` by :func:`semi_nmf_step`.  Each step
    does not increase the objective (Ding, Li & Jordan, Theorem 1; the λ terms keep the
    auxiliary-function argument).

    Parameters
    ----------
    A : array of shape (n_out, m)
    U : array of shape (n_out, n) or (n_out, n + 1)
        Initial weights (their shape selects the bias).
    V : array of shape (n, m)
        Initial non-negative factor.
    n_iter : int, default=100
    lam_u, lam_v : float, default=0.0
    eps, rcond : float, optional
        See :func:`semi_nmf_step`.
    check_every : int, default=10
        Record the objective every ``check_every`` iterations (on the device).
    tol : float, default=0.0
        Relative decrease between checkpoints below which the loop stops (0: run ``n_iter``).
    check_input : bool, default=True
        Check ``A``, ``U`` and ``V`` (dimensions, dtypes, finite entries, ``V ≥ 0``: a full
        pass and a host synchronization each); ``False`` when the caller has validated them.
    reduce : callable, optional
        All-reduce hook when the columns of ``A`` and ``V`` are split among processes
        (:mod:`nmfdnn.distributed`); the objective is then the global one.
    xp : namespace, optional

    Returns
    -------
    U : array of shape (n_out, n) or (n_out, n + 1)
    V : array of shape (n, m)
        The factors (input namespace, device, dtype).
    info : SolverInfo
        Final objective and its history.

    Raises
    ------
    ValueError
        Non-finite inputs, negative ``V``, mismatched shapes, bad parameters.
    NumericalError
        If the iterations produce non-finite values.
    """
    xp = get_namespace(A, U, V, xp=xp)
    _validate(A, U, V, n_iter, lam_u, lam_v, check_every, tol, check_input=check_input, xp=xp)

    def step(state):
        return semi_nmf_step(A, *state, lam_u=lam_u, lam_v=lam_v, eps=eps, rcond=rcond,
                             reduce=reduce, xp=xp)

    def objective(state):
        return semi_nmf_objective(A, *state, lam_u=lam_u, lam_v=lam_v, reduce=reduce, xp=xp)

    (U, V), info = iterate(
        step, (U, V), objective, n_iter=n_iter, check_every=check_every, tol=tol,
        what="semi_nmf", xp=xp,
    )
    return U, V, info


def _validate(A, U, V, n_iter, lam_u, lam_v, check_every, tol, *, check_input, xp):
    if check_input:
        check_matrix(A, "A", xp=xp)
        check_matrix(U, "U", xp=xp, dtype=A.dtype)
        check_matrix(V, "V", xp=xp, nonnegative=True, dtype=A.dtype)
    check_same_columns(("A", A), ("V", V))
    if U.shape[0] != A.shape[0]:
        raise ValueError(f"U has {U.shape[0]} rows but A has {A.shape[0]}")
    has_bias(U, V)
    check_positive_int(n_iter, "n_iter", minimum=0)
    check_positive_int(check_every, "check_every", minimum=0)
    check_nonnegative_scalar(lam_u, "lam_u")
    check_nonnegative_scalar(lam_v, "lam_v")
    check_nonnegative_scalar(tol, "tol")
