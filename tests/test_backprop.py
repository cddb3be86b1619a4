"""Backprop baseline (§5): gradients against finite differences and torch.autograd, Adam against
torch.optim.Adam."""

import numpy as np
import pytest

from nmfdnn import to_numpy
from nmfdnn._host import check_random_state
from nmfdnn.baselines import adam_init, adam_step, glorot_init, loss_and_gradients
from nmfdnn.testing import assert_close, assert_equal


def _net(xp, device, dtype, sizes=(4, 6, 5, 3), m=7, seed=0):
    rng = check_random_state(seed)
    params = glorot_init(sizes, rng=rng, xp=xp, device=device, dtype=dtype)
    # non-zero biases so that their gradients are exercised
    params = [(W, b + 0.1) for W, b in params]
    X = xp.asarray(rng.standard_normal((sizes[0], m)).astype("float64"), device=device)
    X = xp.astype(X, dtype)
    labels = rng.integers(0, sizes[-1], size=m)
    Y = xp.asarray(np.eye(sizes[-1])[:, labels], dtype=dtype, device=device)
    return params, X, Y


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_gradient_matches_finite_differences(xp, device, loss):
    """Central differences in float64 on every backend (numpy and torch included)."""
    dtype = xp.float64
    params, X, Y = _net(xp, device, dtype)
    _, grads = loss_and_gradients(params, X, Y, loss=loss, xp=xp)
    host = [[to_numpy(p).copy() for p in layer] for layer in params]
    h = 1e-6

    def loss_at(hparams):
        dev = [tuple(xp.asarray(p, device=device) for p in layer) for layer in hparams]
        return float(loss_and_gradients(dev, X, Y, loss=loss, xp=xp)[0])

    for i, layer in enumerate(host):
        for j, p in enumerate(layer):
            fd = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                plus = [[q.copy() for q in lay] for lay in host]
                minus = [[q.copy() for q in lay] for lay in host]
                plus[i][j][idx] += h
                minus[i][j][idx] -= h
                fd[idx] = (loss_at(plus) - loss_at(minus)) / (2 * h)
            assert_close(grads[i][j], fd, rtol=1e-5, atol=1e-8, xp=xp, device=device,
                         dtype=dtype, err_msg=f"layer {i} {'Wb'[j]}")


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_gradient_matches_torch_autograd(loss):
    torch = pytest.importorskip("torch")
    from nmfdnn import namespace_from_name

    xp = namespace_from_name("numpy")
    params, X, Y = _net(xp, "cpu", xp.float64, m=11)
    value, grads = loss_and_gradients(params, X, Y, loss=loss, xp=xp)
    tp = [[torch.tensor(p, requires_grad=True) for p in layer] for layer in params]
    Z = torch.tensor(X)
    for W, b in tp[:-1]:
        Z = torch.relu(W @ Z + b)
    O = tp[-1][0] @ Z + tp[-1][1]
    Yt = torch.tensor(Y)
    if loss == "mse":
        L = ((O - Yt) ** 2).sum() / (2 * X.shape[1])
    else:
        L = torch.nn.functional.cross_entropy(O.T, Yt.argmax(0))
    L.backward()
    assert float(value) == pytest.approx(L.item(), rel=1e-12)
    for layer, tlayer in zip(grads, tp):
        for g, t in zip(layer, tlayer):
            assert_close(g, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_adam_matches_torch_optim_adam(xp, device, dtype):
    torch = pytest.importorskip("torch")
    params, X, Y = _net(xp, device, dtype)
    state = adam_init(params, xp=xp)
    tp = [[torch.tensor(to_numpy(p).astype(np.float64), requires_grad=True) for p in layer]
          for layer in params]
    opt = torch.optim.Adam([p for layer in tp for p in layer], lr=1e-2, betas=(0.9, 0.999),
                           eps=1e-8)
    for _ in range(5):
        _, grads = loss_and_gradients(params, X, Y, xp=xp)
        opt.zero_grad()
        for layer, glayer in zip(tp, grads):
            for t, g in zip(layer, glayer):
                t.grad = torch.tensor(to_numpy(g).astype(np.float64))
        opt.step()
        params, state = adam_step(params, grads, state, lr=1e-2, xp=xp)
        # keep the reference on the same trajectory (same grads next step)
        with torch.no_grad():
            for layer, t_layer in zip(params, tp):
                for p, t in zip(layer, t_layer):
                    t.copy_(torch.tensor(to_numpy(p).astype(np.float64)))
    rtol = 1e-10 if dtype == xp.float64 else 1e-4
    for layer, t_layer in zip(params, tp):
        for p, t in zip(layer, t_layer):
            assert_close(p, t.detach().numpy(), rtol=rtol, atol=rtol, xp=xp, device=device,
                         dtype=dtype)
    assert state.t == 5


def test_adam_training_reduces_loss(xp, device, dtype):
    params, X, Y = _net(xp, device, dtype, m=40)
    state = adam_init(params, xp=xp)
    first = float(loss_and_gradients(params, X, Y, xp=xp)[0])
    for _ in range(200):
        _, grads = loss_and_gradients(params, X, Y, xp=xp)
        params, state = adam_step(params, grads, state, lr=1e-2, xp=xp)
    last = float(loss_and_gradients(params, X, Y, xp=xp)[0])
    assert last < 0.2 * first


def test_unknown_loss():
    from nmfdnn import namespace_from_name

    xp = namespace_from_name("numpy")
    params, X, Y = _net(xp, "cpu", xp.float64)
    with pytest.raises(ValueError, match="loss must be"):
        loss_and_gradients(params, X, Y, loss="hinge", xp=xp)


def test_epoch_equals_explicit_minibatch_steps(xp, device):
    """train_epoch = the mini-batch loop written out (order respected, last batch shorter)."""
    params, X, Y = _net(xp, device, xp.float64, m=25)
    order = np.random.default_rng(1).permutation(25)
    from nmfdnn.baselines import train_epoch

    p1, s1, mean_loss = train_epoch(params, adam_init(params, xp=xp), X, Y,
                                    xp.asarray(order, device=device), batch_size=10, lr=1e-2,
                                    xp=xp)
    p2, s2 = params, adam_init(params, xp=xp)
    losses = []
    for start in (0, 10, 20):
        J = xp.asarray(order[start:min(start + 10, 25)], device=device)
        value, grads = loss_and_gradients(p2, xp.take(X, J, axis=1), xp.take(Y, J, axis=1),
                                          xp=xp)
        losses.append(float(value))
        p2, s2 = adam_step(p2, grads, s2, lr=1e-2, xp=xp)
    assert s1.t == 3
    assert float(mean_loss) == pytest.approx(np.mean(losses), rel=1e-12)
    for l1, l2 in zip(p1, p2):
        for a, b in zip(l1, l2):
            assert_close(a, b, rtol=1e-12)  # same namespace, device and dtype


def test_adam_moments_never_subnormal(xp, device, dtype):
    """Zero gradients make Adam's moments decay geometrically into the subnormal range, where
    x86 arithmetic is 10-100x slower; adam_step flushes them to zero (far below any step).

    With g = 0 the moments are m ← β₁m and v ← β₂v: the expected moments are those products
    computed on the host in the same dtype, with every subnormal result replaced by 0, and the
    normal results unchanged (bit for bit)."""
    name = "float32" if dtype == xp.float32 else "float64"
    tiny = np.finfo(name).tiny  # the smallest normal number
    # moments around the smallest normal: some decay below it, some stay above
    m0 = (tiny * np.array([[1.05, 1.2], [2.0, 1.01], [1e3, 0.0]])).astype(name)
    v0 = (tiny * np.array([[1.0005, 1.01], [0.5, 3.0], [1.0, 1e6]])).astype(name)
    params = [(xp.ones((3, 2), dtype=dtype, device=device),
               xp.ones((3, 1), dtype=dtype, device=device))]
    state = adam_init(params, xp=xp)
    state.m = [(xp.asarray(m0, device=device), state.m[0][1])]
    state.v = [(xp.asarray(v0, device=device), state.v[0][1])]
    zeros = [tuple(xp.zeros_like(a) for a in params[0])]
    new_params, new = adam_step(params, zeros, state, beta1=0.9, beta2=0.999, xp=xp)

    def flushed(a):
        return np.where(np.abs(a) < tiny, np.zeros_like(a), a)

    m_raw = m0 * np.asarray(0.9, dtype=name)
    v_raw = v0 * np.asarray(0.999, dtype=name)
    # the data do reach the subnormal range (else this test could not see a missing flush)
    assert np.any((m_raw != 0) & (np.abs(m_raw) < tiny))
    assert np.any((v_raw != 0) & (np.abs(v_raw) < tiny))
    assert_equal(new.m[0][0], flushed(m_raw), xp=xp, device=device, dtype=dtype)
    assert_equal(new.v[0][0], flushed(v_raw), xp=xp, device=device, dtype=dtype)
    # the parameters do not move: the step of a flushed moment is exactly 0
    assert_equal(new_params[0][0], np.ones((3, 2)), xp=xp, device=device, dtype=dtype)


def test_row_major_layout(xp, device):
    """row_major gives the C-contiguous layout (NumPy's take would copy a transposed view whole
    on every mini-batch) and keeps the values."""
    from nmfdnn._ops import row_major

    host = np.arange(12.0).reshape(3, 4)
    A = xp.asarray(host, device=device).T  # a transposed view
    B = row_major(A, xp=xp)
    assert_equal(B, host.T, xp=xp, device=device)
    if isinstance(B, np.ndarray):
        assert not A.flags["C_CONTIGUOUS"] and B.flags["C_CONTIGUOUS"]


def test_minibatch_step_runs_under_jax_jit():
    """The BP mini-batch step is a pure function of arrays (no host synchronization): jitted
    on JAX it gives NumPy's step (float64), Adam's step count traced as an array."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from nmfdnn._array_api import namespace_from_name
    from nmfdnn._optim import AdamState
    from nmfdnn.baselines import backprop_minibatch_step

    results = {}
    for name in ("numpy", "jax"):
        xp = namespace_from_name(name)
        params, X, Y = _net(xp, None if name == "numpy" else jax.devices("cpu")[0], xp.float64)
        state = adam_init(params, xp=xp)

        def step(p, m, v, t, XJ, YJ, xp=xp):
            p, st, value = backprop_minibatch_step(p, AdamState(m=m, v=v, t=t), XJ, YJ,
                                                   loss="cross_entropy", lr=1e-2,
                                                   weight_decay=1e-3, xp=xp)
            return p, st.m, st.v, value

        if name == "jax":
            step = jax.jit(step)
        p, m, v, t = params, state.m, state.v, xp.asarray(0)
        for _ in range(3):
            p, m, v, value = step(p, m, v, t, X, Y)
            t = t + 1
        results[name] = [np.asarray(a) for layer in p for a in layer] + [np.asarray(value)]
    for a, b in zip(results["jax"], results["numpy"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
