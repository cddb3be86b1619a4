"""Data-parallel training over MPI (nmfdnn.distributed).

The MPI tests start ``mpiexec -n 2`` themselves (the ``mpi`` extra installs mpi4py and the
mpich wheel, which provides ``mpiexec``) and compare the fitted models of two processes, each
holding part of the rows, with one process fitting all rows (the reference: the one-process
code path, no communicator).  They are skipped when mpi4py or mpiexec is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import _mpi_worker as worker
import numpy as np
import pytest

from nmfdnn.distributed import Partition, shard, shard_indices
from nmfdnn.training import batch_bounds

HERE = Path(__file__).parent


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None,
                               reason="mpi4py or mpiexec missing (pip install 'nmfdnn[mpi]')")


def _run(case, outdir, timeout):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(HERE / "_mpi_worker.py"),
                           case, str(outdir)], capture_output=True, text=True, timeout=timeout,
                          env=env)
    return proc, time.perf_counter() - t0


# --- host-side partition logic (no MPI needed) -------------------------------------------------


def test_shard_indices_cover_rows_in_rank_order():
    blocks = [shard_indices(10, rank=k, size=3) for k in range(3)]
    assert blocks == [(0, 3), (3, 6), (6, 10)]
    X = np.arange(20).reshape(10, 2)
    parts = [shard(X, rank=k, size=3) for k in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), X)
    with pytest.raises(ValueError, match="rank must be in"):
        shard_indices(10, rank=3, size=3)


def test_local_batches_partition_every_global_batch():
    """Each global mini-batch is the disjoint union of the ranks' members (uneven blocks,
    one rank with 2 samples so that some batches hold none of them)."""
    counts = [2, 17, 12]
    m = sum(counts)
    offsets = np.cumsum([0] + counts)
    parts = [Partition(n_total=m, index=np.arange(offsets[k], offsets[k + 1]),
                       counts=tuple(counts)) for k in range(3)]
    perm = np.random.default_rng(0).permutation(m)
    bounds = batch_bounds(m, 8)
    local = [p.local_batches(perm, bounds) for p in parts]
    empty = 0
    for b, (start, stop) in enumerate(bounds):
        members = []
        for p, (pos, lb) in zip(parts, local):
            s, e = lb[b]
            empty += e == s
            members.append(p.index[pos[s:e]])
        got = np.concatenate(members)
        assert sorted(got.tolist()) == sorted(perm[start:stop].tolist())
    assert empty > 0  # the case of a rank without samples in a mini-batch is exercised


def test_subset_renumbers_the_training_part():
    p = Partition(n_total=10, index=np.arange(4, 10))
    chosen = np.array([7, 1, 4, 9, 0])
    local, sub = p.subset(chosen)
    # new global numbers 0..4 are chosen[0..4]; this rank holds old 7, 4, 9 = new 0, 2, 3
    np.testing.assert_array_equal(sub.index, [0, 2, 3])
    np.testing.assert_array_equal(p.index[local], [7, 4, 9])
    assert sub.n_total == 5


# --- two processes vs one ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    if MPIEXEC is None:
        pytest.skip("mpi4py or mpiexec missing")
    out = tmp_path_factory.mktemp("mpi")
    proc, _ = _run("fit", out, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [dict(np.load(out / f"fit_{r}.npz")) for r in range(2)]


def _serial(name):
    make, kind = worker.estimators()[name]
    X, y, t, Xv, yv, tv = worker.data()
    return worker.fitted_arrays(make(), kind, X, y, t, Xv, yv, tv)


@needs_mpi
@pytest.mark.parametrize("name", ["bias_reg_ae", "original", "regressor_es", "nmf_random",
                                  "nmf_nndsvda", "semi_nmf"])
def test_two_ranks_fit_the_one_process_model(fitted, name):
    ref = _serial(name)
    m = worker.data()[0].shape[0]
    # float64 rounding of the per-column products differs with the number of columns; the
    # original scheme's pseudo-inverses (no ridge) amplify it most: ≈ 2·10⁻⁹ after its two
    # epochs, since its output layer's V-step forms (UᵀU)⁻V through Uᵀ(UV) (semi_nmf_step)
    tol = 1e-8 if name == "original" else 1e-10
    for r in range(2):
        for key, value in ref.items():
            got = fitted[r][f"{name}/{key}"]
            if key == "W":  # per-sample factor: this rank's rows
                lo, hi = worker.bounds(m, r)
                value = value[lo:hi]
            scale = max(np.linalg.norm(value), 1e-300)
            assert np.linalg.norm(got - value) / scale < tol, (name, key, r)


@needs_mpi
def test_backprop_gradient_allreduce_matches_one_process(fitted):
    ref = _serial("backprop")
    for r in range(2):
        for key, value in ref.items():
            got = fitted[r][f"backprop/{key}"]
            np.testing.assert_allclose(got, value, rtol=1e-9, atol=1e-12, err_msg=key)


@needs_mpi
def test_every_rank_holds_the_same_model(fitted):
    for key, value in fitted[0].items():
        if key.endswith("/W") or key == "bytes":
            continue
        np.testing.assert_array_equal(fitted[1][key], value, err_msg=key)
    assert fitted[0]["bytes"] > 0


@needs_mpi
def test_global_score_is_the_score_over_all_rows(fitted):
    from nmfdnn import NMFNetworkClassifier

    X, y, _, Xv, yv, _ = worker.data()
    clf = NMFNetworkClassifier((10,), batch_size=50, max_epochs=1, random_state=0).fit(X, y)
    assert abs(float(fitted[0]["global_score"]) - clf.score(Xv, yv)) < 1e-12


@needs_mpi
@pytest.mark.parametrize("case, message", [("nan", "rank 1 of 2: .*NaN|rank 1 of 2: .*finite"),
                                           ("empty", "rank 1 of 2: .*0 sample"),
                                           ("width", r"different number of features on each "
                                                     r"rank: \[12, 11\]")])
def test_invalid_input_on_one_rank_raises_on_every_rank(tmp_path, case, message):
    proc, seconds = _run(case, tmp_path, timeout=120)
    assert proc.returncode != 0
    for r in range(2):
        line = (tmp_path / f"rank{r}.txt").read_text()
        assert line.startswith("ValueError: "), line
        assert re.search(message, line), line


@needs_mpi
def test_nan_on_one_rank_ends_every_rank_within_10_s(tmp_path):
    start, _ = _run_trivial()
    proc, seconds = _run("nan", tmp_path, timeout=120)
    assert proc.returncode != 0
    assert all((tmp_path / f"rank{r}.txt").read_text().startswith("ValueError")
               for r in range(2))
    assert seconds - start < 10, (seconds, start)


def _run_trivial():
    """Seconds to start two ranks that import nmfdnn and its estimators (the launch cost)."""
    t0 = time.perf_counter()
    subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-c",
                    "import nmfdnn, mpi4py.MPI"], capture_output=True, timeout=60,
                   env=dict(os.environ, PYTHONPATH=str(HERE.parent)))
    return time.perf_counter() - t0, None


@needs_mpi
def test_exception_on_one_rank_aborts_all_ranks(tmp_path):
    proc, seconds = _run("crash", tmp_path, timeout=60)
    assert proc.returncode != 0
    assert "worker failure on rank 1" in proc.stdout + proc.stderr
    assert seconds < 30


@needs_mpi
def test_checkpoints_under_mpi_resume_the_uninterrupted_run(tmp_path):
    """Rank 0 writes the checkpoint; two ranks resuming from it end with the weights of the
    uninterrupted two-rank run, bit for bit (network and backprop); other shards are refused
    on every rank."""
    proc, _ = _run("ckpt", tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "nmf_full.ckpt").exists() and (tmp_path / "bp_full.ckpt").exists()
    assert not list(tmp_path.glob("*never_rank1*"))  # rank 1 wrote nothing
    runs = [dict(np.load(tmp_path / f"ckpt_{r}.npz")) for r in range(2)]
    for name in ("nmf", "bp"):
        keys = [k for k in runs[0] if k.startswith(f"{name}/full/")]
        assert len(keys) >= 3
        for k in keys:
            np.testing.assert_array_equal(runs[0][k.replace("/full/", "/resumed/")],
                                          runs[0][k], err_msg=k)
            np.testing.assert_array_equal(runs[1][k], runs[0][k], err_msg=k)
    errors = [(tmp_path / f"ckpt_err{r}.txt").read_text() for r in range(2)]
    for text in errors:
        assert text.startswith("ValueError") and "other training data" in text, errors
        assert "2 MPI ranks with shards of shape" in text


@needs_mpi
def test_cli_under_mpiexec_prints_and_saves_once(tmp_path):
    from nmfdnn import load_model

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    model = tmp_path / "digits.npz"
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "nmfdnn", "train",
                           "--epochs", "1", "--hidden", "50", "--no-progress", "--save",
                           str(model), "--checkpoint", str(tmp_path / "run.ckpt"), "--resume"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("test accuracy") == 1
    assert "2 MPI ranks" in proc.stdout
    clf = load_model(model)
    assert clf.coefs_[0].shape == (64, 50)
    assert (tmp_path / "run.ckpt").exists()  # written by rank 0
