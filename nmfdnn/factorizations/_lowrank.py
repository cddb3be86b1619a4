"""Low-rank approximation of the input and the reduced first-layer solve (ALGORITHMS.md §1.5).

Once per training run ``X ≈ Q diag(σ) Vᵀ`` keeps the singular values ``σ_i ≥ τ σ_1``; every
mini-batch with columns J then uses ``X_J ≈ Q diag(σ) V_J`` (``V_J`` = the columns J of ``Vᵀ``).
With bias and regularization the first layer is solved in these r coordinates, where the
(r+1) × (r+1) system stays well conditioned in float32.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from array_api_compat import device as _device

from nmfdnn._array_api import get_namespace
from nmfdnn._linalg import default_rcond
from nmfdnn._ops import has_bias
from nmfdnn._validation import check_matrix, check_nonnegative_scalar, check_positive_int
from nmfdnn.factorizations._nonlinear import nonlinear_u_step

__all__ = ["LowRankInput", "lowrank_approximation", "reduced_first_layer_step"]


@dataclass
class LowRankInput:
    """``X ≈ Q diag(sigma) Vt``: the low-rank input of §1.5, the one form every trainer uses.

    The first-layer pre-activation of a mini-batch J is ``W_1 X_J = (W_1 QS) V_J`` with the
    cached ``QS = Q diag(σ)``: an (n_1 × r)(r × s) product instead of (n_1 × n_0)(n_0 × s).
    The fields below are also its attributes.

    Parameters
    ----------
    Q : array of shape (n0, r)
        Left singular vectors (orthonormal columns), ``U1`` of the paper.
    sigma : array of shape (r,)
        Kept singular values, decreasing.
    Vt : array of shape (r, m)
        ``V1ᵀ``: the coordinates of every sample; a mini-batch takes ``Vt[:, J]``.
    QS : array of shape (n0, r), optional
        ``Q diag(σ)`` (computed from ``Q`` and ``sigma`` when not given).
    """

    Q: object
    sigma: object
    Vt: object
    QS: object = None

    def __post_init__(self):
        if self.QS is None:
            self.QS = self.Q * self.sigma[None, :]

    @property
    def rank(self):
        """int: the rank r."""
        return self.sigma.shape[0]

    @property
    def n_samples(self):
        """int: the number of samples m (columns of ``Vt``)."""
        return self.Vt.shape[1]

    def with_columns(self, Vt):
        """The same ``Q``, ``σ`` and ``QS`` with the coordinates of other samples.

        Nothing is copied or recomputed: a mini-batch ``J`` is ``inputs.with_columns(Vt_J)``.

        Parameters
        ----------
        Vt : array of shape (r, s)
            Coordinates ``V_Jᵀ`` of the samples (e.g. ``self.Vt[:, J]``).

        Returns
        -------
        LowRankInput
            Sharing ``Q``, ``sigma`` and ``QS`` with ``self``.
        """
        return replace(self, Vt=Vt)

    def reconstruct(self, columns=None):
        """``Q diag(σ) Vt``, the rank-r approximation of ``X`` (or of some of its columns).

        Parameters
        ----------
        columns : slice or array of int, optional
            Columns (samples) to reconstruct. Default: all.

        Returns
        -------
        array of shape (n0, m) or (n0, len(columns))
        """
        Vt = self.Vt if columns is None else self.Vt[:, columns]
        return (self.Q * self.sigma[None, :]) @ Vt


def lowrank_approximation(X, *, tau=4e-2, max_rank=None, check_input=True, reduce=None,
                          xp=None):
    """Truncated SVD ``X ≈ Q diag(σ) Vt`` keeping ``σ_i ≥ τ σ_1`` (§1.5).

    For ``n0 ≤ m`` (the usual case, features ≪ samples) the decomposition comes from the
    n0 × n0 matrix ``X Xᵀ = Q diag(σ²) Qᵀ`` (one GEMM and a small ``eigh``), then
    ``Vt = diag(σ)⁻¹ Qᵀ X``.  Otherwise a thin SVD of ``X`` is used.  The rank is decided on the
    host once (one synchronization per training run).

    Parameters
    ----------
    X : array of shape (n0, m)
        Inputs, one column per sample.
    tau : float, default=4e-2
        Relative threshold τ (4·10⁻² for MNIST in the papers).  ``tau=0`` keeps every singular
        value above the numerical cut-off of the dtype.
    max_rank : int, optional
        Keep at most this many.
    check_input : bool, default=True
        Check ``X`` (dimensions, dtype, finite values: one full pass); ``False`` when the caller
        has validated it already.
    reduce : callable, optional
        All-reduce hook when the columns of ``X`` are split among processes
        (:mod:`nmfdnn.distributed`): ``max|X|`` and ``X Xᵀ`` are reduced over them (always the
        ``X Xᵀ`` route then), ``Vt`` keeps this process's columns.
    xp : namespace, optional

    Returns
    -------
    LowRankInput
    """
    xp = get_namespace(X, xp=xp)
    if check_input:
        check_matrix(X, "X", xp=xp)
    tau = check_nonnegative_scalar(tau, "tau")
    if tau >= 1:
        raise ValueError(f"tau must be < 1 (a fraction of the largest singular value), got {tau}")
    n0, m = X.shape
    if max_rank is not None:
        check_positive_int(max_rank, "max_rank", minimum=1, maximum=min(n0, m))
    # work on X / max|X|: X Xᵀ cannot overflow, and the factors are the same (σ scaled back)
    # max|X| as max(max X, −min X): two reductions, no |X| temporary of X's size
    top = xp.maximum(xp.max(X), -xp.min(X))
    if reduce is None:
        scale = float(top)  # host decisions, once per run: the scale and the rank
    else:
        scale = float(reduce(top, op="max"))
    if not scale > 0:
        raise ValueError("X is numerically zero: no singular value to keep")
    Xs = X if scale == 1.0 else X / scale  # pixels in [0, 1]: no copy
    if reduce is not None or n0 <= m:
        G = Xs @ Xs.T
        w, Q = xp.linalg.eigh(G if reduce is None else reduce(G))  # ascending
        w = xp.flip(xp.clip(w, min=0.0))
        Q = xp.flip(Q, axis=1)
        sigma = xp.sqrt(w)
        floor = default_rcond(n0, X.dtype, xp=xp)
    else:
        Q, sigma, _ = xp.linalg.svd(Xs, full_matrices=False)
        floor = n0 * float(xp.finfo(X.dtype).eps)
    cut = max(tau, floor)
    r = int(xp.count_nonzero(sigma >= cut * sigma[0]))
    if max_rank is not None:
        r = min(r, max_rank)
    Q, sigma = Q[:, :r], sigma[:r]
    Vt = (Q.T @ Xs) / sigma[:, None]
    return LowRankInput(Q=Q, sigma=sigma * scale, Vt=Vt)


def reduced_first_layer_step(A, W, lowrank, columns=None, *, lam_w=0.0, rcond=None, bias=None,
                             reduce=None, P=None, xp=None):
    """The first-layer U-step of Algorithm 2 in the reduced coordinates of §1.5.

    With ``X_J = Q diag(σ) V_J``: ``W₁ X_J = W₁ᵣ V_J`` for ``W₁ᵣ = W₁ Q diag(σ)``.  The U-step is
    run on ``Ṽ = [V_J; 1ᵀ]`` for ``W̃₁ᵣ = [W₁ᵣ, b₁]`` with

    .. math::

        J_V = Ṽ Ṽᵀ + λ_W \\operatorname{diag}(σ_1^{-2}, …, σ_r^{-2}, 1)

    (the penalty ``λ_W‖W̃₁‖²`` restricted to ``span(Q)``), then mapped back:
    ``W₁ = W₁ᵣ diag(σ)⁻¹ Qᵀ``.  With λ_W = 0 it is original Algorithm 2 (ω = 1) on the
    low-rank input.

    Parameters
    ----------
    A : array of shape (n1, s)
        Targets ``Ẑ₁`` of the mini-batch.
    W : array of shape (n1, n0) or (n1, n0 + 1)
        First-layer weights ``W₁`` or ``W̃₁ = [W₁, b₁]``.
    lowrank : LowRankInput
    columns : slice or index array, optional
        The mini-batch J (default: all columns of ``lowrank.Vt``).
    lam_w : float, default=0.0
    rcond : float, optional
    bias : bool, optional
        Whether ``W`` is ``W̃₁ = [W₁, b₁]``. Default: read from the shapes.
    reduce : callable, optional
        All-reduce hook of data-parallel training: ``Ṽ Ṽᵀ`` and the cross product are summed
        over the processes (:func:`nmfdnn.nonlinear_u_step`).
    P : array of shape (n1, s), optional
        The pre-activation ``W̃₁ᵣ Ṽ_J`` at the given ``W`` (the trainers' forward pass has it);
        default: computed here.
    xp : namespace, optional

    Returns
    -------
    W : array, same shape as the input ``W``; its rows lie in ``span(Q)``.
    """
    xp = get_namespace(A, W, xp=xp)
    Q, sigma = lowrank.Q, lowrank.sigma
    n0, r = Q.shape
    VJ = lowrank.Vt if columns is None else lowrank.Vt[:, columns]
    if bias is None:
        bias = has_bias(W, Q, name="W")
    W1 = W[:, :n0] if bias else W
    W1r = (W1 @ Q) * sigma[None, :]
    Wr = xp.concat([W1r, W[:, n0:]], axis=1) if bias else W1r
    if lam_w:
        # λ_W/σ_k² beyond the dtype's range (σ_k² underflows for inputs near 1e-20 in float32):
        # the penalty is infinite and the minimizer has W₁ᵣ[:, k] = 0 exactly — solved as such
        # (coordinate k of V_J zeroed, a unit penalty), not as an inf/NaN Cholesky factor
        sq = sigma * sigma
        dead = sq <= lam_w / float(xp.finfo(sigma.dtype).max)
        diag = lam_w / xp.where(dead, xp.ones_like(sq), sq)
        diag = xp.where(dead, xp.ones_like(diag), diag)
        VJ = xp.where(dead[:, None], xp.zeros_like(VJ), VJ)
        if bias:
            one = xp.full((1,), lam_w, dtype=sigma.dtype, device=_device(sigma))
            diag = xp.concat([diag, one])
        penalty = diag
    else:
        penalty = 0.0
    Wr = nonlinear_u_step(A, Wr, VJ, lam_u=penalty, rcond=rcond, bias=bias, reduce=reduce, P=P,
                          xp=xp)
    W1 = (Wr[:, :r] / sigma[None, :]) @ Q.T
    return xp.concat([W1, Wr[:, r:]], axis=1) if bias else W1
