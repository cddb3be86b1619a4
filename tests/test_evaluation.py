"""kmeans_nmi (weakly-NMF paper §6): against scikit-learn's normalized_mutual_info_score on
clustered toys."""

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from nmfdnn.evaluation import kmeans_nmi


def _blobs(rng, k=4, n_per=30, dim=5, spread=0.05):
    """``k`` far-apart clusters (centers 10 apart) with labels 0..k-1."""
    centers = 10.0 * np.eye(k, dim)
    y = np.repeat(np.arange(k), n_per)
    Z = centers[y] + spread * rng.standard_normal((y.size, dim))
    return Z, y


def test_perfect_clustering_is_one_on_every_backend(rng, xp, device):
    """Clusters found exactly: scikit-learn's NMI of a partition with itself, 1.0 exactly."""
    Z, y = _blobs(rng)
    assert kmeans_nmi(xp.asarray(Z, device=device), y, random_state=0) == 1.0


def test_permuted_labels_still_one(rng):
    Z, y = _blobs(rng)
    perm = np.array([2, 0, 3, 1])
    names = np.array(["d", "a", "c", "b"])
    assert kmeans_nmi(Z, perm[y], random_state=0) == 1.0
    assert kmeans_nmi(Z, names[y], random_state=0) == 1.0  # any label type
    order = rng.permutation(y.size)  # samples in any order, labels kept with them
    assert kmeans_nmi(Z[order], y[order], random_state=0) == 1.0


def test_random_labels_near_zero(rng):
    Z, _ = _blobs(rng, n_per=100)
    y_random = rng.integers(0, 4, size=Z.shape[0])
    value = kmeans_nmi(Z, y_random, random_state=0)
    assert 0.0 <= value < 0.03, value


def test_merged_clusters_match_sklearn(rng):
    """Four classes on two clusters (classes 0, 1 share one, 2, 3 the other), 2 clusters asked
    for: the value is scikit-learn's NMI between the labels and the pair of each label."""
    Z2, pair = _blobs(rng, k=2, n_per=60)
    y = 2 * pair + rng.integers(0, 2, size=pair.size)  # a class inside each cluster
    value = kmeans_nmi(Z2, y, n_clusters=2, random_state=0)
    ref = normalized_mutual_info_score(y, pair)
    assert 0.3 < ref < 0.9  # a value that is neither 0 nor 1
    assert value == pytest.approx(ref, rel=1e-12)
    # the default number of clusters is the number of distinct labels (4 here): not 2
    assert kmeans_nmi(Z2, y, random_state=0) != pytest.approx(ref, rel=1e-3)


def test_shape_mismatch_is_a_clear_error(rng):
    Z, y = _blobs(rng)
    with pytest.raises(ValueError, match=r"Z must have shape \(n_samples, k\) matching 119"):
        kmeans_nmi(Z, y[:-1])
    with pytest.raises(ValueError, match="Z must have shape"):
        kmeans_nmi(Z[:, 0], y)
