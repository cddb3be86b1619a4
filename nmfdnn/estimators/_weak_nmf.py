"""``WeaklyNMF``: weakly non-negative factorization (shallow, deep, deconvolutional) as an
estimator (samples are rows; the solvers see ``A = Xᵀ``)."""

from __future__ import annotations

from array_api_compat import array_namespace
from array_api_compat import device as _device
from sklearn.base import BaseEstimator, TransformerMixin

from nmfdnn._array_api import asarray
from nmfdnn._host import check_random_state, random_uniform, to_numpy
from nmfdnn._validation import check_positive_int
from nmfdnn.estimators._base import check_ranks, like_input, resolve_fit_backend, to_backend
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
    backend, device, dtype :
        Array backend (``None``: that of ``X``), device, and float dtype.

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

    def _check_params(self, n_features):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.latent not in ("sum", "raw"):
            raise ValueError(f"latent must be 'sum' or 'raw', got {self.latent!r}")
        if self.stride is None:
            return None
        s = check_positive_int(self.stride, "stride")
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
        layer = check_positive_int(self.latent_layer, "latent_layer",
                                   maximum=len(self.W_))
        for W in self.W_[: layer - 1]:
            Z = leaky_relu(W, eta, xp=xp) @ Z
        return Z

    def _train(self, A, W, H, *, epochs, update_w, seed):
        xp = array_namespace(A)
        return weak_nmf_train(
            A, W, H, eta=self.eta, lam=float(self.alpha), loss=self.loss, n_epochs=epochs,
            batch_size=self.batch_size, lr=float(self.learning_rate),
            decoupled=bool(self.decoupled), stride=self.stride, update_w=update_w,
            random_state=seed, xp=xp,
        )

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Fit to ``X`` of shape (n_samples, n_features); returns ``self``."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit and return the latent of the training samples, shape (n_samples, n_latent)."""
        xp, dev, dt = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                          dtype=self.dtype)
        Xa = to_backend(X, xp=xp, device=dev, dtype=dt)
        n, m = Xa.shape
        hw = self._check_params(m)
        ranks = self._ranks()
        epochs = check_positive_int(self.max_epochs, "max_epochs", minimum=0)
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
        """Latent of new samples: ``H`` fitted by AdamW with the ``W`` factors held fixed."""
        if not hasattr(self, "W_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this WeaklyNMF is not fitted yet; call fit first")
        H0 = self.H_
        xp, dev, dt = array_namespace(H0), _device(H0), H0.dtype
        Xa = to_backend(X, xp=xp, device=dev, dtype=dt)
        if Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {Xa.shape[1]} features, but WeaklyNMF was fitted with "
                             f"{self.n_features_in_}")
        n = Xa.shape[0]
        rng = check_random_state(self._seed)
        fan = H0.shape[0]
        bound = (6.0 / fan) ** 0.5
        H = random_uniform(tuple(H0.shape[:-1]) + (n,), rng=rng, low=-bound, high=bound, xp=xp,
                           device=dev, dtype=dt)
        epochs = self.max_epochs if self.transform_epochs is None else self.transform_epochs
        epochs = check_positive_int(epochs, "transform_epochs", minimum=0)
        _, H, _ = self._train(Xa.T, self.W_, H, epochs=epochs, update_w=False, seed=rng)
        return like_input(self._latent(H).T, X)

    def inverse_transform(self, Z):
        """``X ≈ Z components_`` for latents of layer 1 (shallow or deep model)."""
        if self.stride is not None or not hasattr(self, "components_"):
            raise ValueError("inverse_transform needs a fitted shallow or deep model")
        C = self.components_
        xp = array_namespace(C)
        Za = asarray(Z, xp=xp, device=_device(C), dtype=C.dtype)
        return like_input(Za @ C, Z)
