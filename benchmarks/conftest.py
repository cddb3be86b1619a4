"""pytest-benchmark fixtures: backends × dtypes, synchronized timings, GEMM roofline.

Opt-in (never part of CI):  ``python -m pytest benchmarks --benchmark-only``.
Select backends with ``NMFDNN_BENCH_BACKENDS=numpy,torch,cupy,torch:cuda,jax`` (default: all
installed; GPU variants only with a GPU), sizes with ``NMFDNN_BENCH_BATCHES=500,1000,2000,5000``.
Save JSON with ``--benchmark-json benchmarks/results/NAME.json`` and turn it into a table and a
plot with ``python benchmarks/report.py benchmarks/results/NAME.json``.
"""

from __future__ import annotations

import os

import pytest
from _bench import Backend

from nmfdnn._array_api import gpu_available

ALL_BACKENDS = ["numpy", "torch", "torch:cuda", "cupy", "jax", "jax:cuda"]


def _env_list(name, default):
    raw = os.environ.get(name)
    return [s.strip() for s in raw.split(",") if s.strip()] if raw else default


BATCHES = [int(b) for b in _env_list("NMFDNN_BENCH_BATCHES", ["500", "1000", "2000", "5000",
                                                                "10000"])]


def pytest_generate_tests(metafunc):
    if "backend_spec" in metafunc.fixturenames:
        metafunc.parametrize("backend_spec", _env_list("NMFDNN_BENCH_BACKENDS", ALL_BACKENDS),
                             scope="session")
    if "batch" in metafunc.fixturenames:
        metafunc.parametrize("batch", BATCHES)


@pytest.fixture(scope="session")
def bk(backend_spec):
    lib, _, dev = backend_spec.partition(":")
    try:
        __import__(lib)
    except Exception as exc:
        pytest.skip(f"{lib} not installed: {exc}")
    if (dev == "cuda" or lib == "cupy") and not gpu_available(lib):
        pytest.skip(f"{backend_spec}: no GPU")
    if lib == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "float32")
    return Backend(backend_spec)


@pytest.fixture(params=["float32", "float64"])
def dtype_name(request):
    return request.param


