"""The autoencoder initialization's decoder steps (§3) against a float64 NumPy reference in the
full input coordinates, on every backend."""

import numpy as np
import pytest

from nmfdnn import to_numpy
from nmfdnn.training._autoencoder import _semi_nmf_code_steps


def _ref_semi_nmf(X, Z, n_steps, eps_dtype):
    """Semi-NMF steps on X ≈ D Z written out (ALGORITHMS.md §1.1) with a ridge decoder solve
    D = X Zᵀ (Z Zᵀ + δI)⁻¹, δ = n·eps·tr(Z Zᵀ), in the n0 input coordinates."""
    p = lambda A: (np.abs(A) + A) / 2  # noqa: E731
    q = lambda A: (np.abs(A) - A) / 2  # noqa: E731
    for _ in range(n_steps):
        G = Z @ Z.T
        n = G.shape[0]
        delta = n * eps_dtype * np.trace(G)
        D = np.linalg.solve(G + delta * np.eye(n), Z @ X.T).T
        DtX, DtD = D.T @ X, D.T @ D
        Z = Z * np.sqrt((p(DtX) + q(DtD) @ Z) / (q(DtX) + p(DtD) @ Z + eps_dtype))
    return Z


@pytest.mark.parametrize("n_steps", [1, 3])
def test_reduced_semi_nmf_steps_match_the_full_coordinates(xp, device, dtype, n_steps):
    """Decoding X = Q diag(σ) V in its r coordinates (``‖X − Q D′ Z‖ = ‖diag(σ) V − D′ Z‖``)
    gives the same code Z as semi-NMF on X itself (n0 = 30 > r = 4, a wider code n = 12)."""
    rng = np.random.default_rng(0)
    n0, r, n, s = 30, 4, 12, 200
    Q, _ = np.linalg.qr(rng.standard_normal((n0, r)))
    sigma = np.array([5.0, 3.0, 1.5, 0.7])
    V = rng.standard_normal((r, s))
    X = (Q * sigma) @ V  # any sign: the semi-NMF case
    Z0 = rng.uniform(0.1, 1.0, (n, s))
    dtype = "float32" if dtype == xp.float32 else "float64"
    eps = float(np.finfo(dtype).eps)
    ref = _ref_semi_nmf(X, Z0, n_steps, eps)
    A1 = xp.asarray((sigma[:, None] * V).astype(dtype), device=device)
    Z = _semi_nmf_code_steps(A1, xp.asarray(Z0.astype(dtype), device=device), n_steps, xp=xp)
    got = to_numpy(Z).astype(float)
    assert got.shape == (n, s) and (got >= 0).all()
    tol = 1e-9 if dtype == "float64" else 2e-3
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())


def _capture_training(monkeypatch, method):
    """Replace the estimators' trainer of ``method`` by one that records its keyword arguments
    (and returns the initial weights) and spy on the autoencoder initialization: the returned
    dict gets the trainer's keywords and, when the autoencoder ran, ``"ae_lam_w"`` (its λ_W)."""
    import nmfdnn.estimators._nmf_network as mod
    from nmfdnn.training import TrainingHistory

    seen = {}

    def fake_train(X, Y, W, **kw):
        seen.update(kw)
        return W, TrainingHistory()

    real_ae = mod.autoencoder_init

    def fake_ae(*args, **kw):
        seen["ae_lam_w"] = kw["lam_w"]
        return real_ae(*args, **kw)

    monkeypatch.setattr(mod, "train_bias_reg" if method == "bias-reg" else "train_original",
                        fake_train)
    monkeypatch.setattr(mod, "autoencoder_init", fake_ae)
    return seen


@pytest.mark.parametrize("method", ["bias-reg", "original"])
@pytest.mark.parametrize("batch_size, many", [(20, True), (25, True), (27, False), (80, False)])
def test_auto_settings_follow_the_number_of_mini_batches(monkeypatch, method, batch_size, many):
    """init/omega/average/momentum="auto": the autoencoder, ω = 1.8, β = 0.9 and μ = 0.7 for
    2 epochs (either method) from 4 mini-batches per epoch (80 samples: batch ≤ 26 gives ≥ 4),
    else random, 1, 0 and 0; explicit values are passed through unchanged."""
    from nmfdnn.datasets import make_disk
    from nmfdnn.estimators import NMFNetworkClassifier

    seen = _capture_training(monkeypatch, method)
    X, y, _, _ = make_disk(n_train=80, random_state=0)
    NMFNetworkClassifier((7,), method=method, batch_size=batch_size, max_epochs=1,
                         random_state=0).fit(X, y)
    on = many
    assert ("ae_lam_w" in seen) is on
    assert (seen["omega"], seen["average"]) == ((1.8, 0.9) if on else (1.0, 0.0))
    assert (seen["momentum"], seen["momentum_epochs"]) == ((0.7, 2) if on else (0.0, 2))
    seen.clear()
    NMFNetworkClassifier((7,), method=method, batch_size=batch_size, max_epochs=1, init="random",
                         omega=1.25, average=0.5, momentum=0.3, momentum_epochs=None,
                         random_state=0).fit(X, y)
    assert "ae_lam_w" not in seen and (seen["omega"], seen["average"]) == (1.25, 0.5)
    assert (seen["momentum"], seen["momentum_epochs"]) == (0.3, None)


@pytest.mark.parametrize("hidden, batch_size, expected", [
    ((7,), 20, 1e-3), ((7, 5), 20, 1e-3),            # one or two hidden layers: 10⁻³
    ((7, 5, 3), 20, 3e-2), ((7, 5, 3, 3), 20, 3e-2),  # three or more, ≥ 4 mini-batches
    ((7, 5, 3), 27, 1e-3),                             # three, but 3 mini-batches per epoch
])
def test_auto_alpha_W_follows_depth_and_mini_batches(monkeypatch, hidden, batch_size, expected):
    """alpha_W="auto": λ_W = 3·10⁻² from three hidden layers with ≥ 4 mini-batches per epoch,
    10⁻³ otherwise, in the trainer and in the autoencoder; an explicit value passes through."""
    from nmfdnn.datasets import make_disk
    from nmfdnn.estimators import NMFNetworkClassifier

    seen = _capture_training(monkeypatch, "bias-reg")
    X, y, _, _ = make_disk(n_train=80, random_state=0)
    NMFNetworkClassifier(hidden, batch_size=batch_size, max_epochs=1, random_state=0).fit(X, y)
    assert seen["lam_w"] == expected
    assert seen.get("ae_lam_w", expected) == expected
    seen.clear()
    NMFNetworkClassifier(hidden, batch_size=batch_size, max_epochs=1, alpha_W=0.25,
                         random_state=0).fit(X, y)
    assert seen["lam_w"] == 0.25


@pytest.mark.parametrize("dtype, rcond, expected", [("float32", "auto", 1e-3),
                                                     ("float64", "auto", None),
                                                     ("float32", 0.05, 0.05)])
def test_original_scheme_receives_the_pseudo_inverse_cut_off(monkeypatch, dtype, rcond,
                                                            expected):
    """rcond="auto" is 10⁻³ in float32 (the Gram route's sqrt(n·eps) drops most directions of
    the hidden outputs, docs/mnist.md) and the trainers' default in float64; a number is passed
    through; bias-reg ignores it."""
    import nmfdnn.estimators._nmf_network as mod
    from nmfdnn.datasets import make_disk
    from nmfdnn.estimators import NMFNetworkClassifier
    from nmfdnn.training import TrainingHistory

    seen = {}

    def fake_train(X, Y, W, **kw):
        seen.update(kw)
        return W, TrainingHistory()

    monkeypatch.setattr(mod, "train_original", fake_train)
    monkeypatch.setattr(mod, "train_bias_reg", fake_train)
    X, y, _, _ = make_disk(n_train=80, random_state=0)
    NMFNetworkClassifier((7,), method="original", rcond=rcond, dtype=dtype, max_epochs=1,
                         random_state=0).fit(X, y)
    assert seen["rcond"] == expected
    seen.clear()
    NMFNetworkClassifier((7,), rcond=rcond, dtype=dtype, max_epochs=1, random_state=0).fit(X, y)
    assert "rcond" not in seen
