"""The backend layer: names, devices, dtypes, clear errors, seeded host draws, purity."""

import ast
import pathlib

import numpy as np
import pytest

import nmfdnn
from nmfdnn import (
    BackendError,
    available_backends,
    get_namespace,
    namespace_from_name,
    resolve_device,
    resolve_dtype,
    resolve_namespace,
)
from nmfdnn._array_api import asarray, namespace_name
from nmfdnn._host import check_random_state, random_normal
from nmfdnn.testing import assert_close, assert_equal

PACKAGE = pathlib.Path(nmfdnn.__file__).parent
HOST_MODULES = {"_host.py", "_testing.py", "_io.py", "evaluation.py", "cli.py", "__main__.py",
                "distributed.py", "_checkpoint.py", "_sparse.py"}
HOST_PACKAGES = {"datasets"}


def test_every_installed_backend_resolves_by_name():
    for name in available_backends():
        xp = namespace_from_name(name)
        assert namespace_name(xp) == name
        x = xp.ones((2, 3), dtype=resolve_dtype(xp, "float32"))
        assert get_namespace(x) is xp
        assert resolve_namespace(name) is xp


def test_unknown_backend_names_the_choices():
    with pytest.raises(BackendError, match="unknown backend 'tensorflow'.*numpy"):
        resolve_namespace("tensorflow")


def test_missing_backend_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(BackendError, match=r"not installed.*nmfdnn\[cupy\]"):
        namespace_from_name("cupy")


def test_mixed_namespaces_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(BackendError, match="different libraries"):
        get_namespace(np.ones(3), torch.ones(3))


def test_namespace_inferred_from_inputs_and_override():
    torch = pytest.importorskip("torch")
    assert namespace_name(resolve_namespace(None, torch.ones(2))) == "torch"
    assert namespace_name(resolve_namespace(None, [1.0, 2.0])) == "numpy"
    assert namespace_name(resolve_namespace(torch)) == "torch"  # a module object
    assert namespace_name(resolve_namespace("numpy", torch.ones(2))) == "numpy"
    with pytest.raises(BackendError, match="backend must be"):
        resolve_namespace(3.5)


def test_devices():
    xp = namespace_from_name("numpy")
    assert resolve_device(xp, "cpu") == "cpu"
    with pytest.raises(BackendError, match="numpy.*CPU only"):
        resolve_device(xp, "cuda")
    with pytest.raises(BackendError, match="bad device"):
        resolve_device(xp, "cuda:x")
    strict = namespace_from_name("array_api_strict")
    assert resolve_device(strict, "cpu") == strict.__array_namespace_info__().default_device()
    with pytest.raises(BackendError, match="unknown to array_api_strict"):
        resolve_device(strict, "tpu")


def test_torch_cuda_absent_is_a_clear_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(BackendError, match="CUDA device"):
        resolve_device(namespace_from_name("torch"), "cuda")


def test_dtypes(xp):
    assert resolve_dtype(xp, None) == xp.float32  # float32 is the default
    assert resolve_dtype(xp, "float64") == xp.float64
    assert resolve_dtype(xp, np.float64) == xp.float64
    with pytest.raises(BackendError, match="float32"):
        resolve_dtype(xp, "int8")


def test_asarray_moves_host_data_once_with_dtype(xp, device, dtype):
    host = np.arange(6, dtype=np.float64).reshape(2, 3)
    a = asarray(host, xp=xp, device=device, dtype=dtype)
    assert_equal(a, host, xp=xp, device=device, dtype=dtype)


def test_seeded_host_draws_are_identical_on_every_backend(xp, device, dtype):
    name = "float32" if dtype == xp.float32 else "float64"
    a = random_normal((3, 4), rng=check_random_state(7), scale=0.5, xp=xp, device=device,
                      dtype=dtype)
    ref = (np.random.default_rng(7).standard_normal((3, 4)) * 0.5).astype(name)
    assert_equal(a, ref, xp=xp, device=device, dtype=dtype)


def test_random_state_forms():
    g = np.random.default_rng(3)
    assert check_random_state(g) is g
    assert isinstance(check_random_state(None), np.random.Generator)
    a = check_random_state(5).random(3)
    assert_equal(a, np.random.default_rng(5).random(3))
    with pytest.raises(ValueError, match="random_state"):
        check_random_state("seed")


def _algorithm_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name in HOST_MODULES or rel.parts[0] in HOST_PACKAGES:
            continue
        yield path


def test_no_backend_imported_directly_in_algorithm_modules():
    """Backend purity: only the host-side modules may import numpy/cupy/torch/jax."""
    banned = {"numpy", "cupy", "torch", "jax", "scipy"}
    offenders = []
    for path in _algorithm_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                if n.split(".")[0] in banned:
                    # _array_api may import a backend lazily to resolve a device by name
                    if path.name == "_array_api.py" and isinstance(node, ast.Import):
                        continue
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {n}")
    assert not offenders, offenders


class _NoSquare(np.ndarray):
    """ndarray that fails as soon as an array with two axes of length ≥ m is created."""

    m = None

    def __array_finalize__(self, obj):
        if self.ndim == 2 and _NoSquare.m is not None and min(self.shape) >= _NoSquare.m:
            raise AssertionError(f"an {self.shape} array was formed (m = {_NoSquare.m})")


def test_no_m_by_m_matrix_in_any_solver(rng):
    """Every step function on m = 400 samples with few features never forms an m × m array."""
    from nmfdnn.factorizations import (
        lowrank_approximation,
        nmf_step,
        nonlinear_lstsq_weights_step,
        nonlinear_semi_nmf_step,
        nonneg_nonlinear_lstsq_targets_step,
        reduced_first_layer_step,
        semi_nmf_step,
    )

    m = 400
    xp = namespace_from_name("numpy")

    def g(a):
        return np.asarray(a).view(_NoSquare)

    A = g(rng.random((6, m)))
    V = g(rng.random((5, m)))
    U = g(rng.standard_normal((6, 6)))
    _NoSquare.m = m
    try:
        semi_nmf_step(A, U, V, lam_u=0.1, xp=xp)
        semi_nmf_step(A, U[:, :5], V, xp=xp)
        nonlinear_semi_nmf_step(A, U, V, lam_u=0.1, lam_v=0.1, xp=xp)
        nonlinear_semi_nmf_step(A, U[:, :5], V, xp=xp)
        nonlinear_lstsq_weights_step(A, U[:, :5], V, xp=xp)
        nonneg_nonlinear_lstsq_targets_step(A, U[:, :5], V, xp=xp)
        nmf_step(A, g(rng.random((6, 3))), g(rng.random((3, m))), xp=xp)
        lr = lowrank_approximation(A, tau=1e-3, xp=xp)
        reduced_first_layer_step(V, g(rng.standard_normal((5, 7))), lr, lam_w=0.1, xp=xp)
    finally:
        _NoSquare.m = None


def test_tier1_steps_run_under_jax_jit(rng):
    """Step functions have no value-dependent Python branches: they trace under jax.jit."""
    pytest.importorskip("jax")
    import jax

    from nmfdnn.factorizations import nmf_step, nonlinear_semi_nmf_step, semi_nmf_step

    xp = namespace_from_name("jax")
    A = xp.asarray(rng.random((6, 50)))
    U = xp.asarray(rng.standard_normal((6, 6)))
    V = xp.asarray(rng.random((5, 50)))
    jitted = jax.jit(lambda A, U, V: semi_nmf_step(A, U, V, lam_u=0.1, lam_v=0.1, xp=xp))
    U1, V1 = jitted(A, U, V)
    U2, V2 = semi_nmf_step(A, U, V, lam_u=0.1, lam_v=0.1, xp=xp)
    assert_close(V1, V2, rtol=1e-10)
    jitted = jax.jit(lambda A, U, V: nonlinear_semi_nmf_step(A, U, V, lam_u=0.1, xp=xp))
    U1, _ = jitted(A, U, V)
    assert_close(U1, nonlinear_semi_nmf_step(A, U, V, lam_u=0.1, xp=xp)[0], rtol=1e-8)
    W, H = jax.jit(lambda A, W, H: nmf_step(A, W, H, xp=xp))(A, xp.abs(U[:, :3]), V[:3])
    assert W.shape == (6, 3) and H.shape == (3, 50)
