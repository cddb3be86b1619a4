"""
Throughput against mini-batch size
==================================

An epoch of the NMF trainer is a few large matrix products per layer and mini-batch, so its
throughput (training samples per second) grows with the mini-batch size until the products are
large enough to keep the processor busy. Measured here on the digits (1437 training samples) with
the NumPy backend; on a GPU pass ``backend="torch", device="cuda"``.
"""

import time

import matplotlib.pyplot as plt

from nmfdnn.datasets import load_digits
from nmfdnn.estimators import NMFNetworkClassifier

X, y, _, _ = load_digits(random_state=0)
sizes = [50, 100, 250, 500, 1437]
throughput = []
for batch_size in sizes:
    model = NMFNetworkClassifier((100,), batch_size=batch_size, max_epochs=2, random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = min(model.epoch_times_)  # the fastest epoch: least disturbed by other work
    throughput.append(X.shape[0] / seconds)
    print(f"batch {batch_size:5d}: {throughput[-1]:9.0f} samples/s "
          f"(fit {time.perf_counter() - start:.2f} s)")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(sizes, throughput, marker="o")
ax.set(xscale="log", xlabel="mini-batch size", ylabel="training samples / s",
       title="NMF trainer, one hidden layer of 100")
fig.tight_layout()
