"""The network the trainers share: the forward pass (full and in reduced coordinates) and the
random initial weights.

Paper notation (ALGORITHMS.md): data are columns, ``W`` is a list of the layer matrices
``W̃_i = [W_i, b_i]`` of shape ``(n_i, n_{i−1} + 1)`` (or ``W_i`` of shape ``(n_i, n_{i−1})``
without bias).  Paper layer ``i`` is list index ``i − 1``.

The input of the first layer is always the low-rank approximation of §1.5,
``X_J ≈ Q diag(σ) V_J``, and the first layer is evaluated in the reduced coordinates:
``W_1 X_J = (W_1 Q diag(σ)) V_J``, an (n_1 × r)(r × s) product instead of (n_1 × n_0)(n_0 × s).
"""

from __future__ import annotations

from nmfdnn._host import random_normal
from nmfdnn._ops import affine, relu

__all__ = [
    "forward",
    "hidden_features",
    "predict_columns",
    "random_weights",
    "reduce_first_layer",
]


def reduce_first_layer(W1, QS, *, bias, xp):
    """``W̃_1 ↦ [W_1 Q diag(σ), b_1]`` (n_1 × (r + 1)), or ``W_1 Q diag(σ)`` without bias.

    Parameters
    ----------
    W1 : array of shape (n_1, n_0 + bias)
    QS : array of shape (n_0, r)
        ``Q diag(σ)`` of the low-rank input (:attr:`nmfdnn.LowRankInput.QS`).
    bias : bool
    xp : namespace

    Returns
    -------
    array of shape (n_1, r + bias)
    """
    n0 = QS.shape[0]
    W1r = W1[:, :n0] @ QS
    if bias:
        return xp.concat([W1r, W1[:, n0:]], axis=1)
    return W1r


def forward(W, V0, W1_reduced, *, bias, preactivations=False, xp):
    """Hidden outputs of the network on the reduced input ``V0`` (columns of ``V1ᵀ``).

    .. math::

        Z_1 = f(W̃_{1r} Ṽ_0), \\qquad Z_i = f(W̃_i Z̃_{i−1}) \\quad (i = 2 … d−1)

    Parameters
    ----------
    W : list of arrays
        Layer matrices (paper ``W̃_1 … W̃_d``); only the first ``d − 1`` are used.
    V0 : array of shape (r, s)
        Reduced input coordinates ``V_J``.
    W1_reduced : array
        ``W̃_{1r}`` from :func:`reduce_first_layer`.
    bias : bool
        Whether the layers carry a bias column.
    preactivations : bool, default=False
        Also return the pre-activations ``P_i`` (``Z_i = f(P_i)``), which the U-steps of the
        same weights linearize around: the trainers pass them on instead of computing them
        again (one GEMM with the mini-batch per layer).
    xp : namespace

    Returns
    -------
    Z : list of arrays
        ``[Z_1, …, Z_{d−1}]`` (each ``n_i × s``, non-negative).
    P : list of arrays
        ``[P_1, …, P_{d−1}]``; only with ``preactivations=True``.
    """
    P = [affine(W1_reduced, V0, bias=bias, xp=xp)]
    Z = [relu(P[0], xp=xp)]
    for Wi in W[1:-1]:
        P.append(affine(Wi, Z[-1], bias=bias, xp=xp))
        Z.append(relu(P[-1], xp=xp))
    return (Z, P) if preactivations else Z


def hidden_features(W, X, *, bias=None, xp):
    """Last hidden layer ``Z_{d−1} = f(W̃_{d−1} ⋯ f(W̃_1 X̃))`` on full inputs ``X`` (columns).

    Parameters
    ----------
    W : list of arrays
        ``W̃_1 … W̃_d``; only the first ``d − 1`` are used.
    X : array of shape (n_0, m)
    bias : bool, optional
        Default: read from the shapes.
    xp : namespace

    Returns
    -------
    array of shape (n_{d−1}, m)
    """
    Z = X
    for Wi in W[:-1]:
        Z = relu(affine(Wi, Z, bias=bias, xp=xp), xp=xp)
    return Z


def predict_columns(W, X, *, bias=None, xp):
    """Network output ``W̃_d Z̃_{d−1}`` on full inputs ``X`` (n_0 × m, columns).

    Parameters
    ----------
    W : list of arrays
        ``W̃_1 … W̃_d``.
    X : array of shape (n_0, m)
    bias : bool, optional
        Default: read from the shapes.
    xp : namespace

    Returns
    -------
    array of shape (n_d, m)
    """
    Z = hidden_features(W, X, bias=bias, xp=xp)
    return affine(W[-1], Z, bias=bias, xp=xp)


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
    xp : namespace
        Target namespace.
    device : device
        Target device.
    dtype : dtype
        Target floating dtype.

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
