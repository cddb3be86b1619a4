"""scikit-learn style estimators over the pure solvers (samples are rows here)."""

__all__ = []

# --- the NMF family (issue 6) ---
from nmfdnn.estimators._deep_nmf import SSNMF, DeepNMF  # noqa: E402
from nmfdnn.estimators._nmf import NMF, SemiNMF  # noqa: E402
from nmfdnn.estimators._weak_nmf import WeaklyNMF  # noqa: E402

__all__ += ["NMF", "SemiNMF", "WeaklyNMF", "DeepNMF", "SSNMF"]
