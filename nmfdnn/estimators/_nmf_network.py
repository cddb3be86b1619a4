"""scikit-learn estimators for networks trained without backpropagation.

:class:`NMFNetworkClassifier` and :class:`NMFNetworkRegressor` wrap the trainers of
:mod:`nmfdnn.training` (Algorithm 3 and the original scheme of ALGORITHMS.md) over the neutral
:class:`~nmfdnn.estimators._network_base.BaseNetwork`, which they share with the
backpropagation baseline.
"""

from __future__ import annotations

import numbers

from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions

from nmfdnn._host import to_numpy
from nmfdnn.estimators._network_base import (
    SHARED_PARAMETERS,
    BaseNetwork,
    fill_doc,
)
from nmfdnn.estimators._network_tasks import NetworkClassifierMixin, NetworkRegressorMixin
from nmfdnn.training import (
    LoopState,
    autoencoder_init,
    prepare_inputs,
    random_weights,
    train_bias_reg,
    train_original,
)

__all__ = ["NMFNetworkClassifier", "NMFNetworkRegressor"]

#: Mini-batches per epoch from which ``init``, ``omega`` and ``average`` = "auto" select the
#: autoencoder initialization, ω = 1.8 and β = 0.9 (MNIST has 12; the toys and digits 1–2).
AUTO_MIN_BATCHES = 4

#: Hidden layers from which ``alpha_W="auto"`` is :data:`AUTO_DEEP_ALPHA_W` (with at least
#: :data:`AUTO_MIN_BATCHES` mini-batches per epoch; 10⁻³ otherwise).
AUTO_DEEP_LAYERS = 3

#: λ_W of ``alpha_W="auto"`` for deep networks (docs/mnist.md, "Fifth round").
AUTO_DEEP_ALPHA_W = 3e-2

#: λ_W of ``alpha_W="auto"`` otherwise: the papers' MNIST setting.
AUTO_ALPHA_W = 1e-3

#: μ of ``momentum="auto"`` (with at least :data:`AUTO_MIN_BATCHES` mini-batches per epoch; 0
#: otherwise), for the first ``momentum_epochs`` epochs (docs/mnist.md, "Sixth round").
AUTO_MOMENTUM = 0.7

#: Autoencoder iterations of the hidden layers above the first under ``ae_iter="auto"`` (the
#: papers' MNIST setting); the first of two or more hidden layers keeps its random weights
#: (docs/mnist.md, "Eighth round").
AUTO_AE_ITER = 5

#: The weight lists of a :class:`~nmfdnn.training.LoopState` that a checkpoint holds (the
#: raw weights, their average, the weights before the last mini-batch; the last two may be None).
_STATE_LISTS = ("W", "W_avg", "W_prev")

#: The parameters of the trainers without backpropagation, in signature order (docstrings).
_NMF_PARAMETERS = """\
    hidden_layer_sizes : sequence of int, default=(100,)
        Widths ``n_1 … n_{d−1}`` of the hidden ReLU layers.
    method : {"bias-reg", "original"}, default="bias-reg"
    batch_size : int or "auto", default="auto"
        Mini-batch size s; "auto" is ``min(5000, n_samples)`` (the papers' 5000).  A batch
        at least as large as the widest layer works best.  Larger than the data: an error.
    max_epochs : int, default=10
    inner_iter : int, default=1
        Iterations of every layer problem per mini-batch (ALGORITHMS.md §9: 1 beats the
        papers' 10).
    alpha_W : float or "auto", default="auto"
        λ_W, the ridge on every ``W̃_i`` (ignored by ``method="original"``).  "auto":
        :data:`AUTO_DEEP_ALPHA_W` (3·10⁻²) for networks of at least
        :data:`AUTO_DEEP_LAYERS` (3) hidden layers trained with at least 4 mini-batches per
        epoch, 10⁻³ (the papers' MNIST setting) otherwise.  Deeper networks fit MNIST's
        training set exactly and want more ridge: on [1500, 1000, 500] λ_W = 3·10⁻² takes
        the test error from 1.62 ± 0.12 to 1.43 ± 0.05 % (four seeds) and leaves
        Fashion-MNIST, not tuned on, where it was (11.76 → 11.65 %); on
        [2000, 1500, 1000, 500] from 2.01 / 1.74 to 1.54 / 1.51 % (two seeds); on
        [1000, 500] it costs Fashion-MNIST 0.4 point, so two hidden layers keep 10⁻³
        (docs/mnist.md, "Fifth round"; these figures without ``momentum``).  λ_W = 10⁻²
        takes [2000, 1000] to 1.31 ± 0.03 % in 20 epochs with ``momentum=0`` (docs/mnist.md,
        "Eighth round").
    alpha_Z : float, default=1e-5
        λ_Z, the ridge on the hidden targets (the MNIST setting; ignored by
        ``method="original"``).
    rank_tol : float, default=4e-2
        τ of the low-rank input (§1.5): singular values ``σ_i ≥ τ σ_1`` are kept (the
        papers' MNIST setting: rank 91 there; ``rank_`` after fitting).  It matters on
        other data: on Fashion-MNIST τ = 4·10⁻² keeps rank 33 and [1000, 500] reaches
        11.8 %, τ = 10⁻² (rank 283) 10.4 %, while on MNIST a finer input is worse
        (τ = 2·10⁻²: 1.7–2.0 % against 1.5 %).  Try 10⁻²–2·10⁻² when the training error
        stays well above zero; choose it on a validation split (docs/mnist.md,
        "Fifth round").
    bias : bool, default=True
        Bias vectors in ``method="bias-reg"`` (``False`` reproduces the "no bias" case of §8).
    init : {"auto", "random", "autoencoder"}, default="auto"
        Random weights and biases (``N(0, 2/n_{i−1})``) or the NMF stacked autoencoder (§3).
        "auto": the autoencoder when an epoch has at least 4 mini-batches (MNIST: 12),
        random weights otherwise.
    ae_samples : int, default=2000
        Samples of the autoencoder.  2000 samples (the papers used 5000) give the same test
        errors on MNIST and Fashion-MNIST in under half the set-up time (docs/mnist.md,
        "Seventh round").
    ae_iter : int, sequence of int or "auto", default="auto"
        Autoencoder iterations per hidden layer (one int for all, or one count per hidden
        layer; 0 keeps that layer's random weights, :func:`nmfdnn.training.autoencoder_init`).
        "auto": with two or more hidden layers the first keeps its random weights and the
        others get :data:`AUTO_AE_ITER` (5) iterations, which trains to the same test errors
        on MNIST and Fashion-MNIST as autoencoding every layer, in half the set-up time
        (docs/mnist.md, "Eighth round"); a single hidden layer gets 5.
    average : float in [0, 1) or "auto", default="auto"
        β of an exponential moving average of the weights across mini-batches; the averaged
        weights are the fitted ones (0: off).  β = 0.9 is a horizon of about one epoch of
        MNIST (12 mini-batches); the first mini-batches are averaged with the warm-up
        ``β_t = min(β, t/(t + 9))``, so the average does not lag behind in the first epochs
        (:func:`nmfdnn.training.run_epochs`).  "auto": 0.9 when an epoch has at least
        4 mini-batches, 0 otherwise (with one or two mini-batches per epoch, as on the toys
        and digits, the average would lag the training by several epochs).
        See docs/mnist.md.
    omega : float in (0, 2) or "auto", default="auto"
        Step of the hidden layers' weight updates after every mini-batch,
        ``W̃_i ← W̃_i + ω (W̃_i^{new} − W̃_i)`` (the ω of ALGORITHMS.md §1.2); values in (1, 2)
        over-relax.  "auto": 1.8 when an epoch has at least 4 mini-batches, 1 otherwise.
        docs/mnist.md measures the three "auto" choices together on MNIST and
        Fashion-MNIST.
    momentum : float in [0, 1) or "auto", default="auto"
        μ of a heavy-ball term on the hidden layers' weights across mini-batches: after every
        mini-batch ``W̃_i ← W̃_i + ω (W̃_i^{new} − W̃_i) + μ (W̃_i − W̃_i^{prev})``, where
        ``W̃_i^{prev}`` are the weights before the previous mini-batch (the output layer keeps
        its solve).  It speeds up the first epochs: on MNIST the test error after epoch 2
        falls from 2.1–2.4 % to 1.7–1.8 %.  Kept on for all epochs it fits the training set
        too fast and the test error rises again, hence ``momentum_epochs``.  On
        Fashion-MNIST [1000, 500] it is ahead until epoch 8 but ends 0.15 point behind after
        10 epochs; ``momentum=0`` gives the training before this option digit for digit.
        "auto": 0.7 when an epoch has at least 4 mini-batches, 0 otherwise (docs/mnist.md,
        "Sixth round").
    momentum_epochs : int or None, default=2
        The momentum acts in epochs 1 … ``momentum_epochs`` only (None: in every epoch).
    refit_output : bool, default=True
        After every epoch, refit the output layer by ridge least squares on the network's
        features of all training samples (:func:`nmfdnn.training.refit_output_layer`): the
        minimizer of the objective (9) over ``W̃_d`` for the trained hidden layers, at the
        cost of one more forward pass per epoch.  The refitted weights are the ones scored,
        kept by early stopping and returned; training continues from the mini-batch
        solves.  It lowered the test error in every case measured (docs/mnist.md; the
        disk toy at batch 150: 93.4 → 95.8 % over 5 seeds); ``False`` returns the last
        mini-batch solve (the papers' Algorithm 3 as written).
    refit_samples : int or None, default=20000
        The refits after the epochs before the last, which are only scored
        (``validation_scores_``, verbose lines, callbacks), use about this many training
        samples (every k-th one); the refit after the last epoch, the weights returned,
        uses all of them, so the fitted network does not depend on it.  On MNIST this takes
        0.4 s off every epoch but the last (docs/mnist.md, "Eighth round").  None: all
        samples after every epoch.  With ``early_stopping`` every refit uses all samples
        (the weights it keeps are returned).
    step_decay : float, default=0.0
        Relax each mini-batch update to ``W ← W_old + ω_e (W_new − W_old)`` with
        ``ω_e = 1 / (1 + step_decay·(e − 1))`` in epoch e (0: plain updates).  Experimental.
    rcond : float in (0, 1) or "auto", default="auto"
        Relative singular-value cut-off of the pseudo-inverses of ``method="original"``
        (which has no ridge term; ALGORITHMS.md §1.4): singular values below
        ``rcond·σ_max`` are dropped, and the directions they span are not updated.
        "auto": 10⁻³ in float32, ``sqrt(n·eps)`` (≈ 5·10⁻⁷) in float64.  Through the Gram
        route the float32 default ``sqrt(n·eps)`` (0.011 for n = 1000) drops 90 % of the
        directions of the first hidden layer's outputs on MNIST, and the scheme stalls at
        3.3 %; with 10⁻³ it trains as in float64 (docs/mnist.md).  Ignored by
        ``method="bias-reg"`` (its ridge solves need no cut-off).
"""


class _BaseNMFNetwork(BaseNetwork):
    """Parameters and training hook of the networks trained without backpropagation."""

    _parameter_constraints: dict = {
        **BaseNetwork._parameter_constraints,
        "method": [StrOptions({"bias-reg", "original"})],
        "inner_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha_W": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "alpha_Z": [Interval(numbers.Real, 0, None, closed="left")],
        "rank_tol": [Interval(numbers.Real, 0, 1, closed="left")],
        "bias": ["boolean"],
        "init": [StrOptions({"auto", "random", "autoencoder"})],
        "ae_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "ae_iter": [Interval(numbers.Integral, 0, None, closed="left"), "array-like",
                    StrOptions({"auto"})],
        "average": [Interval(numbers.Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "omega": [Interval(numbers.Real, 0, 2, closed="neither"), StrOptions({"auto"})],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "momentum_epochs": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "refit_output": ["boolean"],
        "refit_samples": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "step_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "rcond": [Interval(numbers.Real, 0, 1, closed="neither"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        method="bias-reg",
        batch_size="auto",
        max_epochs=10,
        inner_iter=1,
        alpha_W="auto",
        alpha_Z=1e-5,
        rank_tol=4e-2,
        bias=True,
        init="auto",
        ae_samples=2000,
        ae_iter="auto",
        average="auto",
        omega="auto",
        momentum="auto",
        momentum_epochs=2,
        refit_output=True,
        refit_samples=20000,
        step_decay=0.0,
        rcond="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        backend=None,
        device=None,
        dtype="float32",
        random_state=None,
        verbose=False,
        callbacks=None,
        warm_start=False,
        checkpoint=None,
        resume=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.method = method
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.inner_iter = inner_iter
        self.alpha_W = alpha_W
        self.alpha_Z = alpha_Z
        self.rank_tol = rank_tol
        self.bias = bias
        self.init = init
        self.ae_samples = ae_samples
        self.ae_iter = ae_iter
        self.average = average
        self.omega = omega
        self.momentum = momentum
        self.momentum_epochs = momentum_epochs
        self.refit_output = refit_output
        self.refit_samples = refit_samples
        self.step_decay = step_decay
        self.rcond = rcond
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.checkpoint = checkpoint
        self.resume = resume

    def _resolved_ae_iter(self, n_hidden):
        """``ae_iter`` as one count per hidden layer ("auto": 0 for the first of two or more
        hidden layers, :data:`AUTO_AE_ITER` for the others)."""
        if isinstance(self.ae_iter, str):  # "auto"
            return [AUTO_AE_ITER] if n_hidden == 1 else [0] + [AUTO_AE_ITER] * (n_hidden - 1)
        if isinstance(self.ae_iter, numbers.Integral):
            return [int(self.ae_iter)] * n_hidden
        counts = list(self.ae_iter)
        if (len(counts) != n_hidden
                or not all(isinstance(c, numbers.Integral) and c >= 0 for c in counts)):
            raise ValueError(f"ae_iter must hold one non-negative int per hidden layer "
                             f"({n_hidden}), got {self.ae_iter!r}")
        return [int(c) for c in counts]

    def _auto_settings(self, n_samples, batch_size, n_hidden):
        """``(init, omega, average, alpha_W, momentum)`` with the "auto" values resolved.

        With at least :data:`AUTO_MIN_BATCHES` mini-batches per epoch (either method): the
        autoencoder initialization, ω = 1.8, β = 0.9 and μ = :data:`AUTO_MOMENTUM`
        (docs/mnist.md), and λ_W = :data:`AUTO_DEEP_ALPHA_W` from :data:`AUTO_DEEP_LAYERS`
        hidden layers (10⁻³ below); otherwise random weights, ω = 1, β = 0, μ = 0 and
        λ_W = 10⁻³.
        """
        many = -(-int(n_samples) // int(batch_size)) >= AUTO_MIN_BATCHES
        init = self.init if self.init != "auto" else ("autoencoder" if many else "random")
        omega = float(self.omega) if self.omega != "auto" else (1.8 if many else 1.0)
        average = float(self.average) if self.average != "auto" else (0.9 if many else 0.0)
        deep = many and n_hidden >= AUTO_DEEP_LAYERS
        alpha_w = (float(self.alpha_W) if self.alpha_W != "auto"
                   else (AUTO_DEEP_ALPHA_W if deep else AUTO_ALPHA_W))
        momentum = (float(self.momentum) if self.momentum != "auto"
                    else (AUTO_MOMENTUM if many else 0.0))
        return init, omega, average, alpha_w, momentum

    def _train(self, Xc, Y, sizes, *, batch_size, rng, score, callback, xp, device, dtype,
               comm=None, partition=None, state=None, on_epoch=None, max_epochs=None):
        """Initial weights and the trainer of ``method``; returns ``(W̃ list, history)``.

        With ``state`` (a :class:`~nmfdnn.training.LoopState`) training continues from it
        (no initialization) up to ``max_epochs`` epochs in all."""
        bias = self.method == "bias-reg" and bool(self.bias)
        ae_iter = self._resolved_ae_iter(len(sizes) - 2)  # checked before any work
        inputs = prepare_inputs(Xc, float(self.rank_tol), check_input=False, reduce=comm, xp=xp)
        self.rank_ = inputs.rank
        n_total = Xc.shape[1] if partition is None else partition.n_total
        init, omega, average, alpha_w, momentum = self._auto_settings(n_total, batch_size,
                                                                      len(sizes) - 2)
        lam_w = alpha_w if self.method == "bias-reg" else 0.0
        if state is not None:
            W = state.W
        elif init == "autoencoder":
            W = autoencoder_init(inputs, Y, sizes, bias=bias, lam_w=lam_w,
                                 n_samples=self.ae_samples,
                                 iter_ae=ae_iter, rng=rng,
                                 comm=comm, partition=partition, xp=xp)
        else:
            W = random_weights(sizes, bias=bias, rng=rng, xp=xp, device=device, dtype=dtype)
        decay = float(self.step_decay)
        relax = (lambda epoch: 1.0 / (1.0 + decay * (epoch - 1))) if decay else None
        common = dict(batch_size=batch_size,
                      max_epochs=self.max_epochs if max_epochs is None else max_epochs,
                      inner_iter=self.inner_iter, tau=float(self.rank_tol), rng=rng,
                      inputs=inputs, score=score, callback=callback,
                      average=average, relax=relax, omega=omega, momentum=momentum,
                      momentum_epochs=self.momentum_epochs,
                      refit_output=bool(self.refit_output),
                      refit_samples=None if self.early_stopping else self.refit_samples,
                      check_input=False, comm=comm,
                      partition=partition, state=state, on_epoch=on_epoch, xp=xp)
        if self.method == "bias-reg":
            return train_bias_reg(Xc, Y, W, lam_w=lam_w, lam_z=float(self.alpha_Z), bias=bias,
                                  **common)
        return train_original(Xc, Y, W, rcond=self._resolved_rcond(xp, dtype), **common)

    def _resolved_rcond(self, xp, dtype):
        """The pseudo-inverses' cut-off of ``method="original"``: ``rcond``, or for "auto"
        10⁻³ in single precision and None (``sqrt(n·eps)``, below 10⁻⁶) in double."""
        if self.rcond != "auto":
            return float(self.rcond)
        return 1e-3 if float(xp.finfo(dtype).eps) > 1e-10 else None

    def _pack_state(self, state):
        arrays = {f"{name}_{i}": to_numpy(Wi) for name in _STATE_LISTS
                  for i, Wi in enumerate(getattr(state, name) or [])}
        return arrays, {"n_layers": len(state.W)}

    def _unpack_state(self, arrays, meta, history, *, xp, device):
        n = meta["n_layers"]
        lists = {name: ([xp.asarray(arrays[f"{name}_{i}"], device=device) for i in range(n)]
                        if f"{name}_0" in arrays else None)
                 for name in _STATE_LISTS}  # the average and W_prev may be absent
        return LoopState(epoch=int(meta["epoch"]), history=history, **lists)

    def _state_widths(self, state):
        bias = self.method == "bias-reg" and bool(self.bias)
        return [state.W[0].shape[1] - int(bias)] + [Wi.shape[0] for Wi in state.W]



@fill_doc(nmf_parameters=_NMF_PARAMETERS, shared_parameters=SHARED_PARAMETERS)
class NMFNetworkClassifier(ClassifierMixin, NetworkClassifierMixin, _BaseNMFNetwork):
    """ReLU network classifier trained without backpropagation (semi-NMF layer problems).

    The targets are one-hot columns ``Y``; the network output ``W̃_d Z̃_{d−1}`` is fitted to
    them by least squares (``½‖Y − ŷ‖²``) layer by layer: Algorithm 3 of ALGORITHMS.md §2
    (``method="bias-reg"``: bias vectors, ridge ``λ_W = alpha_W`` on the weights and
    ``λ_Z = alpha_Z`` on the hidden targets, mini-batches, low-rank input) or the original
    alternating scheme of §4 (``method="original"``: no bias, no regularization).

    Parameters
    ----------
%(nmf_parameters)s%(shared_parameters)s
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of arrays
        ``coefs_[i]`` of shape ``(n_i, n_{i+1})`` — the paper's ``W_{i+1}ᵀ``; on the fit device.
    intercepts_ : list of arrays
        ``intercepts_[i]`` of shape ``(n_{i+1},)`` — ``b_{i+1}`` (zeros without bias).
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        The running training loss of each epoch: the mean over the epoch's mini-batches of
        ``½‖y − ŷ‖²`` per sample, each mini-batch evaluated with the weights it *started*
        from (before its update), and without the output refit — as scikit-learn's MLP
        reports it.  It lags the returned weights (after one epoch from random weights it
        is dominated by the first mini-batches); the loss of the fitted model on the
        training data is ``½‖y − ŷ‖²`` of ``decision_function(X)``.
    validation_scores_ : list of float or None
        Accuracy on the validation data after each epoch.
    best_validation_score_ : float or None
    epoch_times_ : list of float
        Seconds per epoch.
    fit_time_ : float
    rank_ : int
        Rank of the low-rank input.
    batch_size_ : int
    n_features_in_ : int
    backend_ : str

    Examples
    --------
    >>> from nmfdnn.datasets import load_digits
    >>> from nmfdnn.estimators import NMFNetworkClassifier
    >>> X, y, Xt, yt = load_digits()
    >>> clf = NMFNetworkClassifier((500,), random_state=0).fit(X, y)
    >>> clf.score(Xt, yt) > 0.94
    True
    """


@fill_doc(nmf_parameters=_NMF_PARAMETERS, shared_parameters=SHARED_PARAMETERS)
class NMFNetworkRegressor(RegressorMixin, NetworkRegressorMixin, _BaseNMFNetwork):
    """ReLU network regressor trained without backpropagation (semi-NMF layer problems).

    The same training as :class:`NMFNetworkClassifier`, with the same attributes (no
    ``classes_``); the targets ``y`` (1-D or one column per output) are fitted by least squares,
    and ``validation_scores_`` holds the R² on the validation data.

    Parameters
    ----------
%(nmf_parameters)s%(shared_parameters)s
    Examples
    --------
    >>> from nmfdnn.datasets import make_sin
    >>> from nmfdnn.estimators import NMFNetworkRegressor
    >>> X, y, Xt, yt = make_sin(random_state=0)
    >>> reg = NMFNetworkRegressor((500,), batch_size=50, alpha_W=1e-2, alpha_Z=1e-2,
    ...                           random_state=0).fit(X, y)
    >>> float(((reg.predict(Xt) - yt) ** 2).mean()) < 0.05
    True
    """
