"""scikit-learn-style façade: train a diagonal linear network by gradient flow, read its implicit bias.

:class:`GradientFlowClassifier` (exp or logistic loss, labels of any two values) and
:class:`GradientFlowRegressor` (square loss) run :func:`biasflow.dynamics.flow.flow` to a training loss
(``until``, e.g. ``"1e-100"``, never underflowing) and expose

- ``coef_`` — the end-to-end linear predictor β at the final checkpoint (f(x) = xᵀβ, no intercept:
  the networks of biasflow are linear, as in the theory they test);
- ``trajectory_`` — the full :class:`~biasflow.trajectory.Trajectory` (every checkpoint);
- ``margin_`` (classifier) — the normalized ℓ1 margin of ``coef_``, min_i y_i x_iᵀβ/‖β‖₁, and
  ``margins_`` with the ℓ1, ℓ2 and ℓ_{2/D} normalized margins;
- ``status_`` — the run's status (``ok``, ``target_unreachable`` for non-separable data, ...).

Parameters follow scikit-learn conventions (set in ``__init__``, validated in ``fit``), so the estimators
work with ``clone``, ``get_params`` and pipelines when scikit-learn is installed; they do not require it.

Example (not run as a doctest, since it needs the flow solver compiled)::

    from biasflow.estimators import GradientFlowClassifier
    clf = GradientFlowClassifier(depth=2, alpha=0.1, until="1e-100").fit(X, y)
    clf.coef_, clf.margin_, clf.trajectory_.checkpoints[-1].log10_loss
"""

from __future__ import annotations

import numpy as np

from .data import make_dataset
from .errors import BiasflowError


class _GradientFlowBase:
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

    # scikit-learn protocol (no dependency on scikit-learn itself)
    def get_params(self, deep: bool = True) -> dict:
        return {
            k: getattr(self, k)
            for k in ("depth", "alpha", "shape", "loss", "until", "checkpoints", "method", "model", "seed")
        }

    def set_params(self, **params):
        for k, v in params.items():
            if k not in self.get_params():
                raise BiasflowError(f"unknown parameter {k!r} for {type(self).__name__}")
            setattr(self, k, v)
        return self

    def _run(self, X, y):
        from .dynamics.flow import flow
        from .levels import Level, parse_levels
        from .losses import get_loss
        from .models import build_model

        loss = get_loss(self.loss or self._default_loss)
        if loss.task != self._task:
            raise BiasflowError(f"{type(self).__name__} needs a {self._task} loss (got {loss.name!r})")
        ds = make_dataset(X, y, task=self._task, name=type(self).__name__, where="fit(X, y)")
        net = build_model(
            self.model, ds.d, depth=self.depth, alpha=self.alpha, shape=self.shape, seed=self.seed
        )
        until = Level.parse(self.until)
        cps = None
        if self.checkpoints is not None:
            cps = [Level.from_log10(v) for v in parse_levels(self.checkpoints)]
        traj = flow(net, ds, loss, until=until, checkpoints=cps, method=self.method, seed=self.seed)
        self.trajectory_ = traj
        self.status_ = traj.status
        self.n_features_in_ = ds.d
        if not traj.checkpoints:
            raise BiasflowError(
                f"gradient flow stopped with status {traj.status!r} before the first "
                f"checkpoint: {traj.message}"
            )
        self.coef_ = np.asarray(traj.checkpoints[-1].predictor, dtype=float)
        return ds

    def _check_X(self, X) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise BiasflowError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[0]:
            raise BiasflowError(f"X must have shape (n, {self.coef_.shape[0]}); got {X.shape}")
        return X

    def decision_function(self, X) -> np.ndarray:
        """xᵀβ for every row of X."""
        return self._check_X(X) @ self.coef_


class GradientFlowClassifier(_GradientFlowBase):
    """A diagonal linear network trained by gradient flow on exp (default) or logistic loss.

    Labels may be any two values; ``classes_`` holds them (the second one is the positive class, as in
    scikit-learn).
    """

    _task = "classification"
    _default_loss = "exp"

    def fit(self, X, y):
        y = np.asarray(y).reshape(-1)
        classes = np.unique(y)
        if classes.size != 2:
            raise BiasflowError(
                f"GradientFlowClassifier needs exactly two classes in y (found {classes.size})"
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

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, self.classes_[1], self.classes_[0])

    def score(self, X, y) -> float:
        """Mean accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(y).reshape(-1)))


class GradientFlowRegressor(_GradientFlowBase):
    """A diagonal linear network trained by gradient flow on the mean square loss ½(xᵀβ − y)²."""

    _task = "regression"
    _default_loss = "square"

    def fit(self, X, y):
        self._run(X, y)
        return self

    def predict(self, X) -> np.ndarray:
        return self.decision_function(X)

    def score(self, X, y) -> float:
        """Coefficient of determination R²."""
        y = np.asarray(y, dtype=float).reshape(-1)
        r = y - self.predict(X)
        ss = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - float(r @ r) / ss if ss > 0 else float("nan")
