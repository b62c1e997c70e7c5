"""Benchmark of large-learning-rate tooling, with baselines measured in the same run (issue 7 speed lines).

1. uv model, width m = 1000, 10⁴ GD steps with the sharpness (Lanczos on Hessian-vector products, 20
   iterations warm-started from the previous Ritz vector) every 10 steps — target ≤ 5 s warm. Baselines:
   the same compiled loop without sharpness, and a plain NumPy GD loop (no sharpness) on the same problem.
2. An η phase map with 64 learning rates batched with vmap (uv, m = 1000, 1000 steps each, final
   sharpness and NTK eigenvalue per run) — target ≤ 30 s. Baseline: one single run of the same length
   (the ratio says what 64 runs cost relative to one).

Data: Gaussian regression, n = 16, d = 10. Prints seconds and ratios; exits 0.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import jax  # noqa: E402

from biasflow.data import gaussian  # noqa: E402
from biasflow.dynamics.descent import descent, descent_many  # noqa: E402
from biasflow.dynamics.phases import phase_map  # noqa: E402
from biasflow.models.uv import UV  # noqa: E402


def timed(fn, repeats=2):
    out, best = None, math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        jax.block_until_ready(jax.tree_util.tree_leaves(out.params if hasattr(out, "params") else 0))
        best = min(best, time.perf_counter() - t)
    return out, best


def numpy_uv_gd(X, y, U, v, eta, steps):
    """Plain NumPy GD on f = vᵀUx/√N with the mean ½ square loss (loss recorded every step)."""
    N = U.shape[0]
    n = X.shape[0]
    sq = math.sqrt(N)
    losses = np.empty(steps + 1)
    for k in range(steps + 1):
        h = X @ U.T                 # n × N
        f = h @ v / sq
        r = f - y
        losses[k] = 0.5 * np.mean(r * r)
        if k == steps:
            break
        gv = h.T @ r / (n * sq)
        gU = np.outer(v, X.T @ r) / (n * sq)
        U = U - eta * gU
        v = v - eta * gv
    return losses


def main():
    ds = gaussian(n=16, d=10, k=3, task="regression", noise=0.1, seed=0)
    m = UV(d=ds.d, width=1000)
    p0 = m.init(jax.random.PRNGKey(0))
    lam0 = float(m.ntk_top(p0, ds.X))
    eta = 1.0 / lam0
    K = 10_000
    print(f"== uv m=1000, n={ds.n}, d={ds.d}, {K} GD steps, η = 1/λ0 (λ0 = {lam0:.4g})")
    t = time.perf_counter()
    descent(m, ds, "square", lr=eta, steps=K, sharpness_every=10, params0=p0)
    cold = time.perf_counter() - t
    r, warm = timed(lambda: descent(m, ds, "square", lr=eta, steps=K, sharpness_every=10, params0=p0))
    print(f"with sharpness every 10 steps (10 warm-started Lanczos iterations, the default): {warm:.3f} s "
          f"warm ({cold:.2f} s with compilation) [target ≤ 5 s]; {len(r.sharpness)} values, "
          f"last {r.sharpness[-1]:.6g}")
    descent(m, ds, "square", lr=eta, steps=K, sharpness_every=10, params0=p0, lanczos_iters=20)
    r20, warm20 = timed(lambda: descent(m, ds, "square", lr=eta, steps=K, sharpness_every=10, params0=p0,
                                        lanczos_iters=20))
    dev = np.max(np.abs(r20.sharpness - r.sharpness) / r20.sharpness)
    print(f"  same with 20 Lanczos iterations: {warm20:.3f} s; max rel. difference of the sharpness history "
          f"{dev:.1e}")
    descent(m, ds, "square", lr=eta, steps=K, params0=p0)
    r0, plain = timed(lambda: descent(m, ds, "square", lr=eta, steps=K, params0=p0))
    U, v = (np.asarray(a) for a in p0)
    t = time.perf_counter()
    ref = numpy_uv_gd(ds.X, ds.y, U, v, eta, K)
    tnp = time.perf_counter() - t
    err = np.max(np.abs(ref - r0.loss) / np.maximum(ref, 1e-300))
    print(f"without sharpness: {plain:.3f} s;  plain NumPy GD loop: {tnp:.3f} s  "
          f"(ratio NumPy/ours {tnp / plain:.1f}×; loss histories agree to {err:.1e})")
    print(f"sharpness overhead: {warm / plain:.1f}× the plain compiled loop")

    print("== η phase map: 64 learning rates, vmap-batched, 1000 steps each, final sharpness + NTK")
    units = np.geomspace(0.25, 4.0, 64)
    t = time.perf_counter()
    pm = phase_map(m, ds, "square", units=units, steps=1000, params0=p0)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    pm = phase_map(m, ds, "square", units=units, steps=1000, params0=p0)
    warm64 = time.perf_counter() - t
    counts = {ph: pm.phases.count(ph) for ph in dict.fromkeys(pm.phases)}
    print(f"64 learning rates: {warm64:.2f} s warm ({cold:.2f} s with compilation) [target ≤ 30 s]; "
          f"phases {counts}")
    phase_map(m, ds, "square", units=units, steps=1000, params0=p0, batching="map")
    t = time.perf_counter()
    pm2 = phase_map(m, ds, "square", units=units, steps=1000, params0=p0, batching="map")
    tmap = time.perf_counter() - t
    same = pm2.phases == pm.phases and np.allclose(pm2.final_sharpness, pm.final_sharpness, rtol=1e-6)
    print(f"the same 64 rates one after the other in one compiled program (lax.map): {tmap:.2f} s "
          f"(vmap/map = {warm64 / tmap:.2f}; identical phases and sharpness: {same})")
    descent_many(m, ds, "square", lrs=[eta], steps=1000, sharpness_every=1000, ntk=True, params0=p0)
    t = time.perf_counter()
    descent_many(m, ds, "square", lrs=[eta], steps=1000, sharpness_every=1000, ntk=True, params0=p0)
    one = time.perf_counter() - t
    print(f"one run of the same loop: {one:.3f} s; 64 batched = {warm64 / one:.1f}× one run "
          f"(sequential would be ≈ 64×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
