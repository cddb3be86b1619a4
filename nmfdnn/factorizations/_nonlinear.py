"""Nonlinear (ReLU) least squares and nonlinear semi-NMF ``A ≈ f(Ũ Ṽ)``.

- :func:`nonlinear_lstsq_weights` — original Algorithm 2 (ALGORITHMS.md §1.2): the weight step
  ``min_X ‖B − f(X A)‖`` by ``X ← X + ω R A†``.
- :func:`nonneg_nonlinear_lstsq_targets` — original Algorithm 3 (§1.3): the hidden-target step
  ``min_{X≥0} ‖B − f(A X)‖`` by ``X ← f(X + ω A† R)``.
- :func:`nonlinear_semi_nmf` — Algorithm 2 of the bias/regularization paper (§2): both steps at
  once with bias and ridge terms; ``update_v=False`` is its U-step-only use for the first layer.

``f`` is the ReLU.  All pseudo-inverses go through the small Gram matrices (§1.4).
"""

from __future__ import annotations

from nmfdnn._array_api import get_namespace
from nmfdnn._linalg import gram_pinv, lstsq_left, pinv_small, solve_gram_right
from nmfdnn._ops import (
    affine,
    allsum,
    gram_cross_centered,
    has_bias,
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

__all__ = [
    "nonlinear_lstsq_weights_step",
    "nonlinear_lstsq_weights",
    "nonneg_nonlinear_lstsq_targets_step",
    "nonneg_nonlinear_lstsq_targets",
    "nonlinear_semi_nmf_step",
    "nonlinear_semi_nmf",
    "nonlinear_semi_nmf_objective",
]


# --- §1.2: weights, min_X ‖B − f(X A)‖ ----------------------------------------------------------


def nonlinear_lstsq_weights_step(B, X, A, *, omega=1.0, gram_pinv_A=None, rcond=None,
                                 reduce=None, xp=None):
    """One step of original Algorithm 2: ``X ← X + ω (B − f(X A)) A†``.

    ``A† = Aᵀ (A Aᵀ)⁺`` (§1.4), so ``R A† = (R Aᵀ)(A Aᵀ)⁺`` costs two GEMMs with the m samples
    and no m × m matrix.

    Parameters
    ----------
    B : array of shape (k, m)
        Targets (non-negative in the network, but any sign is accepted).
    X : array of shape (k, p)
        Current weights.
    A : array of shape (p, m)
        Inputs of the layer (fixed).
    omega : float, default=1.0
        Step length ω.
    gram_pinv_A : array of shape (p, p), optional
        Precomputed ``(A Aᵀ)⁺`` (A is fixed across iterations). Default: computed here.
    rcond : float, optional
        Cut-off of the pseudo-inverse (see :func:`nmfdnn.gram_pinv`).
    reduce : callable, optional
        All-reduce hook of data-parallel training (:mod:`nmfdnn.distributed`): the products
        that sum over the columns are summed over the processes.  ``None``: one process.
        (``(A Aᵀ)⁺`` passed in must then be the pseudo-inverse of the global Gram matrix.)
    xp : namespace, optional

    Returns
    -------
    X : array of shape (k, p)
    """
    xp = get_namespace(B, X, A, xp=xp)
    if gram_pinv_A is None:
        G = A @ A.T
        gram_pinv_A = gram_pinv(G if reduce is None else reduce(G), rcond=rcond, xp=xp)
    R = B - relu(X @ A, xp=xp)
    RAt = R @ A.T
    if reduce is not None:
        RAt = reduce(RAt)
    return X + omega * (RAt @ gram_pinv_A)


def nonlinear_lstsq_weights(
    B, X, A, *, n_iter=10, omega=1.0, rcond=None, check_every=1, tol=0.0, xp=None
):
    """Nonlinear least squares ``min_X ½‖B − f(X A)‖²_F`` (original Algorithm 2, §1.2).

    Parameters
    ----------
    B : array of shape (k, m)
    X : array of shape (k, p)
        Initial weights.
    A : array of shape (p, m)
    n_iter : int, default=10
    omega : float, default=1.0
    rcond : float, optional
    check_every : int, default=1
    tol : float, default=0.0
    xp : namespace, optional

    Returns
    -------
    X : array of shape (k, p)
    info : SolverInfo
        Objective ``½‖B − f(X A)‖²`` and its history.
    """
    xp = get_namespace(B, X, A, xp=xp)
    check_matrix(B, "B", xp=xp)
    check_matrix(X, "X", xp=xp, dtype=B.dtype)
    check_matrix(A, "A", xp=xp, dtype=B.dtype)
    check_same_columns(("B", B), ("A", A))
    _check_product(X, "X", A, "A", B, "B")
    _check_loop_args(n_iter, check_every, tol, omega=omega)
    G_pinv = gram_pinv(A @ A.T, rcond=rcond, xp=xp)  # A is fixed: once per call

    def step(state):
        (Xk,) = state
        return (nonlinear_lstsq_weights_step(B, Xk, A, omega=omega, gram_pinv_A=G_pinv, xp=xp),)

    def objective(state):
        return 0.5 * sq_norm(B - relu(state[0] @ A, xp=xp), xp=xp)

    (X,), info = iterate(
        step, (X,), objective, n_iter=n_iter, check_every=check_every, tol=tol,
        what="nonlinear_lstsq_weights", xp=xp,
    )
    return X, info


# --- §1.3: hidden targets, min_{X≥0} ‖B − f(A X)‖ ------------------------------------------------


def nonneg_nonlinear_lstsq_targets_step(B, A, X, *, omega=1.0, A_pinv=None, rcond=None, xp=None):
    """One step of original Algorithm 3: ``X ← f(X + ω A† (B − f(A X)))``.

    Parameters
    ----------
    B : array of shape (k, m)
        Targets.
    A : array of shape (k, p)
        Weights of the layer (fixed).
    X : array of shape (p, m)
        Current non-negative hidden targets.
    omega : float, default=1.0
    A_pinv : array of shape (p, k), optional
        Precomputed ``A†``.
    rcond : float, optional
    xp : namespace, optional

    Returns
    -------
    X : array of shape (p, m), ``X ≥ 0``
    """
    xp = get_namespace(B, A, X, xp=xp)
    if A_pinv is None:
        A_pinv = pinv_small(A, rcond, xp=xp)
    R = B - relu(A @ X, xp=xp)
    return relu(X + omega * (A_pinv @ R), xp=xp)


def nonneg_nonlinear_lstsq_targets(
    B, A, X, *, n_iter=10, omega=1.0, rcond=None, check_every=1, tol=0.0, xp=None
):
    """Non-negative nonlinear least squares ``min_{X≥0} ½‖B − f(A X)‖²`` (original Alg. 3, §1.3).

    Parameters
    ----------
    B : array of shape (k, m)
    A : array of shape (k, p)
    X : array of shape (p, m)
        Initial non-negative targets.
    n_iter : int, default=10
    omega : float, default=1.0
        Relaxation ω of the step.
    rcond : float, optional
        Cut-off of the pseudo-inverse of ``A``.
    check_every : int, default=1
        Record the objective every ``check_every`` iterations.
    tol : float, default=0.0
        Relative decrease between checkpoints below which the loop stops.
    xp : namespace, optional

    Returns
    -------
    X : array of shape (p, m)
    info : SolverInfo
    """
    xp = get_namespace(B, A, X, xp=xp)
    check_matrix(B, "B", xp=xp)
    check_matrix(A, "A", xp=xp, dtype=B.dtype)
    check_matrix(X, "X", xp=xp, nonnegative=True, dtype=B.dtype)
    check_same_columns(("B", B), ("X", X))
    _check_product(A, "A", X, "X", B, "B")
    _check_loop_args(n_iter, check_every, tol, omega=omega)
    A_pinv = pinv_small(A, rcond, xp=xp)  # A is fixed: once per call

    def step(state):
        (Xk,) = state
        return (nonneg_nonlinear_lstsq_targets_step(B, A, Xk, omega=omega, A_pinv=A_pinv, xp=xp),)

    def objective(state):
        return 0.5 * sq_norm(B - relu(A @ state[0], xp=xp), xp=xp)

    (X,), info = iterate(
        step, (X,), objective, n_iter=n_iter, check_every=check_every, tol=tol,
        what="nonneg_nonlinear_lstsq_targets", xp=xp,
    )
    return X, info


# --- §2 Algorithm 2: nonlinear semi-NMF with bias and regularization -----------------------------


def nonlinear_semi_nmf_objective(A, U, V, *, lam_u=0.0, lam_v=0.0, xp=None):
    """The objective of Algorithm 2, ``½‖A − f(Ũ Ṽ)‖² + (λ_U/2)‖Ũ‖² + (λ_V/2)‖V‖²``.

    Parameters
    ----------
    A : array of shape (n_out, m)
    U : array of shape (n_out, n) or (n_out, n + 1)
        ``U`` or ``Ũ = [U, b]``.
    V : array of shape (n, m)
    lam_u, lam_v : float, default=0.0
        Ridge weights λ_U and λ_V.
    xp : namespace, optional

    Returns
    -------
    0-d array
        On the device of the inputs (no host synchronization).
    """
    xp = get_namespace(A, U, V, xp=xp)
    obj = 0.5 * sq_norm(A - relu(affine(U, V, xp=xp), xp=xp), xp=xp)
    if lam_u:
        obj = obj + 0.5 * lam_u * sq_norm(U, xp=xp)
    if lam_v:
        obj = obj + 0.5 * lam_v * sq_norm(V, xp=xp)
    return obj


def nonlinear_u_step(A, U, V, *, lam_u=0.0, rcond=None, bias=None, reduce=None, P=None,
                     xp=None):
    """The U-step of Algorithm 2: ``Ũ ← (P + A − f(P)) Ṽᵀ (Ṽ Ṽᵀ + Λ)⁻¹`` with ``P = Ũ Ṽ``.

    The ReLU is linearized around the current pre-activation ``P``; the linear target
    ``P + A − f(P) = A − P⁻`` is fitted by ridge least squares.  ``lam_u`` may be a vector (the
    diagonal penalty of the reduced first-layer solve, §1.5).

    Parameters
    ----------
    A : array of shape (k, m)
    U : array of shape (k, n) or (k, n + 1)
    V : array of shape (n, m)
        Fixed input ``V`` (``Ṽ = [V; 1ᵀ]`` when ``U`` has a bias column).
    lam_u : float or array of shape (n[+1],), default=0.0
    rcond : float, optional
        Pseudo-inverse cut-off when ``lam_u == 0``.
    bias : bool, optional
        Default: inferred from the shapes.
    reduce : callable, optional
        All-reduce hook of data-parallel training (:mod:`nmfdnn.distributed`): the products
        that sum over the columns are summed over the processes.  ``None``: one process.
    P : array of shape (k, m), optional
        The pre-activation ``Ũ Ṽ`` at the given ``U``, when the caller has it already (the
        trainers' forward pass computes it: one GEMM with the m samples saved).  Default:
        computed here.
    xp : namespace, optional

    Returns
    -------
    U : array, same shape as the input ``U``
    """
    xp = get_namespace(A, U, V, xp=xp)
    if bias is None:
        bias = has_bias(U, V)
    if P is None:
        P = affine(U, V, bias=bias, xp=xp)
    T = A + xp.clip(P, max=0.0)  # P + A − f(P) = A − P⁻
    # around V's mean, in float64 for float32 data (gram_cross_centered: ReLU features)
    G, C = gram_cross_centered(V, T, bias=bias, xp=xp)
    if reduce is not None:
        G, C = allsum(reduce, G, C, xp=xp)
    return solve_gram_right(G, C, lam_u, rcond, dtype=U.dtype, xp=xp)


def nonlinear_semi_nmf_step(
    A, U, V, *, lam_u=0.0, lam_v=0.0, update_v=True, rcond=None, bias=None, reduce=None,
    P=None, xp=None
):
    """One iteration of Algorithm 2 (nonlinear semi-NMF with bias and regularization).

    .. math::

        P &= Ũ Ṽ, \\qquad Ũ ← (P + A − f(P)) Ṽᵀ (Ṽ Ṽᵀ + λ_U I)^{-1} \\\\
        R &= A − f(Ũ Ṽ), \\qquad V ← f\\big(V + (UᵀU + λ_V I)^{-1} Uᵀ R\\big)

    The V-step is a *correction* of the current ``V`` (a fresh solve diverges on widening
    networks, see ALGORITHMS.md §2), solved through the smaller Gram matrix of ``U``.  With
    λ = 0 the U-step is original Algorithm 2 (ω = 1) and the V-step original Algorithm 3.

    Parameters
    ----------
    A : array of shape (k, m)
        Targets ``Ẑ_i`` (non-negative in a network).
    U : array of shape (k, n) or (k, n + 1)
        Current weights ``W̃_i`` (bias last, if present).
    V : array of shape (n, m)
        Current non-negative hidden targets ``Z_{i−1}``.
    lam_u, lam_v : float, default=0.0
        λ_W and λ_Z of the paper.
    update_v : bool, default=True
        ``False``: U-step only (the first layer, where ``Ṽ = X̃`` is data).
    rcond : float, optional
    bias : bool, optional
        Whether ``U`` is ``Ũ = [U, b]``. Default: read from the shapes (the trainers pass it).
    reduce : callable, optional
        All-reduce hook of data-parallel training (:mod:`nmfdnn.distributed`): the products
        that sum over the columns are summed over the processes.  ``None``: one process.
        (the U-step only: the V-step is per column)
    P : array of shape (k, m), optional
        The pre-activation ``Ũ Ṽ`` at the given ``U`` (:func:`nonlinear_u_step`).
    xp : namespace, optional

    Returns
    -------
    U, V : arrays (``V ≥ 0``), same shapes, namespace, device and dtype as the inputs
    """
    xp = get_namespace(A, U, V, xp=xp)
    n = V.shape[0]
    if bias is None:
        bias = has_bias(U, V)
    U = nonlinear_u_step(A, U, V, lam_u=lam_u, rcond=rcond, bias=bias, reduce=reduce, P=P,
                         xp=xp)
    if not update_v:
        return U, V
    Un, _ = split_bias(U, n, bias=bias, xp=xp)
    R = A - relu(affine(U, V, bias=bias, xp=xp), xp=xp)
    V = relu(V + lstsq_left(Un, R, lam=lam_v, rcond=rcond, xp=xp), xp=xp)
    return U, V


def nonlinear_semi_nmf(
    A,
    U,
    V,
    *,
    n_iter=10,
    lam_u=0.0,
    lam_v=0.0,
    update_v=True,
    rcond=None,
    check_every=1,
    tol=0.0,
    xp=None,
):
    """Nonlinear semi-NMF ``A ≈ f(Ũ Ṽ)``, ``V ≥ 0`` (Algorithm 2 of §2).

    Parameters
    ----------
    A : array of shape (k, m)
    U : array of shape (k, n) or (k, n + 1)
        Initial weights (bias last, if present).
    V : array of shape (n, m)
        Initial non-negative factor (fixed data when ``update_v=False``).
    n_iter : int, default=10
    lam_u, lam_v : float, default=0.0
    update_v : bool, default=True
    rcond : float, optional
    check_every : int, default=1
    tol : float, default=0.0
    xp : namespace, optional

    Returns
    -------
    U, V : arrays
    info : SolverInfo
        Objective ``½‖A − f(ŨṼ)‖² + (λ_U/2)‖Ũ‖² + (λ_V/2)‖V‖²`` and its history.
    """
    xp = get_namespace(A, U, V, xp=xp)
    check_matrix(A, "A", xp=xp)
    check_matrix(U, "U", xp=xp, dtype=A.dtype)
    check_matrix(V, "V", xp=xp, nonnegative=update_v, dtype=A.dtype)
    check_same_columns(("A", A), ("V", V))
    if U.shape[0] != A.shape[0]:
        raise ValueError(f"U has {U.shape[0]} rows but A has {A.shape[0]}")
    has_bias(U, V)
    _check_loop_args(n_iter, check_every, tol)
    check_nonnegative_scalar(lam_u, "lam_u")
    check_nonnegative_scalar(lam_v, "lam_v")

    def step(state):
        return nonlinear_semi_nmf_step(
            A, *state, lam_u=lam_u, lam_v=lam_v, update_v=update_v, rcond=rcond, xp=xp
        )

    def objective(state):
        return nonlinear_semi_nmf_objective(A, *state, lam_u=lam_u, lam_v=lam_v, xp=xp)

    (U, V), info = iterate(
        step, (U, V), objective, n_iter=n_iter, check_every=check_every, tol=tol,
        what="nonlinear_semi_nmf", xp=xp,
    )
    return U, V, info


def _check_product(L, lname, R, rname, B, bname):
    if L.shape[1] != R.shape[0] or L.shape[0] != B.shape[0]:
        raise ValueError(
            f"shapes do not fit {bname} ≈ f({lname} {rname}): {lname} {tuple(L.shape)}, "
            f"{rname} {tuple(R.shape)}, {bname} {tuple(B.shape)}"
        )


def _check_loop_args(n_iter, check_every, tol, *, omega=1.0):
    check_positive_int(n_iter, "n_iter", minimum=0)
    check_positive_int(check_every, "check_every", minimum=0)
    check_nonnegative_scalar(tol, "tol")
    if not (0 < omega <= 2):
        raise ValueError(f"omega must be in (0, 2], got {omega}")
