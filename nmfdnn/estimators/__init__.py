"""scikit-learn style estimators over the pure solvers (samples are rows here)."""

from nmfdnn.estimators._backprop import BackpropClassifier, BackpropRegressor
from nmfdnn.estimators._deep_nmf import SSNMF, DeepNMF
from nmfdnn.estimators._network_base import network_class
from nmfdnn.estimators._nmf import NMF
from nmfdnn.estimators._nmf_network import NMFNetworkClassifier, NMFNetworkRegressor
from nmfdnn.estimators._semi_nmf import SemiNMF
from nmfdnn.estimators._weak_nmf import WeaklyNMF

__all__ = [
    "BackpropClassifier",
    "BackpropRegressor",
    "NMF",
    "SSNMF",
    "DeepNMF",
    "NMFNetworkClassifier",
    "NMFNetworkRegressor",
    "SemiNMF",
    "WeaklyNMF",
    "network_class",
]
