"""Trainers (Algorithm 3, the original scheme §4, the autoencoder init §3) against plain NumPy
float64 references written from ALGORITHMS.md, on every backend and dtype."""

import warnings

import numpy as np
import pytest

import nmfdnn
from nmfdnn import NumericalError, to_numpy
from nmfdnn._array_api import maybe_jit
from nmfdnn._linalg import CholeskyJitterWarning
from nmfdnn.training import (
    autoencoder_init,
    batch_bounds,
    bias_reg_minibatch_step,
    original_minibatch_step,
    output_refit,
    prepare_inputs,
    random_weights,
    refit_output_layer,
    run_epochs,
    train_bias_reg,
    train_original,
)

relu = lambda A: np.maximum(A, 0.0)  # noqa: E731


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """OpenBLAS's threaded eigh/solve on small matrices is 10-100x slower than one thread on a
    busy 2-core machine (300x300 eigh: 25 ms vs 0.3-3 s); these tests do many small solves."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # BLAS and OpenMP (torch)
        yield


def _light_on_jax(problem, reason="op-by-op JAX compiles every primitive per shape: minutes "
                  "on 2 cores; the JAX path is covered by the step references and the jitted "
                  "training loop"):
    if problem.xp.__name__.startswith("jax"):
        pytest.skip(reason)


def _ref_bias_reg_step(W, X, Y, lam_w, lam_z):
    """Algorithm 3, one mini-batch, direct form (§2 Algorithms 1 and 2, written out)."""
    one = np.ones((1, X.shape[1]))
    tilde = lambda Z: np.vstack([Z, one])  # noqa: E731
    Z = [X]
    for Wi in W[:-1]:
        Z.append(relu(Wi @ tilde(Z[-1])))
    new = list(W)
    # Algorithm 1 (output layer)
    V = Z[-1]
    Vt_ = tilde(V)
    U = np.linalg.solve(Vt_ @ Vt_.T + lam_w * np.eye(Vt_.shape[0]), Vt_ @ Y.T).T
    Un = U[:, :-1]
    UtA, UtU = Un.T @ Y, Un.T @ U
    p, n = lambda A: (np.abs(A) + A) / 2, lambda A: (np.abs(A) - A) / 2
    V = V * np.sqrt((p(UtA) + n(UtU) @ Vt_) / (n(UtA) + p(UtU) @ Vt_ + lam_z * V
                                                  + np.finfo(float).eps))
    new[-1], target = U, V
    for j in range(len(W) - 2, 0, -1):
        V = Z[j]
        Vt_ = tilde(V)
        P = W[j] @ Vt_
        U = np.linalg.solve(Vt_ @ Vt_.T + lam_w * np.eye(Vt_.shape[0]),
                            Vt_ @ (P + target - relu(P)).T).T
        Un = U[:, :-1]
        R = target - relu(U @ Vt_)
        V = relu(V + np.linalg.solve(Un.T @ Un + lam_z * np.eye(Un.shape[1]), Un.T @ R))
        new[j], target = U, V
    Xt_ = tilde(X)
    P = W[0] @ Xt_
    new[0] = np.linalg.solve(Xt_ @ Xt_.T + lam_w * np.eye(Xt_.shape[0]),
                             Xt_ @ (P + target - relu(P)).T).T
    return new


def _setup(problem, rng, sizes, m, bias=True):
    n0 = sizes[0]
    X = rng.random((n0, m)) + 0.1
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)].T
    W = [rng.standard_normal((b, a + int(bias))) * np.sqrt(2 / a)
         for a, b in zip(sizes[:-1], sizes[1:])]
    return X, Y, W


@pytest.mark.parametrize("sizes", [[6, 8, 3], [6, 12, 5, 3]])
def test_bias_reg_step_matches_direct_reference(problem, rng, sizes, tol):
    """tau=0 on full-rank X: the reduced first-layer solve equals the direct ridge solve."""
    xp = problem.xp
    X, Y, W = _setup(problem, rng, sizes, m=40)
    Xd, Yd = problem.dev(X), problem.dev(Y)
    inputs = prepare_inputs(Xd, 0.0, xp=xp)
    assert inputs.rank == sizes[0]
    step = maybe_jit(lambda W_, V_, Y_: bias_reg_minibatch_step(
        W_, V_, Y_, inputs, lam_w=1e-2, lam_z=1e-3, xp=xp), xp)  # jitted on JAX, as in training
    new, loss = step([problem.dev(w) for w in W], inputs.Vt, Yd)
    ref = _ref_bias_reg_step([problem.host(w) for w in W], problem.host(X), problem.host(Y),
                             1e-2, 1e-3)
    rtol = 1e-7 if problem.name == "float64" else 2e-2
    for a, b in zip(new, ref):
        problem.assert_close(a, b, rtol=rtol, atol=rtol)
    # the loss is ½‖Y − output‖² with the starting weights
    Z = problem.host(X)
    Wh = [problem.host(w) for w in W]
    for Wi in Wh[:-1]:
        Z = relu(Wi[:, :-1] @ Z + Wi[:, -1:])
    out = Wh[-1][:, :-1] @ Z + Wh[-1][:, -1:]
    problem.assert_close(loss, 0.5 * np.sum((problem.host(Y) - out) ** 2), rtol=rtol)


def _ref_original_step(W, X, Y):
    pinv = np.linalg.pinv
    Z = [X]
    for Wi in W[:-1]:
        Z.append(relu(Wi @ Z[-1]))
    new = list(W)
    V = Z[-1]
    U = Y @ pinv(V)
    UtA, UtU = U.T @ Y, U.T @ U
    p, n = lambda A: (np.abs(A) + A) / 2, lambda A: (np.abs(A) - A) / 2
    V = V * np.sqrt((p(UtA) + n(UtU) @ V) / (n(UtA) + p(UtU) @ V + np.finfo(float).eps))
    new[-1], target = U, V
    for j in range(len(W) - 2, 0, -1):
        Zin = Z[j]
        Wj = W[j] + (target - relu(W[j] @ Zin)) @ pinv(Zin)
        Zin = relu(Zin + pinv(Wj) @ (target - relu(Wj @ Zin)))
        new[j], target = Wj, Zin
    new[0] = W[0] + (target - relu(W[0] @ X)) @ pinv(X)
    return new


def test_original_step_matches_pinv_reference(problem, rng):
    xp = problem.xp
    sizes = [5, 9, 7, 3]
    X, Y, W = _setup(problem, rng, sizes, m=60, bias=False)
    inputs = prepare_inputs(problem.dev(X), 0.0, xp=xp)
    step = maybe_jit(lambda W_, V_, Y_: original_minibatch_step(W_, V_, Y_, inputs, xp=xp), xp)
    new, _ = step([problem.dev(w) for w in W], inputs.Vt, problem.dev(Y))
    ref = _ref_original_step([problem.host(w) for w in W], problem.host(X), problem.host(Y))
    rtol = 1e-6 if problem.name == "float64" else 5e-2
    for a, b in zip(new, ref):
        problem.assert_close(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


def test_batch_bounds_cover_all():
    for m, s in [(60000, 5000), (1437, 100), (10, 10), (7, 3)]:
        b = batch_bounds(m, s)
        assert b[0][0] == 0 and b[-1][1] == m
        assert all(x[1] == y[0] for x, y in zip(b[:-1], b[1:]))
        assert max(hi - lo for lo, hi in b) <= s


def _toy(problem, rng, m=200):
    X = rng.random((4, m))
    y = (X[0] + X[1] > X[2] + X[3]).astype(int)
    return problem.dev(X), problem.dev(np.eye(2)[y].T), y


@pytest.mark.parametrize("method", ["bias-reg", "original"])
def test_training_reduces_loss_and_keeps_namespace(problem, rng, method):
    xp = problem.xp
    X, Y, y = _toy(problem, rng)
    bias = method == "bias-reg"
    W0 = random_weights([4, 30, 2], bias=bias, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    train = train_bias_reg if bias else train_original
    W, hist = train(X, Y, W0, batch_size=100, max_epochs=6, rng=np.random.default_rng(1), xp=xp)
    assert hist.n_epochs == 6
    assert hist.loss_curve[-1] < 0.6 * hist.loss_curve[0]
    for Wi, W0i in zip(W, W0):
        assert type(Wi) is type(X) and Wi.dtype == problem.dtype and Wi.shape == W0i.shape


def test_same_seed_same_result(problem, rng):
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng)

    def fit():
        W0 = random_weights([4, 20, 2], bias=True, rng=np.random.default_rng(3), xp=xp,
                            device=problem.device, dtype=problem.dtype)
        return train_bias_reg(X, Y, W0, batch_size=50, max_epochs=2,
                              rng=np.random.default_rng(4), xp=xp)[0]

    for a, b in zip(fit(), fit()):
        problem.assert_equal(a, b)


def test_validation_score_and_callback_stop(problem, rng):
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng)
    W0 = random_weights([4, 20, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    seen = []

    def callback(record, W):
        seen.append(record)
        return record.epoch == 3

    _, hist = train_bias_reg(
        X, Y, W0, batch_size=100, max_epochs=10, rng=np.random.default_rng(0),
        score=lambda W: xp.sum(W[-1][:, -1]), callback=callback, xp=xp)
    assert hist.n_epochs == 3 and hist.stopped_early
    assert [r.epoch for r in seen] == [1, 2, 3]
    assert all(isinstance(r.val_score, float) and isinstance(r.loss, float) for r in seen)


def test_divergence_names_epoch_and_layer(problem, rng):
    _light_on_jax(problem, "the fake step has Python side effects; JAX jits the step")
    xp = problem.xp
    X, Y, _ = _toy(problem, rng)
    inputs = prepare_inputs(X, 0.0, xp=xp)
    W0 = random_weights([4, 6, 5, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    calls = {"n": 0}

    def step(W, VJ, YJ):  # layer 2 (list index 1) breaks in the 2nd epoch, then it spreads
        calls["n"] += 1
        new, loss = bias_reg_minibatch_step(W, VJ, YJ, inputs, lam_w=1e-3, lam_z=1e-5, xp=xp)
        if calls["n"] == 3:
            new[1] = new[1] * float("nan")
        return new, loss

    with pytest.raises(NumericalError, match=r"epoch 2.*layer 2 of 3"):
        run_epochs(step, W0, Y, inputs, batch_size=100, max_epochs=5,
                   rng=np.random.default_rng(0), xp=xp)


def test_finite_divergence_is_warned_once(problem, rng):
    """Weights that get worse with finite values (the loss of epoch 3 is 30× the best earlier
    epoch's, epoch 4's more): one DivergenceWarning naming epoch 3; a run whose loss
    decreases gets none."""
    _light_on_jax(problem, "the fake step has Python side effects; JAX jits the step")
    xp = problem.xp
    X, Y, _ = _toy(problem, rng)
    inputs = prepare_inputs(X, 0.0, xp=xp)
    W0 = random_weights([4, 6, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    calls = {"n": 0}

    def step(W, VJ, YJ):  # 2 mini-batches per epoch; from epoch 3 the output blows up
        calls["n"] += 1
        new, loss = bias_reg_minibatch_step(W, VJ, YJ, inputs, lam_w=1e-3, lam_z=1e-5, xp=xp)
        return new, loss * (30.0 ** max(0, (calls["n"] - 3) // 2))

    with pytest.warns(nmfdnn.DivergenceWarning, match=r"epoch 3 .* times the best") as rec:
        run_epochs(step, W0, Y, inputs, batch_size=100, max_epochs=5,
                   rng=np.random.default_rng(0), xp=xp)
    assert sum(issubclass(w.category, nmfdnn.DivergenceWarning) for w in rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", nmfdnn.DivergenceWarning)
        train_bias_reg(X, Y, W0, batch_size=100, max_epochs=5, rng=np.random.default_rng(0),
                       xp=xp)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # expected
def test_real_divergence_is_an_error(problem, rng):
    """Huge unscaled inputs, no regularization: the activations overflow in the first
    mini-batch; training stops with a NumericalError naming the epoch and the layer."""
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng)
    X = X * (1e30 if problem.name == "float32" else 1e300)
    W0 = random_weights([4, 8, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    with pytest.raises(NumericalError, match=r"epoch 1: non-finite values in layer \d of 2"):
        train_bias_reg(X, Y, W0, batch_size=100, max_epochs=2, lam_w=0.0, lam_z=0.0,
                       rng=np.random.default_rng(0), xp=xp)


def test_bad_training_arguments(problem, rng):
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=50)
    W0 = random_weights([4, 8, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    kw = dict(rng=np.random.default_rng(0), xp=xp)
    with pytest.raises(ValueError, match="batch_size=51 is larger"):
        train_bias_reg(X, Y, W0, batch_size=51, **kw)
    with pytest.raises(ValueError, match="lam_w"):
        train_bias_reg(X, Y, W0, batch_size=10, lam_w=-1.0, **kw)
    with pytest.raises(ValueError, match="columns"):
        train_bias_reg(X, Y[:, :40], W0, batch_size=10, **kw)
    with pytest.raises(ValueError, match="shape"):
        train_bias_reg(X, Y, W0[::-1], batch_size=10, **kw)


@pytest.mark.parametrize("bias", [True, False])
def test_autoencoder_init(problem, rng, bias):
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=120)
    inputs = prepare_inputs(X, 0.0, xp=xp)
    sizes = [4, 10, 6, 2]
    W = autoencoder_init(inputs, Y, sizes, bias=bias, lam_w=1e-3 if bias else 0.0,
                         n_samples=1000, iter_ae=3, rng=np.random.default_rng(0), xp=xp)
    for Wi, a, b in zip(W, sizes[:-1], sizes[1:]):
        assert Wi.shape == (b, a + int(bias))
        assert np.isfinite(to_numpy(Wi)).all()
    # the output layer is the (ridge) least-squares fit of Y on the last hidden layer
    Xh, Yh = to_numpy(X).astype(float), to_numpy(Y).astype(float)
    Wh = [to_numpy(w).astype(float) for w in W]
    Z = Xh
    for Wi in Wh[:-1]:
        Z = relu(Wi[:, :-1] @ Z + Wi[:, -1:]) if bias else relu(Wi @ Z)
    Zt = np.vstack([Z, np.ones((1, Z.shape[1]))]) if bias else Z
    ref = np.linalg.lstsq(Zt.T, Yh.T, rcond=None)[0].T
    fit_ours = np.linalg.norm(Yh - Wh[-1] @ Zt)
    fit_ref = np.linalg.norm(Yh - ref @ Zt)
    assert fit_ours <= fit_ref * 1.05 + 1e-3


def test_autoencoder_encoder_solves_need_no_jitter(problem, rng):
    """Hidden features with a large mean and fewer directions than units (a rank-5 input, 60
    units): the encoder's ridge solves, formed around the mean in float64 for float32 data
    (``nonlinear_u_step``), are positive definite at λ_W = 10⁻³.  Formed as is in float32 the
    Gram matrix lost λ_W to rounding and needed a jitter in every iteration; on
    Fashion-MNIST with 2000 samples that degraded the initial network (docs/mnist.md)."""
    _light_on_jax(problem)
    X = problem.dev(10.0 + rng.random((30, 5)) @ rng.random((5, 400)))
    Y = problem.dev(np.eye(3)[rng.integers(0, 3, 400)].T)
    inputs = prepare_inputs(X, 1e-3, xp=problem.xp)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CholeskyJitterWarning)
        W = autoencoder_init(inputs, Y, [30, 60, 40, 3], bias=True, lam_w=1e-3, n_samples=400,
                             rng=np.random.default_rng(1), xp=problem.xp)
    assert all(np.isfinite(to_numpy(Wi)).all() for Wi in W)


def test_autoencoder_layers_without_iterations_keep_their_random_weights(problem, rng):
    """``iter_ae`` per hidden layer: a layer with 0 iterations keeps the random weights that
    :func:`random_weights` draws after the sample (same generator), the layers above are fitted
    on its features, and the output layer is still the ridge least-squares fit on the last
    hidden layer (checked against ``numpy.linalg.lstsq`` on the sampled columns)."""
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=150)
    inputs = prepare_inputs(X, 0.0, xp=xp)
    sizes, lam = [4, 12, 8, 2], 1e-3
    W = autoencoder_init(inputs, Y, sizes, bias=True, lam_w=lam, n_samples=100,
                         iter_ae=(0, 3), rng=np.random.default_rng(0), xp=xp)
    ref_rng = np.random.default_rng(0)
    drawn = ref_rng.choice(150, size=100, replace=False)
    W_rand = random_weights(sizes, bias=True, rng=ref_rng, xp=xp, device=problem.device,
                            dtype=problem.dtype)
    np.testing.assert_array_equal(to_numpy(W[0]), to_numpy(W_rand[0]))
    assert not np.allclose(to_numpy(W[1]), to_numpy(W_rand[1]))  # fitted, not random
    Xs = to_numpy(X).astype(float)[:, drawn]
    Ys = to_numpy(Y).astype(float)[:, drawn]
    Z = Xs
    for Wi in W[:-1]:
        Wi = to_numpy(Wi).astype(float)
        Z = relu(Wi[:, :-1] @ Z + Wi[:, -1:])
    Zt = np.vstack([Z, np.ones((1, Z.shape[1]))])
    # ridge on every entry of W̃_3: min ‖Y − W̃ Z̃‖² + λ‖W̃‖² as an augmented lstsq
    A = np.vstack([Zt.T, np.sqrt(lam) * np.eye(Zt.shape[0])])
    B = np.vstack([Ys.T, np.zeros((Zt.shape[0], Ys.shape[0]))])
    ref = np.linalg.lstsq(A, B, rcond=None)[0].T
    tol = 2e-3 if problem.dtype == problem.xp.float32 else 1e-8
    np.testing.assert_allclose(to_numpy(W[-1]), ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_autoencoder_iterations_are_checked(problem, rng):
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=60)
    inputs = prepare_inputs(X, 0.0, xp=xp)
    kw = dict(bias=True, n_samples=50, rng=np.random.default_rng(0), xp=xp)
    with pytest.raises(ValueError, match="2 hidden layers"):
        autoencoder_init(inputs, Y, [4, 6, 5, 2], iter_ae=(1, 2, 3), **kw)
    with pytest.raises(ValueError, match="non-negative"):
        autoencoder_init(inputs, Y, [4, 6, 5, 2], iter_ae=(1, -1), **kw)


def test_weight_average_and_relaxation(problem, rng):
    """average=β returns the EMA of the per-mini-batch weights with the warm-up
    β_t = min(β, t/(t + 9)); relax(epoch)=ω damps each update (checked against a loop over
    the plain step)."""
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=120)
    inputs = prepare_inputs(X, 0.0, xp=xp)
    W0 = random_weights([4, 6, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)

    def step(W, VJ, YJ):
        return bias_reg_minibatch_step(W, VJ, YJ, inputs, lam_w=1e-2, lam_z=1e-3, xp=xp)

    W_avg, _ = run_epochs(step, W0, Y, inputs, batch_size=40, max_epochs=2,
                          rng=np.random.default_rng(5), average=0.3, relax=lambda e: 0.5 / e,
                          xp=xp)
    # reference: the same permutations, relaxation and average, by hand
    perm_rng = np.random.default_rng(5)
    W, avg, t = W0, None, 0
    for epoch in (1, 2):
        perm = perm_rng.permutation(120)
        for b in range(3):
            J = xp.asarray(perm[40 * b: 40 * (b + 1)], device=problem.device)
            new, _ = step(W, xp.take(inputs.Vt, J, axis=1), xp.take(Y, J, axis=1))
            W = [Wo + (0.5 / epoch) * (Wn - Wo) for Wo, Wn in zip(W, new)]
            t += 1
            beta = [None, None, 2 / 11, 3 / 12, 0.3, 0.3, 0.3][t]  # min(0.3, t/(t+9))
            avg = W if avg is None else [beta * a + (1 - beta) * w for a, w in zip(avg, W)]
    for a, b in zip(W_avg, avg):
        problem.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _three_layer_run(problem, rng):
    """Targets, low-rank input, initial weights ([4, 6, 5, 2]) and the plain mini-batch step of
    a 120-sample toy: what the tests of the loop's updates compare against a hand loop."""
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=120)
    inputs = prepare_inputs(X, 0.0, xp=xp)
    W0 = random_weights([4, 6, 5, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)

    def step(W, VJ, YJ):
        return bias_reg_minibatch_step(W, VJ, YJ, inputs, lam_w=1e-2, lam_z=1e-3, xp=xp)

    return Y, inputs, W0, step


def test_omega_relaxes_hidden_layers_only(problem, rng):
    """omega=ω: W_i ← W_i + ω (W_i^new − W_i) for the hidden layers after every mini-batch; the
    output layer keeps its solve (checked against a loop over the plain step)."""
    _light_on_jax(problem)
    xp = problem.xp
    Y, inputs, W0, step = _three_layer_run(problem, rng)
    W_run, _ = run_epochs(step, W0, Y, inputs, batch_size=60, max_epochs=2,
                          rng=np.random.default_rng(5), omega=1.5, xp=xp)
    perm_rng = np.random.default_rng(5)
    W = W0
    for _ in (1, 2):
        perm = perm_rng.permutation(120)
        for b in range(2):
            J = xp.asarray(perm[60 * b: 60 * (b + 1)], device=problem.device)
            new, _ = step(W, xp.take(inputs.Vt, J, axis=1), xp.take(Y, J, axis=1))
            W = [Wo + 1.5 * (Wn - Wo) for Wo, Wn in zip(W[:-1], new[:-1])] + [new[-1]]
    for a, b in zip(W_run, W):
        problem.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_momentum_is_a_heavy_ball_on_the_hidden_layers(problem, rng):
    """momentum=μ, momentum_epochs=E: W_i ← W_i + ω (W_i^new − W_i) + μ (W_i − W_i^prev) for the
    hidden layers in epochs 1 … E, the sequence running on across epochs; the output layer keeps
    its solve, and from epoch E + 1 the plain ω-step (checked against a loop over the plain
    step)."""
    _light_on_jax(problem)
    xp = problem.xp
    Y, inputs, W0, step = _three_layer_run(problem, rng)
    W_run, _ = run_epochs(step, W0, Y, inputs, batch_size=40, max_epochs=3,
                          rng=np.random.default_rng(5), omega=1.5, momentum=0.6,
                          momentum_epochs=2, xp=xp)
    perm_rng = np.random.default_rng(5)
    W, W_before = W0, None
    for epoch in (1, 2, 3):
        perm = perm_rng.permutation(120)
        for b in range(3):
            J = xp.asarray(perm[40 * b: 40 * (b + 1)], device=problem.device)
            new, _ = step(W, xp.take(inputs.Vt, J, axis=1), xp.take(Y, J, axis=1))
            hidden = [Wo + 1.5 * (Wn - Wo) for Wo, Wn in zip(W[:-1], new[:-1])]
            if epoch <= 2 and W_before is not None:
                hidden = [h + 0.6 * (Wo - Wb) for h, Wo, Wb in zip(hidden, W[:-1], W_before)]
            W_before, W = W[:-1], hidden + [new[-1]]
    for a, b in zip(W_run, W):
        problem.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # without the momentum the weights differ: the test can see it
    W_plain, _ = run_epochs(step, W0, Y, inputs, batch_size=40, max_epochs=3,
                            rng=np.random.default_rng(5), omega=1.5, xp=xp)
    assert not np.allclose(to_numpy(W_plain[0]), to_numpy(W_run[0]), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kw, error, name", [
    *[(dict(omega=w), ValueError, "omega") for w in (0.0, 2.0, -1.0, "1.5", True)],
    *[(dict(momentum=mu), ValueError, "momentum") for mu in (1.0, -0.1, "0.5", True)],
    (dict(momentum=0.5, momentum_epochs=-1), ValueError, "momentum_epochs"),
    (dict(momentum=0.5, momentum_epochs=1.5), TypeError, "momentum_epochs"),
])
def test_bad_omega_or_momentum(problem, rng, kw, error, name):
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=40)
    W0 = random_weights([4, 3, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    with pytest.raises(error, match=f"^{name} must"):
        train_bias_reg(X, Y, W0, batch_size=20, max_epochs=1, rng=np.random.default_rng(0),
                       xp=xp, **kw)


@pytest.mark.parametrize("bias", [True, False])
def test_refit_output_layer_is_the_ridge_solution(problem, rng, bias):
    """refit_output_layer = ridge least squares of Y on the network's features of all samples
    (numpy.linalg.lstsq on the augmented system), accumulated over column blocks."""
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=90)
    W0 = random_weights([4, 7, 5, 2], bias=bias, rng=np.random.default_rng(2), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    lam = 0.3
    W = refit_output_layer(W0, X, Y, lam_w=lam, batch_size=25, xp=xp)  # 4 blocks
    for a, b in zip(W[:-1], W0[:-1]):
        problem.assert_equal(a, b)
    Z = to_numpy(X).astype(np.float64)
    for Wi in (to_numpy(w).astype(np.float64) for w in W0[:-1]):
        Z = relu(Wi[:, :-1] @ Z + Wi[:, -1:]) if bias else relu(Wi @ Z)
    Zt = np.vstack([Z, np.ones((1, Z.shape[1]))]) if bias else Z
    k = Zt.shape[0]
    A = np.vstack([Zt.T, np.sqrt(lam) * np.eye(k)])
    B = np.vstack([to_numpy(Y).T.astype(np.float64), np.zeros((k, Y.shape[0]))])
    ref = np.linalg.lstsq(A, B, rcond=None)[0].T
    eps = float(xp.finfo(problem.dtype).eps)
    problem.assert_close(W[-1], ref, atol=1e3 * eps)  # a dead unit's coefficient is ~0


@pytest.mark.parametrize("bias", [True, False])
def test_refit_in_reduced_coordinates_is_exact_in_span_q(problem, rng, bias):
    """refit_output_layer(inputs=…) evaluates the first layer as (W₁ Q diag(σ)) Vt: for first
    layers whose rows lie in span(Q) (what the trainers' steps produce) it is the ridge
    solution on the network's true features of the full X (numpy.linalg.lstsq reference)."""
    xp = problem.xp
    n0, m = 12, 90
    # an input of numerical rank 5 plus a small residual: τ keeps rank 5 < n0
    Ux = np.linalg.qr(rng.standard_normal((n0, 5)))[0]
    Vx = np.linalg.qr(rng.standard_normal((m, 5)))[0]
    X = Ux @ np.diag([5.0, 4.0, 3.0, 2.0, 1.5]) @ Vx.T + 1e-3 * rng.random((n0, m))
    Y = np.eye(2)[rng.integers(0, 2, m)].T
    inputs = prepare_inputs(problem.dev(X), 0.05, xp=xp)
    assert inputs.rank == 5
    Q = to_numpy(inputs.Q).astype(np.float64)
    W0 = [rng.standard_normal((b, a + int(bias))) / np.sqrt(a)
          for a, b in zip([n0, 7, 6], [7, 6, 2])]
    W0[0][:, :n0] = W0[0][:, :n0] @ Q @ Q.T  # rows in span(Q)
    lam = 0.3
    W = refit_output_layer([problem.dev(w) for w in W0], problem.dev(X), problem.dev(Y),
                           lam_w=lam, batch_size=25, inputs=inputs, xp=xp)
    Z = X
    for Wi in W0[:-1]:
        Z = relu(Wi[:, :-1] @ Z + Wi[:, -1:]) if bias else relu(Wi @ Z)
    Zt = np.vstack([Z, np.ones((1, m))]) if bias else Z
    k = Zt.shape[0]
    ref = np.linalg.lstsq(np.vstack([Zt.T, np.sqrt(lam) * np.eye(k)]),
                          np.vstack([Y.T, np.zeros((k, 2))]), rcond=None)[0].T
    rtol = 1e-8 if problem.dtype == xp.float64 else 1e-3
    problem.assert_close(W[-1], ref, rtol=rtol, atol=rtol * np.abs(ref).max())


@pytest.mark.parametrize("reduced", [True, False])
def test_output_refit_on_samples_is_the_ridge_solution_on_every_kth(problem, rng, reduced):
    """output_refit(samples=s): the ridge solution on the samples 0, k, 2k, … with
    k = ⌈m/s⌉ (numpy.linalg.lstsq reference on those columns), with and without the low-rank
    input; without ``samples`` it is the refit on all of them."""
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng, m=90)
    inputs = prepare_inputs(X, 0.0, xp=xp) if reduced else None
    W0 = random_weights([4, 7, 2], bias=True, rng=np.random.default_rng(2), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    if reduced:  # rows of W₁ in span(Q) (the trainers' steps keep them there)
        Q = to_numpy(inputs.Q).astype(np.float64)
        w0 = to_numpy(W0[0]).astype(np.float64)
        w0[:, :-1] = w0[:, :-1] @ Q @ Q.T
        W0[0] = problem.dev(w0)
    lam = 0.3
    finish = output_refit(X, Y, lam, 25, bias=True, inputs=inputs, samples=40, xp=xp)
    W = finish(W0)  # k = ⌈90/40⌉ = 3: the samples 0, 3, …, 87
    cols = np.arange(0, 90, 3)
    Z = to_numpy(X).astype(np.float64)[:, cols]
    w = to_numpy(W0[0]).astype(np.float64)
    Zt = np.vstack([relu(w[:, :-1] @ Z + w[:, -1:]), np.ones((1, cols.size))])
    k = Zt.shape[0]
    Yc = to_numpy(Y).astype(np.float64)[:, cols]
    ref = np.linalg.lstsq(np.vstack([Zt.T, np.sqrt(lam) * np.eye(k)]),
                          np.vstack([Yc.T, np.zeros((k, 2))]), rcond=None)[0].T
    rtol = 1e-8 if problem.dtype == xp.float64 else 1e-3
    problem.assert_close(W[-1], ref, rtol=rtol, atol=rtol * np.abs(ref).max())
    full = output_refit(X, Y, lam, 25, bias=True, inputs=inputs, samples=90, xp=xp)(W0)
    problem.assert_close(full[-1], refit_output_layer(W0, X, Y, lam_w=lam, batch_size=25,
                                                      inputs=inputs, xp=xp)[-1])


def test_interim_refit_scores_the_epochs_before_the_last(problem, rng):
    """train_bias_reg(refit_samples=s): the epochs before the last are scored with the refit
    on the subsample, the weights returned are refitted on all samples (the same weights as
    without ``refit_samples``), also when a callback stops the run early."""
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng)
    W0 = random_weights([4, 20, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                        device=problem.device, dtype=problem.dtype)
    seen = {}

    def score(W):
        seen.setdefault("W", []).append(W[-1])
        return xp.sum(W[-1])

    def run(samples, stop_at=None):
        seen.clear()
        callback = None if stop_at is None else (lambda record, W: record.epoch == stop_at)
        return train_bias_reg(X, Y, W0, batch_size=50, max_epochs=3, lam_w=1e-2,
                              rng=np.random.default_rng(1), refit_output=True,
                              refit_samples=samples, score=score, callback=callback, xp=xp)

    W_all, _ = run(None)
    scored_all = list(seen["W"])
    W_sub, _ = run(60)
    scored_sub = list(seen["W"])
    for a, b in zip(W_all, W_sub):  # the weights returned do not depend on refit_samples
        problem.assert_equal(a, b)
    problem.assert_equal(scored_sub[-1], scored_all[-1])  # the last epoch: all samples
    for a, b in zip(scored_sub[:-1], scored_all[:-1]):  # before: the subsample's refit
        assert not np.allclose(to_numpy(a), to_numpy(b))
    # stopped by the callback after epoch 2 of 3: the weights returned are refitted on all
    W_stop, hist = run(60, stop_at=2)
    assert hist.n_epochs == 2
    W_two, _ = train_bias_reg(X, Y, W0, batch_size=50, max_epochs=2, lam_w=1e-2,
                              rng=np.random.default_rng(1), refit_output=True, xp=xp)
    for a, b in zip(W_stop, W_two):
        problem.assert_equal(a, b)


def test_refit_output_lowers_the_objective(problem, rng):
    """train_bias_reg(refit_output=True): the output layer minimizes (9) over W̃_d, so the
    full-data objective is not above the one of the same run without the refit."""
    _light_on_jax(problem)
    xp = problem.xp
    X, Y, _ = _toy(problem, rng)
    lam = 1e-2

    def objective(W):
        Z = to_numpy(X).astype(np.float64)
        Wh = [to_numpy(w).astype(np.float64) for w in W]
        for Wi in Wh[:-1]:
            Z = relu(Wi[:, :-1] @ Z + Wi[:, -1:])
        out = Wh[-1][:, :-1] @ Z + Wh[-1][:, -1:]
        return 0.5 * np.sum((to_numpy(Y) - out) ** 2) + 0.5 * lam * np.sum(Wh[-1] ** 2)

    runs = []
    for refit in (False, True):
        W0 = random_weights([4, 20, 2], bias=True, rng=np.random.default_rng(0), xp=xp,
                            device=problem.device, dtype=problem.dtype)
        W, _ = train_bias_reg(X, Y, W0, batch_size=50, max_epochs=2, lam_w=lam,
                              rng=np.random.default_rng(1), refit_output=refit, xp=xp)
        runs.append(W)
    for a, b in zip(runs[0][:-1], runs[1][:-1]):  # the hidden layers are untouched
        problem.assert_equal(a, b)
    assert objective(runs[1]) <= objective(runs[0]) * (1 + 1e-5)
    assert objective(runs[1]) < 0.999 * objective(runs[0])  # and it does move on this toy
