"""Datasets: loaders for real data (read from a path or ``NMFDNN_DATA``, never downloaded) and
toy problems. NumPy is allowed here (host-side data loading)."""

__all__ = []

# --- the NMF family (issue 6) ---
from nmfdnn.datasets._orl import load_orl_faces  # noqa: E402

__all__ += ["load_orl_faces"]
