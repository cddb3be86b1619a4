"""Where the time goes in one epoch of the bias-reg trainer (Algorithm 3) — opt-in, not in CI.

    python benchmarks/profile_epoch.py --data "$NMFDNN_DATA" --backend numpy --dtype float32
    python benchmarks/profile_epoch.py --data "$NMFDNN_DATA" --backend torch --dtype float32 \\
        --cprofile 25 --out benchmarks/results/profile_torch_f32.json

The epoch of ``run_epochs`` + ``bias_reg_minibatch_step`` (``inner_iter=1``) is re-run here
phase by phase, calling the same library helpers in the same order (``gram_cross_centered``,
``solve_gram_right`` (a Cholesky ridge solve), ``affine`` …), with a synchronized clock
between phases: every second of the instrumented epoch is assigned to exactly one phase, so
the phases sum to its wall time.  Beside it the library's own epoch is timed on the same
weights and permutation, and the two epochs' weights are compared (a
mismatch means the library changed and this mirror must follow).

Output: a table of phase, seconds per epoch, share of the epoch, GFLOP of the phase's matrix
products (``_flops.py`` conventions) and their GFLOP/s and fraction of the bare-GEMM rate of
the backend/dtype (a 1000 × 1000 × 5000 product).  ``--cprofile N`` adds the N functions with
the most own time in a cProfile of one library epoch (a cross-check; cProfile's overhead
inflates the Python-side share).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _bench import Backend, gemm_gflops  # noqa: E402

from nmfdnn._array_api import sync  # noqa: E402
from nmfdnn._host import to_numpy  # noqa: E402
from nmfdnn._linalg import solve_gram_right  # noqa: E402
from nmfdnn._ops import (  # noqa: E402
    affine,
    gram_cross_centered,
    neg,
    pos,
    relu,
    split_bias,
    sq_norm,
)
from nmfdnn.training import (  # noqa: E402
    batch_bounds,
    bias_reg_minibatch_step,
    prepare_inputs,
    random_weights,
    run_epochs,
)

LAM_W, LAM_Z, TAU = 1e-3, 1e-5, 4e-2


class PhaseClock:
    """Laps of a synchronized clock: ``lap(name, *arrays)`` waits for ``arrays``, then charges
    the time since the previous lap to ``name``.  The laps sum to the wall time."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.flops = defaultdict(float)
        self.order = []
        self.t = None

    def start(self):
        self.t = time.perf_counter()

    def lap(self, name, *arrays, flops=0):
        sync(*arrays)
        now = time.perf_counter()
        if name not in self.seconds:
            self.order.append(name)
        self.seconds[name] += now - self.t
        self.flops[name] += flops
        self.t = now


def instrumented_epoch(W, Y, inputs, *, batch_size, rng, xp, clock):
    """One epoch of ``run_epochs(bias_reg_minibatch_step)`` with a lap after every phase."""
    clock.start()
    dev_like = Y
    m = Y.shape[1]
    d = len(W)
    sizes = [inputs.Q.shape[0]] + [Wi.shape[0] for Wi in W]
    n0, r = inputs.Q.shape
    perm = xp.asarray(rng.permutation(m), device=_device(dev_like))
    broken = [xp.zeros((), dtype=Y.dtype, device=_device(Y)) for _ in range(d)]
    losses = []
    clock.lap("epoch: permutation to the device", perm)
    eps = float(xp.finfo(Y.dtype).eps)
    for start, stop in batch_bounds(m, batch_size):
        s = stop - start
        J = perm[start:stop]
        VJ = xp.take(inputs.Vt, J, axis=1)
        YJ = xp.take(Y, J, axis=1)
        clock.lap("take V_J, Y_J (mini-batch columns)", VJ, YJ)
        # --- forward pass (reduce_first_layer, forward, loss) -------------------------------
        W1r = W[0][:, :n0] @ inputs.QS
        W1r = xp.concat([W1r, W[0][:, n0:]], axis=1)
        clock.lap("forward: W1 Q diag(s) (reduce first layer)", W1r, flops=2 * sizes[1] * n0 * r)
        P = [affine(W1r, VJ, xp=xp)]  # pre-activations, reused by the U-steps below
        Z = [relu(P[0], xp=xp)]
        clock.lap("forward: layer 1 on V_J, ReLU", Z[0], flops=2 * sizes[1] * r * s)
        for i in range(2, d):
            P.append(affine(W[i - 1], Z[-1], xp=xp))
            Z.append(relu(P[-1], xp=xp))
            clock.lap(f"forward: layer {i}, ReLU", Z[-1], flops=2 * sizes[i] * sizes[i - 1] * s)
        loss = 0.5 * sq_norm(YJ - affine(W[-1], Z[-1], xp=xp), xp=xp)
        clock.lap("forward: output and loss", loss, flops=2 * sizes[d] * sizes[d - 1] * s)
        new = list(W)
        # --- (13) output layer: Algorithm 1 (semi_nmf_step) ---------------------------------
        L = f"layer {d} (output, Alg. 1)"
        A, U, V = YJ, W[-1], Z[-1]
        k, n = A.shape[0], V.shape[0]
        G, C = gram_cross_centered(V, A, bias=True, xp=xp)
        clock.lap(f"{L} U-step: Gram V~V~T and cross A V~T (around the mean)", G, C,
                  flops=2 * n * n * s + 2 * k * n * s)
        U = solve_gram_right(G, C, LAM_W, None, dtype=V.dtype, xp=xp)
        clock.lap(f"{L} U-step: ridge solve ({n + 1})", U)
        Un, _ = split_bias(U, n, xp=xp)
        UtA = Un.T @ A
        UtU = Un.T @ U
        NV = affine(neg(UtU, xp=xp), V, xp=xp)
        PV = affine(pos(UtU, xp=xp), V, xp=xp)
        clock.lap(f"{L} V-step: products UTA, UTU~, (UTU~)+-V~", UtA, UtU, NV, PV,
                  flops=2 * n * k * s + 2 * n * k * (n + 1) + 4 * n * n * s)
        numer = pos(UtA, xp=xp) + NV
        denom = neg(UtA, xp=xp) + PV + eps
        denom = denom + LAM_Z * V
        V = V * xp.sqrt(numer / denom)
        clock.lap(f"{L} V-step: multiplicative update (element-wise)", V)
        new[-1], target = U, V
        # --- (14) hidden layers: Algorithm 2 (nonlinear_semi_nmf_step) ----------------------
        for j in range(d - 2, 0, -1):
            L = f"layer {j + 1} (Alg. 2)"
            A, U, V = target, W[j], Z[j - 1]
            k, n = A.shape[0], V.shape[0]
            T = A + xp.clip(P[j], max=0.0)  # P from the forward pass
            clock.lap(f"{L} U-step: T = A - P- (P of the forward pass)", T)
            G, C = gram_cross_centered(V, T, bias=True, xp=xp)
            clock.lap(f"{L} U-step: Gram V~V~T and cross T V~T (around the mean)", G, C,
                      flops=2 * n * n * s + 2 * k * n * s)
            U = solve_gram_right(G, C, LAM_W, None, dtype=V.dtype, xp=xp)
            clock.lap(f"{L} U-step: ridge solve ({n + 1}, {k} rhs)", U)
            Un, _ = split_bias(U, n, xp=xp)
            R = A - relu(affine(U, V, xp=xp), xp=xp)
            clock.lap(f"{L} V-step: residual R = A - f(U~V~)", R, flops=2 * k * n * s)
            small = min(k, n)
            if max(k, n) < s:  # lstsq_left with many right-hand sides: operator, then one GEMM
                if k >= n:  # tall U: M = (UTU + lam I)^-1 UT
                    Gs = Un.T @ Un
                    clock.lap(f"{L} V-step: Gram UTU", Gs, flops=2 * n * n * k)
                    M = solve_gram_right(Gs, Un, LAM_Z, None, xp=xp).T
                else:  # wide U: M = UT (U UT + lam I)^-1
                    Gs = Un @ Un.T
                    clock.lap(f"{L} V-step: Gram U UT", Gs, flops=2 * k * k * n)
                    M = solve_gram_right(Gs, Un.T, LAM_Z, None, xp=xp)
                clock.lap(f"{L} V-step: operator solve ({small}, {max(k, n)} rhs)", M)
                X = M @ R
                clock.lap(f"{L} V-step: operator times R", X, flops=2 * n * k * s)
            elif k >= n:  # tall U, few right-hand sides: (UTU + lam I)^-1 UT R
                Gs = Un.T @ Un
                B = (Un.T @ R).T
                clock.lap(f"{L} V-step: Gram UTU and UT R", Gs, B,
                          flops=2 * n * n * k + 2 * n * k * s)
                X = solve_gram_right(Gs, B, LAM_Z, None, xp=xp).T
                clock.lap(f"{L} V-step: ridge solve ({small}, {s} rhs)", X)
            else:  # wide U, few right-hand sides: UT (U UT + lam I)^-1 R
                Gs = Un @ Un.T
                clock.lap(f"{L} V-step: Gram U UT", Gs, flops=2 * k * k * n)
                Y_ = solve_gram_right(Gs, R.T, LAM_Z, None, xp=xp).T
                clock.lap(f"{L} V-step: ridge solve ({small}, {s} rhs)", Y_)
                X = Un.T @ Y_
                clock.lap(f"{L} V-step: UT (..)", X, flops=2 * n * k * s)
            V = relu(V + X, xp=xp)
            clock.lap(f"{L} V-step: V <- f(V + ..)", V)
            new[j], target = U, V
        # --- (15) first layer: reduced U-step (reduced_first_layer_step) --------------------
        L = "layer 1 (reduced, Alg. 2 U-step)"
        Q, sigma = inputs.Q, inputs.sigma
        k = W[0].shape[0]
        W1r = (W[0][:, :n0] @ Q) * sigma[None, :]
        Wr = xp.concat([W1r, W[0][:, n0:]], axis=1)
        diag = LAM_W / (sigma * sigma)
        one = xp.full((1,), LAM_W, dtype=sigma.dtype, device=_device(sigma))
        penalty = xp.concat([diag, one])
        clock.lap(f"{L}: W1 Q diag(s)", Wr, penalty, flops=2 * k * n0 * r)
        T = target + xp.clip(P[0], max=0.0)  # P from the forward pass
        clock.lap(f"{L}: T = A - P- (P of the forward pass)", T)
        G, C = gram_cross_centered(VJ, T, bias=True, xp=xp)
        clock.lap(f"{L}: Gram V~_J V~_JT and cross T V~_JT (around the mean)", G, C,
                  flops=2 * r * r * s + 2 * k * r * s)
        Wr = solve_gram_right(G, C, penalty, None, dtype=VJ.dtype, xp=xp)
        clock.lap(f"{L}: ridge solve ({r + 1})", Wr)
        W1 = (Wr[:, :r] / sigma[None, :]) @ Q.T
        new[0] = xp.concat([W1, Wr[:, r:]], axis=1)
        clock.lap(f"{L}: map back W1r diag(s)^-1 QT", new[0], flops=2 * k * r * n0)
        # --- run_epochs' bookkeeping --------------------------------------------------------
        W = new
        losses.append(loss)
        broken = [b + xp.astype(xp.logical_not(xp.all(xp.isfinite(Wi))), Y.dtype)
                  for b, Wi in zip(broken, W)]
        clock.lap("epoch: finiteness counters (isfinite of every W)", *broken)
    host = to_numpy(xp.stack([xp.sum(xp.stack(losses)) / m] + broken))
    clock.lap("epoch: loss sum and read-back")
    return W, float(host[0])


def _device(x):
    from array_api_compat import device

    return device(x)


def load_data(args):
    try:
        from nmfdnn.datasets import load_mnist

        X, y, _, _ = load_mnist(args.data, dtype="float64")
        X, y, source = X[: args.samples], y[: args.samples], "mnist"
    except FileNotFoundError:
        print("MNIST not found (--data or NMFDNN_DATA): random MNIST-like data", file=sys.stderr)
        rng = np.random.default_rng(0)
        X = rng.random((args.samples, 784)) * (rng.random((args.samples, 784)) < 0.2)
        y, source = rng.integers(0, 10, size=args.samples), "random"
    return X, y, f"{source} ({X.shape[0]} samples)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="directory with mnist/ (default: NMFDNN_DATA)")
    p.add_argument("--backend", default="numpy", help="numpy, torch, torch:cuda, cupy, jax")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--arch", default="1000,500")
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--samples", type=int, default=60000, help="training images used")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up)")
    p.add_argument("--cprofile", type=int, default=0, metavar="N",
                   help="also cProfile one library epoch and print the top N functions")
    p.add_argument("--out", default=None, help="write the table as JSON here")
    args = p.parse_args(argv)

    bk = Backend(args.backend)
    xp = bk.xp
    X, y, source = load_data(args)
    hidden = [int(h) for h in args.arch.split(",")]
    sizes = [X.shape[1], *hidden, 10]
    Xc = bk.asarray(X.T, args.dtype)
    Y = bk.asarray(np.eye(10)[:, y], args.dtype)
    inputs = prepare_inputs(Xc, TAU, xp=xp)
    W0 = random_weights(sizes, bias=True, rng=np.random.default_rng(0), xp=xp, device=bk.device,
                        dtype=getattr(xp, args.dtype))

    def step(W, VJ, YJ):
        return bias_reg_minibatch_step(W, VJ, YJ, inputs, lam_w=LAM_W, lam_z=LAM_Z, xp=xp)

    def library_epoch():
        W, hist = run_epochs(step, W0, Y, inputs, batch_size=args.batch_size, max_epochs=1,
                             rng=np.random.default_rng(1), xp=xp)
        return W, hist.records[0]

    library_epoch()  # warm-up
    roof = gemm_gflops(bk, args.dtype)
    lib_times, clock = [], PhaseClock()
    for _ in range(args.epochs):
        t = time.perf_counter()
        W_lib, rec = library_epoch()
        lib_times.append(time.perf_counter() - t)
        W_ins, loss = instrumented_epoch(W0, Y, inputs, batch_size=args.batch_size,
                                         rng=np.random.default_rng(1), xp=xp, clock=clock)
    diff = max(float(np.max(np.abs(to_numpy(a) - to_numpy(b))) / (np.max(np.abs(to_numpy(a)))
                                                                   + 1e-30))
               for a, b in zip(W_lib, W_ins))
    E = args.epochs
    total = sum(clock.seconds.values()) / E
    lib = float(np.mean(lib_times))
    rows = []
    for name in clock.order:
        sec = clock.seconds[name] / E
        fl = clock.flops[name] / E
        rows.append(dict(phase=name, seconds=sec, share=sec / total, gflop=fl / 1e9,
                         gflops=fl / sec / 1e9 if fl else None,
                         of_gemm=fl / sec / 1e9 / roof if fl else None))
    gemm_sec = sum(r["seconds"] for r in rows if r["gflop"])
    gemm_fl = sum(r["gflop"] for r in rows)
    summary = dict(
        backend=args.backend, dtype=args.dtype, arch=args.arch, batch_size=args.batch_size,
        data=source, rank=inputs.rank, epochs_timed=E, bare_gemm_gflops=roof,
        instrumented_epoch_s=total, library_epoch_s=lib,
        library_epoch_record_s=rec.seconds, weights_max_rel_diff=diff,
        gemm_phases_s=gemm_sec, gemm_gflop=gemm_fl,
        epoch_efficiency=gemm_fl / lib / roof, gemm_phases_efficiency=gemm_fl / gemm_sec / roof,
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                f"{platform.system()}",
    )
    print(f"# bias-reg epoch, {args.backend} {args.dtype}, [{args.arch}], batch "
          f"{args.batch_size}, {source}, rank {inputs.rank}; bare GEMM {roof:.1f} GFLOP/s\n")
    print("| phase | s / epoch | share | GFLOP | GFLOP/s | of bare GEMM |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        gf = "" if r["gflops"] is None else f"{r['gflops']:.1f}"
        of = "" if r["of_gemm"] is None else f"{100 * r['of_gemm']:.0f} %"
        g = f"{r['gflop']:.2f}" if r["gflop"] else ""
        print(f"| {r['phase']} | {r['seconds']:.4f} | {100 * r['share']:.1f} % | {g} | {gf} "
              f"| {of} |")
    print(f"| **sum of phases (instrumented epoch)** | {total:.4f} | 100 % | {gemm_fl:.2f} | "
          f"{gemm_fl / total:.1f} | {100 * gemm_fl / total / roof:.0f} % |")
    print(f"\nlibrary epoch (run_epochs, no clock): {lib:.4f} s (its record: {rec.seconds:.4f} s)"
          f"; instrumented − library: {total - lib:+.4f} s (run-to-run noise + the clock)")
    print(f"GEMM phases: {gemm_sec:.4f} s = {100 * gemm_sec / total:.1f} % of the epoch, at "
          f"{100 * summary['gemm_phases_efficiency']:.0f} % of bare GEMM; whole epoch "
          f"(library): {100 * summary['epoch_efficiency']:.0f} % of bare GEMM")
    print(f"weights, instrumented vs library epoch: max relative difference {diff:.2e}"
          + ("" if diff < 1e-3 else "  <-- MISMATCH: the library changed, update this mirror"))
    if args.cprofile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        library_epoch()
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(args.cprofile)
        print("\n## cProfile of one library epoch (own time)\n")
        print(buf.getvalue())
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(dict(summary=summary, phases=rows),
                                                     indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
