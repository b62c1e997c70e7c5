"""Benchmarks of the group-equivariant and batch-normalized models.

1. Gradient flow of a three-layer linear G-CNN over the dihedral group of order 16 (D8) on 8 Gaussian
   signals with random labels, to the loss 1e-30 (target: ≤ 10 s). Baseline in the same run: the same flow of
   the circular convolutional net over C16 (same size, abelian).
2. Gradient descent on the BN linear model, n = 100, d = 1000, exp loss, K steps (K = 1e5, or the value of
   the first argument), through :func:`biasflow.dynamics.descent.descent` (which also records the per-step
   loss history) versus a bare jitted ``lax.fori_loop`` of the same update (target: ratio ≤ 1.2).

Prints seconds (best of 2, compiled/warm) and the ratios; exits 0.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

from biasflow.data import make_dataset  # noqa: E402
from biasflow.dynamics.descent import descent  # noqa: E402
from biasflow.dynamics.flow import flow  # noqa: E402
from biasflow.models.batchnorm import BatchNorm  # noqa: E402
from biasflow.models.conv import Conv  # noqa: E402
from biasflow.models.gcnn import GCNN  # noqa: E402


def best_of(fn, repeats=2):
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def bench_gcnn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 16))
    y = rng.choice([-1.0, 1.0], 8)
    ds = make_dataset(X, y)
    g = GCNN(d=16, group="dihedral:n=8", depth=3, alpha=0.1)
    c = Conv(d=16, depth=3, alpha=0.1)
    tg, sg = best_of(lambda: flow(g, ds, "exp", until="1e-30"))
    tc, sc = best_of(lambda: flow(c, ds, "exp", until="1e-30"))
    print(f"G-CNN over D8 (order 16), L = 3, flow to 1e-30: {sg:.2f} s (status {tg.status}; target ≤ 10 s)")
    print(f"  circular conv over C16, L = 3, same flow:     {sc:.2f} s (status {tc.status}); ratio {sg / sc:.2f}")


def bench_bn(steps: int):
    rng = np.random.default_rng(0)
    n, d = 100, 1000
    X = rng.standard_normal((n, d))
    y = np.sign(X[:, 0] + 0.1)
    ds = make_dataset(X, y)
    net = BatchNorm(d=d, alpha=1.0).bind(ds)
    lr = 0.5

    def ours():
        r = descent(net, ds, "exp", lr=lr, steps=steps)
        jax.block_until_ready(r.params)
        return r

    A = jnp.asarray(ds.A)
    p0 = net.init(jax.random.fold_in(jax.random.PRNGKey(0), 0))

    def loss(p):
        w, g = p
        beta = g * w / jnp.sqrt(jnp.mean((A @ w) ** 2))
        return jnp.mean(jnp.exp(-(A @ beta)))

    @jax.jit
    def bare(p):
        def body(_, p):
            gr = jax.grad(loss)(p)
            return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, gr)

        return jax.lax.fori_loop(0, steps, body, p)

    ours()
    jax.block_until_ready(bare(p0))
    r, t_ours = best_of(ours)
    pb, t_bare = best_of(lambda: jax.block_until_ready(bare(p0)))
    diff = float(jnp.max(jnp.abs(jnp.asarray(r.params[0]) - pb[0])))
    print(f"BN linear model n = {n}, d = {d}, {steps} GD steps: descent {t_ours:.2f} s, bare jitted loop "
          f"{t_bare:.2f} s, ratio {t_ours / t_bare:.2f} (target ≤ 1.2); max |Δw| {diff:.1e}")


def main():
    steps = int(float(sys.argv[1])) if len(sys.argv) > 1 else 100_000
    bench_gcnn()
    bench_bn(steps)


if __name__ == "__main__":
    main()
