"""Run under ``mpiexec -n 2`` by tests/test_distributed.py: ``python _mpi_worker.py CASE OUTDIR``.

Cases
-----
fit      every estimator fitted data-parallel on uneven shards (rank 0 holds 5 rows, so some
         mini-batches have none of its samples); each rank saves its fitted arrays to
         OUTDIR/fit_<rank>.npz, compared by the test with one-process fits of all the rows.
nan      rank 1's rows contain a NaN: every rank must raise the same ValueError (each rank
         writes what it raised to OUTDIR/rank<r>.txt).
empty    rank 1 holds no row: the same.
width    rank 1's rows have one feature fewer: the same.
crash    rank 1 raises inside its work while rank 0 waits in an all-reduce: abort_on_error
         must end both.
ckpt     checkpoints under MPI (a network and the backprop baseline): 3 epochs uninterrupted,
         and 2 epochs then a resumed fit to 3 from the checkpoint; each rank saves both
         weights to OUTDIR/ckpt_<rank>.npz.  Rank 1 alone gets another checkpoint path in a
         run, which must stay unwritten (rank 0 writes).  Resuming with other shards must
         raise the same ValueError on every rank (OUTDIR/ckpt_err<r>.txt).
"""

from __future__ import annotations

import sys
import time

import numpy as np

N0 = 5  # rows of rank 0 (the rest go to rank 1)


def data(seed=0, m=241, n=12, k=3):
    """A small float64 classification/regression problem (blobs) with held-out rows."""
    rs = np.random.default_rng(seed)
    centers = rs.normal(size=(k, n)) * 2.0
    y = rs.integers(0, k, m + 60)
    X = np.abs(centers[y] + rs.normal(size=(m + 60, n)))
    t = X[:, :2] @ np.array([1.0, -0.5]) + 0.1 * rs.normal(size=m + 60)
    return X[:m], y[:m], t[:m], X[m:], y[m:], t[m:]


def estimators():
    """name -> (factory, kind) of the estimators compared one process vs two."""
    from nmfdnn import (
        NMF,
        BackpropClassifier,
        NMFNetworkClassifier,
        NMFNetworkRegressor,
        SemiNMF,
    )

    f64 = {"dtype": "float64", "random_state": 0}
    return {
        "bias_reg_ae": (lambda: NMFNetworkClassifier(
            (20, 10), batch_size=80, max_epochs=3, init="autoencoder", ae_samples=100,
            ae_iter=5, refit_samples=100, **f64), "clf"),
        "original": (lambda: NMFNetworkClassifier(
            (20, 10), method="original", batch_size=120, max_epochs=2, **f64), "clf"),
        "regressor_es": (lambda: NMFNetworkRegressor(
            (30,), batch_size=100, max_epochs=3, early_stopping=True, validation_fraction=0.2,
            n_iter_no_change=10, alpha_W=1e-2, alpha_Z=1e-2, **f64), "reg"),
        "backprop": (lambda: BackpropClassifier(
            (16,), batch_size=25, max_epochs=2, learning_rate=1e-2, **f64), "clf"),
        "nmf_random": (lambda: NMF(4, init="random", max_iter=60, **f64), "nmf"),
        "nmf_nndsvda": (lambda: NMF(4, init="nndsvda", max_iter=60, dtype="float64"), "nmf"),
        "semi_nmf": (lambda: SemiNMF(4, fit_intercept=True, alpha_u=1e-3, max_iter=60, **f64),
                     "nmf"),
    }


def fitted_arrays(est, kind, X, y, t, Xv, yv, tv, comm=None):
    """Fit ``est`` and return its fitted arrays and scores as a flat dict of NumPy arrays."""
    from nmfdnn import to_numpy

    out = {}
    if kind == "nmf":
        W = est.fit_transform(X, comm=comm)
        out["W"] = to_numpy(W)
        out["components"] = to_numpy(est.components_)
        out["err"] = np.array(est.reconstruction_err_)
        return out
    if kind == "clf":
        est.fit(X, y, X_val=Xv, y_val=yv, comm=comm)
    else:
        est.fit(X, t, comm=comm)
    for i, (c, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        out[f"coef{i}"] = to_numpy(c)
        out[f"intercept{i}"] = to_numpy(b)
    out["loss"] = np.array(est.loss_curve_)
    if est.validation_scores_ is not None:
        out["val"] = np.array(est.validation_scores_)
    return out


def bounds(m, rank):
    return (0, N0) if rank == 0 else (N0, m)


def main(case, outdir):
    from mpi4py import MPI

    from nmfdnn.distributed import Communicator, abort_on_error

    comm = Communicator(MPI.COMM_WORLD)
    r = comm.rank
    X, y, t, Xv, yv, tv = data()
    lo, hi = bounds(X.shape[0], r)
    vlo, vhi = (0, 20) if r == 0 else (20, Xv.shape[0])
    if case == "fit":
        res = {}
        for name, (make, kind) in estimators().items():
            arrays = fitted_arrays(make(), kind, X[lo:hi], y[lo:hi], t[lo:hi], Xv[vlo:vhi],
                                   yv[vlo:vhi], tv[vlo:vhi], comm=comm)
            res.update({f"{name}/{k}": v for k, v in arrays.items()})
        from nmfdnn import NMFNetworkClassifier
        from nmfdnn.distributed import global_score

        clf = NMFNetworkClassifier((10,), batch_size=50, max_epochs=1, random_state=0)
        clf.fit(X[lo:hi], y[lo:hi], comm=comm)
        res["global_score"] = np.array(global_score(clf, Xv[vlo:vhi], yv[vlo:vhi], comm))
        res["bytes"] = np.array(comm.bytes_reduced)
        np.savez(f"{outdir}/fit_{r}.npz", **res)
        return 0
    from nmfdnn import NMFNetworkClassifier

    clf = NMFNetworkClassifier((10,), batch_size=50, max_epochs=2, random_state=0)
    if case in ("nan", "empty", "width"):
        if r == 1 and case == "nan":
            X = X.copy()
            X[hi - 3, 4] = np.nan
        if r == 1 and case == "empty":
            lo = hi
        if r == 1 and case == "width":
            X = X[:, 1:]
        try:
            clf.fit(X[lo:hi], y[lo:hi], comm=comm)
        except ValueError as exc:
            message, code = f"ValueError: {exc}", 3
        else:
            message, code = "no error", 0
        with open(f"{outdir}/rank{r}.txt", "w") as f:  # one file per rank: no interleaving
            f.write(message)
        return code
    if case == "crash":
        with abort_on_error(comm):
            if r == 1:
                time.sleep(0.5)
                raise RuntimeError("worker failure on rank 1")
            comm.allreduce(np.ones(3))  # rank 0 would wait here forever
        return 0
    if case == "ckpt":
        return _checkpoints(comm, X[lo:hi], y[lo:hi], X, y, outdir)
    raise SystemExit(f"unknown case {case}")


def _checkpoints(comm, X, y, X_all, y_all, outdir):
    from nmfdnn import BackpropClassifier, NMFNetworkClassifier, to_numpy

    r = comm.rank
    makers = {
        "nmf": lambda **kw: NMFNetworkClassifier((10,), batch_size=50, omega=1.5, average=0.5,
                                                 dtype="float64", random_state=0, **kw),
        "bp": lambda **kw: BackpropClassifier((8,), batch_size=25, learning_rate=1e-2,
                                              dtype="float64", random_state=0, **kw),
    }
    res = {}
    for name, make in makers.items():
        own = f"{outdir}/{name}_full.ckpt" if r == 0 else f"{outdir}/{name}_never_rank1.ckpt"
        full = make(max_epochs=3, checkpoint=own).fit(X, y, comm=comm)
        path = f"{outdir}/{name}.ckpt"
        make(max_epochs=2, checkpoint=path).fit(X, y, comm=comm)
        resumed = make(max_epochs=3, checkpoint=path, resume=True).fit(X, y, comm=comm)
        for key, est in (("full", full), ("resumed", resumed)):
            for i, c in enumerate(est.coefs_):
                res[f"{name}/{key}/coef{i}"] = to_numpy(c)
            res[f"{name}/{key}/loss"] = np.array(est.loss_curve_)
    np.savez(f"{outdir}/ckpt_{r}.npz", **res)
    # the same checkpoint with other shards (rank 0 now holds 9 rows): refused on every rank
    lo, hi = (0, 9) if r == 0 else (9, X_all.shape[0])
    try:
        makers["nmf"](max_epochs=3, checkpoint=f"{outdir}/nmf.ckpt", resume=True).fit(
            X_all[lo:hi], y_all[lo:hi], comm=comm)
    except ValueError as exc:
        message = f"ValueError: {exc}"
    else:
        message = "no error"
    with open(f"{outdir}/ckpt_err{r}.txt", "w") as f:
        f.write(message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
