"""nmfdnn: networks trained without backpropagation by (nonlinear) semi-NMF, and the NMF family,
written once against the Python array API standard (NumPy, CuPy, PyTorch, JAX, array-api-strict).
"""

from nmfdnn._array_api import (
    BACKENDS,
    BackendError,
    available_backends,
    get_namespace,
    gpu_available,
    namespace_from_name,
    resolve_device,
    resolve_dtype,
    resolve_namespace,
    sync,
)
from nmfdnn._host import check_random_state, to_numpy
from nmfdnn._io import load_model, save_model
from nmfdnn._linalg import gram_pinv, lstsq_left, lstsq_right
from nmfdnn._validation import DivergenceWarning, NumericalError
from nmfdnn.estimators import (
    NMF,
    SSNMF,
    BackpropClassifier,
    BackpropRegressor,
    DeepNMF,
    NMFNetworkClassifier,
    NMFNetworkRegressor,
    SemiNMF,
    WeaklyNMF,
)
from nmfdnn.evaluation import kmeans_nmi
from nmfdnn.factorizations import (
    LowRankInput,
    SolverInfo,
    lowrank_approximation,
    nmf,
    nmf_init,
    nmf_step,
    nonlinear_lstsq_weights,
    nonlinear_lstsq_weights_step,
    nonlinear_semi_nmf,
    nonlinear_semi_nmf_step,
    nonlinear_u_step,
    nonneg_nonlinear_lstsq_targets,
    nonneg_nonlinear_lstsq_targets_step,
    reduced_first_layer_step,
    semi_nmf,
    semi_nmf_step,
)
from nmfdnn.training import train_bias_reg, train_original

__version__ = "0.1.0.dev0"

__all__ = [
    "BACKENDS",
    "BackpropClassifier",
    "BackpropRegressor",
    "NMF",
    "SSNMF",
    "DeepNMF",
    "NMFNetworkClassifier",
    "NMFNetworkRegressor",
    "SemiNMF",
    "WeaklyNMF",
    "gpu_available",
    "kmeans_nmi",
    "load_model",
    "nmf_init",
    "save_model",
    "train_bias_reg",
    "train_original",
    "BackendError",
    "LowRankInput",
    "NumericalError",
    "DivergenceWarning",
    "SolverInfo",
    "available_backends",
    "check_random_state",
    "get_namespace",
    "gram_pinv",
    "lowrank_approximation",
    "lstsq_left",
    "lstsq_right",
    "namespace_from_name",
    "nmf",
    "nmf_step",
    "nonlinear_lstsq_weights",
    "nonlinear_lstsq_weights_step",
    "nonlinear_semi_nmf",
    "nonlinear_semi_nmf_step",
    "nonlinear_u_step",
    "nonneg_nonlinear_lstsq_targets",
    "nonneg_nonlinear_lstsq_targets_step",
    "reduced_first_layer_step",
    "resolve_device",
    "resolve_dtype",
    "resolve_namespace",
    "semi_nmf",
    "semi_nmf_step",
    "sync",
    "to_numpy",
]
