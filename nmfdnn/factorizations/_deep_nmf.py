"""Deep NMF with max pooling and a semi-supervised top layer (Flenner & Hunter; ALGORITHMS.md §7).

Data are columns.  Layers ``l = 0 … L`` (list index = paper ``l``):

.. math::

    X^{(0)} ≈ A^{(0)} S^{(0)}, \\quad X^{(l+1)} = p(S^{(l)}), \\quad X^{(l)} ≈ A^{(l)} S^{(l)},
    \\quad Y ≈ B S^{(L)}

with every factor ``≥ 0``, energy

.. math::

    E = ½ Σ_l ‖M_l ⊙ (X^{(l)} − A^{(l)} S^{(l)})‖²_F + (λ/2) ‖L ⊙ (Y − B S^{(L)})‖²_F

and the "backpropagation" multiplicative updates of eq. (4).  The entry mask ``M`` applies to
the data layer ``X^{(0)}`` (missing entries); the pooled layers ``l ≥ 1`` are fully observed
(``M_l = 1``).  ``L`` is a column mask (1 for a column with a known label).

Pooling ``p`` runs along the sample (column) axis, row by row: a sliding-window max of
half-width ``w`` clipped at segment boundaries (a segment is the set of consecutive columns of one
document/recording/image).  It is computed from ``2w + 1`` shifted copies of ``S`` stacked on a new
axis (no loop over columns), and its adjoint ``J_pᵀ`` shifts each offset's share of the incoming
gradient back, so the "scatter-add to the argmax" is a sum of ``2w + 1`` shifted, masked arrays.
"""

from __future__ import annotations

from array_api_compat import device as _device

from nmfdnn._array_api import asarray, get_namespace
from nmfdnn._validation import check_matrix, check_nonnegative_scalar, check_positive_int

__all__ = [
    "pooling_support",
    "max_pool",
    "max_pool_adjoint",
    "deep_nmf_objective",
    "deep_nmf_forward_state",
    "deep_nmf_update_a",
    "deep_nmf_update_s",
    "deep_nmf_update_top",
    "deep_nmf_update_b",
    "deep_nmf_step",
    "deep_nmf",
]


# --------------------------------------------------------------------------- pooling
def pooling_support(segments, width, *, xp, device=None):
    """Which shifted copies are inside a segment: a boolean array of shape (2w + 1, N).

    Entry ``[d + w, j]`` is True when column ``j + d`` exists and belongs to the segment of
    column ``j``.  Computed once per fit from the segment ids, with array operations in ``xp``
    (shifted comparisons, no loop over columns).

    Parameters
    ----------
    segments : array-like of shape (N,)
        Integer segment id of each column (consecutive columns of one segment share an id).
    width : int
        Half-width ``w`` of the pooling window.
    xp : namespace
    device : device, optional

    Returns
    -------
    array of bool, shape (2w + 1, N)
    """
    w = check_positive_int(width, "pool_width", minimum=0)
    seg = asarray(segments, xp=xp, device=device)
    if seg.ndim != 1:
        raise ValueError(f"segments must be 1-D, got shape {tuple(seg.shape)}")
    N = seg.shape[0]
    rows = []
    for d in range(-w, w + 1):
        k = abs(d)
        if k >= N:
            rows.append(xp.zeros((N,), dtype=xp.bool, device=device))
            continue
        same = seg[k:] == seg[: N - k] if k else xp.ones((N,), dtype=xp.bool, device=device)
        if k:
            pad = xp.zeros((k,), dtype=xp.bool, device=device)
            same = xp.concat([same, pad]) if d > 0 else xp.concat([pad, same])
        rows.append(same)
    return xp.stack(rows, axis=0)


def _shift(S, d, fill, *, xp):
    """``T[:, j] = S[:, j + d]`` (columns outside filled with ``fill``)."""
    if d == 0:
        return S
    K, N = S.shape
    pad = xp.full((K, abs(d)), fill, dtype=S.dtype, device=_device(S))
    if d > 0:
        return xp.concat([S[:, d:], pad], axis=1)
    return xp.concat([pad, S[:, : N + d]], axis=1)


def max_pool(S, support, *, xp=None):
    """Sliding-window max along columns within segments, and the winning offsets.

    .. math::

        p(S)[k, j] = \\max_{|d| ≤ w,\\; j+d ∈ \\mathrm{seg}(j)} S[k, j + d]

    Parameters
    ----------
    S : array of shape (K, N), ``S ≥ 0``
    support : bool array of shape (2w + 1, N)
        From :func:`pooling_support`.
    xp : namespace, optional

    Returns
    -------
    P : array of shape (K, N)
    arg : int array of shape (K, N)
        Index ``d + w`` of the offset that achieved the max (the smallest one on ties; ``w``,
        the column itself, wins ties with out-of-segment positions since those are −1).
    """
    xp = get_namespace(S, xp=xp)
    n_off = support.shape[0]
    w = (n_off - 1) // 2
    if w == 0:
        return S, None
    low = xp.full((), -1.0, dtype=S.dtype, device=_device(S))  # below any entry of S ≥ 0
    stack = xp.stack([
        xp.where(support[i:i + 1, :], _shift(S, i - w, -1.0, xp=xp), low)
        for i in range(n_off)
    ], axis=0)
    return xp.max(stack, axis=0), xp.argmax(stack, axis=0)


def max_pool_adjoint(G, arg, width, *, xp=None):
    """``J_pᵀ(G)``: each entry of ``G`` added to the input position that achieved its max.

    .. math::

        J_pᵀ(G)[k, i] = Σ_{j : j + d^*_{kj} = i} G[k, j]

    computed as ``Σ_d shift_{−d}(G ⊙ [d^* = d])`` (``2w + 1`` masked shifts, no scatter).

    Parameters
    ----------
    G : array of shape (K, N)
    arg : int array of shape (K, N) or None
        From :func:`max_pool` (None: ``w = 0``, the identity).
    width : int
    xp : namespace, optional

    Returns
    -------
    array of shape (K, N)
    """
    xp = get_namespace(G, xp=xp)
    if arg is None or width == 0:
        return G
    zero = xp.zeros((), dtype=G.dtype, device=_device(G))
    out = None
    for i in range(2 * width + 1):
        d = i - width
        part = _shift(xp.where(arg == i, G, zero), -d, 0.0, xp=xp)
        out = part if out is None else out + part
    return out


# --------------------------------------------------------------------------- energy and updates
def deep_nmf_forward_state(Ss, support, *, xp):
    """The pooled inputs ``X^{(l+1)} = p(S^{(l)})`` and their argmax offsets, ``l = 0 … L−1``."""
    pooled = [max_pool(S, support, xp=xp) for S in Ss[:-1]]
    return [P for P, _ in pooled], [a for _, a in pooled]


def deep_nmf_objective(X, As, Ss, B, Y, *, M=None, Lmask=None, lam=1.0, support=None, xp=None):
    """Energy ``E`` of §7 (0-d array).

    Parameters
    ----------
    X : array of shape (n0, N)
        Non-negative data ``X^{(0)}`` (zero where ``M = 0``).
    As : list of arrays
        ``A^{(l)}`` of shape (n_l, r_l), ``n_{l+1} = r_l``.
    Ss : list of arrays
        ``S^{(l)}`` of shape (r_l, N).
    B : array of shape (K, r_L)
    Y : array of shape (K, N)
        One-hot labels (any value in unlabeled columns).
    M : array of shape (n0, N), optional
        Entry mask of ``X^{(0)}``.
    Lmask : array of shape (1, N) or (K, N), optional
        Known-label columns (1/0). Default: all known.
    lam : float, default=1.0
    support : bool array of shape (2w + 1, N), optional
        Pooling support (None: no pooling).
    xp : namespace, optional

    Returns
    -------
    0-d array
        ``E``, on the device of the inputs (no host synchronization).
    """
    xp = get_namespace(X, *As, xp=xp)
    if support is None:
        Xs = list(Ss[:-1])
    else:
        Xs, _ = deep_nmf_forward_state(Ss, support, xp=xp)
    Xs = [X] + Xs
    E = None
    for i, (Xl, A, S) in enumerate(zip(Xs, As, Ss, strict=True)):
        R = Xl - A @ S
        if i == 0 and M is not None:
            R = M * R
        term = 0.5 * xp.sum(R * R)
        E = term if E is None else E + term
    if lam:
        R = Y - B @ Ss[-1]
        if Lmask is not None:
            R = Lmask * R
        E = E + 0.5 * lam * xp.sum(R * R)
    return E


def deep_nmf_update_a(Xl, A, S, *, M=None, eps, xp):
    """``A ← A ⊙ ([M⊙X] Sᵀ) ⊘ ([M⊙A S] Sᵀ + ε)`` (first line of eq. (4))."""
    if M is None:
        return A * (Xl @ S.T) / (A @ (S @ S.T) + eps)
    return A * ((M * Xl) @ S.T) / ((M * (A @ S)) @ S.T + eps)


def deep_nmf_update_s(Xl, A, S, A_next, S_next, *, M=None, support=None, eps, xp):
    """Intermediate ``S^{(l)}`` update of eq. (4), through the pooling Jacobian.

    .. math::

        S^{(l)} ← S^{(l)} ⊙ \\frac{A^{(l)ᵀ}[M⊙X^{(l)}] + J_pᵀ(A^{(l+1)}S^{(l+1)})}
        {A^{(l)ᵀ}[M⊙A^{(l)}S^{(l)}] + J_pᵀ(X^{(l+1)}) + ε}

    with ``X^{(l+1)} = p(S^{(l)})`` and ``J_p`` taken at the current ``S^{(l)}``.
    """
    AS = A @ S
    if M is not None:
        Xl, AS = M * Xl, M * AS
    width = 0 if support is None else (support.shape[0] - 1) // 2
    Xn, arg = (S, None) if support is None else max_pool(S, support, xp=xp)
    num = A.T @ Xl + max_pool_adjoint(A_next @ S_next, arg, width, xp=xp)
    den = A.T @ AS + max_pool_adjoint(Xn, arg, width, xp=xp) + eps
    return S * num / den


def deep_nmf_update_top(Xl, A, S, B, Y, *, M=None, Lmask=None, lam, eps, xp):
    """Top-layer ``S^{(L)}`` update of eq. (4) (semi-supervised NMF, Lee, Yoo & Choi 2010).

    .. math::

        S^{(L)} ← S^{(L)} ⊙ \\frac{A^{(L)ᵀ}[M⊙X^{(L)}] + λBᵀ[L⊙Y]}
        {A^{(L)ᵀ}[M⊙A^{(L)}S^{(L)}] + λBᵀ[L⊙BS^{(L)}] + ε}
    """
    AS = A @ S
    if M is not None:
        Xl, AS = M * Xl, M * AS
    BS = B @ S
    LY, LBS = (Y, BS) if Lmask is None else (Lmask * Y, Lmask * BS)
    num = A.T @ Xl + lam * (B.T @ LY)
    den = A.T @ AS + lam * (B.T @ LBS) + eps
    return S * num / den


def deep_nmf_update_b(B, S, Y, *, Lmask=None, eps, xp):
    """``B ← B ⊙ ([L⊙Y] S^{(L)ᵀ}) ⊘ ([L⊙B S^{(L)}] S^{(L)ᵀ} + ε)``."""
    BS = B @ S
    LY, LBS = (Y, BS) if Lmask is None else (Lmask * Y, Lmask * BS)
    return B * (LY @ S.T) / (LBS @ S.T + eps)


def deep_nmf_step(X, As, Ss, B, Y, *, M=None, Lmask=None, lam=1.0, support=None, eps=None,
                  update_factors=True, xp=None):
    """One sweep of the "backpropagation" multiplicative updates, eq. (4).

    For ``l = 0 … L``: ``A^{(l)}``, then ``S^{(l)}`` (through ``J_pᵀ`` for ``l < L``; with the
    label term for ``l = L``), the next layer's input ``X^{(l+1)} = p(S^{(l)})`` recomputed from
    the new ``S^{(l)}``; finally ``B``.  Each factor keeps its sign (``≥ 0``).
    ``update_factors=False`` holds the ``A^{(l)}`` and ``B`` fixed (inference on new columns).

    Parameters
    ----------
    X : array of shape (n0, N)
        Non-negative data ``X^{(0)}`` (zero where ``M = 0``).
    As : list of arrays
        ``A^{(l)}`` of shape (n_l, r_l).
    Ss : list of arrays
        ``S^{(l)}`` of shape (r_l, N).
    B : array of shape (K, r_L)
    Y : array of shape (K, N)
        One-hot labels (any value in unlabeled columns).
    M : array of shape (n0, N), optional
        Entry mask of ``X^{(0)}``.
    Lmask : array of shape (1, N) or (K, N), optional
        Known-label columns (1/0). Default: all known.
    lam : float, default=1.0
        λ, weight of the label term.
    support : bool array of shape (2w + 1, N), optional
        Pooling support (None: no pooling).
    eps : float, optional
        Added to the denominators. Default: the dtype's machine epsilon.
    update_factors : bool, default=True
        Update the ``A^{(l)}`` and ``B`` (False: only the ``S^{(l)}``).
    xp : namespace, optional

    Returns
    -------
    As : list of arrays
    Ss : list of arrays
    B : array
        The updated factors (new lists; the inputs are not modified).
    """
    xp = get_namespace(X, B, xp=xp)
    if eps is None:
        eps = float(xp.finfo(X.dtype).eps)
    As, Ss = list(As), list(Ss)
    L = len(As) - 1
    Xl = X
    for i in range(L + 1):
        Mi = M if i == 0 else None
        if update_factors:
            As[i] = deep_nmf_update_a(Xl, As[i], Ss[i], M=Mi, eps=eps, xp=xp)
        if i < L:
            Ss[i] = deep_nmf_update_s(Xl, As[i], Ss[i], As[i + 1], Ss[i + 1], M=Mi,
                                      support=support, eps=eps, xp=xp)
            Xl = Ss[i] if support is None else max_pool(Ss[i], support, xp=xp)[0]
        else:
            Ss[i] = deep_nmf_update_top(Xl, As[i], Ss[i], B, Y, M=Mi, Lmask=Lmask, lam=lam,
                                        eps=eps, xp=xp)
    if update_factors:
        B = deep_nmf_update_b(B, Ss[L], Y, Lmask=Lmask, eps=eps, xp=xp)
    return As, Ss, B


def deep_nmf(X, As, Ss, B, Y, *, M=None, Lmask=None, lam=1.0, support=None, n_iter=100,
             eps=None, check_every=10, update_factors=True, check_input=True, xp=None):
    """Run :func:`deep_nmf_step` ``n_iter`` times, recording ``E`` every ``check_every`` sweeps.

    Each sweep applies the multiplicative updates of eq. (4) (see :func:`deep_nmf_step`), which
    do not increase the energy

    .. math::

        E = ½ Σ_l ‖M_l ⊙ (X^{(l)} − A^{(l)} S^{(l)})‖²_F + (λ/2) ‖L ⊙ (Y − B S^{(L)})‖²_F

    Parameters
    ----------
    X : array of shape (n0, N)
        Non-negative data ``X^{(0)}`` (zero where ``M = 0``).
    As : list of arrays
        Initial ``A^{(l)}`` of shape (n_l, r_l).
    Ss : list of arrays
        Initial ``S^{(l)}`` of shape (r_l, N).
    B : array of shape (K, r_L)
        Initial label factor.
    Y : array of shape (K, N)
        One-hot labels (any value in unlabeled columns).
    M : array of shape (n0, N), optional
        Entry mask of ``X^{(0)}``.
    Lmask : array of shape (1, N) or (K, N), optional
        Known-label columns (1/0). Default: all known.
    lam : float, default=1.0
        λ, weight of the label term.
    support : bool array of shape (2w + 1, N), optional
        Pooling support from :func:`pooling_support` (None: no pooling).
    n_iter : int, default=100
        Sweeps.
    eps : float, optional
        Added to the denominators. Default: the dtype's machine epsilon.
    check_every : int, default=10
        Record ``E`` every ``check_every`` sweeps (0: never).
    update_factors : bool, default=True
        False holds the ``A^{(l)}`` and ``B`` fixed (inference on new columns).
    check_input : bool, default=True
        Check ``X`` (finite, non-negative: a full pass and a host synchronization); ``False``
        when the caller has validated it already.
    xp : namespace, optional

    Returns
    -------
    As : list of arrays
    Ss : list of arrays
    B : array
    history : list of 0-d arrays
        ``E`` every ``check_every`` sweeps (on the device).
    """
    xp = get_namespace(X, B, xp=xp)
    if check_input:
        check_matrix(X, "X", xp=xp, nonnegative=True)
    check_nonnegative_scalar(lam, "lam")
    n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
    history = []
    for k in range(1, n_iter + 1):
        As, Ss, B = deep_nmf_step(X, As, Ss, B, Y, M=M, Lmask=Lmask, lam=lam, support=support,
                                  eps=eps, update_factors=update_factors, xp=xp)
        if check_every and k % check_every == 0:
            history.append(deep_nmf_objective(X, As, Ss, B, Y, M=M, Lmask=Lmask, lam=lam,
                                              support=support, xp=xp))
    return As, Ss, B, history
