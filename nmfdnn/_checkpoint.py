"""Training checkpoints of the network estimators: atomic ``.npz`` files of host arrays plus
JSON metadata, and the fingerprint of the training data a checkpoint must be resumed with.

A host-side module (like ``_host.py``): file I/O happens on the host, so NumPy is allowed here.
It knows the file format only and imports nothing else of nmfdnn, so the estimators (which
write and read checkpoints during ``fit``) and :mod:`nmfdnn._io` (which saves fitted models
with the same atomic write) both build on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["write_checkpoint", "read_checkpoint", "checkpoint_params", "data_fingerprint",
           "jsonable_params", "write_atomic", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "nmfdnn-checkpoint/1"


def jsonable_params(est):
    """The constructor parameters of ``est`` as JSON-able values (callbacks left out;
    namespaces, devices and dtypes by name; paths as strings)."""
    params = {}
    for key, value in est.get_params(deep=False).items():
        if key == "callbacks":
            continue
        if key == "backend" and value is not None and not isinstance(value, str):
            value = getattr(value, "__name__", None)
        if key in ("device", "dtype") and value is not None and not isinstance(value, str):
            value = str(value)
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        params[key] = value
    return params


def write_atomic(path, arrays, *, pause=0.0):
    """``np.savez`` to a temporary file in the folder of ``path``, flushed to disk, then
    ``os.replace``: a reader (or a crash) sees the old file or the new one, never half of one.
    ``pause`` seconds are slept between the write and the rename (tests kill the writer there).
    """
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if pause:
            time.sleep(pause)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def checkpoint_params(est, exclude=("checkpoint", "resume", "warm_start", "max_epochs",
                                    "verbose")):
    """The parameters of ``est`` that a checkpoint must match (JSON-able).

    ``max_epochs`` may differ (a resumed run may be extended), and so may the parameters
    that do not change the computation (``verbose``, ``callbacks``, ``checkpoint``,
    ``resume``, ``warm_start``).
    """
    return {k: v for k, v in jsonable_params(est).items() if k not in exclude}


def data_fingerprint(shape, dtype, sample, sums):
    """A cheap fingerprint of a training set: shape, dtype and a SHA-256 of a sample.

    Parameters
    ----------
    shape : tuple of int
    dtype : str
    sample : numpy.ndarray
        A strided sample of the rows (taken on the device, then copied).
    sums : numpy.ndarray
        The column sums (every entry counts).

    Returns
    -------
    dict
        ``{"shape": [...], "dtype": ..., "sha256": ...}`` (JSON-able).
    """
    h = hashlib.sha256()
    for a in (sample, sums):
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return {"shape": [int(s) for s in shape], "dtype": str(dtype), "sha256": h.hexdigest()}


def write_checkpoint(path, arrays, meta):
    """Write a training checkpoint atomically (temporary file in the same folder + rename).

    Parameters
    ----------
    path : str or Path
        The checkpoint file (written as given; ``.npz`` content).
    arrays : dict of str to numpy.ndarray
        Host arrays of the training state.
    meta : dict
        JSON-able description (epoch, generator state, records, parameters, data
        fingerprint, …); the format tag is added.

    Notes
    -----
    A run killed at any moment leaves the previous checkpoint intact (and possibly a stale
    ``<name>.*.tmp`` file, which is never read).  For tests, the environment variables
    ``NMFDNN_TEST_SLOW_CHECKPOINT`` and ``NMFDNN_TEST_CHECKPOINT_PAUSE`` (seconds) make the
    writer sleep between the write and the rename, and after the rename.
    """
    path = Path(path)
    meta = dict(meta, format=CHECKPOINT_FORMAT)
    arrays = dict(arrays, __meta__=np.asarray(json.dumps(meta, default=_json_default)))
    write_atomic(path, arrays,
                  pause=float(os.environ.get("NMFDNN_TEST_SLOW_CHECKPOINT", 0) or 0))
    pause = float(os.environ.get("NMFDNN_TEST_CHECKPOINT_PAUSE", 0) or 0)
    if pause:
        time.sleep(pause)
    return path


def read_checkpoint(path):
    """Read a checkpoint written by :func:`write_checkpoint`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    arrays : dict of str to numpy.ndarray
    meta : dict

    Raises
    ------
    ValueError
        If the file is not an nmfdnn checkpoint.
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"checkpoint {path} cannot be read ({exc})") from exc
    meta = json.loads(str(data.pop("__meta__", "{}")))
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an nmfdnn checkpoint (format {meta.get('format')!r})")
    return data, meta
