"""``WeaklyNMF``: weakly non-negative factorization (shallow, deep, deconvolutional) as an
estimator (samples are rows; the solvers see ``A = Xᵀ``)."""

from __future__ import annotations

import numbers

from array_api_compat import array_namespace
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import asarray
from nmfdnn._host import check_random_state, random_uniform, to_numpy
from nmfdnn.estimators._base import (
    COMMON_CONSTRAINTS,
    check_n_features,
    check_ranks,
    fitted_backend,
    like_input,
    resolve_fit_backend,
    to_backend,
)
from nmfdnn.factorizations._weak_nmf import (
    LOSSES,
    deconv_init,
    leaky_relu,
    weak_nmf_init,
    weak_nmf_train,
)

__all__ = ["WeaklyNMF"]


class WeaklyNMF(TransformerMixin, BaseEstimator):
    """Weakly non-negative matrix factorization (Kobayashi & Watanabe; ALGORITHMS.md §6).

    Minimizes ``ℓ(X, φη(W) φη(H)) + λ(‖W‖² + ‖H‖²)`` with the leaky ReLU
    ``φη(A) = max(A, ηA)`` by AdamW on mini-batches of samples (hand-written gradients, any
    array backend). η = 0 gives exactly non-negative factors (ReLU), η = 1 an unconstrained
    factorization; the default η = 0.1 allows small negative entries.

    Three models:

    - ``n_components=r`` (int): ``Xᵀ ≈ φη(W) φη(H)`` (9);
    - ``n_components=(r_1, …, r_L)``: deep ``Xᵀ ≈ φη(W_L)⋯φη(W_1)φη(H_1)`` (11), ``W_l`` of shape
      ``(r_{l+1}, r_l)`` (``r_{L+1}`` = n_features); the latent is that of ``latent_layer``;
    - ``stride=s`` with ``image_shape=(h, w)``: deconvolutional, each image
      ``X⁽ⁱ⁾ ≈ φη(W) *ₛᵀ φη(H⁽ⁱ⁾)`` (12) with shared ``(h/s) × (w/s) × r`` factor images and
      per-image ``2s × 2s × r`` kernels; latent ``"sum"`` (r values: each rank's kernel summed)
      or ``"raw"`` (the 4s²r kernel entries).

    Parameters
    ----------
    n_components : int or tuple of int, default=20
    loss : {"l1", "l2"}, default="l1"
    eta : float in [0, 1] or "curriculum", default=0.1
        ``"curriculum"``: η decreases linearly from 1 to 0 over the epochs.
    alpha : float, default=0.1
        λ.
    decoupled : bool, default=True
        λ as AdamW's decoupled weight decay (PyTorch ``AdamW(weight_decay=λ)``); False: the
        gradient of the full objective, ``+2λθ``, with no decay in the optimizer.
    learning_rate : float, default=1e-3
    batch_size : int, default=100
    max_epochs : int, default=500
    stride : int or None, default=None
    image_shape : (int, int) or None
        ``(h, w)`` of the row-major images (deconvolutional model); ``h, w`` divisible by ``s``.
    latent : {"sum", "raw"}, default="sum"
        Latent of the deconvolutional model.
    latent_layer : int, default=1
        Layer whose latent ``φη(W_{l−1})⋯φη(W_1)φη(H_1)`` :meth:`transform` returns (deep model).
    transform_epochs : int or None
        Epochs of the ``H``-only fit in :meth:`transform` (default: ``max_epochs``).
    random_state : None, int or numpy Generator
    verbose : int, default=0
    backend : str, namespace or None, default=None
        Array backend to compute in; ``None``: the namespace of ``X``.
    device : str, device or None, default=None
        ``None``: the device of ``X`` (or the backend's default device).
    dtype : {"float32", "float64"}, dtype or None, default=None
        ``None``: ``X``'s floating dtype (float32 for integer or list input).

    Attributes
    ----------
    W_ : list of arrays, or array
        Raw factors ``W_l`` (paper index = list index + 1), shape ``(r_{l+1}, r_l)``, or ``W``
        of shape (h/s, w/s, r) for the deconvolution.
    H_ : array
        Raw ``H`` of the training samples, ``(r_1, n_samples)`` or ``(4r, s², n_samples)``.
    components_ : array
        ``(φη(W_L)⋯φη(W_1))ᵀ`` of shape (r_1, n_features); for the deconvolution
        ``φη(W)`` moved to shape (r, h/s, w/s).
    loss_curve_ : list of float
        Mean mini-batch objective per epoch.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "loss": [StrOptions(set(LOSSES))],
        "eta": [Interval(numbers.Real, 0, 1, closed="both"), StrOptions({"curriculum"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "decoupled": ["boolean"],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "stride": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "image_shape": [None, "array-like"],
        "latent": [StrOptions({"sum", "raw"})],
        "latent_layer": [Interval(numbers.Integral, 1, None, closed="left")],
        "transform_epochs": [None, Interval(numbers.Integral, 0, None, closed="left")],
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, n_components=20, *, loss="l1", eta=0.1, alpha=0.1, decoupled=True,
                 learning_rate=1e-3, batch_size=100, max_epochs=500, stride=None,
                 image_shape=None, latent="sum", latent_layer=1, transform_epochs=None,
                 random_state=None, verbose=0, backend=None, device=None, dtype=None):
        self.n_components = n_components
        self.loss = loss
        self.eta = eta
        self.alpha = alpha
        self.decoupled = decoupled
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.stride = stride
        self.image_shape = image_shape
        self.latent = latent
        self.latent_layer = latent_layer
        self.transform_epochs = transform_epochs
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ helpers
    def _ranks(self):
        return check_ranks(self.n_components)

    def _image_shape(self, n_features):
        """``(h, w)`` of the deconvolutional model, checked against ``X`` (None otherwise)."""
        if self.stride is None:
            return None
        s = self.stride
        if self.image_shape is None or len(self.image_shape) != 2:
            raise ValueError("the deconvolutional model (stride=...) needs image_shape=(h, w)")
        h, w = (int(v) for v in self.image_shape)
        if h * w != n_features:
            raise ValueError(f"image_shape {(h, w)} has {h * w} pixels but X has {n_features}")
        if h % s or w % s:
            raise ValueError(f"image_shape {(h, w)} must be divisible by stride {s}")
        return h, w

    def _eta_final(self):
        return 0.0 if self.eta == "curriculum" else float(self.eta)

    def _latent(self, H):
        xp = array_namespace(H)
        eta = self._eta_final()
        Z = leaky_relu(H, eta, xp=xp)
        if self.stride is not None:
            if self.latent == "raw":
                return xp.reshape(Z, (-1, Z.shape[-1]))
            r = Z.shape[0] // 4
            Z = xp.reshape(Z, (4, r, Z.shape[1], Z.shape[2]))
            return xp.sum(xp.sum(Z, axis=2), axis=0)
        for W in self.W_[: self.latent_layer - 1]:
            Z = leaky_relu(W, eta, xp=xp) @ Z
        return Z

    def _train(self, A, W, H, *, epochs, update_w, seed):
        xp = array_namespace(A)
        return weak_nmf_train(
            A, W, H, eta=self.eta, lam=float(self.alpha), loss=self.loss, n_epochs=epochs,
            batch_size=self.batch_size, lr=float(self.learning_rate),
            decoupled=bool(self.decoupled), stride=self.stride, update_w=update_w,
            random_state=seed, check_input=False, xp=xp,
        )

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Fit the factorization to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data (row-major images of ``image_shape`` for the deconvolutional model).
        y : None
            Ignored.

        Returns
        -------
        self : WeaklyNMF
            The fitted estimator.
        """
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit the factorization to ``X`` and return the latent of its samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data (row-major images of ``image_shape`` for the deconvolutional model).
        y : None
            Ignored.

        Returns
        -------
        Z : array of shape (n_samples, n_latent)
            Latent of layer ``latent_layer`` (shallow, deep) or of the kernels (deconvolution),
            in the namespace of ``X``.
        """
        self._validate_params()
        ranks = self._ranks()
        xp, dev, dt = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                          dtype=self.dtype)
        Xa = to_backend(X, xp=xp, device=dev, dtype=dt)
        n, m = Xa.shape
        hw = self._image_shape(m)
        if hw is None and self.latent_layer > len(ranks):
            raise ValueError(f"latent_layer={self.latent_layer} is larger than the number of "
                             f"layers ({len(ranks)})")
        epochs = self.max_epochs
        rng = check_random_state(self.random_state)
        A = Xa.T
        if hw is None:
            W, H = weak_nmf_init(m, n, ranks, random_state=rng, xp=xp, device=dev, dtype=dt)
        else:
            if len(ranks) != 1:
                raise ValueError("the deconvolutional model takes a single rank")
            W, H = deconv_init(hw, n, ranks[0], self.stride, random_state=rng, xp=xp,
                               device=dev, dtype=dt)
        W, H, losses = self._train(A, W, H, epochs=epochs, update_w=True, seed=rng)
        self.W_, self.H_ = W, H
        eta = self._eta_final()
        if hw is None:
            C = leaky_relu(W[0], eta, xp=xp)
            for Wl in W[1:]:
                C = leaky_relu(Wl, eta, xp=xp) @ C
            self.components_ = C.T
        else:
            self.components_ = xp.permute_dims(leaky_relu(W, eta, xp=xp), (2, 0, 1))
        self.loss_curve_ = ([float(v) for v in to_numpy(xp.stack(losses))] if losses else [])
        self.n_iter_ = epochs
        self.n_features_in_ = m
        self._seed = int(rng.integers(2**31 - 1))
        if self.verbose and losses:
            print(f"WeaklyNMF: {epochs} epochs, final objective {self.loss_curve_[-1]:.6g}")
        return like_input(self._latent(H).T, X)

    def transform(self, X):
        """Latent of new samples: ``H`` fitted by AdamW with the ``W`` factors held fixed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New samples.

        Returns
        -------
        Z : array of shape (n_samples, n_latent)
            In the namespace of ``X``.
        """
        check_is_fitted(self, "W_")
        H0 = self.H_
        xp, dev, dt = fitted_backend(H0)
        Xa = to_backend(X, xp=xp, device=dev, dtype=dt)
        check_n_features(self, Xa)
        n = Xa.shape[0]
        rng = check_random_state(self._seed)
        fan = H0.shape[0]
        bound = (6.0 / fan) ** 0.5
        H = random_uniform(tuple(H0.shape[:-1]) + (n,), rng=rng, low=-bound, high=bound, xp=xp,
                           device=dev, dtype=dt)
        epochs = self.max_epochs if self.transform_epochs is None else self.transform_epochs
        _, H, _ = self._train(Xa.T, self.W_, H, epochs=epochs, update_w=False, seed=rng)
        return like_input(self._latent(H).T, X)

    def inverse_transform(self, Z):
        """``X ≈ Z components_`` for latents of layer 1 (shallow or deep model).

        Parameters
        ----------
        Z : array-like of shape (n_samples, r_1)
            Latents of layer 1.

        Returns
        -------
        X : array of shape (n_samples, n_features)
            In the namespace of ``Z``.
        """
        check_is_fitted(self, "components_")
        if self.stride is not None:
            raise ValueError("inverse_transform needs a shallow or deep model (stride=None)")
        C = self.components_
        xp, dev, dt = fitted_backend(C)
        Za = asarray(Z, xp=xp, device=dev, dtype=dt)
        return like_input(Za @ C, Z)
