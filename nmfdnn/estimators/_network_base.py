"""The neutral base of the network estimators: what every trainer of a ReLU network shares.

:class:`BaseNetwork` holds the scikit-learn scaffolding of :class:`NMFNetworkClassifier`,
:class:`NMFNetworkRegressor`, :class:`BackpropClassifier` and :class:`BackpropRegressor` — the
parameter table, the backend chosen once at ``fit``, validation data and early stopping,
callbacks, the fitted ``coefs_``/``intercepts_`` and the forward pass of ``predict`` — without
any training method: subclasses provide ``_train``.  Warm start, checkpoints and
``partial_fit`` come from :mod:`~nmfdnn.estimators._network_resume`; the targets, scores and
``predict`` of the two tasks from :mod:`~nmfdnn.estimators._network_tasks`.

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

import array_api_compat
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from nmfdnn._array_api import get_namespace, namespace_name
from nmfdnn._host import (
    check_random_state,
    to_numpy,
)
from nmfdnn._linalg import jitter_events
from nmfdnn._ops import relu
from nmfdnn.distributed import as_communicator, collective_errors
from nmfdnn.estimators._base import (
    check_2d,
    check_same_namespace,
    resolve_fit_backend,
    to_backend,
)
from nmfdnn.estimators._network_resume import ResumableNetworkMixin
from nmfdnn.training import predict_columns

__all__ = ["BaseNetwork", "network_class", "fill_doc", "SHARED_PARAMETERS"]

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
        Under MPI (``fit(..., comm=...)``) rank 0 writes it; give every rank the same path.
    resume : bool, default=False
        With ``checkpoint``: if the file exists, ``fit`` continues from it up to
        ``max_epochs`` epochs in all, giving the same weights, bit for bit, as the run that was
        never interrupted.  A checkpoint of other parameters or other data is refused
        (ValueError); ``max_epochs`` may be raised to extend a run.  Without the file, ``fit``
        starts afresh.  Under MPI every rank reads the file (a file system shared by the
        ranks), and the run resumes only with the same number of ranks holding the same rows.
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


class BaseNetwork(ResumableNetworkMixin, BaseEstimator):
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
        resume, max_epochs, fingerprint = self._resume_point(X, Y, xp=xp, device=dev,
                                                             comm=comm)
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
                                    loop=None if resume is None else resume["loop"],
                                    comm=comm)
        # without anything to report or decide after an epoch the trainers finish (the output
        # refit) after the last epoch only
        watched = bool(self.verbose or self.callbacks or self.early_stopping)
        W, history = self._train(Xc, Y, sizes, batch_size=batch_size, rng=rng, score=score,
                                 callback=callback if watched else None, xp=xp, device=dev,
                                 dtype=dtype,
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
