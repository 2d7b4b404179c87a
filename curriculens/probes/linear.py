"""``LinearProbe``: a scikit-learn estimator over the fused engine (logistic or ridge).

One probe at a time, with the same math as the batched entry points in
:mod:`curriculens.probes.fused`, so single fits and batched fits agree.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from curriculens.errors import ProbeError
from curriculens.probes.fused import fit_logistic_batch
from curriculens.probes.ridge import fit_ridge_batch

__all__ = ["LinearProbe"]

_KINDS = ("logistic", "ridge")


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Linear probe: ``StandardScaler`` + L2 logistic regression or ridge classification.

    ``kind="logistic"`` minimizes ``Σ log-loss + ‖w‖²/(2C)`` (binary sigmoid, multinomial for more
    classes), as ``LogisticRegression(C=C)`` on standardized features. ``kind="ridge"`` matches
    ``RidgeClassifier(alpha=alpha)`` on standardized features (±1 one-hot targets). Intercepts are
    unpenalized. Coefficients are reported in the standardized space.

    Args:
        kind: ``"logistic"`` or ``"ridge"``.
        C: Inverse L2 strength of the logistic probe.
        alpha: L2 strength of the ridge probe.
        tol: Max-abs gradient tolerance of the logistic solver (averaged objective).
        max_iter: Maximum solver iterations.
        device: Torch device of the solve (default CPU).

    Attributes:
        classes_: Class labels, sorted.
        coef_: ``[1, d]`` for two classes, ``[n_classes, d]`` otherwise.
        intercept_: ``[1]`` or ``[n_classes]``.
        mean_: Feature means of the training data.
        scale_: Feature scales of the training data.
        n_iter_: Solver iterations, shape ``[1]``.
        n_features_in_: Number of features seen in ``fit``.

    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> probe = LinearProbe(kind="logistic", C=1.0).fit(X, y)
    >>> probe.score(X, y) > 0.95
    True
    """

    def __init__(
        self,
        *,
        kind: str = "logistic",
        C: float = 1.0,
        alpha: float = 1.0,
        tol: float = 1e-4,
        max_iter: int = 300,
        device: str | None = None,
    ):
        self.kind = kind
        self.C = C
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.device = device

    def _check_params(self) -> None:
        if self.kind not in _KINDS:
            raise ProbeError(f"kind must be one of {_KINDS}; received {self.kind!r}.")
        for name in ("C", "alpha", "tol"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and v > 0):
                raise ProbeError(f"{name} must be a positive float; received {v!r}.")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ProbeError(f"max_iter must be a positive int; received {self.max_iter!r}.")

    def fit(self, X, y):
        """Fit on ``X [n, d]`` and labels ``y [n]``; returns ``self``."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.kind == "logistic":
            res = fit_logistic_batch(
                X[None].astype(np.float32),
                codes[None],
                Cs=(float(self.C),),
                tol=self.tol,
                max_iter=self.max_iter,
                device=self.device,
            )
        else:
            res = fit_ridge_batch(
                X[None].astype(np.float32),
                codes[None],
                alphas=(float(self.alpha),),
                device=self.device,
            )
        if res.failure[0][0] is not None:
            raise ProbeError(f"LinearProbe.fit failed: {res.failure[0][0]}")
        k = self.classes_.size
        coef = res.coef[0, 0, :k].astype(np.float64)
        intercept = res.intercept[0, 0, :k].astype(np.float64)
        if k == 2:
            coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
        self.coef_, self.intercept_ = coef, intercept
        self.mean_, self.scale_ = res.mean[0], res.scale[0]
        self.n_iter_ = np.array([max(int(res.n_iter[0, 0]), 1)])
        return self

    def decision_function(self, X) -> np.ndarray:
        """Scores ``[n]`` (two classes: positive favours ``classes_[1]``) or ``[n, n_classes]``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        Z = (np.asarray(X, np.float64) - self.mean_) / self.scale_
        scores = Z @ self.coef_.T + self.intercept_
        return scores[:, 0] if self.coef_.shape[0] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """Predicted class labels ``[n]``."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(1)
        return self.classes_[idx]

    def _is_logistic(self) -> bool:
        return self.kind == "logistic"

    @available_if(_is_logistic)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``[n, n_classes]`` (logistic probes only)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-scores))
            return np.stack([1.0 - p1, p1], axis=1)
        scores = scores - scores.max(1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(1, keepdims=True)

    @available_if(_is_logistic)
    def predict_log_proba(self, X) -> np.ndarray:
        """Log class probabilities ``[n, n_classes]`` (logistic probes only)."""
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))
