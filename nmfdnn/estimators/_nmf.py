"""``NMF`` and ``SemiNMF``: scikit-learn style estimators over the pure solvers.

Samples are **rows** here, as in scikit-learn.  Inside, the solvers see the data as columns,
``A = Xᵀ``: scikit-learn's ``X ≈ W H`` (``W`` of shape (n_samples, r), ``H`` = ``components_``)
is the solvers' ``A ≈ W_c H_c`` with ``W_c = Hᵀ`` and ``H_c = Wᵀ``.
"""

from __future__ import annotations

import math
import numbers
import warnings

from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from nmfdnn._sparse import (
    is_sparse,
    sparse_nmf,
    sparse_nmf_init,
)
from nmfdnn.estimators._base import (
    COMMON_CONSTRAINTS,
    begin_factorization_fit,
    check_n_features,
    end_factorization_fit,
    fitted_backend_of,
    like_input,
    prepare_masked,
    resolve_backend_of,
    to_backend,
    transform_operand,
)
from nmfdnn.factorizations._init import INITS, nmf_init
from nmfdnn.factorizations._nmf import nmf

__all__ = ["NMF"]


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
    forget_factor : float in (0, 1], default=0.7
        ρ of :meth:`partial_fit`: the weight of the past mini-batches' statistics in the
        online update of ``components_`` (scikit-learn's ``MiniBatchNMF``); 1 remembers all.

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
        "forget_factor": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(self, n_components=None, *, init="nndsvda", max_iter=200, tol=1e-4,
                 check_every=10, random_state=None, verbose=0, backend=None, device=None,
                 dtype=None, forget_factor=0.7):
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
        self.forget_factor = forget_factor

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
        comm, partition, sparse, xp, dev, dt, A, Mt = begin_factorization_fit(
            self, X, comm, nonnegative=True, mask=mask)
        n_features, n_samples = A.shape
        n_all = n_samples if comm is None else partition.n_total
        r = n_features if self.n_components is None else self.n_components
        if self.init in ("nndsvd", "nndsvda") and r > min(n_all, n_features):
            raise ValueError(  # the same on every rank (global sizes)
                f"n_components={r} is larger than min(n_samples, n_features) = "
                f"{min(n_all, n_features)}, the most init={self.init!r} (a truncated SVD) "
                "allows; use init='random' or 'custom' for an overcomplete factorization"
            )
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
        return end_factorization_fit(self, info.objective, info.n_iter, Hc.T, X, sparse=sparse)

    @property
    def _n_features_out(self):
        """Number of output features (``get_feature_names_out``: ``nmf0``, ``nmf1``, …)."""
        return self.n_components_

    def partial_fit(self, X, y=None, *, mask=None):
        """One online update of ``components_`` from a mini-batch.

        The online updates of scikit-learn's ``MiniBatchNMF`` for the Frobenius loss: the
        batch's latent ``W_J`` is solved with ``H`` fixed (as :meth:`transform`), then ``H``
        takes one multiplicative step on statistics accumulated over the batches seen, the
        older ones weighted down by ``ρ = forget_factor``:

        .. math::

            N ← ρ N + (W_Jᵀ X_J) ⊙ H, \\qquad D ← ρ D + W_Jᵀ W_J H, \\qquad H ← N ⊘ (D + ε)

        (with a mask, ``X_J`` and ``W_J H`` weighted by ``M_J``).  The first call initializes
        ``H`` from its batch (``init``; ``"custom"`` is not available here).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A mini-batch of non-negative data (dense).
        y : None
            Ignored.
        mask : array-like of shape (n_samples, n_features) or (n_samples,), optional
            As in :meth:`fit_transform`.

        Returns
        -------
        self : NMF
            The updated estimator.
        """
        first = not hasattr(self, "components_")
        if is_sparse(X):
            raise TypeError("NMF.partial_fit takes dense X (fit accepts scipy.sparse)")
        if first:
            self._validate_params()
            if self.init == "custom":
                raise ValueError("init='custom' is not available in partial_fit (no W/H "
                                 "argument); use fit, or another init")
            xp, dev, dt = resolve_backend_of(self, X)
        else:
            xp, dev, dt = fitted_backend_of(self, X)
        Xa, M = prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=True)
        A, Mt = Xa.T, None if M is None else M.T
        if first:
            r = Xa.shape[1] if self.n_components is None else self.n_components
            if self.init in ("nndsvd", "nndsvda") and r > min(Xa.shape):
                raise ValueError(f"n_components={r} is larger than min(n_samples, n_features) "
                                 f"= {min(Xa.shape)} of the first batch, the most "
                                 f"init={self.init!r} allows")
            Wc, _ = nmf_init(A, r, init=self.init, random_state=self.random_state, xp=xp)
            self.n_components_, self.n_features_in_, self.n_steps_ = r, Xa.shape[1], 0
            self._online_num = xp.zeros_like(Wc)
            self._online_den = xp.zeros_like(Wc)
        else:
            check_n_features(self, Xa)
            Wc = self.components_.T
        avg = math.sqrt(float(xp.mean(A)) / self.n_components_)
        Hc = xp.full((self.n_components_, A.shape[1]), avg, dtype=dt, device=dev)
        _, Hc, _ = nmf(A, Wc, Hc, n_iter=self.max_iter, tol=self.tol,
                       check_every=self.check_every, update_w=False, mask=Mt,
                       check_input=False, xp=xp)
        if Mt is None:
            num, den = (A @ Hc.T) * Wc, Wc @ (Hc @ Hc.T)
        else:
            num, den = ((Mt * A) @ Hc.T) * Wc, (Mt * (Wc @ Hc)) @ Hc.T
        rho = float(self.forget_factor)
        self._online_num = rho * self._online_num + num
        self._online_den = rho * self._online_den + den
        eps = float(xp.finfo(dt).eps)
        self.components_ = (self._online_num / (self._online_den + eps)).T
        self.n_steps_ += 1
        return self

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
        xp, dev, dt, sparse, A, Mt = transform_operand(self, X, nonnegative=True, mask=mask)
        if sparse:
            avg = math.sqrt(A.mean() / self.n_components_)
            Hc = xp.full((self.n_components_, A.shape[1]), avg, dtype=dt, device=dev)
            (_, Hc), _ = sparse_nmf(A, self.components_.T, Hc, n_iter=self.max_iter,
                                    tol=self.tol, check_every=self.check_every, update_w=False,
                                    xp=xp)
            return Hc.T
        avg = math.sqrt(float(xp.mean(A)) / self.n_components_)
        Hc = xp.full((self.n_components_, A.shape[1]), avg, dtype=dt, device=dev)
        _, Hc, _ = nmf(A, self.components_.T, Hc, n_iter=self.max_iter, tol=self.tol,
                       check_every=self.check_every, update_w=False,
                       mask=Mt, check_input=False, xp=xp)
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
        xp, dev, dt = fitted_backend_of(self, W, name="W")
        Wa = to_backend(W, xp=xp, device=dev, dtype=dt, name="W")
        return like_input(Wa @ self.components_, W)
