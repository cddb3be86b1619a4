"""Backpropagation baseline as scikit-learn estimators (ALGORITHMS.md §5).

:class:`BackpropClassifier` and :class:`BackpropRegressor` train the same ReLU networks as
:class:`NMFNetworkClassifier` / :class:`NMFNetworkRegressor` by mini-batch Adam with a
hand-written backward pass (:mod:`nmfdnn.baselines`), on the same backend, device and dtype,
with the same records (``loss_curve_``, ``validation_scores_``, ``epoch_times_``), callbacks,
early stopping, ``predict``/``score`` and save/load — so every comparison is side by side.
"""

from __future__ import annotations

import numbers

from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions

from nmfdnn._host import to_numpy
from nmfdnn.baselines import LOSSES, AdamState, BackpropState, glorot_init, train_backprop
from nmfdnn.estimators._network_base import (
    SHARED_PARAMETERS,
    BaseNetwork,
    fill_doc,
)
from nmfdnn.estimators._network_tasks import NetworkClassifierMixin, NetworkRegressorMixin

__all__ = ["BackpropClassifier", "BackpropRegressor"]

#: The parameters of backpropagation with Adam, in signature order (docstrings).
_BP_PARAMETERS = """\
    hidden_layer_sizes : sequence of int, default=(100,)
        Widths of the hidden ReLU layers.
    loss : {"mse", "cross_entropy"}, default="mse"
        ``(1/2m)‖Y − O‖²`` as the papers, or softmax cross-entropy (classification only).
    batch_size : int or "auto", default="auto"
        ``"auto"``: ``min(100, n_samples)``.
    max_epochs : int, default=10
        Passes over the training data.
    learning_rate : float, default=1e-3
        Adam's step α.
    beta_1, beta_2 : float, default=(0.9, 0.999)
        Adam's moment decays.
    epsilon : float, default=1e-8
        Adam's ε.
    alpha : float, default=0.0
        Decoupled weight decay (AdamW) when > 0.
"""


class _BaseBackprop(BaseNetwork):
    """Parameters and training hook of the two backpropagation estimators."""

    _parameter_constraints: dict = {
        **BaseNetwork._parameter_constraints,
        "loss": [StrOptions(set(LOSSES))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    }

    _auto_batch_size = 100

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        loss="mse",
        batch_size="auto",
        max_epochs=10,
        learning_rate=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        alpha=0.0,
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
        self.loss = loss
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.alpha = alpha
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

    def _train(self, Xc, Y, sizes, *, batch_size, rng, score, callback, xp, device, dtype,
               comm=None, partition=None, state=None, on_epoch=None, max_epochs=None):
        params = (state.params if state is not None
                  else glorot_init(sizes, rng=rng, xp=xp, device=device, dtype=dtype))
        return train_backprop(
            Xc, Y, params, batch_size=batch_size,
            max_epochs=self.max_epochs if max_epochs is None else max_epochs, rng=rng,
            loss=self.loss, lr=float(self.learning_rate), beta1=float(self.beta_1),
            beta2=float(self.beta_2), eps=float(self.epsilon), weight_decay=float(self.alpha),
            score=score, callback=callback, comm=comm, partition=partition, state=state,
            on_epoch=on_epoch, xp=xp,
        )

    def _pack_state(self, state):
        arrays = {}
        for i, (layer, m_, v_) in enumerate(zip(state.params, state.adam.m, state.adam.v)):
            for j, name in enumerate(("W", "b")):
                arrays[f"{name}_{i}"] = to_numpy(layer[j])
                arrays[f"adam_m_{name}_{i}"] = to_numpy(m_[j])
                arrays[f"adam_v_{name}_{i}"] = to_numpy(v_[j])
        return arrays, {"n_layers": len(state.params), "adam_t": int(state.adam.t)}

    def _unpack_state(self, arrays, meta, history, *, xp, device):
        def get(key):
            return xp.asarray(arrays[key], device=device)

        n = meta["n_layers"]
        params = [(get(f"W_{i}"), get(f"b_{i}")) for i in range(n)]
        m_ = [(get(f"adam_m_W_{i}"), get(f"adam_m_b_{i}")) for i in range(n)]
        v_ = [(get(f"adam_v_W_{i}"), get(f"adam_v_b_{i}")) for i in range(n)]
        return BackpropState(epoch=int(meta["epoch"]), params=params,
                             adam=AdamState(m=m_, v=v_, t=int(meta["adam_t"])),
                             history=history)

    def _state_widths(self, state):
        return [state.params[0][0].shape[1]] + [W.shape[0] for W, _ in state.params]


@fill_doc(bp_parameters=_BP_PARAMETERS, shared_parameters=SHARED_PARAMETERS)
class BackpropClassifier(ClassifierMixin, NetworkClassifierMixin, _BaseBackprop):
    """ReLU network classifier trained by backpropagation and Adam (the papers' baseline).

    Same architecture as :class:`NMFNetworkClassifier` (ReLU hidden layers, linear output on
    one-hot targets), Glorot-normal weights, zero biases, Adam (§5: learning rate 10⁻³,
    β = 0.9/0.999, ε = 10⁻⁸, mini-batch 100).

    Parameters
    ----------
%(bp_parameters)s%(shared_parameters)s
    Attributes
    ----------
    coefs_, intercepts_, classes_, n_iter_, loss_curve_, validation_scores_, epoch_times_,
    fit_time_, backend_
        As in :class:`NMFNetworkClassifier`.

    Examples
    --------
    >>> from nmfdnn.datasets import load_digits
    >>> from nmfdnn.estimators import BackpropClassifier
    >>> X, y, X_test, y_test = load_digits()
    >>> clf = BackpropClassifier((500,), max_epochs=20, random_state=0).fit(X, y)
    >>> clf.score(X_test, y_test) > 0.9
    True
    """


@fill_doc(bp_parameters=_BP_PARAMETERS, shared_parameters=SHARED_PARAMETERS)
class BackpropRegressor(RegressorMixin, NetworkRegressorMixin, _BaseBackprop):
    """ReLU network regressor trained by backpropagation and Adam (the papers' baseline).

    The regression counterpart of :class:`BackpropClassifier` (``loss`` must be ``"mse"``),
    with the targets, ``predict`` and ``score`` (R²) of :class:`NMFNetworkRegressor`.

    Parameters
    ----------
%(bp_parameters)s%(shared_parameters)s    """

    _parameter_constraints: dict = {
        **_BaseBackprop._parameter_constraints,
        "loss": [StrOptions({"mse"})],
    }
