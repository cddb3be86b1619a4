"""``nmfdnn demo``: every solver's printed objective falls, and stays between the bounds any
rank-r factorization of the digits must respect (Eckart–Young below, the zero factorization
above)."""

import re

import numpy as np
import pytest

from nmfdnn.cli import main

SOLVERS = ["NMF", "semi-NMF (", "semi-NMF + bias", "nonlinear semi-NMF"]


def _objectives(text):
    """``{solver line prefix: [objective, ...]}`` parsed from the demo's output."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"(.+?)\s+objective every (\d+) it: (.*)\(\s*[\d.]+ s\)\s*$", line)
        if m:
            values = [float(v) for v in m.group(3).split(",") if v.strip()]
            out[m.group(1).strip()] = values
    return out


def _run(capsys, *args):
    rc = main(["demo", "--rank", "4", "--iters", "20", "--every", "5", *args])
    assert rc == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("args", [(), ("--backend", "array_api_strict", "--dtype", "float64")],
                         ids=["numpy-float32", "strict-float64"])
def test_demo_objectives_decrease(capsys, args):
    text = _run(capsys, *args)
    assert "digits: 1797 samples x 64 features" in text and "rank=4" in text
    objs = _objectives(text)
    assert len(objs) == 4, text
    for prefix, (name, values) in zip(SOLVERS, objs.items()):
        assert name.startswith(prefix), (prefix, name)
        assert len(values) == 4, (name, values)  # 20 iterations, one value every 5
        assert all(b < a for a, b in zip(values, values[1:])), (name, values)


def test_demo_objectives_respect_the_rank_bounds(capsys):
    """½‖X − Ŵ‖² over rank-r Ŵ is at least ½Σ_{i>r}σ_i² (Eckart–Young); the objectives are
    below the zero factorization's ½‖X‖² (X = digits / 16, samples as columns)."""
    from sklearn.datasets import load_digits

    X = load_digits().data.T / 16.0
    Xc = X - X.mean(axis=1, keepdims=True)
    r = 4

    def tail(A, rank):
        s = np.linalg.svd(A, compute_uv=False)
        return 0.5 * np.sum(s[rank:] ** 2)

    objs = list(_objectives(_run(capsys)).values())
    rel = 5e-4  # the values are printed with 4 significant digits
    bounds = [(tail(X, r), 0.5 * np.sum(X**2)),      # NMF on X
              (tail(Xc, r), 0.5 * np.sum(Xc**2)),    # semi-NMF on the centered X
              (tail(Xc, r + 1), 0.5 * np.sum(Xc**2))]  # + bias: rank r + 1, ridge terms ≥ 0
    for values, (low, high) in zip(objs, bounds):
        assert low * (1 - rel) <= min(values) and max(values) <= high * (1 + rel), (
            values, low, high)


def test_demo_bad_backend_is_one_line(capsys):
    assert main(["demo", "--backend", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown backend 'nope'" in err and "Traceback" not in err
