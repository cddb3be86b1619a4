"""Timing helpers shared by the benchmark modules (synchronized calls, GEMM roofline)."""

from __future__ import annotations

import os
import platform
import time

import numpy as np

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
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing to record
        return None
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
