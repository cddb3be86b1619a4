"""Trainers: loops over the layer solvers (networks trained without backpropagation).

- :func:`train_bias_reg` — Algorithm 3 of ALGORITHMS.md §2 (bias, regularization, mini-batches,
  low-rank input with the reduced first-layer solve of §1.5);
- :func:`train_original` — the original alternating scheme of §4;
- :func:`autoencoder_init` — the NMF stacked autoencoder of §3; :func:`random_weights`.
"""

from nmfdnn.training._alternating import original_minibatch_step, train_original
from nmfdnn.training._autoencoder import autoencoder_init, output_layer_lstsq
from nmfdnn.training._minibatch import (
    EpochRecord,
    TrainingHistory,
    batch_bounds,
    bias_reg_minibatch_step,
    prepare_inputs,
    refit_output_layer,
    run_epochs,
    train_bias_reg,
)
from nmfdnn.training._network import (
    InputBlock,
    forward,
    maybe_jit,
    predict_columns,
    random_weights,
    reduce_first_layer,
)

__all__ = [
    "EpochRecord",
    "InputBlock",
    "TrainingHistory",
    "autoencoder_init",
    "batch_bounds",
    "bias_reg_minibatch_step",
    "forward",
    "maybe_jit",
    "original_minibatch_step",
    "output_layer_lstsq",
    "predict_columns",
    "prepare_inputs",
    "random_weights",
    "reduce_first_layer",
    "refit_output_layer",
    "run_epochs",
    "train_bias_reg",
    "train_original",
]
