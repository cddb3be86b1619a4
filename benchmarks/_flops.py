"""Operation counts of the trainers' matrix products (the numerators of GFLOP/s and efficiency).

Every count is ``2·a·b·c`` per product of an (a × b) by a (b × c) matrix, summed over the
products the code really computes (checked against ``torch.utils.flop_counter.FlopCounterMode``
by ``test_epochs.py::test_flop_counts_match_torch``).  What is *not* counted: element-wise work
(ReLU, the multiplicative update, Adam), reductions, gathers, the factorizations of the linear
solves (Cholesky) and of the pseudo-inverses (``eigh``).  The Cholesky work of the ridge solves
is counted apart (:func:`bias_reg_step_solve_flops`, standard ``⅓n³ + 2n²·nrhs``: the
factorization and two triangular solves) so that a report can show it, but it is left out
of the efficiency, which is therefore *GEMM work ÷ time ÷ bare-GEMM rate*: every second spent
outside the products lowers it.

Layer sizes are ``[n0, n1, …, nd]`` (paper numbering, ``n0`` inputs, ``nd`` outputs), ``r`` the
rank of the low-rank input (§1.5), ``s`` the mini-batch size.
"""

from __future__ import annotations

from nmfdnn.training import batch_bounds


def semi_nmf_step_flops(k, n, s, *, bias=True, pinv=False):
    """Products of one Algorithm 1 step (``semi_nmf_step``) on ``A (k × s) ≈ Ũ Ṽ``, ``V (n × s)``.

    ``V Vᵀ`` (n²s), ``A Vᵀ`` (kns), ``Uᵀ A`` (nks), ``Uᵀ Ũ`` (nk(n+b)), ``(UᵀŨ)⁻ Ṽ`` and
    ``(UᵀŨ)⁺ Ṽ`` (n²s each); with ``pinv`` (λ = 0, original scheme) also the pseudo-inverse
    ``(Q diag) Qᵀ`` (n³) and ``B G⁺`` (kn²).
    """
    b = int(bias)
    f = 2 * s * (2 * k * n + 3 * n * n) + 2 * n * k * (n + b)
    if pinv:
        f += 2 * n**3 + 2 * k * n * n
    return f


def nonlinear_semi_nmf_step_flops(k, n, s):
    """Products of one Algorithm 2 step (``nonlinear_semi_nmf_step``), ``A (k × s) ≈ f(Ũ Ṽ)``.

    U-step: ``P = Ũ Ṽ`` (kns), ``V Vᵀ`` (n²s), ``T Vᵀ`` (kns); V-step: ``Ũ Ṽ`` again (kns), the
    smaller Gram of ``U`` (min(k,n)²·max(k,n)) and ``Uᵀ`` applied to the (solved) residual (kns).
    The (n+1)-sized and min(k,n)-sized linear solves are not products (see
    :func:`nonlinear_semi_nmf_step_solve_flops`).
    """
    small, large = min(k, n), max(k, n)
    return 2 * s * (4 * k * n + n * n) + 2 * small * small * large


def nonlinear_semi_nmf_step_solve_flops(k, n, s, *, bias=True):
    """Cholesky work of Algorithm 2's two ridge solves: U-step ``(n+b)³`` with k right-hand sides,
    V-step through the smaller Gram: ``min(k,n)³`` with s right-hand sides."""
    nb = n + int(bias)
    small = min(k, n)
    return (nb**3 / 3 + 2 * nb * nb * k) + (small**3 / 3 + 2 * small * small * s)


def first_layer_step_flops(n1, n0, r, s, *, pinv=False):
    """Products of ``reduced_first_layer_step`` (§1.5): ``W₁ Q`` (n1·n0·r), the U-step in r
    coordinates (``P``: n1·r·s, ``Ṽ Ṽᵀ``: r²s, ``T Ṽᵀ``: n1·r·s), the map back ``W₁ᵣ Qᵀ``
    (n1·r·n0); with ``pinv`` also ``(Q diag) Qᵀ`` (r³) and ``B G⁺`` (n1·r²)."""
    f = 2 * n1 * n0 * r + 2 * s * (2 * n1 * r + r * r) + 2 * n1 * r * n0
    if pinv:
        f += 2 * r**3 + 2 * n1 * r * r
    return f


def forward_flops(sizes, r, s):
    """``W₁ QS`` (n1·n0·r, once per mini-batch), ``W₁ᵣ V_J`` (n1·r·s), ``W̃_i Z̃_{i−1}``
    (n_i·n_{i−1}·s, i = 2 … d−1) and the output for the loss (nd·n_{d−1}·s)."""
    n = sizes
    f = 2 * n[1] * n[0] * r + 2 * n[1] * r * s
    f += sum(2 * n[i] * n[i - 1] * s for i in range(2, len(n)))
    return f


def bias_reg_step_flops(sizes, r, s, *, bias=True):
    """Products of one ``bias_reg_minibatch_step`` (Algorithm 3, ``inner_iter=1``).

    Forward pass (:func:`forward_flops`), Algorithm 1 on the output layer
    (:func:`semi_nmf_step_flops`), Algorithm 2 on every hidden layer i = d−1 … 2
    (:func:`nonlinear_semi_nmf_step_flops`), the reduced first-layer U-step
    (:func:`first_layer_step_flops`).
    """
    n, d = sizes, len(sizes) - 1
    f = forward_flops(sizes, r, s)
    f += semi_nmf_step_flops(n[d], n[d - 1], s, bias=bias)
    f += sum(nonlinear_semi_nmf_step_flops(n[i], n[i - 1], s) for i in range(d - 1, 1, -1))
    f += first_layer_step_flops(n[1], n[0], r, s)
    return f


def bias_reg_step_solve_flops(sizes, r, s, *, bias=True):
    """Cholesky work of one Algorithm 3 step (not in the efficiency): the output layer's
    ``(n_{d−1}+1)³`` solve with nd right-hand sides, Algorithm 2's two solves per hidden layer,
    the first layer's ``(r+1)³`` solve with n1 right-hand sides."""
    n, d = sizes, len(sizes) - 1
    b = int(bias)
    f = (n[d - 1] + b) ** 3 / 3 + 2 * (n[d - 1] + b) ** 2 * n[d]
    f += sum(nonlinear_semi_nmf_step_solve_flops(n[i], n[i - 1], s, bias=bias)
             for i in range(d - 1, 1, -1))
    f += (r + b) ** 3 / 3 + 2 * (r + b) ** 2 * n[1]
    return f


def original_step_flops(sizes, r, s):
    """Products of one ``original_minibatch_step`` (§4, no bias, ``inner_iter=1``).

    Forward pass; semi-NMF on the output layer through the pseudo-inverse; per hidden layer
    i = d−1 … 2 (k = n_i, n = n_{i−1}): ``Z Zᵀ`` (n²s), its pseudo-inverse (n³), the weight
    step ``W Z`` (kns), ``R Zᵀ`` (kns), ``(R Zᵀ) G⁺`` (kn²), the pseudo-inverse of ``W`` through
    its smaller Gram (2·min²·max + min³), the target step ``W Z`` (kns) and ``W† R`` (kns); the
    reduced first-layer step with the pseudo-inverse.  (The ``eigh`` are not counted.)
    """
    n, d = sizes, len(sizes) - 1
    f = forward_flops(sizes, r, s)
    f += semi_nmf_step_flops(n[d], n[d - 1], s, bias=False, pinv=True)
    for i in range(d - 1, 1, -1):
        k, p = n[i], n[i - 1]
        small, large = min(k, p), max(k, p)
        f += 2 * s * (4 * k * p + p * p) + 2 * p**3 + 2 * k * p * p
        f += 4 * small * small * large + 2 * small**3
    f += first_layer_step_flops(n[1], n[0], r, s, pinv=True)
    return f


def epoch_flops(step_flops, sizes, r, m, batch_size, **kw):
    """Sum of ``step_flops(sizes, r, s_J, **kw)`` over the mini-batches of one epoch
    (``batch_bounds(m, batch_size)``, the trainer's own split)."""
    return sum(step_flops(sizes, r, stop - start, **kw)
               for start, stop in batch_bounds(m, batch_size))


def backprop_epoch_flops(sizes, m):
    """Products of one backpropagation epoch over m samples (any batch size).

    Per layer i: forward ``W_i Z_{i−1}`` and weight gradient ``G_i Z_{i−1}ᵀ``
    (n_i·n_{i−1} per sample each); the gradient ``W_iᵀ G_i`` for every layer but the first
    (nmfdnn, PyTorch autograd and scikit-learn all skip the input's gradient).
    """
    per = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2 * m * (3 * per - sizes[0] * sizes[1])
