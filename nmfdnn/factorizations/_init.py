"""Initial factors for NMF ``A ≈ W H`` (data are columns): random, NNDSVD, NNDSVDa.

NNDSVD (Boutsidis & Gallopoulos 2008) computes the truncated SVD with ``xp.linalg.svd`` on the
device of ``A`` (an exact thin SVD, where scikit-learn uses a randomized one: the leading
singular triplets agree to rounding, so do the initial factors).  The per-component choice of
the dominant sign part is vectorized over components with ``xp.where`` (no Python loop over
components, no host synchronization).  Random draws are made on the host with a seeded
Generator and moved once (:mod:`nmfdnn._host`).
"""

from __future__ import annotations

import math

from array_api_compat import device as _dev

from nmfdnn._array_api import get_namespace
from nmfdnn._host import check_random_state, random_normal
from nmfdnn._ops import allsum
from nmfdnn._validation import check_positive_int

__all__ = ["nmf_init", "INITS"]

#: Initializations understood by :func:`nmf_init` ("custom" is handled by the estimators).
INITS = ("random", "nndsvd", "nndsvda")


def _nndsvd(A, r, *, svd=None, reduce=None, xp):
    """NNDSVD factors, zeros kept (``W`` of shape (n, r), ``H`` of shape (r, m)).

    ``svd``: the leading triplets ``(U, S, Vt)`` when computed elsewhere (sparse ``A``).

    .. math::

        A ≈ Σ_j σ_j u_j v_jᵀ, \\quad
        (u, v) = \\begin{cases} (u_j^+/‖u_j^+‖, v_j^+/‖v_j^+‖)
                 & ‖u_j^+‖‖v_j^+‖ > ‖u_j^-‖‖v_j^-‖ \\\\
                 (u_j^-/‖u_j^-‖, v_j^-/‖v_j^-‖) & \\text{otherwise} \\end{cases}, \\quad
        W_{:j} = \\sqrt{σ_j μ_j}\\, u, \\; H_{j:} = \\sqrt{σ_j μ_j}\\, vᵀ

    with ``μ_j`` the larger product of norms; the first component is ``√σ₁ |u₁|, √σ₁ |v₁|``.
    """
    U, S, Vt = xp.linalg.svd(A, full_matrices=False) if svd is None else svd
    U, S, Vt = U[:, :r], S[:r], Vt[:r, :]
    tiny = float(xp.finfo(U.dtype).smallest_normal)
    Up, Un = xp.clip(U, min=0.0), xp.clip(-U, min=0.0)
    Vp, Vn = xp.clip(Vt, min=0.0), xp.clip(-Vt, min=0.0)
    nup = xp.linalg.vector_norm(Up, axis=0)
    nun = xp.linalg.vector_norm(Un, axis=0)
    if reduce is None:
        nvp = xp.linalg.vector_norm(Vp, axis=1)
        nvn = xp.linalg.vector_norm(Vn, axis=1)
    else:  # norms over all columns (one message)
        sp, sn = allsum(reduce, xp.sum(Vp * Vp, axis=1), xp.sum(Vn * Vn, axis=1), xp=xp)
        nvp, nvn = xp.sqrt(sp), xp.sqrt(sn)
    mp, mn = nup * nvp, nun * nvn
    take_pos = mp > mn
    u = xp.where(take_pos, Up / xp.maximum(nup, tiny), Un / xp.maximum(nun, tiny))
    v = xp.where(take_pos[:, None], Vp / xp.maximum(nvp, tiny)[:, None],
                 Vn / xp.maximum(nvn, tiny)[:, None])
    lbd = xp.sqrt(S * xp.where(take_pos, mp, mn))
    W = u * lbd
    H = v * lbd[:, None]
    s0 = xp.sqrt(S[:1])
    W = xp.concat([s0 * xp.abs(U[:, :1]), W[:, 1:]], axis=1)
    H = xp.concat([s0[:, None] * xp.abs(Vt[:1, :]), H[1:, :]], axis=0)
    zero = xp.zeros((), dtype=U.dtype, device=_dev(U))
    W = xp.where(W < 1e-6, zero, W)
    H = xp.where(H < 1e-6, zero, H)
    return W, H


def _distributed_svd(A, r, *, reduce, rank, size, xp):
    """Thin SVD ``A = U diag(S) Vt`` of ``A`` (n × m) whose columns are split among processes.

    Each process factors its block ``A_kᵀ = Q_k R_k`` (QR); the stacked triangles
    ``[R_0; …; R_{P−1}]`` (n·P × n, assembled by one all-reduce) have the singular values and
    right singular vectors of ``Aᵀ``, i.e. ``S`` and ``U``; then ``Vt_k = diag(S)⁻¹ Uᵀ A_k``
    for this process's columns.  As accurate as an SVD of ``A`` (no Gram matrix is formed).
    """
    n = A.shape[0]
    dev = _dev(A)
    _, R = xp.linalg.qr(A.T)  # (min(m_k, n), n)
    if R.shape[0] < n:
        R = xp.concat([R, xp.zeros((n - R.shape[0], n), dtype=A.dtype, device=dev)], axis=0)
    slots = [xp.zeros((n, n), dtype=A.dtype, device=dev) for _ in range(size)]
    slots[rank] = R
    stacked = reduce(xp.concat(slots, axis=0))  # every process's R, in rank order
    _, S, Ut = xp.linalg.svd(stacked, full_matrices=False)
    U, S = Ut[:r, :].T, S[:r]
    return U, S, (U.T @ A) / S[:, None]


def nmf_init(A, n_components, *, init="nndsvda", random_state=None, reduce=None,
             partition=None, xp=None):
    """Initial non-negative factors of ``A ≈ W H`` (``A`` of shape (n, m), samples as columns).

    - ``"random"``: ``|N(0, 1)| · sqrt(mean(A) / r)`` entries (as scikit-learn), drawn on the host.
    - ``"nndsvd"``: NNDSVD (Boutsidis & Gallopoulos 2008); zeros stay zero, which suits sparse
      solutions but freezes those entries under multiplicative updates.
    - ``"nndsvda"``: NNDSVD with the zeros replaced by ``mean(A)``.

    Parameters
    ----------
    A : array of shape (n, m)
        Non-negative data.
    n_components : int
        Rank ``r``; for the NNDSVD variants ``r <= min(n, m)``.
    init : {"random", "nndsvd", "nndsvda"}, default="nndsvda"
    random_state : None, int or numpy Generator
        Seed of the host draws (``"random"`` only).
    reduce : callable, optional
        All-reduce hook when the columns of ``A`` are split among processes
        (:class:`nmfdnn.distributed.Communicator`, which also gives ``rank`` and ``size``):
        ``"random"`` draws ``H`` over all columns and keeps this process's ones; the NNDSVD
        variants use a distributed thin SVD (a QR per process, an SVD of the stacked
        triangles), ``mean(A)`` is the global mean.
    partition : Partition, optional
        Global column numbers of this process (required with ``reduce``).
    xp : namespace, optional

    Returns
    -------
    W : array of shape (n, r)
    H : array of shape (r, m)
        Non-negative, in the namespace, device and dtype of ``A``.

    Raises
    ------
    ValueError
        Unknown ``init``, or a rank out of range.
    """
    xp = get_namespace(A, xp=xp)
    n, m = A.shape
    m_all = m if reduce is None else partition.n_total
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS + ('custom',)}, got {init!r}")
    if init == "random":
        r = check_positive_int(n_components, "n_components")
        rng = check_random_state(random_state)
        mean = float(xp.mean(A)) if reduce is None else float(reduce(xp.sum(A))) / (n * m_all)
        avg = math.sqrt(mean / r)
        dev = _dev(A)
        # drawn in scikit-learn's order (its H = our Wᵀ first, then its W = our Hᵀ)
        W = xp.abs(random_normal((r, n), rng=rng, scale=avg, xp=xp, device=dev, dtype=A.dtype)).T
        H = xp.abs(random_normal((m_all, r), rng=rng, scale=avg, xp=xp, device=dev,
                                 dtype=A.dtype)).T
        if reduce is not None:  # this process's columns of the global draw
            H = xp.take(H, xp.asarray(partition.index, device=dev), axis=1)
        return W, H
    r = check_positive_int(n_components, "n_components", maximum=min(n, m_all))
    svd = None
    if reduce is not None:
        svd = _distributed_svd(A, r, reduce=reduce, rank=reduce.rank, size=reduce.size, xp=xp)
    W, H = _nndsvd(A, r, svd=svd, reduce=reduce, xp=xp)
    if init == "nndsvda":
        avg = xp.mean(A) if reduce is None else reduce(xp.sum(A)) / (n * m_all)
        W = xp.where(W == 0, avg, W)
        H = xp.where(H == 0, avg, H)
    return W, H
