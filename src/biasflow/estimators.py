"""scikit-learn estimators: train a linear network by gradient flow, read its implicit bias.

:class:`GradientFlowClassifier` (exp or logistic loss, labels of any two values) and
:class:`GradientFlowRegressor` (square loss) run :func:`biasflow.dynamics.flow.flow` to a training loss
(``until``, e.g. ``"1e-100"``, never underflowing) and expose

- ``coef_`` — the end-to-end linear predictor β at the final checkpoint (f(x) = xᵀβ, no intercept:
  the networks of biasflow are linear, as in the theory they test);
- ``trajectory_`` — the full :class:`~biasflow.trajectory.Trajectory` (every checkpoint);
- ``margin_`` (classifier) — the normalized ℓ1 margin of ``coef_``, min_i y_i x_iᵀβ/‖β‖₁, and
  ``margins_`` with the ℓ1, ℓ2 and ℓ_{2/D} normalized margins;
- ``status_`` and ``message_`` — the run's status (``ok``; ``target_unreachable`` when the loss has a
  floor above ``until``) and what happened; ``floor_log10_`` — log10 of that floor, or None.

**Data where the loss has a floor** (classes that are not linearly separable, targets outside the range
of X — real data, most cross-validation folds): the training loss cannot go below the floor
ℒ* = inf ℒ > 0, so the estimators train to ℒ*·(1 + ``floor_rtol``) instead of ``until``, warn with a
:class:`LossFloorWarning`, and set ``status_ = "target_unreachable"``. There the flow converges to a
minimizer of the loss (Ji & Telgarsky 2019 for the non-separable logistic case), which is what is fitted.

With scikit-learn installed (the ``sklearn`` extra) they are scikit-learn estimators (``BaseEstimator`` and
the classifier/regressor mixins): ``clone``, pipelines, ``cross_val_score`` and ``GridSearchCV`` work, and
``check_estimator`` passes. Without it they keep the same interface.

>>> import numpy as np
>>> X = np.array([[1.0, 0.5], [2.0, -1.0], [-1.0, 0.2], [-2.0, 1.0]])
>>> clf = GradientFlowClassifier(alpha=0.1, until="1e-20").fit(X, ["no", "no", "yes", "yes"])
>>> clf
GradientFlowClassifier(alpha=0.1, until='1e-20')
>>> clf.predict(X).tolist(), clf.status_
(['no', 'no', 'yes', 'yes'], 'ok')
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .data import make_dataset
from .errors import BiasflowError

try:  # scikit-learn is optional (the `sklearn` extra)
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    HAVE_SKLEARN = False

    class BaseEstimator:  # type: ignore[no-redef]
        """The scikit-learn parameter protocol, for use without scikit-learn."""

        def get_params(self, deep: bool = True) -> dict:
            return {k: getattr(self, k) for k in _PARAMS}

        def set_params(self, **params):
            for k, v in params.items():
                if k not in _PARAMS:
                    raise BiasflowError(f"unknown parameter {k!r} for {type(self).__name__}")
                setattr(self, k, v)
            return self

        def __repr__(self) -> str:
            defaults = _GradientFlowBase.__init__.__kwdefaults__
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k])
            return f"{type(self).__name__}({args})"

    class ClassifierMixin:  # type: ignore[no-redef]
        def score(self, X, y) -> float:
            """Mean accuracy."""
            return float(np.mean(self.predict(X) == np.asarray(y).reshape(-1)))

    class RegressorMixin:  # type: ignore[no-redef]
        def score(self, X, y) -> float:
            """Coefficient of determination R²."""
            y = np.asarray(y, dtype=float).reshape(-1)
            r = y - self.predict(X)
            ss = float(np.sum((y - y.mean()) ** 2))
            return 1.0 - float(r @ r) / ss if ss > 0 else float("nan")


_PARAMS = ("depth", "alpha", "shape", "loss", "until", "checkpoints", "method", "model", "seed", "floor_rtol")


class LossFloorWarning(UserWarning):
    """The training loss has a floor above ``until`` (data not separable / not interpolable)."""


class _GradientFlowBase(BaseEstimator):
    _task = "classification"
    _default_loss = "exp"

    def __init__(
        self,
        *,
        depth: int = 2,
        alpha: float = 1.0,
        shape=None,
        loss: str | None = None,
        until: str = "1e-10",
        checkpoints=None,
        method: str = "auto",
        model: str = "diagonal",
        seed: int = 0,
        floor_rtol: float = 1e-6,
    ):
        self.depth = depth
        self.alpha = alpha
        self.shape = shape
        self.loss = loss
        self.until = until
        self.checkpoints = checkpoints
        self.method = method
        self.model = model
        self.seed = seed
        self.floor_rtol = floor_rtol

    # -------------------------------------------------------------------------------- validation
    def _validate_fit(self, X, y):
        if HAVE_SKLEARN:
            return validate_data(
                self, X, y, dtype=np.float64, y_numeric=self._task == "regression", ensure_min_samples=1
            )
        ds = make_dataset(X, np.zeros(len(X)) if y is None else _numeric_or_raw(y, self._task),
                          task="regression", where="fit(X, y)")
        self.n_features_in_ = ds.d
        return ds.X, np.asarray(y).reshape(-1) if self._task == "classification" else ds.y

    def _check_X(self, X) -> np.ndarray:
        if HAVE_SKLEARN:
            check_is_fitted(self, "coef_")
            return validate_data(self, X, dtype=np.float64, reset=False)
        if not hasattr(self, "coef_"):
            raise BiasflowError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[0]:
            raise BiasflowError(f"X must have shape (n, {self.coef_.shape[0]}); got {X.shape}")
        return X

    # ------------------------------------------------------------------------------------ training
    def _run(self, X, y):
        from .dynamics.flow import flow
        from .dynamics.separability import check
        from .levels import Level, parse_levels
        from .losses import get_loss
        from .models import build_model

        loss = get_loss(self.loss or self._default_loss)
        if loss.task != self._task:
            raise BiasflowError(f"{type(self).__name__} needs a {self._task} loss (got {loss.name!r})")
        if not (isinstance(self.floor_rtol, (int, float)) and 0 < self.floor_rtol < 1):
            raise BiasflowError(f"floor_rtol must lie in (0, 1) (got {self.floor_rtol!r})")
        ds = make_dataset(X, y, task=self._task, name=type(self).__name__, where="fit(X, y)")
        net = build_model(
            self.model, ds.d, depth=self.depth, alpha=self.alpha, shape=self.shape, seed=self.seed
        )
        until = Level.parse(self.until).log10  # refuses 0, negative, NaN and underflowed floats
        cps = None if self.checkpoints is None else parse_levels(self.checkpoints)  # log10 values
        sep = check(ds, loss, margin=False) if ds.task == "classification" else check(ds, loss)
        floor = None if sep.separable else sep.floor_log10
        if floor is not None and until <= floor:
            from .fmt import log10_text

            stop = floor + math.log10(1.0 + float(self.floor_rtol))
            warnings.warn(
                f"{type(self).__name__}: the {loss.name} loss has a floor {log10_text(floor, 6)} on these data "
                f"({'not linearly separable' if ds.task == 'classification' else 'y is not in the range of X'}), "
                f"above until={self.until!r}; trained to the floor × (1 + {self.floor_rtol:g}) instead",
                LossFloorWarning,
                stacklevel=3,
            )
            until = stop
            if cps is not None:
                cps = [c for c in cps if c > stop] + [stop]
        if cps is not None:
            cps = [Level.from_log10(c) for c in cps]
        traj = flow(net, ds, loss, until=Level.from_log10(until), checkpoints=cps, method=self.method, seed=self.seed)
        self.trajectory_ = traj
        self.floor_log10_ = floor
        if not traj.checkpoints:
            raise BiasflowError(
                f"gradient flow stopped with status {traj.status!r} before the first "
                f"checkpoint: {traj.message}"
            )
        self.status_ = traj.status if floor is None or traj.status != "ok" else "target_unreachable"
        self.message_ = traj.message
        self.coef_ = np.asarray(traj.checkpoints[-1].predictor, dtype=float)
        return ds


def _numeric_or_raw(y, task):
    y = np.asarray(y).reshape(-1)
    return np.zeros(y.shape) if task == "classification" else y


class GradientFlowClassifier(ClassifierMixin, _GradientFlowBase):
    """A linear network (diagonal by default) trained by gradient flow on exp (default) or logistic loss.

    Labels may be any two values; ``classes_`` holds them (the second one is the positive class, as in
    scikit-learn). ``predict_proba`` is the link of the loss: σ(f) for the logistic loss and σ(2f) for the
    exp loss, whose population minimizer is f = ½ log(p/(1−p)) (Friedman, Hastie & Tibshirani 2000).
    """

    _task = "classification"
    _default_loss = "exp"

    def fit(self, X, y):
        """Train on (X, y); ``y`` holds exactly two distinct labels."""
        X, y = self._validate_fit(X, y)
        if HAVE_SKLEARN:
            from sklearn.utils.multiclass import type_of_target

            check_classification_targets(y)
            kind = type_of_target(y, input_name="y")
            if kind not in ("binary", "unknown") and np.unique(y).size > 2:
                raise BiasflowError(
                    f"Only binary classification is supported. The type of the target is {kind}: "
                    f"{type(self).__name__} needs exactly two classes in y; found {np.unique(y).size} "
                    "classes (use one-vs-rest or one-vs-one for more)"
                )
        classes = np.unique(y)
        if classes.size != 2:
            raise BiasflowError(
                f"{type(self).__name__} needs exactly two classes in y; found {classes.size} class"
                f"{'es' if classes.size != 1 else ''}" + (" (use one-vs-rest or one-vs-one for more)"
                                                            if classes.size > 2 else "")
            )
        self.classes_ = classes
        ypm = np.where(y == classes[1], 1.0, -1.0)
        ds = self._run(X, ypm)
        from .bias.margins import normalized_margin

        b = self.coef_
        if np.any(b != 0) and float(np.min(ds.A @ b)) > 0:
            self.margins_ = {
                "l1": normalized_margin(b, ds, "l1"),
                "l2": normalized_margin(b, ds, "l2"),
                "l2D": normalized_margin(b, ds, 2.0 / max(int(self.depth), 1)),
            }
        else:
            self.margins_ = {
                "l1": float(np.min(ds.A @ b)) / max(float(np.abs(b).sum()), 1e-300),
                "l2": float("nan"),
                "l2D": float("nan"),
            }
        self.margin_ = self.margins_["l1"]
        return self

    def decision_function(self, X) -> np.ndarray:
        """f(x) = xᵀβ for every row of X (positive for ``classes_[1]``)."""
        return self._check_X(X) @ self.coef_

    def predict(self, X) -> np.ndarray:
        """The label of sign(xᵀβ) (``classes_[1]`` when xᵀβ > 0)."""
        return np.where(self.decision_function(X) > 0, self.classes_[1], self.classes_[0])

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2) class probabilities from the loss's link: σ(f) (logistic) or σ(2f) (exp)."""
        from scipy.special import expit

        scale = 2.0 if (self.loss or self._default_loss) == "exp" else 1.0
        f = scale * self.decision_function(X)
        return np.column_stack([expit(-f), expit(f)])  # no cancellation in 1 − p

    def predict_log_proba(self, X) -> np.ndarray:
        """log of :meth:`predict_proba`, computed without underflow."""
        from scipy.special import log_expit

        scale = 2.0 if (self.loss or self._default_loss) == "exp" else 1.0
        f = scale * self.decision_function(X)
        return np.column_stack([log_expit(-f), log_expit(f)])

    if HAVE_SKLEARN:

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.classifier_tags.multi_class = False
            return tags


class GradientFlowRegressor(RegressorMixin, _GradientFlowBase):
    """A linear network (diagonal by default) trained by gradient flow on the mean square loss ½(xᵀβ − y)².

    With y in the range of X the flow interpolates (and converges to the minimum-Q interpolant, Woodworth
    et al. 2020); otherwise it trains to the least-squares floor (:class:`LossFloorWarning`).
    """

    _task = "regression"
    _default_loss = "square"

    def fit(self, X, y):
        """Train on (X, y) with real targets y."""
        X, y = self._validate_fit(X, y)
        self._run(X, np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X) -> np.ndarray:
        """xᵀβ for every row of X."""
        return self._check_X(X) @ self.coef_
