"""How far a run is from a prediction: one flat row per checkpoint, computed through the metrics registry.

Flow and theory are compared by *gaps*, KKT residuals and the non-support dual fraction, not by argmin
distances (LP optima need not be unique; distances are reported only for strictly convex predictions:
Q_μ, interpolants, finite-step interpolants). Every column is defined once in :mod:`biasflow.metrics`;
the CLI (``predict --trajectory``), sweeps, descent records and reports all go through :func:`measure`,
so a name means the same number everywhere. A column that does not apply to a checkpoint (e.g.
``residual`` for classification) is ``None`` and the row's ``reasons`` says why.

Columns against a prediction are named after it: ``support_precision``, ``support_recall``,
``dist_pred``, ``rho_nsv_pred`` against the limit prediction (ℒ → 0 or the interpolant);
``support_precision_qmu``, ``support_recall_qmu``, ``dist_qmu``, ``rho_nsv_qmu`` against the Q_μ
solution at the checkpoint's own loss level (Moroshko et al. 2020).

>>> from biasflow.data import gaussian
>>> from biasflow.models import Diagonal
>>> from biasflow.bias.predict import predict
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> pred = predict(Diagonal(d=30, depth=2, alpha=1.0), ds, at_loss="1e-10")
>>> row = compare_predictor(pred.predictor * pred.gamma, pred)      # the prediction itself
>>> row["dist_qmu"] < 1e-12, row["rho_nsv"] < 1e-9, row["gap_l1"] > 0, row["residual"] is None
(True, True, True, True)
>>> row["reasons"]["residual"]
'regression only (the data are for classification)'
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from ..data import Dataset
from ..display import Rows
from ..errors import BiasflowError, UndefinedAtLevel
from ..levels import Level
from ..metrics import (
    CHECKPOINT_METRICS,
    KIND_COLUMNS,
    LIMIT_COLUMNS,
    METRICS,
    QMU_COLUMNS,
    Point,
    evaluate,
)

_RECORD = ("log10_loss", "log10_time", "step")
BASE_COLUMNS = tuple(n for n in CHECKPOINT_METRICS if n not in (*_RECORD, *LIMIT_COLUMNS, *QMU_COLUMNS))
"""Columns of every row that do not depend on a prediction (besides the record's level and time)."""

COLUMNS: dict[str, str] = {
    n: METRICS[n].definition
    for n in (*BASE_COLUMNS, *LIMIT_COLUMNS, *QMU_COLUMNS, *(c for cs in KIND_COLUMNS.values() for c in cs))
}
"""Column name → one-line definition of every metric a comparison row may hold (see :mod:`biasflow.metrics`)."""


class CheckpointLike(Protocol):
    log10_loss: float
    log10_time: float
    predictor: Any
    extra: dict


class Checkpointed(Protocol):
    """What :func:`compare` needs of a result: a status and checkpoints (level, time, predictor). Both
    :class:`~biasflow.trajectory.Trajectory` and :class:`~biasflow.trajectory.DescentResult` provide it."""

    status: str

    @property
    def checkpoints(self) -> list: ...


def _limit_or_qmu(prediction):
    if prediction is None:
        return None, None
    if getattr(prediction, "kind", None) == "q_mu":
        return None, prediction
    return prediction, None


def _point(beta, data, *, limit, qmu, depth, model, potential, nu, teacher, test, support_tol, active_tol,
           log10_loss=None, log10_time=None, step=None, mu_scale=None, params=None) -> Point:
    b = np.asarray(beta, dtype=float)
    if b.shape != (data.d,):
        raise BiasflowError(f"predictor has shape {b.shape} but the data have d = {data.d} features")
    return Point(beta=b, data=data, log10_loss=log10_loss, log10_time=log10_time, step=step, depth=depth,
                 model=model or {}, limit=limit, qmu=qmu, potential=potential, nu=nu, teacher=teacher,
                 test=test, support_tol=support_tol, active_tol=active_tol, mu_scale=mu_scale, params=params)


def _kind_columns(limit) -> tuple[str, ...]:
    return KIND_COLUMNS.get(getattr(limit, "kind", None), ())


def _names(limit, qmu, record=()) -> tuple[str, ...]:
    return (*record, *BASE_COLUMNS, *(LIMIT_COLUMNS if limit is not None else ()), *_kind_columns(limit),
            *(QMU_COLUMNS if qmu is not None else ()))


def _row(point: Point, names, failed: dict) -> dict:
    values, reasons = evaluate(point, names)
    for name, why in failed.items():
        if name in values and values[name] is None:
            reasons[name] = why
    return values | {"reasons": reasons}


def _undefined(pred, names, what):
    """A prediction that failed (a reason string) is 'given' but every column against it is null."""
    if isinstance(pred, str):
        return None, {n: f"no {what} prediction: {pred}" for n in names}
    return pred, {}


def compare_predictor(
    beta,
    prediction,
    *,
    data: Dataset | None = None,
    test: Dataset | None = None,
    support_tol: float = 1e-3,
    active_tol: float = 1e-3,
    nu=None,
    teacher=None,
) -> dict:
    """The metrics of one predictor β against ``prediction`` (a flat dict plus ``reasons``).

    Args:
        beta: the predictor (any scale for classification).
        prediction: a :class:`~biasflow.bias.predict.Prediction` (it carries the training data): a Q_μ
            prediction fills the ``*_qmu`` columns (β is taken to be at its level), any other the limit
            columns.
        data: training data (defaults to the prediction's).
        test: held-out data for ``test_error``; teacher: the generating teacher (``recovery_error``).
        support_tol, active_tol: relative thresholds for supports and active (margin ≤ 1 + tol) points.
        nu: the flow's dual variable if known (else it is recovered from β through the model potential).
    """
    ds = data if data is not None else prediction.data
    if ds is None:
        raise BiasflowError("compare needs the training data: pass data= or use a prediction from predict()")
    limit, qmu = _limit_or_qmu(prediction)
    p = _point(beta, ds, limit=limit, qmu=qmu, depth=max(1, int(prediction.depth)), model=prediction.model,
               potential=prediction.potential, nu=nu, teacher=teacher, test=test, support_tol=support_tol,
               active_tol=active_tol, mu_scale=prediction.log10_mu_scale)
    return _row(p, _names(limit, qmu), {})


def _checkpoints(result) -> list:
    cps = getattr(result, "checkpoints", None)
    if cps is None:
        if isinstance(result, (list, tuple)):
            return list(result)
        raise BiasflowError(
            f"compare needs a Trajectory or a DescentResult (got {type(result).__name__})"
        )
    return list(cps)


def measure(
    result,
    data: Dataset,
    *,
    limit=None,
    qmu_at=None,
    depth: int = 2,
    model: dict | None = None,
    potential=None,
    test: Dataset | None = None,
    teacher=None,
    support_tol: float = 1e-3,
    active_tol: float = 1e-3,
    mu_scale: float | None = None,
) -> list[dict]:
    """Per-checkpoint metric rows of a run (the one code path of every comparison).

    Args:
        result: a :class:`~biasflow.trajectory.Trajectory`, a :class:`~biasflow.trajectory.DescentResult`
            (anything with ``checkpoints``) or a list of checkpoints.
        data: the training data.
        limit: the limit prediction, or a string saying why there is none (its columns are then null with
            that reason), or None (no limit columns).
        qmu_at: ``log10_loss -> Prediction`` giving the Q_μ solution at a checkpoint's level (raising
            :class:`~biasflow.errors.UndefinedAtLevel` where it does not exist), or None.
        depth, model: the model's degree D and config; potential: its dual potential (or None).
        mu_scale: log10 α^D of μ = α^D/γ (the model's ``log10_mu_scale`` capability), or None.
    """
    limit, failed_limit = _undefined(limit, LIMIT_COLUMNS, "limit")
    has_limit = limit is not None or bool(failed_limit)
    rows = []
    for c in _checkpoints(result):
        extra = getattr(c, "extra", None) or {}
        step = extra.get("step")
        record = ("log10_loss", "log10_time", "step") if step is not None else ("log10_loss", "log10_time")
        qmu, failed = None, dict(failed_limit)
        if qmu_at is not None:
            try:
                qmu = qmu_at(float(c.log10_loss))
            except UndefinedAtLevel as e:
                failed |= {n: str(e) for n in QMU_COLUMNS}
        p = _point(c.predictor, data, limit=limit, qmu=qmu, depth=depth, model=model, potential=potential,
                   nu=extra.get("nu"), teacher=teacher, test=test, support_tol=support_tol,
                   active_tol=active_tol, log10_loss=float(c.log10_loss), log10_time=float(c.log10_time),
                   step=step, mu_scale=mu_scale, params=getattr(c, "params", None))
        names = (*record, *BASE_COLUMNS, *(LIMIT_COLUMNS if has_limit else ()), *_kind_columns(limit),
                 *(QMU_COLUMNS if qmu_at is not None else ()))
        rows.append(_row(p, names, failed))
    return Rows(rows)


def compare(
    trajectory,
    prediction,
    *,
    data: Dataset | None = None,
    test: Dataset | None = None,
    teacher=None,
    support_tol: float = 1e-3,
    active_tol: float = 1e-3,
) -> list[dict]:
    """Per-checkpoint metrics of a :class:`~biasflow.trajectory.Trajectory` or
    :class:`~biasflow.trajectory.DescentResult` against a prediction.

    Returns one flat dict per checkpoint: ``log10_loss``, ``log10_time`` (and ``step`` for descent), the
    metrics of :data:`COLUMNS` (``None`` where a column does not apply) and ``reasons``. With a limit
    prediction the limit columns are filled; with a Q_μ prediction the ``*_qmu`` columns are filled at the
    checkpoints at its loss level only (elsewhere they are null: use :func:`compare_path`). When a
    checkpoint carries the flow's dual (``extra["nu"]``, exact dual flows), ρ_nsv uses it; otherwise the
    dual is recovered from β through the model's potential.
    """
    ds = data if data is not None else prediction.data
    if ds is None:
        raise BiasflowError("compare needs the training data: pass data= or use a prediction from predict()")
    limit, qmu = _limit_or_qmu(prediction)
    qmu_at = None
    if qmu is not None:
        lv = float(qmu.log10_loss)

        def qmu_at(x, _p=qmu, _lv=lv):
            if abs(x - _lv) > 1e-9 * max(1.0, abs(_lv)):
                raise UndefinedAtLevel(
                    f"the Q_μ prediction was made at loss {Level.from_log10(_lv)}, not at this checkpoint "
                    "(use compare_path)"
                )
            return _p

    return measure(trajectory, ds, limit=limit, qmu_at=qmu_at, depth=max(1, int(prediction.depth)),
                   model=prediction.model, potential=prediction.potential, test=test, teacher=teacher,
                   support_tol=support_tol, active_tol=active_tol, mu_scale=prediction.log10_mu_scale)


def compare_path(
    trajectory,
    model,
    data: Dataset,
    *,
    loss: str = "exp",
    test: Dataset | None = None,
    teacher=None,
    support_tol: float = 1e-3,
    active_tol: float = 1e-3,
) -> list[dict]:
    """Like :func:`compare` against the model's limit prediction, plus the ``*_qmu`` columns against a
    fresh Q_μ prediction at every checkpoint's own loss level.

    ``dist_qmu`` is then the distance from the flow's β̃ to the Q_μ solution at the same loss: the test of
    Moroshko et al.'s description (0 iff ρ_nsv = 0). Levels where Q_μ is undefined (not below ℓ(0)/n)
    give null ``*_qmu`` columns with the reason, not an error.
    """
    from .predict import predict, predict_at_loss

    try:
        limit = predict(model, data)
    except BiasflowError as e:
        limit = str(e)
    cache: dict = {}

    def qmu_at(lv):
        if lv not in cache:
            try:
                cache[lv] = predict_at_loss(model, data, Level.from_log10(lv), loss=loss)
            except UndefinedAtLevel as e:
                cache[lv] = e
        if isinstance(cache[lv], UndefinedAtLevel):
            raise cache[lv]
        return cache[lv]

    pot = limit.potential if not isinstance(limit, str) else None
    if pot is None:
        from .potentials import potential_of

        try:
            pot = potential_of(model)
        except BiasflowError:
            pot = None
    return measure(trajectory, data, limit=limit, qmu_at=qmu_at, depth=max(1, int(model.degree)),
                   model=model.config(), potential=pot, test=test, teacher=teacher, support_tol=support_tol,
                   active_tol=active_tol, mu_scale=getattr(model, "log10_mu_scale", None))


def measure_model(result, model, data: Dataset, *, limit: bool = False, teacher=None) -> list[dict]:
    """:func:`measure` for a run of ``model`` (a trajectory or a descent result): its degree, config and
    dual potential (when it has one) are taken from the model; ``limit=True`` adds the limit columns."""
    from .potentials import potential_of

    pred = None
    if limit:
        from .predict import predict

        try:
            pred = predict(model, data)
        except BiasflowError as e:
            pred = str(e)
    pot = pred.potential if pred is not None and not isinstance(pred, str) else None
    if pot is None:
        try:
            pot = potential_of(model)
        except BiasflowError:
            pot = None
    return measure(result, data, limit=pred, depth=max(1, int(getattr(model, "degree", 2))),
                   model=model.config(), potential=pot, teacher=teacher,
                   mu_scale=getattr(model, "log10_mu_scale", None))


def is_null(v) -> bool:
    """Whether a metric value is missing (None or NaN)."""
    return v is None or (isinstance(v, float) and math.isnan(v))
