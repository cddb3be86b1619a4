"""Weakly non-negative factorization (Kobayashi & Watanabe; ALGORITHMS.md §6), data as columns.

Non-negativity is reparametrized by the leaky ReLU ``φη(A) = max(A, ηA)`` and the unconstrained
objective

.. math::

    \\min_{W,H}\\; ℓ(X, φη(W) φη(H)) + λ(‖W‖²_F + ‖H‖²_F)                          (9)

is minimized end to end by AdamW on mini-batches of columns of ``H`` (and the matching columns
of ``X``), with hand-written gradients.  Three models share the loop:

- shallow (9): ``X ≈ φη(W) φη(H)``;
- deep (11): ``X ≈ φη(W_L) ⋯ φη(W_1) φη(H_1)`` (a list of ``W``; the shallow model is L = 1);
- deconvolutional (12): each image ``X⁽ⁱ⁾ (h×w) ≈ φη(W) *ₛᵀ φη(H⁽ⁱ⁾)``, a transposed
  convolution with stride ``s`` of the shared ``(h/s) × (w/s) × r`` factor images by per-image
  ``2s × 2s × r`` kernels, written as one GEMM over all images of a batch (reshapes, zero-padded
  shifts and a matmul; no backend convolution).

Layouts.  ``W`` (shallow/deep): list of arrays, paper ``W_l`` = list index ``l − 1``, shape
``(r_{l+1}, r_l)`` with ``r_{L+1} = m``.  ``H``: ``(r_1, n)``.  Deconvolutional: ``W`` of shape
``(h/s, w/s, r)`` and ``H`` of shape ``(4r, s², n)`` where row ``(dy, dx, c)`` and column
``(ty, tx)`` hold the kernel entry ``H⁽ⁱ⁾[dy·s + ty, dx·s + tx, c]`` (``dy, dx ∈ {0, 1}``).
The sample axis of ``H`` is always the last one.
"""

from __future__ import annotations

from array_api_compat import device as _device
from sklearn.utils import gen_batches

from nmfdnn._array_api import get_namespace
from nmfdnn._host import check_random_state, random_uniform
from nmfdnn._ops import row_major
from nmfdnn._optim import adam_update
from nmfdnn._validation import (
    check_matrix,
    check_nonnegative_scalar,
    check_positive_int,
)

__all__ = [
    "leaky_relu",
    "leaky_relu_grad",
    "weak_nmf_objective",
    "weak_nmf_grad",
    "deconv_transpose",
    "deconv_objective",
    "deconv_grad",
    "weak_nmf_init",
    "deconv_init",
    "weak_nmf_train",
    "eta_schedule",
    "LOSSES",
]

LOSSES = ("l1", "l2")


# --------------------------------------------------------------------------- element-wise parts
def leaky_relu(A, eta, *, xp):
    """The leaky ReLU ``φη(A) = max(A, ηA)``, element-wise.

    Parameters
    ----------
    A : array
    eta : float
        Slope η on the negative part, ``0 ≤ η ≤ 1`` (η = 0: ReLU, η = 1: the identity).
    xp : namespace

    Returns
    -------
    array
        Same shape, dtype and device as ``A``.
    """
    return xp.where(A >= 0, A, eta * A)


def leaky_relu_grad(A, eta, *, xp):
    """``φη'(A)``: 1 where ``A ≥ 0``, η elsewhere."""
    one = xp.ones((), dtype=A.dtype, device=_device(A))
    return xp.where(A >= 0, one, eta * one)


def _loss_and_grad(P, X, loss, *, xp):
    """``ℓ(X, P)`` (0-d) and ``G = ∂ℓ/∂P``: L1 ``Σ|P − X|``, ``sign(P − X)``; L2 ``½Σ(P − X)²``,
    ``P − X``."""
    E = P - X
    if loss == "l1":
        return xp.sum(xp.abs(E)), xp.sign(E)
    return 0.5 * xp.sum(E * E), E


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


# --------------------------------------------------------------------------- shallow and deep
def _forward(Ws, H, eta, *, xp):
    """``Z_0 = φη(H)``, ``Z_l = φη(W_l) Z_{l−1}``; returns the list ``[Z_0, …, Z_L]``."""
    Zs = [leaky_relu(H, eta, xp=xp)]
    for W in Ws:
        Zs.append(leaky_relu(W, eta, xp=xp) @ Zs[-1])
    return Zs


def weak_nmf_objective(X, Ws, H, *, eta=0.1, lam=0.1, loss="l1", xp=None):
    """Objective (9)/(11) on the columns given: ``ℓ(X, φη(W_L)⋯φη(W_1)φη(H)) + λ Σ‖·‖²_F``.

    Parameters
    ----------
    X : array of shape (m, b)
    Ws : list of arrays
        ``[W_1, …, W_L]`` (paper ``W_l`` = list index ``l − 1``), ``W_l`` of shape
        ``(r_{l+1}, r_l)``, ``r_{L+1} = m``. One element for the shallow model (9).
    H : array of shape (r_1, b)
    eta : float, default=0.1
    lam : float, default=0.1
        λ, on every factor.
    loss : {"l1", "l2"}, default="l1"
        ``Σ|P − X|`` or ``½Σ(P − X)²``.
    xp : namespace, optional

    Returns
    -------
    0-d array
    """
    xp = get_namespace(X, H, xp=xp)
    value, _ = _loss_and_grad(_forward(Ws, H, eta, xp=xp)[-1], X, loss, xp=xp)
    if lam:
        value = value + lam * (sum(xp.sum(W * W) for W in Ws) + xp.sum(H * H))
    return value


def weak_nmf_grad(X, Ws, H, *, eta=0.1, lam=0.1, loss="l1", xp=None):
    """Objective (9)/(11) and its gradients, by hand (reverse mode through the chain).

    With ``Z_0 = φη(H)``, ``Z_l = φη(W_l) Z_{l−1}``, ``P = Z_L`` and ``G_L = ∂ℓ/∂P``
    (``sign(P − X)`` for L1, ``P − X`` for L2):

    .. math::

        ∂/∂W_l = (G_l Z_{l−1}ᵀ) ⊙ φη'(W_l) + 2λW_l, \\qquad G_{l−1} = φη(W_l)ᵀ G_l,
        \\qquad ∂/∂H = G_0 ⊙ φη'(H) + 2λH

    (for L = 1 exactly the gradients of ALGORITHMS.md §6).

    Parameters
    ----------
    X : array of shape (m, b)
    Ws : list of arrays
        ``[W_1, …, W_L]``, ``W_l`` of shape ``(r_{l+1}, r_l)`` (see :func:`weak_nmf_objective`).
    H : array of shape (r_1, b)
    eta : float, default=0.1
    lam : float, default=0.1
        λ, on every factor.
    loss : {"l1", "l2"}, default="l1"
    xp : namespace, optional

    Returns
    -------
    value : 0-d array
        The objective at ``(Ws, H)``.
    grad_Ws : list of arrays
        Same shapes as ``Ws``.
    grad_H : array
        Same shape as ``H``.
    """
    xp = get_namespace(X, H, xp=xp)
    Zs = _forward(Ws, H, eta, xp=xp)
    value, G = _loss_and_grad(Zs[-1], X, loss, xp=xp)
    grads = [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        W = Ws[i]
        grads[i] = (G @ Zs[i].T) * leaky_relu_grad(W, eta, xp=xp)
        G = leaky_relu(W, eta, xp=xp).T @ G
    gH = G * leaky_relu_grad(H, eta, xp=xp)
    if lam:
        value = value + lam * (sum(xp.sum(W * W) for W in Ws) + xp.sum(H * H))
        grads = [g + (2 * lam) * W for g, W in zip(grads, Ws, strict=True)]
        gH = gH + (2 * lam) * H
    return value, grads, gH


# --------------------------------------------------------------------------- deconvolution
def _shift_pad(W, dy, dx, *, xp):
    """``W`` (p, q, r) zero-padded to (p+1, q+1, r) with its content moved by (dy, dx)."""
    p, q, r = W.shape
    dev = _device(W)
    zrow = xp.zeros((1, q, r), dtype=W.dtype, device=dev)
    W = xp.concat([zrow, W] if dy else [W, zrow], axis=0)
    zcol = xp.zeros((p + 1, 1, r), dtype=W.dtype, device=dev)
    return xp.concat([zcol, W] if dx else [W, zcol], axis=1)


def _stacked_shifts(F, *, xp):
    """``[F shifted by (dy, dx)]`` for (dy, dx) ∈ {0,1}², as one ``((p+1)(q+1), 4r)`` matrix
    whose column ``(dy, dx, c)`` is channel ``c`` of the shift."""
    p, q, r = F.shape
    parts = [_shift_pad(F, dy, dx, xp=xp) for dy in (0, 1) for dx in (0, 1)]
    S = xp.stack(parts, axis=2)  # (p+1, q+1, 4, r)
    return xp.reshape(S, ((p + 1) * (q + 1), 4 * r))


def deconv_transpose(F, K, *, stride, xp=None):
    """Transposed convolution ``F *ₛᵀ K`` of shared factor images by per-image kernels.

    .. math::

        Y⁽ⁱ⁾[y, x] = Σ_c Σ_{p,q} F[p, q, c]\\; K⁽ⁱ⁾[y + s/2 − p s,\\; x + s/2 − q s,\\; c]

    (kernel ``2s × 2s``, stride ``s``, padding ``⌊s/2⌋``: an ``(h/s) × (w/s)`` image becomes
    ``h × w``, as PyTorch's ``ConvTranspose2d(r, 1, 2s, stride=s, padding=s/2)`` for even ``s``).
    Each output pixel sees 2 × 2 input positions, so with ``ky = dy·s + ty`` the whole batch is
    one GEMM ``[F shifted by (dy, dx)]_{(dy,dx,c)} @ K`` followed by reshapes and a crop.

    Parameters
    ----------
    F : array of shape (p, q, r)
        Factor images ``φη(W)`` (``p = h/s``, ``q = w/s``).
    K : array of shape (4r, s², b)
        Kernels ``φη(H⁽ⁱ⁾)`` in the layout of the module docstring.
    stride : int
        ``s``.
    xp : namespace, optional

    Returns
    -------
    array of shape (h·w, b)
        One row-major image per column.
    """
    xp = get_namespace(F, K, xp=xp)
    s = stride
    p, q, r = F.shape
    b = K.shape[-1]
    Y = _stacked_shifts(F, xp=xp) @ xp.reshape(K, (4 * r, s * s * b))  # ((p+1)(q+1), s² b)
    Y = xp.reshape(Y, (p + 1, q + 1, s, s, b))
    Y = xp.permute_dims(Y, (0, 2, 1, 3, 4))
    Y = xp.reshape(Y, ((p + 1) * s, (q + 1) * s, b))
    o = s // 2
    Y = Y[o:o + p * s, o:o + q * s, :]
    return xp.reshape(Y, (p * s * q * s, b))


def _deconv_adjoint(G, F, K, *, stride, xp):
    """Gradients of ``⟨G, F *ₛᵀ K⟩`` with respect to ``F`` and ``K`` (same shapes)."""
    s = stride
    p, q, r = F.shape
    b = K.shape[-1]
    h, w = p * s, q * s
    o = s // 2
    dev = _device(G)
    Gi = xp.reshape(G, (h, w, b))
    # un-crop: zero-pad to ((p+1)s, (q+1)s, b)
    Gi = xp.concat([xp.zeros((o, w, b), dtype=G.dtype, device=dev), Gi,
                    xp.zeros((s - o, w, b), dtype=G.dtype, device=dev)], axis=0)
    Gi = xp.concat([xp.zeros((h + s, o, b), dtype=G.dtype, device=dev), Gi,
                    xp.zeros((h + s, s - o, b), dtype=G.dtype, device=dev)], axis=1)
    Gi = xp.reshape(Gi, (p + 1, s, q + 1, s, b))
    Gi = xp.permute_dims(Gi, (0, 2, 1, 3, 4))
    Gm = xp.reshape(Gi, ((p + 1) * (q + 1), s * s * b))
    S = _stacked_shifts(F, xp=xp)
    gK = xp.reshape(S.T @ Gm, K.shape)
    gS = xp.reshape(Gm @ xp.reshape(K, (4 * r, s * s * b)).T, (p + 1, q + 1, 4, r))
    gF = None
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        part = gS[dy:dy + p, dx:dx + q, k, :]
        gF = part if gF is None else gF + part
    return gF, gK


def deconv_objective(X, W, H, *, stride, eta=0.1, lam=0.1, loss="l1", xp=None):
    """Objective of (12): ``Σ_i ℓ(X⁽ⁱ⁾, φη(W) *ₛᵀ φη(H⁽ⁱ⁾)) + λ(‖W‖² + ‖H‖²)``.

    Parameters
    ----------
    X : array of shape (h·w, b)
        Row-major images as columns.
    W : array of shape (h/s, w/s, r)
        Shared factor images (before ``φη``).
    H : array of shape (4r, s², b)
        Per-image kernels (before ``φη``), in the layout of the module docstring.
    stride : int
        ``s``.
    eta : float, default=0.1
    lam : float, default=0.1
    loss : {"l1", "l2"}, default="l1"
    xp : namespace, optional

    Returns
    -------
    0-d array
    """
    xp = get_namespace(X, W, H, xp=xp)
    P = deconv_transpose(leaky_relu(W, eta, xp=xp), leaky_relu(H, eta, xp=xp), stride=stride,
                         xp=xp)
    value, _ = _loss_and_grad(P, X, loss, xp=xp)
    if lam:
        value = value + lam * (xp.sum(W * W) + xp.sum(H * H))
    return value


def deconv_grad(X, W, H, *, stride, eta=0.1, lam=0.1, loss="l1", xp=None):
    """Objective (12) and its gradients with respect to ``W`` and ``H``.

    .. math::

        ∂/∂W = (∂_F ⟨G, F *ₛᵀ K⟩) ⊙ φη'(W) + 2λW, \\qquad
        ∂/∂H = (∂_K ⟨G, F *ₛᵀ K⟩) ⊙ φη'(H) + 2λH

    with ``F = φη(W)``, ``K = φη(H)``, ``G = ∂ℓ/∂P``; the adjoints of the transposed
    convolution are the transposed GEMMs ``Sᵀ G`` and ``G Kᵀ`` (then summed back over the
    four shifts).

    Parameters
    ----------
    X : array of shape (h·w, b)
        Row-major images as columns.
    W : array of shape (h/s, w/s, r)
        Shared factor images (before ``φη``).
    H : array of shape (4r, s², b)
        Per-image kernels (before ``φη``), in the layout of the module docstring.
    stride : int
        ``s``.
    eta : float, default=0.1
    lam : float, default=0.1
    loss : {"l1", "l2"}, default="l1"
    xp : namespace, optional

    Returns
    -------
    value : 0-d array
    grad_W : array of shape (h/s, w/s, r)
    grad_H : array of shape (4r, s², b)
    """
    xp = get_namespace(X, W, H, xp=xp)
    F, K = leaky_relu(W, eta, xp=xp), leaky_relu(H, eta, xp=xp)
    value, G = _loss_and_grad(deconv_transpose(F, K, stride=stride, xp=xp), X, loss, xp=xp)
    gF, gK = _deconv_adjoint(G, F, K, stride=stride, xp=xp)
    gW = gF * leaky_relu_grad(W, eta, xp=xp)
    gH = gK * leaky_relu_grad(H, eta, xp=xp)
    if lam:
        value = value + lam * (xp.sum(W * W) + xp.sum(H * H))
        gW = gW + (2 * lam) * W
        gH = gH + (2 * lam) * H
    return value, gW, gH


# --------------------------------------------------------------------------- initialization
def _he_uniform(shape, fan_in, *, rng, xp, device, dtype):
    bound = (6.0 / fan_in) ** 0.5
    return random_uniform(shape, rng=rng, low=-bound, high=bound, xp=xp, device=device,
                          dtype=dtype)


def weak_nmf_init(m, n, ranks, *, random_state=None, xp, device=None, dtype):
    """He-uniform initial factors (with negatives) for (9)/(11).

    Entries are ``U(−√(6/r), √(6/r))`` with ``r`` the inner (fan-in) dimension of each product:
    ``r_l`` for ``W_l`` and ``r_1`` for ``H``.  Drawn on the host, moved once.

    Parameters
    ----------
    m, n : int
        Features and samples of ``X``.
    ranks : sequence of int
        ``[r_1, …, r_L]``; one rank for the shallow model.

    Returns
    -------
    Ws : list of arrays (``W_l`` of shape (r_{l+1}, r_l))
    H : array of shape (r_1, n)
    """
    rng = check_random_state(random_state)
    dims = list(ranks) + [m]
    Ws = [
        _he_uniform((dims[i + 1], dims[i]), dims[i], rng=rng, xp=xp, device=device, dtype=dtype)
        for i in range(len(ranks))
    ]
    H = _he_uniform((dims[0], n), dims[0], rng=rng, xp=xp, device=device, dtype=dtype)
    return Ws, H


def deconv_init(shape, n, rank, stride, *, random_state=None, xp, device=None, dtype):
    """He-uniform initial ``W`` (h/s, w/s, r) and ``H`` (4r, s², n) for (12) (fan-in ``4r``,
    the number of terms per output pixel)."""
    h, w = shape
    s = stride
    rng = check_random_state(random_state)
    W = _he_uniform((h // s, w // s, rank), 4 * rank, rng=rng, xp=xp, device=device,
                    dtype=dtype)
    H = _he_uniform((4 * rank, s * s, n), 4 * rank, rng=rng, xp=xp, device=device, dtype=dtype)
    return W, H


# --------------------------------------------------------------------------- training loop
def eta_schedule(eta, n_epochs):
    """Per-epoch η: a constant, or ``"curriculum"`` (linear from 1 at the first epoch to 0 at
    the last, §6)."""
    if eta == "curriculum":
        if n_epochs == 1:
            return [0.0]
        return [1.0 - e / (n_epochs - 1) for e in range(n_epochs)]
    eta = check_nonnegative_scalar(eta, "eta")
    if eta > 1:
        raise ValueError(f"eta must be in [0, 1] or 'curriculum', got {eta}")
    return [eta] * n_epochs


def weak_nmf_train(
    X,
    Ws,
    H,
    *,
    eta=0.1,
    lam=0.1,
    loss="l1",
    n_epochs=100,
    batch_size=100,
    lr=1e-3,
    betas=(0.9, 0.999),
    adam_eps=1e-8,
    decoupled=True,
    stride=None,
    update_w=True,
    random_state=None,
    check_input=True,
    xp=None,
):
    """Train a weakly non-negative factorization by AdamW on mini-batches of columns.

    Each epoch draws a fresh permutation of the ``n`` samples (on the host, one transfer); the
    columns of ``H`` and of its Adam moments are permuted once, the mini-batches are contiguous
    slices of them, and the updated slices are concatenated and un-permuted at the end of the
    epoch (no scatter, no per-sample loop).  ``W`` takes one AdamW step per mini-batch; each
    column of ``H`` one per epoch (its bias-correction step count is the epoch number).

    Regularization: with ``decoupled=True`` (default) λ is AdamW's decoupled weight decay
    ``θ ← θ(1 − lr·λ)`` (PyTorch ``AdamW(weight_decay=λ)``), and the gradient is that of ``ℓ``
    alone; with ``decoupled=False`` the gradient is that of the full objective (9), ``+2λθ``,
    and Adam has no decay.  The first is invariant to the scale of ``ℓ``.

    Parameters
    ----------
    X : array of shape (m, n)
        Data, one column per sample (``m = h·w`` row-major pixels for the deconvolution).
    Ws : list of arrays, or an array of shape (h/s, w/s, r) when ``stride`` is given
        Initial factor(s) (see :func:`weak_nmf_init`, :func:`deconv_init`).
    H : array of shape (r_1, n), or (4r, s², n) when ``stride`` is given
    eta : float in [0, 1] or "curriculum", default=0.1
    lam : float, default=0.1
    loss : {"l1", "l2"}, default="l1"
    n_epochs, batch_size : int
    lr : float, default=1e-3
    betas : (float, float), default=(0.9, 0.999)
    adam_eps : float, default=1e-8
    decoupled : bool, default=True
    stride : int or None
        ``s`` of the deconvolutional model (12); None for (9)/(11).
    update_w : bool, default=True
        False holds the ``W`` factor(s) fixed and fits only ``H`` (a ``transform``).
    random_state : None, int or numpy Generator
        Order of the mini-batches.
    check_input : bool, default=True
        Check ``X`` (2-D, finite: a full pass and a host synchronization); ``False`` when the
        caller has validated it already.
    xp : namespace, optional

    Returns
    -------
    Ws : list of arrays (or the array ``W`` for the deconvolution)
    H : array
    losses : list of 0-d arrays
        Mean over the epoch's mini-batches of the batch objective (on the device).
    """
    deconv = stride is not None
    xp = get_namespace(X, H, xp=xp)
    if check_input:
        check_matrix(X, "X", xp=xp)
    _check_loss(loss)
    n_epochs = check_positive_int(n_epochs, "n_epochs", minimum=0)
    lam = check_nonnegative_scalar(lam, "lam")
    etas = eta_schedule(eta, n_epochs)
    n = X.shape[1]
    if H.shape[-1] != n:
        raise ValueError(f"H has {H.shape[-1]} samples but X has {n} columns")
    b = check_positive_int(batch_size, "batch_size", maximum=None)
    b = min(b, n)
    rng = check_random_state(random_state)
    dev = _device(X)
    X = row_major(X, xp=xp)  # xp.take of columns from a transposed view copies all of X
    beta1, beta2 = betas
    params = [Ws] if deconv else list(Ws)
    mW = [xp.zeros_like(W) for W in params]
    vW = [xp.zeros_like(W) for W in params]
    mH, vH = xp.zeros_like(H), xp.zeros_like(H)
    grad_lam = 0.0 if decoupled else lam
    wd = lam if decoupled else 0.0
    batches = list(gen_batches(n, b))
    losses = []
    t_w = 0
    for epoch in range(n_epochs):
        e = etas[epoch]
        perm_host = rng.permutation(n)
        perm = xp.asarray(perm_host, device=dev)
        inv = xp.asarray(perm_host.argsort(), device=dev)
        Hp, mHp, vHp = (xp.take(A, perm, axis=H.ndim - 1) for A in (H, mH, vH))
        blocks, mblocks, vblocks = [], [], []
        total = None
        for J in batches:
            XJ = xp.take(X, perm[J], axis=1)
            HJ = Hp[..., J]
            if deconv:
                value, gW, gH = deconv_grad(XJ, params[0], HJ, stride=stride, eta=e,
                                            lam=grad_lam, loss=loss, xp=xp)
                gWs = [gW]
            else:
                value, gWs, gH = weak_nmf_grad(XJ, params, HJ, eta=e, lam=grad_lam, loss=loss,
                                               xp=xp)
            t_w += 1
            for i in range(len(params) if update_w else 0):
                params[i], mW[i], vW[i] = adam_update(
                    params[i], gWs[i], mW[i], vW[i], t_w, lr=lr, beta1=beta1, beta2=beta2,
                    eps=adam_eps, weight_decay=wd, xp=xp)
            HJ, mJ, vJ = adam_update(HJ, gH, mHp[..., J], vHp[..., J], epoch + 1, lr=lr,
                                    beta1=beta1, beta2=beta2, eps=adam_eps, weight_decay=wd,
                                    xp=xp)
            blocks.append(HJ)
            mblocks.append(mJ)
            vblocks.append(vJ)
            total = value if total is None else total + value
        axis = H.ndim - 1
        H = xp.take(xp.concat(blocks, axis=axis), inv, axis=axis)
        mH = xp.take(xp.concat(mblocks, axis=axis), inv, axis=axis)
        vH = xp.take(xp.concat(vblocks, axis=axis), inv, axis=axis)
        losses.append(total / len(batches))
    return (params[0] if deconv else params), H, losses
