"""Timing helpers shared by the benchmark modules (synchronized calls, GEMM roofline) and
the JSON-lines output of the accuracy scripts."""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np

from nmfdnn._array_api import namespace_from_name, resolve_device, sync

_GEMM_CACHE = {}


def emit_jsonl(record, path):
    """Print ``record`` as one JSON line and append the same line to the file ``path``."""
    line = json.dumps(record)
    print(line, flush=True)
    with open(path, "a") as f:
        f.write(line + "\n")


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


def run_timed(benchmark, bk, fn, *, flops, samples, dtype_name, group, rounds=5, warmup_rounds=1,
              **info):
    """Time ``fn()`` (synchronized inside), then store samples/s, GFLOP/s and GEMM efficiency.

    ``fn`` is called once untimed first (JIT, allocator, BLAS threads), then ``warmup_rounds``
    more untimed rounds and ``rounds`` timed ones; the minimum is kept.  ``info`` goes into
    ``extra_info`` and may override ``backend`` (a label, e.g. for a peer library timed against
    this backend's GEMM).
    """

    def call():
        out = fn()
        bk.sync(*(out if isinstance(out, tuple) else (out,)))
        return out

    call()  # warm-up: JIT, allocator, BLAS threads
    benchmark.group = group
    benchmark.pedantic(call, rounds=rounds, iterations=1, warmup_rounds=warmup_rounds)
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing to record
        return None
    seconds = benchmark.stats.stats.min
    achieved = flops / seconds / 1e9
    roof = gemm_gflops(bk, dtype_name)
    record = dict(
        backend=bk.spec, device=str(bk.device), dtype=dtype_name, samples=samples,
        seconds=seconds, samples_per_s=samples / seconds, flops=flops, gflops=achieved,
        gemm_gflops=roof, efficiency=achieved / roof,
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    )
    record.update(info)
    benchmark.extra_info.update(record)
    return seconds
