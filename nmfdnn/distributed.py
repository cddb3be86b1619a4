"""Data-parallel training over MPI: the one communication layer of nmfdnn.

Every solver of nmfdnn consumes the samples only through sums over samples — the Gram matrices
and cross products ``Z̃Z̃ᵀ``, ``YZ̃ᵀ``, ``XXᵀ``, ``WᵀX`` of ALGORITHMS.md — while the per-sample
work (forward passes, the non-negative V-steps) needs no other sample.  When each process
(*rank*) holds a block of the samples, one sum-all-reduce per product therefore gives every rank
the same matrices, hence the same weights, as one process holding all samples:

.. math::

    Z̃ Z̃ᵀ = \\sum_{k=0}^{P-1} Z̃^{(k)} Z̃^{(k)ᵀ}, \\qquad
    Y Z̃ᵀ = \\sum_{k=0}^{P-1} Y^{(k)} Z̃^{(k)ᵀ}

This module holds all of it: :class:`Communicator` (sum/max/min all-reduce of arrays of any
backend, scalars, broadcast, all-gather, byte counter, collective error checks), the
:class:`Partition` of the global sample indices among the ranks (the global mini-batch sequence
does not depend on the number of ranks), :func:`shard` / :func:`shard_indices` (contiguous
blocks of rows), :func:`global_score` and :func:`abort_on_error`.  The solvers see only a
``reduce`` callable (:meth:`Communicator.__call__`); ``None`` everywhere means one process and
adds no operation.

mpi4py is imported lazily, only when a communicator is given: one-process use never imports it.
This is a host-side module (NumPy buffers stage arrays that MPI cannot read directly).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field

import array_api_compat
import numpy as np

from nmfdnn._array_api import sync
from nmfdnn._host import to_numpy
from nmfdnn._validation import NumericalError

__all__ = [
    "Communicator",
    "Partition",
    "abort_on_error",
    "as_communicator",
    "collective_errors",
    "global_score",
    "launched_under_mpi",
    "shard",
    "shard_indices",
    "world",
]

#: Environment variables set by the common MPI launchers (MPICH/Hydra, Open MPI, Slurm's PMI).
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


def launched_under_mpi():
    """Number of processes of the MPI launch this process belongs to.

    Read from the launcher's environment (MPICH/Hydra, Open MPI, Slurm's PMI, PMIx) without
    importing mpi4py.

    Returns
    -------
    int
        The number of processes of the launch; 1 when not launched by ``mpiexec``/``srun``.
    """
    for var in _LAUNCHER_SIZE_VARS:
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    return 1


def world():
    """The :class:`Communicator` of ``MPI.COMM_WORLD``, or ``None`` for one process.

    Returns
    -------
    Communicator or None
        ``Communicator(MPI.COMM_WORLD)`` when this process was started by an MPI launcher with
        more than one process and mpi4py is installed, else ``None`` (mpi4py is then not
        imported).
    """
    if launched_under_mpi() <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    if MPI.COMM_WORLD.Get_size() <= 1:
        return None
    return Communicator(MPI.COMM_WORLD)


def as_communicator(comm):
    """``None`` for ``None`` (one process), the :class:`Communicator` of an mpi4py communicator.

    Parameters
    ----------
    comm : None, mpi4py.MPI.Comm or Communicator

    Returns
    -------
    Communicator or None

    Raises
    ------
    TypeError
        If ``comm`` is neither.
    """
    if comm is None or isinstance(comm, Communicator):
        return comm
    if not (hasattr(comm, "Allreduce") and hasattr(comm, "Get_size")):
        raise TypeError(f"comm must be None, an mpi4py communicator or a nmfdnn Communicator, "
                        f"got {type(comm).__name__}")
    return Communicator(comm)


def collective_errors(comm, types=(ValueError, TypeError)):
    """:meth:`Communicator.collective_errors` of ``comm``, or a no-op context for ``None``.

    Parameters
    ----------
    comm : Communicator or None
    types : tuple of exception types, default=(ValueError, TypeError)

    Returns
    -------
    context manager
    """
    if comm is None:
        return contextlib.nullcontext()
    return comm.collective_errors(types)


def _is_gpu(x):
    return array_api_compat.is_cupy_array(x) or (
        array_api_compat.is_torch_array(x) and x.device.type == "cuda"
    )


class Communicator:
    """Collectives over an mpi4py communicator for arrays of any backend.

    Calling the object is the ``reduce`` hook of the solvers: ``comm(x)`` returns the sum of
    ``x`` over all ranks (``op="max"``/``"min"`` for the maximum/minimum), in ``x``'s namespace,
    device and dtype.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        Typically ``MPI.COMM_WORLD``.

    Attributes
    ----------
    rank, size : int
    transport : str or None
        How device (GPU) arrays travel, chosen at the first GPU reduction and then fixed:
        ``"cuda-aware"`` (mpi4py reports CUDA support: device buffers are passed to MPI),
        ``"nccl"`` (CuPy's NCCL), or ``"host"`` (copied to the host and back).  Host arrays
        always go directly to MPI (``transport`` stays ``None`` until a GPU array comes).
    bytes_reduced : int
        Bytes this rank has sent into all-reduce operations (the payload, not the wire traffic
        of the MPI algorithm).
    n_reductions : int
        Number of all-reduce calls.
    """

    def __init__(self, comm):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.transport = None
        self.bytes_reduced = 0
        self.n_reductions = 0
        self._nccl = None

    def __repr__(self):
        return f"Communicator(rank={self.rank}, size={self.size}, transport={self.transport})"

    # --- reductions ------------------------------------------------------------------------

    def __call__(self, x, op="sum"):
        """The ``reduce`` hook of the solvers: :meth:`allreduce`.

        Parameters
        ----------
        x : array
        op : {"sum", "max", "min"}, default="sum"

        Returns
        -------
        array
        """
        return self.allreduce(x, op=op)

    def _mpi_op(self, op):
        try:
            return {"sum": self._MPI.SUM, "max": self._MPI.MAX, "min": self._MPI.MIN}[op]
        except KeyError:
            raise ValueError(f"op must be 'sum', 'max' or 'min', got {op!r}") from None

    def allreduce(self, x, op="sum"):
        """``Σ_k x^{(k)}`` (or the element-wise max/min) over the ranks.

        The result has the same namespace, device, dtype and shape as ``x``.

        Parameters
        ----------
        x : array (NumPy, torch, JAX, CuPy, array-api-strict)
        op : {"sum", "max", "min"}, default="sum"

        Returns
        -------
        array
        """
        mop = self._mpi_op(op)
        self.n_reductions += 1
        if _is_gpu(x):
            return self._allreduce_gpu(x, mop, op)
        host = _host_buffer(x)
        self.bytes_reduced += host.nbytes
        out = np.empty_like(host)
        self.comm.Allreduce(host, out, op=mop)
        if isinstance(x, (np.ndarray, np.generic)):
            return out
        xp = array_api_compat.array_namespace(x)
        return xp.asarray(out, device=array_api_compat.device(x))

    def _choose_transport(self, x):
        if self.transport is not None:
            return self.transport
        aware = False
        query = getattr(self._MPI, "Query_cuda_support", None)
        if query is not None:
            try:
                aware = bool(query())
            except Exception:
                aware = False
        transport = "host"
        if aware:
            transport = "cuda-aware"
        elif array_api_compat.is_cupy_array(x) or array_api_compat.is_torch_array(x):
            try:
                from cupy.cuda import nccl  # noqa: F401

                transport = "nccl"
            except Exception:
                transport = "host"
        # every rank must use the same transport
        choices = self.comm.allgather(transport)
        transport = "host" if len(set(choices)) > 1 else transport
        self.transport = transport
        return transport

    def _allreduce_gpu(self, x, mop, op):
        transport = self._choose_transport(x)
        nbytes = getattr(x, "nbytes", None)
        self.bytes_reduced += int(nbytes if nbytes is not None else x.numel() * x.element_size())
        if transport == "cuda-aware":  # device buffers straight to MPI (CAI / DLPack)
            xp = array_api_compat.array_namespace(x)
            src = xp.asarray(xp.reshape(x, (-1,)), copy=True)  # contiguous, owned
            out = xp.empty_like(src)
            _sync_device(src)  # MPI reads the buffer outside the stream order
            self.comm.Allreduce(src, out, op=mop)
            return xp.reshape(out, x.shape)
        if transport == "nccl":
            return self._allreduce_nccl(x, op)
        host = _host_buffer(x)
        out = np.empty_like(host)
        self.comm.Allreduce(host, out, op=mop)
        xp = array_api_compat.array_namespace(x)
        return xp.asarray(out, device=array_api_compat.device(x))

    def _allreduce_nccl(self, x, op):
        import cupy
        from cupy.cuda import nccl

        if self._nccl is None:
            uid = nccl.get_unique_id() if self.rank == 0 else None
            uid = self.comm.bcast(uid, root=0)
            self._nccl = nccl.NcclCommunicator(self.size, uid, self.rank)
        xc = cupy.ascontiguousarray(cupy.asarray(x))  # zero-copy for torch CUDA (DLPack/CAI)
        out = cupy.empty_like(xc)
        dtypes = {cupy.dtype("float32"): nccl.NCCL_FLOAT32,
                  cupy.dtype("float64"): nccl.NCCL_FLOAT64}
        ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}
        stream = cupy.cuda.get_current_stream()
        if not array_api_compat.is_cupy_array(x):
            _sync_device(x)  # torch's stream has written x
        self._nccl.allReduce(xc.data.ptr, out.data.ptr, xc.size, dtypes[xc.dtype], ops[op],
                             stream.ptr)
        if array_api_compat.is_cupy_array(x):
            return out
        import torch

        stream.synchronize()  # before torch's stream reads the result
        return torch.from_dlpack(out)

    def allreduce_scalar(self, value, op="sum"):
        """A Python number summed (max, min) over the ranks.

        Parameters
        ----------
        value : int or float
        op : {"sum", "max", "min"}

        Returns
        -------
        float (int for int input)
        """
        arr = np.asarray([value], dtype=np.int64 if isinstance(value, (int, np.integer))
                         else np.float64)
        out = self.allreduce(arr, op=op)
        return out[0].item()

    def bcast(self, x, root=0):
        """``x`` of rank ``root`` on every rank.

        Arrays keep their namespace and device; other objects are pickled.

        Parameters
        ----------
        x : array, list of arrays, or a picklable object
        root : int, default=0

        Returns
        -------
        same kind as ``x``
        """
        if isinstance(x, (list, tuple)) and x and all(array_api_compat.is_array_api_obj(a)
                                                      for a in x):
            return type(x)(self.bcast(a, root=root) for a in x)
        if not array_api_compat.is_array_api_obj(x):
            return self.comm.bcast(x, root=root)
        host = _host_buffer(x).copy()
        self.comm.Bcast(host, root=root)
        if isinstance(x, np.ndarray):
            return host
        xp = array_api_compat.array_namespace(x)
        return xp.asarray(host, device=array_api_compat.device(x))

    def allgather(self, obj):
        """The list of every rank's ``obj``.

        Meant for small Python objects (counts, labels, errors); they are pickled.

        Parameters
        ----------
        obj : picklable object
            This rank's contribution.

        Returns
        -------
        list
            ``obj`` of rank 0, 1, …, ``size − 1``, the same list on every rank.
        """
        return self.comm.allgather(obj)

    def barrier(self):
        """Wait for every rank."""
        self.comm.Barrier()

    # --- partitions and errors -------------------------------------------------------------

    def partition(self, n_local):
        """The :class:`Partition` of contiguous blocks, in rank order.

        Rank k holds global samples ``[o_k, o_k + n_k)`` with ``o_k = n_0 + … + n_{k−1}``
        (one all-gather of the counts).

        Parameters
        ----------
        n_local : int
            Samples on this rank.

        Returns
        -------
        Partition
        """
        counts = self.allgather(int(n_local))
        lo = sum(counts[: self.rank])
        return Partition(n_total=sum(counts), index=np.arange(lo, lo + int(n_local)),
                         counts=tuple(counts))

    def raise_any(self, error=None):
        """Collective error check: raise on every rank if any rank passes an exception.

        Every rank raises the same exception type with the first failing rank's message
        (prefixed by its rank); when no rank passes one, nothing happens.

        Parameters
        ----------
        error : BaseException or None
            This rank's error.

        Raises
        ------
        Exception
            The first failing rank's error on every rank.
        """
        mine = None if error is None else (
            [c.__name__ for c in type(error).__mro__], str(error))
        errors = self.allgather(mine)
        for r, err in enumerate(errors):
            if err is None:
                continue
            names, message = err
            name = names[0]
            if error is not None and type(error).__name__ == name:
                cls = type(error)
            else:  # the nearest type every rank knows
                cls = next((_EXC_TYPES[n] for n in names if n in _EXC_TYPES), RuntimeError)
            try:
                exc = cls(f"rank {r} of {self.size}: {message}")
            except Exception:
                exc = RuntimeError(f"rank {r} of {self.size}: {name}: {message}")
            raise exc from error
        return None

    @contextlib.contextmanager
    def collective_errors(self, types=(ValueError, TypeError)):
        """Context manager raising on every rank an error raised in the block on one rank.

        An exception of ``types`` raised inside the block on one rank is raised on every rank
        (:meth:`raise_any`) when the block is left, instead of leaving the others waiting in
        the next collective.  Every rank must enter and leave the block.

        Parameters
        ----------
        types : tuple of exception types, default=(ValueError, TypeError)
            The exceptions that are caught and shared; others propagate on their rank only.

        Yields
        ------
        None
            The block runs once; the collective check follows it.
        """
        error = None
        try:
            yield
        except types as exc:
            error = exc
        self.raise_any(error)

    def any(self, flag):
        """Whether ``flag`` is true on at least one rank (one scalar reduction).

        Parameters
        ----------
        flag : bool
            This rank's flag.

        Returns
        -------
        bool
            The same value on every rank.
        """
        return bool(self.allreduce_scalar(int(bool(flag)), op="max"))

    def abort(self, code=1):
        """``MPI_Abort``: end every rank of the communicator now.

        Meant for an unrecoverable error on this rank; under MPI it does not return.

        Parameters
        ----------
        code : int, default=1
            Exit code passed to the launcher.
        """
        self.comm.Abort(code)


def _host_buffer(x):
    """A C-contiguous NumPy array with ``x``'s shape (0-d kept 0-d; a view when possible)."""
    host = np.asarray(to_numpy(x))
    return host if host.flags.c_contiguous else np.ascontiguousarray(host).reshape(host.shape)


def _sync_device(x):
    try:
        sync(x)
    except Exception:  # pragma: no cover - best effort before handing a buffer to MPI
        pass


_EXC_TYPES = {
    "NumericalError": NumericalError,
    "ValueError": ValueError,
    "TypeError": TypeError,
    "FileNotFoundError": FileNotFoundError,
    "FloatingPointError": FloatingPointError,
}


@dataclass
class Partition:
    """Which global samples this rank holds.

    The global samples are numbered ``0 … n_total − 1`` in rank order (rank 0's block first).
    Random draws over samples (mini-batch permutations, the autoencoder's subset) are made over
    these global numbers from the shared seed, so they do not depend on the number of ranks;
    each rank then takes the numbers it holds.

    Parameters
    ----------
    n_total : int
        Samples over all ranks.
    index : ndarray of int64
        Global numbers of this rank's samples, in local order (the local sample ``j`` is global
        ``index[j]``).
    counts : tuple of int, default=()
        Samples per rank (empty when unknown, e.g. for a :meth:`subset`).
    _where : ndarray of int64 or None, default=None
        Private cache, left ``None``: the inverse of ``index`` (local position of each global
        number, −1 where not held), built on first use by :meth:`local_positions`.
    """

    n_total: int
    index: np.ndarray
    counts: tuple = ()
    _where: np.ndarray = field(default=None, repr=False)

    @property
    def n_local(self):
        """int: samples on this rank."""
        return int(self.index.shape[0])

    def local_positions(self, global_numbers):
        """Local positions of the given global numbers that this rank holds, in their order.

        Parameters
        ----------
        global_numbers : ndarray of int

        Returns
        -------
        ndarray of int64
        """
        if self._where is None:
            where = np.full(self.n_total, -1, dtype=np.int64)
            where[self.index] = np.arange(self.n_local, dtype=np.int64)
            self._where = where
        loc = self._where[np.asarray(global_numbers, dtype=np.int64)]
        return loc[loc >= 0]

    def local_batches(self, perm, bounds):
        """This rank's part of each global mini-batch.

        Parameters
        ----------
        perm : ndarray of int
            Permutation of the global numbers (drawn from the shared seed).
        bounds : list of (int, int)
            Global mini-batches ``perm[start:stop]``.

        Returns
        -------
        positions : ndarray of int64
            Local positions, mini-batch after mini-batch (one transfer per epoch).
        local_bounds : list of (int, int)
            Ranges of ``positions`` per mini-batch (possibly empty).
        """
        chunks, out, k = [], [], 0
        for start, stop in bounds:
            loc = self.local_positions(perm[start:stop])
            chunks.append(loc)
            out.append((k, k + loc.shape[0]))
            k += loc.shape[0]
        positions = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
        return positions, out

    def subset(self, global_numbers):
        """The partition of a global subset (e.g. the training part after a validation split).

        Global number ``j`` of the new numbering is ``global_numbers[j]`` of this one.

        Parameters
        ----------
        global_numbers : ndarray of int
            The subset, as global numbers of this partition, in the new global order.

        Returns
        -------
        local_positions : ndarray of int64
            Local positions (in this partition) of this rank's members of the subset, in the
            new global order.
        partition : Partition
            The partition of the subset (``counts`` left empty).
        """
        global_numbers = np.asarray(global_numbers, dtype=np.int64)
        if self._where is None:
            self.local_positions(global_numbers[:0])
        loc = self._where[global_numbers]
        held = np.nonzero(loc >= 0)[0]
        return loc[held], Partition(n_total=int(global_numbers.shape[0]), index=held)


def shard_indices(n, comm=None, *, rank=None, size=None):
    """``(start, stop)`` of the contiguous block of ``n`` rows that a rank holds.

    Rank k of P holds rows ``[⌊k n / P⌋, ⌊(k+1) n / P⌋)`` (near-equal blocks, rank order).

    Parameters
    ----------
    n : int
    comm : mpi4py communicator or Communicator, optional
        Gives ``rank`` and ``size``.
    rank, size : int, optional
        Instead of ``comm``.

    Returns
    -------
    (int, int)
    """
    if comm is not None:
        c = as_communicator(comm)
        rank, size = c.rank, c.size
    if rank is None or size is None:
        rank, size = 0, 1
    if not (0 <= rank < size):
        raise ValueError(f"rank must be in [0, size), got rank={rank}, size={size}")
    return (rank * n) // size, ((rank + 1) * n) // size


def shard(X, comm=None, *, rank=None, size=None):
    """This rank's contiguous block of rows of ``X`` (or of each array of a tuple).

    Parameters
    ----------
    X : array-like or tuple of array-likes with the same number of rows
    comm : mpi4py communicator or Communicator, optional
    rank, size : int, optional

    Returns
    -------
    the block (views where the backend slices without copying)
    """
    if isinstance(X, tuple):
        return tuple(shard(a, comm, rank=rank, size=size) for a in X)
    lo, hi = shard_indices(len(X) if not hasattr(X, "shape") else X.shape[0], comm, rank=rank,
                           size=size)
    return X[lo:hi]


def global_score(estimator, X, y, comm):
    """The estimator's score over the samples of all ranks, each rank passing its own rows.

    Accuracy for classifiers (``classes_``), the coefficient of determination R² (pooled over
    outputs as :meth:`score`) for regressors; one all-reduce of a few numbers.

    .. math::

        \\text{acc} = \\frac{\\sum_k c_k}{\\sum_k m_k}, \\qquad
        R^2 = 1 − \\frac{\\sum_k ‖y^{(k)} − ŷ^{(k)}‖²}{\\sum_j (S_{2j} − S_{1j}^2 / m)}

    with ``S_1 = Σ y``, ``S_2 = Σ y²`` per output over all ranks.

    Parameters
    ----------
    estimator : fitted classifier or regressor of nmfdnn
    X, y : this rank's samples
    comm : mpi4py communicator or Communicator

    Returns
    -------
    float (the same on every rank)
    """
    c = as_communicator(comm)
    pred = to_numpy(estimator.predict(X))
    y = to_numpy(y) if array_api_compat.is_array_api_obj(y) else np.asarray(y)
    if c is None:
        return float(estimator.score(X, y))
    if hasattr(estimator, "classes_"):
        parts = np.array([float(np.sum(pred == y)), float(y.shape[0])])
        total = c.allreduce(parts)
        return float(total[0] / total[1])
    Y = y.reshape(y.shape[0], -1).astype(np.float64)
    P = pred.reshape(pred.shape[0], -1).astype(np.float64)
    parts = np.concatenate([[np.sum((Y - P) ** 2), Y.shape[0]], Y.sum(0), (Y * Y).sum(0)])
    total = c.allreduce(parts)
    k = Y.shape[1]
    m = total[1]
    s1, s2 = total[2:2 + k], total[2 + k:]
    return float(1.0 - total[0] / np.sum(s2 - s1 * s1 / m))


@contextlib.contextmanager
def abort_on_error(comm=None, *, passthrough=(), stream=None):
    """End every rank (``MPI_Abort``) when an exception escapes the block on one rank.

    Without it, an exception raised on one rank only leaves the other ranks waiting forever
    in their next collective.  Errors that every rank raises together (the collective
    validation of nmfdnn, divergence detected after an all-reduce) also end here: the message
    is printed by the failing rank(s), then the job ends with exit code 1.  Running a script
    as ``python -m mpi4py script.py`` has the same effect for a whole script.

    Parameters
    ----------
    comm : mpi4py communicator or Communicator, optional
        Default: ``MPI.COMM_WORLD`` (nothing is done when ``None`` and not under MPI).
    passthrough : tuple of exception types, optional
        Exceptions known to be raised on every rank together (nmfdnn's collective input
        checks and divergence errors): re-raised as they are, without aborting.
    stream : file, optional
        Where the message goes (default ``sys.stderr``).

    Yields
    ------
    Communicator or None
        The communicator used (``None`` for one process).
    """
    c = as_communicator(comm) if comm is not None else world()
    try:
        yield c
    except BaseException as exc:
        if c is None or isinstance(exc, passthrough) or (isinstance(exc, SystemExit)
                                                         and not exc.code):
            raise
        out = stream or sys.stderr
        print(f"nmfdnn: error on rank {c.rank} of {c.size}: {type(exc).__name__}: {exc}",
              file=out, flush=True)
        c.abort(1)
        raise
