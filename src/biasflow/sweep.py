"""Sweeps: a base run × the product of option grids, executed in-process (batched) or on Dask.

A sweep is a TOML file validated by pydantic before anything runs::

    name = "phase-diagram"

    [run]                              # the base run (every option of `biasflow flow`)
    data = "sparse"                    # built-in name, a file (relative to this TOML), or a generator table
    model = "diagonal"
    depth = 2
    loss = "exp"
    until = "1e-1000"                  # loss levels are strings: 1e-1000 is not a float64
    levels = {start = "1e-1", stop = "1e-1000", num = 16}   # checkpoints, geometric in log(1/L)

    [grid]                             # the product of these lists
    alpha = {geomspace = [1e-2, 10.0, 8]}
    depth = [2, 3]

    [grid.data]                        # grids over generator options: data.seed
    seed = [0, 1]

Each point of the grid is one *run*, identified by :func:`run_id`, a content hash of its resolved
configuration (used by ``--resume``). Runs that differ only in the initialization (``alpha``, ``shape``)
share data, loss and checkpoints and are executed together as one batch through
:func:`biasflow.dynamics.flow.flow_many`; batches are the unit of work for both executors, so the
in-process and the Dask executors run the same computations and store identical numbers.

Every run stores one row per checkpoint (:mod:`biasflow.store`) with its configuration, the loss level,
log10 of the flow time, margins and gaps to the predicted biases (classification), or distances to the
interpolants (regression), its ``status`` and ``message``. A run that fails is stored with its status and
the error message, and the sweep goes on.

>>> cfg = parse_config('''
... [run]
... data = "sparse"
... until = "1e-20"
... [grid]
... alpha = [0.1, 1.0]
... depth = [2, 3]
... ''')
>>> [(s["alpha"], s["depth"]) for s in expand(cfg)]
[(0.1, 2), (0.1, 3), (1.0, 2), (1.0, 3)]
>>> parse_config('[run]\\nalpah = 1.0\\n')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
biasflow.errors.BiasflowError: sweep config, line 2: run.alpah: unknown key; allowed keys: data, task, ...
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import itertools
import json
import math
import re
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import _jax  # noqa: F401
from .errors import BiasflowError
from .levels import default_checkpoints, parse_level

# ------------------------------------------------------------------------------------------ the config
_LEVEL_HINT = 'write loss levels as strings, e.g. "1e-1000" (1e-1000 is not a float64)'


def _level(v) -> float:
    if isinstance(v, bool):
        raise ValueError('a loss level must be a number or a string such as "1e-100"')
    if isinstance(v, (int, float)) and v == 0:
        raise ValueError(f"loss level 0 (underflow?): {_LEVEL_HINT}")
    try:
        return parse_level(v)
    except BiasflowError as e:
        raise ValueError(str(e)) from None


class Generated(BaseModel):
    """Data drawn by a generator (:func:`biasflow.data.gaussian`): X ~ N(0, I), a k-sparse teacher."""

    model_config = ConfigDict(extra="forbid")
    generator: Literal["gaussian"] = "gaussian"
    n: int = Field(10, ge=1)
    d: int = Field(30, ge=1)
    k: int = Field(1, ge=1)
    task: Literal["classification", "regression"] = "classification"
    noise: float = Field(0.0, ge=0)
    flip: float = Field(0.0, ge=0, le=1)
    seed: int = 0


class LevelRange(BaseModel):
    """``num`` checkpoints from ``start`` to ``stop``, geometric in log(1/ℒ) (equally spaced in log log)."""

    model_config = ConfigDict(extra="forbid")
    start: str | float
    stop: str | float
    num: int = Field(ge=1, le=10000)

    @field_validator("start", "stop")
    @classmethod
    def _check(cls, v):
        _level(v)
        return v

    def log10_levels(self) -> list[float]:
        a, b = _level(self.start), _level(self.stop)
        if not (a < 0 and b < 0):
            raise ValueError("levels start and stop must be below 1 (log10 < 0), e.g. 1e-1 and 1e-1000")
        vals = -np.geomspace(-a, -b, self.num) if self.num > 1 else np.array([b])
        return [float(v) for v in vals]


class RunConfig(BaseModel):
    """One run: the options of ``biasflow flow``."""

    model_config = ConfigDict(extra="forbid")
    data: str | Generated = "sparse"
    task: Literal["classification", "regression"] | None = None
    model: str = "diagonal"
    depth: int | None = Field(None, ge=1, le=64)
    width: int | None = Field(None, ge=1)
    alpha: float = Field(1.0, gt=0, allow_inf_nan=False)
    shape: float | list[float] | None = None
    loss: Literal["exp", "logistic", "square"] = "exp"
    until: str | float = "1e-100"
    levels: list[str | float] | LevelRange | None = None
    method: Literal["auto", "exact", "autodiff"] = "auto"
    seed: int = 0

    @field_validator("until")
    @classmethod
    def _until(cls, v):
        _level(v)
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v):
        if isinstance(v, list):
            if not v:
                raise ValueError('empty list of checkpoint levels; give e.g. ["1e-10", "1e-100"] or omit it')
            for x in v:
                _level(x)
        elif isinstance(v, LevelRange):
            v.log10_levels()
        return v

    def until_log10(self) -> float:
        return _level(self.until)

    def levels_log10(self) -> list[float]:
        until = self.until_log10()
        if self.levels is None:
            return default_checkpoints(until)
        vals = (
            self.levels.log10_levels()
            if isinstance(self.levels, LevelRange)
            else [_level(x) for x in self.levels]
        )
        return sorted(set(vals), reverse=True)


RUN_KEYS = tuple(RunConfig.model_fields)
DATA_KEYS = tuple(Generated.model_fields)


class Space(BaseModel):
    """A grid axis given as a range.

    ``{geomspace = [lo, hi, num]}``, ``{linspace = [lo, hi, num]}`` or ``{range = [a, b]}``.
    """

    model_config = ConfigDict(extra="forbid")
    geomspace: tuple[float, float, int] | None = None
    linspace: tuple[float, float, int] | None = None
    range: tuple[int, int] | None = None

    def values(self) -> list:
        given = [k for k in ("geomspace", "linspace", "range") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of geomspace = [lo, hi, num], linspace = [lo, hi, num], range = [a, b]"
            )
        if self.range is not None:
            return list(range(*self.range))
        lo, hi, num = self.geomspace or self.linspace
        if num < 1:
            raise ValueError("num must be ≥ 1")
        if self.geomspace is not None:
            if not (lo > 0 and hi > 0):
                raise ValueError("geomspace needs positive end points")
            return [float(v) for v in np.geomspace(lo, hi, num)]
        return [float(v) for v in np.linspace(lo, hi, num)]


class SweepConfig(BaseModel):
    """A sweep: ``name``, the base ``[run]``, the ``[grid]`` of options, and execution settings."""

    model_config = ConfigDict(extra="forbid")
    name: str = "sweep"
    description: str = ""
    batch: int = Field(8, ge=1, le=4096)
    run: RunConfig = RunConfig()
    grid: dict[str, Any] = {}


# ----------------------------------------------------------------------------------- errors with lines
def _header(line: str) -> list[str] | None:
    m = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", line)
    return _split_key(m.group(1)) if m else None


def _split_key(key: str) -> list[str]:
    parts, cur, quote = [], "", None
    for ch in key:
        if quote:
            if ch == quote:
                quote = None
            else:
                cur += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return [p for p in parts if p != ""]


def locate(text: str, path: Iterable[str | int]) -> int | None:
    """The 1-based line of ``path`` (e.g. ``("grid", "alpha")``) in TOML ``text``; best effort.

    >>> locate('name = "x"\\n[grid]\\n\\nalpha = [1, 2]\\n', ("grid", "alpha"))
    4
    """
    want = [str(p) for p in path if not isinstance(p, int)]
    table: list[str] = []
    best, best_len = None, -1
    for i, line in enumerate(text.splitlines(), start=1):
        h = _header(line)
        if h is not None:
            table = h
            full = h
        else:
            m = re.match(
                r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'))*)\s*=",
                line,
            )
            if not m:
                continue
            full = table + _split_key(m.group(1))
            # an inline table on this line: accept deeper paths whose next key appears on it
        n = 0
        while n < min(len(full), len(want)) and full[n] == want[n]:
            n += 1
        if n == len(full) and n > best_len:
            best, best_len = i, n
            if n == len(want):
                return i
        if h is None and n == len(full) and n < len(want):
            rest = want[n]
            if re.search(rf"[{{,]\s*{re.escape(rest)}\s*=", line):
                return i
    return best


def _fail(where: str, text: str | None, path, message: str) -> BiasflowError:
    line = locate(text, path) if text is not None else None
    key = ".".join(str(p) for p in path if not isinstance(p, int)) or "(top level)"
    at = f"{where}, line {line}" if line else where
    return BiasflowError(f"{at}: {key}: {message}")


def _pydantic_message(err: dict) -> str:
    t, msg = err.get("type", ""), err.get("msg", "")
    if t == "extra_forbidden":
        return "unknown key"
    if t == "missing" and any(isinstance(p, int) for p in err.get("loc", ())):
        return "too few values (e.g. geomspace = [lo, hi, num])"
    msg = msg.removeprefix("Value error, ")
    if "input" in err and t not in ("missing",):
        shown = repr(err["input"])
        shown = shown if len(shown) < 60 else shown[:57] + "..."
        return f"{msg} (got {shown})"
    return msg


def _allowed(loc: tuple) -> str:
    if loc[:1] == ("run",) and len(loc) >= 3 and loc[1] == "data":
        return "; allowed keys: " + ", ".join(DATA_KEYS)
    if loc[:1] == ("run",):
        return "; allowed keys: " + ", ".join(RUN_KEYS)
    if len(loc) == 1:
        return "; allowed keys: " + ", ".join(SweepConfig.model_fields)
    return ""


def parse_config(text: str, where: str = "sweep config", base_dir: str | Path | None = None) -> SweepConfig:
    """Parse and validate a sweep TOML text.

    Every problem is one :class:`BiasflowError` naming the key and its line.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BiasflowError(f"{where}: not valid TOML: {e}") from None
    try:
        cfg = SweepConfig.model_validate(raw)
    except ValidationError as e:
        errs = e.errors()
        err = errs[0]
        # unions (str | table): report the table branch's error when a table was given
        for branch in ("Generated", "LevelRange"):
            tabled = [x for x in errs if branch in x["loc"]]
            if tabled and err["loc"][:2] == tabled[0]["loc"][:2]:
                err = tabled[0]
        loc = tuple(
            p
            for p in err["loc"]
            if not (
                isinstance(p, str)
                and (
                    "[" in p
                    or p in ("str", "float", "int", "list", "Generated", "LevelRange", "Space", "dict")
                )
            )
        )
        # a union's branch names appear in loc; keep the config path only
        loc = _config_loc(loc, raw)
        extra = _allowed(loc) if err.get("type") == "extra_forbidden" else ""
        raise _fail(where, text, loc, _pydantic_message(err) + extra) from None
    cfg = _resolve_paths(cfg, base_dir)
    _check_grid(cfg, text, where)
    _check_runs(cfg, text, where)
    return cfg


def _config_loc(loc: tuple, raw: dict) -> tuple:
    """Trim a pydantic location to the part that exists in the raw TOML (plus one unknown key)."""
    out: list = []
    node: Any = raw
    for p in loc:
        if isinstance(node, dict) and p in node:
            out.append(p)
            node = node[p]
        elif isinstance(node, list) and isinstance(p, int) and p < len(node):
            out.append(p)
            node = node[p]
        elif isinstance(node, dict) and isinstance(p, str) and p not in node and not out[-1:] == [p]:
            # an unknown key reported by pydantic is present in the raw table under this name
            out.append(p)
            break
        else:
            continue
    return tuple(out)


def load_config(path: str | Path) -> tuple[SweepConfig, str]:
    """Read and validate a sweep TOML file. Returns (config, text)."""
    p = Path(path)
    if not p.exists():
        raise BiasflowError(
            f"sweep config {str(p)!r} not found; give the path of a .toml file (see examples/)"
        )
    if p.is_dir():
        raise BiasflowError(f"sweep config {str(p)!r} is a directory; give a .toml file")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise BiasflowError(f"{p}: cannot read sweep config ({e})") from None
    return parse_config(text, where=str(p), base_dir=p.parent), text


def _resolve_paths(cfg: SweepConfig, base_dir) -> SweepConfig:
    from .data import BUILTINS

    d = cfg.run.data
    if isinstance(d, str) and base_dir is not None:
        name = d.removeprefix("builtin:")
        if not (d.startswith("builtin:") or name in BUILTINS):
            p = Path(d)
            if not p.is_absolute():
                p = (Path(base_dir) / p).resolve()
            cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"data": str(p)})})
    return cfg


def _axes(cfg: SweepConfig, text: str | None = None, where: str = "sweep config") -> list[tuple[str, list]]:
    """The grid axes as (dotted key, values), in file order."""
    axes: list[tuple[str, list]] = []
    for key, val in cfg.grid.items():
        if isinstance(val, dict) and set(val) & {"geomspace", "linspace", "range"}:
            axes.append((key, _values(val, ("grid", key), text, where)))
        elif isinstance(val, dict):
            if key != "data":
                raise _fail(
                    where,
                    text,
                    ("grid", key),
                    "nested grid tables are only allowed for data (e.g. [grid.data] seed = [0, 1])",
                )
            for sub, v in val.items():
                axes.append((f"data.{sub}", _values(v, ("grid", key, sub), text, where)))
        else:
            axes.append((key, _values(val, ("grid", key), text, where)))
    return axes


def _values(v, path, text, where) -> list:
    if isinstance(v, dict):
        try:
            vals = Space.model_validate(v).values()
        except ValidationError as e:
            err = e.errors()[0]
            sub = tuple(p for p in err["loc"] if isinstance(p, str))
            raise _fail(where, text, path + sub[:1], _pydantic_message(err)) from None
        except ValueError as e:
            raise _fail(where, text, path, str(e)) from None
    elif isinstance(v, list):
        vals = list(v)
    else:
        raise _fail(
            where,
            text,
            path,
            f"a grid axis must be a list of values or a table such as "
            f"{{geomspace = [1e-2, 10.0, 8]}} (got {v!r})",
        )
    if not vals:
        raise _fail(where, text, path, "empty grid: give at least one value")
    return vals


def _check_grid(cfg: SweepConfig, text: str | None, where: str) -> None:
    for key, vals in _axes(cfg, text, where):
        path = ("grid", *key.split("."))
        if key.startswith("data."):
            sub = key.split(".", 1)[1]
            if not isinstance(cfg.run.data, Generated):
                raise _fail(
                    where,
                    text,
                    path,
                    "a grid over data options needs generated data in [run] "
                    '(data = {generator = "gaussian", ...}), not a file or built-in name',
                )
            if sub not in DATA_KEYS or sub == "generator":
                raise _fail(where, text, path, f"unknown data option; allowed: {', '.join(DATA_KEYS[1:])}")
        elif key not in RUN_KEYS:
            raise _fail(where, text, path, f"unknown key; grid keys are run options: {', '.join(RUN_KEYS)}")
        elif key == "levels":
            raise _fail(
                where,
                text,
                path,
                "levels are checkpoints of every run, not a grid axis; "
                "set [run] levels and sweep over alpha, depth, ...",
            )
        if len(set(map(_freeze, vals))) != len(vals):
            raise _fail(where, text, path, "repeated values in the grid")


def _freeze(v):
    return json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v


# ------------------------------------------------------------------------------------- runs and hashes
def expand(cfg: SweepConfig, text: str | None = None, where: str = "sweep config") -> list[dict]:
    """All runs of the sweep: the base run with each grid point applied, as plain JSON-able dicts.

    Each dict has the run options, ``data`` (a string or a generator dict), ``until_log10``,
    ``levels_log10`` and ``run_id``; validation errors name the grid key and its line.
    """
    axes = _axes(cfg, text, where)
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
    from . import __version__

    core = {k: v for k, v in spec.items() if k not in ("run_id", "sweep", "grid")}
    blob = json.dumps({"v": __version__, "run": core}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
    from .data import gaussian, resolve

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
    from .losses import get_loss

    task = spec.get("task") or get_loss(spec["loss"]).task
    return _dataset_cached(json.dumps(spec["data"], sort_keys=True), task)


def build_run(spec: dict):
    """(data set, teacher, model, loss) of a run; raises :class:`BiasflowError` for incompatible options."""
    from .losses import get_loss
    from .models import build_model

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
    core = {k: v for k, v in spec.items() if k not in ("alpha", "shape", "run_id", "grid", "sweep")}
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
    from .dynamics import flow as flowmod

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
    from . import __version__

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
        from .bias import compare

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
    from .bias import predict

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
            from .bias.margins import max_margin
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
            from .bias.interpolate import min_l1_interpolant, min_l2_interpolant
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


# ------------------------------------------------------------------------------------------- executors
@dataclasses.dataclass
class SweepSummary:
    """What a sweep did."""

    out: str
    runs: int
    executed: int
    skipped: int
    failed: int
    rows: int
    seconds: float
    scheduler: str
    statuses: dict

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def prepare(cfg: SweepConfig, out: str | Path, *, resume: bool = False, text: str | None = None):
    """Open the store and decide which runs remain; refuses a non-empty store without ``resume``."""
    from .store import Store

    specs = expand(cfg, text)
    store = Store(out)
    done = store.run_ids()
    if done and not resume:
        mine = sum(s["run_id"] in done for s in specs)
        raise BiasflowError(
            f"{out} already holds {len(done)} stored run(s) ({mine} of this sweep's {len(specs)}); "
            "pass --resume to skip stored runs, or choose a new --out directory"
        )
    todo = [s for s in specs if s["run_id"] not in done]
    return store, specs, todo


def run_sweep(
    cfg: SweepConfig,
    out: str | Path,
    *,
    scheduler: str | None = None,
    resume: bool = False,
    text: str | None = None,
    runner: Runner | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    workers: int = 2,
    client=None,
) -> SweepSummary:
    """Run a sweep into results directory ``out``.

    Args:
        cfg: the validated config (:func:`load_config` / :func:`parse_config`).
        out: the results directory (a :class:`biasflow.store.Store`).
        scheduler: ``None`` (in-process), ``"local"`` (a Dask ``LocalCluster`` of ``workers`` processes)
            or ``"tcp://host:port"`` (an existing Dask scheduler).
        resume: skip runs whose ``run_id`` is already stored.
        runner: the batch function (default :func:`run_batch`); each returns ``[(run_id, rows), ...]``.
        on_progress: called as ``on_progress(done, total, info)`` after each stored batch.
        workers: worker processes for ``scheduler="local"``.
        client: an existing ``distributed.Client`` to use instead of ``scheduler`` (left open).
    """

    t0 = time.perf_counter()
    runner = runner or run_batch
    own = client is None
    if client is None:
        client = _connect(scheduler, workers) if scheduler else None  # fail fast, before any run
    try:
        store, specs, todo = prepare(cfg, out, resume=resume, text=text)
        if text is not None:
            from .cli._common import atomic_write_text

            atomic_write_text(Path(out) / "sweep.toml", text)
        batches = make_batches(todo, cfg.batch)
        total = len(todo)
        stats = {"done": 0, "failed": 0, "rows": 0, "statuses": {}}

        def store_results(results):
            if not results:
                return
            store.append_runs({rid: rows for rid, rows in results})
            for _, rows in results:
                st = rows[-1].get("status", "ok")
                stats["statuses"][st] = stats["statuses"].get(st, 0) + 1
                stats["failed"] += st != "ok"
                stats["rows"] += len(rows)
            stats["done"] += len(results)
            if on_progress:
                on_progress(stats["done"], total, f"{stats['failed']} failed" if stats["failed"] else "")

        if on_progress:
            on_progress(0, total, "")
        if client is None:
            for b in batches:
                store_results(_safe(runner, b))
        else:
            from distributed import as_completed

            futures = client.map(_safe, [runner] * len(batches), batches, pure=False)
            for fut in as_completed(futures):
                store_results(fut.result())
    finally:
        if client is not None and own:
            _close(client)
    return SweepSummary(
        out=str(out),
        runs=len(specs),
        executed=len(todo),
        skipped=len(specs) - len(todo),
        failed=stats["failed"],
        rows=stats["rows"],
        seconds=time.perf_counter() - t0,
        scheduler=scheduler or ("dask" if client is not None else "in-process"),
        statuses=stats["statuses"],
    )


def _safe(runner: Runner, batch: list[dict]) -> list[tuple[str, Rows]]:
    """Run a batch; if the runner itself raises, store every run of the batch as failed."""

    t0 = time.perf_counter()
    try:
        res = runner(batch)
    except Exception as e:  # noqa: BLE001
        return [(s["run_id"], [failure_row(s, e, time.perf_counter() - t0)]) for s in batch]
    got = {rid for rid, _ in res}
    for s in batch:  # a runner that forgot a run: record it
        if s["run_id"] not in got:
            res.append((s["run_id"], [failure_row(s, RuntimeError("the runner returned no result"), 0.0)]))
    return res


_SCHEME = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s]+$")


def _connect(scheduler: str, workers: int = 2):
    """A Dask client: ``local`` starts a LocalCluster of worker processes; an address connects (≤ 10 s)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover
        raise BiasflowError("--scheduler needs dask[distributed]; install it or drop --scheduler") from None
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return Client(cluster)
    if scheduler == "local-threads":
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return Client(cluster)
    if not _SCHEME.match(scheduler):
        raise BiasflowError(
            f"--scheduler {scheduler!r}: give 'local' or a Dask scheduler address such as tcp://host:8786"
        )
    try:
        return Client(scheduler, timeout="6s")
    except Exception as e:  # noqa: BLE001 - refused, timed out, or something that is not a Dask scheduler
        raise BiasflowError(
            f"cannot reach the Dask scheduler at {scheduler} ({type(e).__name__}); start it "
            "with `dask scheduler` or use --scheduler local"
        ) from None


def _close(client) -> None:
    cluster = getattr(client, "cluster", None)
    try:
        client.close()
    finally:
        if cluster is not None:
            cluster.close()


_SCHEDULER: contextvars.ContextVar[str | None] = contextvars.ContextVar("biasflow_scheduler", default=None)


@contextlib.contextmanager
def use_scheduler(scheduler: str | None):
    """Run the sweeps of a reproduction (:func:`sweep_rows`) on ``scheduler`` (``reproduce --scheduler``)."""
    token = _SCHEDULER.set(scheduler)
    try:
        yield
    finally:
        _SCHEDULER.reset(token)


def sweep_rows(
    text: str, out: str | Path, *, where: str = "sweep config", runner: Runner | None = None, on_progress=None
) -> list[dict]:
    """Run (or resume) the sweep given as TOML ``text`` into ``out`` and return all of its stored rows.

    Used by the reproductions: re-running one into the same directory reuses the stored runs. The config
    is saved as ``out/sweeps/<name>.toml``, so the same sweep can be re-run with ``biasflow sweep`` (e.g.
    on a Dask cluster). The scheduler is the one set by :func:`use_scheduler` (in-process by default).
    """
    from .cli._common import atomic_write_text
    from .store import Store

    cfg = parse_config(text, where=where)
    run_sweep(cfg, out, resume=True, runner=runner, on_progress=on_progress, scheduler=_SCHEDULER.get())
    atomic_write_text(Path(out) / "sweeps" / f"{cfg.name}.toml", text)
    ids = [s["run_id"] for s in expand(cfg)]
    quoted = ", ".join(f"'{i}'" for i in ids)
    return Store(out).query(
        f"SELECT * FROM results WHERE run_id IN ({quoted}) ORDER BY alpha, log10_loss DESC"
    )
