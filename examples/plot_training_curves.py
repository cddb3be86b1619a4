"""
Training curves: NMF layer solves against backpropagation
=========================================================

The same ReLU network (one hidden layer of 200 units) trained on scikit-learn's bundled digits
twice, on the same backend: by the semi-NMF layer solves of Algorithm 3
(:class:`~nmfdnn.estimators.NMFNetworkClassifier`, no backpropagation) and by mini-batch Adam with
a hand-written backward pass (:class:`~nmfdnn.estimators.BackpropClassifier`, the papers'
baseline). Both record the test accuracy after every epoch (``validation_scores_``) and the wall
time of every epoch (``epoch_times_``).
"""

import matplotlib.pyplot as plt
import numpy as np

from nmfdnn.datasets import load_digits
from nmfdnn.estimators import BackpropClassifier, NMFNetworkClassifier

X, y, X_test, y_test = load_digits(random_state=0)
common = dict(hidden_layer_sizes=(200,), max_epochs=10, random_state=0)
models = {
    "NMF layer solves (Algorithm 3)": NMFNetworkClassifier(**common),
    "backprop, Adam, batch 100": BackpropClassifier(**common),
}
fig, (ax_epoch, ax_time) = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for name, model in models.items():
    model.fit(X, y, X_val=X_test, y_val=y_test)
    error = 100 * (1 - np.asarray(model.validation_scores_))
    epochs = np.arange(1, len(error) + 1)
    ax_epoch.plot(epochs, error, marker="o", label=name)
    ax_time.plot(np.cumsum(model.epoch_times_), error, marker="o", label=name)
    print(f"{name}: test error {error[-1]:.2f} % after {len(error)} epochs, "
          f"{sum(model.epoch_times_):.2f} s")
ax_epoch.set(xlabel="epoch", ylabel="test error (%)", yscale="log")
ax_time.set(xlabel="wall time (s)")
ax_epoch.legend()
fig.tight_layout()
