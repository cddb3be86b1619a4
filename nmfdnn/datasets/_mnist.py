"""MNIST and Fashion-MNIST from the standard IDX files (downloaded only when asked for)."""

from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np

from nmfdnn.datasets._download import BASE_URLS, fetch_mnist

__all__ = ["load_mnist", "read_idx", "find_data_dir"]

_KINDS = {"mnist": "mnist", "fashion": "fashion-mnist", "fashion-mnist": "fashion-mnist"}
_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path):
    """Read an IDX file (gzip-compressed or raw) into a NumPy array.

    The header is ``0x00 0x00 <type> <ndim>`` then ``ndim`` big-endian uint32 sizes; only the
    unsigned-byte type (0x08) used by MNIST is supported.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    numpy.ndarray of dtype uint8
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise ValueError(f"{path}: only unsigned-byte IDX files are supported (type {data[2]:#x})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    offset = 4 + 4 * ndim
    size = int(np.prod(shape))
    if len(data) - offset != size:
        raise ValueError(f"{path}: header says {shape} ({size} bytes) but {len(data) - offset} "
                         "bytes follow (truncated or corrupt file)")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def _cache_dir():
    """pooch's cache directory for nmfdnn, if pooch is installed (no download)."""
    if importlib.util.find_spec("pooch") is None:
        return None
    import pooch

    return Path(pooch.os_cache("nmfdnn"))


def _candidates(path, sub, cache=False):
    roots = []
    if path is not None:
        roots.append(Path(path).expanduser())
    env = os.environ.get("NMFDNN_DATA")
    if env:
        roots.append(Path(env).expanduser())
    if cache and path is None and not env and _cache_dir() is not None:
        roots.append(_cache_dir())  # where `nmfdnn fetch` puts files by default
    dirs = []
    for root in roots:
        dirs += [root, root / sub]
    return dirs


def _find_file(directory, stem):
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz",
                 stem.replace("-idx", ".idx")):
        p = directory / name
        if p.is_file():
            return p
    return None


def find_data_dir(kind="mnist", path=None):
    """The directory holding the four IDX files of ``kind``.

    Looks in ``path`` and ``path/<kind dir>``, then in ``$NMFDNN_DATA`` and
    ``$NMFDNN_DATA/<kind dir>`` (``mnist/`` or ``fashion-mnist/``); when neither is given, in
    the download cache of :func:`fetch_mnist` (if pooch is installed).

    Parameters
    ----------
    kind : {"mnist", "fashion"}, default="mnist"
        MNIST or Fashion-MNIST.
    path : str or path-like, optional
        Directory to look in first.

    Returns
    -------
    pathlib.Path
        A directory holding the four files (optionally gzipped).

    Raises
    ------
    ValueError
        If ``kind`` is unknown.
    FileNotFoundError
        Saying where it looked and how to get the files.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'mnist' or 'fashion', got {kind!r}")
    sub = _KINDS[kind]
    looked = _candidates(path, sub, cache=True)
    for directory in looked:
        if all(_find_file(directory, stem) for stem in _FILES.values()):
            return directory
    where = ", ".join(str(p) for p in looked) or "nowhere (no path= given, NMFDNN_DATA unset)"
    names = ", ".join(s + "[.gz]" for s in _FILES.values())
    raise FileNotFoundError(
        f"{sub} IDX files not found; looked in: {where}. Download them (verified by SHA-256) "
        f"with `nmfdnn fetch {kind.split('-')[0]}` (or `nmfdnn train --download`) or "
        f"load_mnist(..., download=True), or get "
        f"the four files {names} from {BASE_URLS[sub]}, put them in a directory DIR/{sub}/ and "
        f"pass path='DIR' (`--data DIR` on the command line) or set NMFDNN_DATA=DIR."
    )


def load_mnist(path=None, kind="mnist", *, dtype="float32", download=False, base_url=None):
    """Load MNIST (or Fashion-MNIST) from the standard IDX files.

    Offline by default: nothing is downloaded unless ``download=True``.

    Parameters
    ----------
    path : str or Path, optional
        Directory holding the files, or its parent with a ``mnist/`` (``fashion-mnist/``)
        sub-directory. Default: the ``NMFDNN_DATA`` environment variable, then the download
        cache (:func:`get_data_home`).
    kind : {"mnist", "fashion"}, default="mnist"
    dtype : str, default="float32"
        Floating dtype of the images.
    download : bool, default=False
        If the files are not found, download them (:func:`fetch_mnist`, verified by SHA-256,
        needs pooch) into ``path`` (default: :func:`get_data_home`) and load them.
    base_url : str, optional
        Mirror to download from (see :func:`fetch_mnist`).

    Returns
    -------
    X_train : ndarray of shape (60000, 784)
        Pixels scaled to ``[0, 1]``.
    y_train : ndarray of shape (60000,), int64
    X_test : ndarray of shape (10000, 784)
    y_test : ndarray of shape (10000,), int64

    Raises
    ------
    FileNotFoundError
        When the files are not found (the message says where it looked and how to get them).
    """
    try:
        directory = find_data_dir(kind, path)
    except FileNotFoundError:
        if not download:
            raise
        directory = fetch_mnist(kind, path, base_url=base_url)
    arrays = {key: read_idx(_find_file(directory, stem)) for key, stem in _FILES.items()}

    def images(a):
        return (a.reshape(a.shape[0], -1).astype(dtype) / 255).astype(dtype)

    X_train, X_test = images(arrays["train_images"]), images(arrays["test_images"])
    y_train = arrays["train_labels"].astype(np.int64)
    y_test = arrays["test_labels"].astype(np.int64)
    if X_train.shape[0] != y_train.shape[0] or X_test.shape[0] != y_test.shape[0]:
        raise ValueError(f"{directory}: image and label counts differ")
    return X_train, y_train, X_test, y_test
