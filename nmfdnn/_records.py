"""What a training run reports: one record per epoch, shared by every trainer.

Neutral ground between the trainers of :mod:`nmfdnn.training` (without backpropagation) and the
backpropagation baseline of :mod:`nmfdnn.baselines`: both fill a :class:`TrainingHistory` with
:class:`EpochRecord` values read back from the device once per epoch, and the estimators read
``loss_curve_``, ``validation_scores_`` and ``epoch_times_`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EpochRecord", "TrainingHistory", "end_epoch"]


@dataclass
class EpochRecord:
    """What one epoch reports (host values, read once at the end of the epoch).

    Parameters
    ----------
    epoch : int
        1-based epoch number.
    loss : float
        Mean training loss of the epoch, each mini-batch evaluated with the weights it started
        from (the running training loss, as scikit-learn's MLP reports): ``½‖y − ŷ‖²`` per
        sample for the trainers without backpropagation, the optimized loss for backpropagation.
        It describes the weights *during* the epoch, not the ones returned after it: the
        first mini-batch of a run is scored with the initial weights, the output refit and the
        weight average are not applied.  With one mini-batch per epoch (``batch_size`` ≥ the
        samples) it is exactly the loss of the weights before the epoch, e.g. 4.6 for random
        weights on digits when the returned network already scores 97.8 %; the loss of the
        returned weights is ``½‖y − ŷ‖²`` of their predictions (``nmfdnn train`` prints both).
    val_score : float or None
        Validation score after the epoch (the ``score`` callable of the trainer).
    seconds : float
        Wall time of the epoch, device work included (the read-back synchronizes).
    """

    epoch: int
    loss: float
    val_score: float | None
    seconds: float


@dataclass
class TrainingHistory:
    """Per-epoch records of a training run.

    Parameters
    ----------
    records : list of EpochRecord
        One per epoch run.
    stopped_early : bool
        Whether a callback ended the run before ``max_epochs``.
    """

    records: list = field(default_factory=list)
    stopped_early: bool = False

    @property
    def loss_curve(self):
        """list of float: the training loss of every epoch."""
        return [r.loss for r in self.records]

    @property
    def val_scores(self):
        """list of float or None: the validation score of every epoch."""
        return [r.val_score for r in self.records]

    @property
    def n_epochs(self):
        """int: the number of epochs run."""
        return len(self.records)


def end_epoch(history, record, *, max_epochs, callback, weights, on_epoch, state):
    """The end of an epoch, the same for every trainer: record it, call ``callback``, then
    ``on_epoch``.

    Parameters
    ----------
    history : TrainingHistory
        Gets ``record`` appended (and ``stopped_early`` set when the callback stops early).
    record : EpochRecord
    max_epochs : int
    callback : callable or None
        ``callback(record, weights) -> bool``; ``True`` stops training.
    weights : list of arrays
        The weights handed to ``callback`` (the scored ones).
    on_epoch : callable or None
        ``on_epoch(state)`` after the callback (e.g. writes a checkpoint); read-only.
    state : callable
        ``state()`` builds the trainer's state for ``on_epoch`` (only called when it is given).

    Returns
    -------
    bool
        Whether training stops.
    """
    history.records.append(record)
    stop = bool(callback is not None and callback(record, weights))
    if stop:
        history.stopped_early = record.epoch < max_epochs
    if on_epoch is not None:
        on_epoch(state())
    return stop
