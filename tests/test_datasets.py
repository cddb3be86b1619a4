"""Dataset loaders: IDX parsing against hand-made files, MNIST from the shared data (skipped when
absent), clear errors, the toy problems of ALGORITHMS.md §8."""

import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from nmfdnn.datasets import (
    load_digits,
    load_mnist,
    load_orl_faces,
    make_disk,
    make_sin,
    read_idx,
)
from nmfdnn.testing import assert_close, assert_equal

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DATA = os.environ.get("NMFDNN_DATA") or (str(SHARED) if (SHARED / "mnist").is_dir() else None)


def _write_idx(path, array, compress):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(
        struct.pack(">I", s) for s in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.mark.parametrize("compress", [True, False])
def test_fake_mnist_roundtrip(tmp_path, compress):
    rng = np.random.default_rng(0)
    d = tmp_path / "mnist"
    d.mkdir()
    imgs = {"train": rng.integers(0, 256, (7, 28, 28)), "t10k": rng.integers(0, 256, (3, 28, 28))}
    labels = {"train": rng.integers(0, 10, 7), "t10k": rng.integers(0, 10, 3)}
    ext = ".gz" if compress else ""
    for k in imgs:
        _write_idx(d / f"{k}-images-idx3-ubyte{ext}", imgs[k], compress)
        _write_idx(d / f"{k}-labels-idx1-ubyte{ext}", labels[k], compress)
    X, y, Xt, yt = load_mnist(tmp_path)  # parent directory with mnist/
    assert X.shape == (7, 784) and X.dtype == np.float32 and Xt.shape == (3, 784)
    assert_close(X, imgs["train"].reshape(7, -1) / 255, rtol=1e-6, dtype=np.float32)
    assert_equal(y, labels["train"])
    assert_equal(yt, labels["t10k"])
    X2, *_ = load_mnist(d)  # the directory itself
    assert_equal(X2, X)


def test_env_variable_and_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("NMFDNN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="fashion-mnist") as info:
        load_mnist(kind="fashion")
    msg = str(info.value)
    assert str(tmp_path) in msg and "fashion-mnist" in msg and "NMFDNN_DATA" in msg
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, kind="cifar")


def test_corrupt_idx(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(ValueError, match="truncated"):
        read_idx(p)
    p.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        read_idx(p)


@pytest.mark.skipif(DATA is None, reason="MNIST files not found (set NMFDNN_DATA)")
def test_real_mnist_files():
    X, y, Xt, yt = load_mnist(DATA)
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    assert X.dtype == np.float32 and 0.0 <= X.min() and X.max() == 1.0
    # published label counts (shared/data/README.md)
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                                       5949]
    assert np.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_toys():
    X, y, Xt, yt = make_sin(random_state=0)
    assert X.shape == (100, 1) and Xt.shape == (1000, 1)
    assert np.all(np.abs(y - np.sin(2 * np.pi * X[:, 0])) <= 0.3 + 1e-6)
    assert_close(yt, np.sin(2 * np.pi * Xt[:, 0].astype(np.float64)), rtol=0, atol=1e-6,
                 dtype=np.float32)
    X, y, Xt, yt = make_disk(n_train=2000, random_state=0)
    assert X.shape == (2000, 2) and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.5) < 0.05  # equal areas
    assert np.array_equal(y, (np.sum(X.astype(float) ** 2, 1) < 2 / np.pi).astype(int))


def test_digits_and_namespace(xp, device):
    X, y, Xt, yt = load_digits(xp=xp, device=device)
    assert X.shape == (1437, 64) and Xt.shape == (360, 64)
    assert X.dtype == xp.float32
    assert float(xp.max(X)) == 1.0


# --- opt-in download, against a local HTTP server on 127.0.0.1 --------------------------------

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture
def mirror(tmp_path):
    """Small fake IDX files served by ``http.server`` on 127.0.0.1: (url, directory, arrays,
    their SHA-256 computed here with hashlib)."""
    import functools
    import hashlib
    import http.server
    import threading

    pytest.importorskip("pooch")
    served = tmp_path / "served"
    served.mkdir()
    rng = np.random.default_rng(1)
    arrays = {FILES[0]: rng.integers(0, 256, (5, 28, 28)), FILES[1]: rng.integers(0, 10, 5),
              FILES[2]: rng.integers(0, 256, (2, 28, 28)), FILES[3]: rng.integers(0, 10, 2)}
    for name, a in arrays.items():
        _write_idx(served / name, a, compress=True)
    hashes = {n: hashlib.sha256((served / n).read_bytes()).hexdigest() for n in FILES}

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served, arrays, hashes
    finally:
        server.shutdown()
        server.server_close()


def test_download_is_opt_in(tmp_path, monkeypatch):
    monkeypatch.delenv("NMFDNN_DATA", raising=False)
    pooch = pytest.importorskip("pooch")

    calls = []
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: calls.append(a))
    with pytest.raises(FileNotFoundError, match="nmfdnn fetch mnist"):
        load_mnist(tmp_path)
    assert calls == []  # the default stays offline


def test_download_verified_and_cached(tmp_path, mirror, monkeypatch):
    from nmfdnn.datasets import _download, fetch_mnist

    url, _, arrays, hashes = mirror
    monkeypatch.setitem(_download.REGISTRY, "mnist", hashes)
    home = tmp_path / "home"
    X, y, Xt, yt = load_mnist(home, download=True, base_url=url)
    np.testing.assert_allclose(X, arrays[FILES[0]].reshape(5, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(yt, arrays[FILES[3]])
    assert sorted(p.name for p in (home / "mnist").iterdir()) == sorted(FILES)
    # a second fetch finds the verified files and downloads nothing (the server is not needed)
    assert fetch_mnist("mnist", home, base_url="http://127.0.0.1:9/") == home / "mnist"
    # NMFDNN_DATA is the default data home, NMFDNN_FASHION_MNIST_URL the default mirror
    monkeypatch.setenv("NMFDNN_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("NMFDNN_FASHION_MNIST_URL", url)
    target = fetch_mnist("fashion", known_hashes=hashes)
    assert target == tmp_path / "env" / "fashion-mnist"
    np.testing.assert_array_equal(load_mnist(kind="fashion")[1], arrays[FILES[1]])


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_bad_download_is_deleted_and_reported(tmp_path, mirror, damage):
    from nmfdnn.datasets import fetch_mnist

    url, served, _, hashes = mirror
    victim = served / FILES[2]
    data = victim.read_bytes()
    if damage == "truncated":
        victim.write_bytes(data[: len(data) // 2])
    else:
        victim.write_bytes(data[:40] + bytes([data[40] ^ 0xFF]) + data[41:])
    home = tmp_path / "home"
    with pytest.raises(OSError, match=r"t10k-images-idx3-ubyte\.gz failed verification.*deleted"):
        fetch_mnist("mnist", home, base_url=url, known_hashes=hashes)
    assert not (home / "mnist" / FILES[2]).exists()
    assert not any("t10k-images" in p.name for p in (home / "mnist").iterdir())


def test_download_errors(tmp_path, mirror, monkeypatch):
    from nmfdnn.datasets import fetch_mnist

    url, _, _, hashes = mirror
    with pytest.raises(OSError, match=r"could not download .*nowhere/train-images"):
        fetch_mnist("mnist", tmp_path, base_url=url + "nowhere/", known_hashes=hashes)
    with pytest.raises(ValueError, match="kind"):
        fetch_mnist("cifar", tmp_path)
    with pytest.raises(ValueError, match="known_hashes has no SHA-256"):
        fetch_mnist("mnist", tmp_path, base_url=url, known_hashes={})
    monkeypatch.setitem(sys.modules, "pooch", None)  # as if not installed
    with pytest.raises(ImportError, match=r"nmfdnn\[data\]"):
        fetch_mnist("mnist", tmp_path, base_url=url, known_hashes=hashes)


def test_registry_matches_shared_files():
    """The built-in SHA-256 registry, against the real files where they are present."""
    import hashlib

    from nmfdnn.datasets._download import REGISTRY

    if DATA is None:
        pytest.skip("MNIST files not found (set NMFDNN_DATA)")
    for sub, files in REGISTRY.items():
        for name, digest in files.items():
            p = Path(DATA) / sub / name
            if p.is_file():
                assert hashlib.sha256(p.read_bytes()).hexdigest() == digest, p

# --- ORL faces: a fake faces.npz of the documented layout --------------------------------------


def _fake_orl(folder, n=6, seed=0):
    """``folder/faces.npz`` with ``X`` (n × 112·92 uint8, row-major images) and ``y``."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, 112 * 92), dtype=np.uint8)
    y = np.arange(n) % 3
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "faces.npz", X=X, y=y)
    return X, y


def test_orl_from_file_folder_parent_and_env(tmp_path, monkeypatch):
    X, y = _fake_orl(tmp_path / "orl-faces")
    monkeypatch.setenv("NMFDNN_DATA", str(tmp_path))
    for path in (tmp_path / "orl-faces" / "faces.npz", tmp_path / "orl-faces", tmp_path, None):
        Xl, yl, shape = load_orl_faces(path)
        assert shape == (112, 92)
        assert_equal(Xl, X / 255.0)  # float64 by default
        assert_equal(yl, y.astype(np.int64))


def test_orl_scale_dtype_and_downscale(tmp_path):
    X, _ = _fake_orl(tmp_path)
    raw, _, _ = load_orl_faces(tmp_path, scale=False, dtype="float32")
    assert_equal(raw, X, dtype=np.float32)
    small, _, shape = load_orl_faces(tmp_path, downscale=4)
    assert shape == (28, 23)
    # 4 × 4 block means written as a loop (112 × 92 divides exactly by 4)
    img = X[2].reshape(112, 92) / 255.0
    ref = np.array([[img[4 * i:4 * i + 4, 4 * j:4 * j + 4].mean() for j in range(23)]
                    for i in range(28)])
    assert_close(small[2], ref.ravel(), rtol=1e-12)
    # a factor that does not divide the image: the last rows/columns are dropped
    _, _, shape3 = load_orl_faces(tmp_path, downscale=3)
    assert shape3 == (37, 30)


def test_orl_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NMFDNN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="no path given and NMFDNN_DATA unset"):
        load_orl_faces()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"ORL faces not found; looked at .*empty"):
        load_orl_faces(empty)
    monkeypatch.setenv("NMFDNN_DATA", str(empty))
    with pytest.raises(FileNotFoundError, match=r"orl-faces.faces\.npz.*NMFDNN_DATA"):
        load_orl_faces()
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_orl_faces(tmp_path / "nothing.npz")


@pytest.mark.skipif(DATA is None or not (Path(DATA) / "orl-faces" / "faces.npz").is_file(),
                    reason="ORL faces not found (set NMFDNN_DATA)")
def test_real_orl_faces():
    X, y, shape = load_orl_faces(DATA)
    assert X.shape == (400, 112 * 92) and shape == (112, 92)
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert np.bincount(y).tolist() == [10] * 40  # 40 people, 10 images each


@pytest.mark.xfail(strict=True, reason="library: load_orl_faces does not check the file's "
                   "keys or image size (a KeyError from numpy, or wrong images returned)")
@pytest.mark.parametrize("bad", ["keys", "pixels"])
def test_orl_malformed_file_is_a_clear_error(tmp_path, bad):
    if bad == "keys":
        np.savez(tmp_path / "faces.npz", images=np.zeros((2, 112 * 92), np.uint8), y=[0, 1])
    else:
        np.savez(tmp_path / "faces.npz", X=np.zeros((2, 100), np.uint8), y=[0, 1])
    with pytest.raises(ValueError, match="faces.npz"):
        load_orl_faces(tmp_path)
