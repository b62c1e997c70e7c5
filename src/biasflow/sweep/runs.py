"""Executing a sweep's runs: the batch runner, rows and metrics (the per-data-set caches of references and
predictions live here). Planning (expansion, ids, building, batching) is :mod:`biasflow.sweep.plan`."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import BiasflowError
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
    kw = {"until": first[0]["until_log10"], "checkpoints": first[0]["levels_log10"]}
    if len(built) > 1 and hasattr(flowmod, "flow_many"):
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
            try:
                trajs.append(
                    flowmod.flow(model, ds, loss, method=s.get("method", "auto"), seed=s.get("seed", 0), **kw)
                )
            except Exception as e:  # noqa: BLE001
                trajs.append(e)
            seconds.append(time.perf_counter() - t1)
    refs = references(ds)
    for (s, ds_, teacher, model, _loss), traj, sec in zip(built, trajs, seconds, strict=True):
        if isinstance(traj, Exception):
            out.append((s["run_id"], [failure_row(s, traj, sec)]))
            continue
        try:
            out.append((s["run_id"], trajectory_rows(s, traj, ds_, model, refs, teacher, sec)))
        except Exception as e:  # noqa: BLE001
            out.append((s["run_id"], [failure_row(s, e, sec)]))
    return out


def config_columns(spec: dict) -> dict:
    """The configuration columns of a run's rows (flat, typed for Parquet)."""
    data = spec["data"]
    shape = spec.get("shape")
    cols = {
        "sweep": spec.get("sweep", ""),
        "data": data
        if isinstance(data, str)
        else f"{data['generator']}(n={data['n']},d={data['d']},k={data['k']})",
        "data_seed": data.get("seed") if isinstance(data, dict) else None,
        "model": spec["model"],
        "depth": spec.get("depth") if spec.get("depth") is not None else _recorded_depth(spec["model"]),
        "width": spec.get("width"),
        "alpha": float(spec["alpha"]),
        "shape": float(shape)
        if isinstance(shape, (int, float))
        else (json.dumps(shape) if shape is not None else None),
        "loss": spec["loss"],
        "method": spec.get("method", "auto"),
        "seed": int(spec.get("seed", 0)),
        "until_log10": float(spec["until_log10"]),
    }
    return cols


def _recorded_depth(name: str) -> int | None:
    """The depth a results table records for a run that sets none (the registry's, e.g. 2 for diagonal)."""
    from ..models import MODELS

    entry = MODELS.get(name)
    return None if entry is None else entry.depth


def _base_row(spec: dict) -> dict:
    from .. import __version__

    return {**config_columns(spec), "biasflow_version": __version__}


def failure_row(spec: dict, err: BaseException, seconds: float = 0.0) -> dict:
    """The one row stored for a run that failed before producing a checkpoint."""
    status = "invalid_input" if isinstance(err, BiasflowError) else "error"
    msg = str(err).splitlines()[0] if str(err) else type(err).__name__
    if status == "error":
        msg = f"{type(err).__name__}: {msg}"
    return {
        **_base_row(spec),
        "checkpoint": None,
        "log10_loss": None,
        "log10_time": None,
        "status": status,
        "message": msg[:500],
        "seconds": float(seconds),
    }


def trajectory_rows(spec, traj, ds, model, refs, teacher, seconds) -> Rows:
    """One row per checkpoint of a trajectory: configuration, level, time, metrics, status."""
    base = _base_row(spec)
    rows = []
    status, message = traj.status, traj.message or ""
    extra = prediction_metrics(model, ds, traj)
    for i, c in enumerate(traj.checkpoints):
        beta = np.asarray(c.predictor, dtype=float)
        row = {**base, "checkpoint": i, "log10_loss": float(c.log10_loss), "log10_time": float(c.log10_time)}
        row.update(
            checkpoint_metrics(
                ds,
                beta,
                refs,
                degree=model.degree,
                teacher=teacher,
                alpha=spec["alpha"],
                log10_loss=float(c.log10_loss),
            )
        )
        if i < len(extra):
            row.update({k: v for k, v in extra[i].items() if k not in row})
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
PREDICTION_COLUMNS = (
    "rho_nsv",
    "rho_nsv_pred",
    "kkt_l2D",
    "kkt_l1_offsupport",
    "gap_l2D",
    "support_precision",
    "support_recall",
    "dist_pred",
    "kkt_q",
)
"""Columns taken from :func:`biasflow.bias.compare` against the model's limit prediction (THEORY.md §7)."""


def prediction_metrics(model, ds, traj) -> list[dict]:
    """Per-checkpoint certificate metrics against the model's predicted limit (ℓ1 / ℓ_{2/D} max-margin for
    classification, the min-Q interpolant for regression): ρ_nsv, KKT residuals, support agreement,
    distance to the prediction. Empty when no prediction applies (the other columns are unaffected)."""
    try:
        from ..bias import compare

        pred = _prediction_cached(
            _ds_key_store(ds), json.dumps(model.config(), sort_keys=True, default=str), model
        )
        if pred is None:
            return []
        out = []
        for r in compare(traj, pred):
            out.append({k: float(r[k]) for k in PREDICTION_COLUMNS if k in r and r[k] is not None})
        return out
    except Exception:  # noqa: BLE001 - certificates are extra columns; their failure must not fail the run
        return []


_PRED: dict = {}


def _prediction_cached(ds_key: str, model_key: str, model):
    from ..bias import predict

    key = (ds_key, model_key)
    if key not in _PRED:
        if len(_PRED) > 256:
            _PRED.clear()
        try:
            _PRED[key] = predict(model, _REF_DS[ds_key])
        except Exception:  # noqa: BLE001
            _PRED[key] = None
    return _PRED[key]


def _ds_key_store(ds) -> str:
    key = _ds_key(ds)
    _REF_DS[key] = ds
    return key


@functools.lru_cache(maxsize=16)
def _references_cached(key: str, ds_id: int):
    return _compute_references(_REF_DS[key])


_REF_DS: dict[str, Any] = {}


def _ds_key(ds) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ds.X).tobytes())
    h.update(np.ascontiguousarray(ds.y).tobytes())
    h.update(ds.task.encode())
    return h.hexdigest()


def references(ds) -> dict:
    """The predicted biases a run is compared with, computed once per data set (cached).

    Classification: ``l1`` and ``l2`` max-margin values γ₁*, γ₂* (and predictors). Regression: the min-ℓ1
    and min-ℓ2 interpolants. Empty when the prediction module is not available.
    """
    key = _ds_key(ds)
    _REF_DS[key] = ds
    return _references_cached(key, 0)


def _compute_references(ds) -> dict:
    refs: dict[str, Any] = {}
    if ds.task == "classification":
        try:
            from ..bias.margins import max_margin
        except ImportError:  # pragma: no cover - prediction module absent
            return refs
        for norm in ("l1", "l2"):
            try:
                r = max_margin(ds, norm)
                refs[norm] = (float(r.margin), np.asarray(r.predictor, dtype=float))
            except Exception:  # noqa: BLE001 - e.g. non-separable data: no gap columns
                pass
    else:
        try:
            from ..bias.interpolate import min_l1_interpolant, min_l2_interpolant
        except ImportError:  # pragma: no cover
            return refs
        for norm, fn in (("l1", min_l1_interpolant), ("l2", min_l2_interpolant)):
            try:
                refs[norm] = np.asarray(fn(ds), dtype=float)
            except Exception:  # noqa: BLE001
                pass
    return refs


def checkpoint_metrics(
    ds,
    beta: np.ndarray,
    refs: dict,
    *,
    degree: int = 2,
    teacher=None,
    alpha=None,
    log10_loss=None,
    support_tol: float = 1e-3,
) -> dict:
    """Metrics of one predictor β (THEORY.md §7: compare by gaps, not argmin distances).

    Classification: γ = min margin, normalized margins γ_p = γ/‖β‖_p for p = 1, 2, 2/D, the gaps
    1 − γ_p/γ_p* to the ℓ1 and ℓ2 max-margin (when references are known), log10 μ = log10(α^D/log(1/ℒ))
    (THEORY.md §3.5), and the support size (|β_j| > tol·‖β‖_∞).
    Regression: residual ‖Xβ − y‖, relative distances to the min-ℓ1 / min-ℓ2 interpolants, ℓ1-norm ratio,
    and the recovery error of the teacher when known.

    >>> from biasflow.data import gaussian
    >>> ds = gaussian(n=10, d=30, k=1, seed=0)
    >>> m = checkpoint_metrics(ds, np.eye(30)[0], {"l1": (0.5, None)})
    >>> m["support"], round(m["gamma_l1"] / 0.5, 12) == round(1 - m["gap_l1"], 12)
    (1, True)
    """
    out: dict[str, Any] = {}
    beta = np.asarray(beta, dtype=float)
    amax = float(np.max(np.abs(beta))) if beta.size else 0.0
    out["support"] = int(np.sum(np.abs(beta) > support_tol * amax)) if amax > 0 else 0
    out["norm_l1"] = float(np.sum(np.abs(beta)))
    out["norm_l2"] = float(np.linalg.norm(beta))
    if ds.task == "classification":
        m = ds.A @ beta
        gamma = float(np.min(m))
        out["margin"] = gamma
        p = 2.0 / degree
        normp = float(np.sum(np.abs(beta / amax) ** p) ** (1.0 / p) * amax) if amax > 0 else 0.0
        out["gamma_l1"] = gamma / out["norm_l1"] if out["norm_l1"] > 0 else None
        out["gamma_l2"] = gamma / out["norm_l2"] if out["norm_l2"] > 0 else None
        out["gamma_l2D"] = gamma / normp if normp > 0 else None
        for norm in ("l1", "l2"):
            if norm in refs and out[f"gamma_{norm}"] is not None:
                out[f"gap_{norm}"] = 1.0 - out[f"gamma_{norm}"] / refs[norm][0]
        if alpha is not None and log10_loss is not None and log10_loss < 0:
            out["log10_mu"] = degree * math.log10(alpha) - math.log10(-log10_loss * math.log(10.0))
    else:
        out["residual"] = float(np.linalg.norm(ds.X @ beta - ds.y))
        for norm in ("l1", "l2"):
            if norm in refs:
                ref = refs[norm]
                out[f"dist_{norm}"] = float(np.linalg.norm(beta - ref) / max(np.linalg.norm(ref), 1e-300))
        if "l1" in refs:
            out["l1_ratio"] = out["norm_l1"] / max(float(np.sum(np.abs(refs["l1"]))), 1e-300) - 1.0
    if teacher is not None and ds.task == "regression":
        t = np.asarray(teacher, dtype=float)
        out["recovery_error"] = float(np.linalg.norm(beta - t) / max(np.linalg.norm(t), 1e-300))
    return out
