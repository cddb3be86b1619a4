"""The layer solvers: pure functions on any array API namespace (paper layout, data as columns)."""

from nmfdnn.factorizations._loop import SolverInfo
from nmfdnn.factorizations._lowrank import (
    LowRankInput,
    lowrank_approximation,
    reduced_first_layer_step,
)
from nmfdnn.factorizations._nmf import nmf, nmf_objective, nmf_step
from nmfdnn.factorizations._nonlinear import (
    nonlinear_lstsq_weights,
    nonlinear_lstsq_weights_step,
    nonlinear_semi_nmf,
    nonlinear_semi_nmf_objective,
    nonlinear_semi_nmf_step,
    nonlinear_u_step,
    nonneg_nonlinear_lstsq_targets,
    nonneg_nonlinear_lstsq_targets_step,
)
from nmfdnn.factorizations._semi_nmf import semi_nmf, semi_nmf_objective, semi_nmf_step

__all__ = [
    "SolverInfo",
    "LowRankInput",
    "lowrank_approximation",
    "reduced_first_layer_step",
    "nmf",
    "nmf_objective",
    "nmf_step",
    "nonlinear_lstsq_weights",
    "nonlinear_lstsq_weights_step",
    "nonlinear_semi_nmf",
    "nonlinear_semi_nmf_objective",
    "nonlinear_semi_nmf_step",
    "nonlinear_u_step",
    "nonneg_nonlinear_lstsq_targets",
    "nonneg_nonlinear_lstsq_targets_step",
    "semi_nmf",
    "semi_nmf_objective",
    "semi_nmf_step",
]

from nmfdnn.factorizations._deep_nmf import (
    deep_nmf,
    deep_nmf_objective,
    deep_nmf_step,
    max_pool,
    max_pool_adjoint,
    pooling_support,
)
from nmfdnn.factorizations._init import nmf_init
from nmfdnn.factorizations._weak_nmf import (
    deconv_grad,
    deconv_objective,
    deconv_transpose,
    leaky_relu,
    weak_nmf_grad,
    weak_nmf_objective,
    weak_nmf_train,
)

__all__ += [
    "deep_nmf",
    "deep_nmf_objective",
    "deep_nmf_step",
    "max_pool",
    "max_pool_adjoint",
    "pooling_support",
    "nmf_init",
    "deconv_grad",
    "deconv_objective",
    "deconv_transpose",
    "leaky_relu",
    "weak_nmf_grad",
    "weak_nmf_objective",
    "weak_nmf_train",
]
