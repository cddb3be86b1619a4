"""Evaluation helpers: clustering quality of learnt latents (host-side, scikit-learn metrics).

As in the weakly-NMF paper (§6): k-means on the latent samples, then the normalized mutual
information between the clusters and the class labels.  The latents are copied to the host
once (evaluation is not part of any iteration).
"""

from __future__ import annotations

from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from nmfdnn._host import check_random_state, to_host, to_numpy

__all__ = ["kmeans_nmi"]


def kmeans_nmi(Z, labels, *, n_clusters=None, n_init=10, random_state=None):
    """NMI between k-means clusters of the rows of ``Z`` and ``labels``.

    .. math::

        \\mathrm{NMI}(C, Y) = \\frac{I(C; Y)}{\\tfrac12 (H(C) + H(Y))}

    (scikit-learn's ``normalized_mutual_info_score``, arithmetic normalization).

    Parameters
    ----------
    Z : array of shape (n_samples, n_latent)
        Latents, one sample per row, any backend.
    labels : array-like of shape (n_samples,)
    n_clusters : int, optional
        Default: the number of distinct labels.
    n_init : int, default=10
        k-means restarts.
    random_state : None, int or numpy Generator

    Returns
    -------
    float
        NMI in [0, 1].
    """
    Zh = to_host(to_numpy(Z), dtype="float64")
    y = to_host(to_numpy(labels)).ravel()
    if Zh.ndim != 2 or Zh.shape[0] != y.shape[0]:
        raise ValueError(f"Z must have shape (n_samples, k) matching {y.shape[0]} labels, "
                         f"got {Zh.shape}")
    k = len(set(y.tolist())) if n_clusters is None else int(n_clusters)
    seed = int(check_random_state(random_state).integers(2**31 - 1))
    pred = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(Zh)
    return float(normalized_mutual_info_score(y, pred))
