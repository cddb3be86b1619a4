"""Datasets: loaders for real data (read from a path or ``NMFDNN_DATA``; downloaded, verified by
SHA-256, only when asked for) and toy problems. NumPy is allowed here (host-side data loading)."""

from nmfdnn.datasets._download import fetch_mnist, get_data_home
from nmfdnn.datasets._mnist import find_data_dir, load_mnist, read_idx
from nmfdnn.datasets._orl import load_orl_faces
from nmfdnn.datasets._toys import load_digits, make_disk, make_sin

__all__ = [
    "fetch_mnist",
    "find_data_dir",
    "get_data_home",
    "load_digits",
    "load_mnist",
    "load_orl_faces",
    "make_disk",
    "make_sin",
    "read_idx",
]
