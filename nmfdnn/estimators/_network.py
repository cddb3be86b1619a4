"""scikit-learn estimators for networks trained without backpropagation.

:class:`NMFNetworkClassifier` and :class:`NMFNetworkRegressor` wrap the trainers of
:mod:`nmfdnn.training` (Algorithm 3 and the original scheme of ALGORITHMS.md).  Samples are
rows here (scikit-learn); inside, the trainers see columns (paper notation), the transposes are
free.  Letters: ``coefs_[i]`` is ``W_{i+1}ᵀ`` of the paper and ``intercepts_[i]`` is ``b_{i+1}``.
"""

from __future__ import annotations

import numbers
import time

import array_api_compat
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import get_namespace, namespace_name
from nmfdnn._host import (
    check_host_input,
    check_random_state,
    encode_labels,
    label_indices,
    take_labels,
)
from nmfdnn._ops import relu
from nmfdnn.estimators._base import is_array, like_input, resolve_fit_backend, to_backend
from nmfdnn.training import (
    autoencoder_init,
    prepare_inputs,
    random_weights,
    train_bias_reg,
    train_original,
)
from nmfdnn.training._minibatch import check_omega

__all__ = ["NMFNetworkClassifier", "NMFNetworkRegressor"]

_METHODS = ("bias-reg", "original")
_INITS = ("random", "autoencoder")


class _BaseNMFNetwork(BaseEstimator):
    """Shared fit/predict of the two estimators (see :class:`NMFNetworkClassifier`)."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        method="bias-reg",
        batch_size="auto",
        max_epochs=10,
        inner_iter=1,
        alpha_W=1e-3,
        alpha_Z=1e-5,
        rank_tol=4e-2,
        bias=True,
        init="random",
        ae_samples=5000,
        ae_iter=5,
        average=0.0,
        omega=1.0,
        refit_output=True,
        step_decay=0.0,
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
        self.refit_output = refit_output
        self.step_decay = step_decay
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

    # --- parameters ---------------------------------------------------------------------------

    def _check_params(self):
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        hidden = tuple(hidden)
        if not hidden or any(
            isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in hidden
        ):
            raise ValueError(
                f"hidden_layer_sizes must be a non-empty sequence of positive ints, got "
                f"{self.hidden_layer_sizes!r}"
            )
        self._check_method_params()
        for name in ("max_epochs", "n_iter_no_change"):
            _check_int(self, name, 1)
        _check_nonneg(self, "tol")
        bs = self.batch_size
        if not (bs == "auto" or (isinstance(bs, numbers.Integral) and not isinstance(bs, bool)
                                 and bs >= 1)):
            raise ValueError(f"batch_size must be 'auto' or a positive int, got {bs!r}")
        if not (0 < self.validation_fraction < 1):
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        return hidden

    def _check_method_params(self):
        """Parameters of the NMF trainers (the backprop estimators override this)."""
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        if self.init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {self.init!r}")
        if not (isinstance(self.average, numbers.Real) and 0 <= self.average < 1):
            raise ValueError(f"average must be in [0, 1), got {self.average!r}")
        check_omega(self.omega)
        for name in ("alpha_W", "alpha_Z", "rank_tol", "step_decay"):
            _check_nonneg(self, name)
        if self.rank_tol >= 1:
            raise ValueError(f"rank_tol must be < 1, got {self.rank_tol}")
        for name, minimum in (("inner_iter", 1), ("ae_samples", 1), ("ae_iter", 0)):
            _check_int(self, name, minimum)

    # --- fit ----------------------------------------------------------------------------------

    def _targets(self, y, n_samples, *, xp, device, dtype):
        raise NotImplementedError

    def _score_columns(self, out, target, *, xp):
        raise NotImplementedError

    def fit(self, X, y, *, X_val=None, y_val=None):
        """Train the network on ``(X, y)`` without backpropagation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NumPy, lists, or an array of any supported backend (it then keeps its namespace and
            device unless ``backend``/``device`` say otherwise).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        X_val, y_val : array-like, optional
            Validation data scored after every epoch (``validation_scores_``); ignored when
            ``early_stopping`` splits its own validation set.

        Returns
        -------
        self
        """
        hidden = self._check_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None")
        _check_2d(X, "X")
        xp, dev, dtype = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                             dtype=self.dtype)
        X = to_backend(X, xp=xp, device=dev, dtype=dtype, name="X")
        m, n0 = X.shape
        Y = self._targets(y, m, xp=xp, device=dev, dtype=dtype)  # (n_out, m) columns
        rng = check_random_state(self.random_state)
        Xc = X.T
        val = None
        if self.early_stopping:
            n_val = max(1, round(self.validation_fraction * m))
            if m - n_val < 2:
                raise ValueError(f"n_samples={m} is too small for early stopping")
            perm = rng.permutation(m)
            tr = xp.asarray(perm[n_val:], device=dev)
            va = xp.asarray(perm[:n_val], device=dev)
            val = (xp.take(Xc, va, axis=1), xp.take(Y, va, axis=1))
            Xc, Y = xp.take(Xc, tr, axis=1), xp.take(Y, tr, axis=1)
        elif X_val is not None and y_val is not None:
            Xv = to_backend(X_val, xp=xp, device=dev, dtype=dtype, name="X_val")
            if Xv.shape[1] != n0:
                raise ValueError(f"X_val has {Xv.shape[1]} features, X has {n0}")
            val = (Xv.T, self._targets(y_val, Xv.shape[0], xp=xp, device=dev, dtype=dtype,
                                       refit=False))
        m_train = Xc.shape[1]
        if m_train < 2:
            raise ValueError(f"n_samples={m_train}: at least 2 samples are needed to train")
        batch_size = (min(self._auto_batch_size, m_train) if self.batch_size == "auto"
                      else int(self.batch_size))
        if batch_size > m_train:
            raise ValueError(
                f"batch_size={batch_size} is larger than the number of training samples "
                f"({m_train}); use a smaller batch_size or 'auto'"
            )
        sizes = [n0, *hidden, Y.shape[0]]
        t0 = time.perf_counter()

        score = None
        if val is not None:
            Xv, Yv = val

            def score(Wk):
                from nmfdnn.training import predict_columns

                return self._score_columns(predict_columns(Wk, Xv, xp=xp), Yv, xp=xp)

        stop_state = {"best": None, "best_W": None, "bad": 0}

        def callback(record, Wk):
            return self._after_epoch(record, Wk, stop_state)

        W, history = self._train(Xc, Y, sizes, batch_size=batch_size, rng=rng, score=score,
                                 callback=callback, xp=xp, device=dev, dtype=dtype)
        if self.early_stopping and stop_state["best_W"] is not None:
            W = stop_state["best_W"]
        self.fit_time_ = time.perf_counter() - t0
        self._set_weights(W, sizes, xp=xp, device=dev, dtype=dtype)
        self.n_features_in_ = n0
        self.n_iter_ = history.n_epochs
        self.loss_curve_ = history.loss_curve
        self.epoch_times_ = [r.seconds for r in history.records]
        self.validation_scores_ = history.val_scores if val is not None else None
        self.best_validation_score_ = (max(self.validation_scores_) if val is not None else None)
        self.batch_size_ = batch_size
        self.backend_ = namespace_name(xp)
        return self

    _auto_batch_size = 5000

    def _train(self, Xc, Y, sizes, *, batch_size, rng, score, callback, xp, device, dtype):
        """Initial weights and the trainer of ``method``; returns ``(W̃ list, history)``."""
        bias = self.method == "bias-reg" and bool(self.bias)
        lam_w = float(self.alpha_W) if self.method == "bias-reg" else 0.0
        inputs = prepare_inputs(Xc, float(self.rank_tol), xp=xp)
        self.rank_ = inputs.rank
        if self.init == "autoencoder":
            W = autoencoder_init(inputs, Y, sizes, bias=bias, lam_w=lam_w,
                                 n_samples=self.ae_samples, iter_ae=self.ae_iter, rng=rng, xp=xp)
        else:
            W = random_weights(sizes, bias=bias, rng=rng, xp=xp, device=device, dtype=dtype)
        decay = float(self.step_decay)
        relax = (lambda epoch: 1.0 / (1.0 + decay * (epoch - 1))) if decay else None
        common = dict(batch_size=batch_size, max_epochs=self.max_epochs,
                      inner_iter=self.inner_iter, tau=float(self.rank_tol), rng=rng,
                      inputs=inputs, score=score, callback=callback,
                      average=float(self.average), relax=relax, omega=float(self.omega),
                      refit_output=bool(self.refit_output), xp=xp)
        if self.method == "bias-reg":
            return train_bias_reg(Xc, Y, W, lam_w=lam_w, lam_z=float(self.alpha_Z), **common)
        return train_original(Xc, Y, W, **common)

    def _after_epoch(self, record, W, st):
        stop = False
        if self.verbose:
            extra = f", validation score {record.val_score:.4f}" if record.val_score is not None \
                else ""
            print(f"epoch {record.epoch}: loss {record.loss:.6g}{extra} ({record.seconds:.2f} s)")
        for cb in self.callbacks or ():
            if cb(self, record):
                stop = True
        if self.early_stopping:
            if st["best"] is None or record.val_score > st["best"] + self.tol:
                st["best"], st["best_W"], st["bad"] = record.val_score, W, 0
            else:
                st["bad"] += 1
                if st["bad"] >= self.n_iter_no_change:
                    if self.verbose:
                        print(f"early stopping: no improvement for {st['bad']} epochs")
                    stop = True
        return stop

    def _set_weights(self, W, sizes, *, xp, device, dtype):
        """``coefs_[i] = W_{i+1}ᵀ`` (n_{i} × n_{i+1}) and ``intercepts_[i] = b_{i+1}``."""
        self.coefs_, self.intercepts_ = [], []
        for Wi, n_in in zip(W, sizes[:-1]):
            self.coefs_.append(Wi[:, :n_in].T)
            if Wi.shape[1] == n_in + 1:
                self.intercepts_.append(Wi[:, n_in])
            else:
                self.intercepts_.append(xp.zeros((Wi.shape[0],), dtype=dtype, device=device))

    # --- predict ------------------------------------------------------------------------------

    def _output(self, X):
        """Network output (rows) in the fitted namespace: ``f(…f(X W_1ᵀ + b_1)…) W_dᵀ + b_d``."""
        check_is_fitted(self, "coefs_")
        _check_2d(X, "X")
        xp = get_namespace(self.coefs_[0])
        dev = array_api_compat.device(self.coefs_[0])
        A = to_backend(X, xp=xp, device=dev, dtype=self.coefs_[0].dtype, name="X")
        if A.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {A.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        H = A
        for coef, b in zip(self.coefs_[:-1], self.intercepts_[:-1]):
            H = relu(H @ coef + b[None, :], xp=xp)
        return H @ self.coefs_[-1] + self.intercepts_[-1][None, :], xp

    # --- persistence --------------------------------------------------------------------------

    def save(self, path):
        """Save the fitted model to a portable ``.npz`` file (see :func:`nmfdnn.load_model`)."""
        from nmfdnn._io import save_model

        return save_model(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class NMFNetworkClassifier(ClassifierMixin, _BaseNMFNetwork):
    """ReLU network classifier trained without backpropagation (semi-NMF layer problems).

    The targets are one-hot columns ``Y``; the network output ``W̃_d Z̃_{d−1}`` is fitted to
    them by least squares (``½‖Y − ŷ‖²``) layer by layer: Algorithm 3 of ALGORITHMS.md §2
    (``method="bias-reg"``: bias vectors, ridge ``λ_W = alpha_W`` on the weights and
    ``λ_Z = alpha_Z`` on the hidden targets, mini-batches, low-rank input) or the original
    alternating scheme of §4 (``method="original"``: no bias, no regularization).

    Parameters
    ----------
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
    alpha_W, alpha_Z : float, default=(1e-3, 1e-5)
        λ_W and λ_Z (the MNIST settings). Ignored by ``method="original"``.
    rank_tol : float, default=4e-2
        τ of the low-rank input (§1.5): singular values ``σ_i ≥ τ σ_1`` are kept.
    bias : bool, default=True
        Bias vectors in ``method="bias-reg"`` (``False`` reproduces the "no bias" case of §8).
    init : {"random", "autoencoder"}, default="random"
        Random weights and biases (``N(0, 2/n_{i−1})``) or the NMF stacked autoencoder (§3).
    ae_samples, ae_iter : int, default=(5000, 5)
        Samples and iterations of the autoencoder.
    average : float in [0, 1), default=0.0
        β of an exponential moving average of the weights across mini-batches; the averaged
        weights are the fitted ones (0: off).  β = 0.9 is a horizon of about one epoch of
        MNIST (12 mini-batches); see docs/mnist.md.
    omega : float in (0, 2), default=1.0
        Step of the hidden layers' weight updates after every mini-batch,
        ``W̃_i ← W̃_i + ω (W̃_i^{new} − W̃_i)`` (the ω of ALGORITHMS.md §1.2); values in (1, 2)
        over-relax.  docs/mnist.md measures ω = 1.8.
    refit_output : bool, default=True
        After every epoch, refit the output layer by ridge least squares on the network's
        features of all training samples (:func:`nmfdnn.training.refit_output_layer`): the
        minimizer of the objective (9) over ``W̃_d`` for the trained hidden layers, at the
        cost of one more forward pass per epoch.  The refitted weights are the ones scored,
        kept by early stopping and returned; training continues from the mini-batch
        solves.  It lowered the test error in every case measured (docs/mnist.md; the
        disk toy at batch 150: 93.4 → 95.8 % over 5 seeds); ``False`` returns the last
        mini-batch solve (the papers' Algorithm 3 as written).
    step_decay : float, default=0.0
        Relax each mini-batch update to ``W ← W_old + ω_e (W_new − W_old)`` with
        ``ω_e = 1 / (1 + step_decay·(e − 1))`` in epoch e (0: plain updates).  Experimental.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when the validation score
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, keep the best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
    backend : str, namespace or None, default=None
        "numpy", "torch", "jax", "cupy", "array_api_strict" or a namespace: host data are moved
        there once at ``fit``. ``None``: arrays keep their namespace, host data use NumPy.
    device : str or device, default=None
        "cpu", "cuda", "cuda:N" (``None``: the input's device or the backend default).
    dtype : {"float32", "float64"} or None, default="float32"
        ``None``: the input's floating dtype.
    random_state : int, numpy Generator or None, default=None
        Seeds the host draws (weights, permutations); the same seed gives the same draws on
        every backend.
    verbose : bool, default=False
        Print one line per epoch.
    callbacks : list of callables, default=None
        ``cb(estimator, record)`` after every epoch (``record``: :class:`EpochRecord`);
        returning True stops training.

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
        Mean ``½‖y − ŷ‖²`` per sample during each epoch.
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

    def _targets(self, y, n_samples, *, xp, device, dtype, refit=True):
        if refit:
            self.classes_, idx = encode_labels(y, n_samples)
        else:  # validation labels: indices into the fitted classes_ (−1: unseen label)
            idx = label_indices(self.classes_, y)
            if idx.shape[0] != n_samples:
                raise ValueError(f"X_val has {n_samples} samples but y_val has {idx.shape[0]}")
        K = len(self.classes_)
        idx = xp.asarray(idx, device=device)
        ks = xp.arange(K, device=device)
        return xp.astype(ks[:, None] == idx[None, :], dtype)

    def _score_columns(self, out, target, *, xp):
        return xp.mean(xp.astype(xp.argmax(out, axis=0) == xp.argmax(target, axis=0), out.dtype))

    def decision_function(self, X):
        """Network output per class (shape (n_samples, n_classes); (n_samples,) for 2 classes,
        the score of ``classes_[1]`` minus that of ``classes_[0]``), in ``X``'s namespace."""
        out, _ = self._output(X)
        if out.shape[1] == 2:
            out = out[:, 1] - out[:, 0]
        return like_input(out, X)

    def predict(self, X):
        """Class of the largest output, ``classes_[argmax_k ŷ_k]``.

        Numeric labels come back in ``X``'s namespace and device; other labels (strings) as a
        NumPy array.
        """
        out, xp = self._output(X)
        idx = xp.argmax(out, axis=1)
        if is_array(X) and not _is_numpy(X) and self.classes_.dtype.kind in "iufb":
            xp_in = get_namespace(X)
            classes = xp_in.asarray(self.classes_, device=array_api_compat.device(X))
            return xp_in.take(classes, like_input(idx, X), axis=0)
        return take_labels(self.classes_, idx)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy (scikit-learn's ``accuracy_score`` on the host)."""
        from sklearn.metrics import accuracy_score

        from nmfdnn._host import to_numpy

        pred = self.predict(X)
        y = to_numpy(y) if is_array(y) else y
        return float(accuracy_score(y, to_numpy(pred) if is_array(pred) else pred,
                                    sample_weight=sample_weight))


class NMFNetworkRegressor(RegressorMixin, _BaseNMFNetwork):
    """ReLU network regressor trained without backpropagation (semi-NMF layer problems).

    Same parameters and attributes as :class:`NMFNetworkClassifier` (no ``classes_``);
    the targets ``y`` (1-D or one column per output) are fitted by least squares, and
    ``validation_scores_`` holds the R² on the validation data.

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y, n_samples, *, xp, device, dtype, refit=True):
        check_host_input(y, "y")
        ndim = getattr(y, "ndim", None)
        if ndim is None:
            from nmfdnn._host import to_host

            y = to_host(y)
            ndim = y.ndim
        if ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got {ndim}-D")
        Y = to_backend(y, xp=xp, device=device, dtype=dtype, name="y", ndim=ndim)
        if Y.shape[0] != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {n_samples}, y has "
                f"{Y.shape[0]}"
            )
        if refit:
            self._y_1d = ndim == 1
            self.n_outputs_ = 1 if ndim == 1 else Y.shape[1]
        return Y[None, :] if ndim == 1 else Y.T

    def _score_columns(self, out, target, *, xp):
        resid = xp.sum((target - out) ** 2)
        total = xp.sum((target - xp.mean(target, axis=1, keepdims=True)) ** 2)
        return 1.0 - resid / (total + xp.finfo(out.dtype).smallest_normal)

    def predict(self, X):
        """Network output, shape (n_samples,) for a 1-D ``y`` at fit, in ``X``'s namespace."""
        out, _ = self._output(X)
        if self._y_1d:
            out = out[:, 0]
        return like_input(out, X)

    def score(self, X, y, sample_weight=None):
        """R² (scikit-learn's ``r2_score`` on the host)."""
        from sklearn.metrics import r2_score

        from nmfdnn._host import to_numpy

        pred = to_numpy(self.predict(X))
        y = to_numpy(y) if is_array(y) else y
        return float(r2_score(y, pred, sample_weight=sample_weight))


def _check_2d(X, name):
    """Sparse/complex refused; 1-D and empty inputs get scikit-learn's wording."""
    check_host_input(X, name)
    shape = getattr(X, "shape", None)
    if shape is None:
        from nmfdnn._host import to_host

        shape = to_host(X).shape
    if len(shape) != 2:
        raise ValueError(
            f"Expected a 2-D {name} (n_samples, n_features), got shape {tuple(shape)}. Reshape "
            f"your data with {name}.reshape(-1, 1) for a single feature or {name}.reshape(1, -1) "
            "for a single sample."
        )
    if shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={tuple(shape)}) while a minimum "
                         "of 1 is required.")
    if shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum "
                         "of 1 is required.")


def _is_numpy(x):
    return array_api_compat.is_numpy_array(x)


def _check_nonneg(est, name):
    value = getattr(est, name)
    if not isinstance(value, numbers.Real) or not (0 <= value < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_int(est, name, minimum):
    value = getattr(est, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
