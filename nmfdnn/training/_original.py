"""The original scheme (ALGORITHMS.md §4; Sakurai et al., Algorithm 4).

No bias, no regularization: semi-NMF (§1.1) for the output layer, then for each hidden layer the
weight step (§1.2) followed by the hidden-target step (§1.3), and finally the weight step for
the first layer on the low-rank input (§1.5).  Every pseudo-inverse goes through a small Gram
matrix (§1.4).  Same mini-batching and epoch loop as Algorithm 3 (:func:`run_epochs`).
"""

from __future__ import annotations

from nmfdnn._array_api import get_namespace
from nmfdnn._linalg import gram_pinv, pinv_small
from nmfdnn._ops import affine, sq_norm
from nmfdnn.factorizations import (
    nonlinear_lstsq_weights_step,
    nonneg_nonlinear_lstsq_targets_step,
    reduced_first_layer_step,
    semi_nmf_step,
)
from nmfdnn.training._epochs import (
    refit_hooks,
    run_epochs,
    setup_run,
)
from nmfdnn.training._layers import forward, reduce_first_layer

__all__ = ["original_minibatch_step", "train_original"]


def original_minibatch_step(W, VJ, YJ, inputs, *, inner_iter=1, rcond=None, reduce=None, xp):
    """One mini-batch of the original alternating scheme (§4), output layer first.

    .. math::

        W_d, Ẑ_{d−1} &← \\text{semi-NMF (§1.1) on } Y_J ≈ W_d Z_{d−1} \\\\
        W_i &← W_i + (Ẑ_i − f(W_i Z_{i−1})) Z_{i−1}^† && \\text{(§1.2)} \\\\
        Ẑ_{i−1} &← f(Z_{i−1} + W_i^† (Ẑ_i − f(W_i Z_{i−1}))) && \\text{(§1.3)},
            \\quad i = d−1 … 2 \\\\
        W_1 &← W_1 + (Ẑ_1 − f(W_1 X_J)) X_J^† && \\text{(§1.2 on the low-rank } X_J)

    each step repeated ``inner_iter`` times.

    Parameters
    ----------
    W : list of arrays
        ``W_i`` of shape ``(n_i, n_{i−1})`` (no bias).
    VJ : array of shape (r, s)
        Reduced input coordinates of the mini-batch.
    YJ : array of shape (n_d, s)
    inputs : LowRankInput
    inner_iter : int, default=1
    rcond : float, optional
        Relative cut-off of the pseudo-inverses (default: ``sqrt(n·eps)``).
    reduce : callable, optional
        All-reduce hook of data-parallel training (:mod:`nmfdnn.distributed`): the layer
        solves' sums over samples are summed over the processes; ``VJ`` and ``YJ`` hold this
        process's members of the mini-batch (possibly none).  ``None``: one process.
    xp : namespace

    Returns
    -------
    W : list of arrays
    loss : 0-d array
        ``½‖Y_J − W_d Z_{d−1}‖²`` with the weights the mini-batch started from.
    """
    d = len(W)
    W1r = reduce_first_layer(W[0], inputs.QS, bias=False, xp=xp)
    Z = forward(W, VJ, W1r, bias=False, xp=xp)
    loss = 0.5 * sq_norm(YJ - affine(W[-1], Z[-1], bias=False, xp=xp), xp=xp)
    new = list(W)
    U, V = W[-1], Z[-1]
    for _ in range(inner_iter):
        U, V = semi_nmf_step(YJ, U, V, rcond=rcond, bias=False, reduce=reduce, xp=xp)
    new[-1], target = U, V
    for j in range(d - 2, 0, -1):  # paper layer i = j + 1
        Zin = Z[j - 1]
        G = Zin @ Zin.T
        G_pinv = gram_pinv(G if reduce is None else reduce(G), rcond=rcond, xp=xp)
        U = W[j]
        for _ in range(inner_iter):
            U = nonlinear_lstsq_weights_step(target, U, Zin, gram_pinv_A=G_pinv, reduce=reduce,
                                             xp=xp)
        U_pinv = pinv_small(U, rcond, xp=xp)
        V = Zin
        for _ in range(inner_iter):
            V = nonneg_nonlinear_lstsq_targets_step(target, U, V, A_pinv=U_pinv, xp=xp)
        new[j], target = U, V
    low = inputs.with_columns(VJ)
    U = W[0]
    for _ in range(inner_iter):
        U = reduced_first_layer_step(target, U, low, lam_w=0.0, rcond=rcond, bias=False,
                                     reduce=reduce, xp=xp)
    new[0] = U
    return new, loss


def train_original(X, Y, W, *, batch_size=5000, max_epochs=10, inner_iter=1, tau=4e-2,
                   rcond=None, rng, inputs=None, score=None, callback=None, average=0.0,
                   relax=None, omega=1.0, momentum=0.0, momentum_epochs=None,
                   refit_output=False, refit_samples=None, check_input=True, comm=None,
                   partition=None, state=None,
                   on_epoch=None, xp=None):
    """Train a ReLU network (no bias) by the original alternating scheme (§4).

    Minimizes ``½‖Y − W_d f(W_{d−1} ⋯ f(W_1 X))‖²_F`` layer by layer without backpropagation.

    Parameters
    ----------
    X : array of shape (n_0, m)
    Y : array of shape (n_d, m)
    W : list of arrays
        Initial ``W_i`` of shape ``(n_i, n_{i−1})``.
    batch_size : int, default=5000
        Mini-batch size s (≤ m).
    max_epochs : int, default=10
    inner_iter : int, default=1
        Iterations per layer problem and mini-batch.
    tau : float, default=4e-2
        Relative singular-value threshold of the low-rank input (§1.5).
    rcond : float, optional
        Pseudo-inverse cut-off.
    rng : numpy.random.Generator
        Host generator of the mini-batch permutations.
    inputs : LowRankInput, optional
        Precomputed low-rank input of ``X``.
    score : callable, optional
        As in :func:`nmfdnn.training.train_bias_reg`.
    callback : callable, optional
        As in :func:`nmfdnn.training.train_bias_reg`.
    average : float, default=0.0
        As in :func:`nmfdnn.training.train_bias_reg`.
    relax : callable, optional
        As in :func:`nmfdnn.training.train_bias_reg`.
    omega : float, default=1.0
        As in :func:`nmfdnn.training.train_bias_reg`.
    momentum : float, default=0.0
        As in :func:`nmfdnn.training.train_bias_reg`.
    momentum_epochs : int, optional
        As in :func:`nmfdnn.training.train_bias_reg`.
    refit_output : bool, default=False
        As in :func:`nmfdnn.training.train_bias_reg` (the refit is a least-squares solve,
        ``(Z Zᵀ)⁺``, without regularization).
    refit_samples : int, optional
        As in :func:`nmfdnn.training.train_bias_reg`.
    check_input : bool, default=True
        Check ``X`` and ``Y``.
    comm : mpi4py communicator or Communicator, optional
        Data-parallel training, as in :func:`nmfdnn.training.train_bias_reg`.
    partition : Partition, optional
        Global numbers of this process's samples, as in
        :func:`nmfdnn.training.train_bias_reg`.
    state : LoopState, optional
        As in :func:`nmfdnn.training.train_bias_reg`.
    on_epoch : callable, optional
        As in :func:`nmfdnn.training.train_bias_reg`.
    xp : namespace, optional

    Returns
    -------
    W : list of arrays
    history : TrainingHistory
    """
    xp = get_namespace(X, Y, xp=xp)
    omega, momentum, comm, partition, inputs = setup_run(
        X, Y, W, batch_size=batch_size, max_epochs=max_epochs, inner_iter=inner_iter, tau=tau,
        omega=omega, bias=False, check_input=check_input, comm=comm, partition=partition,
        inputs=inputs, xp=xp, momentum=momentum, momentum_epochs=momentum_epochs)

    def step(Wk, VJ, YJ):
        return original_minibatch_step(Wk, VJ, YJ, inputs, inner_iter=inner_iter, rcond=rcond,
                                       reduce=comm, xp=xp)

    finish, interim = refit_hooks(X, Y, 0.0, batch_size, refit_output=refit_output,
                                  refit_samples=refit_samples, bias=False, inputs=inputs,
                                  reduce=comm, partition=partition, xp=xp)
    return run_epochs(step, W, Y, inputs, batch_size=batch_size, max_epochs=max_epochs, rng=rng,
                      score=score, callback=callback, average=average, relax=relax, omega=omega,
                      momentum=momentum, momentum_epochs=momentum_epochs,
                      finish=finish, interim_finish=interim, bias=False, comm=comm,
                      partition=partition, state=state,
                      on_epoch=on_epoch, xp=xp)
