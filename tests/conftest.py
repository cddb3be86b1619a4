"""Backend fixtures: every solver test runs on every installed backend × dtype (× device).

Select backends with ``--backend torch --backend numpy`` or ``NMFDNN_TEST_BACKENDS=torch,numpy``;
default: all of them. By default the GPU-only backends (torch:cuda, jax:cuda, cupy) are
*deselected* where no GPU is present (one line of the terminal summary says so); a backend that is
not installed is skipped with its reason; one asked for explicitly is never deselected.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

from nmfdnn._array_api import gpu_available, namespace_from_name

# name[:device]; the module imported to see whether it is installed
BACKENDS = {
    "numpy": "numpy",
    "array_api_strict": "array_api_strict",
    "torch": "torch",
    "torch:cuda": "torch",
    "jax": "jax",
    "jax:cuda": "jax",
    "cupy": "cupy",
}


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        action="append",
        default=None,
        help="backend(s) to test (numpy, array_api_strict, torch, torch:cuda, jax, jax:cuda, cupy)",
    )


#: Backends that run only on a GPU.
GPU_ONLY = ("torch:cuda", "jax:cuda", "cupy")


def _selected(config):
    chosen = config.getoption("--backend")
    if not chosen and os.environ.get("NMFDNN_TEST_BACKENDS"):
        chosen = [b.strip() for b in os.environ["NMFDNN_TEST_BACKENDS"].split(",") if b.strip()]
    return chosen or list(BACKENDS)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        names = _selected(metafunc.config)
        unknown = sorted(set(names) - set(BACKENDS))
        if unknown:
            raise pytest.UsageError(f"unknown backend(s) {unknown}; choose from {list(BACKENDS)}")
        metafunc.parametrize("backend", names, scope="session")


def _explicit(config):
    return bool(config.getoption("--backend") or os.environ.get("NMFDNN_TEST_BACKENDS"))


def pytest_collection_modifyitems(config, items):
    """Deselect (not skip) the GPU-only backends' cases where no GPU is present, unless they
    were asked for explicitly."""
    if _explicit(config):
        return
    no_gpu = {}
    keep, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        if backend in GPU_ONLY:
            if backend not in no_gpu:
                no_gpu[backend] = not gpu_available(backend)
            if no_gpu[backend]:
                dropped.append(item)
                continue
        keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        config._nmfdnn_deselected = (sorted(b for b, absent in no_gpu.items() if absent),
                                     len(dropped))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    info = getattr(config, "_nmfdnn_deselected", None)
    if info:
        names, count = info
        terminalreporter.write_line(
            f"nmfdnn: {count} cases of the GPU-only backends {', '.join(names)} deselected: no "
            "GPU here (ask for one with --backend NAME to run it anyway)")


@pytest.fixture(scope="session")
def xp(backend):
    """The array-api-compat namespace of the backend under test (skips if not installed)."""
    module = BACKENDS[backend]
    try:
        importlib.import_module(module)
    except Exception as exc:  # not installed / broken CUDA
        pytest.skip(f"{backend} not available: {exc}")
    if (backend.endswith(":cuda") or backend == "cupy") and not gpu_available(backend):
        pytest.skip(f"{backend}: no GPU here")
    ns = namespace_from_name(backend.split(":")[0])
    if backend.startswith("torch"):
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False  # no reduced-precision matmuls in tests
        torch.backends.cudnn.allow_tf32 = False
        # test problems are tiny: one intra-op thread avoids spin-waiting on a busy machine
        torch.set_num_threads(1)
    if backend.startswith("jax"):
        import jax

        jax.config.update("jax_default_matmul_precision", "float32")
    return ns


@pytest.fixture(scope="session")
def device(xp, backend):
    """The device under test for that backend."""
    from nmfdnn._array_api import resolve_device

    return resolve_device(xp, "cuda" if (backend.endswith(":cuda") or backend == "cupy") else None)


@pytest.fixture(params=["float64", "float32"])
def dtype(xp, request):
    return getattr(xp, request.param)


@pytest.fixture
def tol(dtype, xp):
    """Comparison tolerances for results of a few iterations in ``dtype``."""
    if dtype == xp.float64:
        return dict(rtol=1e-8, atol=1e-10)
    return dict(rtol=2e-3, atol=2e-4)


class Problem:
    """Host float64 copies of test inputs and their ``xp`` versions (same values, cast once)."""

    def __init__(self, xp, device, dtype):
        self.xp, self.device, self.dtype = xp, device, dtype
        self.name = "float32" if dtype == xp.float32 else "float64"

    def host(self, a):
        """The float64 reference copy of what the backend actually sees (cast round trip)."""
        return np.asarray(a, dtype=self.name).astype(np.float64)

    def dev(self, a):
        return self.xp.asarray(np.asarray(a, dtype=self.name), device=self.device)

    def assert_close(self, actual, desired, **tol):
        """``actual`` is in this problem's namespace, device and dtype, and close to
        ``desired`` (a host float64 reference or an array)."""
        from nmfdnn.testing import assert_close

        assert_close(actual, desired, xp=self.xp, device=self.device, dtype=self.dtype, **tol)

    def assert_equal(self, actual, desired, **kw):
        """As :meth:`assert_close`, values equal exactly."""
        from nmfdnn.testing import assert_equal

        assert_equal(actual, desired, xp=self.xp, device=self.device, dtype=self.dtype, **kw)


@pytest.fixture
def problem(xp, device, dtype):
    return Problem(xp, device, dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
