"""Tiny element-wise and bias helpers used by every solver (paper notation, data are columns).

The bias is folded in as in ALGORITHMS.md: ``Ũ = [U, b]``, ``Ṽ = [V; 1ᵀ]``, ``Ũ Ṽ = U V + b 1ᵀ``.
``Ṽ`` is never materialized: its Gram matrix and cross products are assembled from ``V``'s,
which saves a copy of the (n × m) block per product.
"""

from __future__ import annotations

from array_api_compat import device as _device

__all__ = ["relu", "pos", "neg", "has_bias", "affine", "gram_tilde", "cross_tilde",
           "split_bias", "sq_norm", "flush_subnormal", "row_major", "allsum"]


def relu(A, *, xp):
    """``f(A) = max(A, 0)`` element-wise."""
    return xp.clip(A, min=0.0)


def pos(A, *, xp):
    """``A⁺ = (|A| + A)/2``."""
    return xp.clip(A, min=0.0)


def neg(A, *, xp):
    """``A⁻ = (|A| − A)/2``, so that ``A = A⁺ − A⁻``."""
    return xp.clip(-A, min=0.0)


def has_bias(U, V, name="U"):
    """Whether ``U`` carries a bias column for the factor ``V``: ``U`` of shape (k, n) or
    (k, n + 1) for ``V`` of shape (n, m).  The one place where a bias is read from shapes, at the
    entry of a public solver; the trainers and steps pass ``bias`` explicitly.

    Raises
    ------
    ValueError
        If ``U`` has neither ``n`` nor ``n + 1`` columns.
    """
    n = V.shape[0]
    if U.shape[1] == n:
        return False
    if U.shape[1] == n + 1:
        return True
    raise ValueError(
        f"{name} must have {n} columns (no bias) or {n + 1} (bias last) to match V's {n} rows, "
        f"got shape {tuple(U.shape)}"
    )


def affine(U, V, *, bias=None, xp):
    """``Ũ Ṽ = U V + b 1ᵀ`` for ``Ũ = [U, b]`` (``bias=True``), or ``U V`` (``bias=False``).

    ``bias=None`` reads it from the shapes (:func:`has_bias`).
    """
    if bias is None:
        bias = has_bias(U, V)
    if not bias:
        return U @ V
    return U[:, :-1] @ V + U[:, -1:]


def split_bias(U, n, *, bias=None, xp):
    """``(U, b)`` from ``Ũ = [U, b]`` (``b`` of shape (rows, 1)); ``b`` is None without bias.

    ``bias=None`` reads it from the shapes (``U`` with ``n + 1`` columns has a bias).
    """
    if bias is None:
        bias = U.shape[1] == n + 1
    if not bias:
        return U, None
    return U[:, :n], U[:, n:]


def gram_tilde(V, *, bias, xp):
    """``Ṽ Ṽᵀ`` (or ``V Vᵀ`` without bias): ``[[V Vᵀ, V 1], [1ᵀ Vᵀ, m]]``."""
    G = V @ V.T
    if not bias:
        return G
    s = xp.sum(V, axis=1, keepdims=True)
    m = xp.full((1, 1), V.shape[1], dtype=V.dtype, device=_device(V))
    return xp.concat([xp.concat([G, s], axis=1), xp.concat([s.T, m], axis=1)], axis=0)


def cross_tilde(A, V, *, bias, xp):
    """``A Ṽᵀ = [A Vᵀ, A 1]`` (or ``A Vᵀ`` without bias)."""
    AVt = A @ V.T
    if not bias:
        return AVt
    return xp.concat([AVt, xp.sum(A, axis=1, keepdims=True)], axis=1)


def sq_norm(A, *, xp):
    """``‖A‖²_F`` as a 0-d array (stays on the device)."""
    return xp.sum(A * A)


def flush_subnormal(A, *, xp):
    """``A`` with its subnormal entries (``0 < |a| < finfo.smallest_normal``) set to zero.

    Adam's moment estimates of parameters whose gradient stays zero (dead units, always-zero
    input pixels) decay geometrically into the subnormal range, where x86 arithmetic is
    10–100× slower: on MNIST [1000, 500] a float32 backprop epoch slowed from 9 s to 25 s by
    the fourth epoch.  Flushing them (a change far below the update's resolution) keeps every
    epoch at full speed without touching the process-wide floating-point mode.
    """
    tiny = float(xp.finfo(A.dtype).smallest_normal)
    return xp.where(xp.abs(A) < tiny, xp.zeros((), dtype=A.dtype, device=_device(A)), A)


def row_major(A, *, xp):
    """``A`` in row-major (C-contiguous) layout: a copy only when it is not already.

    ``xp.take`` of mini-batch columns from a transposed view (``X.T`` of the user's
    ``(n_samples, n_features)`` array) makes NumPy copy the *whole* array to C order on every
    call: 6× slower backprop epochs on MNIST.  Flattening and reshaping back yields the
    row-major layout on every backend (a view when it already is); call it once per run.
    """
    return xp.reshape(xp.reshape(A, (-1,)), A.shape)


def allsum(reduce, *arrays, xp):
    """The sums over all processes of arrays that are sums over this process's samples.

    ``reduce`` is the all-reduce hook of data-parallel training
    (:class:`nmfdnn.distributed.Communicator`; ``reduce(x)`` returns ``Σ_k x^{(k)}`` over the
    ranks).  Several arrays travel in one message (flattened and concatenated), so a U-step
    costs one all-reduce for its Gram matrix and cross product together.  Callers skip this
    function when ``reduce`` is None (one process: no extra operation).

    Returns
    -------
    array or tuple of arrays
        One array for one input, else a tuple in the input order.
    """
    if len(arrays) == 1:
        return reduce(arrays[0])
    flat = reduce(xp.concat([xp.reshape(a, (-1,)) for a in arrays]))
    out, k = [], 0
    for a in arrays:
        n = 1
        for s in a.shape:
            n *= s
        out.append(xp.reshape(flat[k:k + n], a.shape))
        k += n
    return tuple(out)
