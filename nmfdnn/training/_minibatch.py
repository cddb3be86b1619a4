"""The proposed mini-batch method (ALGORITHMS.md §2, Algorithm 3) and the epoch loop shared
with the original scheme (§4).

Three tiers, as everywhere in nmfdnn:

- :func:`bias_reg_minibatch_step` — one mini-batch of Algorithm 3 (pure, no host sync);
- :func:`run_epochs` — the epoch loop: a fresh permutation per epoch drawn on the host and moved
  once, the per-batch losses kept on the device and read **once per epoch** together with the
  validation score and the per-layer finiteness counters;
- :func:`train_bias_reg` — validation of the arguments, the low-rank input (§1.5) and the loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from array_api_compat import device as _device

from nmfdnn._array_api import get_namespace
from nmfdnn._host import to_numpy
from nmfdnn._linalg import solve_gram_right
from nmfdnn._ops import affine, cross_tilde, gram_tilde, relu, sq_norm
from nmfdnn._validation import (
    NumericalError,
    check_matrix,
    check_nonnegative_scalar,
    check_positive_int,
    check_same_columns,
)
from nmfdnn.factorizations import (
    LowRankInput,
    lowrank_approximation,
    nonlinear_semi_nmf_step,
    reduced_first_layer_step,
    semi_nmf_step,
)
from nmfdnn.training._network import InputBlock, forward, maybe_jit, reduce_first_layer

__all__ = [
    "EpochRecord",
    "TrainingHistory",
    "batch_bounds",
    "prepare_inputs",
    "refit_output_layer",
    "bias_reg_minibatch_step",
    "run_epochs",
    "train_bias_reg",
]


@dataclass
class EpochRecord:
    """What one epoch reports (host values, read once at the end of the epoch).

    Attributes
    ----------
    epoch : int
        1-based epoch number.
    loss : float
        Mean over the epoch's samples of ``½‖y − ŷ‖²``, each mini-batch evaluated with the
        weights it started from (the running training loss, as scikit-learn's MLP reports).
    val_score : float or None
        Validation score after the epoch (``score`` callable of :func:`run_epochs`).
    seconds : float
        Wall time of the epoch, device work included (the read-back synchronizes).
    """

    epoch: int
    loss: float
    val_score: float | None
    seconds: float


@dataclass
class TrainingHistory:
    """Per-epoch records of a training run."""

    records: list = field(default_factory=list)
    stopped_early: bool = False

    @property
    def loss_curve(self):
        return [r.loss for r in self.records]

    @property
    def val_scores(self):
        return [r.val_score for r in self.records]

    @property
    def n_epochs(self):
        return len(self.records)


def batch_bounds(m, batch_size):
    """``ceil(m / s)`` contiguous ``(start, stop)`` ranges of near-equal size covering ``m``.

    Python ints computed before the loop (no value-dependent shapes inside it).
    """
    n_batches = max(1, math.ceil(m / batch_size))
    edges = [round(k * m / n_batches) for k in range(n_batches + 1)]
    return [(edges[k], edges[k + 1]) for k in range(n_batches)]


def bias_reg_minibatch_step(W, VJ, YJ, inputs, *, lam_w, lam_z, inner_iter=1, xp):
    """One mini-batch of Algorithm 3 (ALGORITHMS.md §2), output layer first.

    .. math::

        Z_1 &= f(W̃_{1r} Ṽ_J), \\quad Z_i = f(W̃_i Z̃_{i−1}) && \\text{(forward pass)} \\\\
        W̃_d, Ẑ_{d−1} &← \\text{Alg. 1 on } Y_J ≈ W̃_d \\tilde Z_{d−1} && (13) \\\\
        W̃_i, Ẑ_{i−1} &← \\text{Alg. 2 on } Ẑ_i ≈ f(W̃_i \\tilde Z_{i−1}),\\ i = d−1 … 2 && (14) \\\\
        W̃_1 &← \\text{Alg. 2, U-step only, reduced coordinates (§1.5) on } Ẑ_1 && (15)

    each with ``inner_iter`` iterations, ridge ``λ_W`` on every ``W̃_i`` and ``λ_Z`` on the
    hidden targets.

    Parameters
    ----------
    W : list of arrays
        ``W̃_i`` of shape ``(n_i, n_{i−1} + 1)``; paper layer i is list index i − 1.
    VJ : array of shape (r, s)
        Reduced input coordinates of the mini-batch, ``X_J = Q diag(σ) V_J``.
    YJ : array of shape (n_d, s)
        Targets of the mini-batch.
    inputs : InputBlock
        ``Q``, ``σ`` of the low-rank input.
    lam_w, lam_z : float
        λ_W and λ_Z.
    inner_iter : int, default=1
        Iterations of each layer problem (1 is the default of ALGORITHMS.md §9; the papers
        used 10).
    xp : namespace

    Returns
    -------
    W : list of arrays
        Updated weights (new arrays; the inputs are not modified).
    loss : 0-d array
        ``½‖Y_J − W̃_d Z̃_{d−1}‖²`` with the weights the mini-batch started from.
    """
    d = len(W)
    W1r = reduce_first_layer(W[0], inputs.QS, xp=xp)
    Z = forward(W, VJ, W1r, xp=xp)  # Z[j] = Z_{j+1}, paper numbering
    loss = 0.5 * sq_norm(YJ - affine(W[-1], Z[-1], xp=xp), xp=xp)
    new = list(W)
    # (13) output layer: Algorithm 1 on Y_J ≈ W̃_d Z̃_{d−1}
    U, V = W[-1], Z[-1]
    for _ in range(inner_iter):
        U, V = semi_nmf_step(YJ, U, V, lam_u=lam_w, lam_v=lam_z, xp=xp)
    new[-1], target = U, V
    # (14) hidden layers i = d−1 … 2 (list index j = i − 1): Algorithm 2 on Ẑ_i ≈ f(W̃_i Z̃_{i−1})
    for j in range(d - 2, 0, -1):
        U, V = W[j], Z[j - 1]
        for _ in range(inner_iter):
            U, V = nonlinear_semi_nmf_step(target, U, V, lam_u=lam_w, lam_v=lam_z, xp=xp)
        new[j], target = U, V
    # (15) first layer: U-step of Algorithm 2 in the reduced coordinates (§1.5)
    low = LowRankInput(Q=inputs.Q, sigma=inputs.sigma, Vt=VJ)
    U = W[0]
    for _ in range(inner_iter):
        U = reduced_first_layer_step(target, U, low, lam_w=lam_w, xp=xp)
    new[0] = U
    return new, loss


def run_epochs(step, W, Y, inputs, *, batch_size, max_epochs, rng, score=None, callback=None,
               average=0.0, relax=None, omega=1.0, finish=None, xp):
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
    inputs : InputBlock
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
        ``W̄ ← β W̄ + (1 − β) W``, started at the weights after the first mini-batch (0: off).
        Training continues from the raw ``W``; the averaged weights are scored, passed to
        ``callback`` and returned.  (An "untried lever"
        of ALGORITHMS.md §9, off by default.)
    relax : callable, optional
        ``relax(epoch) -> ω`` in (0, 1]: every mini-batch update is relaxed to
        ``W ← W_old + ω (W_new − W_old)`` (a step schedule across epochs; default: ω = 1).
    omega : float in (0, 2), default=1.0
        Step of the hidden layers' weight updates, ``W̃_i ← W̃_i + ω (W̃_i^{new} − W̃_i)`` for
        i = 1 … d−1 after every mini-batch (the output layer keeps its solve).  This is the ω of
        §1.2 (``X ← X + ω R A†``): for the first layer, whose update is the U-step alone, it is
        exactly that step; ω = 1 is the plain solve, ω ∈ (1, 2) over-relaxation.
    finish : callable, optional
        ``finish(W) -> W`` applied to the weights that are scored, passed to ``callback`` and
        returned (e.g. :func:`refit_output_layer`): after every epoch when ``score`` or
        ``callback`` is given, otherwise after the last one only; training continues from the
        unfinished weights.
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
    m = Y.shape[1]
    bounds = batch_bounds(m, batch_size)
    step = maybe_jit(step, xp)
    history = TrainingHistory()
    d = len(W)
    W_avg = None  # the average starts at the first mini-batch's weights, not the initial ones
    for epoch in range(1, max_epochs + 1):
        rho = 1.0 if relax is None else float(relax(epoch))
        steps = [rho * omega] * (d - 1) + [rho]  # hidden layers, then the output layer
        t0 = time.perf_counter()
        perm = xp.asarray(rng.permutation(m), device=dev)  # one transfer per epoch
        losses = []
        broken = [xp.zeros((), dtype=Y.dtype, device=dev) for _ in range(d)]
        for start, stop in bounds:
            J = perm[start:stop]
            VJ = xp.take(inputs.Vt, J, axis=1)
            YJ = xp.take(Y, J, axis=1)
            try:
                W_new, loss = step(W, VJ, YJ)
            except Exception as exc:  # a backend's linalg refusing non-finite input
                _raise_step_failure(exc, epoch, W, VJ, inputs, xp=xp)
            W_new = [Wn if w == 1.0 else Wo + w * (Wn - Wo)
                     for w, Wo, Wn in zip(steps, W, W_new)]
            W = W_new
            if average:
                W_avg = W if W_avg is None else [
                    average * Wa + (1.0 - average) * Wi for Wa, Wi in zip(W_avg, W)
                ]
            losses.append(loss)
            broken = [
                b + xp.astype(xp.logical_not(xp.all(xp.isfinite(Wi))), Y.dtype)
                for b, Wi in zip(broken, W)
            ]
        W_out = W_avg if average else W
        if finish is not None and (score is not None or callback is not None
                                   or epoch == max_epochs):  # otherwise nobody sees W_out
            W_out = finish(W_out)
        values = [xp.sum(xp.stack(losses)) / m]
        if score is not None:
            values.append(xp.astype(score(W_out), Y.dtype))
        host = to_numpy(xp.stack(values + broken))  # the epoch's only synchronization
        seconds = time.perf_counter() - t0
        loss, counts = float(host[0]), host[-d:]
        if not math.isfinite(loss) or counts.max() > 0:
            _raise_diverged(epoch, loss, counts)
        val = float(host[1]) if score is not None else None
        record = EpochRecord(epoch=epoch, loss=loss, val_score=val, seconds=seconds)
        history.records.append(record)
        if callback is not None and callback(record, W_out):
            history.stopped_early = epoch < max_epochs
            break
    return W_out, history


def _raise_step_failure(exc, epoch, W, VJ, inputs, *, xp):
    """Turn a linear-algebra failure inside a mini-batch into a :class:`NumericalError` naming
    the epoch and the first layer whose weights or activations are not finite (host syncs
    here are fine: training is over)."""
    W1r = reduce_first_layer(W[0], inputs.QS, xp=xp)
    Z = forward(W, VJ, W1r, xp=xp)
    acts = Z + [affine(W[-1], Z[-1], xp=xp)]
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


def _check_training_args(X, Y, batch_size, max_epochs, inner_iter, tau, omega, *, xp):
    """Validate the arguments shared by both trainers; returns ω as a float."""
    check_matrix(X, "X", xp=xp)
    check_matrix(Y, "Y", xp=xp, dtype=X.dtype)
    check_same_columns(("X", X), ("Y", Y))
    m = X.shape[1]
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


def check_omega(omega):
    """ω of the hidden layers' steps: a real in (0, 2) (over-relaxation diverges at ω ≥ 2)."""
    if isinstance(omega, bool) or not isinstance(omega, (int, float)) or not 0 < omega < 2:
        raise ValueError(f"omega must be a number in (0, 2), got {omega!r}")
    return float(omega)


def _check_weights(W, sizes, bias):
    if len(W) != len(sizes) - 1:
        raise ValueError(f"expected {len(sizes) - 1} weight matrices, got {len(W)}")
    for i, (Wi, n_in, n_out) in enumerate(zip(W, sizes[:-1], sizes[1:]), start=1):
        shape = (n_out, n_in + int(bias))
        if tuple(Wi.shape) != shape:
            raise ValueError(f"W[{i - 1}] (layer {i}) must have shape {shape}, got {Wi.shape}")


def _check_network_shapes(X, Y, W, *, bias):
    """Layer widths ``[n0, n1, ..., nd]`` of the weights ``W``, checked against ``X`` and ``Y``."""
    sizes = [X.shape[0]] + [Wi.shape[0] for Wi in W]
    _check_weights(W, sizes, bias=bias)
    if sizes[-1] != Y.shape[0]:
        raise ValueError(f"the output layer has {sizes[-1]} units but Y has {Y.shape[0]} rows")
    return sizes


def refit_output_layer(W, X, Y, *, lam_w, batch_size, xp):
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
    X : array of shape (n_0, m)
    Y : array of shape (n_d, m)
    lam_w : float
    batch_size : int
    xp : namespace

    Returns
    -------
    list of arrays
        ``W`` with the last matrix replaced.
    """
    n_last = W[-2].shape[0] if len(W) > 1 else X.shape[0]  # width of Z_{d−1}
    bias = W[-1].shape[1] == n_last + 1
    G = C = None
    for start, stop in batch_bounds(X.shape[1], batch_size):
        Z = X[:, start:stop]
        for Wi in W[:-1]:
            Z = relu(affine(Wi, Z, xp=xp), xp=xp)
        Gb = gram_tilde(Z, bias=bias, xp=xp)
        Cb = cross_tilde(Y[:, start:stop], Z, bias=bias, xp=xp)
        G, C = (Gb, Cb) if G is None else (G + Gb, C + Cb)
    return list(W[:-1]) + [solve_gram_right(G, C, lam_w, xp=xp)]


def _output_refit(X, Y, lam_w, batch_size, *, xp):
    """The ``finish`` hook of :func:`run_epochs` that refits the output layer on ``(X, Y)``."""
    def finish(W):
        return refit_output_layer(W, X, Y, lam_w=lam_w, batch_size=batch_size, xp=xp)
    return finish


def prepare_inputs(X, tau, *, xp):
    """The low-rank input of §1.5 (once per run): ``X ≈ Q diag(σ) Vt``, rank by ``σ_i ≥ τ σ_1``.

    (:func:`nmfdnn.lowrank_approximation` scales ``X`` by ``max|X|`` first, so that ``X Xᵀ``
    cannot overflow.)
    """
    return InputBlock(lowrank_approximation(X, tau=tau, xp=xp))


def train_bias_reg(X, Y, W, *, batch_size=5000, max_epochs=10, lam_w=1e-3, lam_z=1e-5,
                   inner_iter=1, tau=4e-2, rng, inputs=None, score=None, callback=None,
                   average=0.0, relax=None, omega=1.0, refit_output=False, xp=None):
    """Train a ReLU network by Algorithm 3 (bias and regularization; ALGORITHMS.md §2).

    Minimizes, mini-batch by mini-batch, the layer problems (13)–(15) of

    .. math::

        Ẽ = ½‖Y − W̃_d Z̃_{d−1}‖²_F + (λ_W/2) Σ_i ‖W̃_i‖²_F

    Parameters
    ----------
    X : array of shape (n_0, m)
        Inputs, one column per sample.
    Y : array of shape (n_d, m)
        Targets (one-hot columns for classification).
    W : list of arrays
        Initial ``W̃_i`` of shape ``(n_i, n_{i−1} + 1)`` (random with random biases, or from
        :func:`nmfdnn.training.autoencoder_init`).  Matrices without the bias column
        (``(n_i, n_{i−1})``, all layers alike) train the same problems without bias (the
        "no bias" comparison of ALGORITHMS.md §8).
    batch_size : int, default=5000
        Mini-batch size s (≤ m).
    max_epochs : int, default=10
    lam_w, lam_z : float, default=(1e-3, 1e-5)
        λ_W and λ_Z (MNIST settings of the papers).
    inner_iter : int, default=1
        Iterations per layer problem and mini-batch.
    tau : float, default=4e-2
        Relative singular-value threshold of the low-rank input (§1.5).
    rng : numpy.random.Generator
        Host generator of the mini-batch permutations.
    inputs : InputBlock, optional
        Precomputed low-rank input of ``X`` (skips the decomposition).
    score, callback, average, relax, omega
        See :func:`run_epochs`.
    refit_output : bool, default=False
        After every epoch, refit the output layer on all training samples
        (:func:`refit_output_layer`) in the weights that are scored and returned (one more
        forward pass over the data per epoch; training continues from the mini-batch weights).
    xp : namespace, optional

    Returns
    -------
    W : list of arrays
    history : TrainingHistory
    """
    xp = get_namespace(X, Y, xp=xp)
    omega = _check_training_args(X, Y, batch_size, max_epochs, inner_iter, tau, omega, xp=xp)
    lam_w = check_nonnegative_scalar(lam_w, "lam_w")
    lam_z = check_nonnegative_scalar(lam_z, "lam_z")
    _check_network_shapes(X, Y, W, bias=W[0].shape[1] == X.shape[0] + 1)
    if inputs is None:
        inputs = prepare_inputs(X, tau, xp=xp)

    def step(Wk, VJ, YJ):
        return bias_reg_minibatch_step(Wk, VJ, YJ, inputs, lam_w=lam_w, lam_z=lam_z,
                                       inner_iter=inner_iter, xp=xp)

    finish = _output_refit(X, Y, lam_w, batch_size, xp=xp) if refit_output else None
    return run_epochs(step, W, Y, inputs, batch_size=batch_size, max_epochs=max_epochs, rng=rng,
                      score=score, callback=callback, average=average, relax=relax, omega=omega,
                      finish=finish, xp=xp)
