"""Tiny element-wise and bias helpers used by every solver (paper notation, data are columns).

The bias is folded in as in ALGORITHMS.md: ``Ũ = [U, b]``, ``Ṽ = [V; 1ᵀ]``, ``Ũ Ṽ = U V + b 1ᵀ``.
``Ṽ`` is never materialized: its Gram matrix and cross products are assembled from ``V``'s,
which saves a copy of the (n × m) block per product.
"""

from __future__ import annotations

from array_api_compat import device as _device

__all__ = ["relu", "pos", "neg", "has_bias", "affine", "gram_tilde", "cross_tilde",
           "gram_cross_centered", "wide_dtype", "split_bias", "sq_norm", "flush_subnormal",
           "row_major", "allsum"]


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


def wide_dtype(A, *, xp):
    """float64 for float32 ``A`` where its namespace and device compute in float64 (not JAX
    without x64, not Apple MPS), else ``A``'s own dtype."""
    if A.dtype != xp.float32:
        return A.dtype
    try:
        probe = xp.astype(xp.zeros((1,), dtype=A.dtype, device=_device(A)), xp.float64)
    except Exception:  # a device without float64
        return A.dtype
    return probe.dtype


def gram_cross_centered(V, T, *, bias, xp):
    """``Ṽ Ṽᵀ`` and ``T Ṽᵀ`` for a ridge solve, formed around the mean of ``V``'s columns and
    returned in :func:`wide_dtype` (float64 for float32 data).

    With ``μ = V 1 / m`` and ``V_c = V − μ 1ᵀ`` (``s = V_c 1 ≈ 0``):

    .. math::

        V Vᵀ = V_c V_cᵀ + s μᵀ + μ sᵀ + m μ μᵀ, \\qquad V 1 = s + m μ, \\qquad
        T Vᵀ = T V_cᵀ + (T 1) μᵀ

    The two products with the m samples (``V_c V_cᵀ``, ``T V_cᵀ``) stay in the working dtype;
    the rank-one parts and the sums are added in the wide dtype.  Why: the features of a ReLU
    layer have a large mean, so ``V Vᵀ`` is dominated by ``m μ μᵀ``, and float32 rounding of
    the order of ``eps·‖V Vᵀ‖`` — in the products and in storing the result — swamps its small
    eigenvalues and a ridge λ of 10⁻³.  The ridge solves then amplify that noise in the
    directions the data do not determine, and the over-relaxed updates (ω = 1.8) accumulate
    it: on Fashion-MNIST float32 training diverged after epoch 6 (13 → 89 % test error) where
    float64 improved every epoch.  Around the mean the rounding is relative to ``‖V_c V_cᵀ‖``,
    and the sums are exact to float64: the same run ends at 11.7 % (float64: 11.6 %;
    docs/mnist.md), for one more element-wise pass over ``V``.

    Parameters
    ----------
    V : array of shape (n, m)
    T : array of shape (k, m)
    bias : bool
        Whether ``Ṽ = [V; 1ᵀ]`` (else ``V``).
    xp : namespace

    Returns
    -------
    G : array of shape (n + bias, n + bias)
    C : array of shape (k, n + bias)
        In :func:`wide_dtype` of ``V``.
    """
    wide = wide_dtype(V, xp=xp)
    m = V.shape[1]
    if m:
        mu = xp.mean(V, axis=1, keepdims=True)
    else:  # a process without samples (data-parallel runs): zero sums
        mu = xp.zeros((V.shape[0], 1), dtype=V.dtype, device=_device(V))
    Vc = V - mu
    mu_w = xp.astype(mu, wide)
    s = xp.astype(xp.sum(Vc, axis=1, keepdims=True), wide)
    # s μᵀ + μ sᵀ + m μ μᵀ = [a, μ] [μ, a]ᵀ with a = s + (m/2) μ: one thin product, one pass
    a = s + (m / 2) * mu_w
    G = xp.astype(Vc @ Vc.T, wide) + xp.concat([a, mu_w], axis=1) @ xp.concat([mu_w, a], axis=1).T
    t1 = xp.astype(xp.sum(T, axis=1, keepdims=True), wide)
    C = xp.astype(T @ Vc.T, wide) + t1 @ mu_w.T
    if not bias:
        return G, C
    v1 = s + m * mu_w
    mm = xp.full((1, 1), m, dtype=wide, device=_device(V))
    G = xp.concat([xp.concat([G, v1], axis=1), xp.concat([v1.T, mm], axis=1)], axis=0)
    return G, xp.concat([C, t1], axis=1)


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
