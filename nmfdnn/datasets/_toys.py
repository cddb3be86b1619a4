"""The toy problems of ALGORITHMS.md §8 and scikit-learn's bundled digits (no download)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.datasets import load_digits as _sk_digits
from sklearn.model_selection import train_test_split

from nmfdnn._array_api import resolve_namespace
from nmfdnn._host import check_random_state

__all__ = ["make_sin", "make_disk", "load_digits"]


def _out(arrays, xp, device, dtype):
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    if xp is None:
        return tuple(arrays)
    xp = resolve_namespace(xp)
    return tuple(xp.asarray(a, device=device) for a in arrays)


def make_sin(n_train=100, n_test=1000, *, noise=0.3, random_state=None, dtype="float32",
             xp=None, device=None):
    """Model 1 of the bias paper: ``y = sin(2πx) + ε`` on ``[0, 2]``.

    ``n_train`` points ``x`` at regular intervals, ``ε ~ U(−noise, noise)``; ``n_test`` clean
    test points on the same interval.

    Parameters
    ----------
    n_train : int, default=100
        Training points.
    n_test : int, default=1000
        Test points.
    noise : float, default=0.3
        Half-width of the uniform noise on the training targets.
    random_state : None, int or numpy Generator, default=None
        Seed of the host draws.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the float arrays (labels stay int64).
    xp : str, namespace or None, default=None
        Backend of the returned arrays (``None``: NumPy).
    device : str, device or None, default=None
        Device of the returned arrays.

    Returns
    -------
    X_train : array of shape (n_train, 1)
    y_train : array of shape (n_train,)
        Noisy targets.
    X_test : array of shape (n_test, 1)
    y_test : array of shape (n_test,)
        The clean curve ``sin(2πx)``.
    """
    rng = check_random_state(random_state)
    x = np.linspace(0.0, 2.0, n_train)
    y = np.sin(2 * np.pi * x) + rng.uniform(-noise, noise, size=n_train)
    xt = np.linspace(0.0, 2.0, n_test)
    return _out([x[:, None], y, xt[:, None], np.sin(2 * np.pi * xt)], xp, device, dtype)


def make_disk(n_train=300, n_test=1000, *, random_state=None, dtype="float32", xp=None,
              device=None):
    """Model 2 of the bias paper: points inside or outside a disk, uniform on ``[−1, 1]²``.

    Class 1 inside the circle of radius ``sqrt(2/π)`` (half the area), class 0 outside.

    Parameters
    ----------
    n_train : int, default=300
        Training points.
    n_test : int, default=1000
        Test points.
    random_state : None, int or numpy Generator, default=None
        Seed of the host draws.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the float arrays (labels stay int64).
    xp : str, namespace or None, default=None
        Backend of the returned arrays (``None``: NumPy).
    device : str, device or None, default=None
        Device of the returned arrays.

    Returns
    -------
    X_train : array of shape (n_train, 2)
    y_train : array of shape (n_train,), int64 in {0, 1}
    X_test : array of shape (n_test, 2)
    y_test : array of shape (n_test,)
    """
    rng = check_random_state(random_state)
    r2 = 2.0 / math.pi

    def draw(n):
        X = rng.uniform(-1.0, 1.0, size=(n, 2))
        return X, (np.sum(X * X, axis=1) < r2).astype(np.int64)

    X, y = draw(n_train)
    Xt, yt = draw(n_test)
    return _out([X, y, Xt, yt], xp, device, dtype)


def load_digits(test_size=0.2, *, random_state=0, dtype="float32", xp=None, device=None):
    """scikit-learn's bundled 8×8 digits (1797 images, no download), split train/test.

    Pixels scaled to ``[0, 1]``; a stratified split.

    Parameters
    ----------
    test_size : float, default=0.2
        Fraction of the images in the test set.
    random_state : None, int or numpy Generator, default=0
        Seed of the host draws.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the float arrays (labels stay int64).
    xp : str, namespace or None, default=None
        Backend of the returned arrays (``None``: NumPy).
    device : str, device or None, default=None
        Device of the returned arrays.

    Returns
    -------
    X_train : array of shape (n_train, 64)
    y_train : array of shape (n_train,), int64
    X_test : array of shape (n_test, 64)
    y_test : array of shape (n_test,)
    """
    d = _sk_digits()
    X = d.data / 16.0
    y = d.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )
    return _out([X_train, y_train, X_test, y_test], xp, device, dtype)
