"""Runs of a sweep: expansion into run specs, run ids, building and batching runs, the batch runner, rows
and metrics (the per-data-set caches of references and predictions live here)."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import BiasflowError, Status
from ..levels import Level
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
    kw = {
        "until": Level.from_log10(first[0]["until_log10"]),
        "checkpoints": [Level.from_log10(v) for v in first[0]["levels_log10"]],
    }
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
    for (s, ds_, teacher, model, _loss), traj, sec in zip(built, trajs, seconds, strict=True):
        if isinstance(traj, Exception):
            out.append((s["run_id"], [failure_row(s, traj, sec)]))
            continue
        try:
            out.append((s["run_id"], trajectory_rows(s, traj, ds_, model, teacher, sec)))
        except Exception as e:  # noqa: BLE001 - a failing run is a stored status (failed) with its message
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


def run_metrics(traj, ds, model, teacher=None) -> list[dict]:
    """Per-checkpoint metric rows (:func:`biasflow.bias.compare.measure`, the registry's one code path)
    against the model's limit prediction; ``reasons`` is JSON text (the store's column)."""
    from ..bias.compare import measure

    pred = limit_prediction(model, ds)
    pot = None if isinstance(pred, str) else pred.potential
    rows = measure(traj, ds, limit=pred, depth=int(getattr(model, "degree", 2)),
                   model=model.config() if hasattr(model, "config") else {}, potential=pot, teacher=teacher)
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
