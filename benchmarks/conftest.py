"""pytest-benchmark fixtures: backends × dtypes, synchronized timings, GEMM roofline.

Opt-in (never part of CI):  ``python -m pytest benchmarks --benchmark-only``.
Select backends with ``NMFDNN_BENCH_BACKENDS=numpy,torch,cupy,torch:cuda,jax`` (default: all
installed; GPU variants only with a GPU), sizes with ``NMFDNN_BENCH_BATCHES=500,1000,2000,5000``.
Save JSON with ``--benchmark-json benchmarks/results/NAME.json`` and turn it into a table and a
plot with ``python benchmarks/report.py benchmarks/results/NAME.json``.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import pytest

from nmfdnn._array_api import namespace_from_name, resolve_device, sync

ALL_BACKENDS = ["numpy", "torch", "torch:cuda", "cupy", "jax", "jax:cuda"]


def _env_list(name, default):
    raw = os.environ.get(name)
    return [s.strip() for s in raw.split(",") if s.strip()] if raw else default


BATCHES = [int(b) for b in _env_list("NMFDNN_BENCH_BATCHES", ["500", "1000", "2000", "5000",
                                                                "10000"])]


def _gpu_available(lib):
    try:
        if lib == "torch":
            import torch

            return torch.cuda.is_available()
        if lib == "cupy":
            import cupy

            return cupy.cuda.runtime.getDeviceCount() > 0
        if lib == "jax":
            import jax

            return bool(jax.devices("gpu"))
    except Exception:
        return False
    return False


class Backend:
    """A backend under benchmark: namespace, device, and a synchronizing timer."""

    def __init__(self, spec):
        self.spec = spec
        lib, _, dev = spec.partition(":")
        self.lib = lib
        self.xp = namespace_from_name(lib)
        gpu = dev == "cuda" or lib == "cupy"
        self.device = resolve_device(self.xp, "cuda" if gpu else None)
        self.kind = "gpu" if gpu else "cpu"

    def asarray(self, host, dtype):
        return self.xp.asarray(np.asarray(host, dtype=dtype), device=self.device)

    def sync(self, *arrays):
        return sync(*arrays)


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
    if (dev == "cuda" or lib == "cupy") and not _gpu_available(lib):
        pytest.skip(f"{backend_spec}: no GPU")
    if lib == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "float32")
    return Backend(backend_spec)


@pytest.fixture(params=["float32", "float64"])
def dtype_name(request):
    return request.param


_GEMM_CACHE = {}


def gemm_gflops(bk, dtype_name, m=5000, k=1000, n=1000, repeat=5):
    """Bare GEMM throughput (GFLOP/s) of this backend and dtype: the roofline of every ratio."""
    key = (bk.spec, dtype_name)
    if key not in _GEMM_CACHE:
        rng = np.random.default_rng(0)
        A = bk.asarray(rng.random((n, k)), dtype_name)
        B = bk.asarray(rng.random((k, m)), dtype_name)
        bk.sync(A @ B)
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            bk.sync(A @ B)
            best = min(best, time.perf_counter() - t)
        _GEMM_CACHE[key] = 2.0 * m * k * n / best / 1e9
    return _GEMM_CACHE[key]


def run_timed(benchmark, bk, fn, *, flops, samples, dtype_name, group, rounds=5, **info):
    """Time ``fn()`` (synchronized inside), then store samples/s, GFLOP/s and GEMM efficiency."""

    def call():
        out = fn()
        bk.sync(*(out if isinstance(out, tuple) else (out,)))
        return out

    call()  # warm-up: JIT, allocator, BLAS threads
    benchmark.group = group
    benchmark.pedantic(call, rounds=rounds, iterations=1, warmup_rounds=1)
    seconds = benchmark.stats.stats.min
    achieved = flops / seconds / 1e9
    roof = gemm_gflops(bk, dtype_name)
    benchmark.extra_info.update(
        backend=bk.spec, device=str(bk.device), dtype=dtype_name, samples=samples,
        samples_per_s=samples / seconds, gflops=achieved, gemm_gflops=roof,
        efficiency=achieved / roof, machine=f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores", **info,
    )
    return seconds
