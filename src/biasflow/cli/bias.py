"""``biasflow margin``, ``interpolate`` and ``predict``: predicted biases with certificates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import typer

from ..data import fingerprint
from ..errors import BiasflowError
from ..levels import Level, format_level
from ..metrics import KIND_COLUMNS
from . import app
from ._common import (
    check_loss_task,
    emit,
    load_data,
    make_model,
    parse_loss,
    parse_shape,
    stderr,
    with_model_options,
)

MODEL_HELP = "diagonal | diagonal-untied | diagonal-uv (and dense | conv | tensor for limit predictions)"


def _head(b, k=6):
    return ", ".join(f"{v:.4g}" for v in b[:k]) + (", …" if len(b) > k else "")


@app.command()
def margin(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set (e.g. sparse)"),
    norm: str = typer.Option("l1", "--norm", help="l1 | l2 | linf"),
    solver: str = typer.Option("auto", "--solver", help="auto | highs | clarabel | nnls (l2)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object"),
):
    """The ℓp max-margin predictor (‖β‖_p = 1) with a duality certificate (LP by HiGHS, QP by Clarabel)."""
    from ..bias.margins import max_margin

    ds = load_data(data, task="classification")
    res = max_margin(ds, norm, solver=solver)

    def human(r):
        c = r["certificate"]
        print(
            f"{r['norm']} max-margin  γ* = {r['margin']:.15g}   (upper bound {c['upper_bound']:.15g}, "
            f"relative gap {c['relative_gap']:.2e}, {len(c['support_vectors'])} support vectors)"
        )
        print(f"β = [{_head(r['predictor'])}]   solver: {r['solver']}")

    emit(res.to_json(), as_json, human)
    return 0


@app.command()
@with_model_options
def interpolate(
    data: str = typer.Option(
        ..., "--data", help="a regression data file (.npz/.csv/.parquet) or built-in set"
    ),
    model: str = typer.Option("diagonal", "--model", help="diagonal | diagonal-untied | diagonal-uv"),
    least_squares: bool = typer.Option(
        False, "--least-squares", help="interpolate the least-squares fit when Xβ = y is inconsistent"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object"),
    **model_opts,
):
    """The minimum-Q interpolant: where square-loss gradient flow of a diagonal network converges."""
    from ..bias.interpolate import interpolate as run

    ds = load_data(data, task="regression")
    net = make_model(model, ds, **model_opts)
    res = run(net, ds, least_squares=least_squares)

    def human(r):
        c = r["certificate"]
        stderr.print(f"status: {r['status']}  ({r['message']})")
        print(
            f"‖Xβ − y‖/max(1,‖y‖) = {c['residual']:.2e}   KKT residual = {c['kkt_residual']:.2e}   "
            f"Q(β) = {c['objective_Q']:.10g}"
        )
        print(f"β = [{_head(r['predictor'])}]")

    emit(res.to_json(), as_json, human)
    return 0 if res.status == "ok" else 3


def _read_trajectory(path: str):
    from ..trajectory import Checkpoint, Trajectory

    p = Path(path)
    if not p.exists():
        raise BiasflowError(
            f"trajectory file {path!r} not found; write one with `biasflow flow ... --json > FILE`"
        )
    try:
        obj = json.loads(p.read_text())
        cps = [
            Checkpoint(
                log10_loss=float(c["log10_loss"]),
                log10_time=float(c.get("log10_time", math.nan)),
                params=None,
                predictor=np.asarray(c["predictor"], float),
                extra={"nu": np.asarray(c["nu"], float)} if c.get("nu") is not None else {},
            )
            for c in obj["checkpoints"]
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise BiasflowError(
            f"{path}: not a `biasflow flow --json` result ({type(e).__name__}: {e})"
        ) from None
    return Trajectory(
        status=obj.get("status", "ok"),
        checkpoints=cps,
        loss=obj.get("loss", ""),
        model=obj.get("model", {}) or {},
        data=obj.get("data", {}) or {},
    )


_FROM_TRAJECTORY = ("model", "depth", "width", "alpha", "shape")


def _resolve_with_trajectory(path: str, traj, given: dict) -> dict:
    """Model options for ``predict --trajectory``: the trajectory's model config is the default; an
    option given on the command line that contradicts it is refused (one line)."""
    cfg = traj.model or {}
    out = dict(given)
    for key in _FROM_TRAJECTORY:
        have = cfg.get(key)
        if have is None:
            continue
        want = given.get(key)
        if want is None:
            out[key] = have
            continue
        same = (
            math.isclose(float(want), float(have), rel_tol=1e-12)
            if isinstance(have, (int, float)) and not isinstance(have, bool)
            else want == have
        )
        if key == "shape":
            same = _shape_list(parse_shape(want) if isinstance(want, str) else want) == _shape_list(have)
        if not same:
            raise BiasflowError(
                f"--{key} {want} contradicts the trajectory {path} (flowed with {key} = {have}); "
                f"drop --{key} to use the trajectory's value"
            )
    if traj.loss and given.get("loss") is None:
        out["loss"] = traj.loss
    elif traj.loss and given.get("loss") != traj.loss:
        raise BiasflowError(
            f"--loss {given.get('loss')} contradicts the trajectory {path} (flowed with loss {traj.loss}); "
            "drop --loss"
        )
    return out


def _shape_list(v):
    if v is None:
        return None
    vals = [float(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    return [vals[0]] if len(set(vals)) == 1 else vals


def _check_trajectory_data(path: str, traj, ds) -> None:
    from ..data import fingerprint

    fp = fingerprint(ds)
    have = traj.data or {}
    if have.get("sha256") and have["sha256"] != fp["sha256"]:
        raise BiasflowError(
            f"the trajectory {path} was flowed on other data (sha256 {have['sha256'][:12]}…, shape "
            f"{have.get('shape')}) than --data (sha256 {fp['sha256'][:12]}…, shape {fp['shape']}); "
            "pass the data the flow used"
        )
    for c in traj.checkpoints:
        if np.asarray(c.predictor).shape != (ds.d,):
            raise BiasflowError(
                f"the trajectory {path} has predictors of length {np.asarray(c.predictor).size} but --data has "
                f"d = {ds.d} features; pass the data the flow used"
            )


@app.command()
@with_model_options(unset=True)
def predict(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set"),
    model: str = typer.Option(
        None, "--model", help=MODEL_HELP + " (default diagonal, or the --trajectory's model)"
    ),
    loss: str = typer.Option(None, "--loss", help="exp | logistic (classification, default exp) | square"),
    at_loss: str = typer.Option(
        None,
        "--at-loss",
        help="training loss level(s), e.g. 1e-100 or 1e-10,1e-100 (Q_mu max-margin); omit for the limit",
    ),
    lr: float = typer.Option(None, "--lr", help="GD step η: the interpolant GD converges to (diagonal-uv)"),
    steps: int = typer.Option(None, "--steps", help="GD steps for --lr (default 20000)"),
    least_squares: bool = typer.Option(False, "--least-squares", help="regression: fit y's projection"),
    trajectory: str = typer.Option(
        None,
        "--trajectory",
        help="a `biasflow flow --json` result: compare every checkpoint with the "
        "prediction at its own loss level",
    ),
    grid: str = typer.Option(None, "--grid", help="LO,HI,NUM: the predicted function on a 1-D grid (shallow)"),
    eval_file: str = typer.Option(None, "--eval", help="the predicted function at the points of a file (shallow)"),
    at_time: float = typer.Option(None, "--at-time",
                                  help="shallow: the smoothing-spline point at time T = width × flow time"),
    potential: str = typer.Option(None, "--potential",
                                  help="shallow: mirror-flow bias with φ = quadratic | cubic | quartic"),
    potential_scale: str = typer.Option("unscaled", "--potential-scale", help="unscaled | scaled (κ = width)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object"),
    **model_opts,
):
    """What theory predicts (Q_mu max-margin at a loss, the limit, the interpolant), with certificates."""
    from ..bias.compare import compare, compare_path
    from ..bias.predict import predict as run
    from ._matrix import matrix_task, predict_command, trajectory_model

    task = matrix_task(model or trajectory_model(trajectory), data)
    if task is not None:   # a matrix task (completion, sensing) for a model that takes one
        return predict_command(model, task, trajectory=trajectory, as_json=as_json)
    traj = None
    if trajectory is not None:
        traj = _read_trajectory(trajectory)
        opts = _resolve_with_trajectory(trajectory, traj, {"model": model, "loss": loss, **model_opts})
        model, loss = opts.pop("model"), opts.pop("loss")
        model_opts = {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
    model = "diagonal" if model is None else model
    model_opts = {k: v for k, v in model_opts.items() if v is not None}
    if loss is None:
        loss = "square" if lr is not None else None
    lossobj = parse_loss(loss) if loss is not None else None
    ds = load_data(data, lossobj, task=None if lossobj is not None else "classification")
    if lossobj is not None:
        check_loss_task(lossobj, ds)
    net = make_model(model, ds, **model_opts)
    if callable(getattr(net, "output_features", None)) and hasattr(net, "law"):
        return _predict_function(net, ds, grid, eval_file, at_time, potential, potential_scale,
                                 model_opts.get("seed", 0), as_json)
    if any(v is not None for v in (grid, eval_file, at_time, potential)):
        raise BiasflowError(f"--grid/--eval/--at-time/--potential are for models that learn functions "
                            f"(e.g. --model shallow), not {model!r}")
    if traj is not None:
        _check_trajectory_data(trajectory, traj, ds)
    levels = None
    if at_loss is not None:
        levels = [Level.parse(v) for v in at_loss.split(",") if v.strip()]
        if not levels:
            raise BiasflowError("--at-loss is empty; give e.g. --at-loss 1e-100")
    if levels is None or len(levels) == 1:
        preds = [
            run(
                net,
                ds,
                None if levels is None else levels[0],
                loss=loss,
                lr=lr,
                steps=steps,
                least_squares=least_squares,
            )
        ]
    else:
        preds = [_predict_or_undefined(run, net, ds, lv, loss) for lv in levels]
    out = (
        preds[0].to_json()
        if len(preds) == 1
        else {
            "status": "ok"
            if all(p.status == "ok" for p in preds)
            else next(p.status for p in preds if p.status != "ok"),
            "predictions": [p.to_json() for p in preds],
        }
    )
    if traj is not None:
        out["data"] = fingerprint(ds)
        if ds.task == "classification" and _diagonal(net) and traj.checkpoints:
            rows = compare_path(traj, net, ds, loss=loss or "exp")
        else:
            rows = compare(traj, preds[0])
        out["comparison"] = rows

    def human(r):
        items = r.get("predictions", [r])
        for it in items:
            stderr.print(f"status: {it['status']}  ({it['message']})")
            lv = f" at loss {format_level(it['log10_loss'])}" if "log10_loss" in it else ""
            extra = f"  γ = {it['gamma']:.6g}" if "gamma" in it else ""
            extra += f"  μ = {it['mu']:.4g}" if "mu" in it else ""
            print(f"{it['kind']}{lv}{extra}")
            cert = {
                k: v
                for k, v in it["certificate"].items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            print("  " + "  ".join(f"{k} {v:.3g}" for k, v in cert.items()))
            print(f"  β̃ = [{_head(it['predictor'])}]")
        for row in r.get("comparison", []):
            keys = [
                k
                for k in (
                    "gap_l1",
                    "gap_l2",
                    "gap_l2D",
                    "kkt_l2D",
                    "rho_nsv",
                    "dist_pred",
                    "dist_qmu",
                    "residual",
                    "l1_ratio",
                    "dist_l2",
                    *KIND_COLUMNS.get(r.get("kind"), ()),
                )
                if isinstance(row.get(k), (int, float)) and not isinstance(row[k], bool)
                and not math.isnan(row[k])
            ]
            print(
                f"loss {format_level(row['log10_loss']):>10}  " + "  ".join(f"{k} {row[k]:.3e}" for k in keys)
            )

    emit(out, as_json, human)
    return 0 if out["status"] == "ok" else 3


def _predict_or_undefined(run, net, ds, level, loss):
    """One level of a multi-level prediction: a level where the prediction does not exist (not below
    ℓ(0)/n) is reported as its own row with status invalid_input and the reason, not as a fatal error."""
    from ..bias.prediction import Prediction
    from ..errors import Status, UndefinedAtLevel

    try:
        return run(net, ds, level, loss=loss)
    except UndefinedAtLevel as e:
        return Prediction(kind="q_mu", task=ds.task, predictor=np.zeros(ds.d), status=Status.INVALID_INPUT,
                          message=str(e), log10_loss=level.log10, depth=int(net.degree),
                          model=net.config(), data=ds)


def _diagonal(net) -> bool:
    from ..models.base import has_dual

    return has_dual(net)


def _predict_function(net, ds, grid, eval_file, at_time, potential, scale, seed, as_json):
    """``predict`` for a wide shallow network: the infinite-width function (or the mirror-flow bias)."""
    import math

    from ..bias.splines import predict_for_model
    from ..grids import eval_points

    if ds.task != "regression":
        raise BiasflowError("the shallow network's bias is for regression data; pass --loss square")
    if at_time is not None and not (math.isfinite(at_time) and at_time > 0):
        raise BiasflowError(f"--at-time must be a positive finite time (got {at_time})")
    pts = eval_points(grid, eval_file, ds.d)
    res = predict_for_model(net, ds, pts, time=math.inf if at_time is None else float(at_time),
                            potential=potential, scale=scale, seed=seed)

    def human(r):
        stderr.print(f"status: {r['status']}")
        f = r["function"]["f"]
        print(f"predicted function on {len(f)} points; range [{min(f):.4g}, {max(f):.4g}]")

    emit(res, as_json, human)
    return 0 if res["status"] == "ok" else 3
