"""scikit-learn style estimators over the pure solvers (samples are rows here)."""

__all__ = []

# --- issue 4: networks trained without backpropagation ---
from nmfdnn.estimators._network import NMFNetworkClassifier, NMFNetworkRegressor  # noqa: E402

__all__ += ["NMFNetworkClassifier", "NMFNetworkRegressor"]
