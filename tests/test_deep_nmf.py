"""Deep NMF (§7): pooling against a loop reference, its adjoint against finite differences,
each multiplicative update of eq. (4) not increasing the energy, the estimators, bad input."""

import numpy as np
import pytest

from nmfdnn import SSNMF, DeepNMF, to_numpy
from nmfdnn.factorizations import (
    deep_nmf_objective,
    max_pool,
    max_pool_adjoint,
    pooling_support,
)
from nmfdnn.factorizations._deep_nmf import (
    deep_nmf_update_a,
    deep_nmf_update_b,
    deep_nmf_update_s,
    deep_nmf_update_top,
)

SEGMENTS = np.repeat(np.arange(4), [3, 5, 1, 6])  # 15 columns in 4 segments


def _pool_reference(S, seg, w):
    P = np.zeros_like(S)
    N = S.shape[1]
    for k in range(S.shape[0]):
        for j in range(N):
            P[k, j] = max(S[k, i] for i in range(max(0, j - w), min(N, j + w + 1))
                          if seg[i] == seg[j])
    return P


@pytest.mark.parametrize("w", [0, 1, 2])
def test_max_pool_matches_loop_reference(problem, rng, w):
    S = rng.random((4, SEGMENTS.size))
    sup = pooling_support(SEGMENTS, w, xp=problem.xp, device=problem.device)
    P, _ = max_pool(problem.dev(S), sup, xp=problem.xp)
    tol = 1e-12 if problem.name == "float64" else 1e-6
    problem.assert_close(P, _pool_reference(problem.host(S), SEGMENTS, w), rtol=0, atol=tol)


def test_pool_adjoint_is_transpose_of_jacobian(problem, rng):
    # ⟨G, J_p dS⟩ = ⟨J_pᵀ G, dS⟩, with J_p dS by a finite difference (p is piecewise linear)
    if problem.name != "float64":
        pytest.skip("finite differences need float64")
    S = rng.random((3, SEGMENTS.size))
    G = rng.random(S.shape)
    dS = rng.standard_normal(S.shape)
    sup = pooling_support(SEGMENTS, 2, xp=problem.xp, device=problem.device)
    P, arg = max_pool(problem.dev(S), sup, xp=problem.xp)
    h = 1e-7
    Jd = (to_numpy(max_pool(problem.dev(S + h * dS), sup, xp=problem.xp)[0]) - to_numpy(P)) / h
    adj = to_numpy(max_pool_adjoint(problem.dev(G), arg, 2, xp=problem.xp))
    assert np.sum(adj * dS) == pytest.approx(np.sum(G * Jd), rel=1e-5)


def _state(rng, n0=12, ranks=(5, 3), K=3):
    N = SEGMENTS.size
    X = rng.random((n0, N))
    M = (rng.random((n0, N)) > 0.1).astype(float)
    Y = np.eye(K)[rng.integers(0, K, N)].T
    Lm = (rng.random((1, N)) < 0.6).astype(float)
    dims = [n0] + list(ranks)
    As = [rng.random((dims[i], dims[i + 1])) + 0.1 for i in range(len(ranks))]
    Ss = [rng.random((r, N)) + 0.1 for r in ranks]
    B = rng.random((K, ranks[-1])) + 0.1
    return X, M, Y, Lm, As, Ss, B


@pytest.mark.parametrize("w", [0, 1])
def test_each_update_does_not_increase_energy(problem, rng, w):
    xp, dev = problem.xp, problem.dev
    X, M, Y, Lm, As, Ss, B = _state(rng)
    X, M, Y, Lm, B = dev(X), dev(M), dev(Y), dev(Lm), dev(B)
    As, Ss = [dev(A) for A in As], [dev(S) for S in Ss]
    sup = pooling_support(SEGMENTS, w, xp=xp, device=problem.device) if w else None
    kw = dict(M=M, Lmask=Lm, lam=2.0, support=sup, xp=xp)
    eps = float(xp.finfo(problem.dtype).eps)
    slack = 1e-10 if problem.name == "float64" else 1e-5

    def energy():
        return float(deep_nmf_objective(X, As, Ss, B, Y, **kw))

    def inputs():
        out = [X]
        for S in Ss[:-1]:
            out.append(S if sup is None else max_pool(S, sup, xp=xp)[0])
        return out

    checked = 0
    for sweep in range(15):
        for i in range(len(As)):
            Mi = M if i == 0 else None
            before = energy()
            As[i] = deep_nmf_update_a(inputs()[i], As[i], Ss[i], M=Mi, eps=eps, xp=xp)
            after = energy()
            assert after <= before * (1 + slack), ("A", i, sweep, before, after)
            before = after
            if i < len(As) - 1:
                Ss[i] = deep_nmf_update_s(inputs()[i], As[i], Ss[i], As[i + 1], Ss[i + 1],
                                          M=Mi, support=sup, eps=eps, xp=xp)
            else:
                Ss[i] = deep_nmf_update_top(inputs()[i], As[i], Ss[i], B, Y, M=Mi, Lmask=Lm,
                                            lam=2.0, eps=eps, xp=xp)
            after = energy()
            assert after <= before * (1 + slack), ("S", i, sweep, before, after)
            checked += 2
        before = energy()
        B = deep_nmf_update_b(B, Ss[-1], Y, Lmask=Lm, eps=eps, xp=xp)
        after = energy()
        assert after <= before * (1 + slack), ("B", sweep, before, after)
    assert checked == 60


def _blobs(rng, n_per=40, K=3, m=20):
    """Non-negative data with K classes, each a distinct non-negative pattern plus noise."""
    centers = rng.random((K, m)) ** 3 * 3
    y = np.repeat(np.arange(K), n_per)
    X = centers[y] + 0.3 * rng.random((K * n_per, m))
    return X, y


def test_ssnmf_and_deep_nmf_classify_hidden_labels(problem, rng):
    X, y = _blobs(rng)
    y_obs = y.copy()
    hidden = rng.random(y.size) < 0.7
    y_obs[hidden] = -1
    for est in (SSNMF(4, lam=5.0, max_iter=60, init_iter=30, random_state=0),
                DeepNMF((6, 4), lam=5.0, max_iter=60, init_iter=30, random_state=0),
                DeepNMF((6, 4), pool_width=1, lam=5.0, max_iter=60, init_iter=30,
                        random_state=0)):
        segments = np.arange(y.size) // 4 if est.pool_width else None
        est.fit(problem.dev(X), y_obs, segments=segments)
        acc = np.mean(est.transduction_[hidden] == y[hidden])
        assert acc > 0.9, (type(est).__name__, est.pool_width, acc)
        assert est.loss_curve_[-1] <= est.loss_curve_[0]
        assert est.coef_.dtype == problem.dtype
        assert all(bool(problem.xp.all(S >= 0)) for S in est.latents_)
    pred = est.predict(problem.dev(X[:12]), segments=np.arange(12) // 4)
    assert pred.shape == (12,)


@pytest.mark.parametrize("bad", ["negative", "nan", "mask_shape", "no_labels", "rank",
                                 "segments"])
def test_deep_nmf_bad_input(bad, rng):
    X, y = _blobs(rng, n_per=5)
    y = y.copy()
    kw, fit_kw = dict(n_components=(4, 2), pool_width=1, max_iter=2, init_iter=2), {}
    if bad == "negative":
        X[0, 0] = -1
    elif bad == "nan":
        X[0, 0] = np.nan
    elif bad == "mask_shape":
        fit_kw["mask"] = np.ones((X.shape[0], X.shape[1] + 1))
    elif bad == "no_labels":
        y[:] = -1
    elif bad == "rank":
        kw["n_components"] = (4, 0)
    else:
        fit_kw["segments"] = np.zeros(3)
    match = {"negative": "non-negative", "nan": "NaN", "mask_shape": "mask must have the shape",
             "no_labels": "no labeled sample", "rank": "n_components",
             "segments": r"segments must have one id per sample \(15\), got 3"}
    with pytest.raises(ValueError, match=match[bad]):
        DeepNMF(**kw).fit(X, y, **fit_kw)
