"""Initial weights: random (with random biases) or the NMF stacked autoencoder of §3
(original Algorithm 5).
"""

from __future__ import annotations

import numbers

from array_api_compat import device as _device

from nmfdnn._linalg import gram_pinv, ridge_solve_right, solve_gram_right
from nmfdnn._ops import (
    affine,
    allsum,
    cross_tilde,
    gram_cross_centered,
    gram_tilde,
    neg,
    pos,
    relu,
)
from nmfdnn.factorizations import nmf_step, nonlinear_u_step, reduced_first_layer_step
from nmfdnn.training._layers import random_weights, reduce_first_layer

__all__ = ["autoencoder_init", "output_layer_lstsq"]


def output_layer_lstsq(Y, Z, *, bias, lam_w, reduce=None, xp):
    """Least-squares output layer ``W̃_d = Y Z̃ᵀ (Z̃ Z̃ᵀ + λ_W I)⁻¹`` (``(Z Zᵀ)⁺`` for λ_W = 0).

    Parameters
    ----------
    Y : array of shape (n_d, m)
    Z : array of shape (n_{d−1}, m)
    bias : bool
    lam_w : float
    reduce : callable, optional
        All-reduce hook when the columns are split among processes (:mod:`nmfdnn.distributed`).
    xp : namespace

    Returns
    -------
    array of shape (n_d, n_{d−1} + bias)
    """
    G, C = gram_cross_centered(Z, Y, bias=bias, xp=xp)  # in float64 for float32 data
    if reduce is not None:
        G, C = allsum(reduce, G, C, xp=xp)
    return solve_gram_right(G, C, lam_w, dtype=Z.dtype, xp=xp)


def _decoder_start(A, Z, *, reduce=None, xp):
    """Non-negative initial decoder: ``max(A Zᵀ (Z Zᵀ + δI)⁻¹, 0)`` plus a small floor.

    δ as in :func:`_decoder_solve`.  The floor keeps every entry positive, so multiplicative
    updates can still move it.
    """
    D = relu(_decoder_solve(A, Z, reduce=reduce, xp=xp), xp=xp)
    return D + 1e-3 * (xp.max(D) + xp.finfo(D.dtype).eps)


def _ridge_delta(G, *, xp):
    """Ridge ``δ = n·eps·tr(G)`` of a decoder solve: the counterpart of the pseudo-inverse's
    cut-off ``rcond² λ_max`` with ``rcond² = n·eps`` (``tr G ≥ λ_max``), so that
    ``cond(G + δI) ≤ 1 + 1/(n·eps)``.  A 0-d array on the device of ``G``.
    """
    n = G.shape[0]
    return (n * float(xp.finfo(G.dtype).eps)) * xp.sum(xp.linalg.diagonal(G))


def _decoder_solve(A, Z, *, reduce=None, xp):
    """Unconstrained decoder ``D = A Zᵀ (Z Zᵀ + δI)⁻¹`` (δ of :func:`_ridge_delta`); with
    ``reduce`` the two sums over samples are all-reduced (data-parallel runs)."""
    G, C = Z @ Z.T, A @ Z.T
    if reduce is not None:
        G, C = allsum(reduce, G, C, xp=xp)
    delta = _ridge_delta(G, xp=xp)
    return ridge_solve_right(G, C, delta * xp.ones_like(G[0, :]), xp=xp)


def _semi_nmf_code_steps(A, Z, n_steps, *, reduce=None, xp):
    """``n_steps`` semi-NMF iterations (§1.1) on ``A ≈ D Z`` with a short ``A`` (r × s).

    Each step solves the decoder ``D = A Zᵀ (Z Zᵀ + δI)⁻¹`` (a ridge solve of size n, not an
    eigendecomposition), then updates ``Z ≥ 0`` multiplicatively:

    .. math::

        Z ← Z ⊙ \\left[\\frac{(DᵀA)^+ + (DᵀD)^- Z}{(DᵀA)^- + (DᵀD)^+ Z + ε}\\right]^{1/2},
        \\qquad (DᵀD)^- Z = (DᵀD)^+ Z − Dᵀ(D Z)

    ``DᵀD`` has rank ≤ r, so ``(DᵀD)^- Z`` costs two thin products instead of a third
    n × n × s one.  Returns the updated ``Z``.
    """
    eps = float(xp.finfo(Z.dtype).eps)
    for _ in range(n_steps):
        D = _decoder_solve(A, Z, reduce=reduce, xp=xp)
        DtA = D.T @ A
        PZ = pos(D.T @ D, xp=xp) @ Z
        NZ = relu(PZ - D.T @ (D @ Z), xp=xp)
        Z = Z * xp.sqrt((pos(DtA, xp=xp) + NZ) / (neg(DtA, xp=xp) + PZ + eps))
    return Z


def _layer_iterations(iter_ae, n_hidden):
    """``iter_ae`` as one non-negative count per hidden layer (an int: the same for all)."""
    counts = [iter_ae] * n_hidden if isinstance(iter_ae, numbers.Integral) else list(iter_ae)
    if len(counts) != n_hidden:
        raise ValueError(f"iter_ae has {len(counts)} counts for {n_hidden} hidden layers")
    if not all(isinstance(c, numbers.Integral) and c >= 0 for c in counts):
        raise ValueError(f"iter_ae must be non-negative ints, got {iter_ae!r}")
    return [int(c) for c in counts]


def autoencoder_init(inputs, Y, sizes, *, bias, lam_w=0.0, n_samples=2000, iter_ae=5,
                     nmf_iter=2, inner_iter=1, rng, comm=None, partition=None, xp):
    """Initial weights from the NMF stacked autoencoder (ALGORITHMS.md §3).

    On ``s_ae`` random samples, for ``i = 1 … d−1`` with ``Z_0 = X``:

    .. math::

        &W̃_i \\text{ random}, \\quad Z_i = f(W̃_i Z̃_{i−1}) \\\\
        &\\text{repeat } iter_{ae} \\text{ times:} \\\\
        &\\quad [W_{dec}, Ẑ_i] ← \\text{NMF steps on } Z_{i−1} ≈ W_{dec} Z_i
            \\quad (W_{dec}, Z_i ≥ 0) \\\\
        &\\quad W̃_i ← \\text{nonlinear least squares } \\min ‖Ẑ_i − f(W̃_i Z̃_{i−1})‖
            \\ \\text{(Alg. 2 U-step, first layer in the reduced coordinates of §1.5)} \\\\
        &\\quad Z_i = f(W̃_i Z̃_{i−1})

    (``iter_ae`` may differ per layer; a layer with none keeps its random ``W̃_i``) and the
    output layer is the least-squares fit of ``Y`` on ``Z̃_{d−1}``.  The decoded
    layer is the actual output ``Z_{i−1}`` of the layers already initialized.  When the input
    has negative entries, the first decoder is fitted by semi-NMF (§1.1) instead of NMF
    (the decoder may then have any sign; ``Z_1 ≥ 0`` still).

    Cost.  The sampled input is the low-rank ``X_s = Q diag(σ) V_s`` (§1.5), so the first
    decoder lies in ``span(Q)``: ``W_{dec} = Q D′`` and ``‖X_s − Q D′ Z‖ = ‖diag(σ) V_s − D′ Z‖``.
    The first layer's semi-NMF therefore runs on the r × s matrix ``diag(σ) V_s`` (r = 91 on
    MNIST instead of 784 rows), its decoder solves are ridge solves
    ``D′ = A Zᵀ (Z Zᵀ + δI)⁻¹`` with ``δ = n·eps·tr(Z Zᵀ)`` (no eigendecomposition), and
    ``(D′ᵀD′)⁻ Z = (D′ᵀD′)⁺ Z − D′ᵀ(D′ Z)`` saves one n × n × s product per step.  The
    encoders of the hidden layers are ridge U-steps (:func:`nmfdnn.nonlinear_u_step`: the
    Gram matrix around its mean, in float64 for float32 data, as in training; with λ_W = 0
    the pseudo-inverse of the encoder's input is formed once per layer).  On MNIST
    [1000, 500] (2-core CPU) this took 4.2 s with 5000 samples and 3 NMF steps, about one
    epoch, where the direct form in the input coordinates took 21 s; with the defaults (2000
    samples, 2 NMF steps) it takes 1.8–2.2 s (docs/mnist.md, "Seventh round"), and about
    half of that with ``iter_ae=(0, 5)``, the estimators' "auto" (the first layer random).

    Parameters
    ----------
    inputs : LowRankInput
        Low-rank input of the whole training set.
    Y : array of shape (n_d, m)
        Targets.
    sizes : list of int
        ``[n_0, n_1, …, n_d]``.
    bias : bool
        Layers with bias (Algorithm 3) or without (the original scheme).
    lam_w : float, default=0.0
        Ridge weight of the encoder and output fits.
    n_samples : int, default=2000
        ``s_ae``, the number of random samples (all if fewer).  The papers used 5000; on
        MNIST and Fashion-MNIST 2000 train to the same test errors (docs/mnist.md, "Seventh
        round").
    iter_ae : int or sequence of int, default=5
        Autoencoder iterations per hidden layer (5 for MNIST, 20 for CIFAR-10 in the papers),
        or one count per hidden layer.  A layer with 0 iterations keeps its random weights,
        and the layers above it are initialized on its random ReLU features: on MNIST and
        Fashion-MNIST a random first layer under autoencoded upper layers trains to the same
        test errors as the full stack, in half the time (docs/mnist.md, "Eighth round").
    nmf_iter : int, default=2
        NMF steps (semi-NMF on a low-rank input with negative entries, Lee–Seung otherwise)
        per autoencoder iteration.  On MNIST [1000, 500] (seed 0, 5000 samples) 3 steps give
        the same initial test error as 10 (7.45 against 7.54 %, in 4.2 against 11.7 s), 1 step
        a worse one (8.91 %); with 2000 samples, 2 steps train to the same test errors as 3
        (docs/mnist.md, "Seventh round").
    inner_iter : int, default=1
        U-steps per autoencoder iteration.
    rng : numpy.random.Generator
    comm : Communicator, optional
        Data-parallel run (:mod:`nmfdnn.distributed`): ``inputs`` and ``Y`` hold this
        process's samples, the subset is drawn over the global sample numbers of
        ``partition`` and every sum over samples is all-reduced; every process gets the
        weights of one process holding all the samples.
    partition : Partition, optional
        Which global samples this process holds (required with ``comm``).
    xp : namespace

    Returns
    -------
    list of arrays
        ``W̃_1 … W̃_d``.
    """
    n_hidden = len(sizes) - 2
    iters = _layer_iterations(iter_ae, n_hidden)
    dev = _device(inputs.Vt)
    dtype = inputs.Vt.dtype
    m = inputs.n_samples if comm is None else partition.n_total
    s = min(int(n_samples), m)
    drawn = rng.choice(m, size=s, replace=False)
    if comm is not None:  # this process's members of the global subset
        drawn = partition.local_positions(drawn)
    sub = xp.asarray(drawn, device=dev)
    Vs = xp.take(inputs.Vt, sub, axis=1)
    Ys = xp.take(Y, sub, axis=1)
    W = random_weights(sizes, bias=bias, rng=rng, xp=xp, device=dev, dtype=dtype)
    low = inputs.with_columns(Vs)
    Zprev = X_sub = reduced = A1 = None
    if iters[0]:  # the first layer's decoder reads the sampled input itself
        X_sub = Zprev = inputs.QS @ Vs
        # one host decision per run: a low-rank input with negative entries (the usual case)
        # is decoded by semi-NMF in its r coordinates, ‖X_sub − Q D′ Z‖ = ‖diag(σ) Vs − D′ Z‖
        if comm is None:
            reduced = not bool(xp.min(X_sub) >= 0)
        else:
            low_val = float(xp.min(X_sub)) if X_sub.shape[1] else float("inf")
            reduced = comm.allreduce_scalar(low_val, op="min") < 0
        A1 = inputs.sigma[:, None] * Vs if reduced else X_sub
    for j in range(n_hidden):  # paper layer i = j + 1
        Wi = W[j]

        def encode(Wi, j=j, Zprev=Zprev):  # the pre-activation P and Z_i = f(P)
            if j == 0:
                W1r = reduce_first_layer(Wi, inputs.QS, bias=bias, xp=xp)
                P = affine(W1r, Vs, bias=bias, xp=xp)
            else:
                P = affine(Wi, Zprev, bias=bias, xp=xp)
            return P, relu(P, xp=xp)

        if not iters[j]:  # random weights kept: the next layer reads their features
            Zprev = encode(Wi)[1]
            continue
        if j > 0 and not lam_w:  # the original scheme (λ_W = 0): the encoder's input is
            G_prev = gram_tilde(Zprev, bias=bias, xp=xp)  # fixed within a layer, so its Gram
            if comm is not None:  # matrix and pseudo-inverse are formed once
                G_prev = comm(G_prev)
            G_prev_pinv = gram_pinv(G_prev, xp=xp)
        P, Zi = encode(Wi)
        if not (j == 0 and reduced):
            D = _decoder_start(Zprev, Zi, reduce=comm, xp=xp)
        for _ in range(iters[j]):
            if j == 0 and reduced:
                Zhat = _semi_nmf_code_steps(A1, Zi, nmf_iter, reduce=comm, xp=xp)
            else:
                Zhat = Zi
                for _ in range(nmf_iter):  # Lee–Seung: a non-negative input to decode
                    D, Zhat = nmf_step(Zprev, D, Zhat, reduce=comm, xp=xp)
            for k in range(inner_iter):  # the first U-step linearizes around encode's P
                if j == 0:
                    Wi = reduced_first_layer_step(Zhat, Wi, low, lam_w=lam_w, bias=bias,
                                                  reduce=comm, P=P if k == 0 else None, xp=xp)
                elif lam_w:  # the U-step of Alg. 2, Gram matrix around the mean in float64
                    Wi = nonlinear_u_step(Zhat, Wi, Zprev, lam_u=lam_w, bias=bias, reduce=comm,
                                          P=P if k == 0 else None, xp=xp)
                else:  # the same with the cached pseudo-inverse
                    if k > 0:
                        P = affine(Wi, Zprev, bias=bias, xp=xp)
                    T = Zhat + xp.clip(P, max=0.0)  # P + Ẑ − f(P)
                    B = cross_tilde(T, Zprev, bias=bias, xp=xp)
                    if comm is not None:
                        B = comm(B)
                    Wi = B @ G_prev_pinv
            P, Zi = encode(Wi)
        W[j] = Wi
        Zprev = Zi
    W[-1] = output_layer_lstsq(Ys, Zprev, bias=bias, lam_w=lam_w, reduce=comm, xp=xp)
    return W
