"""Shared pieces of the trainers: the forward pass, initial weights, and the input block.

Paper notation (ALGORITHMS.md): data are columns, ``W`` is a list of the layer matrices
``W̃_i = [W_i, b_i]`` of shape ``(n_i, n_{i−1} + 1)`` (or ``W_i`` of shape ``(n_i, n_{i−1})``
without bias).  Paper layer ``i`` is list index ``i − 1``.

The input of the first layer is always the low-rank approximation of §1.5,
``X_J ≈ Q diag(σ) V_J``, and the first layer is evaluated in the reduced coordinates:
``W_1 X_J = (W_1 Q diag(σ)) V_J``, an (n_1 × r)(r × s) product instead of (n_1 × n_0)(n_0 × s).
"""

from __future__ import annotations

import importlib

import array_api_compat

from nmfdnn._host import random_normal
from nmfdnn._ops import affine, relu

__all__ = [
    "InputBlock",
    "forward",
    "maybe_jit",
    "predict_columns",
    "random_weights",
    "reduce_first_layer",
]


def maybe_jit(step, xp):
    """``jax.jit(step)`` when ``xp`` is JAX (the mini-batch step is a pure function of arrays
    with static shapes), ``step`` itself otherwise.  JAX is imported by name, only when its
    namespace is already in use."""
    if array_api_compat.is_jax_namespace(xp):
        return importlib.import_module("jax").jit(step)
    return step


class InputBlock:
    """The low-rank input of §1.5 in the form the trainers use it.

    ``X ≈ Q diag(σ) Vt``; ``QS = Q diag(σ)`` is kept so that the first-layer pre-activation of
    a mini-batch is ``(W_1 QS) V_J + b_1``.

    Parameters
    ----------
    lowrank : LowRankInput
        From :func:`nmfdnn.lowrank_approximation`.
    """

    def __init__(self, lowrank):
        self.Q = lowrank.Q
        self.sigma = lowrank.sigma
        self.Vt = lowrank.Vt
        self.QS = lowrank.Q * lowrank.sigma[None, :]

    @property
    def rank(self):
        return self.sigma.shape[0]

    @property
    def n_samples(self):
        return self.Vt.shape[1]


def reduce_first_layer(W1, QS, *, xp):
    """``W̃_1 ↦ [W_1 Q diag(σ), b_1]`` (n_1 × (r + 1)) or ``W_1 Q diag(σ)`` without bias."""
    n0 = QS.shape[0]
    W1r = W1[:, :n0] @ QS
    if W1.shape[1] == n0 + 1:
        return xp.concat([W1r, W1[:, n0:]], axis=1)
    return W1r


def forward(W, V0, W1_reduced, *, xp):
    """Hidden outputs of the network on the reduced input ``V0`` (columns of ``V1ᵀ``).

    .. math::

        Z_1 = f(W̃_{1r} Ṽ_0), \\qquad Z_i = f(W̃_i Z̃_{i−1}) \\quad (i = 2 … d−1)

    Parameters
    ----------
    W : list of arrays
        Layer matrices (paper ``W̃_1 … W̃_d``); only the first ``d − 1`` are used.
    V0 : array of shape (r, s)
        Reduced input coordinates ``V_J``.
    xp : namespace
    W1_reduced : array
        ``W̃_{1r}`` from :func:`reduce_first_layer`.

    Returns
    -------
    list of arrays
        ``[Z_1, …, Z_{d−1}]`` (each ``n_i × s``, non-negative).
    """
    Z = [relu(affine(W1_reduced, V0, xp=xp), xp=xp)]
    for Wi in W[1:-1]:
        Z.append(relu(affine(Wi, Z[-1], xp=xp), xp=xp))
    return Z


def predict_columns(W, X, *, xp):
    """Network output ``W̃_d Z̃_{d−1}`` on full inputs ``X`` (n_0 × m, columns)."""
    Z = X
    for Wi in W[:-1]:
        Z = relu(affine(Wi, Z, xp=xp), xp=xp)
    return affine(W[-1], Z, xp=xp)


def random_weights(sizes, *, bias, rng, xp, device, dtype):
    """Random layer matrices: every entry (weights and biases) ``N(0, 2/n_{i−1})``.

    Biases are drawn like the weights (ALGORITHMS.md §2, "Initialization matters": zero
    biases leave a ReLU layer on a 1-D input linear and the updates barely move them).

    Parameters
    ----------
    sizes : sequence of int
        ``[n_0, n_1, …, n_d]``.
    bias : bool
        Append a bias column to every matrix.
    rng : numpy.random.Generator
        Host generator (the draws are made there and moved once per matrix).
    xp, device, dtype
        Target namespace, device and dtype.

    Returns
    -------
    list of arrays
        ``W̃_i`` of shape ``(n_i, n_{i−1} + bias)``.
    """
    W = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W.append(
            random_normal((n_out, n_in + int(bias)), rng=rng, scale=(2.0 / n_in) ** 0.5, xp=xp,
                          device=device, dtype=dtype)
        )
    return W
