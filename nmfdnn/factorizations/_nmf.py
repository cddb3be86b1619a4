"""Non-negative matrix factorization ``A ≈ W H`` by Lee–Seung multiplicative updates (§1.6).

Used by the stacked-autoencoder initialization (§3) and as the NMF baseline.  Samples are
columns of ``A`` here; scikit-learn's ``NMF(X)`` with rows as samples is the same problem on
``A = Xᵀ`` with the roles of ``W`` and ``H`` swapped.
"""

from __future__ import annotations

from nmfdnn._array_api import get_namespace
from nmfdnn._ops import sq_norm
from nmfdnn._validation import (
    check_matrix,
    check_nonnegative_scalar,
    check_positive_int,
)
from nmfdnn.factorizations._loop import iterate

__all__ = ["nmf_step", "nmf", "nmf_objective"]


def nmf_objective(A, W, H, *, mask=None, xp=None):
    """The NMF objective ``½ Σ M ⊙ (A − W H)²`` (``½‖A − W H‖²_F`` without a mask ``M``).

    Parameters
    ----------
    A : array of shape (n, m)
        Data, one column per sample.
    W : array of shape (n, r)
    H : array of shape (r, m)
    mask : array of shape (n, m), optional
        Entry weights ``M``.
    xp : namespace, optional

    Returns
    -------
    0-d array
        On the device of ``A`` (no host synchronization).
    """
    xp = get_namespace(A, W, H, xp=xp)
    E = A - W @ H
    if mask is not None:
        return 0.5 * xp.sum(mask * (E * E))
    return 0.5 * sq_norm(E, xp=xp)


def nmf_step(A, W, H, *, eps=None, update_w=True, update_h=True, mask=None, xp=None):
    """One Lee–Seung multiplicative update for ``min_{W,H≥0} ‖A − W H‖_F``.

    .. math::

        H ← H ⊙ (WᵀA) ⊘ (WᵀW H + ε), \\qquad W ← W ⊙ (A Hᵀ) ⊘ (W H Hᵀ + ε)

    With a mask ``M`` (entry weights, 0 for a missing entry) the weighted problem
    ``min ‖M^{1/2} ⊙ (A − W H)‖_F`` is solved by the weighted updates (Ho 2008; Flenner &
    Hunter eq. (4) with 0/1 masks)

    .. math::

        H ← H ⊙ Wᵀ(M ⊙ A) ⊘ (Wᵀ(M ⊙ W H) + ε), \\qquad
        W ← W ⊙ (M ⊙ A) Hᵀ ⊘ ((M ⊙ W H) Hᵀ + ε)

    which cost two extra (n × m) products per step; ``W H`` is formed explicitly there.

    Parameters
    ----------
    A : array of shape (n, m)
        Non-negative data, one column per sample.
    W : array of shape (n, r)
    H : array of shape (r, m)
    eps : float, optional
        Added to the denominators. Default: the dtype's machine epsilon.
    update_w, update_h : bool, default=True
        Update only one factor (the other is held fixed).
    mask : array of shape (n, m), optional
        Non-negative entry weights ``M`` (1 observed, 0 missing). Entries of ``A`` where
        ``M = 0`` do not influence the result.
    xp : namespace, optional

    Returns
    -------
    W : array of shape (n, r)
    H : array of shape (r, m)
        Non-negative, same namespace, device and dtype as the inputs.
    """
    xp = get_namespace(A, W, H, xp=xp)
    if eps is None:
        eps = float(xp.finfo(A.dtype).eps)
    if mask is not None:
        MA = mask * A
        if update_h:
            H = H * (W.T @ MA) / (W.T @ (mask * (W @ H)) + eps)
        if update_w:
            W = W * (MA @ H.T) / ((mask * (W @ H)) @ H.T + eps)
        return W, H
    if update_h:
        H = H * (W.T @ A) / ((W.T @ W) @ H + eps)
    if update_w:
        W = W * (A @ H.T) / (W @ (H @ H.T) + eps)
    return W, H


def nmf(
    A,
    W,
    H,
    *,
    n_iter=200,
    eps=None,
    update_w=True,
    update_h=True,
    check_every=10,
    tol=0.0,
    mask=None,
    check_input=True,
    xp=None,
):
    """NMF ``A ≈ W H`` from initial factors by multiplicative updates (Lee & Seung, §1.6).

    The objective ``½‖A − W H‖²`` never increases (Lee & Seung 2001, Theorem 1).

    Parameters
    ----------
    A : array of shape (n, m)
        Non-negative data.
    W : array of shape (n, r)
        Initial non-negative basis.
    H : array of shape (r, m)
        Initial non-negative coefficients.
    n_iter : int, default=200
    eps : float, optional
    update_w, update_h : bool, default=True
    check_every : int, default=10
    tol : float, default=0.0
        Relative objective decrease between checkpoints below which the loop stops.
    mask : array of shape (n, m), optional
        Entry weights ``M ≥ 0`` (0: missing); the objective becomes ``½‖M^{1/2}⊙(A − W H)‖²``.
        ``A`` must be finite and non-negative where ``M > 0``; it is ignored (may be anything
        finite) elsewhere.
    check_input : bool, default=True
        Check ``A``, ``W``, ``H`` and ``mask`` (dimensions, dtypes, finite and non-negative
        entries: a full pass and a host synchronization each); ``False`` when the caller has
        validated them already (the estimators check ``X`` once per ``fit``).
    xp : namespace, optional

    Returns
    -------
    W : array of shape (n, r)
    H : array of shape (r, m)
    info : SolverInfo
        Final objective, its history and the number of iterations.

    Raises
    ------
    ValueError
        Negative or non-finite data, shape mismatch, bad parameters.
    """
    xp = get_namespace(A, W, H, mask, xp=xp)
    if mask is not None:
        if check_input:
            check_matrix(mask, "mask", xp=xp, nonnegative=True, dtype=A.dtype)
        if tuple(mask.shape) != tuple(A.shape):
            raise ValueError(f"mask has shape {tuple(mask.shape)} but A has {tuple(A.shape)}")
        A = xp.where(mask > 0, A, xp.zeros_like(A))
    if check_input:
        check_matrix(A, "A", xp=xp, nonnegative=True)
        check_matrix(W, "W", xp=xp, nonnegative=True, dtype=A.dtype)
        check_matrix(H, "H", xp=xp, nonnegative=True, dtype=A.dtype)
    if W.shape[0] != A.shape[0] or H.shape[1] != A.shape[1] or W.shape[1] != H.shape[0]:
        raise ValueError(
            f"shapes do not fit A ≈ W H: A {tuple(A.shape)}, W {tuple(W.shape)}, "
            f"H {tuple(H.shape)}"
        )
    check_positive_int(n_iter, "n_iter", minimum=0)
    check_positive_int(check_every, "check_every", minimum=0)
    check_nonnegative_scalar(tol, "tol")

    def step(state):
        return nmf_step(
            A, *state, eps=eps, update_w=update_w, update_h=update_h, mask=mask, xp=xp
        )

    def objective(state):
        return nmf_objective(A, *state, mask=mask, xp=xp)

    (W, H), info = iterate(
        step, (W, H), objective, n_iter=n_iter, check_every=check_every, tol=tol,
        what="nmf", xp=xp,
    )
    return W, H, info
