"""Baselines the NMF methods are measured against, on the same array API backend."""

from nmfdnn.baselines._backprop import (
    LOSSES,
    AdamState,
    BackpropState,
    adam_init,
    adam_step,
    backprop_minibatch_step,
    forward,
    glorot_init,
    loss_and_gradients,
    train_backprop,
    train_epoch,
)

__all__ = [
    "LOSSES",
    "AdamState",
    "BackpropState",
    "adam_init",
    "adam_step",
    "backprop_minibatch_step",
    "forward",
    "glorot_init",
    "loss_and_gradients",
    "train_backprop",
    "train_epoch",
]
