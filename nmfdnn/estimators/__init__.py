"""scikit-learn style estimators over the pure solvers (samples are rows here)."""

__all__ = []
