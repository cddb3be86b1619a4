"""Datasets: loaders for real data (read from a path or ``NMFDNN_DATA``, never downloaded) and
toy problems. NumPy is allowed here (host-side data loading)."""

__all__ = []
