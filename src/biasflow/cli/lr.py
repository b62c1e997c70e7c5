"""``biasflow lr-phases``: map the learning-rate phases (lazy / catapult / divergent) of any network."""

from __future__ import annotations

import math

import numpy as np
import typer

from ..errors import BiasflowError
from . import app
from ._common import (
    check_loss_task,
    check_steps,
    emit,
    load_data,
    make_model,
    parse_loss,
    parse_shape,
    progress,
    stderr,
)

MODEL_HELP = "uv | diagonal | diagonal-untied | diagonal-uv | dense | conv | tensor | relu"


@app.command("lr-phases")
def lr_phases(
    data: str = typer.Option(..., "--data", help="a .npz/.csv/.parquet file or a built-in set (e.g. digits)"),
    model: str = typer.Option("uv", "--model", help=MODEL_HELP),
    depth: int = typer.Option(None, "--depth", help="depth D (diagonal) or number of layers L"),
    width: int = typer.Option(None, "--width", help="hidden width (uv, dense, relu)"),
    alpha: float = typer.Option(1.0, "--alpha", help="initialization scale α > 0"),
    shape: str = typer.Option(None, "--shape", help="initialization shape (diagonal models)"),
    loss: str = typer.Option("square", "--loss", help="square | logistic | exp"),
    eta_min: float = typer.Option(0.25, "--eta-min", help="smallest η in units of 2/λ0"),
    eta_max: float = typer.Option(8.0, "--eta-max", help="largest η in units of 2/λ0"),
    num: int = typer.Option(24, "--num", help="number of learning rates (log grid)"),
    steps: int = typer.Option(1000, "--steps", help="GD steps per learning rate"),
    seed: int = typer.Option(0, "--seed", help="initialization seed (shared by all runs)"),
    batching: str = typer.Option("vmap", "--batching", help="vmap (one vectorized run; best on GPU) | map "
                                 "(rates one after another in one compiled program; often faster on CPU)"),
    out: str = typer.Option(None, "--out", help="write the figure here (DIR/lr_phases.svg and .png)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object"),
):
    """Sweep η over a log grid in units of 2/λ0 (λ0: top NTK eigenvalue at init), batched with vmap, and
    classify each run as lazy / catapult / unstable / divergent, with its peak loss and final sharpness."""
    from ..dynamics.phases import phase_map

    for name, v in (("--eta-min", eta_min), ("--eta-max", eta_max)):
        if not (math.isfinite(v) and v > 0):
            raise BiasflowError(f"{name} must be a positive number of 2/λ0 units (got {v!r})")
    if eta_max < eta_min:
        raise BiasflowError(f"--eta-max ({eta_max:g}) must be ≥ --eta-min ({eta_min:g})")
    if num < 1 or num > 4096:
        raise BiasflowError(f"--num must be between 1 and 4096 (got {num})")
    if steps < 1:
        raise BiasflowError(f"--steps must be an integer ≥ 1 (got {steps}); pass e.g. --steps 1000")
    check_steps(steps, num)
    if batching not in ("vmap", "map"):
        raise BiasflowError(f"--batching must be vmap or map (got {batching!r})")
    lossobj = parse_loss(loss)
    ds = load_data(data, lossobj)
    check_loss_task(lossobj, ds)
    net = make_model(model, ds, depth=depth, width=width, alpha=alpha, shape=parse_shape(shape), seed=seed)
    units = np.geomspace(eta_min, eta_max, num) if num > 1 else np.array([eta_min])
    with progress(f"lr-phases: {num} learning rates × {steps} steps", total=None) as _:
        pm = phase_map(net, ds, lossobj, units=units, steps=steps, seed=seed, batching=batching)
    res = pm.to_json()
    if out:
        from ..plots import plot_phase_maps

        label = f"{net.config().get('model', model)} on {ds.name}"
        files = plot_phase_maps([pm], f"{out}/lr_phases.svg", labels=[label], title=label)
        res["figures"] = [str(f) for f in files]

    def human(r):
        stderr.print(f"λ0 = {r['lambda0']:.6g} (NTK), S0 = {r['sharpness0']:.6g}; "
                     f"η unit 2/λ0 = {r['eta_unit']:.6g}")
        print(f"{'η·λ0/2':>9} {'η':>11} {'phase':>10} {'peak ℒ/ℒ0':>11} {'final ℒ':>11} {'S_final':>11} "
              f"{'2/η':>11}")
        for x in r["runs"]:
            print(f"{x['eta_units']:9.4g} {x['eta']:11.4g} {x['phase']:>10} {x['peak_loss_ratio']:11.4g} "
                  f"{x['final_loss']:11.4g} {x['final_sharpness']:11.4g} {x['two_over_eta']:11.4g}")
        for f in r.get("figures", []):
            stderr.print(f"figure: {f}")

    emit(res, as_json, human)
    return 0
