"""Opt-in, verified download of MNIST and Fashion-MNIST (through pooch, imported lazily).

Nothing here runs unless asked for (``load_mnist(download=True)``, ``fetch_mnist``, or
``nmfdnn fetch``): the default of every loader stays offline.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fetch_mnist", "get_data_home"]

#: Sub-directory of the data home per kind (the layout ``load_mnist`` reads).
SUBDIRS = {"mnist": "mnist", "fashion": "fashion-mnist", "fashion-mnist": "fashion-mnist"}

#: Where the files are downloaded from (a directory URL holding the four files); overridden by
#: ``base_url=`` or the environment variable named in ``URL_ENV``.
BASE_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
URL_ENV = {"mnist": "NMFDNN_MNIST_URL", "fashion-mnist": "NMFDNN_FASHION_MNIST_URL"}

#: SHA-256 of the original gzip-compressed IDX files.
REGISTRY = {
    "mnist": {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}


def _subdir(kind):
    if kind not in SUBDIRS:
        raise ValueError(f"kind must be 'mnist' or 'fashion', got {kind!r}")
    return SUBDIRS[kind]


def _import_pooch():
    try:
        import pooch
    except ImportError as exc:
        raise ImportError(
            "downloading data needs the 'pooch' package: pip install 'nmfdnn[data]' "
            "(or pip install pooch)"
        ) from exc
    return pooch


def get_data_home(data_home=None):
    """The directory where downloaded data sets are kept.

    Parameters
    ----------
    data_home : str or Path, optional
        Returned as is when given.

    Returns
    -------
    pathlib.Path or None
        ``data_home``, else the ``NMFDNN_DATA`` environment variable, else the operating
        system's cache directory for ``nmfdnn`` (``pooch.os_cache("nmfdnn")``, e.g.
        ``~/.cache/nmfdnn`` on Linux); ``None`` if none of these is available (pooch not
        installed).
    """
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get("NMFDNN_DATA")
    if env:
        return Path(env).expanduser()
    try:
        import pooch
    except ImportError:
        return None
    return Path(pooch.os_cache("nmfdnn"))


def fetch_mnist(kind="mnist", data_home=None, *, base_url=None, known_hashes=None,
                progress=False):
    """Download the four IDX files of MNIST or Fashion-MNIST, verified by SHA-256.

    Files already present with the right hash are not downloaded again. A download whose
    SHA-256 differs from the expected one (truncated, corrupted, or a different file) is deleted
    and reported; nothing unverified is kept.

    Parameters
    ----------
    kind : {"mnist", "fashion"}, default="mnist"
    data_home : str or Path, optional
        Parent directory; the files go to ``data_home/mnist/`` (``data_home/fashion-mnist/``).
        Default: :func:`get_data_home`.
    base_url : str, optional
        URL of the directory holding the four ``*.gz`` files (a mirror). Default: the environment
        variable ``NMFDNN_MNIST_URL`` (``NMFDNN_FASHION_MNIST_URL``), else the publishers' site.
    known_hashes : dict, optional
        ``{file name: SHA-256 hex digest}`` replacing the built-in registry (for a mirror serving
        other files).
    progress : bool, default=False
        Show a download progress bar (needs tqdm).

    Returns
    -------
    pathlib.Path
        The directory holding the four files (what :func:`load_mnist` reads).

    Raises
    ------
    ImportError
        If pooch is not installed.
    OSError
        If a file cannot be downloaded, or its SHA-256 does not match (the file is deleted).
    """
    sub = _subdir(kind)
    pooch = _import_pooch()
    home = get_data_home(data_home)
    target = home / sub
    target.mkdir(parents=True, exist_ok=True)
    url = base_url or os.environ.get(URL_ENV[sub]) or BASE_URLS[sub]
    if not url.endswith("/"):
        url += "/"
    hashes = REGISTRY[sub] if known_hashes is None else known_hashes
    for name in REGISTRY[sub]:
        if name not in hashes:
            raise ValueError(f"known_hashes has no SHA-256 for {name!r}")
        try:
            pooch.retrieve(url + name, known_hash=f"sha256:{hashes[name]}", fname=name,
                           path=target, progressbar=progress)
        except Exception as exc:
            (target / name).unlink(missing_ok=True)  # pooch deletes a bad download; be sure
            if isinstance(exc, ValueError) and "hash" in str(exc):
                raise OSError(
                    f"download of {url + name} failed verification: its SHA-256 is not "
                    f"{hashes[name]} (truncated or corrupted transfer, or a mirror serving "
                    f"another file); the file was deleted. Run again, or try another mirror "
                    f"with base_url= / --base-url / {URL_ENV[sub]}."
                ) from exc
            raise OSError(
                f"could not download {url + name} ({type(exc).__name__}: {exc}); check the "
                f"network, use a mirror with base_url= / --base-url / {URL_ENV[sub]}, or put "
                f"the files in {target} yourself"
            ) from exc
    return target
