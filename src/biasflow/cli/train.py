"""``biasflow flow`` and ``biasflow descent``: train a linear network and report where it went."""

from __future__ import annotations

import sys

import typer

from ..levels import format_level, parse_level, parse_levels
from . import app
from ._common import check_loss_task, emit, load_data, make_model, parse_loss, parse_shape, progress, stderr

MODEL_HELP = "diagonal | diagonal-untied | diagonal-uv | dense | conv | tensor | uv"


@app.command()
def flow(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set (e.g. sparse)"),
    model: str = typer.Option("diagonal", "--model", help=MODEL_HELP),
    depth: int = typer.Option(None, "--depth", help="depth D (diagonal) or number of layers L"),
    width: int = typer.Option(None, "--width", help="hidden width (dense, uv)"),
    alpha: float = typer.Option(1.0, "--alpha", help="initialization scale α > 0"),
    shape: str = typer.Option(None, "--shape", help="initialization shape (number or per-coordinate list)"),
    loss: str = typer.Option("exp", "--loss", help="exp | logistic | square"),
    until_loss: str = typer.Option("1e-10", "--until-loss", help="target training loss, e.g. 1e-10000"),
    checkpoints: str = typer.Option(None, "--checkpoints", help="comma-separated loss levels"),
    method: str = typer.Option("auto", "--method", help="auto | exact | autodiff"),
    seed: int = typer.Option(0, "--seed", help="random seed for random initializations"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object"),
):
    """Gradient flow, solved as an ODE on a loss clock, to any training loss (1e-10000 and beyond)."""
    from ..dynamics.flow import flow as run_flow

    lossobj = parse_loss(loss)
    target = parse_level(until_loss)
    levels = parse_levels(checkpoints) if checkpoints else None
    ds = load_data(data, lossobj)
    check_loss_task(lossobj, ds)
    net = make_model(model, ds, depth=depth, width=width, alpha=alpha, shape=parse_shape(shape), seed=seed)
    with progress(f"flow to 1e{target:.4g}", total=-target) as advance:
        traj = run_flow(net, ds, lossobj, until=target, checkpoints=levels, method=method, seed=seed,
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


@app.command()
def descent(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set"),
    model: str = typer.Option("diagonal", "--model", help=MODEL_HELP),
    depth: int = typer.Option(None, "--depth"),
    width: int = typer.Option(None, "--width"),
    alpha: float = typer.Option(1.0, "--alpha"),
    shape: str = typer.Option(None, "--shape"),
    loss: str = typer.Option("exp", "--loss", help="exp | logistic | square"),
    lr: float = typer.Option(..., "--lr", help="learning rate η > 0 (peak rate for schedules)"),
    steps: int = typer.Option(..., "--steps", help="number of steps K ≥ 1"),
    schedule: str = typer.Option(None, "--schedule", help="learning-rate schedule name (default constant)"),
    batch_size: int = typer.Option(None, "--batch-size", help="mini-batch size for SGD (default: full batch)"),
    sharpness_every: int = typer.Option(0, "--sharpness-every", help="track the top Hessian eigenvalue every M steps"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Gradient descent (or SGD) with a fixed learning rate or a schedule, as a compiled loop."""
    from ..dynamics.descent import descent as run_descent

    lossobj = parse_loss(loss)
    ds = load_data(data, lossobj)
    check_loss_task(lossobj, ds)
    net = make_model(model, ds, depth=depth, width=width, alpha=alpha, shape=parse_shape(shape), seed=seed)
    res = run_descent(net, ds, lossobj, lr=lr, steps=steps, schedule=schedule, batch_size=batch_size,
                      sharpness_every=sharpness_every, seed=seed)

    def human(r):
        stderr.print(f"status: {r['status']}  {r['message']}")
        ls = r["loss"]
        print(f"steps {r['steps']}  loss {ls[0]:.6g} → {ls[-1]:.6g}")
        if r["sharpness"]:
            print(f"sharpness {r['sharpness'][0]:.6g} → {r['sharpness'][-1]:.6g}  (2/η = {2 / lr:.6g})")

    emit(res.to_json(), as_json, human)
    return 0 if res.status == "ok" else 3
