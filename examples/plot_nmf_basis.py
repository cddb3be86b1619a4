"""
NMF basis images
================

:class:`~nmfdnn.estimators.NMF` factorizes non-negative images ``X ≈ W H`` (Lee–Seung
multiplicative updates, ALGORITHMS.md §1.6): the rows of ``H`` (``components_``) are non-negative
basis images, each image a non-negative combination of them, so the basis shows parts (strokes
here). The digits are bundled with scikit-learn; with the ORL faces on disk
(``nmfdnn.datasets.load_orl_faces`` reads them from ``NMFDNN_DATA``) the same code shows parts of
faces.
"""

import matplotlib.pyplot as plt
import numpy as np

from nmfdnn import NMF
from nmfdnn.datasets import load_digits

X, _, _, _ = load_digits(random_state=0)
model = NMF(16, init="nndsvda", max_iter=200, random_state=0)
W = model.fit_transform(X)
H = np.asarray(model.components_)
error = np.linalg.norm(X - W @ H) / np.linalg.norm(X)
print(f"relative error ||X - WH|| / ||X|| = {error:.3f} with {H.shape[0]} basis images")

fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
for ax, image in zip(axes.ravel(), H):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_axis_off()
fig.suptitle("16 NMF basis images of the digits")
fig.tight_layout()
