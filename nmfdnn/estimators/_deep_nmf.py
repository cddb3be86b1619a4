"""``DeepNMF`` (deep NMF with pooling and a semi-supervised top layer) and its single-layer
baseline ``SSNMF``, as semi-supervised classifiers (samples are rows; unlabeled = ``-1``)."""

from __future__ import annotations

import numbers

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import asarray
from nmfdnn._host import check_random_state, random_uniform, to_numpy
from nmfdnn.estimators._base import (
    COMMON_CONSTRAINTS,
    check_n_features,
    check_ranks,
    fitted_backend,
    like_input,
    prepare_masked,
    resolve_fit_backend,
)
from nmfdnn.factorizations._deep_nmf import deep_nmf, max_pool, pooling_support
from nmfdnn.factorizations._init import nmf_init
from nmfdnn.factorizations._nmf import nmf

__all__ = ["DeepNMF", "SSNMF"]


class DeepNMF(ClassifierMixin, BaseEstimator):
    """Deep NMF with max pooling and a semi-supervised NMF top layer (Flenner & Hunter, §7).

    Layers ``X⁽⁰⁾ = Xᵀ ≈ A⁽⁰⁾S⁽⁰⁾``, ``X⁽ˡ⁺¹⁾ = p(S⁽ˡ⁾) ≈ A⁽ˡ⁺¹⁾S⁽ˡ⁺¹⁾``, labels
    ``Y ≈ B S⁽ᴸ⁾`` on the known columns; all factors ≥ 0.  Fit: forward propagation
    (layer-by-layer NMF, ``init_iter`` Lee–Seung iterations each) then ``max_iter`` sweeps of
    the "backpropagation" multiplicative updates of eq. (4), minimizing

    ``E = ½Σ_l ‖M ⊙ (X⁽ˡ⁾ − A⁽ˡ⁾S⁽ˡ⁾)‖² + (λ/2)‖L ⊙ (Y − B S⁽ᴸ⁾)‖²``

    (``M`` the entry mask of the data, ``L`` the known-label columns).  The label of an
    unlabeled column is ``argmax_k (B S⁽ᴸ⁾)[k, j]`` (``transduction_``).

    Parameters
    ----------
    n_components : tuple of int, default=(50, 20)
        Ranks ``r_0, …, r_L`` (one rank: single-layer SSNMF).
    pool_width : int, default=0
        Half-width ``w`` of the max pooling along samples within segments (0: none).
    lam : float, default=1.0
        λ, weight of the label term.
    max_iter : int, default=200
        Sweeps of eq. (4).
    init_iter : int, default=100
        Lee–Seung iterations per layer in the forward propagation.
    check_every : int, default=10
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
    classes_ : ndarray
        Known labels (host).
    components_ : list of arrays
        ``A⁽ˡ⁾`` of shape (n_l, r_l) (``n_0`` = n_features), fit namespace.
    coef_ : array of shape (n_classes, r_L)
        ``B``.
    latents_ : list of arrays
        ``S⁽ˡ⁾`` of shape (r_l, n_samples) of the training samples.
    label_scores_ : array of shape (n_samples, n_classes)
        ``(B S⁽ᴸ⁾)ᵀ`` of the training samples.
    transduction_ : ndarray of shape (n_samples,)
        Predicted label of every training sample (host).
    loss_curve_ : list of float
        ``E`` every ``check_every`` sweeps.
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "pool_width": [Interval(numbers.Integral, 0, None, closed="left")],
        "lam": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "init_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "check_every": [Interval(numbers.Integral, 0, None, closed="left")],
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, n_components=(50, 20), *, pool_width=0, lam=1.0, max_iter=200,
                 init_iter=100, check_every=10, random_state=None, verbose=0, backend=None,
                 device=None, dtype=None):
        self.n_components = n_components
        self.pool_width = pool_width
        self.lam = lam
        self.max_iter = max_iter
        self.init_iter = init_iter
        self.check_every = check_every
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend
        self.device = device
        self.dtype = dtype

    def _ranks(self):
        return check_ranks(self.n_components)

    def _support(self, n, segments, xp, dev):
        w = self.pool_width
        if w == 0 or len(self._ranks()) == 1:
            return None
        if segments is None:
            seg = xp.arange(n, device=dev)
        else:
            seg = to_numpy(segments).ravel()
            if seg.shape[0] != n:
                raise ValueError(f"segments must have one id per sample ({n}), got "
                                 f"{seg.shape[0]}")
        return pooling_support(seg, w, xp=xp, device=dev)

    def _forward(self, A0, M, support, ranks, rng, xp):
        """Forward propagation: NMF layer by layer, ``X⁽ˡ⁺¹⁾ = p(S⁽ˡ⁾)``."""
        As, Ss = [], []
        Xl, Ml = A0, M
        for r in ranks:
            W, H = nmf_init(Xl, r, init="random", random_state=rng, xp=xp)
            W, H, _ = nmf(Xl, W, H, n_iter=self.init_iter, check_every=0, mask=Ml,
                          check_input=False, xp=xp)
            As.append(W)
            Ss.append(H)
            Xl = H if support is None else max_pool(H, support, xp=xp)[0]
            Ml = None
        return As, Ss

    def fit(self, X, y, *, segments=None, mask=None):
        """Fit on ``X`` (n_samples, n_features) with labels ``y`` (``-1``: unknown).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative data (NaN allowed where ``mask`` is 0).
        y : array-like of shape (n_samples,)
            Integer labels, ``-1`` for the unlabeled samples.
        segments : array-like of shape (n_samples,), optional
            Segment id per sample (pooling never crosses a segment). Default: every sample
            its own segment.
        mask : array-like of shape (n_samples, n_features), optional
            Entry mask ``M`` (0: missing).

        Returns
        -------
        self : DeepNMF
            The fitted estimator.
        """
        self._validate_params()
        ranks = self._ranks()
        xp, dev, dt = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                          dtype=self.dtype)
        Xa, Mr = prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=True)
        n, m = Xa.shape
        lam = float(self.lam)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y (labels, -1 for unlabeled "
                             "samples), got None")
        yh = to_numpy(y)  # labels: host bookkeeping, once
        if yh.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per sample), got shape {yh.shape}")
        yh = yh.tolist()
        if len(yh) != n:
            raise ValueError(f"y has {len(yh)} labels but X has {n} samples")
        if any(v != v for v in yh):
            raise ValueError("y contains NaN labels (use -1 for unlabeled samples)")
        try:
            classes = sorted({v for v in yh if v != -1})
        except TypeError:
            raise TypeError("y mixes label types that cannot be ordered (e.g. str and int); "
                            "use labels of one type") from None
        if not classes:
            raise ValueError("no labeled sample (every y is -1)")
        code = {c: i for i, c in enumerate(classes)}
        codes = xp.asarray([code.get(v, -1) for v in yh], device=dev)  # -1: unknown
        self.classes_ = to_numpy(asarray(classes, xp=xp, device=dev))
        K = len(classes)
        # One-hot columns, zero for an unlabeled sample (code -1).  Not ``xpx.one_hot``: it
        # leaves negative codes undefined, and on NumPy it returns a moved-axis (Fortran-order)
        # view whose products round differently (1e-16) from the figures of docs/.
        Y = xp.astype(codes[None, :] == xp.arange(K, device=dev)[:, None], dt)
        Lmask = xp.astype(codes[None, :] >= 0, dt)
        rng = check_random_state(self.random_state)
        support = self._support(n, segments, xp, dev)
        A0 = Xa.T
        M = None if Mr is None else Mr.T
        As, Ss = self._forward(A0, M, support, ranks, rng, xp)
        B = random_uniform((len(self.classes_), ranks[-1]), rng=rng, low=0.0, high=1.0, xp=xp,
                           device=dev, dtype=dt)
        As, Ss, B, hist = deep_nmf(A0, As, Ss, B, Y, M=M, Lmask=Lmask, lam=lam, support=support,
                                   n_iter=self.max_iter, check_every=self.check_every,
                                   check_input=False, xp=xp)
        self.components_, self.latents_, self.coef_ = As, Ss, B
        self._support_fit = support
        self.loss_curve_ = [float(v) for v in to_numpy(xp.stack(hist))] if hist else []
        scores = (B @ Ss[-1]).T
        self.label_scores_ = scores
        self.transduction_ = self.classes_[to_numpy(xp.argmax(scores, axis=1))]
        self.n_features_in_ = m
        self._rng_seed = int(rng.integers(2**31 - 1))
        if self.verbose and self.loss_curve_:
            print(f"{type(self).__name__}: final energy {self.loss_curve_[-1]:.6g}")
        return self

    def decision_function(self, X, *, segments=None, mask=None):
        """Label scores ``(B S⁽ᴸ⁾)ᵀ`` of new samples, shape (n_samples, n_classes).

        The ``S⁽ˡ⁾`` of the new columns are fitted by the same multiplicative updates with the
        ``A⁽ˡ⁾`` and ``B`` held fixed and no label term (``max_iter`` sweeps from a forward
        propagation with the fitted ``A⁽ˡ⁾``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative data (NaN allowed where ``mask`` is 0).
        segments : array-like of shape (n_samples,), optional
            Segment id per sample, as in :meth:`fit`.
        mask : array-like of shape (n_samples, n_features), optional
            Entry mask (0: missing).

        Returns
        -------
        scores : array of shape (n_samples, n_classes)
            In the namespace of ``X``.
        """
        check_is_fitted(self, "coef_")
        B = self.coef_
        xp, dev, dt = fitted_backend(B)
        Xa, Mr = prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=True)
        check_n_features(self, Xa)
        n = Xa.shape[0]
        support = self._support(n, segments, xp, dev)
        rng = check_random_state(self._rng_seed)
        A0 = Xa.T
        M = None if Mr is None else Mr.T
        As = self.components_
        Ss = []
        Xl, Ml = A0, M
        for A in As:  # forward propagation with the fitted dictionaries
            _, H = nmf_init(Xl, A.shape[1], init="random", random_state=rng, xp=xp)
            _, H, _ = nmf(Xl, A, H, n_iter=int(self.init_iter), check_every=0, update_w=False,
                          mask=Ml, check_input=False, xp=xp)
            Ss.append(H)
            Xl = H if support is None else max_pool(H, support, xp=xp)[0]
            Ml = None
        Y = xp.zeros((B.shape[0], n), dtype=dt, device=dev)
        Lmask = xp.zeros((1, n), dtype=dt, device=dev)
        _, Ss, _, _ = deep_nmf(A0, As, Ss, B, Y, M=M, Lmask=Lmask, lam=0.0, support=support,
                               n_iter=int(self.max_iter), check_every=0, update_factors=False,
                               check_input=False, xp=xp)
        return like_input((B @ Ss[-1]).T, X)

    def predict(self, X, *, segments=None, mask=None):
        """Labels of new samples: ``argmax_k`` of :meth:`decision_function`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative data (NaN allowed where ``mask`` is 0).
        segments : array-like of shape (n_samples,), optional
            Segment id per sample, as in :meth:`fit`.
        mask : array-like of shape (n_samples, n_features), optional
            Entry mask (0: missing).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Elements of ``classes_`` (host NumPy).
        """
        scores = to_numpy(self.decision_function(X, segments=segments, mask=mask))
        return self.classes_[scores.argmax(axis=1)]


class SSNMF(DeepNMF):
    """Single-layer semi-supervised NMF (Lee, Yoo & Choi 2010), the baseline of :class:`DeepNMF`.

    ``Xᵀ ≈ A S``, ``Y ≈ B S`` on the known columns, minimizing
    ``½‖M ⊙ (Xᵀ − A S)‖² + (λ/2)‖L ⊙ (Y − B S)‖²`` by the top-layer updates of eq. (4).

    Parameters
    ----------
    n_components : int, default=20
    lam : float, default=1.0
        λ, weight of the label term.
    max_iter : int, default=200
        Sweeps of the multiplicative updates.
    init_iter : int, default=100
        Lee–Seung iterations of the initial NMF ``Xᵀ ≈ A S``.
    check_every : int, default=10
        Record the energy every ``check_every`` sweeps.
    random_state : None, int or numpy Generator, default=None
        Seed of the initial factors.
    verbose : int, default=0
    backend : str, namespace or None, default=None
        Array backend to compute in; ``None``: the namespace of ``X``.
    device : str, device or None, default=None
        ``None``: the device of ``X`` (or the backend's default device).
    dtype : {"float32", "float64"}, dtype or None, default=None
        ``None``: ``X``'s floating dtype (float32 for integer or list input).
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in DeepNMF._parameter_constraints.items() if k != "pool_width"},
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, n_components=20, *, lam=1.0, max_iter=200, init_iter=100,
                 check_every=10, random_state=None, verbose=0, backend=None, device=None,
                 dtype=None):
        super().__init__(n_components=n_components, pool_width=0, lam=lam, max_iter=max_iter,
                         init_iter=init_iter, check_every=check_every,
                         random_state=random_state, verbose=verbose, backend=backend,
                         device=device, dtype=dtype)

    def _ranks(self):
        return [self.n_components]
