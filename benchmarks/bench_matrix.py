"""Benchmark of deep matrix factorization training, with baselines measured in the same run.

1. 400 runs of 2×2 completion (W₁₁ = W₂₂ = 1), depth 3, ε = 0.03, gradient descent to loss 1e-12 in ONE
   vmapped program (:func:`biasflow.dynamics.matrix.descent_ensemble`), against a loop of the same runs
   one at a time (the same code compiled for one run). Speed line: ≤ 10 s, ≥ 10× the loop.
   Also the same 400 runs as gradient FLOWS (vmapped adaptive Dopri8 with an event at the level) against
   SciPy's single-run flow (20 runs timed, scaled to 400).
2. 100×100 rank-5 completion, 30% observed, depth 3: ``matrix_descent`` for STEPS steps (default 10⁴;
   it also records the loss at every step and the geometry at 20 checkpoints) against a bare jitted
   ``fori_loop`` of the same gradient step. Speed line: ≤ 1.2× the bare loop.

Prints seconds (best of a few repeats after a warm-up) and ratios; exits 0. ``--steps N`` shortens part 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from biasflow.dynamics.matrix import descent_ensemble, flow_ensemble, matrix_descent, matrix_flow  # noqa: E402
from biasflow.matrix_data import low_rank_completion, menon_2x2  # noqa: E402
from biasflow.models.matrix import MatrixFactorization  # noqa: E402


def best_of(fn, repeats=3):
    out, best = None, math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def part1():
    print("== 400 runs of 2×2 completion, L = 3, ε = 0.03, GD to loss 1e-12 (speed line: ≤ 10 s, ≥ 10× a loop)")
    task = menon_2x2()
    model = MatrixFactorization(rows=2, depth=3, init_spec="gaussian:eps=0.03")
    lr = 0.05 * task.n
    t = time.perf_counter()
    ens = descent_ensemble(model, task, lr=lr, seeds=400, until="1e-12")
    first = time.perf_counter() - t
    ens, warm = best_of(lambda: descent_ensemble(model, task, lr=lr, seeds=400, until="1e-12"))
    print(f"batched: first call (with compilation) {first:.2f} s, warm {warm:.3f} s; "
          f"{sum(s == 'ok' for s in ens.status)}/400 reached 1e-12, max steps {int(ens.steps.max())}")
    descent_ensemble(model, task, lr=lr, seeds=[0], until="1e-12")   # compile the one-run program

    def loop():
        return [descent_ensemble(model, task, lr=lr, seeds=[s], until="1e-12") for s in range(400)]

    singles, tloop = best_of(loop, repeats=1)
    same = max(float(np.max(np.abs(r.W[0] - ens.W[i]))) for i, r in enumerate(singles))
    print(f"loop of single runs: {tloop:.3f} s; max |W_batched − W_single| = {same:.1e}")
    print(f"ratio loop/batched (warm): {tloop / warm:.1f}×; batched incl. compilation {first:.2f} s")


def part1_flow():
    print("== the same 400 runs as gradient flows to loss 1e-12 (vmapped diffrax Dopri8, rtol 1e-10)")
    task = menon_2x2()
    model = MatrixFactorization(rows=2, depth=3, init_spec="gaussian:eps=0.03")
    t = time.perf_counter()
    ens = flow_ensemble(model, task, seeds=400, until="1e-12")
    first = time.perf_counter() - t
    ens, warm = best_of(lambda: flow_ensemble(model, task, seeds=400, until="1e-12"))
    print(f"batched flows: first call (with compilation) {first:.2f} s, warm {warm:.3f} s; "
          f"{sum(s == 'ok' for s in ens.status)}/400 reached 1e-12, max solver steps {int(ens.steps.max())}")
    t = time.perf_counter()
    singles = [matrix_flow(model, task, until="1e-12", seed=s, checkpoints=["1e-12"]) for s in range(20)]
    per = (time.perf_counter() - t) / 20
    diff = max(float(np.max(np.abs(tr.final.predictor - ens.W[i]))) for i, tr in enumerate(singles))
    print(f"single SciPy flows: {per:.3f} s per run → {400 * per:.1f} s for 400; ratio {400 * per / warm:.0f}×; "
          f"max |W_batched − W_single| = {diff:.1e}")


def part2(steps: int):
    print(f"== 100×100 rank-5 completion, 30% observed, L = 3, GD {steps} steps (speed line: ≤ 1.2× a bare loop)")
    task = low_rank_completion(100, 100, 5, 0.3, seed=0, frobenius=math.sqrt(5))
    model = MatrixFactorization(rows=100, depth=3, init_spec="gaussian:eps=0.01")
    s1 = float(np.linalg.svd(task.truth, compute_uv=False)[0])
    lr = 0.3 / (3 * s1 ** (4 / 3)) * task.n
    p0 = model.init(0)
    mask, vals, n = jnp.asarray(task.mask, jnp.float64), jnp.asarray(task.values), float(task.n)

    def loss(ps):
        r = mask * (ps[2] @ ps[1] @ ps[0] - vals)
        return 0.5 * jnp.sum(r * r) / n

    grad = jax.grad(loss)

    @jax.jit
    def bare(ps):
        def body(_, q):
            g = grad(q)
            return tuple(a - lr * b for a, b in zip(q, g, strict=True))
        return jax.lax.fori_loop(0, steps, body, ps)

    jax.block_until_ready(bare(p0))
    pb, tb = best_of(lambda: jax.block_until_ready(bare(p0)), repeats=2)
    matrix_descent(model, task, lr=lr, steps=steps, params0=p0)   # warm-up (compilation)
    res, to = best_of(lambda: matrix_descent(model, task, lr=lr, steps=steps, params0=p0), repeats=2)
    Wb = np.asarray(pb[2] @ pb[1] @ pb[0])
    print(f"bare fori_loop: {tb:.3f} s; matrix_descent: {to:.3f} s (+ per-step log loss, 20 geometry checkpoints); "
          f"ratio {to / tb:.2f}×")
    diff = float(np.max(np.abs(res.predictor - Wb)))
    print(f"max |W − W_bare| = {diff:.1e}; final loss 1e{res.history['log10_loss'][-1]:.2f}; "
          f"test error {task.test_error(res.predictor):.3f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    args = ap.parse_args()
    part1()
    part1_flow()
    part2(args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
