"""Backpropagation baseline (ALGORITHMS.md §5): the same ReLU network trained by Adam.

Written against the array API with a hand-written backward pass, so that the comparison with
the NMF trainers runs on the same backend, device and dtype.  Paper layout: data are columns,
layer i (list index i−1) maps ``Z_{i−1}`` (n_{i−1} × m) to ``Z_i = f(W_i Z_{i−1} + b_i 1ᵀ)``;
the output layer is linear.

Losses (``m`` = mini-batch size, mean over the batch so that Adam's step is batch-size free):

- ``"mse"``: ``L = (1/2m) ‖Y − O‖²_F``, ``∂L/∂O = (O − Y)/m``
- ``"cross_entropy"``: ``L = −(1/m) Σ Y ⊙ log softmax(O)`` (softmax over each column),
  ``∂L/∂O = (softmax(O) − Y)/m``
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import array_api_compat

from nmfdnn._array_api import get_namespace
from nmfdnn._host import random_normal, to_numpy
from nmfdnn._ops import allsum, relu, row_major
from nmfdnn._optim import AdamState, adam_init, adam_step
from nmfdnn._records import EpochRecord, TrainingHistory, end_epoch
from nmfdnn._validation import NumericalError
from nmfdnn.distributed import as_communicator

__all__ = [
    "AdamState",
    "BackpropState",
    "glorot_init",
    "forward",
    "loss_and_gradients",
    "adam_init",
    "adam_step",
    "backprop_minibatch_step",
    "LOSSES",
    "train_epoch",
    "train_backprop",
]

LOSSES = ("mse", "cross_entropy")


def glorot_init(layer_sizes, *, rng, xp, device=None, dtype):
    """Glorot-normal weights ``N(0, 2/(n_in + n_out))`` and zero biases, drawn on the host.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n0, n1, ..., nd]`` (input, hidden..., output).
    rng : numpy.random.Generator
    xp : namespace
        Target namespace.
    device : device, optional
        Target device (one transfer per array).
    dtype : dtype
        Target floating dtype.

    Returns
    -------
    list of (W, b)
        ``W`` of shape (n_i, n_{i−1}), ``b`` of shape (n_i, 1).
    """
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        W = random_normal((n_out, n_in), rng=rng, scale=(2.0 / (n_in + n_out)) ** 0.5, xp=xp,
                          device=device, dtype=dtype)
        b = xp.zeros((n_out, 1), dtype=dtype, device=device)
        params.append((W, b))
    return params


def forward(params, X, *, xp=None):
    """Forward pass; returns the activations ``[Z_0 = X, Z_1, ..., Z_{d−1}]`` and the output.

    .. math:: Z_i = f(W_i Z_{i−1} + b_i 1ᵀ),\\quad O = W_d Z_{d−1} + b_d 1ᵀ

    Parameters
    ----------
    params : list of (W, b)
        Layer weights ``W_i`` (n_i × n_{i−1}) and biases ``b_i`` (n_i × 1).
    X : array of shape (n_0, m)
        Inputs, one column per sample.
    xp : namespace, optional

    Returns
    -------
    Z : list of arrays
        ``[X, Z_1, …, Z_{d−1}]``.
    O : array of shape (n_d, m)
        The network output.
    """
    xp = get_namespace(X, xp=xp)
    Z = [X]
    for W, b in params[:-1]:
        Z.append(relu(W @ Z[-1] + b, xp=xp))
    W, b = params[-1]
    return Z, W @ Z[-1] + b


def _softmax(O, *, xp):
    E = xp.exp(O - xp.max(O, axis=0, keepdims=True))
    return E / xp.sum(E, axis=0, keepdims=True)


def loss_and_gradients(params, X, Y, *, loss="mse", n_total=None, xp=None):
    """Loss and its gradient with respect to every ``(W_i, b_i)``, by backpropagation.

    .. math::

        G_d = ∂L/∂O, \\quad ∂L/∂W_i = G_i Z_{i−1}ᵀ, \\quad ∂L/∂b_i = G_i 1,
        \\quad G_{i−1} = (W_iᵀ G_i) ⊙ [Z_{i−1} > 0]

    Parameters
    ----------
    params : list of (W, b)
    X : array of shape (n0, m)
    Y : array of shape (nd, m)
        Targets (one-hot columns for classification).
    loss : {"mse", "cross_entropy"}
    n_total : int, optional
        Size m of the whole mini-batch when this process holds only part of it (data-parallel
        training): the loss and gradients are then this part's share of the mean over the
        whole mini-batch, and their sums over the processes are the full ones.  Default: the
        columns of ``X``.
    xp : namespace, optional

    Returns
    -------
    loss : 0-d array (on the device)
    grads : list of (dW, db), same shapes as ``params``
    """
    xp = get_namespace(X, Y, xp=xp)
    m = X.shape[1] if n_total is None else n_total
    Z, O = forward(params, X, xp=xp)
    if loss == "mse":
        D = O - Y
        value = xp.sum(D * D) / (2 * m)
        G = D / m
    elif loss == "cross_entropy":
        S = O - xp.max(O, axis=0, keepdims=True)
        logp = S - xp.log(xp.sum(xp.exp(S), axis=0, keepdims=True))
        value = -xp.sum(Y * logp) / m
        G = (xp.exp(logp) - Y) / m
    else:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        W, _ = params[i]
        grads[i] = (G @ Z[i].T, xp.sum(G, axis=1, keepdims=True))
        if i > 0:
            G = (W.T @ G) * xp.astype(Z[i] > 0, G.dtype)
    return value, grads


def backprop_minibatch_step(params, state, XJ, YJ, *, loss="mse", lr=1e-3, beta1=0.9,
                            beta2=0.999, eps=1e-8, weight_decay=0.0, xp):
    """One mini-batch of backpropagation with Adam: gradients, then one Adam (AdamW) step.

    A pure function of arrays with static shapes (no host synchronization): it runs under
    ``jax.jit`` (tested).

    Parameters
    ----------
    params : list of (W, b)
    state : AdamState
    XJ : array of shape (n0, s)
        The mini-batch's inputs.
    YJ : array of shape (nd, s)
        Its targets.
    loss : {"mse", "cross_entropy"}, default="mse"
    lr, beta1, beta2, eps : float, default=(1e-3, 0.9, 0.999, 1e-8)
        Adam's settings.
    weight_decay : float, default=0.0
        Decoupled weight decay (AdamW) when > 0.
    xp : namespace

    Returns
    -------
    params : list of (W, b)
    state : AdamState
    value : 0-d array
        The mini-batch loss before the step.
    """
    value, grads = loss_and_gradients(params, XJ, YJ, loss=loss, xp=xp)
    params, state = adam_step(params, grads, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                              weight_decay=weight_decay, xp=xp)
    return params, state, value


def train_epoch(params, state, X, Y, order, *, batch_size=100, loss="mse", lr=1e-3,
                beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, batches=None, reduce=None,
                xp=None):
    """One epoch of mini-batch Adam over the columns of ``X`` in the given order.

    The loop is over mini-batches (``ceil(m / batch_size)`` of them), never over samples, and it
    does not synchronize with the host: the mean training loss comes back as a 0-d array.

    Parameters
    ----------
    params : list of (W, b)
    state : AdamState
    X : array of shape (n0, m)
    Y : array of shape (nd, m)
    order : array of int of shape (m,)
        A permutation of the columns, in the namespace of ``X`` (drawn on the host per epoch).
    batch_size : int, default=100
    loss : {"mse", "cross_entropy"}, default="mse"
    lr, beta1, beta2, eps, weight_decay : float
        Adam's settings (§5: 10⁻³, 0.9, 0.999, 10⁻⁸).
    batches : list of ((int, int), int), optional
        Data-parallel training: per global mini-batch, the range of ``order`` holding this
        process's members and the size of the whole mini-batch.
    reduce : callable, optional
        All-reduce hook (with ``batches``): the gradients of every mini-batch are summed over
        the processes in one message before the Adam step.  The returned loss is this
        process's share (sum it over the processes).
    xp : namespace, optional

    Returns
    -------
    params, state, mean_loss (0-d array)
    """
    xp = get_namespace(X, Y, xp=xp)
    m = X.shape[1]
    total = None
    n_batches = 0
    if batches is not None:
        for (start, stop), size in batches:
            J = order[start:stop]
            value, grads = loss_and_gradients(params, xp.take(X, J, axis=1),
                                              xp.take(Y, J, axis=1), loss=loss, n_total=size,
                                              xp=xp)
            flat = allsum(reduce, *[g for pair in grads for g in pair], xp=xp)
            grads = [(flat[2 * i], flat[2 * i + 1]) for i in range(len(grads))]
            params, state = adam_step(params, grads, state, lr=lr, beta1=beta1, beta2=beta2,
                                      eps=eps, weight_decay=weight_decay, xp=xp)
            total = value if total is None else total + value
            n_batches += 1
        return params, state, total / n_batches
    for start in range(0, m, batch_size):
        J = order[start:min(start + batch_size, m)]
        params, state, value = backprop_minibatch_step(
            params, state, xp.take(X, J, axis=1), xp.take(Y, J, axis=1), loss=loss, lr=lr,
            beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, xp=xp)
        total = value if total is None else total + value
        n_batches += 1
    return params, state, total / n_batches


@dataclass
class BackpropState:
    """Everything :func:`train_backprop` needs to continue a run exactly where it stopped.

    With the host generator's state (owned by the caller; one permutation per epoch is drawn
    from it), continuing from a ``BackpropState`` gives the same weights, bit for bit, as the
    uninterrupted run.

    Parameters
    ----------
    epoch : int
        Epochs done.
    params : list of (W, b)
        The parameters after that epoch.
    adam : AdamState
        Adam's moments and step count.
    history : TrainingHistory
        The records so far.
    """

    epoch: int
    params: list
    adam: AdamState
    history: TrainingHistory


def train_backprop(X, Y, params, *, batch_size=100, max_epochs=10, rng, loss="mse", lr=1e-3,
                   beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, score=None,
                   callback=None, comm=None, partition=None, state=None, on_epoch=None,
                   xp=None):
    """Train by mini-batch Adam, with the records and callbacks of the NMF trainers.

    Per epoch: a permutation drawn on the host (``rng``) and moved once, :func:`train_epoch`,
    then one read-back of the mean loss and the validation score.  The layer matrices handed to
    ``score`` and ``callback`` are ``W̃_i = [W_i, b_i]`` as in :mod:`nmfdnn.training`.

    Parameters
    ----------
    X : array of shape (n0, m)
    Y : array of shape (nd, m)
    params : list of (W, b)
        Initial parameters (:func:`glorot_init`).
    batch_size, max_epochs : int
    rng : numpy.random.Generator
    loss : {"mse", "cross_entropy"}, default="mse"
        See :func:`train_epoch`.
    lr, beta1, beta2, eps : float, default=(1e-3, 0.9, 0.999, 1e-8)
        Adam's settings (see :func:`train_epoch`).
    weight_decay : float, default=0.0
        Decoupled weight decay (AdamW) when > 0.
    score : callable, optional
        ``score(W_tilde) -> 0-d array``, evaluated after each epoch on the device.
    callback : callable, optional
        ``callback(record, W_tilde) -> bool``; ``True`` stops training.
    comm : mpi4py communicator or Communicator, optional
        Data-parallel training (:mod:`nmfdnn.distributed`): ``X`` and ``Y`` are this process's
        samples; the permutation is drawn over the global sample numbers, each process computes
        the gradient of its members of each global mini-batch (divided by the global
        mini-batch size), and the gradients are all-reduced after every mini-batch (one
        message) — the same steps as one process, to rounding.  ``params`` must be the same
        on every process.
    partition : Partition, optional
        Global numbers of this process's samples (default: contiguous blocks in rank order).
    state : BackpropState, optional
        Continue a run from ``state`` (``params`` is then ignored): epochs
        ``state.epoch + 1 … max_epochs``, records appended to ``state.history``.
    on_epoch : callable, optional
        ``on_epoch(BackpropState)`` after every epoch (after ``callback``), e.g. to write a
        checkpoint; read-only.
    xp : namespace, optional

    Returns
    -------
    W_tilde : list of arrays
        ``[W_i, b_i]`` of shape (n_i, n_{i−1} + 1).
    history : TrainingHistory

    Raises
    ------
    NumericalError
        If an epoch ends with a non-finite loss (the message names the epoch).
    """
    xp = get_namespace(X, Y, xp=xp)
    dev = array_api_compat.device(X)
    X, Y = row_major(X, xp=xp), row_major(Y, xp=xp)  # mini-batch gathers copy nothing else
    comm = as_communicator(comm)
    if comm is not None and partition is None:
        partition = comm.partition(X.shape[1])
    m = X.shape[1] if comm is None else partition.n_total
    bounds = [(s, min(s + batch_size, m)) for s in range(0, m, batch_size)]
    first_epoch = 1
    if state is not None:  # continue a run (checkpoint, warm start, partial_fit)
        params, history = list(state.params), state.history
        first_epoch = state.epoch + 1
        state = state.adam
    else:
        state = adam_init(params, xp=xp)
        history = TrainingHistory()
    W_tilde = [xp.concat([W, b], axis=1) for W, b in params]
    for epoch in range(first_epoch, max_epochs + 1):
        t0 = time.perf_counter()
        batches = None
        if comm is None:
            order = xp.asarray(rng.permutation(m), device=dev)  # one transfer per epoch
        else:  # this process's members of every global mini-batch
            local, ranges = partition.local_batches(rng.permutation(m), bounds)
            order = xp.asarray(local, device=dev)
            batches = [(r, stop - start) for r, (start, stop) in zip(ranges, bounds)]
        params, state, mean_loss = train_epoch(
            params, state, X, Y, order, batch_size=batch_size, loss=loss, lr=lr, beta1=beta1,
            beta2=beta2, eps=eps, weight_decay=weight_decay, batches=batches, reduce=comm,
            xp=xp,
        )
        if comm is not None:
            mean_loss = comm(mean_loss)
        W_tilde = [xp.concat([W, b], axis=1) for W, b in params]
        values = [mean_loss]
        if score is not None:
            values.append(xp.astype(score(W_tilde), mean_loss.dtype))
        host = to_numpy(xp.stack(values))  # the epoch's only synchronization
        if not all(v == v and abs(v) != float("inf") for v in host.tolist()):
            raise NumericalError(
                f"backprop training diverged in epoch {epoch}: non-finite loss; try a smaller "
                "learning_rate or float64"
            )
        record = EpochRecord(epoch=epoch, loss=float(host[0]),
                             val_score=float(host[1]) if score is not None else None,
                             seconds=time.perf_counter() - t0)
        if end_epoch(history, record, max_epochs=max_epochs, callback=callback, weights=W_tilde,
                     on_epoch=on_epoch, state=functools.partial(
                         BackpropState, epoch=epoch, params=params, adam=state,
                         history=history)):
            break
    return W_tilde, history
