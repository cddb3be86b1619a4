"""nmfdnn's backpropagation baseline against PyTorch's own training of the same network —
opt-in, not in CI.

    python benchmarks/bp_vs_torch.py --data "$NMFDNN_DATA"                     # 10 epochs
    python benchmarks/bp_vs_torch.py --data "$NMFDNN_DATA" --backend torch     # nmfdnn on torch
    python benchmarks/bp_vs_torch.py --data "$NMFDNN_DATA" --subset 2000 --epochs 1 \\
        --noise-seeds 0                                                        # smoke run

Both sides train [784 → 1000 → 500 → 10] (ReLU, linear output) on MNIST with

- the same initial weights: nmfdnn's ``glorot_init`` drawn on the host with ``--seed``, copied
  into ``torch.nn.Linear`` layers;
- the same mini-batches: one NumPy permutation per epoch, used by both;
- the same loss, ``(1/2m)‖Y − O‖²`` over a mini-batch of m one-hot columns
  (``loss_and_gradients(loss="mse")``; in PyTorch ``0.5 * ((O − Y)**2).sum() / m``);
- Adam with lr 10⁻³, β = (0.9, 0.999), ε = 10⁻⁸ (``train_epoch`` vs ``torch.optim.Adam``),
  batch 100, in ``--dtype`` (float32).

The two runs are not bit-identical (different GEMM kernels and summation orders; the weights
drift apart over the epochs, printed as ``max|ΔW|/max|W|``), so the test errors are compared
against the seed-to-seed noise: ``--noise-seeds K`` more PyTorch runs with other seeds (other
initial weights and permutations) give, with the same-seed run, the mean and standard deviation
of PyTorch's final test error; nmfdnn agrees "within noise" when its final test error is within
two standard deviations of that mean (once the weights have drifted apart, the same-seed
PyTorch run is just one more draw of the same distribution, not a closer reference).

Prints a per-epoch table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from nmfdnn._array_api import namespace_from_name
from nmfdnn._host import to_numpy
from nmfdnn.baselines import adam_init, glorot_init, train_epoch
from nmfdnn.baselines import forward as bp_forward
from nmfdnn.datasets import load_mnist


def machine():
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{platform.system()}"


def host_init(sizes, seed, dtype):
    """Glorot weights and zero biases on the host (NumPy), the nmfdnn draw for ``seed``."""
    return glorot_init(sizes, rng=np.random.default_rng(seed), xp=np, dtype=getattr(np, dtype))


def orders(seed, m, epochs):
    rng = np.random.default_rng([seed, 1])
    return [rng.permutation(m) for _ in range(epochs)]


def torch_run(X, y, Xt, yt, init, perms, *, dtype, batch, lr, on_epoch=None):
    """PyTorch autograd + torch.optim.Adam from the given weights and permutations."""
    import torch

    dt = getattr(torch, dtype)
    layers = []
    for W, b in init:
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=dt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
            lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b[:, 0])))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    Xd = torch.tensor(X, dtype=dt)
    Yd = torch.tensor(np.eye(10)[y], dtype=dt)
    Xtd = torch.tensor(Xt, dtype=dt)
    m = X.shape[0]
    errors, seconds, losses = [], [], []
    for epoch, perm in enumerate(perms, start=1):
        t = time.perf_counter()
        order = torch.as_tensor(perm)
        total, nb = 0.0, 0
        for start in range(0, m, batch):
            J = order[start:min(start + batch, m)]
            opt.zero_grad()
            loss = 0.5 * ((model(Xd[J]) - Yd[J]) ** 2).sum() / J.shape[0]
            loss.backward()
            opt.step()
            total, nb = total + loss.detach(), nb + 1
        losses.append(float(total / nb))
        seconds.append(time.perf_counter() - t)
        with torch.no_grad():
            pred = model(Xtd).argmax(1).numpy()
        errors.append(100.0 * float(np.mean(pred != yt)))
        if on_epoch is not None:
            weights = [(lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy())
                       for lin in model if isinstance(lin, torch.nn.Linear)]
            on_epoch(epoch, weights)
    return dict(test_error=errors, seconds=seconds, loss=losses)


def nmfdnn_run(X, y, Xt, yt, init, perms, *, backend, dtype, batch, lr, on_epoch=None):
    """nmfdnn's ``train_epoch`` (hand-written backward pass, functional Adam)."""
    xp = namespace_from_name(backend)
    dt = getattr(xp, dtype)
    params = [(xp.asarray(W, dtype=dt), xp.asarray(b, dtype=dt)) for W, b in init]
    state = adam_init(params, xp=xp)
    Xc = xp.asarray(np.ascontiguousarray(X.T), dtype=dt)
    Yc = xp.asarray(np.eye(10)[:, y], dtype=dt)
    Xtc = xp.asarray(np.ascontiguousarray(Xt.T), dtype=dt)
    errors, seconds, losses = [], [], []
    for epoch, perm in enumerate(perms, start=1):
        t = time.perf_counter()
        order = xp.asarray(perm)
        params, state, loss = train_epoch(params, state, Xc, Yc, order, batch_size=batch, lr=lr,
                                          beta1=0.9, beta2=0.999, eps=1e-8, xp=xp)
        losses.append(float(to_numpy(loss)))
        seconds.append(time.perf_counter() - t)
        _, out = bp_forward(params, Xtc, xp=xp)
        pred = to_numpy(xp.argmax(out, axis=0))
        errors.append(100.0 * float(np.mean(pred != yt)))
        if on_epoch is not None:
            on_epoch(epoch, [(to_numpy(W), to_numpy(b)[:, 0]) for W, b in params])
    return dict(test_error=errors, seconds=seconds, loss=losses)


def judge(nmfdnn_final, torch_finals):
    """``(within, std, mean)``: nmfdnn's final test error against PyTorch's seeds (≥ 2 runs)."""
    if len(torch_finals) < 2:
        return None, None, None
    mean = float(np.mean(torch_finals))
    std = float(np.std(torch_finals, ddof=1))
    return bool(abs(nmfdnn_final - mean) <= 2 * std), std, mean


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="directory with mnist/ (default: NMFDNN_DATA)")
    p.add_argument("--arch", default="1000,500")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--subset", type=int, default=None, help="use the first N training images")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--backend", default="numpy", help="nmfdnn's backend (numpy, torch, ...)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise-seeds", type=int, default=3,
                   help="extra PyTorch runs with seeds seed+1.. for the seed-to-seed spread")
    p.add_argument("--out", default="bp_vs_torch.json")
    args = p.parse_args(argv)

    X, y, Xt, yt = load_mnist(args.data)
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    sizes = [X.shape[1], *(int(h) for h in args.arch.split(",")), 10]
    init = host_init(sizes, args.seed, args.dtype)
    perms = orders(args.seed, X.shape[0], args.epochs)
    common = dict(dtype=args.dtype, batch=args.batch_size, lr=args.lr)

    snap = {}

    def keep(name):
        def on_epoch(epoch, weights):
            snap[(name, epoch)] = weights
        return on_epoch

    nm = nmfdnn_run(X, y, Xt, yt, init, perms, backend=args.backend, on_epoch=keep("nmfdnn"),
                    **common)
    th = torch_run(X, y, Xt, yt, init, perms, on_epoch=keep("torch"), **common)
    drift = []
    for e in range(1, args.epochs + 1):
        a, b = snap[("nmfdnn", e)], snap[("torch", e)]
        drift.append(max(float(np.max(np.abs(Wa - Wb)) / np.max(np.abs(Wb)))
                         for (Wa, _), (Wb, _) in zip(a, b)))

    print(f"# BP, nmfdnn ({args.backend}) vs PyTorch autograd + Adam: [{args.arch}], "
          f"{X.shape[0]} training images, batch {args.batch_size}, {args.dtype}, seed "
          f"{args.seed}\n")
    print("| epoch | nmfdnn test error % | torch test error % | difference | nmfdnn loss | "
          "torch loss | max|ΔW|/max|W| | nmfdnn s | torch s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for e in range(args.epochs):
        print(f"| {e + 1} | {nm['test_error'][e]:.2f} | {th['test_error'][e]:.2f} | "
              f"{nm['test_error'][e] - th['test_error'][e]:+.2f} | {nm['loss'][e]:.5f} | "
              f"{th['loss'][e]:.5f} | {drift[e]:.1e} | {nm['seconds'][e]:.1f} | "
              f"{th['seconds'][e]:.1f} |")
    final_diff = nm["test_error"][-1] - th["test_error"][-1]
    noise = []
    for k in range(1, args.noise_seeds + 1):
        s = args.seed + k
        run = torch_run(X, y, Xt, yt, host_init(sizes, s, args.dtype),
                        orders(s, X.shape[0], args.epochs), **common)
        noise.append(run["test_error"][-1])
        print(f"torch, seed {s}: final test error {run['test_error'][-1]:.2f} %")
    verdict, std, mean = judge(nm["test_error"][-1], [th["test_error"][-1]] + noise)
    if verdict is not None:
        print(f"\nfinal test error: nmfdnn {nm['test_error'][-1]:.2f} %, PyTorch {mean:.2f} ± "
              f"{std:.2f} % (mean ± std over {len(noise) + 1} seeds; same seed "
              f"{th['test_error'][-1]:.2f} %): "
              + ("within noise (≤ 2 std)" if verdict else "OUTSIDE the noise (> 2 std)"))
    else:
        print(f"\nfinal difference {final_diff:+.2f} points (no noise estimate: --noise-seeds "
              "≥ 1 for one)")
    mean_diff = float(np.mean(np.subtract(nm["test_error"], th["test_error"])))
    print(f"mean per-epoch difference (nmfdnn − PyTorch, same seed): {mean_diff:+.3f} points")
    res = dict(
        settings=dict(arch=args.arch, epochs=args.epochs, n_train=int(X.shape[0]),
                      batch_size=args.batch_size, lr=args.lr, betas=[0.9, 0.999], eps=1e-8,
                      loss="(1/2m)||Y - O||^2", dtype=args.dtype, seed=args.seed,
                      nmfdnn_backend=args.backend),
        nmfdnn=nm, torch=th, weight_drift=drift, final_difference=final_diff,
        torch_other_seeds_final_error=noise, torch_seed_mean=mean, seed_std=std,
        within_noise=verdict, mean_per_epoch_difference=mean_diff,
        machine=machine(),
    )
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
