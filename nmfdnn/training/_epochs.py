"""The epoch loop shared by Algorithm 3 (§2) and the original scheme (§4), with its records and
the output refit.

- :func:`run_epochs` — random mini-batches (a fresh permutation per epoch drawn on the host and
  moved once), the per-batch losses and per-layer finiteness counters kept on the device and read
  **once per epoch** together with the validation score;
- :func:`refit_output_layer` — the ridge solve of the output layer on all training features;
- :func:`check_training_args`, :func:`check_network_shapes` — the argument checks of both
  trainers; :func:`prepare_inputs` — the low-rank input (§1.5) of a run.

The records (:class:`EpochRecord`, :class:`TrainingHistory`) are defined in
:mod:`nmfdnn._records`, shared with the backpropagation baseline.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass

from array_api_compat import device as _device

from nmfdnn._array_api import maybe_jit
from nmfdnn._host import to_numpy
from nmfdnn._linalg import solve_gram_right
from nmfdnn._ops import affine, allsum, gram_cross_centered, sq_norm
from nmfdnn._records import EpochRecord, TrainingHistory, end_epoch
from nmfdnn._validation import (
    DivergenceWarning,
    NumericalError,
    check_matrix,
    check_nonnegative_scalar,
    check_positive_int,
    check_real_in,
    check_same_columns,
)
from nmfdnn.distributed import as_communicator, collective_errors
from nmfdnn.factorizations import lowrank_approximation
from nmfdnn.training._layers import forward, hidden_features, reduce_first_layer

__all__ = [
    "EpochRecord",
    "LoopState",
    "TrainingHistory",
    "average_weight",
    "batch_bounds",
    "check_network_shapes",
    "check_omega",
    "check_training_args",
    "distributed_setup",
    "output_refit",
    "prepare_inputs",
    "refit_output_layer",
    "run_epochs",
]


def batch_bounds(m, batch_size):
    """``ceil(m / s)`` contiguous ``(start, stop)`` ranges of near-equal size covering ``m``.

    Python ints computed before the loop (no value-dependent shapes inside it).

    Parameters
    ----------
    m : int
        Number of samples.
    batch_size : int
        Largest batch size s.

    Returns
    -------
    list of tuple of int
        ``(start, stop)`` of every batch.
    """
    n_batches = max(1, math.ceil(m / batch_size))
    edges = [round(k * m / n_batches) for k in range(n_batches + 1)]
    return [(edges[k], edges[k + 1]) for k in range(n_batches)]


@dataclass
class LoopState:
    """Everything :func:`run_epochs` needs to continue a run exactly where it stopped.

    With the host generator's state (``rng.bit_generator.state``, owned by the caller: the loop
    draws one permutation per epoch from it and nothing else), continuing from a
    ``LoopState`` gives the same weights, bit for bit, as the run that was never interrupted.

    Parameters
    ----------
    epoch : int
        Epochs done.
    W : list of arrays
        The raw weights after that epoch (what training continues from: not averaged, not
        finished).
    W_avg : list of arrays or None
        The moving average of the weights (``average > 0``; None before its first mini-batch).
    history : TrainingHistory
        The records so far.
    W_prev : list of arrays or None, default=None
        The raw weights before the last mini-batch of that epoch (the heavy-ball term of
        ``momentum``; None before the first mini-batch and in epochs without momentum).
    """

    epoch: int
    W: list
    W_avg: list | None
    history: TrainingHistory
    W_prev: list | None = None


def average_weight(beta, t):
    """The weight ``β_t = min(β, t/(t + 9))`` of the moving average after mini-batch ``t``.

    .. math::

        W̄_1 = W_1, \\qquad W̄_t = β_t W̄_{t−1} + (1 − β_t) W_t

    A plain ``β`` makes the average lag the training by about ``1/(1 − β)`` mini-batches
    from the start: with β = 0.9 and the 12 mini-batches of an MNIST epoch, a third of the
    average after the first epoch is still the weights of its first mini-batch.  The warm-up
    (that of TensorFlow's ``ExponentialMovingAverage(num_updates=…)``) averages the first
    mini-batches nearly uniformly and reaches β after ``9β/(1 − β)`` of them (81 for 0.9,
    the seventh MNIST epoch).  On MNIST [1000, 500] it lowers the test error after the first
    epoch from 3.33 to 2.75 % (seed 0) and leaves the tenth epoch's unchanged (docs/mnist.md).

    Parameters
    ----------
    beta : float
        β in [0, 1).
    t : int
        Mini-batches averaged so far, this one included (1, 2, …; counted across epochs).

    Returns
    -------
    float
    """
    return min(beta, t / (t + 9.0))


def run_epochs(step, W, Y, inputs, *, batch_size, max_epochs, rng, score=None, callback=None,
               average=0.0, relax=None, omega=1.0, momentum=0.0, momentum_epochs=None,
               finish=None, interim_finish=None, bias=True, comm=None, partition=None,
               state=None, on_epoch=None, xp):
    """The epoch loop of Algorithms 3 and 4: random mini-batches, records read once per epoch.

    For every epoch a permutation of the m columns is drawn on the host (``rng``) and moved to
    the device once; mini-batch ``J`` takes ``V_J = Vt[:, J]`` and ``Y_J = Y[:, J]`` with
    ``xp.take``.  Inside an epoch nothing is read back: the mini-batch losses and, per layer,
    the number of mini-batches after which the layer held non-finite values stay on the device.
    After the epoch one transfer reads them with the validation score.

    Parameters
    ----------
    step : callable
        ``step(W, VJ, YJ) -> (W, loss_J)``, e.g. :func:`bias_reg_minibatch_step` with its
        parameters bound.
    W : list of arrays
        Initial layer matrices.
    Y : array of shape (n_d, m)
        Targets.
    inputs : LowRankInput
        Low-rank input (``inputs.Vt`` has the m columns).
    batch_size : int
        Mini-batch size s (``ceil(m / s)`` batches of near-equal size per epoch).
    max_epochs : int
    rng : numpy.random.Generator
        Host generator of the permutations.
    score : callable, optional
        ``score(W) -> 0-d array`` (validation score, computed on the device after each epoch).
    callback : callable, optional
        ``callback(record, W) -> bool``; called on the host after each epoch, ``True`` stops.
    average : float, default=0.0
        β of an exponential moving average of the weights across mini-batches,
        ``W̄ ← β_t W̄ + (1 − β_t) W`` after mini-batch t with the warm-up
        ``β_t = min(β, t/(t + 9))`` (:func:`average_weight`), started at the weights after
        the first mini-batch (0: off).
        Training continues from the raw ``W``; the averaged weights are scored, passed to
        ``callback`` and returned.  (Off here; the network estimators' ``average="auto"``
        uses β = 0.9 with at least 4 mini-batches per epoch, docs/mnist.md.)
    relax : callable, optional
        ``relax(epoch) -> ω`` in (0, 1]: every mini-batch update is relaxed to
        ``W ← W_old + ω (W_new − W_old)`` (a step schedule across epochs; default: ω = 1).
    omega : float in (0, 2), default=1.0
        Step of the hidden layers' weight updates, ``W̃_i ← W̃_i + ω (W̃_i^{new} − W̃_i)`` for
        i = 1 … d−1 after every mini-batch (the output layer keeps its solve).  This is the ω of
        §1.2 (``X ← X + ω R A†``): for the first layer, whose update is the U-step alone, it is
        exactly that step; ω = 1 is the plain solve, ω ∈ (1, 2) over-relaxation.
    momentum : float in [0, 1), default=0.0
        μ of a heavy-ball term on the hidden layers' weights across mini-batches: after
        mini-batch t, ``W̃_i ← W̃_i + ω (W̃_i^{new} − W̃_i) + μ (W̃_i − W̃_i^{(t−1)})`` for
        i = 1 … d−1, where ``W̃_i^{(t−1)}`` are the weights before the previous mini-batch
        (the sequence runs on across epochs; the output layer keeps its solve).  It carries
        the hidden layers' drift from mini-batch to mini-batch, as the momentum of gradient
        descent does (docs/mnist.md, "Sixth round").
    momentum_epochs : int, optional
        The momentum acts in epochs 1 … ``momentum_epochs`` only (None: in every epoch).
    finish : callable, optional
        ``finish(W) -> W`` applied to the weights that are scored, passed to ``callback`` and
        returned (e.g. :func:`refit_output_layer`): after every epoch when ``score`` or
        ``callback`` is given, otherwise after the last one only; training continues from the
        unfinished weights.
    interim_finish : callable, optional
        A cheaper ``finish`` for the epochs before the last (e.g. the output refit on a
        subsample, :func:`output_refit`): their weights are only scored and passed to
        ``callback``.  The weights returned are always ``finish``'s: after the last epoch, or,
        when ``callback`` stops the run early, of the weights of the epoch it stopped at (the
        record of that epoch keeps the score of the interim weights).  Default: ``finish``.
    bias : bool, default=True
        Whether the layers carry a bias column (read when a failure is diagnosed).
    comm : Communicator, optional
        Data-parallel training (:mod:`nmfdnn.distributed`): ``Y`` and ``inputs.Vt`` hold this
        process's samples, ``step`` all-reduces its sample sums.  The permutation is drawn over
        the global sample numbers of ``partition`` (the same sequence of global mini-batches
        for any number of processes); each process takes the members of each mini-batch that
        it holds (possibly none).  The epoch's loss sum and finiteness counters are
        all-reduced once per epoch.
    partition : Partition, optional
        Which global samples this process holds (required with ``comm``).
    state : LoopState, optional
        Continue a run: training starts from ``state.W``/``state.W_avg``/``state.W_prev`` at epoch
        ``state.epoch + 1`` and appends to ``state.history`` (``W`` is then ignored).  With
        ``state.epoch >= max_epochs`` nothing is trained and the finished weights of the state
        are returned.
    on_epoch : callable, optional
        ``on_epoch(LoopState)`` after every epoch (after ``callback``), e.g. to write a
        checkpoint; read-only, it does not change the computation.
    xp : namespace

    Returns
    -------
    W : list of arrays
        The weights after the last epoch (averaged when ``average > 0``, then ``finish``).
    history : TrainingHistory

    Raises
    ------
    NumericalError
        If an epoch ends with a non-finite loss or non-finite weights; the message names the
        epoch and the layer (paper numbering) that broke down first.
    """
    dev = _device(Y)
    m = Y.shape[1] if comm is None else partition.n_total
    bounds = batch_bounds(m, batch_size)
    if comm is None:  # a step that all-reduces through MPI cannot be traced
        step = maybe_jit(step, xp)
    history = TrainingHistory()
    W_avg = None  # the average starts at the first mini-batch's weights, not the initial ones
    W_prev = None  # the weights before the last mini-batch (the heavy-ball term)
    first_epoch = 1
    if state is not None:  # continue a run (checkpoint, warm start, partial_fit)
        W, W_avg, history = list(state.W), state.W_avg, state.history
        W_prev = state.W_prev
        first_epoch = state.epoch + 1
    d = len(W)
    W_out = None
    n_averaged = (first_epoch - 1) * len(bounds)  # mini-batches in the average so far
    for epoch in range(first_epoch, max_epochs + 1):
        rho = 1.0 if relax is None else float(relax(epoch))
        steps = [rho * omega] * (d - 1) + [rho]  # hidden layers, then the output layer
        mu = momentum if momentum_epochs is None or epoch <= momentum_epochs else 0.0
        t0 = time.perf_counter()
        if comm is None:
            perm = xp.asarray(rng.permutation(m), device=dev)  # one transfer per epoch
            batches = bounds
        else:  # this process's members of every global mini-batch
            local, batches = partition.local_batches(rng.permutation(m), bounds)
            perm = xp.asarray(local, device=dev)
        losses = []
        broken = [xp.zeros((), dtype=Y.dtype, device=dev) for _ in range(d)]
        for start, stop in batches:
            J = perm[start:stop]
            VJ = xp.take(inputs.Vt, J, axis=1)
            YJ = xp.take(Y, J, axis=1)
            try:
                W_new, loss = step(W, VJ, YJ)
            except Exception as exc:  # a backend's linalg refusing non-finite input
                _raise_step_failure(exc, epoch, W, VJ, inputs, bias=bias, xp=xp)
            W_new = [Wn if w == 1.0 else Wo + w * (Wn - Wo)
                     for w, Wo, Wn in zip(steps, W, W_new)]
            if mu and W_prev is not None:  # heavy ball on the hidden layers
                W_new = [Wn + mu * (Wo - Wp) for Wn, Wo, Wp in
                         zip(W_new[:-1], W[:-1], W_prev[:-1])] + [W_new[-1]]
            W_prev, W = (W if mu else None), W_new  # kept only while the momentum acts
            if average:
                n_averaged += 1
                beta = average_weight(average, n_averaged)
                W_avg = W if W_avg is None else [
                    beta * Wa + (1.0 - beta) * Wi for Wa, Wi in zip(W_avg, W)
                ]
            losses.append(loss)
            broken = [
                b + xp.astype(xp.logical_not(xp.all(xp.isfinite(Wi))), Y.dtype)
                for b, Wi in zip(broken, W)
            ]
        W_out = W_unfinished = W_avg if average else W
        interim = interim_finish is not None and epoch < max_epochs
        if finish is not None and (score is not None or callback is not None
                                   or epoch == max_epochs):  # otherwise nobody sees W_out
            W_out = interim_finish(W_out) if interim else finish(W_out)
        if comm is None:
            values = [xp.sum(xp.stack(losses)) / m]
        else:  # one all-reduce per epoch: the loss sum and the finiteness counters
            summed = comm(xp.stack([xp.sum(xp.stack(losses))] + broken))
            values = [summed[0] / m]
            broken = [summed[j + 1] for j in range(d)]
        if score is not None:
            values.append(xp.astype(score(W_out), Y.dtype))
        host = to_numpy(xp.stack(values + broken))  # the epoch's only synchronization
        seconds = time.perf_counter() - t0
        loss, counts = float(host[0]), host[-d:]
        if not math.isfinite(loss) or counts.max() > 0:
            _raise_diverged(epoch, loss, counts)
        _warn_if_diverging(epoch, loss, history)
        val = float(host[1]) if score is not None else None
        record = EpochRecord(epoch=epoch, loss=loss, val_score=val, seconds=seconds)
        if end_epoch(history, record, max_epochs=max_epochs, callback=callback, weights=W_out,
                     on_epoch=on_epoch, state=functools.partial(
                         LoopState, epoch=epoch, W=W, W_avg=W_avg, history=history,
                         W_prev=W_prev)):
            if finish is not None and interim:  # stopped early: the weights returned are
                W_out = finish(W_unfinished)  # finished as after a last epoch
            break
    if W_out is None:  # nothing left to run (a resumed run that had finished)
        W_out = W_avg if average and W_avg is not None else W
        if finish is not None:
            W_out = finish(W_out)
    return W_out, history


def _raise_step_failure(exc, epoch, W, VJ, inputs, *, bias, xp):
    """Turn a linear-algebra failure inside a mini-batch into a :class:`NumericalError` naming
    the epoch and the first layer whose weights or activations are not finite (host syncs
    here are fine: training is over)."""
    W1r = reduce_first_layer(W[0], inputs.QS, bias=bias, xp=xp)
    Z = forward(W, VJ, W1r, bias=bias, xp=xp)
    acts = Z + [affine(W[-1], Z[-1], bias=bias, xp=xp)]
    bad = [
        j + 1 for j in range(len(W))
        # non-finite weights, or activations whose Gram matrix overflows
        if not bool(xp.all(xp.isfinite(W[j]))) or not bool(xp.isfinite(sq_norm(acts[j], xp=xp)))
    ]
    if not bad and "linalg" not in type(exc).__name__.lower():
        raise exc
    where = f"layer {bad[0]} of {len(W)}" if bad else "a layer solve"
    raise NumericalError(
        f"training diverged in epoch {epoch}: non-finite values in {where} (paper numbering; "
        f"the solver raised {type(exc).__name__}: {exc}). Try dtype='float64', larger "
        "alpha_W/alpha_Z or scaled inputs."
    ) from exc


#: An epoch loss this many times the best earlier epoch's is reported as divergence.
DIVERGENCE_FACTOR = 10.0


def _warn_if_diverging(epoch, loss, history):
    """A :class:`DivergenceWarning` the first time an epoch's loss exceeds
    ``DIVERGENCE_FACTOR`` times the best earlier epoch's: finite weights that get worse (the
    per-epoch loss is read on the host anyway; nothing else is synchronized)."""
    best, warned = math.inf, False  # one pass over the records (resumed runs included)
    for r in history.records:
        warned = warned or r.loss > DIVERGENCE_FACTOR * best
        best = min(best, r.loss)
    if loss > DIVERGENCE_FACTOR * best and not warned:  # once per run
        warnings.warn(
            f"training is diverging: the loss of epoch {epoch} ({loss:.4g}) is "
            f"{loss / best:.3g} times the best earlier epoch's ({best:.4g}); the weights are "
            "getting worse. Try omega=1.0, dtype='float64', a larger alpha_W or a larger "
            "batch_size.", DivergenceWarning, stacklevel=3)


def _raise_diverged(epoch, loss, counts):
    d = len(counts)
    if counts.max() > 0:
        # the layer broken for the most mini-batches broke first; ties: the output layer is
        # updated first within a mini-batch (update order d, d−1, …, 1)
        order = sorted(range(d), key=lambda j: (-counts[j], -j))
        first = order[0] + 1
        where = f"layer {first} of {d} (paper numbering; output layer = {d})"
    else:
        where = "the network output (weights finite)"
    raise NumericalError(
        f"training diverged in epoch {epoch}: non-finite values in {where}, epoch loss {loss}. "
        "Try dtype='float64', larger alpha_W/alpha_Z, a larger batch_size or scaled inputs."
    )


def check_training_args(X, Y, batch_size, max_epochs, inner_iter, tau, omega, *,
                        check_input=True, n_total=None, xp):
    """Validate the arguments shared by both trainers; returns ω as a float.

    Parameters
    ----------
    X : array of shape (n_0, m)
    Y : array of shape (n_d, m)
    batch_size, max_epochs, inner_iter : int
    tau : float
        In [0, 1).
    omega : float
        In (0, 2) (:func:`check_omega`).
    check_input : bool, default=True
        Check ``X`` and ``Y`` (dimensions, dtype, finite values: a full pass each); ``False``
        when the caller (an estimator) has validated them already.
    n_total : int, optional
        Samples over all processes (data-parallel training); default: the columns of ``X``.
    xp : namespace

    Returns
    -------
    float
        ω.
    """
    if check_input:
        check_matrix(X, "X", xp=xp)
        check_matrix(Y, "Y", xp=xp, dtype=X.dtype)
    check_same_columns(("X", X), ("Y", Y))
    m = X.shape[1] if n_total is None else n_total
    check_positive_int(batch_size, "batch_size", minimum=1)
    if batch_size > m:
        raise ValueError(
            f"batch_size={batch_size} is larger than the number of training samples ({m})"
        )
    check_positive_int(max_epochs, "max_epochs", minimum=1)
    check_positive_int(inner_iter, "inner_iter", minimum=1)
    tau = check_nonnegative_scalar(tau, "tau")
    if tau >= 1:
        raise ValueError(f"tau (rank_tol) must be < 1, got {tau}")
    return check_omega(omega)


def distributed_setup(comm, X, partition=None):
    """The communicator and the sample partition of a data-parallel run (``(None, None)`` for
    one process).

    Parameters
    ----------
    comm : None, mpi4py communicator or Communicator
    X : array of shape (n_0, m_local)
        This process's samples (columns).
    partition : Partition, optional
        Default: contiguous blocks in rank order (one all-gather of the counts).

    Returns
    -------
    comm : Communicator or None
    partition : Partition or None
    """
    comm = as_communicator(comm)
    if comm is None:
        return None, None
    if partition is None:
        partition = comm.partition(X.shape[1])
    return comm, partition


def setup_run(X, Y, W, *, batch_size, max_epochs, inner_iter, tau, omega, bias, check_input,
              comm, partition, inputs, xp, momentum=0.0, momentum_epochs=None):
    """What both trainers do before their epochs: the communicator and partition
    (:func:`distributed_setup`), the checks of the arguments and of the network's shapes
    (collective: invalid data on one process raises the same error on every process), and the
    low-rank input (§1.5) unless given.

    Parameters
    ----------
    X : array of shape (n_0, m)
    Y : array of shape (n_d, m)
    W : list of arrays
    batch_size, max_epochs, inner_iter : int
    tau : float
    omega : float
    bias : bool
    check_input : bool
    comm : None, mpi4py communicator or Communicator
    partition : Partition or None
    inputs : LowRankInput or None
    xp : namespace
    momentum : float, default=0.0
        In [0, 1).
    momentum_epochs : int or None, default=None
        None or an int ≥ 0.

    Returns
    -------
    omega : float
    momentum : float
    comm : Communicator or None
    partition : Partition or None
    inputs : LowRankInput
    """
    comm, partition = distributed_setup(comm, X, partition)
    with collective_errors(comm):  # invalid input on one process: the same error on all
        omega = check_training_args(X, Y, batch_size, max_epochs, inner_iter, tau, omega,
                                    check_input=check_input,
                                    n_total=None if comm is None else partition.n_total, xp=xp)
        momentum = check_real_in(momentum, "momentum", 0, 1, high_open=True)
        if momentum_epochs is not None:
            check_positive_int(momentum_epochs, "momentum_epochs", minimum=0)
        check_network_shapes(X, Y, W, bias=bias)
    if inputs is None:
        inputs = prepare_inputs(X, tau, check_input=False, reduce=comm, xp=xp)
    return omega, momentum, comm, partition, inputs


def check_omega(omega):
    """ω of the hidden layers' steps: a real in (0, 2) (over-relaxation diverges at ω ≥ 2).

    Parameters
    ----------
    omega : float

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``omega`` is not a real number in (0, 2).
    """
    return check_real_in(omega, "omega", 0, 2, low_open=True, high_open=True)


def _check_weights(W, sizes, bias):
    if len(W) != len(sizes) - 1:
        raise ValueError(f"expected {len(sizes) - 1} weight matrices, got {len(W)}")
    for i, (Wi, n_in, n_out) in enumerate(zip(W, sizes[:-1], sizes[1:]), start=1):
        shape = (n_out, n_in + int(bias))
        if tuple(Wi.shape) != shape:
            raise ValueError(f"W[{i - 1}] (layer {i}) must have shape {shape}, got {Wi.shape}")


def check_network_shapes(X, Y, W, *, bias):
    """Layer widths ``[n0, n1, ..., nd]`` of the weights ``W``, checked against ``X`` and ``Y``.

    Parameters
    ----------
    X : array of shape (n_0, m)
    Y : array of shape (n_d, m)
    W : list of arrays
        ``W̃_i`` of shape ``(n_i, n_{i−1} + bias)``.
    bias : bool

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        On a wrong number of matrices or a shape that does not chain.
    """
    sizes = [X.shape[0]] + [Wi.shape[0] for Wi in W]
    _check_weights(W, sizes, bias=bias)
    if sizes[-1] != Y.shape[0]:
        raise ValueError(f"the output layer has {sizes[-1]} units but Y has {Y.shape[0]} rows")
    return sizes


def refit_output_layer(W, X, Y, *, lam_w, batch_size, bias=None, inputs=None, reduce=None, xp):
    """The output layer refitted on the network's own features of the whole training set.

    .. math::

        W̃_d = Y Z̃_{d−1}ᵀ (Z̃_{d−1} Z̃_{d−1}ᵀ + λ_W I)^{-1}, \\qquad
        Z_{d−1} = f(W̃_{d−1} ⋯ f(W̃_1 X̃))

    i.e. problem (10) for ``W̃_d`` with the hidden layers fixed, which is exactly the
    minimization of the objective (9) over ``W̃_d``.  The mini-batch solves fit ``W̃_d`` to one
    batch at a time (and, with ``average``, average such fits); this last solve makes the output
    layer consistent with the final hidden layers on all samples.  The Gram matrix and the
    cross product are accumulated over column blocks of ``batch_size`` (memory
    ``O(n_{d−1}·batch_size)``, never ``m × m``); ``(Z Zᵀ)⁺`` when ``λ_W = 0``.

    Parameters
    ----------
    W : list of arrays
        Trained ``W̃_1 … W̃_d``.
    X : array of shape (n_0, m) or None
        The inputs; None with ``inputs`` and hidden layers (the reduced refit does not read
        them).
    Y : array of shape (n_d, m)
    lam_w : float
    batch_size : int
    bias : bool, optional
        Whether the layers carry a bias column. Default: read from the shapes.
    inputs : LowRankInput, optional
        The low-rank input of ``X`` (§1.5) the network was trained on: the first layer is then
        evaluated in its reduced coordinates, ``W₁ X = (W₁ Q diag(σ)) Vt``, an
        (n₁ × r)(r × s) product per block instead of (n₁ × n₀)(n₀ × s) (on MNIST 11 instead
        of 94 GFLOP per refit).  This is exact when the rows of ``W₁`` lie in ``span(Q)``,
        which every first-layer step of the trainers ensures
        (:func:`nmfdnn.reduced_first_layer_step`; a relaxed step, ω ≠ 1, from weights
        outside ``span(Q)`` keeps a part ``(1 − ω)^k`` of them outside after k
        mini-batches).  Default: the full ``X``.
    reduce : callable, optional
        All-reduce hook of data-parallel training: ``G`` and ``C`` are summed over the
        processes, each holding some of the samples (possibly none).
    xp : namespace

    Returns
    -------
    list of arrays
        ``W`` with the last matrix replaced.
    """
    if bias is None:
        n_last = W[-2].shape[0] if len(W) > 1 else X.shape[0]  # width of Z_{d−1}
        bias = W[-1].shape[1] == n_last + 1
    reduced = inputs is not None and len(W) > 1
    if reduced:
        W1r = reduce_first_layer(W[0], inputs.QS, bias=bias, xp=xp)
    G = C = None
    for start, stop in batch_bounds(Y.shape[1], batch_size):
        if reduced:
            Z = forward(W, inputs.Vt[:, start:stop], W1r, bias=bias, xp=xp)[-1]
        else:
            Z = hidden_features(W, X[:, start:stop], bias=bias, xp=xp)
        # per block around its mean, summed in float64 for float32 data (gram_cross_centered)
        Gb, Cb = gram_cross_centered(Z, Y[:, start:stop], bias=bias, xp=xp)
        G, C = (Gb, Cb) if G is None else (G + Gb, C + Cb)
    if reduce is not None:
        G, C = allsum(reduce, G, C, xp=xp)
    return list(W[:-1]) + [solve_gram_right(G, C, lam_w, dtype=W[-1].dtype, xp=xp)]


def output_refit(X, Y, lam_w, batch_size, *, bias, inputs=None, reduce=None, samples=None,
                 partition=None, xp):
    """The ``finish`` hook of :func:`run_epochs` that refits the output layer on ``(X, Y)``.

    With ``samples``, on a fixed subset of about that many training samples: every k-th
    sample, ``k = ⌈m / samples⌉`` (in the global numbering of ``partition`` in data-parallel
    runs, so that every number of processes refits on the same samples).  That is the
    ``interim_finish`` of the trainers: a refit for scoring the epochs before the last, at a
    fraction of the cost of a forward pass over all the data (on MNIST, 20 000 of 60 000
    samples: 0.2 s instead of 0.6 s per epoch on 2 cores; docs/mnist.md, "Eighth round").

    Parameters
    ----------
    X : array of shape (n_0, m)
    Y : array of shape (n_d, m)
    lam_w : float
    batch_size : int
    bias : bool
    inputs : LowRankInput, optional
        The low-rank input of ``X`` (:func:`refit_output_layer`).
    reduce : callable, optional
        All-reduce hook (:func:`refit_output_layer`).
    samples : int, optional
        Refit on about this many samples (None, or at least ``m``: all of them).
    partition : Partition, optional
        This process's global sample numbers (data-parallel runs with ``samples``).
    xp : namespace

    Returns
    -------
    callable
        ``finish(W) -> W`` (:func:`refit_output_layer`).
    """
    m = Y.shape[1] if partition is None else partition.n_total
    if samples is not None and int(samples) < m:
        stride = -(-m // int(samples))
        if partition is None:
            held = xp.arange(0, m, stride, device=_device(Y))
        else:
            held = xp.asarray(partition.local_positions(range(0, m, stride)), device=_device(Y))
        Y = xp.take(Y, held, axis=1)
        if inputs is not None:
            inputs = inputs.with_columns(xp.take(inputs.Vt, held, axis=1))
        columns = {}

        def features(W):  # the refit reads X only without the reduced first layer
            if inputs is not None and len(W) > 1:
                return None
            if "X" not in columns:  # once, on first use
                columns["X"] = xp.take(X, held, axis=1)
            return columns["X"]
    else:
        def features(W):
            return X

    def finish(W):
        return refit_output_layer(W, features(W), Y, lam_w=lam_w, batch_size=batch_size,
                                  bias=bias, inputs=inputs, reduce=reduce, xp=xp)
    return finish


def refit_hooks(X, Y, lam_w, batch_size, *, refit_output, refit_samples, bias, inputs,
                reduce, partition, xp):
    """``(finish, interim_finish)`` of :func:`run_epochs` for the trainers' ``refit_output``
    and ``refit_samples`` (both None without the refit; no interim hook without
    ``refit_samples``; :func:`output_refit` uses all samples when there are no more)."""
    if not refit_output:
        return None, None
    kw = dict(bias=bias, inputs=inputs, reduce=reduce, xp=xp)
    interim = (None if refit_samples is None else
               output_refit(X, Y, lam_w, batch_size, samples=refit_samples, partition=partition,
                            **kw))
    return output_refit(X, Y, lam_w, batch_size, **kw), interim


def prepare_inputs(X, tau, *, check_input=True, reduce=None, xp):
    """The low-rank input of §1.5 (once per run): ``X ≈ Q diag(σ) Vt``, rank by ``σ_i ≥ τ σ_1``.

    (:func:`nmfdnn.lowrank_approximation` scales ``X`` by ``max|X|`` first, so that ``X Xᵀ``
    cannot overflow.)

    Parameters
    ----------
    X : array of shape (n_0, m)
    tau : float
    check_input : bool, default=True
        Check ``X`` (``False`` when it has been validated already).
    reduce : callable, optional
        All-reduce hook when the columns of ``X`` are split among processes.
    xp : namespace

    Returns
    -------
    LowRankInput
    """
    return lowrank_approximation(X, tau=tau, check_input=check_input, reduce=reduce, xp=xp)


