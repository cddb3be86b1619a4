"""Trainers: loops over the layer solvers (networks trained without backpropagation).

- :func:`train_bias_reg` — Algorithm 3 of ALGORITHMS.md §2 (bias, regularization, mini-batches,
  low-rank input with the reduced first-layer solve of §1.5);
- :func:`train_original` — the original scheme of §4;
- :func:`run_epochs` — the epoch loop both share, with its records and the output refit;
- :func:`autoencoder_init` — the NMF stacked autoencoder of §3; :func:`random_weights`.
"""

from nmfdnn._records import EpochRecord, TrainingHistory
from nmfdnn.training._autoencoder import autoencoder_init, output_layer_lstsq
from nmfdnn.training._bias_reg import bias_reg_minibatch_step, train_bias_reg
from nmfdnn.training._epochs import (
    LoopState,
    batch_bounds,
    check_omega,
    output_refit,
    prepare_inputs,
    refit_output_layer,
    run_epochs,
)
from nmfdnn.training._layers import (
    forward,
    hidden_features,
    predict_columns,
    random_weights,
    reduce_first_layer,
)
from nmfdnn.training._original import original_minibatch_step, train_original

__all__ = [
    "EpochRecord",
    "LoopState",
    "TrainingHistory",
    "autoencoder_init",
    "batch_bounds",
    "bias_reg_minibatch_step",
    "check_omega",
    "forward",
    "hidden_features",
    "original_minibatch_step",
    "output_layer_lstsq",
    "output_refit",
    "predict_columns",
    "prepare_inputs",
    "random_weights",
    "reduce_first_layer",
    "refit_output_layer",
    "run_epochs",
    "train_bias_reg",
    "train_original",
]
