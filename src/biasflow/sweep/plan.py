"""Planning a sweep: parse and validate the config, expand the grid into run specs, run ids, building the
data/model/loss of a run, and batching. Execution (running batches, rows, metrics) is
:mod:`biasflow.sweep.runs`; this module imports only :mod:`biasflow.sweep.config` and lower layers."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from ..errors import BiasflowError
from .config import RunConfig, SweepConfig, axes, fail, parse_schema, pydantic_message, read_config_text


def parse_config(text: str, where: str = "sweep config", base_dir: str | Path | None = None) -> SweepConfig:
    """Parse and validate a sweep TOML text: the schema, then every run is built (cheap), so incompatible
    options fail before anything runs. Every problem is one :class:`BiasflowError` naming the key and its
    line."""
    cfg = parse_schema(text, where, base_dir)
    check_runs(cfg, text, where)
    return cfg


def load_config(path: str | Path) -> tuple[SweepConfig, str]:
    """Read and validate a sweep TOML file. Returns (config, text)."""
    text = read_config_text(path)
    return parse_config(text, where=str(path), base_dir=Path(path).parent), text


# ------------------------------------------------------------------------------------- runs and hashes
def expand(cfg: SweepConfig, text: str | None = None, where: str = "sweep config") -> list[dict]:
    """All runs of the sweep: the base run with each grid point applied, as plain JSON-able dicts.

    Each dict has the run options, ``data`` (a string or a generator dict), ``until_log10``,
    ``levels_log10`` and ``run_id``; validation errors name the grid key and its line.
    """
    grid_axes = axes(cfg, text, where)
    ident = config_id(cfg)
    base = cfg.run.model_dump(mode="json")
    runs = []
    for point in itertools.product(*[vals for _, vals in grid_axes]) if grid_axes else [()]:
        raw = json.loads(json.dumps(base))
        for (key, _), val in zip(grid_axes, point, strict=True):
            if key.startswith("data."):
                raw["data"][key.split(".", 1)[1]] = val
            else:
                raw[key] = val
        try:
            rc = RunConfig.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else ""
            axis = next((k for k, _ in grid_axes if k == key or (key == "data" and k.startswith("data."))), None)
            path = ("grid", *axis.split(".")) if axis else ("run", key)
            raise fail(where, text, path, pydantic_message(err)) from None
        spec = rc.model_dump(mode="json")
        spec["until_log10"] = rc.until_log10()
        spec["levels_log10"] = rc.levels_log10()
        spec.pop("levels", None)
        spec.pop("until", None)
        spec["sweep"] = cfg.name
        spec["config_id"] = ident
        spec["grid"] = {k: v for (k, _), v in zip(grid_axes, point, strict=True)}
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

    >>> a = parse_config('[run]\\ndata = "sparse"\\n[grid]\\nalpha = [0.1, 1.0]\\n')
    >>> b = parse_config('# same runs\\n[run]\\ndata = "sparse"  # built-in\\n[grid]\\nalpha = [0.1, 1.0]\\n')
    >>> config_id(a) == config_id(b), config_id(a) == config_id(parse_config('[grid]\\nalpha = [0.1]\\n'))
    (True, False)
    """
    core = cfg.model_dump(mode="json", exclude={"batch", "description"})
    blob = json.dumps(core, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def check_runs(cfg: SweepConfig, text: str | None, where: str) -> None:
    """Build the data, model and loss of every run (cheap): incompatible options fail before anything runs."""
    grid = dict(axes(cfg, text, where))
    for spec in expand(cfg, text, where):
        try:
            build_run(spec)
        except BiasflowError as e:
            keys = _blame(str(e), spec, grid)
            path = ("grid", *keys.split(".")) if keys in grid else ("run", *keys.split("."))
            raise fail(where, text, path, f"{e} (in {_describe(spec)})") from None


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
    from ..models.options import fields as model_option_fields

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
    opts = {f.name: spec.get(f.name, f.default) for f in model_option_fields()}
    opts["shape"] = shape
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


__all__ = ["batch_key", "build_run", "check_runs", "dataset_of", "expand", "load_config", "make_batches",
           "parse_config", "run_id"]
