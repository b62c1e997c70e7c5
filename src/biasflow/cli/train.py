"""``biasflow flow`` and ``biasflow descent``: train a linear network and report where it went."""

from __future__ import annotations

import sys

import numpy as np
import typer

from ..errors import BiasflowError
from ..levels import Level, format_level, parse_levels
from . import app
from ._common import (
    check_loss_task,
    check_steps,
    emit,
    load_data,
    make_model,
    model_help,
    parse_loss,
    progress,
    stderr,
    with_model_options,
)

MODEL_HELP = model_help()
SCHEDULE_HELP = (
    "learning-rate schedule, NAME or NAME:key=value,... (a multiplier of --lr): constant, step, nstep, exp, "
    "inv, poly, cosine, tri, sin, cos, tri2, sin2, triexp, sinexp, warmup, loss, normalized; "
    "e.g. cosine:l=1000,final=0.01 or step:gamma=0.5,l=100,warmup=10 (default constant)"
)


@app.command()
@with_model_options
def flow(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set (e.g. sparse)"),
    model: str = typer.Option("diagonal", "--model", help=MODEL_HELP),
    loss: str = typer.Option(None, "--loss", help="exp | logistic | square (default exp; square for matrix)"),
    until_loss: str = typer.Option(
        "1e-10", "--until-loss", help="target mean training loss, e.g. 1e-10000"
    ),
    checkpoints: str = typer.Option(
        None, "--checkpoints", help="comma-separated loss levels, e.g. 1e-2,1e-10 (default: 1e-1, 1e-2, 1e-5, "
        "1e-10, ... down to --until-loss)"
    ),
    method: str = typer.Option("auto", "--method", help="auto | exact | autodiff (default auto: exact when the "
                               "model has an exact dual flow; matrix tasks: auto | riemannian)"),
    max_steps: int = typer.Option(
        200_000, "--max-steps", help="ODE solver budget, in right-hand-side evaluations per clock phase"
    ),
    grid: str = typer.Option(None, "--grid", help="LO,HI,NUM: record the learned function on a 1-D grid"),
    eval_file: str = typer.Option(None, "--eval", help="record the learned function at the points of a file"),
    potential: str = typer.Option(None, "--potential",
                                  help="mirror flow with φ = quadratic | cubic | quartic per parameter"),
    potential_scale: str = typer.Option("unscaled", "--potential-scale", help="unscaled | scaled (κ = width)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object on stdout"),
    **model_opts,
):
    """Gradient flow, solved as an ODE on a loss clock, to any training loss (1e-10000 and beyond)."""
    from ..dynamics.flow import flow as run_flow
    from ..models import is_linear
    from ._matrix import flow_command, matrix_task

    target = Level.parse(until_loss).log10
    levels = [Level.from_log10(v) for v in parse_levels(checkpoints)] if checkpoints else None
    task = matrix_task(model, data)
    if task is not None:   # a matrix task (completion, sensing) for a model that takes one
        return flow_command(model, task, loss=loss, until=Level.from_log10(target), checkpoints=levels,
                            method=method, as_json=as_json, model_opts=model_opts, max_steps=max_steps)
    lossobj = parse_loss(loss or "exp")
    ds = load_data(data, lossobj)
    check_loss_task(lossobj, ds)
    net = make_model(model, ds, **model_opts)
    seed = model_opts.get("seed", 0)
    if not is_linear(net) or potential is not None or grid is not None or eval_file is not None:
        return _function_flow(net, ds, lossobj, target, levels, grid, eval_file, potential, potential_scale, seed,
                              as_json)
    with progress(f"flow to {format_level(target)}", total=-target) as advance:
        traj = run_flow(net, ds, lossobj, until=Level.from_log10(target), checkpoints=levels, method=method,
                        seed=seed, max_steps=max_steps,
                        callback=lambda lg: advance(completed=-lg, info=f"loss {format_level(lg)}"))

    if traj.status != "ok":  # one line on stderr in every output mode
        print(f"biasflow flow: {traj.status}: {traj.message}", file=sys.stderr, flush=True)

    def human(res):
        if res["status"] == "ok":
            stderr.print(f"status: ok  ({res['message']})" if res["message"] else "status: ok")
        rows = [("loss", c) for c in res["checkpoints"]]
        if res["status"] != "ok" and res.get("last") and res["last"] not in res["checkpoints"]:
            rows.append(("last", res["last"]))  # where the run stopped (e.g. just above a loss floor)
        for what, c in rows:
            b = c["predictor"]
            head = ", ".join(f"{v:.4g}" for v in b[:6]) + (", …" if len(b) > 6 else "")
            print(f"{what} {format_level(c['log10_loss']):>10}  log10 t {c['log10_time']:9.3f}  β = [{head}]")

    emit(traj.to_json(), as_json, human)
    return 0 if traj.status in ("ok",) else 3


def _function_flow(net, ds, lossobj, target, levels, grid, eval_file, potential, scale, seed, as_json):
    """``flow`` of a model whose result is a function (or with a mirror potential): exact when the model is
    linear in its trained parameters."""
    from ..dynamics.mirror_descent import function_flow
    from ..grids import eval_points
    from ..levels import format_level as fmt

    if lossobj.name != "square":
        raise BiasflowError("this flow uses the square loss; pass --loss square (regression data)")
    pts = eval_points(grid, eval_file, ds.d)
    res = function_flow(net, ds, until_loss=Level.from_log10(target), checkpoints=levels, grid=pts,
                        potential=potential or "quadratic", scale=scale, seed=seed)
    out = res.to_json()
    if pts is not None and hasattr(net, "law") and potential in (None, "quadratic"):
        # distance of every checkpoint to the infinite-width prediction from the same initial function
        try:
            from ..bias.splines import predict_for_model

            pred = np.asarray(predict_for_model(net, ds, pts, seed=seed)["function"]["f"])
            for c in out["checkpoints"]:
                c["sup_to_prediction"] = float(np.max(np.abs(np.asarray(c["function"]["f"]) - pred)))
        except BiasflowError as e:            # no closed-form kernel for this law and dimension
            out["reasons"] = {"sup_to_prediction": str(e)}

    def human(r):
        stderr.print(f"status: {r['status']}  ({r['message']})")
        for c in r["checkpoints"]:
            extra = f"  sup|f − f_∞| {c['sup_to_prediction']:.3g}" if "sup_to_prediction" in c else ""
            print(f"loss {fmt(c['log10_loss']):>10}  t {c['time']:.6g}{extra}")

    emit(out, as_json, human)
    return 0 if res.status == "ok" else 3


def _recorded_functions(net, ds, lossobj, lr, steps, schedule, batch_size, seed, every, pts, values):
    """The function every M steps: the same run continued in blocks of M steps (schedules restart per block,
    so only a constant rate is allowed)."""
    from ..dynamics.descent import descent as run_descent
    from ..grids import function_json

    if schedule is not None:
        raise BiasflowError("--record-every needs a constant learning rate; drop --schedule")
    import jax

    params = net.init(jax.random.fold_in(jax.random.PRNGKey(int(seed)), 0))
    out = [{"step": 0, **function_json(pts, values(params))}]
    done = 0
    while done < steps:
        m = min(every, steps - done)
        r = run_descent(net, ds, lossobj, lr=lr, steps=m, batch_size=batch_size, seed=seed + done, params0=params)
        params, done = r.params, done + m
        out.append({"step": done, **function_json(pts, values(params))})
        if r.status != "ok":
            break
    return out


@app.command()
@with_model_options
def descent(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set (e.g. sparse)"),
    model: str = typer.Option("diagonal", "--model", help=MODEL_HELP),
    loss: str = typer.Option(None, "--loss", help="exp | logistic | square (default exp; square for matrix)"),
    lr: float = typer.Option(..., "--lr", help="learning rate η > 0, per step (the peak rate for schedules)"),
    steps: int = typer.Option(..., "--steps", help="number of steps K ≥ 1"),
    schedule: str = typer.Option(None, "--schedule", help=SCHEDULE_HELP),
    batch_size: int = typer.Option(
        None, "--batch-size", help="mini-batch size in examples, for SGD (default: full batch)"
    ),
    sharpness_every: int = typer.Option(
        0, "--sharpness-every", help="track the top Hessian eigenvalue every M steps (0: never)"
    ),
    grid: str = typer.Option(None, "--grid", help="LO,HI,NUM: report the learned function on a 1-D grid"),
    eval_file: str = typer.Option(None, "--eval", help="report the learned function at the points of a file"),
    record_every: int = typer.Option(0, "--record-every", help="with --grid/--eval: the function every M steps"),
    potential: str = typer.Option(None, "--potential",
                                  help="mirror descent with φ = quadratic | cubic | quartic per parameter"),
    potential_scale: str = typer.Option("unscaled", "--potential-scale", help="unscaled | scaled (κ = width)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object on stdout"),
    **model_opts,
):
    """Gradient descent (or SGD) with a fixed learning rate or a schedule, as a compiled loop."""
    from ..dynamics.descent import descent as run_descent
    from ._matrix import descent_command, matrix_task

    check_steps(steps)
    task = matrix_task(model, data)
    if task is not None:   # a matrix task (completion, sensing) for a model that takes one
        return descent_command(model, task, loss=loss, lr=lr, steps=steps, as_json=as_json, model_opts=model_opts,
                               schedule=schedule, batch_size=batch_size, sharpness_every=sharpness_every)
    lossobj = parse_loss(loss or "exp")
    ds = load_data(data, lossobj)
    check_loss_task(lossobj, ds)
    net = make_model(model, ds, **model_opts)
    from ..grids import eval_points, function_json

    pts = eval_points(grid, eval_file, ds.d)
    if record_every < 0:
        raise BiasflowError(f"--record-every must be ≥ 0 (got {record_every})")
    if potential is not None:
        from ..dynamics.mirror_descent import mirror_descent

        if lossobj.name != "square":
            raise BiasflowError("mirror descent uses the square loss; pass --loss square (regression data)")
        if schedule is not None or sharpness_every:
            raise BiasflowError("--potential takes no --schedule or --sharpness-every")
        md = mirror_descent(net, ds, potential, potential_scale, lr=lr, steps=steps, batch_size=batch_size,
                            seed=model_opts.get("seed", 0), record_every=record_every, grid=pts)
        out = md.to_json()
        if pts is not None:
            out["function"] = {k: v for k, v in md.functions[-1].items() if k in ("x", "f")}

        def human_md(r):
            stderr.print(f"status: {r['status']}  {r['message']}")

        emit(out, as_json, human_md)
        return 0 if md.status == "ok" else 3
    res = run_descent(net, ds, lossobj, lr=lr, steps=steps, schedule=schedule, batch_size=batch_size,
                      sharpness_every=sharpness_every, seed=model_opts.get("seed", 0))
    def human(r):
        stderr.print(f"status: {r['status']}  {r['message']}")
        ls = r["loss"]
        print(f"steps {r['steps']}  loss {ls[0]:.6g} → {ls[-1]:.6g}")
        if r["sharpness"]:
            print(f"sharpness {r['sharpness'][0]:.6g} → {r['sharpness'][-1]:.6g}  (2/η = {2 / lr:.6g})")

    from ..bias.compare import measure_model
    from ..data import fingerprint

    out = res.to_json() | {"data": fingerprint(ds)}
    if res.checkpoints:  # recorded predictors, measured through the metrics registry
        out["records"] = measure_model(res, net, ds)
    if pts is not None:
        import jax

        def values(params):
            ev = getattr(net, "evaluate", None)
            return ev(params, pts) if callable(ev) else jax.device_get(net.apply(params, pts))

        out["function"] = function_json(pts, values(res.params))
        if record_every:
            out["functions"] = _recorded_functions(net, ds, lossobj, lr, steps, schedule, batch_size,
                                                   model_opts.get("seed", 0), record_every, pts, values)

    emit(out, as_json, human)
    return 0 if res.status == "ok" else 3
