"""Executing a sweep's runs: the batch runner, rows and metrics (the per-data-set caches of references and
predictions live here). Planning (expansion, ids, building, batching) is :mod:`biasflow.sweep.plan`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import BiasflowError, Status
from ..levels import Level
from ..models.options import fields as option_fields
from .plan import batch_key, build_run, dataset_of, expand, make_batches, run_id  # noqa: F401  (re-exported)

# ---------------------------------------------------------------------------------------------- runner
Rows = list[dict]
Runner = Callable[[list[dict]], list[tuple[str, Rows]]]


def run_batch(specs: list[dict]) -> list[tuple[str, Rows]]:
    """Execute a batch of runs (same data, loss, checkpoints); returns ``[(run_id, rows), ...]``.

    Uses :func:`biasflow.dynamics.flow.flow_many` for batches of several runs and
    :func:`biasflow.dynamics.flow.flow` for single runs. If the batched call fails, each run is retried
    alone so that one bad run only fails itself. Never raises for a failing run: its rows carry the
    status and the error message.
    """
    from ..dynamics import flow as flowmod

    groups = make_batches(specs, max(len(specs), 1))
    if len(groups) > 1:  # not one batch: run each batchable group on its own
        return [res for g in groups for res in run_batch(g)]
    t0 = time.perf_counter()
    built, out = [], []
    for s in specs:
        try:
            built.append((s, *build_run(s)))
        except Exception as e:  # noqa: BLE001 - a failing run is a stored status, not a crash
            out.append((s["run_id"], [failure_row(s, e, time.perf_counter() - t0)]))
    if not built:
        return out
    trajs = None
    first = built[0]
    ds, loss = first[1], first[4]
    kw = {
        "until": Level.from_log10(first[0]["until_log10"]),
        "checkpoints": [Level.from_log10(v) for v in first[0]["levels_log10"]],
    }
    functional = any(getattr(b[3], "linear_in_params", False) for b in built)
    if len(built) > 1 and hasattr(flowmod, "flow_many") and not functional:
        try:
            trajs = flowmod.flow_many(
                [b[3] for b in built],
                ds,
                loss,
                method=first[0].get("method", "auto"),
                seed=first[0].get("seed", 0),
                **kw,
            )
            seconds = [(time.perf_counter() - t0) / len(built)] * len(built)
        except Exception:  # noqa: BLE001 - fall back to single runs; each reports its own failure
            trajs = None
    if trajs is None:
        trajs, seconds = [], []
        for s, _ds, _t, model, _loss in built:
            t1 = time.perf_counter()
            if getattr(model, "linear_in_params", False) and hasattr(model, "law"):   # functions as results
                try:
                    out.append((s["run_id"], function_rows(s, _ds, model, kw, time.perf_counter)))
                except Exception as e:  # noqa: BLE001
                    out.append((s["run_id"], [failure_row(s, e, time.perf_counter() - t1)]))
                trajs.append(None)
                seconds.append(time.perf_counter() - t1)
                continue
            try:
                trajs.append(
                    flowmod.flow(model, ds, loss, method=s.get("method", "auto"), seed=s.get("seed", 0), **kw)
                )
            except Exception as e:  # noqa: BLE001
                trajs.append(e)
            seconds.append(time.perf_counter() - t1)
    for (s, ds_, teacher, model, _loss), traj, sec in zip(built, trajs, seconds, strict=True):
        if traj is None:            # stored above (a function-valued run)
            continue
        if isinstance(traj, Exception):
            out.append((s["run_id"], [failure_row(s, traj, sec)]))
            continue
        try:
            out.append((s["run_id"], trajectory_rows(s, traj, ds_, model, teacher, sec)))
        except Exception as e:  # noqa: BLE001 - a failing run is a stored status (failed) with its message
            out.append((s["run_id"], [failure_row(s, e, sec)]))
    return out


def config_columns(spec: dict) -> dict:
    """The configuration columns of a run's rows (flat, typed for Parquet): the data, the model, one
    column per model option (the fields of :class:`biasflow.models.options.ModelOptions`), the loss, the
    method and the target level."""
    data = spec["data"]
    cols = {
        "sweep": spec.get("sweep", ""),
        "config_id": spec.get("config_id"),
        "data": data
        if isinstance(data, str)
        else f"{data['generator']}(n={data['n']},d={data['d']},k={data['k']})",
        "data_seed": data.get("seed") if isinstance(data, dict) else None,
        "model": spec["model"],
    }
    takes = _options_taken(spec["model"])
    for f in option_fields():
        value = spec.get(f.name, f.default) if f.name in _RECORDED or f.name in takes else None
        cols[f.name] = _option_column(f, value)
    if cols.get("depth") is None:
        cols["depth"] = _recorded_depth(spec["model"])
    cols.update(loss=spec["loss"], method=spec.get("method", "auto"), until_log10=float(spec["until_log10"]))
    return cols


_RECORDED = ("depth", "width", "alpha", "shape", "seed")
"""Options recorded for every run; the others are null for models that do not take them."""


def _options_taken(name: str) -> set[str]:
    from ..models import MODELS

    entry = MODELS.get(name)
    return set(entry.options) if entry is not None else set()


def _option_column(f, value):
    """A model option as a typed column: ints as int, floats as float, text and flags as they are, a
    per-coordinate list as JSON."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    kind = str(f.type)
    return int(value) if kind.startswith("int") else float(value) if kind.startswith("float") else value


def _base_row(spec: dict) -> dict:
    from .. import __version__

    return {**config_columns(spec), "biasflow_version": __version__}


def failure_row(spec: dict, err: BaseException, seconds: float = 0.0) -> dict:
    """The one row stored for a run that failed before producing a checkpoint."""
    status = Status.INVALID_INPUT if isinstance(err, BiasflowError) else Status.FAILED
    msg = str(err).splitlines()[0] if str(err) else type(err).__name__
    if status == Status.FAILED:
        msg = f"{type(err).__name__}: {msg}"
    return {
        **_base_row(spec),
        "checkpoint": None,
        "log10_loss": None,
        "log10_time": None,
        "status": status.value,
        "message": msg[:500],
        "seconds": float(seconds),
    }


def function_rows(spec, ds, model, kw, clock) -> Rows:
    """Rows of a run whose result is a function (a wide shallow net trained on its output layer): the exact
    flow's checkpoints, each with the sup distance to the infinite-width prediction and (1-D) to the natural
    cubic spline on a 201-point grid of the data hull."""
    from ..bias.splines import hull_grid, natural_spline, predict_for_model
    from ..dynamics.mirror_descent import function_flow
    from ..metrics import fingerprint

    t0 = clock()
    if ds.d != 1:
        raise BiasflowError("sweeps of function-valued models record 1-D data (the grid is the data hull)")
    grid = hull_grid(ds.X[:, 0], 201)[:, None]
    seed = int(spec.get("seed", 0))
    res = function_flow(model, ds, until_loss=kw["until"], checkpoints=kw["checkpoints"], grid=grid, seed=seed)
    pred = np.asarray(predict_for_model(model, ds, grid, seed=seed)["function"]["f"])
    ns = natural_spline(ds.X[:, 0], ds.y, grid[:, 0])
    base = _base_row(spec) | {"data_sha256": fingerprint(ds)["sha256"]}
    rows = []
    for i, c in enumerate(res.checkpoints):
        f = np.asarray(c["function"]["f"])
        rows.append({**base, "checkpoint": i, "log10_loss": float(c["log10_loss"]),
                     "log10_time": float(c["log10_time"]), "sup_to_prediction": float(np.max(np.abs(f - pred))),
                     "sup_to_natural_spline": float(np.max(np.abs(f - ns))), "status": str(res.status),
                     "message": res.message[:500], "seconds": float(clock() - t0)})
    return rows or [failure_row(spec, BiasflowError(res.message or "no checkpoint reached"), clock() - t0)]


def trajectory_rows(spec, traj, ds, model, teacher, seconds) -> Rows:
    """One row per checkpoint of a trajectory: configuration, level, time, metrics (with ``reasons``),
    status. The metrics are the registry's (:mod:`biasflow.metrics`), computed by
    :func:`biasflow.bias.compare.measure` as ``compare`` and ``predict --trajectory`` compute them."""
    from ..metrics import fingerprint

    base = _base_row(spec) | {"data_sha256": fingerprint(ds)["sha256"]}
    rows = []
    status, message = str(traj.status), traj.message or ""
    metrics = run_metrics(traj, ds, model, teacher)
    for i, c in enumerate(traj.checkpoints):
        beta = np.asarray(c.predictor, dtype=float)
        row = {**base, "checkpoint": i}
        row.update(metrics[i])
        row.update(
            {
                "status": status,
                "message": message[:500],
                "seconds": float(seconds),
                "predictor": beta.tolist(),
            }
        )
        rows.append(row)
    if not rows:
        rows.append(
            {
                **base,
                "checkpoint": None,
                "log10_loss": None,
                "log10_time": None,
                "status": status if status != "ok" else "max_steps",
                "message": message[:500] or "no checkpoint reached",
                "seconds": float(seconds),
            }
        )
    if traj.floor_log10 is not None:
        for r in rows:
            r["floor_log10"] = float(traj.floor_log10)
    return rows


# --------------------------------------------------------------------------------------------- metrics
_RECOVERABLE = (BiasflowError, ArithmeticError, np.linalg.LinAlgError, ValueError)
_PRED: dict = {}


def limit_prediction(model, ds):
    """The model's limit prediction on ``ds`` (cached per data set and model configuration), or a string
    saying why there is none (its columns are then null with that reason in ``reasons``)."""
    from ..bias import predict
    from ..metrics import fingerprint

    key = (fingerprint(ds)["sha256"], json.dumps(model.config(), sort_keys=True, default=str))
    if key not in _PRED:
        if len(_PRED) > 256:
            _PRED.clear()
        try:
            pr = predict(model, ds)
            _PRED[key] = pr if pr.status == "ok" else f"the limit prediction has status {pr.status}: {pr.message}"
        except _RECOVERABLE as e:
            _PRED[key] = f"{type(e).__name__}: {e}" if not isinstance(e, BiasflowError) else str(e)
    return _PRED[key]


def _recorded_depth(name: str) -> int | None:
    """The depth a results table records for a run that sets none (the registry's, e.g. 2 for diagonal)."""
    from ..models import MODELS

    entry = MODELS.get(name)
    return None if entry is None else entry.depth


def run_metrics(traj, ds, model, teacher=None) -> list[dict]:
    """Per-checkpoint metric rows (:func:`biasflow.bias.compare.measure`, the registry's one code path)
    against the model's limit prediction; ``reasons`` is JSON text (the store's column)."""
    from ..bias.compare import measure

    pred = limit_prediction(model, ds)
    pot = None if isinstance(pred, str) else pred.potential
    rows = measure(traj, ds, limit=pred, depth=int(model.degree),
                   model=model.config(), potential=pot, teacher=teacher,
                   mu_scale=getattr(model, "log10_mu_scale", None))
    for r in rows:
        r["reasons"] = json.dumps(r["reasons"], sort_keys=True, ensure_ascii=False)
    return rows


def references(ds) -> dict:
    """The reference optima of a data set (cached; :func:`biasflow.metrics.reference`).

    Classification: ``l1`` and ``l2`` as ``(γ*, predictor)``. Regression: the min-ℓ1 and min-ℓ2
    interpolants. A reference without a solution (e.g. non-separable data) is absent.
    """
    from ..metrics import Undefined, reference

    out: dict[str, Any] = {}
    for name, key in (("l1", "l1"), ("l2", "l2")) if ds.task == "classification" else (
        ("l1", "min_l1"),
        ("l2", "min_l2"),
    ):
        r = reference(ds, key)
        if isinstance(r, Undefined):
            continue
        out[name] = (float(r.margin), np.asarray(r.predictor, float)) if ds.task == "classification" else r
    return out


def checkpoint_metrics(
    ds, beta: np.ndarray, *, degree: int = 2, teacher=None, model: dict | None = None, potential=None
) -> dict:
    """The prediction-free metrics of one predictor β (the registry's definitions), with ``reasons``.

    >>> from biasflow.data import gaussian
    >>> ds = gaussian(n=10, d=30, k=1, seed=0)
    >>> m = checkpoint_metrics(ds, np.eye(30)[0])
    >>> g1 = references(ds)["l1"][0]
    >>> m["support_size"], m["residual"] is None, round(1 - m["gap_l1"], 12) == round(m["gamma_l1"] / g1, 12)
    (1, True, True)
    """
    from ..bias.compare import BASE_COLUMNS
    from ..metrics import Point, evaluate

    p = Point(beta=np.asarray(beta, float), data=ds, depth=int(degree), model=model or {}, teacher=teacher,
              potential=potential)
    values, reasons = evaluate(p, BASE_COLUMNS)
    return values | {"reasons": json.dumps(reasons, sort_keys=True, ensure_ascii=False)}
