"""Continuing a training run: ``warm_start``, checkpoints and resume, ``partial_fit``.

:class:`ResumableNetworkMixin` is mixed into :class:`~nmfdnn.estimators._network_base.BaseNetwork`:
after every epoch the trainers hand their state (``LoopState`` / ``BackpropState``) to
``on_epoch``, which keeps it (warm start, ``partial_fit``) and writes it atomically to
``checkpoint`` (:mod:`nmfdnn._checkpoint`); ``fit`` with ``resume=True`` continues from such a
file, refusing one of other parameters or data.  Read-only for the computation: a resumed run
gives the weights of the uninterrupted one, bit for bit.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict

import array_api_compat

from nmfdnn import _checkpoint
from nmfdnn._array_api import namespace_name
from nmfdnn._host import (
    check_random_state,
    to_numpy,
)
from nmfdnn._linalg import jitter_events
from nmfdnn._records import EpochRecord, TrainingHistory
from nmfdnn.distributed import collective_errors
from nmfdnn.estimators._base import (
    check_2d,
    resolve_fit_backend,
    to_backend,
)

__all__ = ["ResumableNetworkMixin"]


def _describe_data(fp):
    """Shape and dtype of a data fingerprint, per rank for one written under MPI."""
    fp = fp or {}
    if "ranks" in fp:
        shapes = [r.get("shape") for r in fp["ranks"]]
        return f"{len(shapes)} MPI ranks with shards of shape {shapes}"
    return f"shape {fp.get('shape')}, dtype {fp.get('dtype')}"


class ResumableNetworkMixin:
    """Warm start, checkpoints and ``partial_fit`` of the network estimators."""

    def _fingerprint(self, X, Y, *, xp):
        """Shape, dtype and SHA-256 of a strided sample and the sums of ``X`` and ``Y``
        (one small transfer); what a checkpoint must be resumed with."""
        m = X.shape[0]
        step = max(1, m // 64)
        pos = xp.astype(xp.arange(m, device=array_api_compat.device(Y)), Y.dtype)
        sample = xp.concat([X[::step, :], Y.T[::step, :]], axis=1)
        sums = xp.concat([xp.sum(X, axis=0), xp.sum(X, axis=1), xp.sum(Y, axis=1),
                          xp.sum(Y * pos[None, :], axis=1)])
        return _checkpoint.data_fingerprint((m, X.shape[1], Y.shape[0]), str(X.dtype),
                                            to_numpy(sample), to_numpy(sums))

    def _resume_point(self, X, Y, *, xp, device, comm=None):
        """Where ``fit`` starts: ``(None, max_epochs, fingerprint)`` for a fresh run, else the
        state to continue (warm start from memory, or a checkpoint file with ``resume=True``),
        the total number of epochs to reach, and the fingerprint of ``(X, Y)`` (None without
        ``checkpoint``).

        With ``comm`` (MPI), the fingerprint is the list of every rank's (one all-gather), so
        a checkpoint resumes only with the same shards on the same number of ranks; whether
        the file exists is rank 0's answer, and every rank reads it (a shared file system),
        each reaching the same decision."""
        st = getattr(self, "_train_state_", None)
        fp = self._fingerprint(X, Y, xp=xp) if self.checkpoint is not None else None
        exists = (self.checkpoint is not None and self.resume
                  and os.path.exists(self.checkpoint))
        if comm is None:
            return self._resume_from(st, fp, exists, xp=xp, device=device)
        if fp is not None:
            fp = {"ranks": comm.allgather(fp)}
        exists = comm.bcast(exists)
        with collective_errors(comm, (ValueError, TypeError, OSError, KeyError)):
            if exists and not os.path.exists(self.checkpoint):
                raise FileNotFoundError(
                    f"checkpoint {self.checkpoint} exists on rank 0 but not on rank "
                    f"{comm.rank}: resuming under MPI needs the file on a file system "
                    "shared by every rank")
            return self._resume_from(st, fp, exists, xp=xp, device=device)

    def _resume_from(self, st, fp, exists, *, xp, device):
        """:meth:`_resume_point` after the fingerprint: ``exists`` is whether to read the
        checkpoint file."""
        if self.warm_start and st is not None:
            loop = copy.copy(st["loop"])
            loop.history = TrainingHistory(records=list(loop.history.records))
            stop = dict(st["stop"])
            return ({"loop": loop, "rng": st["rng"], "rng_start": st["rng_start"],
                     "stop": stop}, loop.epoch + self.max_epochs, fp)
        if not exists:
            return None, self.max_epochs, fp
        path = os.fspath(self.checkpoint)
        arrays, meta = _checkpoint.read_checkpoint(path)
        if meta.get("class") != type(self).__name__:
            raise ValueError(f"checkpoint {path} was written by {meta.get('class')}, not "
                             f"{type(self).__name__}; refusing to resume")
        mine = _checkpoint.checkpoint_params(self)
        theirs = meta.get("params", {})
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if diff:
            shown = ", ".join(f"{k}={theirs.get(k)!r} there, {mine.get(k)!r} here" for k in diff)
            raise ValueError(f"checkpoint {path} was written with other parameters ({shown}); "
                             "refusing to resume (use resume=False or another checkpoint)")
        if fp != meta.get("data"):
            raise ValueError(
                f"checkpoint {path} was written for other training data "
                f"({_describe_data(meta.get('data'))}; this data: {_describe_data(fp)}, or the "
                "same shape with other values); refusing to resume"
            )
        history = TrainingHistory(records=[EpochRecord(**r) for r in meta["records"]],
                                  stopped_early=bool(meta["stopped_early"]))
        loop = self._unpack_state(arrays, meta, history, xp=xp, device=device)
        best_W = None
        if meta["n_best"]:
            best_W = [xp.asarray(arrays[f"best_W_{i}"], device=device)
                      for i in range(meta["n_best"])]
        stop = {"best": meta["stop_best"], "bad": meta["stop_bad"], "best_W": best_W}
        max_epochs = loop.epoch if history.stopped_early else self.max_epochs
        return ({"loop": loop, "rng": meta["rng"], "rng_start": meta["rng_start"],
                 "stop": stop}, max_epochs, fp)

    def _epoch_hook(self, fingerprint, rng, rng_start, stop_state, *, loop=None, comm=None):
        """``on_epoch`` of the trainers: keep the state to continue from (``warm_start``,
        ``partial_fit``) and write it to ``checkpoint`` when set (with the data
        ``fingerprint``; under MPI by rank 0 only, the states of all ranks being the same).
        Read-only for training."""
        write = self.checkpoint is not None and (comm is None or comm.rank == 0)

        def keep(state):
            self._train_state_ = {"loop": state, "rng": copy.deepcopy(rng.bit_generator.state),
                                  "rng_start": rng_start, "stop": stop_state}

        def on_epoch(state):
            keep(state)
            if write:
                self._write_checkpoint(fingerprint)

        if loop is not None:
            keep(loop)
        return on_epoch

    def _write_checkpoint(self, fingerprint):
        """The state after an epoch to ``checkpoint``, atomically (:mod:`nmfdnn._checkpoint`)."""
        st = self._train_state_
        loop = st["loop"]
        arrays, meta = self._pack_state(loop)
        best_W = st["stop"]["best_W"]
        for i, Wi in enumerate(best_W or ()):
            arrays[f"best_W_{i}"] = to_numpy(Wi)
        meta.update(
            {"class": type(self).__name__, "params": _checkpoint.checkpoint_params(self),
             "data": fingerprint, "epoch": loop.epoch, "rng": st["rng"],
             "rng_start": st["rng_start"],
             "records": [asdict(r) for r in loop.history.records],
             "stopped_early": bool(loop.history.stopped_early),
             "stop_best": st["stop"]["best"], "stop_bad": st["stop"]["bad"],
             "n_best": len(best_W or ())}
        )
        _checkpoint.write_checkpoint(self.checkpoint, arrays, meta)

    def partial_fit(self, X, y, classes=None):
        """One epoch (one pass of random mini-batches) over ``(X, y)``, continuing the run.

        The first call draws the initial weights (``random_state``); every call continues
        from the raw weights, averaging state (``average``), optimizer state (Adam) and host
        generator of the previous one, so that ``k`` calls on the same data give the same
        weights, bit for bit, as ``fit`` with ``max_epochs=k``.  ``early_stopping`` is ignored
        (as scikit-learn's ``MLPClassifier.partial_fit``).  After ``fit``, ``partial_fit``
        continues that run.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            At least 2 samples; after the first call, arrays must be of the fitted namespace
            and device (host NumPy and lists are converted).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        classes : array-like of shape (n_classes,), optional
            Every class of the problem: required on the first call of a classifier, and if
            given later, equal to ``classes_``.

        Returns
        -------
        self
        """
        st = getattr(self, "_train_state_", None)
        first = st is None
        check_2d(X, "X")
        if first:
            self._validate_params()
            hidden = self._hidden_sizes()
            xp, dev, dtype = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                                 dtype=self.dtype)
        else:
            xp, dev, dtype = self._fitted_backend(X)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None")
        X = to_backend(X, xp=xp, device=dev, dtype=dtype, name="X")
        m, n0 = X.shape
        if not first and n0 != self.n_features_in_:
            raise ValueError(f"X has {n0} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        Y = self._partial_targets(y, m, classes, first, xp=xp, device=dev, dtype=dtype)
        if m < 2:
            raise ValueError(f"n_samples={m}: at least 2 samples are needed to train")
        if first:
            rng = check_random_state(self.random_state)
            rng_start = copy.deepcopy(rng.bit_generator.state)
            stop_state = {"best": None, "best_W": None, "bad": 0}
            sizes = [n0, *hidden, Y.shape[0]]
            loop = None
        else:
            rng = check_random_state(None)
            rng.bit_generator.state = copy.deepcopy(st["rng"])
            rng_start, stop_state, loop = st["rng_start"], st["stop"], st["loop"]
            sizes = self._state_widths(loop)
            if sizes[-1] != Y.shape[0]:
                raise ValueError(f"y has {Y.shape[0]} outputs, the network {sizes[-1]}")
        batch_size = (min(self._auto_batch_size, m) if self.batch_size == "auto"
                      else int(self.batch_size))
        if batch_size > m:
            raise ValueError(f"batch_size={batch_size} is larger than the number of samples "
                             f"({m}) of this partial_fit call")

        def callback(record, Wk):
            self._after_epoch(record, Wk, stop_state, early_stopping=False)
            return False

        t0 = time.perf_counter()
        fingerprint = self._fingerprint(X, Y, xp=xp) if self.checkpoint is not None else None
        on_epoch = self._epoch_hook(fingerprint, rng, rng_start, stop_state, loop=loop)
        W, history = self._train(X.T, Y, sizes, batch_size=batch_size, rng=rng, score=None,
                                 callback=callback, xp=xp, device=dev, dtype=dtype,
                                 state=loop, on_epoch=on_epoch,
                                 max_epochs=(0 if loop is None else loop.epoch) + 1)
        jitter_events()  # as in fit: the jitter counted on an accelerator, read once per call
        self.fit_time_ = getattr(self, "fit_time_", 0.0) * (not first) + time.perf_counter() - t0
        self._set_weights(W, sizes, xp=xp, device=dev, dtype=dtype)
        self.n_features_in_ = n0
        self.n_iter_ = history.n_epochs
        self.loss_curve_ = history.loss_curve
        self.epoch_times_ = [r.seconds for r in history.records]
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.batch_size_ = batch_size
        self.backend_ = namespace_name(xp)
        return self

