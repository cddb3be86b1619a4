"""``NMF`` and ``SemiNMF``: scikit-learn style estimators over the pure solvers.

Samples are **rows** here, as in scikit-learn.  Inside, the solvers see the data as columns,
``A = Xᵀ``: scikit-learn's ``X ≈ W H`` (``W`` of shape (n_samples, r), ``H`` = ``components_``)
is the solvers' ``A ≈ W_c H_c`` with ``W_c = Hᵀ`` and ``H_c = Wᵀ``.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import namespace_name
from nmfdnn._host import check_random_state, numpy_dtype_name, random_uniform
from nmfdnn._ops import neg, pos
from nmfdnn._sparse import (
    as_sparse_operand,
    is_sparse,
    sparse_nmf,
    sparse_nmf_init,
    sparse_semi_nmf,
    sparse_semi_nmf_objective,
)
from nmfdnn.distributed import as_communicator, collective_errors
from nmfdnn.estimators._base import (
    COMMON_CONSTRAINTS,
    check_n_features,
    check_same_namespace,
    fitted_backend,
    like_input,
    prepare_masked,
    resolve_fit_backend,
    to_backend,
)
from nmfdnn.factorizations._init import INITS, nmf_init
from nmfdnn.factorizations._loop import iterate
from nmfdnn.factorizations._nmf import nmf
from nmfdnn.factorizations._semi_nmf import semi_nmf, semi_nmf_objective

__all__ = ["NMF", "SemiNMF"]


def _sparse_operand(X, *, xp, dtype, nonnegative, est, mask=None):
    """``A = Xᵀ`` of a ``scipy.sparse`` ``X`` for the NumPy backend (host module
    :mod:`nmfdnn._sparse`, which checks it once: the sparse solvers take it as is); other
    backends: a clear error."""
    if namespace_name(xp) != "numpy":
        raise TypeError(
            f"sparse X is supported on the NumPy backend only ({type(est).__name__} computes "
            f"with {namespace_name(xp)}); pass X.toarray() or use backend='numpy'"
        )
    if mask is not None:
        raise ValueError("mask is not supported with sparse X (store only observed entries "
                         "and pass a dense X with a mask instead)")
    return as_sparse_operand(X, dtype=numpy_dtype_name(dtype), nonnegative=nonnegative)


def _resolve_backend(est, X):
    """:func:`resolve_fit_backend` for dense or sparse ``X`` (sparse: NumPy by default, its
    floating dtype kept when ``dtype=None``)."""
    if not is_sparse(X):
        return resolve_fit_backend(X, backend=est.backend, device=est.device, dtype=est.dtype)
    dtype = est.dtype
    if dtype is None and X.dtype.kind == "f":
        dtype = str(X.dtype)
    return resolve_fit_backend(None, backend=est.backend, device=est.device, dtype=dtype)


def _fitted_backend(est, X, name="X"):
    """Namespace, device and dtype of the fitted ``components_``; ``X`` must be host data,
    sparse, or an array of that namespace and device (:func:`check_same_namespace`)."""
    check_is_fitted(est, "components_")
    if not is_sparse(X):
        check_same_namespace(X, est.components_, type(est).__name__, name=name)
    return fitted_backend(est.components_)


def _check_custom_factor(A, shape, whom, *, xp, device, dtype, name):
    """scikit-learn's ``_check_init``: shape, non-negative, finite, not all zeros (a zero
    factor stays zero under multiplicative updates)."""
    A = to_backend(A, xp=xp, device=device, dtype=dtype, name=name, nonnegative=True)
    for k in (0, 1):
        if A.shape[k] != shape[k]:
            which = "first" if k == 0 else "second"
            raise ValueError(f"Array with wrong {which} dimension passed to {whom}. Expected "
                             f"{shape[k]}, but got {A.shape[k]}.")
    if not bool(xp.any(A > 0)):
        raise ValueError(f"Array passed to {whom} is full of zeros.")
    return A


class NMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    backend : str, namespace or None, default=None
        Array backend to compute in; ``None``: the namespace of ``X``.
    device : str, device or None, default=None
        ``None``: the device of ``X`` (or the backend's default device).
    dtype : {"float32", "float64"}, dtype or None, default=None
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

    _parameter_constraints: dict = {
        "n_components": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "init": [StrOptions(set(INITS) | {"custom"})],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "check_every": [Interval(numbers.Integral, 0, None, closed="left")],
        **COMMON_CONSTRAINTS,
    }

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
        """Fit the factorization ``X ≈ W H``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative data (NaN allowed where ``mask`` is 0).
        y : None
            Ignored.
        W : array-like of shape (n_samples, n_components), optional
            Initial ``W`` for ``init="custom"``.
        H : array-like of shape (n_components, n_features), optional
            Initial ``H`` for ``init="custom"``.
        mask : array-like of shape (n_samples, n_features) or (n_samples,), optional
            Entry (or sample) weights ``≥ 0``; 0 marks a missing entry.
        comm : mpi4py communicator or :class:`nmfdnn.distributed.Communicator`, optional
            Data-parallel fit over MPI (see :meth:`fit_transform`).

        Returns
        -------
        self : NMF
            The fitted estimator.
        """
        self.fit_transform(X, W=W, H=H, mask=mask, comm=comm)
        return self

    def fit_transform(self, X, y=None, *, W=None, H=None, mask=None, comm=None):
        """Fit ``X ≈ W H`` and return ``W``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative data (NaN allowed where ``mask`` is 0).
        y : None
            Ignored.
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
        with collective_errors(comm):  # invalid input on one rank: the same error on all
            self._validate_params()
            sparse = is_sparse(X)
            if sparse and comm is not None:
                raise ValueError("sparse X is not supported with comm= (data-parallel MPI); "
                                 "pass a dense X")
            xp, dev, dt = _resolve_backend(self, X)
            if sparse:
                A = _sparse_operand(X, xp=xp, dtype=dt, nonnegative=True, est=self, mask=mask)
                M = None
                n_features, n_samples = A.shape
            else:
                Xa, M = prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=True)
                A = Xa.T
                n_samples, n_features = Xa.shape
        partition = None if comm is None else comm.partition(n_samples)
        n_all = n_samples if comm is None else partition.n_total
        widths = [n_features] if comm is None else comm.allgather(n_features)
        with collective_errors(comm):
            r = n_features if self.n_components is None else self.n_components
            if self.init in ("nndsvd", "nndsvda") and r > min(n_all, n_features):
                raise ValueError(
                    f"n_components={r} is larger than min(n_samples, n_features) = "
                    f"{min(n_all, n_features)}, the most init={self.init!r} (a truncated SVD) "
                    "allows; use init='random' or 'custom' for an overcomplete factorization"
                )
            if len(set(widths)) > 1:
                raise ValueError(f"X has a different number of features on each rank: "
                                 f"{widths} (rank order)")
        Mt = None if M is None else M.T
        if self.init == "custom":
            if W is None or H is None:
                raise ValueError("init='custom' needs both W and H passed to fit")
            # scikit-learn's order and messages: H first, then W
            Wc = _check_custom_factor(H, (r, n_features), "NMF (input H)", xp=xp, device=dev,
                                      dtype=dt, name="H").T
            Hc = _check_custom_factor(W, (n_samples, r), "NMF (input W)", xp=xp, device=dev,
                                      dtype=dt, name="W").T
        else:
            if W is not None or H is not None:
                warnings.warn("When init!='custom', provided W or H are ignored. Set "
                              "init='custom' to use them as initialization.", RuntimeWarning,
                              stacklevel=3)
            if sparse:
                Wc, Hc = sparse_nmf_init(A, r, init=self.init, random_state=self.random_state,
                                         xp=xp)
            else:
                Wc, Hc = nmf_init(A, r, init=self.init, random_state=self.random_state,
                                  reduce=comm, partition=partition, xp=xp)
        if sparse:
            (Wc, Hc), info = sparse_nmf(A, Wc, Hc, n_iter=self.max_iter, tol=self.tol,
                                        check_every=self.check_every, xp=xp)
        else:
            Wc, Hc, info = nmf(A, Wc, Hc, n_iter=self.max_iter, tol=self.tol,
                               check_every=self.check_every, mask=Mt, check_input=False,
                               reduce=comm, xp=xp)
        self.components_ = Wc.T
        self.n_components_ = r
        self.n_features_in_ = n_features
        self.n_iter_ = info.n_iter
        # one sync; the sparse objective ‖A‖² − 2⟨·⟩ + ⟨·⟩ may round to a tiny negative
        self.reconstruction_err_ = math.sqrt(max(2.0 * float(info.objective), 0.0))
        if self.verbose:
            print(f"NMF: {info.n_iter} iterations, reconstruction error "
                  f"{self.reconstruction_err_:.6g}")
        return like_input(Hc.T, None if sparse else X)

    @property
    def _n_features_out(self):
        """Number of output features (``get_feature_names_out``: ``nmf0``, ``nmf1``, …)."""
        return self.n_components_

    def transform(self, X, *, mask=None):
        """``W`` for new data with ``H = components_`` held fixed (multiplicative updates).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative data (NaN allowed where ``mask`` is 0).
        mask : array-like of shape (n_samples, n_features) or (n_samples,), optional
            As in :meth:`fit_transform`.

        Returns
        -------
        W : array of shape (n_samples, n_components)
            In the namespace of ``X``.
        """
        xp, dev, dt = _fitted_backend(self, X)
        if is_sparse(X):
            A = _sparse_operand(X, xp=xp, dtype=dt, nonnegative=True, est=self, mask=mask)
            check_n_features(self, A.T)
            avg = math.sqrt(A.mean() / self.n_components_)
            Hc = xp.full((self.n_components_, A.shape[1]), avg, dtype=dt, device=dev)
            (_, Hc), _ = sparse_nmf(A, self.components_.T, Hc, n_iter=self.max_iter,
                                    tol=self.tol, check_every=self.check_every, update_w=False,
                                    xp=xp)
            return Hc.T
        Xa, M = prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=True)
        check_n_features(self, Xa)
        A = Xa.T
        avg = math.sqrt(float(xp.mean(A)) / self.n_components_)
        Hc = xp.full((self.n_components_, A.shape[1]), avg, dtype=dt, device=dev)
        _, Hc, _ = nmf(A, self.components_.T, Hc, n_iter=self.max_iter, tol=self.tol,
                       check_every=self.check_every, update_w=False,
                       mask=None if M is None else M.T, check_input=False, xp=xp)
        return like_input(Hc.T, X)

    def inverse_transform(self, W):
        """``X ≈ W H`` from ``W``.

        Parameters
        ----------
        W : array-like of shape (n_samples, n_components)
            Latent of some samples.

        Returns
        -------
        X : array of shape (n_samples, n_features)
            ``W @ components_``, in the namespace of ``W``.
        """
        xp, dev, dt = _fitted_backend(self, W, name="W")
        Wa = to_backend(W, xp=xp, device=dev, dtype=dt, name="W")
        return like_input(Wa @ self.components_, W)


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


class SemiNMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    backend : str, namespace or None, default=None
        Array backend to compute in; ``None``: the namespace of ``X``.
    device : str, device or None, default=None
        ``None``: the device of ``X`` (or the backend's default device).
    dtype : {"float32", "float64"}, dtype or None, default=None
        ``None``: ``X``'s floating dtype (float32 for integer or list input).

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

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "fit_intercept": ["boolean"],
        "alpha_u": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha_v": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "check_every": [Interval(numbers.Integral, 0, None, closed="left")],
        **COMMON_CONSTRAINTS,
    }

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
        """Fit ``X ≈ V U + 1 bᵀ``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data of any sign.
        y : None
            Ignored.
        comm : mpi4py communicator or :class:`nmfdnn.distributed.Communicator`, optional
            Data-parallel fit over MPI (see :meth:`fit_transform`).

        Returns
        -------
        self : SemiNMF
            The fitted estimator.
        """
        self.fit_transform(X, comm=comm)
        return self

    def fit_transform(self, X, y=None, *, comm=None):
        """Fit ``X ≈ V U + 1 bᵀ`` and return the non-negative latent ``V``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data of any sign.
        y : None
            Ignored.
        comm : mpi4py communicator or :class:`nmfdnn.distributed.Communicator`, optional
            Data-parallel fit over MPI (``None``: one process): every rank passes its own rows
            and gets its rows of ``V``; ``components_``, ``intercept_`` and
            ``reconstruction_err_`` are those of one process fitting the rows of all ranks in
            rank order (to rounding).

        Returns
        -------
        V : array of shape (n_samples, n_components)
            Non-negative, in the namespace of ``X`` (host NumPy for lists).
        """
        comm = as_communicator(comm)
        with collective_errors(comm):  # invalid input on one rank: the same error on all
            self._validate_params()
            sparse = is_sparse(X)
            if sparse and comm is not None:
                raise ValueError("sparse X is not supported with comm= (data-parallel MPI); "
                                 "pass a dense X")
            xp, dev, dt = _resolve_backend(self, X)
            if sparse:
                A = _sparse_operand(X, xp=xp, dtype=dt, nonnegative=False, est=self)
            else:
                A = to_backend(X, xp=xp, device=dev, dtype=dt).T
        n_features, n_samples = A.shape
        widths = [n_features] if comm is None else comm.allgather(n_features)
        with collective_errors(comm):
            if len(set(widths)) > 1:
                raise ValueError(f"X has a different number of features on each rank: "
                                 f"{widths} (rank order)")
        partition = None if comm is None else comm.partition(n_samples)
        r = self.n_components
        lam_u, lam_v = float(self.alpha_u), float(self.alpha_v)
        rng = check_random_state(self.random_state)
        if comm is None:
            V = random_uniform((r, n_samples), rng=rng, xp=xp, device=dev, dtype=dt) + 0.2
        else:  # this rank's columns of the global draw
            V = random_uniform((r, partition.n_total), rng=rng, xp=xp, device=dev, dtype=dt)
            V = xp.take(V, xp.asarray(partition.index, device=dev), axis=1) + 0.2
        U = xp.zeros((n_features, r + int(bool(self.fit_intercept))), dtype=dt, device=dev)
        if sparse:
            (U, V), info = sparse_semi_nmf(A, U, V, n_iter=self.max_iter, lam_u=lam_u,
                                           lam_v=lam_v, check_every=self.check_every,
                                           tol=self.tol, xp=xp)
            objective = sparse_semi_nmf_objective
        else:
            U, V, info = semi_nmf(A, U, V, n_iter=self.max_iter, lam_u=lam_u, lam_v=lam_v,
                                  check_every=self.check_every, tol=self.tol,
                                  check_input=False, reduce=comm, xp=xp)
            objective = functools.partial(semi_nmf_objective, reduce=comm)
        self.components_ = U[:, :r].T
        self.intercept_ = U[:, r] if self.fit_intercept else None
        self._U_tilde = U
        self.n_components_ = r
        self.n_features_in_ = n_features
        self.n_iter_ = info.n_iter
        err = objective(A, U, V, xp=xp)
        self.reconstruction_err_ = math.sqrt(max(2.0 * float(err), 0.0))
        if self.verbose:
            print(f"SemiNMF: {info.n_iter} iterations, reconstruction error "
                  f"{self.reconstruction_err_:.6g}")
        return like_input(V.T, None if sparse else X)

    @property
    def _n_features_out(self):
        """Number of output features (``get_feature_names_out``: ``seminmf0``, …)."""
        return self.n_components_

    def transform(self, X):
        """Non-negative ``V`` for new data with ``U`` (and ``b``) held fixed.

        Runs the ``V`` half of Algorithm 1 (``max_iter`` iterations from ``V = 1``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data of any sign.

        Returns
        -------
        V : array of shape (n_samples, n_components)
            Non-negative, in the namespace of ``X``.
        """
        xp, dev, dt = _fitted_backend(self, X)
        sparse = is_sparse(X)
        if sparse:
            A = _sparse_operand(X, xp=xp, dtype=dt, nonnegative=False, est=self)
            check_n_features(self, A.T)
        else:
            Xa = to_backend(X, xp=xp, device=dev, dtype=dt)
            check_n_features(self, Xa)
            A = Xa.T
        r = self.n_components_
        eps = float(xp.finfo(dt).eps)
        V = xp.ones((r, A.shape[1]), dtype=dt, device=dev)
        U = self._U_tilde
        lam_v = float(self.alpha_v)

        def step(state):
            return (_semi_nmf_v_step(A, U, state[0], lam_v=lam_v, eps=eps, xp=xp),)

        objective_fn = sparse_semi_nmf_objective if sparse else semi_nmf_objective

        def objective(state):
            return objective_fn(A, U, state[0], lam_v=lam_v, xp=xp)

        (V,), _ = iterate(step, (V,), objective, n_iter=int(self.max_iter),
                          check_every=self.check_every, tol=self.tol, what="SemiNMF.transform",
                          xp=xp)
        return like_input(V.T, None if sparse else X)

    def inverse_transform(self, V):
        """``X ≈ V U + 1bᵀ`` from ``V``.

        Parameters
        ----------
        V : array-like of shape (n_samples, n_components)
            Latent of some samples.

        Returns
        -------
        X : array of shape (n_samples, n_features)
            In the namespace of ``V``.
        """
        xp, dev, dt = _fitted_backend(self, V, name="V")
        Va = to_backend(V, xp=xp, device=dev, dtype=dt, name="V")
        out = Va @ self.components_
        if self.intercept_ is not None:
            out = out + self.intercept_[None, :]
        return like_input(out, V)
