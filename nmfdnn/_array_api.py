"""Array namespace, device and dtype resolution (the backend layer).

Every algorithm in nmfdnn is written once against the Python array API standard.  This module
is the only place that knows backends by name: it turns ``backend="torch"`` (or a namespace
object, or the arrays themselves) into an array-api-compat namespace, resolves ``device`` and
``dtype`` for it, and moves host data there once.

Backends are imported lazily, by name, so that none of them is a hard dependency.
"""

from __future__ import annotations

import importlib

import array_api_compat

from nmfdnn._host import numpy_dtype_name, to_host, to_numpy

__all__ = [
    "BACKENDS",
    "available_backends",
    "gpu_available",
    "get_namespace",
    "namespace_from_name",
    "resolve_namespace",
    "resolve_device",
    "resolve_dtype",
    "float_dtype",
    "device_of",
    "asarray",
    "namespace_name",
    "sync",
    "maybe_jit",
]

#: Backend names accepted by ``backend=``, mapped to the module that provides the arrays.
BACKENDS = {
    "numpy": "numpy",
    "cupy": "cupy",
    "torch": "torch",
    "jax": "jax.numpy",
    "array_api_strict": "array_api_strict",
}

_ALIASES = {
    "np": "numpy",
    "pytorch": "torch",
    "jax.numpy": "jax",
    "jnp": "jax",
    "array-api-strict": "array_api_strict",
    "strict": "array_api_strict",
}

_INSTALL_HINT = {
    "numpy": "pip install numpy",
    "cupy": "pip install 'nmfdnn[cupy]'  (needs a CUDA GPU)",
    "torch": "pip install 'nmfdnn[torch]'",
    "jax": "pip install 'nmfdnn[jax]'",
    "array_api_strict": "pip install array-api-strict  (part of 'nmfdnn[test]')",
}


class BackendError(ValueError):
    """An unknown, missing or inconsistent array backend, device or dtype."""


def available_backends():
    """Names of the backends that can be imported here.

    Returns
    -------
    list of str
        Subset of ``BACKENDS`` keys, in their canonical order.
    """
    names = []
    for name, module in BACKENDS.items():
        try:
            importlib.import_module(module)
        except Exception:  # ImportError, or a broken CUDA install raising at import
            continue
        names.append(name)
    return names


def gpu_available(name):
    """Whether a backend is installed and sees a GPU; never raises.

    Parameters
    ----------
    name : str
        ``"torch"``, ``"cupy"`` or ``"jax"`` (a ``":cuda"`` suffix is ignored); any other
        name gives False.

    Returns
    -------
    bool
    """
    lib = name.split(":")[0]
    try:
        if lib == "torch":
            import torch

            return bool(torch.cuda.is_available())
        if lib == "cupy":
            import cupy

            return cupy.cuda.runtime.getDeviceCount() > 0
        if lib == "jax":
            import jax

            return bool(jax.devices("gpu"))
    except Exception:  # not installed, no driver, no GPU platform
        return False
    return False


def _canonical_name(name):
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in BACKENDS:
        raise BackendError(
            f"unknown backend {name!r}; known backends are {sorted(BACKENDS)}, "
            f"installed here: {available_backends()}"
        )
    return key


def namespace_from_name(name):
    """The array-api-compat namespace of a backend given by name.

    Parameters
    ----------
    name : str
        One of ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``, ``"array_api_strict"``
        (aliases such as ``"jax.numpy"`` or ``"pytorch"`` are accepted).

    Returns
    -------
    namespace
        A namespace complying with the array API standard.

    Raises
    ------
    BackendError
        If the name is unknown or the backend is not installed.
    """
    key = _canonical_name(name)
    try:
        module = importlib.import_module(BACKENDS[key])
    except Exception as exc:
        raise BackendError(
            f"backend {key!r} is not installed ({type(exc).__name__}: {exc}); install it with "
            f"`{_INSTALL_HINT[key]}`. Installed here: {available_backends()}"
        ) from exc
    if key == "jax":
        # float64 must be available when asked for; JAX defaults to 32-bit only.
        import jax

        jax.config.update("jax_enable_x64", True)
    return array_api_compat.array_namespace(module.empty(0))


def namespace_name(xp):
    """Canonical backend name (a key of ``BACKENDS``) of a namespace."""
    if array_api_compat.is_numpy_namespace(xp):
        return "numpy"
    if array_api_compat.is_cupy_namespace(xp):
        return "cupy"
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_jax_namespace(xp):
        return "jax"
    if array_api_compat.is_array_api_strict_namespace(xp):
        return "array_api_strict"
    return getattr(xp, "__name__", repr(xp))


def get_namespace(*arrays, xp=None):
    """Namespace of the given arrays (``None`` entries are skipped).

    Parameters
    ----------
    *arrays : arrays or None
        Inputs of one array library.
    xp : namespace, optional
        If given, returned as is (no inspection).

    Returns
    -------
    namespace
        array-api-compat namespace.

    Raises
    ------
    BackendError
        If the arrays come from different libraries, or none is an array.
    """
    if xp is not None:
        return xp
    arrays = [a for a in arrays if a is not None]
    if not arrays:
        raise BackendError("cannot infer the array namespace: no array was given")
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        kinds = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in arrays})
        raise BackendError(
            f"arrays from different libraries were mixed ({', '.join(kinds)}); convert them to one "
            "backend first, e.g. with backend=... on the estimator"
        ) from exc


def resolve_namespace(backend=None, *arrays):
    """Namespace from an explicit ``backend`` or, if it is ``None``, from the inputs.

    Parameters
    ----------
    backend : str, namespace or None
        A backend name (see ``BACKENDS``), a namespace/module (``numpy``, ``torch``,
        ``array_api_compat.torch``, ...), or ``None`` to infer from ``arrays``.
    *arrays : arrays, lists or None
        Inputs. Non-array inputs (lists, scalars) count as NumPy.

    Returns
    -------
    namespace
    """
    if backend is None:
        real = [a for a in arrays if a is not None and _is_array(a)]
        if not real:
            return namespace_from_name("numpy")
        return get_namespace(*real)
    if isinstance(backend, str):
        return namespace_from_name(backend)
    if hasattr(backend, "asarray") and hasattr(backend, "empty"):
        try:
            return array_api_compat.array_namespace(backend.empty(0))
        except TypeError as exc:
            raise BackendError(f"{backend!r} is not an array API namespace") from exc
    raise BackendError(
        f"backend must be a name ({sorted(BACKENDS)}), a namespace or None, got {backend!r}"
    )


def _is_array(x):
    return array_api_compat.is_array_api_obj(x)


def _default_device(xp):
    dev = xp.__array_namespace_info__().default_device()
    if dev is None:  # e.g. JAX: "the default", made concrete by where a new array lands
        dev = array_api_compat.device(xp.empty(0))
    return dev


def resolve_device(xp, device=None):
    """A device object of namespace ``xp``.

    Parameters
    ----------
    xp : namespace
    device : str, device object or None
        ``None`` is the backend's default device.  Strings: ``"cpu"``, ``"cuda"``/``"gpu"``,
        ``"cuda:1"``; for array-api-strict also its device names (``"CPU_DEVICE"``).

    Returns
    -------
    device object

    Raises
    ------
    BackendError
        If the device is unknown to the backend or not present on this machine.
    """
    name = namespace_name(xp)
    if device is None:
        return _default_device(xp)
    if not isinstance(device, str):
        return device
    spec = device.strip().lower()
    kind, _, index = spec.partition(":")
    if kind == "gpu":
        kind = "cuda"
    if index and not index.isdigit():
        raise BackendError(f"bad device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    idx = int(index) if index else 0
    if name == "numpy":
        if kind != "cpu":
            raise BackendError(
                f"device {device!r} is not available for numpy (CPU only); use backend='cupy' "
                "or backend='torch' for a GPU"
            )
        return "cpu"
    if name == "torch":
        import torch

        if kind == "cpu":
            return torch.device("cpu")
        if kind == "cuda":
            if not torch.cuda.is_available() or idx >= torch.cuda.device_count():
                raise BackendError(
                    f"device {device!r} requested but torch sees {torch.cuda.device_count()} "
                    "CUDA device(s) (is a CUDA build of PyTorch installed?)"
                )
            return torch.device("cuda", idx)
    elif name == "cupy":
        import cupy

        if kind == "cuda":
            n = cupy.cuda.runtime.getDeviceCount()
            if idx >= n:
                raise BackendError(f"device {device!r} requested but CuPy sees {n} GPU(s)")
            return cupy.cuda.Device(idx)
    elif name == "jax":
        import jax

        platform = {"cuda": "gpu"}.get(kind, kind)
        try:
            devices = jax.devices(platform)
        except RuntimeError as exc:
            raise BackendError(f"device {device!r} is not available for JAX: {exc}") from exc
        if idx >= len(devices):
            raise BackendError(f"device {device!r} requested but JAX sees {len(devices)}")
        return devices[idx]
    elif name == "array_api_strict":
        devices = xp.__array_namespace_info__().devices()
        if kind == "cpu":
            return _default_device(xp)
        for dev in devices:
            if str(getattr(dev, "_device", dev)).lower() == spec:
                return dev
        raise BackendError(
            f"device {device!r} unknown to array_api_strict; available: {list(devices)}"
        )
    raise BackendError(f"device {device!r} is not available for backend {name!r}")


def resolve_dtype(xp, dtype=None, *, default="float32"):
    """A real floating dtype of namespace ``xp``.

    Parameters
    ----------
    xp : namespace
    dtype : str, dtype or None
        ``"float32"``, ``"float64"``, a dtype object of ``xp`` (or NumPy's), or ``None`` for
        ``default``.
    default : str, default="float32"

    Returns
    -------
    dtype of ``xp``
    """
    if dtype is None:
        dtype = default
    if not isinstance(dtype, str):
        # a dtype object of any library: go through its name (no cross-library comparison)
        text = f"{getattr(dtype, 'name', '')} {dtype}"
        dtype = next((n for n in ("float32", "float64") if n in text), str(dtype))
    key = dtype.strip().lower()
    if key in ("float32", "single", "f4"):
        return xp.float32
    if key in ("float64", "double", "f8"):
        return xp.float64
    raise BackendError(f"dtype must be 'float32' or 'float64', got {dtype!r}")


def float_dtype(x, xp):
    """The floating dtype to compute ``x`` in: its own if real floating, else the default float.

    Integer and boolean inputs go to the namespace's default real floating dtype, as
    scikit-learn's ``_find_matching_floating_dtype`` does.
    """
    if x.dtype in (xp.float32, xp.float64):
        return x.dtype
    if xp.isdtype(x.dtype, ("integral", "bool")):
        return xp.__array_namespace_info__().default_dtypes()["real floating"]
    raise TypeError(f"expected real numbers, got dtype {x.dtype}")


def device_of(*arrays):
    """The common device of arrays; raises if they live on different devices."""
    devices = []
    for a in arrays:
        if a is None:
            continue
        d = array_api_compat.device(a)
        if all(d != e for e in devices):
            devices.append(d)
    if len(devices) > 1:
        raise BackendError(f"arrays live on different devices: {devices}")
    return devices[0] if devices else None


def asarray(x, *, xp, device=None, dtype=None):
    """Move ``x`` (host data or an array of ``xp``) to ``xp`` on ``device`` as ``dtype``, once.

    A host NumPy array is cast on the host first, then transferred in one copy.
    """
    if _is_array(x) and array_api_compat.array_namespace(x) is not xp:
        x = to_numpy(x)
    if not _is_array(x):
        x = to_host(x, dtype=numpy_dtype_name(dtype) if dtype is not None else None)
    return xp.asarray(x, dtype=dtype, device=device)


def sync(*arrays):
    """Block until device work producing ``arrays`` is finished (for timings).

    Parameters
    ----------
    *arrays : arrays or None
        Arrays of any backend (None is skipped). NumPy and array-api-strict arrays are ready
        already; torch (CUDA), CuPy and JAX arrays are waited for.

    Returns
    -------
    array or tuple of arrays
        The arguments (a single one unwrapped), so that ``sync`` can wrap a call.
    """
    for a in arrays:
        if a is None:
            continue
        if array_api_compat.is_torch_array(a):
            import torch

            if a.is_cuda:
                torch.cuda.synchronize(a.device)
        elif array_api_compat.is_cupy_array(a):
            import cupy

            cupy.cuda.get_current_stream().synchronize()
        elif array_api_compat.is_jax_array(a):
            a.block_until_ready()
    return arrays[0] if len(arrays) == 1 else arrays


def maybe_jit(fn, xp):
    """``jax.jit(fn)`` when ``xp`` is JAX, ``fn`` itself otherwise.

    For pure functions of arrays with static shapes (the mini-batch steps of the trainers).  JAX
    is imported by name, only when its namespace is already in use.
    """
    if array_api_compat.is_jax_namespace(xp):
        return importlib.import_module("jax").jit(fn)
    return fn
