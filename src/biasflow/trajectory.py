"""Results of training: :class:`Checkpoint`, :class:`Trajectory` (flow) and :class:`DescentResult` (GD).

Every result carries a ``status`` (a :class:`biasflow.errors.Status`) and a human ``message``; never a
silent NaN. ``to_json()`` gives the CLI contract's JSON object (docs/reference/cli.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .errors import Status


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Checkpoint:
    """The state of a run at one loss level (or time).

    Attributes:
        log10_loss: log10 of the mean training loss ℒ.
        log10_time: log10 of the gradient-flow time t (NaN-free: −inf only at t = 0).
        params: model parameters (pytree of NumPy arrays).
        predictor: end-to-end predictor β ∈ R^d.
        extra: clock values and diagnostics (e.g. ``tau``, ``s``, ``nu`` for dual flows).
    """

    log10_loss: float
    log10_time: float
    params: Any
    predictor: np.ndarray
    extra: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        out = {
            "log10_loss": float(self.log10_loss),
            "log10_time": float(self.log10_time),
            "predictor": np.asarray(self.predictor, dtype=float).tolist(),
        }
        if self.extra.get("nu") is not None:  # the flow's dual (exact flows): metrics use it, not a recovery
            out["nu"] = np.asarray(self.extra["nu"], dtype=float).tolist()
        return out

    def __repr__(self) -> str:
        from .display import short
        from .fmt import log10_text, num

        return (
            f"Checkpoint(loss={log10_text(self.log10_loss, 4)}, log10_time={num(self.log10_time, 4)}, "
            f"predictor={short(np.asarray(self.predictor))})"
        )


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Trajectory:
    """A gradient-flow run: checkpoints at the requested loss levels, in order of decreasing loss.

    Attributes:
        status: ``ok`` | ``target_unreachable`` | ``diverged`` | ``max_steps`` | ``invalid_input``.
        checkpoints: the checkpoints reached (all requested ones when status is ``ok``).
        message: what happened, in words.
        method: ``exact`` or ``autodiff``.
        loss: loss name; model: the model's config.
        floor_log10: log10 of the loss floor for non-separable data (``target_unreachable``), else None.
        stats: solver statistics (steps, function evaluations, seconds).
        data: the training data's identity (:func:`biasflow.data.fingerprint`).
    """

    status: Status
    checkpoints: list[Checkpoint]
    message: str = ""
    method: str = ""
    loss: str = ""
    model: dict = dataclasses.field(default_factory=dict)
    floor_log10: float | None = None
    stats: dict = dataclasses.field(default_factory=dict)
    data: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "status", Status.of(self.status))

    @property
    def final(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def predictors(self) -> np.ndarray:
        """(k, d) array of β at each checkpoint."""
        return np.array([c.predictor for c in self.checkpoints])

    def __repr__(self) -> str:
        from .fmt import log10_text

        span = (
            f"{len(self.checkpoints)} checkpoint(s), loss {log10_text(self.checkpoints[0].log10_loss, 4)} → "
            f"{log10_text(self.checkpoints[-1].log10_loss, 4)}"
            if self.checkpoints
            else "no checkpoints"
        )
        model = self.model.get("model", "?") if isinstance(self.model, dict) else self.model
        return (
            f"Trajectory(status={self.status!r}, {span}, model={model!r}, loss={self.loss!r}, "
            f"method={self.method!r}, message={self.message!r})"
        )

    def rows(self) -> list[dict]:
        """One dict per checkpoint: loss level, time, ‖β‖₁ and β (for tables and data frames)."""
        return [
            {
                "log10_loss": c.log10_loss,
                "log10_time": c.log10_time,
                "l1_norm": float(np.abs(c.predictor).sum()),
                "predictor": np.asarray(c.predictor),
            }
            for c in self.checkpoints
        ]

    def _repr_html_(self) -> str:
        import html as _html

        from .display import html_table

        model = ", ".join(f"{k}={v}" for k, v in (self.model or {}).items()) if isinstance(self.model, dict) else ""
        head = (
            f"<p><b>Trajectory</b> · status <code>{_html.escape(str(self.status))}</code> · "
            f"{_html.escape(self.message)} · {_html.escape(self.loss)} loss · {_html.escape(self.method)}"
            f"<br><small>{_html.escape(model)}</small></p>"
        )
        return head + html_table(["log10_loss", "log10_time", "l1_norm", "predictor"], self.rows())

    def to_json(self) -> dict:
        out = {
            "status": self.status.value,
            "message": self.message,
            "method": self.method,
            "loss": self.loss,
            "model": self.model,
            "checkpoints": [c.to_json() for c in self.checkpoints],
            "stats": self.stats,
        }
        if self.data:
            out["data"] = self.data
        if self.floor_log10 is not None:
            out["floor_log10"] = float(self.floor_log10)
        return out


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class DescentResult:
    """A gradient-descent run (CLI contract: ``biasflow descent``).

    Attributes:
        status: ``ok`` | ``diverged`` | ``target_unreachable`` | ``invalid_input``.
        steps: number of steps taken (the step of divergence for ``diverged``).
        loss: mean loss before each step; ``loss[0]`` at init (length steps + 1 with the final state).
        sharpness: top Hessian eigenvalue every ``sharpness_every`` steps from step 0, last entry at the
            final state (empty when not requested).
        params: last finite parameters; predictor: β there.
        history: further per-step histories (e.g. ``lr``, ``ntk``, margins).
    """

    status: Status
    steps: int
    loss: np.ndarray
    params: Any
    predictor: np.ndarray
    sharpness: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    message: str = ""
    history: dict = dataclasses.field(default_factory=dict)
    data: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "status", Status.of(self.status))

    @property
    def checkpoints(self) -> list[Checkpoint]:
        """The recorded predictors as checkpoints (the shared protocol of :func:`biasflow.bias.compare`):
        β at the recorded steps (``history["beta"]`` at ``history["sharpness_step"]``) and at the final
        step, with log10 ℒ from ``history["log10_loss"]``, log10 of the GD time t = Σ_k η_k and
        ``extra["step"]``."""
        h = self.history
        logl = np.asarray(h.get("log10_loss", np.log10(np.asarray(self.loss, float))), float)
        lr = np.asarray(h.get("lr", []), float)
        t = np.concatenate([[0.0], np.cumsum(lr)]) if lr.size else None
        pairs = []
        if "beta" in h and "sharpness_step" in h and len(h["beta"]) == len(h["sharpness_step"]):
            pairs = [(int(k), np.asarray(b, float)) for k, b in zip(h["sharpness_step"], h["beta"], strict=True)]
        if np.asarray(self.predictor).size and not any(k == int(self.steps) for k, _ in pairs):
            pairs.append((int(self.steps), np.asarray(self.predictor, float)))
        out = []
        for k, b in pairs:
            if k >= len(logl):
                continue
            lt = (float(np.log10(t[k])) if t[k] > 0 else -np.inf) if t is not None and k < len(t) else np.nan
            out.append(Checkpoint(float(logl[k]), lt, None, b, {"step": k}))
        return out

    def __repr__(self) -> str:
        from .display import short
        from .fmt import num

        ls = np.asarray(self.loss, dtype=float)
        loss = f"loss {num(ls[0], 4)} → {num(ls[-1], 4)}" if ls.size else "no loss recorded"
        return (
            f"DescentResult(status={self.status!r}, steps={int(self.steps)}, {loss}, "
            f"predictor={short(np.asarray(self.predictor))}, message={self.message!r})"
        )

    def _repr_html_(self) -> str:
        from .display import html_table

        ls = np.asarray(self.loss, dtype=float)
        rows = [
            {"field": "status", "value": self.status},
            {"field": "message", "value": self.message},
            {"field": "steps", "value": int(self.steps)},
            {"field": "initial loss", "value": float(ls[0]) if ls.size else None},
            {"field": "final loss", "value": float(ls[-1]) if ls.size else None},
            {"field": "final sharpness", "value": float(self.sharpness[-1]) if len(self.sharpness) else None},
            {"field": "predictor", "value": np.asarray(self.predictor)},
        ]
        return html_table(["field", "value"], rows, caption="DescentResult")

    def to_json(self) -> dict:
        out = {
            "status": self.status.value,
            "message": self.message,
            "steps": int(self.steps),
            "loss": np.asarray(self.loss, dtype=float).tolist(),
            "sharpness": np.asarray(self.sharpness, dtype=float).tolist(),
            "predictor": np.asarray(self.predictor, dtype=float).tolist(),
        }
        if self.data:
            out["data"] = self.data
        return out
