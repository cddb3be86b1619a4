"""The two tasks of the network estimators: classification and regression.

:class:`NetworkClassifierMixin` (one-hot targets, accuracy, ``predict`` as
``classes_[argmax ŷ]``) and :class:`NetworkRegressorMixin` (targets as columns, R²) are mixed
into the NMF and backpropagation networks beside
:class:`~nmfdnn.estimators._network_base.BaseNetwork`.
"""

from __future__ import annotations

import array_api_compat
from sklearn.metrics import accuracy_score, r2_score

from nmfdnn._array_api import get_namespace
from nmfdnn._host import (
    check_host_input,
    encode_labels,
    label_indices,
    pool_labels,
    take_labels,
    to_host,
    to_numpy,
)
from nmfdnn.distributed import collective_errors
from nmfdnn.estimators._base import (
    is_array,
    like_input,
    to_backend,
)

__all__ = ["NetworkClassifierMixin", "NetworkRegressorMixin"]


class NetworkClassifierMixin:
    """Classification: one-hot targets, accuracy, ``predict`` as ``classes_[argmax ŷ]``."""

    def _targets(self, y, n_samples, *, xp, device, dtype, refit=True, comm=None):
        if refit and comm is not None:  # the classes of all ranks: after the local checks
            local, _ = encode_labels(y, n_samples, min_classes=1)

            def pooled():
                self.classes_ = pool_labels(comm.allgather(local))
                with collective_errors(comm):
                    if self.classes_.shape[0] < 2:
                        raise ValueError(f"y has only 1 class ({self.classes_[0]!r}) on all "
                                         "ranks; a classifier needs at least two classes")
                return self._targets(y, n_samples, xp=xp, device=device, dtype=dtype,
                                     refit=False)
            return pooled
        if refit:
            self.classes_, idx = encode_labels(y, n_samples)
        else:  # validation labels: indices into the fitted classes_ (−1: unseen label)
            idx = label_indices(self.classes_, y)
            if idx.shape[0] != n_samples:
                raise ValueError(f"X_val has {n_samples} samples but y_val has {idx.shape[0]}")
        K = len(self.classes_)
        idx = xp.asarray(idx, device=device)
        ks = xp.arange(K, device=device)
        return xp.astype(ks[:, None] == idx[None, :], dtype)

    def _score_columns(self, out, target, *, xp, reduce=None):
        hits = xp.astype(xp.argmax(out, axis=0) == xp.argmax(target, axis=0), out.dtype)
        if reduce is None:
            return xp.mean(hits)
        n = xp.full((), target.shape[1], dtype=out.dtype, device=array_api_compat.device(out))
        parts = reduce(xp.stack([xp.sum(hits), n]))  # the accuracy over all ranks
        return parts[0] / parts[1]

    def _partial_targets(self, y, n_samples, classes, first, *, xp, device, dtype):
        """One-hot targets of a ``partial_fit`` call: ``classes`` fixes ``classes_`` on the
        first call; labels outside it are refused."""
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(every class of the problem)")
            self.classes_, _ = encode_labels(classes)
        elif classes is not None:
            given, _ = encode_labels(classes)
            if given.shape != self.classes_.shape or not (given == self.classes_).all():
                raise ValueError(f"classes={list(given)} differs from classes_="
                                 f"{list(self.classes_)} of the previous partial_fit calls")
        check_host_input(y, "y")
        y_host = to_numpy(y) if is_array(y) else to_host(y)
        if y_host.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per sample), got shape {y_host.shape}")
        if y_host.shape[0] != n_samples:
            raise ValueError(f"X and y have inconsistent numbers of samples: X has {n_samples}, "
                             f"y has {y_host.shape[0]}")
        try:
            idx = label_indices(self.classes_, y_host)
        except TypeError as exc:
            raise TypeError(f"y has labels of another type than classes ({exc})") from None
        if (idx < 0).any():
            unknown = sorted(set(y_host[idx < 0].tolist()))[:5]
            raise ValueError(f"y contains labels not in classes: {unknown}")
        K = len(self.classes_)
        idx = xp.asarray(idx, device=device)
        ks = xp.arange(K, device=device)
        return xp.astype(ks[:, None] == idx[None, :], dtype)

    def decision_function(self, X):
        """Network output per class, in ``X``'s namespace.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples, n_classes), or (n_samples,) for 2 classes
            For 2 classes the score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        out, _ = self._output(X)
        if out.shape[1] == 2:
            out = out[:, 1] - out[:, 0]
        return like_input(out, X)

    def predict(self, X):
        """Class of the largest output, ``classes_[argmax_k ŷ_k]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples,)
            Numeric labels in ``X``'s namespace and device; other labels (strings) as a NumPy
            array.
        """
        out, xp = self._output(X)
        idx = xp.argmax(out, axis=1)
        if is_array(X) and not array_api_compat.is_numpy_array(X) \
                and self.classes_.dtype.kind in "iufb":
            xp_in = get_namespace(X)
            classes = xp_in.asarray(self.classes_, device=array_api_compat.device(X))
            return xp_in.take(classes, like_input(idx, X), axis=0)
        return take_labels(self.classes_, idx)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy (scikit-learn's ``accuracy_score`` on the host).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        pred = self.predict(X)
        y = to_numpy(y) if is_array(y) else y
        return float(accuracy_score(y, to_numpy(pred) if is_array(pred) else pred,
                                    sample_weight=sample_weight))

    def _get_model_state(self):
        arrays, attributes = super()._get_model_state()
        arrays["classes"] = to_numpy(self.classes_) if is_array(self.classes_) else self.classes_
        return arrays, attributes

    @classmethod
    def _from_model_state(cls, params, arrays, attributes, *, xp, device, dtype):
        est = super()._from_model_state(params, arrays, attributes, xp=xp, device=device,
                                        dtype=dtype)
        est.classes_ = arrays["classes"]
        return est


class NetworkRegressorMixin:
    """Regression: targets as columns, R², ``predict`` as the network output."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y, n_samples, *, xp, device, dtype, refit=True, comm=None):
        check_host_input(y, "y")
        ndim = getattr(y, "ndim", None)
        if ndim is None:
            y = to_host(y)
            ndim = y.ndim
        if ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got {ndim}-D")
        Y = to_backend(y, xp=xp, device=device, dtype=dtype, name="y", ndim=ndim)
        if Y.shape[0] != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {n_samples}, y has "
                f"{Y.shape[0]}"
            )
        if refit:
            self.y_1d_ = ndim == 1
            self.n_outputs_ = 1 if ndim == 1 else Y.shape[1]
        return Y[None, :] if ndim == 1 else Y.T

    def _partial_targets(self, y, n_samples, classes, first, *, xp, device, dtype):
        """Targets of a ``partial_fit`` call (``classes`` is ignored)."""
        Y = self._targets(y, n_samples, xp=xp, device=device, dtype=dtype, refit=first)
        if not first and Y.shape[0] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[0]} outputs, the fitted model {self.n_outputs_}")
        return Y

    def _score_columns(self, out, target, *, xp, reduce=None):
        if reduce is not None:  # R² over all ranks from the sums Σ(y−ŷ)², Σy, Σy² and m
            n = xp.full((1,), target.shape[1], dtype=out.dtype,
                        device=array_api_compat.device(out))
            parts = reduce(xp.concat([xp.reshape(xp.sum((target - out) ** 2), (1,)), n,
                                      xp.sum(target, axis=1), xp.sum(target * target, axis=1)]))
            k = target.shape[0]
            s1, s2 = parts[2:2 + k], parts[2 + k:]
            total = xp.sum(s2 - s1 * s1 / parts[1])
            return 1.0 - parts[0] / (total + xp.finfo(out.dtype).smallest_normal)
        resid = xp.sum((target - out) ** 2)
        total = xp.sum((target - xp.mean(target, axis=1, keepdims=True)) ** 2)
        return 1.0 - resid / (total + xp.finfo(out.dtype).smallest_normal)

    def predict(self, X):
        """Network output, in ``X``'s namespace.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples,) for a 1-D ``y`` at fit, else (n_samples, n_outputs)
        """
        out, _ = self._output(X)
        if self.y_1d_:
            out = out[:, 0]
        return like_input(out, X)

    def score(self, X, y, sample_weight=None):
        """R² (scikit-learn's ``r2_score`` on the host).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        pred = to_numpy(self.predict(X))
        y = to_numpy(y) if is_array(y) else y
        return float(r2_score(y, pred, sample_weight=sample_weight))

    def _get_model_state(self):
        arrays, attributes = super()._get_model_state()
        attributes["y_1d"] = bool(self.y_1d_)
        attributes["n_outputs_"] = int(self.n_outputs_)
        return arrays, attributes

    @classmethod
    def _from_model_state(cls, params, arrays, attributes, *, xp, device, dtype):
        est = super()._from_model_state(params, arrays, attributes, xp=xp, device=device,
                                        dtype=dtype)
        est.y_1d_ = attributes["y_1d"]
        est.n_outputs_ = attributes["n_outputs_"]
        return est
