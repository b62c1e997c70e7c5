"""Wide shallow networks: exact output-layer flow, the kernel prediction, full-network GD vs a bare loop.

Prints, in one process:
1. the exact output-layer flow of a width-1e5 net on 20 points to loss 1e-20 (warm seconds, peak RSS);
2. the kernel-path prediction on 200 points and a 2000-point grid (seconds), and the discretized path's
   sup distance to it;
3. full-network GD of a width-1e4 net (``biasflow.dynamics.descent``) against a bare jitted
   ``lax.scan`` loop of the same step, as a ratio (``--steps`` to change the number of steps).

Run: ``python benchmarks/bench_shallow.py [--steps 10000]``.
"""

from __future__ import annotations

import argparse
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from biasflow import _jax  # noqa: F401
from biasflow.bias.splines import discretized_function, predict_function
from biasflow.data import make_dataset
from biasflow.dynamics.descent import descent
from biasflow.dynamics.mirror_descent import mirror_descent
from biasflow.dynamics.output_layer import output_flow
from biasflow.models.shallow import Shallow


def best(fn, repeat=3):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(steps: int):
    rng = np.random.default_rng(0)
    X20 = np.sort(rng.uniform(-1, 1, 20))[:, None]
    ds20 = make_dataset(X20, np.sin(3 * X20[:, 0]), task="regression")
    m = Shallow(d=1, width=100_000, train="output")
    output_flow(m, ds20, until_loss="1e-20")                      # warm (JAX init of the parameters)
    t, res = best(lambda: output_flow(m, ds20, until_loss="1e-20"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"output-layer flow, N=1e5, n=20, to 1e-20: {t:.3f} s warm ({res.status}, "
          f"loss 1e{res.checkpoints[-1]['log10_loss']:.3f}); peak RSS so far {rss:.2f} GB")

    X200 = np.linspace(-1, 1, 200) + 0.002 * rng.uniform(-1, 1, 200)    # jittered, well separated
    y200 = np.sin(4 * X200)
    grid = np.linspace(-1, 1, 2000)[:, None]
    t, p = best(lambda: predict_function(X200, y200, "pm1-uniform:a=2", grid=grid))
    q = discretized_function(X200, y200, "pm1-uniform:a=2", grid=grid, cells=8000)
    print(f"predict kernel path, n=200, grid 2000: {t:.3f} s (residual {p.residual:.1e}); "
          f"discretized (8000 cells) sup distance {np.max(np.abs(p.f - q.f)):.2e}")

    n = 20
    N = 10_000
    lr = 1e-3
    mg = Shallow(d=1, width=N)
    descent(mg, ds20, "square", lr=lr, steps=steps)                 # compile
    t_lib, res = best(lambda: descent(mg, ds20, "square", lr=lr, steps=steps), repeat=2)
    p0 = mg.init(jax.random.fold_in(jax.random.PRNGKey(0), 0))
    Xj, yj = jnp.asarray(ds20.X), jnp.asarray(ds20.y)

    @jax.jit
    def bare(p):
        def body(p, _):
            lossv, g = jax.value_and_grad(lambda q: 0.5 * jnp.mean((mg.apply(q, Xj) - yj) ** 2))(p)
            return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), lossv
        return jax.lax.scan(body, p, None, length=steps)

    jax.block_until_ready(bare(p0))
    t_bare, _ = best(lambda: jax.block_until_ready(bare(p0)), repeat=2)
    print(f"full-network GD, N=1e4, n={n}, {steps} steps: descent {t_lib:.2f} s, bare loop {t_bare:.2f} s, "
          f"ratio {t_lib / t_bare:.2f} ({res.status}, loss {res.loss[0]:.3g} → {res.loss[-1]:.3g})")
    mirror_descent(mg, ds20, "quadratic", lr=lr, steps=steps)       # compile
    t_md, md = best(lambda: mirror_descent(mg, ds20, "quadratic", lr=lr, steps=steps), repeat=2)
    print(f"  the same GD as quadratic mirror descent: {t_md:.2f} s, ratio {t_md / t_bare:.2f} to the bare loop "
          f"(loss → {10 ** md.log10_loss[-1]:.3g})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    main(ap.parse_args().steps)
