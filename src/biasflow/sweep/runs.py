"""Runs of a sweep: expansion into run specs, run ids, building and batching runs, the batch runner, rows
and metrics (the per-data-set caches of references and predictions live here)."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import BiasflowError
from .config import RunConfig, SweepConfig, _axes, _fail, _pydantic_message


# ------------------------------------------------------------------------------------- runs and hashes
def expand(cfg: SweepConfig, text: str | None = None, where: str = "sweep config") -> list[dict]:
    """All runs of the sweep: the base run with each grid point applied, as plain JSON-able dicts.

    Each dict has the run options, ``data`` (a string or a generator dict), ``until_log10``,
    ``levels_log10`` and ``run_id``; validation errors name the grid key and its line.
    """
    axes = _axes(cfg, text, where)
    ident = config_id(cfg)
    base = cfg.run.model_dump(mode="json")
    runs = []
    for point in itertools.product(*[vals for _, vals in axes]) if axes else [()]:
        raw = json.loads(json.dumps(base))
        for (key, _), val in zip(axes, point, strict=True):
            if key.startswith("data."):
                raw["data"][key.split(".", 1)[1]] = val
            else:
                raw[key] = val
        try:
            rc = RunConfig.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else ""
            axis = next((k for k, _ in axes if k == key or (key == "data" and k.startswith("data."))), None)
            path = ("grid", *axis.split(".")) if axis else ("run", key)
            raise _fail(where, text, path, _pydantic_message(err)) from None
        spec = rc.model_dump(mode="json")
        spec["until_log10"] = rc.until_log10()
        spec["levels_log10"] = rc.levels_log10()
        spec.pop("levels", None)
        spec.pop("until", None)
        spec["sweep"] = cfg.name
        spec["config_id"] = ident
        spec["grid"] = {k: v for (k, _), v in zip(axes, point, strict=True)}
        spec["run_id"] = run_id(spec)
        runs.append(spec)
    return runs


def run_id(spec: dict) -> str:
    """Content hash of a run's configuration (everything that changes its numbers; not the sweep name).

    >>> run_id({"alpha": 1.0, "depth": 2}) == run_id({"depth": 2, "alpha": 1.0})
    True
    >>> run_id({"alpha": 1.0}) == run_id({"alpha": 1.0000001})
    False
    """
    from .. import __version__

    core = {k: v for k, v in spec.items() if k not in ("run_id", "sweep", "grid", "config_id")}
    blob = json.dumps({"v": __version__, "run": core}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def config_id(cfg: SweepConfig) -> str:
    """The identity of a sweep configuration: a hash of its name, base run and grid (not of the TOML text,
    so comments and layout do not count; not of ``batch`` or ``description``, which change no number).

    Stored in every row as ``config_id``; ``sweep --resume`` refuses a configuration the store has not
    seen unless ``--new-config`` is given.

    >>> from biasflow.sweep import parse_config
    >>> a = parse_config('[run]\\ndata = "sparse"\\n[grid]\\nalpha = [0.1, 1.0]\\n')
    >>> b = parse_config('# same runs\\n[run]\\ndata = "sparse"  # built-in\\n[grid]\\nalpha = [0.1, 1.0]\\n')
    >>> config_id(a) == config_id(b), config_id(a) == config_id(parse_config('[grid]\\nalpha = [0.1]\\n'))
    (True, False)
    """
    core = cfg.model_dump(mode="json", exclude={"batch", "description"})
    blob = json.dumps(core, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _check_runs(cfg: SweepConfig, text: str | None, where: str) -> None:
    """Build the data, model and loss of every run (cheap): incompatible options fail before anything runs."""
    axes = dict(_axes(cfg, text, where))
    for spec in expand(cfg, text, where):
        try:
            build_run(spec)
        except BiasflowError as e:
            keys = _blame(str(e), spec, axes)
            path = ("grid", *keys.split(".")) if keys in axes else ("run", *keys.split("."))
            raise _fail(where, text, path, f"{e} (in {_describe(spec)})") from None


def _blame(message: str, spec: dict, axes: dict) -> str:
    """Guess which option an error is about, preferring a grid axis."""
    low = message.lower()
    order = ["levels", "until", "loss", "task", "depth", "width", "shape", "alpha", "method", "model", "data"]
    for key in order:
        hit = key in low or (key == "levels" and "checkpoint" in low)
        if hit:
            if key in axes:
                return key
            data_axis = next((k for k in axes if k.startswith("data.") and k.split(".", 1)[1] in low), None)
            if key == "data" and data_axis:
                return data_axis
            return key
    return "model"


def _describe(spec: dict) -> str:
    g = spec.get("grid") or {}
    return ("the run with " + ", ".join(f"{k}={v}" for k, v in g.items())) if g else "the base run"


@functools.lru_cache(maxsize=64)
def _dataset_cached(data_json: str, task: str | None):
    from ..data import gaussian, resolve

    data = json.loads(data_json)
    if isinstance(data, dict):
        opts = {k: v for k, v in data.items() if k != "generator"}
        if task is not None and task != opts.get("task"):
            opts["task"] = task
        ds = gaussian(**opts)
        teacher = np.zeros(ds.d)
        teacher[: data["k"]] = 1.0
        return ds, teacher
    return resolve(data, task=task), None


def dataset_of(spec: dict):
    """The data set of a run, and its teacher vector when known (generated data), else None."""
    from ..losses import get_loss

    task = spec.get("task") or get_loss(spec["loss"]).task
    return _dataset_cached(json.dumps(spec["data"], sort_keys=True), task)


def build_run(spec: dict):
    """(data set, teacher, model, loss) of a run; raises :class:`BiasflowError` for incompatible options."""
    from ..losses import get_loss
    from ..models import build_model

    loss = get_loss(spec["loss"])
    ds, teacher = dataset_of(spec)
    if loss.task != ds.task:
        raise BiasflowError(
            f"loss {loss.name!r} is for {loss.task} but the data are for {ds.task}; "
            f'use loss = "{"square" if ds.task == "regression" else "exp"}"'
        )
    if spec["levels_log10"] and min(spec["levels_log10"]) < spec["until_log10"] - 1e-9:
        raise BiasflowError(
            "a checkpoint level lies below the target 'until'; lower until or drop that level"
        )
    shape = spec.get("shape")
    if isinstance(shape, list):
        if len(shape) not in (1, ds.d):
            raise BiasflowError(
                f"shape has {len(shape)} entries but the data have d = {ds.d}; give 1 or d values"
            )
        shape = tuple(shape)
    opts = {"depth": spec.get("depth"), "alpha": spec["alpha"], "shape": shape, "seed": spec.get("seed", 0)}
    if spec.get("width") is not None:
        opts["width"] = spec["width"]
    model = build_model(spec["model"], ds.d, **opts)
    return ds, teacher, model, loss


# ------------------------------------------------------------------------------------------- batching
def batch_key(spec: dict) -> str:
    """Runs with equal keys differ only in their initialization and can be integrated together."""
    core = {
        k: v for k, v in spec.items() if k not in ("alpha", "shape", "run_id", "grid", "sweep", "config_id")
    }
    return json.dumps(core, sort_keys=True, default=str)


def make_batches(specs: list[dict], size: int) -> list[list[dict]]:
    """Group batchable runs (in first-seen order) and cut each group into chunks of at most ``size``.

    The chunks depend only on the runs and ``size``, never on the executor, so every executor performs
    the same computations.
    """
    groups: dict[str, list[dict]] = {}
    for s in specs:
        groups.setdefault(batch_key(s), []).append(s)
    out = []
    for g in groups.values():
        for i in range(0, len(g), size):
            out.append(g[i : i + size])
    return out


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
        "config_id": spec.get("config_id"),
        "data": data
        if isinstance(data, str)
        else f"{data['generator']}(n={data['n']},d={data['d']},k={data['k']})",
        "data_seed": data.get("seed") if isinstance(data, dict) else None,
        "model": spec["model"],
        "depth": spec.get("depth")
        if spec.get("depth") is not None
        else (2 if "diagonal" in spec["model"] else None),
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
                degree=getattr(model, "degree", 2),
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
