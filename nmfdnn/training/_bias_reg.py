"""Algorithm 3 of ALGORITHMS.md §2: training with bias vectors and regularization.

Three tiers, as everywhere in nmfdnn:

- :func:`bias_reg_minibatch_step` — one mini-batch of Algorithm 3 (pure, no host sync, jit-able);
- :func:`nmfdnn.training.run_epochs` — the epoch loop shared with the original scheme;
- :func:`train_bias_reg` — validation of the arguments, the low-rank input (§1.5) and the loop.
"""

from __future__ import annotations

from nmfdnn._array_api import get_namespace
from nmfdnn._ops import affine, sq_norm
from nmfdnn._validation import check_nonnegative_scalar
from nmfdnn.factorizations import (
    nonlinear_semi_nmf_step,
    reduced_first_layer_step,
    semi_nmf_step,
)
from nmfdnn.training._epochs import (
    refit_hooks,
    run_epochs,
    setup_run,
)
from nmfdnn.training._layers import forward, reduce_first_layer

__all__ = ["bias_reg_minibatch_step", "train_bias_reg"]


def bias_reg_minibatch_step(W, VJ, YJ, inputs, *, lam_w, lam_z, inner_iter=1, bias=None,
                            reduce=None, xp):
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
    inputs : LowRankInput
        ``Q``, ``σ`` (and ``QS``) of the low-rank input.
    lam_w, lam_z : float
        λ_W and λ_Z.
    inner_iter : int, default=1
        Iterations of each layer problem (1 is the default of ALGORITHMS.md §9; the papers
        used 10).
    bias : bool, optional
        Whether the layers carry a bias column (``False``: the "no bias" comparison of §8).
        Default: read from ``W[0]``'s shape.
    reduce : callable, optional
        All-reduce hook of data-parallel training (:mod:`nmfdnn.distributed`): the layer
        solves' sums over samples are summed over the processes; ``VJ`` and ``YJ`` hold this
        process's members of the mini-batch (possibly none).  ``None``: one process.
    xp : namespace

    Returns
    -------
    W : list of arrays
        Updated weights (new arrays; the inputs are not modified).
    loss : 0-d array
        ``½‖Y_J − W̃_d Z̃_{d−1}‖²`` with the weights the mini-batch started from.
    """
    d = len(W)
    if bias is None:
        bias = W[0].shape[1] == inputs.QS.shape[0] + 1
    W1r = reduce_first_layer(W[0], inputs.QS, bias=bias, xp=xp)
    # Z[j] = Z_{j+1} = f(P[j]), paper numbering; P[j] is reused by the first U-step of layer j+1
    Z, P = forward(W, VJ, W1r, bias=bias, preactivations=True, xp=xp)
    loss = 0.5 * sq_norm(YJ - affine(W[-1], Z[-1], bias=bias, xp=xp), xp=xp)
    new = list(W)
    # (13) output layer: Algorithm 1 on Y_J ≈ W̃_d Z̃_{d−1}
    U, V = W[-1], Z[-1]
    for _ in range(inner_iter):
        U, V = semi_nmf_step(YJ, U, V, lam_u=lam_w, lam_v=lam_z, bias=bias, reduce=reduce,
                             xp=xp)
    new[-1], target = U, V
    # (14) hidden layers i = d−1 … 2 (list index j = i − 1): Algorithm 2 on Ẑ_i ≈ f(W̃_i Z̃_{i−1})
    for j in range(d - 2, 0, -1):
        U, V = W[j], Z[j - 1]
        for k in range(inner_iter):
            U, V = nonlinear_semi_nmf_step(target, U, V, lam_u=lam_w, lam_v=lam_z, bias=bias,
                                          reduce=reduce, P=P[j] if k == 0 else None, xp=xp)
        new[j], target = U, V
    # (15) first layer: U-step of Algorithm 2 in the reduced coordinates (§1.5)
    low = inputs.with_columns(VJ)
    U = W[0]
    for k in range(inner_iter):
        U = reduced_first_layer_step(target, U, low, lam_w=lam_w, bias=bias, reduce=reduce,
                                     P=P[0] if k == 0 else None, xp=xp)
    new[0] = U
    return new, loss


def train_bias_reg(X, Y, W, *, batch_size=5000, max_epochs=10, lam_w=1e-3, lam_z=1e-5,
                   inner_iter=1, tau=4e-2, rng, bias=None, inputs=None, score=None,
                   callback=None, average=0.0, relax=None, omega=1.0, momentum=0.0,
                   momentum_epochs=None, refit_output=False, refit_samples=None,
                   check_input=True, comm=None,
                   partition=None, state=None, on_epoch=None, xp=None):
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
    bias : bool, optional
        Whether the layers carry a bias column. Default: read from ``W[0]``'s shape.
    inputs : LowRankInput, optional
        Precomputed low-rank input of ``X`` (skips the decomposition).
    score : callable, optional
        ``score(W) -> 0-d array``, the validation score after each epoch (see
        :func:`~nmfdnn.training.run_epochs`).
    callback : callable, optional
        ``callback(record, W) -> bool`` after each epoch; ``True`` stops.
    average : float, default=0.0
        β of the exponential moving average of the weights (0: off).
    relax : callable, optional
        ``relax(epoch) -> ω_e``, a relaxation of every update per epoch.
    omega : float, default=1.0
        Step ω ∈ (0, 2) of the hidden layers' updates.
    momentum : float, default=0.0
        μ ∈ [0, 1) of the heavy-ball term on the hidden layers' weights across mini-batches
        (see :func:`~nmfdnn.training.run_epochs`; 0: off).
    momentum_epochs : int, optional
        The momentum acts in the first ``momentum_epochs`` epochs only (None: in all).
    refit_output : bool, default=False
        After every epoch, refit the output layer on all training samples
        (:func:`refit_output_layer`) in the weights that are scored and returned (one more
        forward pass over the data per epoch; training continues from the mini-batch weights).
    refit_samples : int, optional
        With ``refit_output``: the refits after the epochs before the last, whose weights are
        only scored and passed to ``callback``, use about this many samples (every k-th,
        :func:`~nmfdnn.training.output_refit`); the last epoch's refit, the weights
        returned, uses all of them.  None: all samples after every epoch.
    check_input : bool, default=True
        Check ``X`` and ``Y`` (``False`` when an estimator has validated them already).
    comm : mpi4py communicator or Communicator, optional
        Data-parallel training (:mod:`nmfdnn.distributed`): ``X`` and ``Y`` are this process's
        samples; every process ends with the same weights as one process holding all the
        samples in rank order (to rounding).  ``W`` must be the same on every process.
    partition : Partition, optional
        Global numbers of this process's samples (default: contiguous blocks in rank order).
    state : LoopState, optional
        Continue a run (see :func:`~nmfdnn.training.run_epochs`).
    on_epoch : callable, optional
        ``on_epoch(LoopState)`` after every epoch, e.g. to write a checkpoint (see
        :func:`~nmfdnn.training.run_epochs`).
    xp : namespace, optional

    Returns
    -------
    W : list of arrays
    history : TrainingHistory
    """
    xp = get_namespace(X, Y, xp=xp)
    lam_w = check_nonnegative_scalar(lam_w, "lam_w")  # the same on every process
    lam_z = check_nonnegative_scalar(lam_z, "lam_z")
    if bias is None:
        bias = W[0].shape[1] == X.shape[0] + 1
    omega, momentum, comm, partition, inputs = setup_run(
        X, Y, W, batch_size=batch_size, max_epochs=max_epochs, inner_iter=inner_iter, tau=tau,
        omega=omega, bias=bias, check_input=check_input, comm=comm, partition=partition,
        inputs=inputs, xp=xp, momentum=momentum, momentum_epochs=momentum_epochs)

    def step(Wk, VJ, YJ):
        return bias_reg_minibatch_step(Wk, VJ, YJ, inputs, lam_w=lam_w, lam_z=lam_z,
                                       inner_iter=inner_iter, bias=bias, reduce=comm, xp=xp)

    finish, interim = refit_hooks(X, Y, lam_w, batch_size, refit_output=refit_output,
                                  refit_samples=refit_samples, bias=bias, inputs=inputs,
                                  reduce=comm, partition=partition, xp=xp)
    return run_epochs(step, W, Y, inputs, batch_size=batch_size, max_epochs=max_epochs, rng=rng,
                      score=score, callback=callback, average=average, relax=relax, omega=omega,
                      momentum=momentum, momentum_epochs=momentum_epochs,
                      finish=finish, interim_finish=interim, bias=bias, comm=comm,
                      partition=partition, state=state,
                      on_epoch=on_epoch, xp=xp)
