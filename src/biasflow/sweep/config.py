"""The sweep TOML config: pydantic models, schema validation with line-numbered errors, grid axes.

Planning (expanding the grid into runs, building and batching them) is :mod:`biasflow.sweep.plan`, which
imports this module and never the other way round."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from ..levels import default_checkpoints, parse_level
from ..models.options import pydantic_fields as model_option_fields

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


_ModelKeys = create_model("_ModelKeys", **model_option_fields())
"""The model options of a run (depth, width, alpha, shape, seed, ...), from
:class:`biasflow.models.options.ModelOptions`: a new model option is a new sweep key with no edit here."""


class RunConfig(_ModelKeys):
    """One run: the options of ``biasflow flow``."""

    model_config = ConfigDict(extra="forbid")
    data: str | Generated = "sparse"
    task: Literal["classification", "regression"] | None = None
    model: str = "diagonal"
    loss: Literal["exp", "logistic", "square"] = "exp"
    until: str | float = "1e-100"
    levels: list[str | float] | LevelRange | None = None
    method: Literal["auto", "exact", "autodiff"] = "auto"

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


_FIRST = ("data", "task", "model")
RUN_KEYS = _FIRST + tuple(k for k in RunConfig.model_fields if k not in _FIRST)
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


def parse_schema(text: str, where: str = "sweep config", base_dir: str | Path | None = None) -> SweepConfig:
    """Parse a sweep TOML text and validate it against the schema (keys, types, grid axes).

    Every problem is one :class:`BiasflowError` naming the key and its line. Building every run (the
    cross-option checks) is :func:`biasflow.sweep.plan.parse_config`.
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


def read_config_text(path: str | Path) -> str:
    """The text of a sweep TOML file, or one clear error."""
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
    if not any(ln.split("#", 1)[0].strip() for ln in text.splitlines()):
        raise BiasflowError(
            f"{p}: the sweep config is empty; give at least a [run] table (e.g. data = \"sparse\") and a "
            "[grid] (see examples/)"
        )
    return text


def _resolve_paths(cfg: SweepConfig, base_dir) -> SweepConfig:
    from ..data import BUILTINS

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


# public names for the planning module (the leading underscores are kept for older imports)
axes = _axes
fail = _fail
pydantic_message = _pydantic_message
