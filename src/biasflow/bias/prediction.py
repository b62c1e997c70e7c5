"""The :class:`Prediction` type: a predicted bias with its certificate (a leaf of :mod:`biasflow.bias`).

Built by :mod:`biasflow.bias.predict` (and :mod:`biasflow.bias.finite_step`), read by
:mod:`biasflow.bias.compare`. It is an immutable value: it solves nothing and imports no solver; the
reference optima a comparison needs (max-margin LPs, interpolants) come from
:func:`biasflow.metrics.reference`, solved once per data set.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..data import Dataset
from ..display import Compact


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Prediction(Compact):
    """A predicted bias with its certificate.

    Attributes:
        kind: ``q_mu`` (finite loss), ``l1`` / ``l2D`` (ℒ → 0 limit), ``group`` (G-CNNs), ``uniform``
            (batch normalization), ``interpolant`` (regression),
            ``finite_step`` (GD at step η), ``transformed`` (other linear networks).
        task: ``classification`` | ``regression``.
        predictor: β̃ normalized to minimum margin 1 (classification) or the interpolant β (regression).
        status, message: ``ok`` or the failing status, in words.
        certificate: the numbers a referee checks (documented per kind in ``to_json``).
        log10_loss: the loss level of a ``q_mu`` prediction; gamma: its margin γ; mu: α^D/γ.
        dual: the dual solution (λ for Q_μ, ν for interpolants).
        depth: the model's degree D; model: its config.
        data: the training set (kept for :func:`~biasflow.bias.compare.compare`, not serialized).
        potential: the model's dual potential Φ (None for non-diagonal models).
        log10_mu_scale: log10 α^D, the scale of μ = α^D/γ, for models that have one (``model.log10_mu_scale``:
            tied diagonal nets with a uniform α); None otherwise.
    """

    _hidden = ("data", "potential", "references", "dual")  # large or derived: not in the repr

    kind: str
    task: str
    predictor: np.ndarray
    status: str = "ok"
    message: str = ""
    certificate: dict = dataclasses.field(default_factory=dict)
    log10_loss: float | None = None
    gamma: float | None = None
    mu: float | None = None
    dual: np.ndarray | None = None
    depth: int = 2
    model: dict = dataclasses.field(default_factory=dict)
    data: Dataset | None = None
    potential: object = None
    seconds: float = 0.0
    log10_mu_scale: float | None = None

    @property
    def strictly_convex(self) -> bool:
        """Whether the predicted problem has a unique solution (distances are then meaningful)."""
        return self.kind in ("q_mu", "interpolant", "finite_step", "uniform") or (self.kind == "l2")

    def to_json(self) -> dict:
        out = {
            "status": self.status,
            "message": self.message,
            "kind": self.kind,
            "task": self.task,
            "predictor": np.asarray(self.predictor, float).tolist(),
            "certificate": self.certificate,
            "model": self.model,
            "seconds": float(self.seconds),
        }
        for k in ("log10_loss", "gamma", "mu"):
            v = getattr(self, k)
            if v is not None:
                out[k] = float(v)
        if self.dual is not None:
            out["dual"] = np.asarray(self.dual, float).tolist()
        return out


__all__ = ["Prediction"]
