"""Datasets: loaders for real data (read from a path or ``NMFDNN_DATA``, never downloaded) and
toy problems. NumPy is allowed here (host-side data loading)."""

__all__ = []

# --- issue 4: MNIST/Fashion-MNIST loaders, toy problems, digits ---
from nmfdnn.datasets._mnist import find_data_dir, load_mnist, read_idx  # noqa: E402
from nmfdnn.datasets._toys import load_digits, make_disk, make_sin  # noqa: E402

__all__ += ["find_data_dir", "load_digits", "load_mnist", "make_disk", "make_sin", "read_idx"]
