"""Start-up benchmark: whole ``biasflow`` processes against plain processes doing the same work.

Every line is the best of 5 fresh processes, measured in this run:

1. ``biasflow --help`` vs ``python -c "import numpy, typer, rich"`` (target ≤ 2×);
2. ``biasflow margin --norm l1`` on n = 60, d = 200 vs a plain process that loads the same file and solves
   the same ℓ1 max-margin LP with SciPy's HiGHS (target ≤ 1.3×);
3. ``biasflow flow`` (n = 100, d = 1000, D = 2, α = 1e-2, to 1e-10000) vs the plain SciPy dual script of
   ``bench_flow.py`` (target ≤ 1.0×).

Also prints which heavy packages each biasflow process imported. Exits 0; timings on a shared machine are
noisy, compare the ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, HERE)

from bench_flow import PLAIN_DUAL  # noqa: E402

from biasflow.data import gaussian, save  # noqa: E402

REPEATS = 5
HEAVY = ("jax", "optax", "cvxpy", "pyarrow", "duckdb", "dask", "matplotlib")

PLAIN_MARGIN = textwrap.dedent('''
    import sys
    import numpy as np
    from scipy.optimize import linprog
    z = np.load(sys.argv[1]); X, y = z["X"], z["y"]
    A = y[:, None] * X; n, d = A.shape
    # max γ s.t. Aβ ≥ γ, ‖β‖1 ≤ 1 with β = a − b, a, b ≥ 0
    c = np.zeros(2 * d + 1); c[-1] = -1
    A_ub = np.vstack([np.hstack([-A, A, np.ones((n, 1))]), np.concatenate([np.ones(2 * d), [0]])[None]])
    b_ub = np.concatenate([np.zeros(n), [1.0]])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * (2 * d) + [(None, None)], method="highs")
    print(-res.fun)
''')

# runs the CLI, then reports on stderr which heavy packages it imported
CLI = ("import sys; from biasflow.cli import main; rc = main(sys.argv[1:]); "
       f"print('HEAVY', sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})), file=sys.stderr); "
       "sys.exit(rc)")


def run(cmd) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "BIASFLOW_NO_PROGRESS": "1", "PYTHONPATH": os.path.join(ROOT, "src")}
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    el = time.perf_counter() - t
    if p.returncode != 0:
        print("  process failed:", p.stderr.strip()[-300:])
    return el, p


def best_pair(ours_cmd, base_cmd):
    """Best of REPEATS for each command, run alternately so both see the same machine load."""
    ours, base = [], []
    for _ in range(REPEATS):
        ours.append(run(ours_cmd))
        base.append(run(base_cmd))
    return (min(t for t, _ in ours), ours[-1][1]), (min(t for t, _ in base), base[-1][1])


def heavy(p) -> str:
    for line in p.stderr.splitlines():
        if line.startswith("HEAVY"):
            return line[6:]
    return "?"


def line(label, ours, base, target):
    (t_ours, p_ours), (t_base, _) = ours, base
    ratio = t_ours / t_base
    mark = "met" if ratio <= target else f"MISSED by {ratio / target:.2f}x"
    print(f"{label}: biasflow {t_ours:.3f} s vs plain {t_base:.3f} s -> ratio {ratio:.2f}  "
          f"[target <= {target}: {mark}]  heavy imports: {heavy(p_ours)}")
    return ratio


def main():
    py = sys.executable
    print(f"start-up, best of {REPEATS} whole processes each")
    with tempfile.TemporaryDirectory() as tmp:
        line("[1] --help", *best_pair([py, "-c", CLI, "--help"], [py, "-c", "import numpy, typer, rich"]), 2.0)

        m_data = os.path.join(tmp, "margin.npz")
        save(gaussian(n=60, d=200, k=3, seed=0), m_data)
        plain_margin = os.path.join(tmp, "plain_margin.py")
        with open(plain_margin, "w") as fh:
            fh.write(PLAIN_MARGIN)
        ours, base = best_pair([py, "-c", CLI, "margin", "--data", m_data, "--norm", "l1", "--json"],
                               [py, plain_margin, m_data])
        line("[2] margin --norm l1, n=60 d=200", ours, base, 1.3)
        got, want = json.loads(ours[1].stdout)["margin"], float(base[1].stdout)
        print(f"    same LP optimum: biasflow {got:.12g}, plain {want:.12g}")

        f_data = os.path.join(tmp, "flow.npz")
        save(gaussian(n=100, d=1000, k=5, seed=0), f_data)
        plain_dual = os.path.join(tmp, "plain_dual.py")
        with open(plain_dual, "w") as fh:
            fh.write(PLAIN_DUAL)
        ours, base = best_pair([py, "-c", CLI, "flow", "--data", f_data, "--alpha", "1e-2", "--depth", "2",
                                "--until-loss", "1e-10000", "--checkpoints", "1e-10000", "--json"],
                               [py, plain_dual, f_data, "1e-2", "-10000", "1e-10", os.path.join(tmp, "beta.npy")])
        line("[3] flow n=100 d=1000 D=2 alpha=1e-2 to 1e-10000", ours, base, 1.0)


if __name__ == "__main__":
    main()
