"""The ``flow``, ``descent`` and ``predict`` commands for models trained on matrix tasks (``--model matrix``).

A model family whose factory carries a ``task_from(spec)`` capability reads ``--data`` as a matrix task
(completion: an ``.npz`` with ``mask`` and ``values``; sensing: ``A`` and ``b``; built-ins ``menon-2x2``,
``menon-3x3``, ``lowrank:m=30,rank=3,fraction=0.35,seed=1``; any regression data set as the 1-column case)
and trains on the square loss. Its ``--json`` predictor is the end-to-end matrix W as a list of rows, and
every checkpoint carries the geometry fields (log_volume, entropy, effective_rank, nuclear_norm,
singular_values) and the balancedness drift.
"""

from __future__ import annotations

from ..errors import BiasflowError
from ..levels import format_level
from ._common import emit, stderr


def matrix_task(model_name: str | None, data: str):
    """``--data`` as a matrix task when model ``model_name``'s factory has the ``task_from`` capability and
    the data name one (completion, sensing); otherwise None (the generic paths take the data)."""
    from ..models import MODELS

    entry = MODELS.get(model_name) if model_name is not None else None
    if entry is None:
        return None
    loader = getattr(entry.load(), "task_from", None)
    return loader(data) if loader is not None else None


def trajectory_model(path) -> str | None:
    """The model name recorded in a ``--json`` result file, or None (unreadable files are left to the caller)."""
    import json
    from pathlib import Path

    if path is None:
        return None
    try:
        run = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    model = run.get("model") if isinstance(run, dict) else None
    return model.get("model") if isinstance(model, dict) else None


def _square(loss) -> None:
    if loss not in (None, "square"):
        raise BiasflowError(f"--model matrix trains on the square loss; drop --loss {loss} or use --loss square")


def build(model_name: str, task, model_opts: dict):
    """The model for ``task``: its matrix shape from the data, the other options from the command line."""
    from ..models import build_model

    opts = {k: v for k, v in model_opts.items() if v is not None}
    if isinstance(opts.get("shape"), str) or opts.get("shape") is not None:
        raise BiasflowError("the matrix model takes no --shape; its initialization is --init KIND:eps=ε")
    opts.pop("shape", None)
    m, k = task.shape
    return build_model(model_name, m * k, rows=m, cols=k, **opts)


def _rows(W) -> str:
    import numpy as np

    W = np.asarray(W)
    if W.size > 12:
        return f"{W.shape[0]}×{W.shape[1]} matrix"
    return "[" + "; ".join(", ".join(f"{v:.4g}" for v in row) for row in W) + "]"


def flow_command(model_name, task, *, loss, until, checkpoints, method, as_json, model_opts,
                 max_steps: int = 200_000) -> int:
    from ..dynamics.matrix import matrix_flow, trajectory_json

    _square(loss)
    net = build(model_name, task, model_opts)
    path = "riemannian" if method == "riemannian" else "factors"
    if method not in ("auto", "autodiff", "factors", "riemannian"):
        raise BiasflowError(f"--method {method}: for --model matrix use auto (factors) or riemannian")
    traj = matrix_flow(net, task, until=until, checkpoints=checkpoints, path=path, max_steps=max_steps)

    def human(res):
        stderr.print(f"status: {res['status']}  ({res['message']})")
        for c in res["checkpoints"]:
            print(f"loss {format_level(c['log10_loss']):>10}  log10 t {c['log10_time']:9.3f}  "
                  f"eff. rank {c['effective_rank']:.3f}  log vol {c['log_volume']:.4g}  W = {_rows(c['predictor'])}")

    emit(trajectory_json(traj), as_json, human)
    return 0 if traj.status == "ok" else 3


def descent_command(model_name, task, *, loss, lr, steps, as_json, model_opts, schedule=None,
                    batch_size=None, sharpness_every=0) -> int:
    from ..dynamics.matrix import descent_json, matrix_descent

    _square(loss)
    if schedule or batch_size or sharpness_every:
        raise BiasflowError("--model matrix runs full-batch gradient descent at a constant rate; drop "
                            "--schedule/--batch-size/--sharpness-every")
    net = build(model_name, task, model_opts)
    res = matrix_descent(net, task, lr=lr, steps=steps)

    def human(r):
        stderr.print(f"status: {r['status']}  {r['message']}")
        ls = r["loss"]
        print(f"steps {r['steps']}  loss {ls[0]:.6g} → {ls[-1]:.6g}  W = {_rows(r['predictor'])}")

    emit(descent_json(res), as_json, human)
    return 0 if res.status == "ok" else 3


def predict_command(model_name, task, *, trajectory, as_json) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from ..bias.matrix import distances, predict_matrix

    preds = predict_matrix(task)
    out = {"task": task.config(), "predictions": [p.to_json() for p in preds]}
    if trajectory:
        try:
            run = json.loads(Path(trajectory).read_text())
        except (OSError, ValueError) as e:
            raise BiasflowError(
                f"cannot read --trajectory {trajectory!r} as a flow/descent --json result ({e})") from None
        cps = run.get("checkpoints") or [run]
        rows = []
        for c in cps:
            W = np.asarray(c.get("predictor"), dtype=float)
            if W.shape != task.shape:
                raise BiasflowError(f"--trajectory: a predictor has shape {W.shape} but the task is {task.shape}")
            d = distances(W, preds)
            low = {k: v for k, v in d.items() if k.startswith("rank_")}
            nearest = min(low, key=low.get) if low else None
            rows.append({"log10_loss": c.get("log10_loss"), "step": c.get("step"),
                         "dist_nuclear": d.get("min_nuclear"), "dist_frobenius": d.get("min_frobenius"),
                         "dist_low_rank": low[nearest] if nearest else None, "nearest_low_rank": nearest})
        out["comparison"] = rows

    def human(r):
        for p in r["predictions"]:
            gap = f", gap {p['gap']:.1e}" if p["name"] == "min_nuclear" else ""
            print(f"{p['name']:>14}: norm {p['value']:.6g}, rank {p['rank']}{gap}  W = {_rows(p['W'])}")
        for row in r.get("comparison", []):
            d = ", ".join(f"{k[5:]} {v:.3g}" for k, v in row.items() if k.startswith("dist_") and v is not None)
            print(f"checkpoint {row['log10_loss']}: distance to {d}")

    emit(out, as_json, human)
    return 0
