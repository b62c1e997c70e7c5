"""``biasflow flow`` and ``biasflow descent``: train a linear network and report where it went."""

from __future__ import annotations

import typer

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
    loss: str = typer.Option("exp", "--loss", help="exp | logistic | square"),
    until_loss: str = typer.Option(
        "1e-10", "--until-loss", help="target mean training loss, e.g. 1e-10000"
    ),
    checkpoints: str = typer.Option(
        None, "--checkpoints", help="comma-separated loss levels, e.g. 1e-2,1e-10 (default: 1e-1, 1e-2, 1e-5, "
        "1e-10, ... down to --until-loss)"
    ),
    method: str = typer.Option("auto", "--method", help="auto | exact | autodiff (default auto: exact when the "
                               "model has an exact dual flow)"),
    max_steps: int = typer.Option(
        200_000, "--max-steps", help="ODE solver budget, in right-hand-side evaluations per clock phase"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object on stdout"),
    **model_opts,
):
    """Gradient flow, solved as an ODE on a loss clock, to any training loss (1e-10000 and beyond)."""
    from ..dynamics.flow import flow as run_flow

    lossobj = parse_loss(loss)
    target = Level.parse(until_loss).log10
    levels = [Level.from_log10(v) for v in parse_levels(checkpoints)] if checkpoints else None
    ds = load_data(data, lossobj)
    check_loss_task(lossobj, ds)
    net = make_model(model, ds, **model_opts)
    seed = model_opts.get("seed", 0)
    with progress(f"flow to {format_level(target)}", total=-target) as advance:
        traj = run_flow(net, ds, lossobj, until=Level.from_log10(target), checkpoints=levels, method=method,
                        seed=seed, max_steps=max_steps,
                        callback=lambda lg: advance(completed=-lg, info=f"loss {format_level(lg)}"))

    def human(res):
        stderr.print(f"status: {res['status']}  ({res['message']})" if res["message"] else f"status: {res['status']}")
        for c in res["checkpoints"]:
            b = c["predictor"]
            head = ", ".join(f"{v:.4g}" for v in b[:6]) + (", …" if len(b) > 6 else "")
            print(f"loss {format_level(c['log10_loss']):>10}  log10 t {c['log10_time']:9.3f}  β = [{head}]")

    emit(traj.to_json(), as_json, human)
    return 0 if traj.status in ("ok",) else 3


@app.command()
@with_model_options
def descent(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set (e.g. sparse)"),
    model: str = typer.Option("diagonal", "--model", help=MODEL_HELP),
    loss: str = typer.Option("exp", "--loss", help="exp | logistic | square"),
    lr: float = typer.Option(..., "--lr", help="learning rate η > 0, per step (the peak rate for schedules)"),
    steps: int = typer.Option(..., "--steps", help="number of steps K ≥ 1"),
    schedule: str = typer.Option(None, "--schedule", help=SCHEDULE_HELP),
    batch_size: int = typer.Option(
        None, "--batch-size", help="mini-batch size in examples, for SGD (default: full batch)"
    ),
    sharpness_every: int = typer.Option(
        0, "--sharpness-every", help="track the top Hessian eigenvalue every M steps (0: never)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object on stdout"),
    **model_opts,
):
    """Gradient descent (or SGD) with a fixed learning rate or a schedule, as a compiled loop."""
    from ..dynamics.descent import descent as run_descent

    check_steps(steps)

    lossobj = parse_loss(loss)
    ds = load_data(data, lossobj)
    check_loss_task(lossobj, ds)
    net = make_model(model, ds, **model_opts)
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
    emit(out, as_json, human)
    return 0 if res.status == "ok" else 3
