"""Shared plumbing of the scikit-learn style estimators: the backend chosen once at ``fit``.

- :func:`resolve_fit_backend` — namespace, device and dtype from ``backend=``, ``device=``,
  ``dtype=`` or, when they are ``None``, from ``X`` itself (arrays keep their namespace).
- :func:`to_backend` — validate an input (2-D, finite, optionally non-negative) and move it
  there once (host data are cast on the host first).
- :func:`convert` — the conversion itself, non-numeric data refused naming the argument.
- :func:`prepare_masked` — the same for ``X`` with an optional entry or sample mask.
- :func:`like_input` — return a result in the namespace of the caller's input.
- :func:`check_same_namespace` — refuse, after ``fit``, arrays of another library or device.
- :data:`COMMON_CONSTRAINTS` — the rows of scikit-learn's ``_parameter_constraints`` table that
  every estimator of the NMF family shares (backend, device, dtype, seed, verbosity).
"""

from __future__ import annotations

import math

import array_api_compat
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import (
    asarray,
    device_of,
    get_namespace,
    namespace_name,
    resolve_device,
    resolve_dtype,
    resolve_namespace,
)
from nmfdnn._host import check_host_input, numpy_dtype_name, to_host, to_numpy
from nmfdnn._sparse import as_sparse_operand, is_sparse
from nmfdnn._validation import check_matrix, check_positive_int
from nmfdnn.distributed import as_communicator, collective_errors

__all__ = ["COMMON_CONSTRAINTS", "resolve_fit_backend", "to_backend", "convert",
           "prepare_masked", "like_input", "fitted_backend", "check_n_features",
           "check_same_namespace", "is_array", "check_ranks", "check_2d", "sparse_operand",
           "resolve_backend_of", "fitted_backend_of", "begin_factorization_fit",
           "end_factorization_fit", "transform_operand"]

#: Constraints (scikit-learn's ``_parameter_constraints`` format) of the parameters every
#: estimator of the NMF family shares.  ``device`` and ``dtype`` are checked against the chosen
#: backend by :func:`resolve_fit_backend`, which knows the backend's devices and dtypes.
COMMON_CONSTRAINTS: dict = {
    "backend": [None, str, HasMethods(["asarray"])],
    "device": "no_validation",
    "dtype": "no_validation",
    "random_state": ["random_state", HasMethods(["permutation", "integers"])],
    "verbose": ["verbose"],
}


def is_array(x):
    """True for an array of any array-API library (NumPy included)."""
    return array_api_compat.is_array_api_obj(x)


def resolve_fit_backend(X, *, backend=None, device=None, dtype=None, default_dtype="float32"):
    """Namespace, device and dtype an estimator computes in.

    Parameters
    ----------
    X : array-like
        Training input. An array of a namespace decides the backend when ``backend`` is None.
    backend : str, namespace or None
    device : str, device object or None
        ``None``: the device of ``X`` if it is an array of the chosen namespace, else the
        backend's default device.
    dtype : str, dtype or None
        ``None``: ``X``'s real floating dtype if it has one, else ``default_dtype``.
    default_dtype : str, default="float32"

    Returns
    -------
    xp, device, dtype
    """
    xp = resolve_namespace(backend, X)
    same_ns = is_array(X) and array_api_compat.array_namespace(X) is xp
    if device is None and same_ns:
        device = device_of(X)
    else:
        device = resolve_device(xp, device)
    if dtype is None:
        if same_ns and X.dtype in (xp.float32, xp.float64):
            dtype = X.dtype
        else:
            dtype = resolve_dtype(xp, None, default=default_dtype)
    else:
        dtype = resolve_dtype(xp, dtype)
    return xp, device, dtype


def to_backend(X, *, xp, device, dtype, name="X", ndim=2, nonnegative=False):
    """Validate ``X`` and return it as an array of ``xp`` on ``device`` with ``dtype``.

    Raises
    ------
    ValueError
        Wrong number of dimensions (e.g. a 1-D ``X``), empty, NaN/Inf, negative entries when
        ``nonnegative``.
    """
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) != ndim:
        hint = " (reshape a single feature with X.reshape(-1, 1))" if len(shape) == 1 else ""
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(shape)}{hint}")
    A = convert(X, xp=xp, device=device, dtype=dtype, name=name)
    check_matrix(A, name, xp=xp, nonnegative=nonnegative, ndim=ndim)
    return A


def convert(X, *, xp, device, dtype, name="X"):
    """:func:`nmfdnn._array_api.asarray` with the failures of non-numeric data (strings,
    objects, ragged lists, complex values) as a TypeError/ValueError naming ``name``."""
    check_host_input(X, name)
    try:
        return asarray(X, xp=xp, device=device, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be real numeric data convertible to {dtype} "
                        f"({type(exc).__name__}: {exc})") from None


def check_same_namespace(X, fitted, estimator, name="X"):
    """Refuse an array of another library or device than the fitted model's arrays.

    The rule (scikit-learn's array-API mode, plus one convenience): after ``fit``, inputs must
    be arrays of the fitted namespace on the fitted device — the computation then stays
    there — or host data (NumPy arrays, lists), which are converted once and whose results
    come back as NumPy.  An array of another library (a torch tensor for a NumPy model, a
    NumPy-backed array-api-strict array for a torch model, …) or on another device is never
    moved silently: convert it explicitly (e.g. ``torch.asarray(x, device=...)``), or refit
    or reload the model there (``nmfdnn.load_model(path, backend=..., device=...)``).

    Parameters
    ----------
    X : array-like
    fitted : array
        A fitted array of the model (its namespace and device are the reference).
    estimator : str
        Name used in the message.
    name : str, default="X"

    Raises
    ------
    ValueError
        If ``X`` is an array of another namespace or device.
    """
    if not is_array(X) or array_api_compat.is_numpy_array(X):
        return  # host data: converted once, results come back as NumPy
    xp_fit = array_api_compat.array_namespace(fitted)
    xp_in = array_api_compat.array_namespace(X)
    dev_fit, dev_in = device_of(fitted), device_of(X)
    if xp_in is not xp_fit or str(dev_in) != str(dev_fit):
        raise ValueError(
            f"{name} is an array of {xp_in.__name__} on device {dev_in}, but this {estimator} "
            f"was fitted with {xp_fit.__name__} on device {dev_fit}: inputs must use the "
            "fitted namespace and device (or be host NumPy/list data). Convert explicitly, "
            "or reload the model there with nmfdnn.load_model(path, backend=..., device=...)"
        )


def prepare_masked(X, mask, *, xp, device, dtype, nonnegative):
    """``X`` and an entry mask as arrays of ``xp``; masked entries of ``X`` are set to 0.

    The one check of ``X`` (and of ``mask``) of a ``fit``: the solvers called afterwards get
    ``check_input=False``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data; entries where the mask is 0 may hold NaN (missing values).
    mask : array-like of shape (n_samples, n_features) or (n_samples,), or None
        Entry weights, or sample weights broadcast along the features; ``≥ 0``.
    xp : namespace
    device : device
    dtype : dtype
    nonnegative : bool
        Require the observed entries of ``X`` to be ``≥ 0``.

    Returns
    -------
    X : array of shape (n_samples, n_features)
        Zero where the mask is 0.
    mask : array of shape (n_samples, n_features) or None

    Raises
    ------
    TypeError
        If ``X`` or ``mask`` is not real numeric data.
    ValueError
        If ``X`` is not 2-D, the mask has another shape, or an observed entry is not finite
        (or negative when ``nonnegative``).
    """
    if mask is None:
        return to_backend(X, xp=xp, device=device, dtype=dtype, nonnegative=nonnegative), None
    Xa = convert(X, xp=xp, device=device, dtype=dtype, name="X")
    M = convert(mask, xp=xp, device=device, dtype=dtype, name="mask")
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


def fitted_backend(arr):
    """Namespace, device and dtype of a fitted attribute (where ``transform`` computes).

    Parameters
    ----------
    arr : array
        A fitted array attribute, e.g. ``components_``.

    Returns
    -------
    xp : namespace
    device : device
    dtype : dtype
    """
    return array_api_compat.array_namespace(arr), array_api_compat.device(arr), arr.dtype


def check_n_features(est, X):
    """Refuse ``X`` whose number of features differs from the one seen in ``fit``.

    Parameters
    ----------
    est : estimator
        Fitted, with ``n_features_in_``.
    X : array of shape (n_samples, n_features)

    Raises
    ------
    ValueError
        If ``X.shape[1] != est.n_features_in_``.
    """
    if X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(est).__name__} was fitted with "
            f"{est.n_features_in_}"
        )


def like_input(result, X_input):
    """``result`` converted to the namespace (and device) of ``X_input``; host NumPy for lists."""
    if is_array(X_input):
        xp_in = get_namespace(X_input)
        if array_api_compat.array_namespace(result) is xp_in:
            return result
        return xp_in.asarray(to_numpy(result), device=device_of(X_input))
    return to_numpy(result)


def check_ranks(n_components):
    """Layer ranks from ``n_components``: an int (one layer) or a non-empty sequence of ints."""
    r = n_components
    ranks = list(r) if isinstance(r, (tuple, list)) else [r]
    if not ranks:
        raise ValueError("n_components must be an int or a non-empty tuple of ints")
    return [check_positive_int(k, "n_components") for k in ranks]


def check_2d(X, name):
    """Sparse/complex refused; 1-D and empty inputs get scikit-learn's wording.

    Parameters
    ----------
    X : array-like
    name : str
        Name used in error messages.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or has no sample or no feature.
    """
    check_host_input(X, name)
    shape = getattr(X, "shape", None)
    if shape is None:
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


def sparse_operand(X, *, xp, dtype, nonnegative, est, mask=None):
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


def resolve_backend_of(est, X):
    """:func:`resolve_fit_backend` for dense or sparse ``X`` (sparse: NumPy by default, its
    floating dtype kept when ``dtype=None``)."""
    if not is_sparse(X):
        return resolve_fit_backend(X, backend=est.backend, device=est.device, dtype=est.dtype)
    dtype = est.dtype
    if dtype is None and X.dtype.kind == "f":
        dtype = str(X.dtype)
    return resolve_fit_backend(None, backend=est.backend, device=est.device, dtype=dtype)


def fitted_backend_of(est, X, name="X"):
    """Namespace, device and dtype of the fitted ``components_``; ``X`` must be host data,
    sparse, or an array of that namespace and device (:func:`check_same_namespace`)."""
    check_is_fitted(est, "components_")
    if not is_sparse(X):
        check_same_namespace(X, est.components_, type(est).__name__, name=name)
    return fitted_backend(est.components_)


def begin_factorization_fit(est, X, comm, *, nonnegative, mask=None):
    """The start of ``fit`` of ``NMF`` and ``SemiNMF``: parameters, backend and the one check
    of ``X`` (dense, or ``scipy.sparse`` on NumPy), collective over MPI ranks.

    Parameters
    ----------
    est : NMF or SemiNMF
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
    comm : None, mpi4py communicator or Communicator
        Data-parallel fit: invalid input on one rank raises the same error on every rank, and
        every rank must have the same number of features.
    nonnegative : bool
        Require ``X ≥ 0``.
    mask : array-like, optional
        Entry (or sample) weights of ``X`` (dense ``X`` only).

    Returns
    -------
    comm : Communicator or None
    partition : Partition or None
        This rank's global sample numbers (with ``comm``).
    sparse : bool
    xp, device, dtype
        Where the fit computes.
    A : array or sparse operand of shape (n_features, n_samples)
        ``Xᵀ`` (data as columns).
    mask : array of shape (n_features, n_samples) or None
        The mask as columns.
    """
    comm = as_communicator(comm)
    with collective_errors(comm):  # invalid input on one rank: the same error on all
        est._validate_params()
        sparse = is_sparse(X)
        if sparse and comm is not None:
            raise ValueError("sparse X is not supported with comm= (data-parallel MPI); pass "
                             "a dense X")
        xp, dev, dt = resolve_backend_of(est, X)
        if sparse:
            A = sparse_operand(X, xp=xp, dtype=dt, nonnegative=nonnegative, est=est, mask=mask)
            M = None
        else:
            Xa, M = prepare_masked(X, mask, xp=xp, device=dev, dtype=dt,
                                   nonnegative=nonnegative)
            A = Xa.T
    widths = [A.shape[0]] if comm is None else comm.allgather(A.shape[0])
    with collective_errors(comm):
        if len(set(widths)) > 1:
            raise ValueError(f"X has a different number of features on each rank: {widths} "
                             "(rank order)")
    partition = None if comm is None else comm.partition(A.shape[1])
    return comm, partition, sparse, xp, dev, dt, A, None if M is None else M.T


def end_factorization_fit(est, objective, n_iter, latent, X, *, sparse):
    """The end of ``fit`` of ``NMF`` and ``SemiNMF``: ``reconstruction_err_`` from the final
    objective (``√(2·objective)``; the fit's one host synchronization), the verbose line, and
    the latent returned in the caller's namespace.

    Parameters
    ----------
    est : NMF or SemiNMF
    objective : 0-d array or float
        ``½‖X − fit‖²`` at the end (a sparse objective may round to a tiny negative).
    n_iter : int
    latent : array of shape (n_samples, n_components)
    X : array-like
        The input of ``fit`` (decides the namespace of the result).
    sparse : bool
        ``X`` was ``scipy.sparse`` (the latent is then returned as NumPy).

    Returns
    -------
    array of shape (n_samples, n_components)
    """
    est.reconstruction_err_ = math.sqrt(max(2.0 * float(objective), 0.0))
    if est.verbose:
        print(f"{type(est).__name__}: {n_iter} iterations, reconstruction error "
              f"{est.reconstruction_err_:.6g}")
    return like_input(latent, None if sparse else X)


def transform_operand(est, X, *, nonnegative, mask=None):
    """The input of ``transform`` of a fitted ``NMF``/``SemiNMF``: ``X`` in the fitted
    namespace, device and dtype (or a ``scipy.sparse`` operand on NumPy), checked once,
    with the number of features of ``fit``.

    Parameters
    ----------
    est : NMF or SemiNMF
        Fitted.
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
    nonnegative : bool
        Require ``X ≥ 0``.
    mask : array-like, optional
        Entry (or sample) weights of ``X`` (dense ``X`` only).

    Returns
    -------
    xp, device, dtype
        The fitted namespace, device and dtype.
    sparse : bool
    A : array or sparse operand of shape (n_features, n_samples)
        ``Xᵀ`` (data as columns).
    mask : array of shape (n_features, n_samples) or None
        The mask as columns.
    """
    xp, dev, dt = fitted_backend_of(est, X)
    if is_sparse(X):
        A = sparse_operand(X, xp=xp, dtype=dt, nonnegative=nonnegative, est=est, mask=mask)
        check_n_features(est, A.T)
        return xp, dev, dt, True, A, None
    Xa, M = prepare_masked(X, mask, xp=xp, device=dev, dtype=dt, nonnegative=nonnegative)
    check_n_features(est, Xa)
    return xp, dev, dt, False, Xa.T, None if M is None else M.T
