"""Host-side ``scipy.sparse`` support of :class:`~nmfdnn.estimators.NMF` and
:class:`~nmfdnn.estimators.SemiNMF` (NumPy backend), without densifying the data.

A host-side module (like ``_host.py``): it imports NumPy and SciPy.  The solvers' one-iteration
steps (:func:`nmfdnn.factorizations.nmf_step`, :func:`nmfdnn.factorizations.semi_nmf_step`)
touch the data only through the products ``A Bᵀ``, ``Bᵀ A`` and the row sums ``A 1``;
:class:`SparseOperand` provides exactly these for a sparse ``A`` (sparse × dense products, the
result dense with the factors' small dimension), so the same steps run unchanged.  The
objectives never form ``A − W H``: with ``⟨·,·⟩`` the entrywise inner product,

.. math::

    ‖A − W H‖² = ‖A‖² − 2⟨W, A Hᵀ⟩ + ⟨WᵀW, H Hᵀ⟩, \\qquad
    ‖A − Ũ Ṽ‖² = ‖A‖² − 2⟨Ũ, A Ṽᵀ⟩ + ⟨ŨᵀŨ, Ṽ Ṽᵀ⟩.

Memory: ``O(nnz + (n + m) r)``, never ``n × m``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from nmfdnn._host import check_random_state, random_normal
from nmfdnn._ops import cross_tilde, gram_tilde
from nmfdnn.factorizations._init import _nndsvd
from nmfdnn.factorizations._loop import iterate
from nmfdnn.factorizations._nmf import nmf_step
from nmfdnn.factorizations._semi_nmf import semi_nmf_step

__all__ = ["SparseOperand", "as_sparse_operand", "is_sparse", "sparse_nmf", "sparse_nmf_init",
           "sparse_semi_nmf", "sparse_semi_nmf_objective"]


def is_sparse(X):
    """True for a ``scipy.sparse`` matrix or array."""
    return sp.issparse(X)


class SparseOperand:
    """A sparse ``A`` of shape (n, m) that multiplies dense NumPy arrays on either side.

    ``A @ B`` and ``B @ A`` return dense arrays (``__array_ufunc__ = None`` makes NumPy defer
    ``ndarray @ SparseOperand`` to :meth:`__rmatmul__`); ``A.T``, ``A.sum(axis=1)``, ``shape``,
    ``dtype`` and ``ndim`` are what the steps read.

    Parameters
    ----------
    A : scipy.sparse matrix or array
    At : scipy.sparse matrix or array, optional
        ``Aᵀ`` in CSR (computed when not given).
    """

    __array_ufunc__ = None

    def __init__(self, A, At=None):
        self._A = A.tocsr()
        self._At = A.T.tocsr() if At is None else At
        self.shape = tuple(A.shape)
        self.dtype = A.dtype
        self.ndim = 2

    @property
    def T(self):
        """``Aᵀ`` (no copy)."""
        return SparseOperand.__new__(SparseOperand)._init_from(self._At, self._A)

    def _init_from(self, A, At):
        self._A, self._At = A, At
        self.shape, self.dtype, self.ndim = tuple(A.shape), A.dtype, 2
        return self

    def __matmul__(self, B):
        return np.asarray(self._A @ B)

    def __rmatmul__(self, B):
        return np.asarray(self._At @ B.T).T

    def sum(self, axis=None, keepdims=False, dtype=None, **kwargs):
        """Sums as a dense NumPy array (``keepdims`` as NumPy)."""
        s = np.asarray(self._A.sum(axis=axis))
        if axis is None:
            return s.reshape(())
        return s if keepdims else s.reshape(-1)

    def sq_norm(self):
        """``‖A‖²_F`` (a 0-d array)."""
        return np.asarray(np.dot(self._A.data, self._A.data))

    def mean(self):
        """Mean of all ``n m`` entries (zeros included), a Python float."""
        return float(self._A.sum()) / (self.shape[0] * self.shape[1])


def as_sparse_operand(X, *, dtype, name="X", nonnegative=False):
    """Validate a sparse ``X`` (samples as rows) and return ``A = Xᵀ`` as a
    :class:`SparseOperand` of ``dtype`` (only the stored values are checked and cast).

    Raises
    ------
    ValueError
        Empty, non-finite or (``nonnegative``) negative stored values.
    TypeError
        Complex or non-numeric values.
    """
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
    if 0 in X.shape:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"sparse {name} must be real numeric, got dtype {X.dtype}")
    X = X.tocsr().astype(dtype)
    X.sum_duplicates()
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if nonnegative and X.data.size and X.data.min() < 0:
        raise ValueError(f"{name} must be non-negative (its minimum is {X.data.min()})")
    return SparseOperand(X.T, X)


def sparse_nmf_objective(A, W, H):
    """``½‖A − W H‖²`` for a sparse ``A`` (0-d array), without forming ``A − W H``."""
    inner = np.sum(W * (A @ H.T))
    return 0.5 * (A.sq_norm() - 2.0 * inner + np.sum((W.T @ W) * (H @ H.T)))


def sparse_nmf(A, W, H, *, n_iter, tol, check_every, update_w=True, xp):
    """:func:`nmfdnn.factorizations.nmf` for a sparse ``A`` (validated by the caller):
    the same steps (:func:`nmf_step`) and loop, the objective of
    :func:`sparse_nmf_objective`."""

    def step(state):
        return nmf_step(A, *state, update_w=update_w, xp=xp)

    def objective(state):
        return sparse_nmf_objective(A, *state)

    return iterate(step, (W, H), objective, n_iter=n_iter, check_every=check_every, tol=tol,
                   what="nmf", xp=xp)


def sparse_nmf_init(A, r, *, init, random_state, xp):
    """:func:`nmfdnn.factorizations.nmf_init` for a sparse ``A``: the same random draws, or
    NNDSVD(a) from the leading ``r`` singular triplets (``scipy.sparse.linalg.svds``, which
    needs ``r < min(n, m)``)."""
    n, m = A.shape
    dtype = A.dtype
    if init == "random":
        rng = check_random_state(random_state)
        avg = math.sqrt(A.mean() / r)
        W = np.abs(random_normal((r, n), rng=rng, scale=avg, xp=xp, dtype=dtype)).T
        H = np.abs(random_normal((m, r), rng=rng, scale=avg, xp=xp, dtype=dtype)).T
        return W, H
    if r >= min(n, m):
        raise ValueError(
            f"n_components={r} must be < min(n_samples, n_features) = {min(n, m)} for "
            f"init={init!r} on sparse X (a truncated sparse SVD); use init='random'"
        )
    U, S, Vt = svds(A._A.astype(np.float64), k=r, random_state=0, solver="arpack")
    order = np.argsort(S)[::-1]
    svd = (U[:, order].astype(dtype), S[order].astype(dtype), Vt[order].astype(dtype))
    W, H = _nndsvd(None, r, xp=xp, svd=svd)
    if init == "nndsvda":
        avg = np.asarray(A.mean(), dtype=dtype)
        W = np.where(W == 0, avg, W)
        H = np.where(H == 0, avg, H)
    return W, H


def sparse_semi_nmf_objective(A, U, V, *, lam_u=0.0, lam_v=0.0, xp):
    """``½‖A − Ũ Ṽ‖² + (λ_U/2)‖Ũ‖² + (λ_V/2)‖V‖²`` for a sparse ``A`` (0-d array)."""
    bias = U.shape[1] == V.shape[0] + 1
    inner = np.sum(U * cross_tilde(A, V, bias=bias, xp=xp))
    obj = 0.5 * (A.sq_norm() - 2.0 * inner + np.sum((U.T @ U) * gram_tilde(V, bias=bias, xp=xp)))
    if lam_u:
        obj = obj + 0.5 * lam_u * np.sum(U * U)
    if lam_v:
        obj = obj + 0.5 * lam_v * np.sum(V * V)
    return obj


def sparse_semi_nmf(A, U, V, *, n_iter, lam_u, lam_v, check_every, tol, xp):
    """:func:`nmfdnn.factorizations.semi_nmf` for a sparse ``A`` (validated by the caller):
    the same steps (:func:`semi_nmf_step`), the objective without ``A − Ũ Ṽ``."""

    def step(state):
        return semi_nmf_step(A, *state, lam_u=lam_u, lam_v=lam_v, xp=xp)

    def objective(state):
        return sparse_semi_nmf_objective(A, *state, lam_u=lam_u, lam_v=lam_v, xp=xp)

    return iterate(step, (U, V), objective, n_iter=n_iter, check_every=check_every, tol=tol,
                   what="semi_nmf", xp=xp)
