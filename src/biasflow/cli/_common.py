"""Shared pieces of the CLI: option parsing, data/model/loss resolution, output, progress bars."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .._atomic import atomic_write_text as atomic_write_text  # noqa: F401  (used by commands)
from ..data import Dataset, resolve
from ..errors import BiasflowError
from ..losses import Loss, get_loss
from ..models import MODELS, Model, build_model
from ..models.options import fields as option_fields

stderr = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)
"""Status lines on stderr: text as written (no rich markup, so "[1e-10, 1e-1]" stays), never hard-wrapped
inside a number (soft wrap: the terminal folds long lines), no highlighting of numbers."""


def load_data(spec: str, loss: Loss | None = None, task: str | None = None) -> Dataset:
    """Resolve ``--data``; the task follows the loss (square → regression) unless given."""
    if task is None and loss is not None:
        task = loss.task
    return resolve(spec, task=task)


def make_model(name: str, ds: Dataset, *, depth=None, width=None, alpha=1.0, shape=None, seed=0,
               **extra) -> Model:
    """Build ``--model`` for the data's dimension from the common options (``--shape`` as text or parsed)."""
    if isinstance(shape, str):
        shape = parse_shape(shape)
    opts: dict[str, Any] = {"depth": depth, "alpha": alpha, "shape": shape, "seed": seed}
    if width is not None:
        opts["width"] = width
    opts.update({k: v for k, v in extra.items() if v is not None})
    takes = set(MODELS[name].options) if name in MODELS else None
    if takes is not None:
        defaults = {f.name: f.default for f in option_fields()}
        for k in [k for k in extra if k not in takes and k in defaults]:
            if opts.get(k, defaults[k]) != defaults[k]:
                raise BiasflowError(f"--{k} is not an option of model {name!r}; it takes "
                                    f"{', '.join('--' + o for o in MODELS[name].options) or 'no options'}")
            opts.pop(k, None)
    return build_model(name, ds.d, **opts)


def model_help() -> str:
    """``--model`` help: the registered names."""
    from ..models import MODELS

    return " | ".join(MODELS)


def with_model_options(func=None, *, unset: bool = False):
    """Give a command one ``--<option>`` per field of :class:`biasflow.models.options.ModelOptions`.

    The options are inserted after the command's ``model`` parameter (or replace a parameter of the same
    name, keeping its place), typed and documented from the field: its ``metadata["help"]`` plus the
    registered models that take it. The command receives them as keyword arguments (``**model_opts``) and
    passes them to :func:`make_model`. So a new model option is one field in ``ModelOptions``.
    With ``unset=True`` every option defaults to None (not given), for commands that take defaults from
    elsewhere (``predict --trajectory``).
    """
    if func is None:
        return lambda f: with_model_options(f, unset=unset)
    import inspect

    import typer

    from ..models import MODELS
    from ..models.options import fields

    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    names = [p.name for p in params]
    at = names.index("model") + 1
    for f in fields():
        users = [m for m, e in MODELS.items() if f.name in e.options]
        ftype = str(f.type)
        annotation = (str if "tuple" in ftype or ftype.startswith("str") else bool if ftype.startswith("bool")
                      else int if ftype.startswith("int") else float)
        default = None if unset or annotation is str else f.default
        option = typer.Option(default, f"--{f.name}",
                              help=f"{f.metadata['help']} (models: {', '.join(users)})")
        new = inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option,
                                annotation=annotation)
        if f.name in names:
            params[names.index(f.name)] = new
        else:
            params.insert(at, new)
            names.insert(at, f.name)
            at += 1
    func.__signature__ = sig.replace(parameters=params)
    return func


def check_loss_task(loss: Loss, ds: Dataset) -> None:
    if loss.task != ds.task:
        raise BiasflowError(
            f"loss {loss.name!r} is for {loss.task} but the data are for {ds.task}; "
            f"use --loss {'square' if ds.task == 'regression' else 'exp or logistic'}"
        )


def parse_loss(name: str) -> Loss:
    return get_loss(name)


def parse_shape(text: str | None):
    """``--shape``: a number, or comma-separated per-coordinate values."""
    if text is None:
        return None
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise BiasflowError(f"cannot read --shape {text!r}: give a number or comma-separated numbers") from None
    if not vals or not all(math.isfinite(v) for v in vals):
        raise BiasflowError(f"cannot read --shape {text!r}: give finite numbers")
    return vals[0] if len(vals) == 1 else tuple(vals)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
        return _jsonable(np.asarray(obj).tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def emit(result: dict, as_json: bool, human=None) -> None:
    """Print ``result`` as one JSON object on stdout (``--json``), or as text via ``human(result)``."""
    if as_json:
        sys.stdout.write(json.dumps(_jsonable(result)) + "\n")
        sys.stdout.flush()
    elif human is not None:
        human(result)
    else:
        Console().print_json(json.dumps(_jsonable(result)))


@contextlib.contextmanager
def progress(description: str, total: float | None = None, enabled: bool = True):
    """A rich progress bar on stderr; yields ``advance(amount=1, **fields)``."""
    # only on a terminal: elsewhere a live display prints nothing useful but leaves a blank line on stderr
    show = enabled and os.environ.get("BIASFLOW_NO_PROGRESS") is None and stderr.is_terminal
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=not show,
    ) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(amount: float = 1.0, completed: float | None = None, info: str = "") -> None:
            if completed is not None:
                bar.update(task, completed=completed, info=info)
            else:
                bar.update(task, advance=amount, info=info)

        yield advance


@contextlib.contextmanager
def runs_progress(description: str, enabled: bool = True, stream=None):
    """Progress of runs stored: yields ``update(done, total, info="", label=None)``.

    On a terminal (stderr) a rich bar shows runs done/total, the time elapsed and an ETA; otherwise
    (a log file, a pipe, CI) one line per finished batch is printed, e.g.
    ``sweep phase: 16/40 runs stored, 12 s elapsed, about 18 s left``. ``BIASFLOW_NO_PROGRESS`` silences
    both. A new ``label`` (the next sweep of a reproduction) restarts the count.
    """
    from ..fmt import duration

    show = enabled and os.environ.get("BIASFLOW_NO_PROGRESS") is None
    out = stream if stream is not None else sys.stderr
    tty = show and stream is None and stderr.is_terminal
    state = {"label": None, "t0": time.perf_counter()}
    if tty:
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("runs {task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=stderr,
            transient=True,
        )
        bar.start()
        task = bar.add_task(description, total=None, info="")

    def update(done: int, total: int, info: str = "", label: str | None = None) -> None:
        if not show:
            return
        name = f"{description}: {label}" if label else description
        if label != state["label"]:
            state["label"], state["t0"] = label, time.perf_counter()
        if tty:
            bar.update(task, description=name, completed=done, total=max(total, 1), info=info)
            return
        if done == 0:
            line = f"{name}: {total} run(s) to do" if total else f"{name}: nothing to do (all stored)"
        else:
            spent = time.perf_counter() - state["t0"]
            left = spent * (total - done) / done
            line = f"{name}: {done}/{total} runs stored{', ' + info if info else ''}, {duration(spent)} elapsed"
            line += f", about {duration(left)} left" if done < total else ""
        print(line, file=out, flush=True)

    try:
        yield update
    finally:
        if tty:
            bar.stop()


_RECORDS_PER_STEP = 8
"""float64 values recorded per step of descent (loss in two forms, learning rate, margins, ...): an upper
estimate used to refuse absurd step counts before compiling a loop that would never fit in memory."""


def check_steps(steps: int, runs: int = 1, option: str = "--steps") -> None:
    """Refuse ``steps`` × ``runs`` steps whose per-step records would exceed the memory budget."""
    from ..models.memory import check_memory

    if steps < 1:
        raise BiasflowError(f"{option} must be an integer ≥ 1 (got {steps})")
    what = f"a descent of {steps} steps" + (f" × {runs} learning rates" if runs > 1 else "")
    check_memory(8.0 * _RECORDS_PER_STEP * (steps + 1) * runs, what, f"reduce {option}")
