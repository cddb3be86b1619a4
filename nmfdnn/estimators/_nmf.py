"""``NMF`` and ``SemiNMF``: scikit-learn style estimators over the pure solvers.

Samples are **rows** here, as in scikit-learn.  Inside, the solvers see the data as columns,
``A = Xᵀ``: scikit-learn's ``X ≈ W H`` (``W`` of shape (n_samples, r), ``H`` = ``components_``)
is the solvers' ``A ≈ W_c H_c`` with ``W_c = Hᵀ`` and ``H_c = Wᵀ``.
"""

from __future__ import annotations

import math

from sklearn.base import BaseEstimator, TransformerMixin

from nmfdnn._array_api import asarray
from nmfdnn._host import check_random_state, random_uniform
from nmfdnn._ops import neg, pos
from nmfdnn._validation import (
    check_matrix,
    check_nonnegative_scalar,
    check_positive_int,
)
from nmfdnn.distributed import as_communicator, collective_errors
from nmfdnn.estimators._base import like_input, resolve_fit_backend, to_backend
from nmfdnn.factorizations._init import INITS, nmf_init
from nmfdnn.factorizations._loop import iterate
from nmfdnn.factorizations._nmf import nmf
from nmfdnn.factorizations._semi_nmf import semi_nmf, semi_nmf_objective

__all__ = ["NMF", "SemiNMF"]


def _check_fitted(est, attr="components_"):
    if not hasattr(est, attr):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"this {type(est).__name__} is not fitted yet; call fit first")


def _prepare_masked(X, mask, *, xp, device, dtype, nonnegative):
    """``X`` and an entry mask as arrays of ``xp``; masked entries of ``X`` are set to 0.

    ``mask`` may have the shape of ``X`` (entry weights) or ``(n_samples,)`` (sample weights).
    Entries of ``X`` where the mask is 0 may hold NaN (missing values).
    """
    if mask is None:
        return to_backend(X, xp=xp, device=device, dtype=dtype, nonnegative=nonnegative), None
    Xa = asarray(X, xp=xp, device=device, dtype=dtype)
    M = asarray(mask, xp=xp, device=device, dtype=dtype)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(Xa.shape)}")
    if M.ndim == 1 and M.shape[0] == Xa.shape[0]:
        M = xp.broadcast_to(M[:, None], Xa.shape)
    if tuple(M.shape) != tuple(Xa.shape):
        raise ValueError(
            f"mask must have the shape of X {tuple(Xa.shape)} (entry weights) or "
            f"({Xa.shape[0]},) (sample weights), got {tuple(M.shape)}"
        )
    check_matrix(M, "mask", xp=xp, nonnegative=True)
    Xa = xp.where(M > 0, Xa, xp.zeros_like(Xa))
    check_matrix(Xa, "X (observed entries)", xp=xp, nonnegative=nonnegative)
    return Xa, M


class NMF(TransformerMixin, BaseEstimator):
    """Non-negative matrix factorization ``X ≈ W H`` by Lee–Seung multiplicative updates.

    Minimizes ``½‖M ⊙ (X − W H)‖²`` over ``W, H ≥ 0`` (ALGORITHMS.md §1.6), on any array
    API backend (NumPy, CuPy, PyTorch, JAX, array-api-strict); ``M`` is an optional entry mask
    (1 observed, 0 missing, or general non-negative weights), which scikit-learn's ``NMF``
    lacks.  The same problem, initialization and iteration count as scikit-learn's
    ``NMF(solver="mu", beta_loss="frobenius")``.

    Parameters
    ----------
    n_components : int or None, default=None
        Rank ``r``. ``None``: ``n_features``. For ``"nndsvd"``/``"nndsvda"`` at most
        ``min(n_samples, n_features)``.
    init : {"nndsvda", "nndsvd", "random", "custom"}, default="nndsvda"
        Initial factors (see :func:`nmfdnn.factorizations.nmf_init`); ``"custom"`` takes
        ``W`` and ``H`` passed to :meth:`fit`.
    max_iter : int, default=200
    tol : float, default=1e-4
        Stop when the objective decreased by less than ``tol`` (relative) between two checks.
        0 runs ``max_iter`` iterations.
    check_every : int, default=10
        The objective is evaluated (on the device) every ``check_every`` iterations; this is
        the loop's only host synchronization, and only when ``tol > 0``.
    random_state : None, int or numpy Generator
        Seed of the host draws for ``init="random"``.
    verbose : int, default=0
    backend : str, namespace or None
        Array backend to compute in; ``None``: the namespace of ``X``.
    device : str or None
    dtype : {"float32", "float64"} or None
        ``None``: ``X``'s floating dtype (float32 for integer or list input).

    Attributes
    ----------
    components_ : array of shape (n_components, n_features)
        ``H``, in the fit namespace, device and dtype.
    reconstruction_err_ : float
        ``‖M^{1/2} ⊙ (X − W H)‖_F`` at the end of fit.
    n_iter_ : int
    n_components_ : int
    n_features_in_ : int

    Notes
    -----
    Letters: the library's solvers use data as columns (``A = Xᵀ ≈ W_c H_c``); here ``W`` is
    ``H_cᵀ`` and ``components_`` is ``W_cᵀ``, as scikit-learn's ``NMF`` notes the same swap.
    """

    def __init__(self, n_components=None, *, init="nndsvda", max_iter=200, tol=1e-4,
                 check_every=10, random_state=None, verbose=0, backend=None, device=None,
                 dtype=None):
        self.n_components = n_components
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.check_every = check_every
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend
        self.device = device
        self.dtype = dtype

    def fit(self, X, y=None, *, W=None, H=None, mask=None, comm=None):
        """Fit the factorization to ``X`` of shape (n_samples, n_features); returns ``self``
        (``comm``: see :meth:`fit_transform`)."""
        self.fit_transform(X, W=W, H=H, mask=mask, comm=comm)
        return self

    def fit_transform(self, X, y=None, *, W=None, H=None, mask=None, comm=None):
        """Fit and return ``W`` of shape (n_samples, n_components).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative data (NaN allowed where ``mask`` is 0).
        y : ignored
        W : array-like of shape (n_samples, n_components), optional
            Initial ``W`` for ``init="custom"``.
        H : array-like of shape (n_components, n_features), optional
            Initial ``H`` for ``init="custom"``.
        mask : array-like of shape (n_samples, n_features) or (n_samples,), optional
            Entry (or sample) weights ``≥ 0``; 0 marks a missing entry.
        comm : mpi4py communicator or :class:`nmfdnn.distributed.Communicator`, optional
            Data-parallel fit over MPI (``None``: one process): every rank passes **its own
            rows** of ``X`` (and of ``mask``, and of ``W`` for ``init="custom"``; ``H`` the
            same on every rank) and gets its rows of ``W``; ``components_`` and
            ``reconstruction_err_`` are those of one process fitting the rows of all ranks in
            rank order (to rounding; NNDSVD through a distributed thin SVD).  Invalid input
            on one rank raises the same error on every rank.

        Returns
        -------
        W : array of shape (n_samples, n_components)
            In the namespace of ``X`` (host NumPy for lists).
        """
        comm = as_communicator(comm)
        with collective_errors(comm):
            xp, dev, dt = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                              dtype=self.dtype)
            Xa, M = _prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=True)
        n_samples, n_features = Xa.shape
        partition = None if comm is None else comm.partition(n_samples)
        n_all = n_samples if comm is None else partition.n_total
        widths = [n_features] if comm is None else comm.allgather(n_features)
        with collective_errors(comm):
            r = n_features if self.n_components is None else self.n_components
            if self.init not in INITS + ("custom",):
                raise ValueError(f"init must be one of {INITS + ('custom',)}, got {self.init!r}")
            r = check_positive_int(r, "n_components")
            if self.init in ("nndsvd", "nndsvda") and r > min(n_all, n_features):
                raise ValueError(
                    f"n_components={r} is larger than min(n_samples, n_features) = "
                    f"{min(n_all, n_features)}, the most init={self.init!r} (a truncated SVD) "
                    "allows; use init='random' or 'custom' for an overcomplete factorization"
                )
            max_iter = check_positive_int(self.max_iter, "max_iter", minimum=0)
            check_nonnegative_scalar(self.tol, "tol")
            if len(set(widths)) > 1:
                raise ValueError(f"X has a different number of features on each rank: "
                                 f"{widths} (rank order)")
        A = Xa.T
        Mt = None if M is None else M.T
        if self.init == "custom":
            if W is None or H is None:
                raise ValueError("init='custom' needs both W and H passed to fit")
            Hc = to_backend(W, xp=xp, device=dev, dtype=dt, name="W", nonnegative=True).T
            Wc = to_backend(H, xp=xp, device=dev, dtype=dt, name="H", nonnegative=True).T
            if tuple(Hc.shape) != (r, n_samples) or tuple(Wc.shape) != (n_features, r):
                raise ValueError(
                    f"custom W must have shape {(n_samples, r)} and H {(r, n_features)}, got "
                    f"{tuple(Hc.T.shape)} and {tuple(Wc.T.shape)}"
                )
        else:
            Wc, Hc = nmf_init(A, r, init=self.init, random_state=self.random_state, reduce=comm,
                              partition=partition, xp=xp)
        Wc, Hc, info = nmf(A, Wc, Hc, n_iter=max_iter, tol=self.tol,
                           check_every=self.check_every, mask=Mt, reduce=comm, xp=xp)
        self.components_ = Wc.T
        self.n_components_ = r
        self.n_features_in_ = n_features
        self.n_iter_ = info.n_iter
        self.reconstruction_err_ = math.sqrt(2.0 * float(info.objective))  # one sync
        if self.verbose:
            print(f"NMF: {info.n_iter} iterations, reconstruction error "
                  f"{self.reconstruction_err_:.6g}")
        return like_input(Hc.T, X)

    def transform(self, X, *, mask=None):
        """``W`` for new data with ``H = components_`` held fixed (multiplicative updates).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        mask : array-like, optional
            As in :meth:`fit_transform`.

        Returns
        -------
        W : array of shape (n_samples, n_components)
        """
        _check_fitted(self)
        xp, dev, dt = _fitted_backend(self.components_)
        Xa, M = _prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=True)
        _check_features(self, Xa)
        A = Xa.T
        avg = math.sqrt(float(xp.mean(A)) / self.n_components_)
        Hc = xp.full((self.n_components_, A.shape[1]), avg, dtype=dt, device=dev)
        _, Hc, _ = nmf(A, self.components_.T, Hc, n_iter=check_positive_int(
            self.max_iter, "max_iter", minimum=0), tol=self.tol, check_every=self.check_every,
            update_w=False, mask=None if M is None else M.T, xp=xp)
        return like_input(Hc.T, X)

    def inverse_transform(self, W):
        """``X ≈ W H`` from ``W`` of shape (n_samples, n_components)."""
        _check_fitted(self)
        xp, dev, dt = _fitted_backend(self.components_)
        Wa = asarray(W, xp=xp, device=dev, dtype=dt)
        return like_input(Wa @ self.components_, W)


def _fitted_backend(arr):
    from array_api_compat import array_namespace, device

    return array_namespace(arr), device(arr), arr.dtype


def _check_features(est, Xa):
    if Xa.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {Xa.shape[1]} features, but {type(est).__name__} was fitted with "
            f"{est.n_features_in_}"
        )


def _semi_nmf_v_step(A, U, V, *, lam_v, eps, xp):
    """The ``V`` half of Algorithm 1 with ``Ũ`` fixed (used by :meth:`SemiNMF.transform`).

    .. math::

        V ← V ⊙ \\left[ \\frac{(UᵀA)^+ + (UᵀŨ)^- Ṽ}{(UᵀA)^- + (UᵀŨ)^+ Ṽ + λ_V V + ε}
        \\right]^{1/2}
    """
    n = V.shape[0]
    Un = U[:, :n]
    UtA = Un.T @ A
    UtU = Un.T @ U

    def aff(G):
        return G @ V if G.shape[1] == n else G[:, :n] @ V + G[:, n:]

    numer = pos(UtA, xp=xp) + aff(neg(UtU, xp=xp))
    denom = neg(UtA, xp=xp) + aff(pos(UtU, xp=xp)) + eps
    if lam_v:
        denom = denom + lam_v * V
    return V * xp.sqrt(numer / denom)


class SemiNMF(TransformerMixin, BaseEstimator):
    """Semi-NMF ``X ≈ V U + 1 bᵀ`` with a non-negative latent ``V`` and mixed-sign ``U``.

    Ding–Li–Jordan semi-NMF (ALGORITHMS.md §1.1), with the optional bias column and ridge
    terms of Algorithm 1: in the solvers' column layout ``A = Xᵀ ≈ Ũ Ṽ``, ``Ũ = [U, b]``,
    ``Ṽ = [V; 1ᵀ]``, minimizing ``½‖A − Ũ Ṽ‖² + (λ_U/2)‖Ũ‖² + (λ_V/2)‖V‖²`` over ``V ≥ 0``.
    The data may have any sign.

    Parameters
    ----------
    n_components : int
        Rank ``r``.
    fit_intercept : bool, default=False
        Fit the bias ``b`` (Algorithm 1's extra column).
    alpha_u, alpha_v : float, default=0.0
        Ridge weights λ_U (on ``Ũ``) and λ_V (on ``V``).
    max_iter : int, default=200
    tol : float, default=1e-4
    check_every : int, default=10
    random_state : None, int or numpy Generator
        Seed of the initial ``V`` (uniform on [0, 1) plus 0.2, drawn on the host, as the
        cluster-indicator-plus-0.2 start of Ding, Li & Jordan without the k-means).
    verbose : int, default=0
    backend, device, dtype :
        As in :class:`NMF`.

    Attributes
    ----------
    components_ : array of shape (n_components, n_features)
        ``Uᵀ`` (any sign).
    intercept_ : array of shape (n_features,) or None
        ``b`` when ``fit_intercept``.
    reconstruction_err_ : float
        ``‖X − V U − 1bᵀ‖_F``.
    n_iter_ : int
    n_features_in_ : int
    """

    def __init__(self, n_components=2, *, fit_intercept=False, alpha_u=0.0, alpha_v=0.0,
                 max_iter=200, tol=1e-4, check_every=10, random_state=None, verbose=0,
                 backend=None, device=None, dtype=None):
        self.n_components = n_components
        self.fit_intercept = fit_intercept
        self.alpha_u = alpha_u
        self.alpha_v = alpha_v
        self.max_iter = max_iter
        self.tol = tol
        self.check_every = check_every
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend
        self.device = device
        self.dtype = dtype

    def fit(self, X, y=None, *, comm=None):
        """Fit to ``X`` of shape (n_samples, n_features); returns ``self`` (``comm``: see
        :meth:`fit_transform`)."""
        self.fit_transform(X, comm=comm)
        return self

    def fit_transform(self, X, y=None, *, comm=None):
        """Fit and return the non-negative latent ``V`` of shape (n_samples, n_components).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        comm : mpi4py communicator or :class:`nmfdnn.distributed.Communicator`, optional
            Data-parallel fit over MPI (``None``: one process): every rank passes its own rows
            and gets its rows of ``V``; ``components_``, ``intercept_`` and
            ``reconstruction_err_`` are those of one process fitting the rows of all ranks in
            rank order (to rounding).

        Returns
        -------
        V : array of shape (n_samples, n_components)
        """
        comm = as_communicator(comm)
        with collective_errors(comm):
            xp, dev, dt = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                              dtype=self.dtype)
            Xa = to_backend(X, xp=xp, device=dev, dtype=dt)
            n_samples, n_features = Xa.shape
            r = check_positive_int(self.n_components, "n_components")
            lam_u = check_nonnegative_scalar(self.alpha_u, "alpha_u")
            lam_v = check_nonnegative_scalar(self.alpha_v, "alpha_v")
        widths = [n_features] if comm is None else comm.allgather(n_features)
        with collective_errors(comm):
            if len(set(widths)) > 1:
                raise ValueError(f"X has a different number of features on each rank: "
                                 f"{widths} (rank order)")
        partition = None if comm is None else comm.partition(n_samples)
        A = Xa.T
        rng = check_random_state(self.random_state)
        if comm is None:
            V = random_uniform((r, n_samples), rng=rng, xp=xp, device=dev, dtype=dt) + 0.2
        else:  # this rank's columns of the global draw
            V = random_uniform((r, partition.n_total), rng=rng, xp=xp, device=dev, dtype=dt)
            V = xp.take(V, xp.asarray(partition.index, device=dev), axis=1) + 0.2
        U = xp.zeros((n_features, r + int(bool(self.fit_intercept))), dtype=dt, device=dev)
        U, V, info = semi_nmf(A, U, V, n_iter=check_positive_int(self.max_iter, "max_iter",
                                                                    minimum=0),
                              lam_u=lam_u, lam_v=lam_v, check_every=self.check_every,
                              tol=self.tol, reduce=comm, xp=xp)
        self.components_ = U[:, :r].T
        self.intercept_ = U[:, r] if self.fit_intercept else None
        self._U_tilde = U
        self.n_components_ = r
        self.n_features_in_ = n_features
        self.n_iter_ = info.n_iter
        err = semi_nmf_objective(A, U, V, reduce=comm, xp=xp)
        self.reconstruction_err_ = math.sqrt(2.0 * float(err))
        if self.verbose:
            print(f"SemiNMF: {info.n_iter} iterations, reconstruction error "
                  f"{self.reconstruction_err_:.6g}")
        return like_input(V.T, X)

    def transform(self, X):
        """Non-negative ``V`` for new data with ``U`` (and ``b``) held fixed."""
        _check_fitted(self)
        xp, dev, dt = _fitted_backend(self.components_)
        Xa = to_backend(X, xp=xp, device=dev, dtype=dt)
        _check_features(self, Xa)
        A = Xa.T
        r = self.n_components_
        eps = float(xp.finfo(dt).eps)
        V = xp.ones((r, A.shape[1]), dtype=dt, device=dev)
        U = self._U_tilde
        lam_v = float(self.alpha_v)

        def step(state):
            return (_semi_nmf_v_step(A, U, state[0], lam_v=lam_v, eps=eps, xp=xp),)

        def objective(state):
            return semi_nmf_objective(A, U, state[0], lam_v=lam_v, xp=xp)

        (V,), _ = iterate(step, (V,), objective, n_iter=int(self.max_iter),
                          check_every=self.check_every, tol=self.tol, what="SemiNMF.transform",
                          xp=xp)
        return like_input(V.T, X)

    def inverse_transform(self, V):
        """``X ≈ V U + 1bᵀ`` from ``V`` of shape (n_samples, n_components)."""
        _check_fitted(self)
        xp, dev, dt = _fitted_backend(self.components_)
        Va = asarray(V, xp=xp, device=dev, dtype=dt)
        out = Va @ self.components_
        if self.intercept_ is not None:
            out = out + self.intercept_[None, :]
        return like_input(out, V)
