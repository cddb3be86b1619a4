"""Least-squares solves through small Gram matrices (ALGORITHMS.md §1.4).

Every pseudo-inverse and ridge solve of nmfdnn goes through this module.  For a wide ``A``
(p × m, m the number of samples) only the p × p Gram matrix ``A Aᵀ`` is formed (one GEMM); an
m × m matrix is never formed.

- With a ridge term λ > 0 the Gram matrix plus λI is symmetric positive definite: a Cholesky
  factorization and two triangular solves replace the inverse (:func:`spd_solve`, one dispatch
  to the backend's own routines).  λ is honoured as given in every dtype; only where the
  factorization fails in working precision is a diagonal jitter added, and reported.
- With λ = 0 the pseudo-inverse comes from ``eigh`` of the Gram matrix truncated at
  ``rcond² · λ_max`` (the eigenvalues of ``A Aᵀ`` are the squared singular values of ``A``).

A rank deficient problem therefore never yields NaN: the eigen-truncation discards null
directions, and the jitter keeps a nearly singular ridge system solvable.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import numbers
import warnings

import array_api_compat
import array_api_extra as xpx
from array_api_compat import device as _device

from nmfdnn._ops import wide_dtype

__all__ = [
    "gram_pinv",
    "pinv_small",
    "ridge_solve_right",
    "ridge_solve_left",
    "spd_solve",
    "jitter_events",
    "CholeskyJitterWarning",
    "solve_gram_right",
    "lstsq_right",
    "lstsq_left",
    "default_rcond",
]


def default_rcond(n, dtype, *, xp):
    """Default relative cut-off for singular values in the Gram route: ``sqrt(n · eps)``.

    Below it, eigenvalues of an n × n Gram matrix are not resolved in ``dtype``.
    """
    return (n * xp.finfo(dtype).eps) ** 0.5


def _add_diagonal(G, d, *, xp):
    """``G + diag(d)`` with ``d`` a scalar or a 1-D array, without in-place writes."""
    if isinstance(d, numbers.Real):
        return G + float(d) * xp.eye(G.shape[0], dtype=G.dtype, device=_device(G))
    return G + xpx.create_diagonal(d, xp=xp)


def gram_pinv(G, *, rcond=None, xp):
    """Pseudo-inverse ``G⁺`` of a symmetric positive semi-definite Gram matrix ``G = A Aᵀ``.

    ``G = Q diag(w) Qᵀ`` (``eigh``); eigenvalues ``w ≤ rcond² · max(w)`` are dropped, which is
    the truncated-SVD pseudo-inverse of ``A`` with relative cut-off ``rcond``:
    ``A† = Aᵀ G⁺``.

    Parameters
    ----------
    G : array of shape (n, n)
        Symmetric positive semi-definite.
    rcond : float, optional
        Relative singular-value cut-off. Default: :func:`default_rcond`.
    xp : namespace

    Returns
    -------
    array of shape (n, n)
    """
    n = G.shape[0]
    if rcond is None:
        rcond = default_rcond(n, G.dtype, xp=xp)
    w, Q = xp.linalg.eigh(G)
    threshold = (rcond * rcond) * xp.max(w)
    keep = w > threshold
    safe = xp.where(keep, w, xp.ones_like(w))
    inv = xp.where(keep, 1.0 / safe, xp.zeros_like(w))
    return (Q * inv[None, :]) @ Q.T


def pinv_small(A, rcond=None, *, xp):
    """Pseudo-inverse ``A†`` of a small matrix (a weight matrix) through its smaller Gram matrix.

    .. math::

        A^† = (AᵀA)^+ Aᵀ \\quad (A \\text{ tall}), \\qquad A^† = Aᵀ (AAᵀ)^+ \\quad
        (A \\text{ wide})

    with :func:`gram_pinv` (eigenvalues below ``rcond² · λ_max`` dropped).

    Parameters
    ----------
    A : array of shape (n, p)
    rcond : float, optional
        Relative singular-value cut-off. Default: :func:`default_rcond` of ``min(n, p)``.
    xp : namespace

    Returns
    -------
    array of shape (p, n)
    """
    n, p = A.shape
    if n >= p:
        return gram_pinv(A.T @ A, rcond=rcond, xp=xp) @ A.T
    return A.T @ gram_pinv(A @ A.T, rcond=rcond, xp=xp)


class CholeskyJitterWarning(RuntimeWarning):
    """A ridge system ``G + Λ`` was not positive definite in working precision: its Cholesky
    factorization failed and was repeated with a diagonal jitter (see :func:`spd_solve`)."""


_JITTER_EVENTS = [0]
#: Device counters of jittered factorizations on accelerators, read only by :func:`jitter_events`
#: (no host synchronization inside the solves): ``{device key: 0-d integer array}``.
_PENDING = {}


def jitter_events(reset=False):
    """How many Cholesky factorizations needed a jitter since the start (or the last reset).

    On an accelerator the failures are counted on the device (no synchronization inside the
    solves); reading them here is the synchronization, and warns
    (:class:`CholeskyJitterWarning`) if any occurred.  The estimators read it once per ``fit``.

    Parameters
    ----------
    reset : bool, default=False
        Set the counter back to zero after reading it.

    Returns
    -------
    int
    """
    pending = sum(int(c) for c in _PENDING.values())
    _PENDING.clear()
    if pending:
        _JITTER_EVENTS[0] += pending - 1
        _report_jitter()
    count = _JITTER_EVENTS[0]
    if reset:
        _JITTER_EVENTS[0] = 0
    return count


def _count_on_device(failed, key, *, xp):
    """Add a device flag to the device counter of ``key`` (no host read)."""
    flag = xp.astype(failed, xp.int32)
    _PENDING[key] = flag if key not in _PENDING else _PENDING[key] + flag


def _report_jitter(*_):
    _JITTER_EVENTS[0] += 1
    warnings.warn(
        "a ridge Gram system was not positive definite in working precision; its Cholesky "
        "factorization was repeated with a diagonal jitter (a multiple of n·eps·|G_ii|); a "
        "larger ridge λ, float64, or fewer collinear features avoid it",
        CholeskyJitterWarning,
        stacklevel=3,
    )


#: Jitter levels tried after a failed factorization, in units of ``n·eps·|G_ii|``.
_JITTER_LEVELS = (10.0, 1e3, 1e5)


#: The precision ``J`` is known to, when it was upcast for the solve (float32 data factorized
#: in float64): the jitter is sized by it, not by the factorization's dtype.
_SOURCE_EPS = contextvars.ContextVar("nmfdnn_source_eps", default=None)


def _jitter(J, level, *, xp):
    """``J + level · n·eps·diag(|J_ii|)`` (``eps·max|J_ii|`` where ``J_ii = 0``).

    Relative to each row's own scale: Cholesky's rounding errors are invariant under a diagonal
    scaling, so the jitter that makes the factorization succeed is a multiple of ``n·eps`` of
    the *scaled* matrix (one large diagonal entry, such as the bias row holding the batch
    size, must not swamp the small ones).
    """
    n = J.shape[0]
    diag = xp.abs(xp.linalg.diagonal(J))
    source = _SOURCE_EPS.get()
    eps = xp.finfo(J.dtype).eps if source is None else source
    d = xp.where(diag > 0, (level * n * eps) * diag, eps * xp.max(diag))
    return J + xpx.create_diagonal(d, xp=xp)


def _factor_ok(L, *, xp):
    """Device flag: ``L`` is a complete Cholesky factor, i.e. its diagonal is positive and
    finite.  A failed LAPACK/cuSOLVER ``potrf`` leaves a non-positive or NaN pivot there, JAX
    fills the factor with NaN; a NaN or inf anywhere in the factor reaches a later pivot
    (``L_ii² = J_ii − Σ_j L_ij²``), so the diagonal is enough, whatever the other triangle holds.
    """
    d = xp.linalg.diagonal(L)
    return xp.all(d > 0) & xp.all(xp.isfinite(d))


def _nan_like(B, *, xp):
    """The answer of a system no jitter made positive definite (NaN or inf entries in ``G``):
    NaN, for the trainers' divergence checks to see."""
    return xp.full(B.shape, xp.nan, dtype=B.dtype, device=_device(B))


@functools.cache
def _scipy_blas_pool():
    """The threadpoolctl handle of SciPy's own BLAS pool, or None (no threadpoolctl, or SciPy
    shares NumPy's BLAS); looked up once."""
    try:
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController()
        paths = [i["filepath"] for i in controller.info()
                 if i.get("user_api") == "blas" and "scipy.libs" in i["filepath"]]
        return controller.select(filepath=paths) if paths else None
    except Exception:  # threadpoolctl missing or unable to read the libraries
        return None


def _scipy_blas_one_thread():
    """A context manager running SciPy's BLAS/LAPACK on the calling thread only.

    SciPy's wheels carry their own OpenBLAS, beside NumPy's: with more than one thread its
    workers keep spinning after each call and slow NumPy's products (by 1.6–1.9× over a whole
    epoch on 2 cores, docs/benchmarks.md).  The solves are small; one thread does them at
    the same speed as NumPy's LAPACK with two.  Without threadpoolctl or a separate SciPy
    pool: no limit."""
    pool = _scipy_blas_pool()
    return contextlib.nullcontext() if pool is None else pool.limit(limits=1)


def _solve_numpy(J, B, xp):
    sla = importlib.import_module("scipy.linalg")
    with _scipy_blas_one_thread():
        for level in (None, *_JITTER_LEVELS):
            A = J if level is None else _jitter(J, level, xp=xp)
            try:
                factor = sla.cho_factor(A, lower=True, overwrite_a=level is not None,
                                        check_finite=False)
            except sla.LinAlgError:
                continue
            if not _factor_ok(factor[0], xp=xp):  # OpenBLAS lets a NaN pivot through
                continue
            if level is not None:
                _report_jitter()
            return sla.cho_solve(factor, B, check_finite=False)
    _report_jitter()
    return _nan_like(B, xp=xp)


def _select_factor(J, xp, cholesky):
    """Accelerators: the factor of ``J`` where it succeeds, else of ``J`` jittered at 10³·n·eps
    (both factorized, the choice made with ``where`` on the device: an (n+1)³/3 factorization
    costs far less than a host synchronization), the failure counted on the device."""
    L = cholesky(J)
    ok = _factor_ok(L, xp=xp)
    Lj = cholesky(_jitter(J, _JITTER_LEVELS[1], xp=xp))
    _count_on_device(xp.logical_not(ok), str(_device(J)), xp=xp)
    return xp.where(ok, L, Lj)


def _solve_torch(J, B, xp):
    torch = importlib.import_module("torch")
    if J.device.type != "cpu":
        L = _select_factor(J, xp, lambda A: torch.linalg.cholesky_ex(A)[0])
        return torch.cholesky_solve(B, L)
    for level in (None, *_JITTER_LEVELS):
        A = J if level is None else _jitter(J, level, xp=xp)
        L, info = torch.linalg.cholesky_ex(A)
        if bool((info == 0) & _factor_ok(L, xp=xp)):  # a host read: free on the CPU
            if level is not None:
                _report_jitter()
            return torch.cholesky_solve(B, L)
    _report_jitter()
    return _nan_like(B, xp=xp)


def _solve_cupy(J, B, xp):
    importlib.import_module("cupy")
    csla = importlib.import_module("cupyx.scipy.linalg")
    # CuPy's cholesky does not raise by default (a failed factor holds NaN): no host read
    L = _select_factor(J, xp, xp.linalg.cholesky)
    Y = csla.solve_triangular(L, B, lower=True, check_finite=False)
    return csla.solve_triangular(L, Y, lower=True, trans="T", check_finite=False)


def _solve_jax(J, B, xp):
    # no host read: ``lax.cond`` on a device flag, jit-able; the jittered factorization runs
    # only where the first one failed, and the report is a host callback from that branch
    jax = importlib.import_module("jax")
    jsla = importlib.import_module("jax.scipy.linalg")

    def jittered(A):
        jax.debug.callback(_report_jitter)
        return jsla.cholesky(_jitter(A, _JITTER_LEVELS[0], xp=xp), lower=True)

    L = jsla.cholesky(J, lower=True)
    L = jax.lax.cond(_factor_ok(L, xp=xp), lambda A: L, jittered, J)
    return jsla.cho_solve((L, True), B)


def _solve_generic(J, B, xp):
    # the array API has ``cholesky`` but no triangular solve: a general (LU) solve, checked
    # once on the host (the namespaces that land here, such as array-api-strict, are host-side)
    for level in (None, *_JITTER_LEVELS):
        A = J if level is None else _jitter(J, level, xp=xp)
        try:
            X = xp.linalg.solve(A, B)
        except (ValueError, RuntimeError):  # a LinAlgError for an exactly singular matrix
            continue
        if bool(xp.all(xp.isfinite(X))):
            if level is not None:
                _report_jitter()
            return X
    _report_jitter()
    return _nan_like(B, xp=xp)


def _float64_or_none(J, *, xp):
    """``J`` in float64 if it is float32 and the namespace/device computes in float64 (not JAX
    without x64, not Apple MPS; :func:`nmfdnn._ops.wide_dtype`), else None."""
    if J.dtype != xp.float32 or wide_dtype(J, xp=xp) != xp.float64:
        return None
    return xp.astype(J, xp.float64)


@contextlib.contextmanager
def _known_to(dtype, *, xp):
    """Within it, a jitter is sized by ``dtype``'s precision (the data's), not by the dtype the
    system is factorized in (see ``_SOURCE_EPS``)."""
    token = _SOURCE_EPS.set(float(xp.finfo(dtype).eps))
    try:
        yield
    finally:
        _SOURCE_EPS.reset(token)


def spd_solve(J, B, *, xp):
    """``X = J⁻¹ B`` for a symmetric positive definite ``J`` by Cholesky, ``J = L Lᵀ``, and two
    triangular solves ``L Y = B``, ``Lᵀ X = Y`` (ALGORITHMS.md §1.4).

    One dispatch on the namespace, each backend imported by name only when its namespace is
    already in use: ``scipy.linalg`` (``cho_factor``/``cho_solve``, on one thread: see
    ``_scipy_blas_one_thread``) for NumPy,
    ``torch.linalg.cholesky_ex`` + ``torch.cholesky_solve`` for PyTorch,
    ``jax.scipy.linalg`` for JAX, ``cupy.linalg.cholesky`` + ``cupyx.scipy.linalg``'s
    triangular solves for CuPy, and the general ``xp.linalg.solve`` for any other namespace
    (array-api-strict).

    A float32 system is factorized and solved in float64 (the result is returned in float32):
    the ridge systems of the layer problems (``λ`` of 10⁻³–10⁻⁵ against Gram diagonals of the
    order of the mini-batch size) are not resolved by a float32 Cholesky factorization, whose
    errors then accumulate over mini-batches — on Fashion-MNIST the test error rose from epoch
    4 on (14.8 % after 10 epochs, 11.6 % in float64; docs/mnist.md).  The factorization is
    ``n³/3`` for the ``n × n`` system, small beside the Gram products with the mini-batch,
    which stay in the working dtype.  Such a system is known to float32's precision only (a
    Gram matrix of float32 products can be indefinite by its rounding): the jitter below is
    then sized by float32's ``eps``.  Namespaces or devices without float64 (JAX without x64,
    Apple MPS) factorize in float32.

    ``J`` is used as given.  Only where the factorization fails (a non-positive or non-finite
    pivot: ``J`` is not positive definite in working precision) is it repeated with a diagonal
    jitter ``c·n·eps·|J_ii|``, c = 10, 10³, 10⁵ in turn; each such event is counted
    (:func:`jitter_events`) and warned about (:class:`CholeskyJitterWarning`).  Where no
    jitter helps (NaN or inf in ``J``) the result is NaN.  On the CPU the failure is read on
    the host (free there); on a GPU (PyTorch CUDA, CuPy) both the plain and the 10³-jittered
    factorizations are computed and the valid one is selected on the device, the failures
    counted there and read by :func:`jitter_events` (no host synchronization inside a solve);
    under JAX the fallback is a ``lax.cond`` (one jitter level, no host read, jit-able).

    Parameters
    ----------
    J : array of shape (n, n)
        Symmetric positive definite.
    B : array of shape (n, k)
    xp : namespace

    Returns
    -------
    array of shape (n, k)
    """
    J64 = _float64_or_none(J, xp=xp)
    if J64 is not None:  # float32: factorize in float64, return float32
        # J is known to float32's precision only: a jitter, where needed, is float32-sized
        with _known_to(J.dtype, xp=xp):
            X = spd_solve(J64, xp.astype(B, xp.float64), xp=xp)
        return xp.astype(X, J.dtype)
    if array_api_compat.is_numpy_namespace(xp):
        return _solve_numpy(J, B, xp)
    if array_api_compat.is_torch_namespace(xp):
        return _solve_torch(J, B, xp)
    if array_api_compat.is_jax_namespace(xp):
        return _solve_jax(J, B, xp)
    if array_api_compat.is_cupy_namespace(xp):
        return _solve_cupy(J, B, xp)
    return _solve_generic(J, B, xp)


def ridge_solve_right(G, B, lam, *, xp):
    """``X = B (G + Λ)⁻¹`` for a symmetric positive semi-definite ``G`` (solves ``X (G+Λ) = B``).

    By Cholesky (:func:`spd_solve`): ``(G + Λ) Xᵀ = Bᵀ``.  Λ is exactly the λ given, in every
    dtype; a jitter is added only where the factorization fails.

    Parameters
    ----------
    G : array of shape (n, n)
        Gram matrix.
    B : array of shape (k, n)
    lam : float or array of shape (n,)
        Ridge weight(s) Λ = λI or diag(λ), > 0 for ``G + Λ`` to be positive definite.
    xp : namespace

    Returns
    -------
    array of shape (k, n)
    """
    return spd_solve(_add_diagonal(G, lam, xp=xp), B.T, xp=xp).T


def ridge_solve_left(G, B, lam, *, xp):
    """``X = (G + Λ)⁻¹ B`` for a symmetric positive semi-definite ``G`` (solves ``(G+Λ) X = B``).

    See :func:`ridge_solve_right`.

    Parameters
    ----------
    G : array of shape (n, n)
    B : array of shape (n, k)
    lam : float or array of shape (n,)
    xp : namespace

    Returns
    -------
    array of shape (n, k)
    """
    return spd_solve(_add_diagonal(G, lam, xp=xp), B, xp=xp)


def solve_gram_right(G, B, lam=0.0, rcond=None, *, dtype=None, xp):
    """``B (G + Λ)⁻¹`` for a ridge Λ = λI or diag(λ) (see :func:`ridge_solve_right`), ``B G⁺``
    for λ = 0 (see :func:`gram_pinv`).  ``G`` is a symmetric positive semi-definite Gram matrix.

    ``dtype``: the working dtype of the data when ``G`` and ``B`` were formed in a wider one
    (:func:`nmfdnn._ops.gram_cross_centered`, float64 for float32 data): the system is known to
    that dtype's precision, which sizes the jitter of a failed factorization and the default
    cut-off of the pseudo-inverse, and the result is returned in it.
    """
    if dtype is not None and dtype != G.dtype:
        if rcond is None and isinstance(lam, numbers.Real) and lam == 0:
            rcond = default_rcond(G.shape[0], dtype, xp=xp)
        with _known_to(dtype, xp=xp):
            X = solve_gram_right(G, B, lam, rcond, xp=xp)
        return xp.astype(X, dtype)
    if isinstance(lam, numbers.Real) and lam == 0:
        return B @ gram_pinv(G, rcond=rcond, xp=xp)
    return ridge_solve_right(G, B, lam, xp=xp)


def lstsq_right(B, A, *, lam=0.0, rcond=None, xp):
    """``X = argmin ‖X A − B‖² + λ‖X‖²`` for a wide ``A`` (p × m, m samples).

    ``X = B Aᵀ (A Aᵀ + λI)⁻¹``, or ``B A†`` = ``B Aᵀ (A Aᵀ)⁺`` for λ = 0.

    Parameters
    ----------
    B : array of shape (k, m)
    A : array of shape (p, m)
    lam : float or array of shape (p,), default=0.0
    rcond : float, optional
        Cut-off for λ = 0 (see :func:`gram_pinv`).
    xp : namespace

    Returns
    -------
    array of shape (k, p)
    """
    return solve_gram_right(A @ A.T, B @ A.T, lam, rcond, xp=xp)


def lstsq_left(U, R, *, lam=0.0, rcond=None, xp):
    """``X = argmin ‖U X − R‖² + λ‖X‖²`` through the smaller Gram matrix of ``U``.

    ``X = (UᵀU + λI)⁻¹ UᵀR`` when ``U`` is tall, ``Uᵀ (UUᵀ + λI)⁻¹ R`` when it is wide (the two
    are equal); for λ = 0 both are ``U† R``.

    Parameters
    ----------
    U : array of shape (n, p)
    R : array of shape (n, m)
    lam : float, default=0.0
    rcond : float, optional
    xp : namespace

    Returns
    -------
    array of shape (p, m)
    """
    n, p = U.shape
    m = R.shape[1]
    if max(n, p) < m:
        # many right-hand sides (a mini-batch): form the (p × n) operator once, with a solve
        # whose size does not depend on m, then apply it in one GEMM — the solve with m
        # right-hand sides runs far below GEMM speed (≈ 20 % of a NumPy epoch on MNIST)
        if n >= p:  # tall: M = (UᵀU + λI)⁻¹ Uᵀ = [U (UᵀU + λI)⁻¹]ᵀ
            M = solve_gram_right(U.T @ U, U, lam, rcond, xp=xp).T
        else:  # wide: M = Uᵀ (UUᵀ + λI)⁻¹
            M = solve_gram_right(U @ U.T, U.T, lam, rcond, xp=xp)
        return M @ R
    if n >= p:  # tall: (UᵀU + λI) is p × p
        return solve_gram_right(U.T @ U, (U.T @ R).T, lam, rcond, xp=xp).T
    return U.T @ solve_gram_right(U @ U.T, R.T, lam, rcond, xp=xp).T
