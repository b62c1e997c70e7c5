"""memory_bytes(n) against the measured peak memory of real runs (every registered model).

Each case runs in a fresh subprocess: it imports biasflow, trains a tiny instance of the model once (so the
interpreter, JAX and the solver code are loaded and compiled), records the peak resident memory
(``ru_maxrss``) as the baseline, then builds the model at the given size and trains it (gradient flow to
the loss value 0.5; gradient descent for models without a predictor). The peak above the baseline must be
within a factor 2 of ``memory_bytes(n)``, at sizes where the model's own memory (≥ 20 MB above the warmed
process; ``ru_maxrss`` resolves 1 kB) dominates what is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import biasflow
from biasflow.errors import BiasflowError
from biasflow.models import MODELS, build_model
from biasflow.models.memory import check_memory, machine_memory

PROBE = r"""
import json, resource, sys
import numpy as np
import jax
jax.config.update("jax_enable_x64", True)
import biasflow as bf
from biasflow.data import make_dataset
from biasflow.models import build_model, is_linear

name, d, n, opts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
rng = np.random.default_rng(0)

def data(n, d):
    X = rng.standard_normal((n, d))
    y = np.where(X[:, 0] + 0.1 >= 0, 1.0, -1.0)
    return make_dataset(X, y)

def run(model, ds):
    if is_linear(model):
        return bf.flow(model, ds, "exp", until="0.5")
    return bf.descent(model, ds, "exp", lr=0.01, steps=3)

small = {k: (2 if k == "width" else v) for k, v in opts.items()}
run(build_model(name, 4, **small), data(3, 4))
ds = data(n, d)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
model = build_model(name, d, **opts)
run(model, ds)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
print(json.dumps({"estimate": model.memory_bytes(n), "peak": peak}))
"""

# (model, d, n, options): two sizes per model, large enough that the model dominates the process baseline.
CASES = {
    "dense": [(100, 10, {"width": 3000, "depth": 2}), (100, 10, {"width": 1000, "depth": 3})],
    "uv": [(100, 10, {"width": 3000}), (100, 10, {"width": 10000})],
    "twolayer": [(100, 10, {"width": 3000}), (100, 10, {"width": 10000})],
    "relu": [(100, 10, {"width": 10000}), (100, 10, {"width": 30000})],
    "tensor": [(100, 10, {"width": 3000, "depth": 2}), (100, 10, {"width": 10000, "depth": 2})],
    "conv": [(8192, 10, {"depth": 2}), (16384, 10, {"depth": 2})],
    "diagonal": [(50000, 200, {"depth": 2}), (20000, 1000, {"depth": 2}), (20000, 200, {"depth": 3})],
    "diagonal-untied": [(50000, 200, {})],
    "diagonal-uv": [(50000, 200, {})],
    "batchnorm": [(20000, 10, {}), (50000, 10, {})],
    "gcnn": [(512, 100, {}), (1024, 100, {})],
    "matrix": [(500, 100, {}), (300, 100, {"depth": 3})],
    "shallow": [(10, 2000, {"width": 2000}), (10, 2000, {"width": 5000})],
}


def _measure(name: str, d: int, n: int, opts: dict) -> dict:
    src = str(Path(biasflow.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", PROBE, name, str(d), str(n), json.dumps(opts)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_registered_model_has_memory_cases():
    assert set(MODELS) <= set(CASES), f"add sizes to CASES for {sorted(set(MODELS) - set(CASES))}"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "d", "n", "opts"),
                         [(m, *c) for m, cs in CASES.items() for c in cs],
                         ids=[f"{m}-{i}" for m, cs in CASES.items() for i in range(len(cs))])
def test_memory_estimate_within_factor_two_of_measured_peak(name, d, n, opts):
    r = _measure(name, d, n, opts)
    assert r["peak"] > 20e6, f"the run is too small to measure against the process baseline: {r}"
    ratio = r["estimate"] / r["peak"]
    assert 0.5 <= ratio <= 2.0, f"{name} d={d} n={n} {opts}: estimate/peak = {ratio:.2f} ({r})"


def test_oversize_refusal_is_one_line_with_estimate_machine_memory_and_remedy(monkeypatch):
    monkeypatch.setenv("BIASFLOW_MEMORY_BUDGET", "1e8")
    with pytest.raises(BiasflowError) as e:
        build_model("dense", 100, width=10000)
    msg = str(e.value)
    assert "\n" not in msg
    assert "needs an estimated" in msg and "over the budget of 95.4 MiB" in msg
    assert "machine memory" in msg and "reduce --width" in msg


def test_default_budget_is_three_quarters_of_machine_memory(monkeypatch):
    monkeypatch.delenv("BIASFLOW_MEMORY_BUDGET", raising=False)
    check_memory(machine_memory() * 0.74, "x", "y")
    with pytest.raises(BiasflowError, match="over the budget"):
        check_memory(machine_memory() * 0.76, "x", "y")


def test_cli_refuses_oversize_before_allocating(cli, tmp_path, monkeypatch):
    """flow / descent / lr-phases / interpolate: one stderr line (estimate, budget, machine memory, remedy)."""
    from biasflow.data import gaussian, save

    save(gaussian(n=10, d=30, k=1, seed=0), tmp_path / "d.npz")
    monkeypatch.setenv("BIASFLOW_MEMORY_BUDGET", "1e6")
    for args in (("flow", "--model", "dense", "--width", "100000"),
                 ("descent", "--model", "uv", "--width", "100000", "--lr", "0.1", "--steps", "2"),
                 ("lr-phases", "--model", "twolayer", "--width", "100000", "--loss", "exp",
                  "--num", "2", "--steps", "2")):
        code, out, err = cli(*args[:1], "--data", tmp_path / "d.npz", *args[1:])
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code != 0 and out == "" and len(lines) == 1 and "Traceback" not in err, (args, err)
        assert "needs an estimated" in err and "machine memory" in err and "reduce --width" in err, err
