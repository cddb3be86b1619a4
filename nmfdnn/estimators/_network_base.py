"""The neutral base of the network estimators: what every trainer of a ReLU network shares.

:class:`BaseNetwork` holds the scikit-learn scaffolding of :class:`NMFNetworkClassifier`,
:class:`NMFNetworkRegressor`, :class:`BackpropClassifier` and :class:`BackpropRegressor` — the
parameter table, the backend chosen once at ``fit``, validation data and early stopping,
callbacks, the fitted ``coefs_``/``intercepts_`` and the forward pass of ``predict`` — without
any training method: subclasses provide ``_train``.  :class:`NetworkClassifierMixin` and
:class:`NetworkRegressorMixin` add the targets, scores and ``predict`` of the two tasks.

Every concrete network estimator is registered by name (:func:`network_class`), so that model
files can name their class without a hard-coded list.  The estimators own their state:
``_get_model_state`` / ``_from_model_state`` turn a fitted estimator into host arrays and plain
attributes and back (:mod:`nmfdnn._io` writes them to a file).

Samples are rows here (scikit-learn); inside, the trainers see columns (paper notation), the
transposes are free.  ``coefs_[i]`` is ``W_{i+1}ᵀ`` of the paper and ``intercepts_[i]`` is
``b_{i+1}``.
"""

from __future__ import annotations

import copy
import numbers
import os
import time
from dataclasses import asdict

import array_api_compat
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from nmfdnn import _checkpoint
from nmfdnn._array_api import get_namespace, namespace_name
from nmfdnn._host import (
    check_host_input,
    check_random_state,
    encode_labels,
    label_indices,
    pool_labels,
    take_labels,
    to_host,
    to_numpy,
)
from nmfdnn._linalg import jitter_events
from nmfdnn._ops import relu
from nmfdnn._records import EpochRecord, TrainingHistory
from nmfdnn.distributed import as_communicator, collective_errors
from nmfdnn.estimators._base import (
    check_2d,
    check_same_namespace,
    is_array,
    like_input,
    resolve_fit_backend,
    to_backend,
)
from nmfdnn.training import predict_columns

__all__ = ["BaseNetwork", "NetworkClassifierMixin", "NetworkRegressorMixin", "network_class",
           "fill_doc", "SHARED_PARAMETERS"]

_REGISTRY = {}

#: The parameters every network estimator shares, in signature order (docstrings).
SHARED_PARAMETERS = """\
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when the validation score
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, keep the best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
    backend : str, namespace or None, default=None
        "numpy", "torch", "jax", "cupy", "array_api_strict" or a namespace: host data are moved
        there once at ``fit``. ``None``: arrays keep their namespace, host data use NumPy.
    device : str or device, default=None
        "cpu", "cuda", "cuda:N" (``None``: the input's device or the backend default).
    dtype : {"float32", "float64"} or None, default="float32"
        ``None``: the input's floating dtype.
    random_state : int, numpy Generator or None, default=None
        Seeds the host draws (weights, permutations); the same seed gives the same draws on
        every backend.
    verbose : bool, default=False
        Print one line per epoch.
    callbacks : list of callables, default=None
        ``cb(estimator, record)`` after every epoch (``record``: :class:`EpochRecord`);
        returning True stops training.
    warm_start : bool, default=False
        ``fit`` continues the previous run (raw weights, averaging state, optimizer state —
        Adam's moments and step count for backpropagation —, host generator and
        early-stopping state) for ``max_epochs`` more epochs instead of starting afresh:
        ``fit`` with ``max_epochs=a`` then ``b`` gives the weights of one ``fit`` with
        ``a + b`` (same data), bit for bit.  Records accumulate.
    checkpoint : str or path-like, default=None
        After every epoch, write the full training state (raw and averaged weights,
        optimizer and generator states, records, parameters and a fingerprint of the data)
        to this file, atomically (a temporary file in the same folder, then a rename).
    resume : bool, default=False
        With ``checkpoint``: if the file exists, ``fit`` continues from it up to
        ``max_epochs`` epochs in all, giving the same weights, bit for bit, as the run that was
        never interrupted.  A checkpoint of other parameters or other data is refused
        (ValueError); ``max_epochs`` may be raised to extend a run.  Without the file, ``fit``
        starts afresh.
"""


def fill_doc(**parts):
    """Class decorator: replace ``%(name)s`` in the docstring by ``parts[name]`` (shared
    parameter sections, written once)."""
    def decorate(cls):
        doc = cls.__doc__
        for name, text in parts.items():
            doc = doc.replace(f"%({name})s", text)
        cls.__doc__ = doc
        return cls
    return decorate


def network_class(name):
    """The network estimator class registered under ``name`` (its class name).

    Parameters
    ----------
    name : str

    Returns
    -------
    type
        A subclass of :class:`BaseNetwork`.

    Raises
    ------
    ValueError
        If no network estimator of that name exists.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown network estimator {name!r}; known: {sorted(_REGISTRY)}"
        ) from None


class BaseNetwork(BaseEstimator):
    """Base of the ReLU network estimators; subclasses implement ``_train``.

    ``_train(Xc, Y, sizes, *, batch_size, rng, score, callback, xp, device, dtype, state,
    on_epoch, max_epochs)`` returns the layer matrices ``W̃_i = [W_i, b_i]`` (columns, paper
    layout) and a :class:`~nmfdnn.training.TrainingHistory`.
    """

    #: Constraints of the parameters shared by every network estimator (scikit-learn's table,
    #: checked once at the start of ``fit``).
    _parameter_constraints: dict = {
        "hidden_layer_sizes": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "backend": [None, str, HasMethods(["asarray"])],
        "device": [None, str, object],
        "dtype": [None, str, object],
        "random_state": [None, Interval(numbers.Integral, 0, None, closed="left"),
                         HasMethods(["permutation", "integers"])],
        "verbose": ["verbose"],
        "callbacks": [None, list, tuple],
        "warm_start": ["boolean"],
        "checkpoint": [None, str, os.PathLike],
        "resume": ["boolean"],
    }

    #: Mini-batch size of ``batch_size="auto"`` (capped at the number of samples).
    _auto_batch_size = 5000

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and "Mixin" not in cls.__name__:
            _REGISTRY[cls.__name__] = cls

    # --- parameters ---------------------------------------------------------------------------

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a tuple of positive ints."""
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        hidden = tuple(hidden)
        if not hidden or any(
            isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in hidden
        ):
            raise ValueError(
                f"hidden_layer_sizes must be a non-empty sequence of positive ints, got "
                f"{self.hidden_layer_sizes!r}"
            )
        return hidden

    # --- fit ----------------------------------------------------------------------------------

    def _train(self, Xc, Y, sizes, *, batch_size, rng, score, callback, xp, device, dtype,
               comm=None, partition=None, state=None, on_epoch=None, max_epochs=None):
        raise NotImplementedError

    def _pack_state(self, state):
        """The trainer's state (``LoopState`` / ``BackpropState``) as host arrays and meta."""
        raise NotImplementedError

    def _unpack_state(self, arrays, meta, history, *, xp, device):
        raise NotImplementedError

    def _state_widths(self, state):
        """Layer widths ``[n0, …, nd]`` of a trainer state (to check a warm start)."""
        raise NotImplementedError

    def fit(self, X, y, *, X_val=None, y_val=None, comm=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NumPy, lists, or an array of any supported backend (it then keeps its namespace and
            device unless ``backend``/``device`` say otherwise).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        X_val, y_val : array-like, optional
            Validation data scored after every epoch (``validation_scores_``); ignored when
            ``early_stopping`` splits its own validation set.
        comm : mpi4py communicator or :class:`nmfdnn.distributed.Communicator`, optional
            Data-parallel training over MPI (``None``: one process).  Every rank calls ``fit``
            with **its own rows** (``X``, ``y``, and ``X_val``/``y_val`` if given) and the same
            parameters; every rank ends with the same model, the one a single process fits on
            the rows of all ranks concatenated in rank order (to rounding).  Invalid input on
            one rank raises the same error on every rank; the validation score is the global
            one.  See :mod:`nmfdnn.distributed` and docs/hpc.md.

        Returns
        -------
        self
        """
        comm = as_communicator(comm)
        with collective_errors(comm):  # invalid input on one rank: the same error on all
            self._validate_params()
            hidden = self._hidden_sizes()
            if y is None:
                raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                                 "target y is None")
            check_2d(X, "X")
            xp, dev, dtype = resolve_fit_backend(X, backend=self.backend, device=self.device,
                                                 dtype=self.dtype)
            X = to_backend(X, xp=xp, device=dev, dtype=dtype, name="X")  # the one check of X
            m, n0 = X.shape
            # (n_out, m) columns; with comm, a function that pools the classes of all ranks
            Y = self._targets(y, m, xp=xp, device=dev, dtype=dtype, comm=comm)
            Xv = None
            if not self.early_stopping and X_val is not None and y_val is not None:
                Xv = to_backend(X_val, xp=xp, device=dev, dtype=dtype, name="X_val")
                if Xv.shape[1] != n0:
                    raise ValueError(f"X_val has {Xv.shape[1]} features, X has {n0}")
        if comm is not None:  # (no collective inside a collective_errors block)
            if callable(Y):
                Y = Y()
            widths = comm.allgather(int(n0))
            with collective_errors(comm):  # every rank must agree on the layout
                if len(set(widths)) > 1:
                    raise ValueError(f"X has a different number of features on each rank: "
                                     f"{widths} (rank order)")
            partition = comm.partition(m)
            m = partition.n_total
        resume, max_epochs, fingerprint = self._resume_point(X, Y, xp=xp, device=dev)
        rng = check_random_state(self.random_state)
        if resume is not None:  # the same validation split as the run that is continued
            rng.bit_generator.state = copy.deepcopy(resume["rng_start"])
        rng_start = copy.deepcopy(rng.bit_generator.state)
        Xc = X.T
        val = None
        with collective_errors(comm):
            if self.early_stopping:
                n_val = max(1, round(self.validation_fraction * m))
                if m - n_val < 2:
                    raise ValueError(f"n_samples={m} is too small for early stopping")
                perm = rng.permutation(m)  # over the global sample numbers with comm
                if comm is None:
                    tr = xp.asarray(perm[n_val:], device=dev)
                    va = xp.asarray(perm[:n_val], device=dev)
                else:
                    va = xp.asarray(partition.local_positions(perm[:n_val]), device=dev)
                    local_tr, partition = partition.subset(perm[n_val:])
                    tr = xp.asarray(local_tr, device=dev)
                val = (xp.take(Xc, va, axis=1), xp.take(Y, va, axis=1))
                Xc, Y = xp.take(Xc, tr, axis=1), xp.take(Y, tr, axis=1)
            elif Xv is not None:
                val = (Xv.T, self._targets(y_val, Xv.shape[0], xp=xp, device=dev, dtype=dtype,
                                           refit=False))
            m_train = Xc.shape[1] if comm is None else partition.n_total
            if m_train < 2:
                raise ValueError(f"n_samples={m_train}: at least 2 samples are needed to train")
            batch_size = (min(self._auto_batch_size, m_train) if self.batch_size == "auto"
                          else int(self.batch_size))
            if batch_size > m_train:
                raise ValueError(
                    f"batch_size={batch_size} is larger than the number of training samples "
                    f"({m_train}); use a smaller batch_size or 'auto'"
                )
        sizes = [n0, *hidden, Y.shape[0]]
        if resume is not None:
            rng.bit_generator.state = copy.deepcopy(resume["rng"])
            if self._state_widths(resume["loop"]) != sizes:
                raise ValueError(
                    f"cannot continue training: the saved network has layer widths "
                    f"{self._state_widths(resume['loop'])}, this fit needs {sizes}"
                )
        t0 = time.perf_counter()

        score = None
        if val is not None:
            Xv, Yv = val

            def score(Wk):
                return self._score_columns(predict_columns(Wk, Xv, xp=xp), Yv, xp=xp,
                                           reduce=comm)

        stop_state = ({"best": None, "best_W": None, "bad": 0} if resume is None
                      else resume["stop"])
        stop_state["quiet"] = comm is not None and comm.rank != 0

        def callback(record, Wk):
            return self._after_epoch(record, Wk, stop_state)

        extra = {} if comm is None else {"comm": comm, "partition": partition}
        on_epoch = self._epoch_hook(fingerprint, rng, rng_start, stop_state,
                                    loop=None if resume is None else resume["loop"])
        W, history = self._train(Xc, Y, sizes, batch_size=batch_size, rng=rng, score=score,
                                 callback=callback, xp=xp, device=dev, dtype=dtype,
                                 state=None if resume is None else resume["loop"],
                                 on_epoch=on_epoch, max_epochs=max_epochs, **extra)
        if self.early_stopping and stop_state["best_W"] is not None:
            W = stop_state["best_W"]
        jitter_events()  # reads (and warns about) the jitter counted on an accelerator, once
        if comm is not None:  # identical by construction; rank 0's copy removes any doubt
            W = comm.bcast(list(W))
        self.fit_time_ = time.perf_counter() - t0
        self._set_weights(W, sizes, xp=xp, device=dev, dtype=dtype)
        self.n_features_in_ = n0
        self.n_iter_ = history.n_epochs
        self.loss_curve_ = history.loss_curve
        self.epoch_times_ = [r.seconds for r in history.records]
        self.validation_scores_ = history.val_scores if val is not None else None
        self.best_validation_score_ = (max(self.validation_scores_) if val is not None else None)
        self.batch_size_ = batch_size
        self.backend_ = namespace_name(xp)
        return self

    def _after_epoch(self, record, W, st, *, early_stopping=None):
        """Verbose line, user callbacks and early stopping after an epoch; True stops."""
        stop = False
        if self.verbose and not st.get("quiet"):
            extra = f", validation score {record.val_score:.4f}" if record.val_score is not None \
                else ""
            print(f"epoch {record.epoch}: loss {record.loss:.6g}{extra} ({record.seconds:.2f} s)")
        for cb in self.callbacks or ():
            if cb(self, record):
                stop = True
        if self.early_stopping if early_stopping is None else early_stopping:
            if st["best"] is None or record.val_score > st["best"] + self.tol:
                st["best"], st["best_W"], st["bad"] = record.val_score, W, 0
            else:
                st["bad"] += 1
                if st["bad"] >= self.n_iter_no_change:
                    if self.verbose and not st.get("quiet"):
                        print(f"early stopping: no improvement for {st['bad']} epochs")
                    stop = True
        return stop

    # --- continuing a run: warm start, checkpoints, partial_fit --------------------------------

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

    def _resume_point(self, X, Y, *, xp, device):
        """Where ``fit`` starts: ``(None, max_epochs, fingerprint)`` for a fresh run, else the
        state to continue (warm start from memory, or a checkpoint file with ``resume=True``),
        the total number of epochs to reach, and the fingerprint of ``(X, Y)`` (None without
        ``checkpoint``)."""
        st = getattr(self, "_train_state_", None)
        fp = self._fingerprint(X, Y, xp=xp) if self.checkpoint is not None else None
        if self.warm_start and st is not None:
            loop = copy.copy(st["loop"])
            loop.history = TrainingHistory(records=list(loop.history.records))
            stop = dict(st["stop"])
            return ({"loop": loop, "rng": st["rng"], "rng_start": st["rng_start"],
                     "stop": stop}, loop.epoch + self.max_epochs, fp)
        if self.checkpoint is None or not self.resume or not os.path.exists(self.checkpoint):
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
                f"checkpoint {path} was written for other training data (shape "
                f"{meta.get('data', {}).get('shape')}, dtype {meta.get('data', {}).get('dtype')}"
                f"; this data: shape {fp['shape']}, dtype {fp['dtype']}, or the same shape with "
                "other values); refusing to resume"
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

    def _epoch_hook(self, fingerprint, rng, rng_start, stop_state, *, loop=None):
        """``on_epoch`` of the trainers: keep the state to continue from (``warm_start``,
        ``partial_fit``) and write it to ``checkpoint`` when set (with the data
        ``fingerprint``).  Read-only for training."""

        def keep(state):
            self._train_state_ = {"loop": state, "rng": copy.deepcopy(rng.bit_generator.state),
                                  "rng_start": rng_start, "stop": stop_state}

        def on_epoch(state):
            keep(state)
            if self.checkpoint is not None:
                self._write_checkpoint(fingerprint)

        if loop is not None:
            keep(loop)
        return on_epoch

    def _write_checkpoint(self, fingerprint):
        """The state after an epoch to ``checkpoint``, atomically (:mod:`nmfdnn._checkpoint`).

        Under MPI, give ``checkpoint`` on rank 0 only (the states are identical)."""
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

    def _fitted_backend(self, X):
        """Namespace, device and dtype of the fitted weights; ``X`` must be host data or an
        array of that namespace and device (no silent transfer between libraries/devices)."""
        ref = self.coefs_[0]
        xp = get_namespace(ref)
        dev = array_api_compat.device(ref)
        check_same_namespace(X, ref, type(self).__name__)
        return xp, dev, ref.dtype

    def _set_weights(self, W, sizes, *, xp, device, dtype):
        """``coefs_[i] = W_{i+1}ᵀ`` (n_{i} × n_{i+1}) and ``intercepts_[i] = b_{i+1}``."""
        self.coefs_, self.intercepts_ = [], []
        for Wi, n_in in zip(W, sizes[:-1]):
            self.coefs_.append(Wi[:, :n_in].T)
            if Wi.shape[1] == n_in + 1:
                self.intercepts_.append(Wi[:, n_in])
            else:
                self.intercepts_.append(xp.zeros((Wi.shape[0],), dtype=dtype, device=device))

    # --- predict ------------------------------------------------------------------------------

    def _output(self, X):
        """Network output (rows) in the fitted namespace: ``f(…f(X W_1ᵀ + b_1)…) W_dᵀ + b_d``."""
        check_is_fitted(self, "coefs_")
        check_2d(X, "X")
        xp, dev, dtype = self._fitted_backend(X)
        A = to_backend(X, xp=xp, device=dev, dtype=dtype, name="X")
        if A.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {A.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        H = A
        for coef, b in zip(self.coefs_[:-1], self.intercepts_[:-1]):
            H = relu(H @ coef + b[None, :], xp=xp)
        return H @ self.coefs_[-1] + self.intercepts_[-1][None, :], xp

    # --- state (model files) ------------------------------------------------------------------

    def _get_model_state(self):
        """The fitted state as host arrays and JSON-able attributes.

        Returns
        -------
        arrays : dict of str to numpy.ndarray
        attributes : dict
        """
        check_is_fitted(self, "coefs_")
        arrays = {}
        for i, (c, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            arrays[f"coef_{i}"] = to_numpy(c)
            arrays[f"intercept_{i}"] = to_numpy(b)
        attributes = {
            "n_layers": len(self.coefs_),
            "n_features_in_": int(self.n_features_in_),
            "n_iter_": int(self.n_iter_),
            "loss_curve_": [float(v) for v in self.loss_curve_],
        }
        return arrays, attributes

    @classmethod
    def _from_model_state(cls, params, arrays, attributes, *, xp, device, dtype):
        """A fitted estimator from :meth:`_get_model_state`'s output, its weights moved to
        ``xp`` / ``device`` / ``dtype`` (one transfer per array)."""
        est = cls(**params)
        name = "float32" if dtype == xp.float32 else "float64"
        n = attributes["n_layers"]
        est.coefs_ = [xp.asarray(arrays[f"coef_{i}"].astype(name), device=device)
                      for i in range(n)]
        est.intercepts_ = [xp.asarray(arrays[f"intercept_{i}"].astype(name), device=device)
                           for i in range(n)]
        est.n_features_in_ = attributes["n_features_in_"]
        est.n_iter_ = attributes["n_iter_"]
        est.loss_curve_ = attributes["loss_curve_"]
        est.backend_ = namespace_name(xp)
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class NetworkClassifierMixin:
    """Classification: one-hot targets, accuracy, ``predict`` as ``classes_[argmax ŷ]``."""

    def _targets(self, y, n_samples, *, xp, device, dtype, refit=True, comm=None):
        if refit and comm is not None:  # the classes of all ranks: after the local checks
            local, _ = encode_labels(y, n_samples, min_classes=1)

            def pooled():
                self.classes_ = pool_labels(comm.allgather(local))
                with collective_errors(comm):
                    if self.classes_.shape[0] < 2:
                        raise ValueError(f"y has only 1 class ({self.classes_[0]!r}) on all "
                                         "ranks; a classifier needs at least two classes")
                return self._targets(y, n_samples, xp=xp, device=device, dtype=dtype,
                                     refit=False)
            return pooled
        if refit:
            self.classes_, idx = encode_labels(y, n_samples)
        else:  # validation labels: indices into the fitted classes_ (−1: unseen label)
            idx = label_indices(self.classes_, y)
            if idx.shape[0] != n_samples:
                raise ValueError(f"X_val has {n_samples} samples but y_val has {idx.shape[0]}")
        K = len(self.classes_)
        idx = xp.asarray(idx, device=device)
        ks = xp.arange(K, device=device)
        return xp.astype(ks[:, None] == idx[None, :], dtype)

    def _score_columns(self, out, target, *, xp, reduce=None):
        hits = xp.astype(xp.argmax(out, axis=0) == xp.argmax(target, axis=0), out.dtype)
        if reduce is None:
            return xp.mean(hits)
        n = xp.full((), target.shape[1], dtype=out.dtype, device=array_api_compat.device(out))
        parts = reduce(xp.stack([xp.sum(hits), n]))  # the accuracy over all ranks
        return parts[0] / parts[1]

    def _partial_targets(self, y, n_samples, classes, first, *, xp, device, dtype):
        """One-hot targets of a ``partial_fit`` call: ``classes`` fixes ``classes_`` on the
        first call; labels outside it are refused."""
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(every class of the problem)")
            self.classes_, _ = encode_labels(classes)
        elif classes is not None:
            given, _ = encode_labels(classes)
            if given.shape != self.classes_.shape or not (given == self.classes_).all():
                raise ValueError(f"classes={list(given)} differs from classes_="
                                 f"{list(self.classes_)} of the previous partial_fit calls")
        check_host_input(y, "y")
        y_host = to_numpy(y) if is_array(y) else to_host(y)
        if y_host.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per sample), got shape {y_host.shape}")
        if y_host.shape[0] != n_samples:
            raise ValueError(f"X and y have inconsistent numbers of samples: X has {n_samples}, "
                             f"y has {y_host.shape[0]}")
        try:
            idx = label_indices(self.classes_, y_host)
        except TypeError as exc:
            raise TypeError(f"y has labels of another type than classes ({exc})") from None
        if (idx < 0).any():
            unknown = sorted(set(y_host[idx < 0].tolist()))[:5]
            raise ValueError(f"y contains labels not in classes: {unknown}")
        K = len(self.classes_)
        idx = xp.asarray(idx, device=device)
        ks = xp.arange(K, device=device)
        return xp.astype(ks[:, None] == idx[None, :], dtype)

    def decision_function(self, X):
        """Network output per class, in ``X``'s namespace.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples, n_classes), or (n_samples,) for 2 classes
            For 2 classes the score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        out, _ = self._output(X)
        if out.shape[1] == 2:
            out = out[:, 1] - out[:, 0]
        return like_input(out, X)

    def predict(self, X):
        """Class of the largest output, ``classes_[argmax_k ŷ_k]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples,)
            Numeric labels in ``X``'s namespace and device; other labels (strings) as a NumPy
            array.
        """
        out, xp = self._output(X)
        idx = xp.argmax(out, axis=1)
        if is_array(X) and not array_api_compat.is_numpy_array(X) \
                and self.classes_.dtype.kind in "iufb":
            xp_in = get_namespace(X)
            classes = xp_in.asarray(self.classes_, device=array_api_compat.device(X))
            return xp_in.take(classes, like_input(idx, X), axis=0)
        return take_labels(self.classes_, idx)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy (scikit-learn's ``accuracy_score`` on the host).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        pred = self.predict(X)
        y = to_numpy(y) if is_array(y) else y
        return float(accuracy_score(y, to_numpy(pred) if is_array(pred) else pred,
                                    sample_weight=sample_weight))

    def _get_model_state(self):
        arrays, attributes = super()._get_model_state()
        arrays["classes"] = to_numpy(self.classes_) if is_array(self.classes_) else self.classes_
        return arrays, attributes

    @classmethod
    def _from_model_state(cls, params, arrays, attributes, *, xp, device, dtype):
        est = super()._from_model_state(params, arrays, attributes, xp=xp, device=device,
                                        dtype=dtype)
        est.classes_ = arrays["classes"]
        return est


class NetworkRegressorMixin:
    """Regression: targets as columns, R², ``predict`` as the network output."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y, n_samples, *, xp, device, dtype, refit=True, comm=None):
        check_host_input(y, "y")
        ndim = getattr(y, "ndim", None)
        if ndim is None:
            y = to_host(y)
            ndim = y.ndim
        if ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got {ndim}-D")
        Y = to_backend(y, xp=xp, device=device, dtype=dtype, name="y", ndim=ndim)
        if Y.shape[0] != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {n_samples}, y has "
                f"{Y.shape[0]}"
            )
        if refit:
            self.y_1d_ = ndim == 1
            self.n_outputs_ = 1 if ndim == 1 else Y.shape[1]
        return Y[None, :] if ndim == 1 else Y.T

    def _partial_targets(self, y, n_samples, classes, first, *, xp, device, dtype):
        """Targets of a ``partial_fit`` call (``classes`` is ignored)."""
        Y = self._targets(y, n_samples, xp=xp, device=device, dtype=dtype, refit=first)
        if not first and Y.shape[0] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[0]} outputs, the fitted model {self.n_outputs_}")
        return Y

    def _score_columns(self, out, target, *, xp, reduce=None):
        if reduce is not None:  # R² over all ranks from the sums Σ(y−ŷ)², Σy, Σy² and m
            n = xp.full((1,), target.shape[1], dtype=out.dtype,
                        device=array_api_compat.device(out))
            parts = reduce(xp.concat([xp.reshape(xp.sum((target - out) ** 2), (1,)), n,
                                      xp.sum(target, axis=1), xp.sum(target * target, axis=1)]))
            k = target.shape[0]
            s1, s2 = parts[2:2 + k], parts[2 + k:]
            total = xp.sum(s2 - s1 * s1 / parts[1])
            return 1.0 - parts[0] / (total + xp.finfo(out.dtype).smallest_normal)
        resid = xp.sum((target - out) ** 2)
        total = xp.sum((target - xp.mean(target, axis=1, keepdims=True)) ** 2)
        return 1.0 - resid / (total + xp.finfo(out.dtype).smallest_normal)

    def predict(self, X):
        """Network output, in ``X``'s namespace.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples,) for a 1-D ``y`` at fit, else (n_samples, n_outputs)
        """
        out, _ = self._output(X)
        if self.y_1d_:
            out = out[:, 0]
        return like_input(out, X)

    def score(self, X, y, sample_weight=None):
        """R² (scikit-learn's ``r2_score`` on the host).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        pred = to_numpy(self.predict(X))
        y = to_numpy(y) if is_array(y) else y
        return float(r2_score(y, pred, sample_weight=sample_weight))

    def _get_model_state(self):
        arrays, attributes = super()._get_model_state()
        attributes["y_1d"] = bool(self.y_1d_)
        attributes["n_outputs_"] = int(self.n_outputs_)
        return arrays, attributes

    @classmethod
    def _from_model_state(cls, params, arrays, attributes, *, xp, device, dtype):
        est = super()._from_model_state(params, arrays, attributes, xp=xp, device=device,
                                        dtype=dtype)
        est.y_1d_ = attributes["y_1d"]
        est.n_outputs_ = attributes["n_outputs_"]
        return est
