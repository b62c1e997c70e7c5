"""The :class:`Prediction` type: a predicted bias with its certificate (a leaf of :mod:`biasflow.bias`).

Built by :mod:`biasflow.bias.predict` (and :mod:`biasflow.bias.finite_step`), read by
:mod:`biasflow.bias.compare`. It imports no predictor: the reference optima it caches on request
(:meth:`Prediction.reference`) come from the solver modules below it (margins, kkt, interpolate).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..data import Dataset
from ..display import Compact
from ..errors import BiasflowError


@dataclasses.dataclass(eq=False, repr=False)
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
        references: solved reference problems (``l1``, ``l2`` max-margin; ``l2D`` best effort), filled
            on demand by :meth:`reference`.
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
    references: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    log10_mu_scale: float | None = None

    @property
    def strictly_convex(self) -> bool:
        """Whether the predicted problem has a unique solution (distances are then meaningful)."""
        return self.kind in ("q_mu", "interpolant", "finite_step", "uniform") or (self.kind == "l2")

    def reference(self, name: str):
        """A reference optimum on the same data: ``l1``/``l2`` (:class:`MarginResult`), ``l2D``
        (best-effort ℓ_{2/D}), ``min_l1``/``min_l2`` interpolants (arrays); computed once and cached."""
        if name not in self.references:
            ds = self.data
            if ds is None:
                raise BiasflowError("this prediction carries no data set; pass data= to compare")
            if name in ("l1", "l2", "linf"):
                from .margins import max_margin

                self.references[name] = max_margin(ds, name, solver="nnls" if name == "l2" else "auto")
            elif name == "l2D":
                from .kkt import lp_max_margin_best_effort

                self.references[name] = lp_max_margin_best_effort(ds, max(2, self.depth))
            elif name in ("min_l1", "min_l2"):
                from .interpolate import min_l1_interpolant, min_l2_interpolant

                self.references[name] = (min_l1_interpolant if name == "min_l1" else min_l2_interpolant)(ds)
            else:
                raise BiasflowError(f"unknown reference {name!r}; use l1, l2, linf, l2D, min_l1 or min_l2")
        return self.references[name]

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
