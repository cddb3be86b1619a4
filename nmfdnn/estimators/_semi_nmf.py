"""scikit-learn estimator of semi-NMF (ALGORITHMS.md §1.1, Algorithm 1): ``X ≈ V U + 1 bᵀ``
with a non-negative latent ``V`` and a mixed-sign basis ``U``.
"""

from __future__ import annotations

import functools
import numbers

from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval

from nmfdnn._host import check_random_state, random_uniform
from nmfdnn._ops import neg, pos
from nmfdnn._sparse import (
    sparse_semi_nmf,
    sparse_semi_nmf_objective,
)
from nmfdnn.estimators._base import (
    COMMON_CONSTRAINTS,
    begin_factorization_fit,
    end_factorization_fit,
    fitted_backend_of,
    like_input,
    to_backend,
    transform_operand,
)
from nmfdnn.factorizations._loop import iterate
from nmfdnn.factorizations._semi_nmf import semi_nmf, semi_nmf_objective

__all__ = ["SemiNMF"]


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
        comm, partition, sparse, xp, dev, dt, A, _ = begin_factorization_fit(
            self, X, comm, nonnegative=False)
        n_features, n_samples = A.shape
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
        return end_factorization_fit(self, objective(A, U, V, xp=xp), info.n_iter, V.T, X,
                                     sparse=sparse)

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
        xp, dev, dt, sparse, A, _ = transform_operand(self, X, nonnegative=False)
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
        xp, dev, dt = fitted_backend_of(self, V, name="V")
        Va = to_backend(V, xp=xp, device=dev, dtype=dt, name="V")
        out = Va @ self.components_
        if self.intercept_ is not None:
            out = out + self.intercept_[None, :]
        return like_input(out, V)
