"""Every constructor parameter of the NMF-family estimators reaches the solver it is meant for.

In the manner of tensorly's ``assert_class_wrapper_correctly_passes_arguments``: the solver
functions the estimator's module calls are replaced by spies that record their arguments (and
then run the real solver), the estimator is built with every parameter set to a value other than
its default, and each parameter is looked for in the recorded calls.  A table per estimator
lists where each parameter must arrive; a parameter missing from the table fails
``test_every_parameter_is_checked``, so a new parameter cannot go unchecked.
"""

import copy
import sys

import numpy as np
import pytest
from array_api_compat import device as device_of

from nmfdnn import NMF, SSNMF, DeepNMF, SemiNMF, WeaklyNMF
from nmfdnn._array_api import namespace_name

STRICT = "array_api_strict"


class Spy:
    """Replace ``module.<name>`` by a wrapper recording each call, then calling the original."""

    def __init__(self, monkeypatch, module, name):
        self.calls = []
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            # Generators are copied: their state at the call is what the solver draws from
            self.calls.append((args, {k: copy.deepcopy(v) if isinstance(v, np.random.Generator)
                                      else v for k, v in kwargs.items()}))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    @property
    def args(self):
        assert self.calls, "the solver was never called"
        return self.calls[0][0]

    @property
    def kwargs(self):
        assert self.calls, "the solver was never called"
        return self.calls[0][1]


def _spies(monkeypatch, Est, names):
    module = sys.modules[Est.__module__]  # where the estimator looks its solvers up
    return {n: Spy(monkeypatch, module, n) for n in names}


def _in_backend(a, dtype="float64", device="device1"):
    """``a`` is an array-api-strict array of ``dtype`` on the fake device ``device``."""
    from array_api_compat import array_namespace, is_array_api_obj

    return (is_array_api_obj(a) and namespace_name(array_namespace(a)) == STRICT
            and str(a.dtype).endswith(dtype) and device in str(device_of(a)))


def _same_generator(rng, seed):
    """``rng`` is a fresh ``numpy.random.default_rng(seed)`` (no draw made yet)."""
    return (isinstance(rng, np.random.Generator)
            and rng.bit_generator.state == np.random.default_rng(seed).bit_generator.state)


#: backend, device and dtype: float32 host data fitted in float64 on array-api-strict's
#: second (fake) device; every estimator of the family takes these three.
BACKEND = dict(backend=STRICT, device="device1", dtype="float64")


def _data(n=12, m=16, seed=0):
    return np.random.default_rng(seed).random((n, m)).astype(np.float32)


# --- NMF ----------------------------------------------------------------------------------------

NMF_PARAMS = dict(n_components=3, init="random", max_iter=7, tol=1e-3, check_every=3,
                  random_state=5, verbose=1, forget_factor=0.5, **BACKEND)


def _nmf_checks(sp, out):
    init, run = sp["nmf_init"], sp["nmf"]
    A = init.args[0]
    return {
        "n_components": init.args[1] == 3 and run.args[1].shape == (16, 3),
        "init": init.kwargs["init"] == "random",
        "max_iter": run.kwargs["n_iter"] == 7,
        "tol": run.kwargs["tol"] == 1e-3,
        "check_every": run.kwargs["check_every"] == 3,
        "random_state": init.kwargs["random_state"] == 5,
        "verbose": out.startswith("NMF: 7 iterations"),
        # partial_fit's alone: tests/test_nmf_estimators.py::test_partial_fit_is_the_online_update
        "forget_factor": True,
        "backend": _in_backend(A) and _in_backend(run.args[0]),
        "device": _in_backend(run.args[1]) and _in_backend(run.args[2]),
        "dtype": str(run.args[0].dtype).endswith("float64"),
    }


# --- SemiNMF ------------------------------------------------------------------------------------

SEMI_PARAMS = dict(n_components=3, fit_intercept=True, alpha_u=0.25, alpha_v=0.125, max_iter=7,
                   tol=1e-3, check_every=3, random_state=5, verbose=1, **BACKEND)


def _semi_checks(sp, out):
    from nmfdnn import to_numpy

    run = sp["semi_nmf"]
    A, U0, V0 = run.args
    v0_ref = np.random.default_rng(5).uniform(0.0, 1.0, (3, 12)) + 0.2
    return {
        "n_components": V0.shape == (3, 12),
        "fit_intercept": U0.shape == (16, 4),  # Ũ = [U, b]
        "alpha_u": run.kwargs["lam_u"] == 0.25,
        "alpha_v": run.kwargs["lam_v"] == 0.125,
        "max_iter": run.kwargs["n_iter"] == 7,
        "tol": run.kwargs["tol"] == 1e-3,
        "check_every": run.kwargs["check_every"] == 3,
        "random_state": np.allclose(to_numpy(_to_cpu(V0)), v0_ref, rtol=1e-15, atol=0),
        "verbose": out.startswith("SemiNMF: 7 iterations"),
        "backend": _in_backend(A),
        "device": _in_backend(U0) and _in_backend(V0),
        "dtype": str(A.dtype).endswith("float64"),
    }


def _to_cpu(a):
    import array_api_strict

    return a.to_device(array_api_strict.Device("CPU_DEVICE"))


# --- WeaklyNMF ----------------------------------------------------------------------------------

# two configurations: the deep model (latent_layer) and the deconvolutional one (stride, ...)
WEAK_DEEP = dict(n_components=(3, 4), loss="l2", eta=0.25, alpha=0.05, decoupled=False,
                 learning_rate=2e-3, batch_size=6, max_epochs=3, latent_layer=2,
                 transform_epochs=2, random_state=5, verbose=1, **BACKEND)
WEAK_DECONV = dict(n_components=2, stride=2, image_shape=(4, 4), latent="raw", max_epochs=3,
                   batch_size=6, random_state=5, **BACKEND)


def _weak_checks(sp, out, sp2, Z2):
    init, train = sp["weak_nmf_init"], sp["weak_nmf_train"]
    fit_kw = train.calls[0][1]
    tr_kw = train.calls[1][1]  # the transform call
    dinit, dtrain = sp2["deconv_init"], sp2["weak_nmf_train"]
    return {
        "n_components": init.args[2] == [3, 4] or tuple(init.args[2]) == (3, 4),
        "loss": fit_kw["loss"] == "l2",
        "eta": fit_kw["eta"] == 0.25,
        "alpha": fit_kw["lam"] == 0.05,
        "decoupled": fit_kw["decoupled"] is False,
        "learning_rate": fit_kw["lr"] == 2e-3,
        "batch_size": fit_kw["batch_size"] == 6,
        "max_epochs": fit_kw["n_epochs"] == 3 and fit_kw["update_w"] is True,
        "latent_layer": Z2[0] == (12, 4),  # layer 2's latent: r_2 = 4 values per sample
        "transform_epochs": tr_kw["n_epochs"] == 2 and tr_kw["update_w"] is False,
        "random_state": _same_generator(init.kwargs["random_state"], 5),
        "verbose": out.startswith("WeaklyNMF: 3 epochs"),
        "backend": _in_backend(train.args[0]),
        "device": all(_in_backend(W) for W in train.args[1]) and _in_backend(train.args[2]),
        "dtype": str(train.args[0].dtype).endswith("float64"),
        # deconvolutional configuration
        "stride": dinit.args[3] == 2 and dtrain.kwargs["stride"] == 2,
        "image_shape": tuple(dinit.args[0]) == (4, 4),
        "latent": Z2[1] == (12, 4 * 2 * 2 * 2),  # "raw": the 4 s² r kernel entries
    }


# --- DeepNMF and SSNMF --------------------------------------------------------------------------

DEEP_PARAMS = dict(n_components=(4, 3), pool_width=1, lam=2.5, max_iter=4, init_iter=6,
                   check_every=2, random_state=5, verbose=1, **BACKEND)
SSNMF_PARAMS = dict(n_components=3, lam=2.5, max_iter=4, init_iter=6, check_every=2,
                    random_state=5, verbose=1, **BACKEND)


def _deep_checks(sp, out, Est):
    init, run, deep = sp["nmf_init"], sp["nmf"], sp["deep_nmf"]
    ranks = (4, 3) if Est is DeepNMF else (3,)
    kw = deep.kwargs
    checks = {
        "n_components": tuple(c[0][1] for c in init.calls) == ranks
        and [tuple(S.shape) for S in deep.args[2]] == [(r, 12) for r in ranks],
        "lam": kw["lam"] == 2.5,
        "max_iter": kw["n_iter"] == 4,
        "init_iter": all(c[1]["n_iter"] == 6 for c in run.calls) and len(run.calls) == len(ranks),
        "check_every": kw["check_every"] == 2,
        "random_state": _same_generator(init.kwargs["random_state"], 5),
        "verbose": out.startswith(f"{Est.__name__}: final energy"),
        "backend": _in_backend(deep.args[0]),
        "device": all(_in_backend(A) for A in deep.args[1]) and _in_backend(deep.args[3]),
        "dtype": str(deep.args[0].dtype).endswith("float64"),
    }
    if Est is DeepNMF:  # the support of a window of half-width w has 2w + 1 rows
        checks["pool_width"] = (kw["support"] is not None
                                and tuple(kw["support"].shape) == (3, 12))
    return checks


def _labels():
    y = np.repeat([0, 1, 2], 4)
    y[::3] = -1
    return y


# --- the tests ----------------------------------------------------------------------------------

#: the configurations each estimator is fitted with
CONFIGS = {
    NMF: [NMF_PARAMS],
    SemiNMF: [SEMI_PARAMS],
    WeaklyNMF: [WEAK_DEEP, WEAK_DECONV],
    DeepNMF: [DEEP_PARAMS],
    SSNMF: [SSNMF_PARAMS],
}


@pytest.mark.parametrize("Est", list(CONFIGS), ids=lambda E: E.__name__)
def test_every_parameter_is_checked(Est):
    """The configurations set every constructor parameter, each to a value other than its
    default (a parameter left at its default could not be told from one that was dropped)."""
    defaults = Est().get_params()
    configs = CONFIGS[Est]
    covered = set().union(*configs)
    assert covered == set(defaults), sorted(covered ^ set(defaults))
    same = [k for c in configs for k, v in c.items() if v == defaults[k]]
    assert not same, f"parameters left at their default: {same}"


def _failed(checks, Est):
    missing = set(Est().get_params()) - set(checks)
    assert not missing, f"no check for {sorted(missing)}"
    return [k for k, ok in checks.items() if not ok]


def test_nmf_forwards_every_parameter(monkeypatch, capsys):
    sp = _spies(monkeypatch, NMF, ["nmf_init", "nmf"])
    NMF(**NMF_PARAMS).fit(_data())
    failed = _failed(_nmf_checks(sp, capsys.readouterr().out), NMF)
    assert not failed, f"NMF parameters that did not reach the solver: {failed}"


def test_semi_nmf_forwards_every_parameter(monkeypatch, capsys):
    sp = _spies(monkeypatch, SemiNMF, ["semi_nmf"])
    SemiNMF(**SEMI_PARAMS).fit(_data())
    failed = _failed(_semi_checks(sp, capsys.readouterr().out), SemiNMF)
    assert not failed, f"SemiNMF parameters that did not reach the solver: {failed}"


def test_weakly_nmf_forwards_every_parameter(monkeypatch, capsys):
    sp = _spies(monkeypatch, WeaklyNMF, ["weak_nmf_init", "weak_nmf_train"])
    est = WeaklyNMF(**WEAK_DEEP)
    X = _data()
    est.fit(X)
    out = capsys.readouterr().out
    Z = est.transform(X)
    monkeypatch.undo()
    sp2 = _spies(monkeypatch, WeaklyNMF, ["deconv_init", "weak_nmf_train"])
    Zd = WeaklyNMF(**WEAK_DECONV).fit_transform(X)
    failed = _failed(_weak_checks(sp, out, sp2, (tuple(Z.shape), tuple(Zd.shape))), WeaklyNMF)
    assert not failed, f"WeaklyNMF parameters that did not reach the solver: {failed}"


@pytest.mark.parametrize("Est", [DeepNMF, SSNMF], ids=lambda E: E.__name__)
def test_deep_nmf_forwards_every_parameter(monkeypatch, capsys, Est):
    sp = _spies(monkeypatch, Est, ["nmf_init", "nmf", "deep_nmf"])
    Est(**CONFIGS[Est][0]).fit(_data(), _labels())
    failed = _failed(_deep_checks(sp, capsys.readouterr().out, Est), Est)
    assert not failed, f"{Est.__name__} parameters that did not reach the solver: {failed}"
