"""Initial weights: random (with random biases) or the NMF stacked autoencoder of §3
(original Algorithm 5).
"""

from __future__ import annotations

from array_api_compat import device as _device

from nmfdnn._linalg import solve_gram_right
from nmfdnn._ops import affine, allsum, cross_tilde, gram_tilde, relu
from nmfdnn.factorizations import (
    nmf_step,
    nonlinear_u_step,
    reduced_first_layer_step,
    semi_nmf_step,
)
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
    G, C = gram_tilde(Z, bias=bias, xp=xp), cross_tilde(Y, Z, bias=bias, xp=xp)
    if reduce is not None:
        G, C = allsum(reduce, G, C, xp=xp)
    return solve_gram_right(G, C, lam_w, xp=xp)


def _decoder_start(A, Z, *, reduce=None, xp):
    """Non-negative initial decoder: ``max(A Zᵀ (Z Zᵀ)⁺, 0)`` plus a small floor.

    The floor keeps every entry positive, so multiplicative updates can still move it.
    """
    G, C = Z @ Z.T, A @ Z.T
    if reduce is not None:
        G, C = allsum(reduce, G, C, xp=xp)
    D = relu(solve_gram_right(G, C, 0.0, xp=xp), xp=xp)
    return D + 1e-3 * (xp.max(D) + xp.finfo(D.dtype).eps)


def autoencoder_init(inputs, Y, sizes, *, bias, lam_w=0.0, n_samples=5000, iter_ae=5,
                     nmf_iter=10, inner_iter=1, rng, comm=None, partition=None, xp):
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

    and the output layer is the least-squares fit of ``Y`` on ``Z̃_{d−1}``.  The decoded
    layer is the actual output ``Z_{i−1}`` of the layers already initialized.  When the input
    has negative entries, the first decoder is fitted by semi-NMF (§1.1) instead of NMF
    (the decoder may then have any sign; ``Z_1 ≥ 0`` still).

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
    n_samples : int, default=5000
        ``s_ae``, the number of random samples (all if fewer).
    iter_ae : int, default=5
        Autoencoder iterations per layer (5 for MNIST, 20 for CIFAR-10 in the papers).
    nmf_iter : int, default=10
        Lee–Seung steps per autoencoder iteration.
    inner_iter : int, default=1
        U-steps per autoencoder iteration.
    rng : numpy.random.Generator
    comm : Communicator, optional
        Data-parallel initialization (:mod:`nmfdnn.distributed`): ``inputs`` (built with the
        same communicator) and ``Y`` hold this process's samples; the ``s_ae`` samples are
        drawn over the global sample numbers of ``partition`` (the same subset for any number
        of processes), each process keeps those it holds, and every sum over them is
        all-reduced.
    partition : Partition, optional
        Required with ``comm``.
    xp : namespace

    Returns
    -------
    list of arrays
        ``W̃_1 … W̃_d``.
    """
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
    X_sub = inputs.QS @ Vs
    if comm is None:
        nonneg_input = bool(xp.min(X_sub) >= 0)  # one host decision per run
    else:
        low_val = float(xp.min(X_sub)) if X_sub.shape[1] else float("inf")
        nonneg_input = comm.allreduce_scalar(low_val, op="min") >= 0
    Zprev = X_sub
    for j in range(len(sizes) - 2):  # paper layer i = j + 1
        Wi = W[j]

        def encode(Wi, j=j, Zprev=Zprev):
            if j == 0:
                W1r = reduce_first_layer(Wi, inputs.QS, bias=bias, xp=xp)
                return relu(affine(W1r, Vs, bias=bias, xp=xp), xp=xp)
            return relu(affine(Wi, Zprev, bias=bias, xp=xp), xp=xp)

        Zi = encode(Wi)
        D = _decoder_start(Zprev, Zi, reduce=comm, xp=xp)
        for _ in range(iter_ae):
            Zhat = Zi
            for _ in range(nmf_iter):
                if j == 0 and not nonneg_input:
                    D, Zhat = semi_nmf_step(Zprev, D, Zhat, reduce=comm, xp=xp)
                else:
                    D, Zhat = nmf_step(Zprev, D, Zhat, reduce=comm, xp=xp)
            for _ in range(inner_iter):
                if j == 0:
                    Wi = reduced_first_layer_step(Zhat, Wi, low, lam_w=lam_w, bias=bias,
                                                  reduce=comm, xp=xp)
                else:
                    Wi = nonlinear_u_step(Zhat, Wi, Zprev, lam_u=lam_w, bias=bias, reduce=comm,
                                          xp=xp)
            Zi = encode(Wi)
        W[j] = Wi
        Zprev = Zi
    W[-1] = output_layer_lstsq(Ys, Zprev, bias=bias, lam_w=lam_w, reduce=comm, xp=xp)
    return W
