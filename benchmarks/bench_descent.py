"""Benchmark of gradient descent itself (issue 3 item 6), with a plain NumPy loop as the baseline measured in
the same run: the issue-3 problem (n = 100, d = 1000, 5-sparse teacher, diagonal D = 2, α = 1e-2), exp loss
(classification) and square loss (regression), 10⁴ GD steps with the per-step log-domain loss history.

Prints seconds (best of 2, compiled/warm for ours) and the ratio NumPy/ours; exits 0.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from biasflow.data import gaussian  # noqa: E402
from biasflow.dynamics.descent import descent  # noqa: E402
from biasflow.models import Diagonal  # noqa: E402


def numpy_gd(A, y, alpha, lr, steps, loss):
    """Plain NumPy GD on β = u₊² − u₋² with the mean loss recorded before every step."""
    up = np.full(A.shape[1], alpha)
    um = up.copy()
    n = A.shape[0]
    hist = np.empty(steps + 1)
    for k in range(steps + 1):
        z = A @ (up * up - um * um)
        if loss == "exp":
            e = np.exp(-z)
            hist[k] = e.mean()
            r = e
        else:
            r = y - z
            hist[k] = 0.5 * np.mean(r * r)
        if k == steps:
            break
        g = -A.T @ r / n
        up, um = up - lr * 2.0 * up * g, um + lr * 2.0 * um * g
    return hist


def best_of(fn, repeats=2):
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def main():
    K = 10_000
    for loss, task in (("exp", "classification"), ("square", "regression")):
        ds = gaussian(n=100, d=1000, k=5, task=task, seed=0)
        m = Diagonal(d=1000, depth=2, alpha=1e-2)
        lr = 0.5 if loss == "exp" else 0.05
        t = time.perf_counter()
        descent(m, ds, loss, lr=lr, steps=K)
        cold = time.perf_counter() - t
        r, ours = best_of(lambda m=m, ds=ds, lr=lr, loss=loss: descent(m, ds, loss, lr=lr, steps=K))
        ref, base = best_of(lambda ds=ds, lr=lr, loss=loss: numpy_gd(ds.A, ds.y, 1e-2, lr, K, loss), 1)
        err = np.max(np.abs(r.loss - ref) / np.maximum(ref, 1e-300))
        print(f"{loss:>6}: {K} GD steps, n=100, d=1000, D=2, α=1e-2: ours {ours:.3f} s warm "
              f"({cold:.2f} s with compilation), plain NumPy {base:.3f} s, "
              f"ratio NumPy/ours {base / ours:.1f}×; "
              f"final loss {r.loss[-1]:.3e}, loss histories agree to {err:.1e} (relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
