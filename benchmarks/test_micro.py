"""Micro benchmarks: one layer-solver step at MNIST shapes across mini-batch sizes, next to the
bare GEMM of the same shapes (the roofline).  FLOP counts are the GEMMs' 2·m·n·k, summed over
the products each step computes (``_flops.py``; the linear solves are not counted)."""

import numpy as np
import pytest
from _bench import run_timed
from _flops import nonlinear_semi_nmf_step_flops, semi_nmf_step_flops

from nmfdnn.factorizations import nonlinear_semi_nmf_step, semi_nmf_step

N0, N1, N2, N3 = 784, 1000, 500, 10  # MNIST [1000, 500]


def test_gemm_roofline(benchmark, bk, dtype_name, batch):
    rng = np.random.default_rng(0)
    A = bk.asarray(rng.random((N1, N0)), dtype_name)
    B = bk.asarray(rng.random((N0, batch)), dtype_name)
    run_timed(benchmark, bk, lambda: A @ B, flops=2 * N1 * N0 * batch, samples=batch,
              dtype_name=dtype_name, group=f"gemm {N1}x{N0}xbatch", method="gemm", batch=batch)


def test_algorithm1_output_layer_step(benchmark, bk, dtype_name, batch):
    rng = np.random.default_rng(0)
    A = bk.asarray(rng.standard_normal((N3, batch)), dtype_name)
    U = bk.asarray(rng.standard_normal((N3, N2 + 1)), dtype_name)
    V = bk.asarray(rng.random((N2, batch)), dtype_name)
    run_timed(benchmark, bk,
              lambda: semi_nmf_step(A, U, V, lam_u=1e-3, lam_v=1e-5, xp=bk.xp),
              flops=semi_nmf_step_flops(N3, N2, batch), samples=batch, dtype_name=dtype_name,
              group="alg1 step (10 <- 500)", method="alg1", batch=batch)


@pytest.mark.parametrize("layer", [(N2, N1), (N1, N0)], ids=["500<-1000", "1000<-784"])
def test_algorithm2_hidden_layer_step(benchmark, bk, dtype_name, batch, layer):
    k, n = layer
    rng = np.random.default_rng(0)
    A = bk.asarray(rng.random((k, batch)), dtype_name)
    U = bk.asarray(0.05 * rng.standard_normal((k, n + 1)), dtype_name)
    V = bk.asarray(rng.random((n, batch)), dtype_name)
    run_timed(benchmark, bk,
              lambda: nonlinear_semi_nmf_step(A, U, V, lam_u=1e-3, lam_v=1e-5, xp=bk.xp),
              flops=nonlinear_semi_nmf_step_flops(k, n, batch), samples=batch,
              dtype_name=dtype_name, group=f"alg2 step ({k} <- {n})", method="alg2", batch=batch)
