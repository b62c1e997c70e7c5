"""Results store: 1e5 rows appended and queried with a group-by (target ≤ 2 s on 2 cores).

A sweep of 3125 runs × 32 checkpoints = 1e5 rows. The executor stores each finished batch of runs as
one atomic fragment (here 32 runs per batch); the baseline stores one fragment per run. Prints timings
and ratios; exits 0.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from biasflow.store import Store

RUNS, LEVELS, BATCH = 3125, 32, 32


def rows_of(r: int) -> list[dict]:
    a = 10.0 ** (-2 + 3 * (r % 32) / 31)
    return [
        {
            "sweep": "bench",
            "model": "diagonal",
            "depth": 2 + r % 2,
            "alpha": a,
            "seed": r // 64,
            "log10_loss": -float(10 ** (3 * k / 31)),
            "gap_l1": a / (k + 1),
            "gap_l2": 1.0 / (a * (k + 1)),
            "margin": float(k),
            "support": 3 + k % 5,
            "status": "ok",
            "message": "",
            "seconds": 0.01,
        }
        for k in range(LEVELS)
    ]


def append(batch: int) -> tuple[float, float, list]:
    d = tempfile.mkdtemp()
    st = Store(d)
    runs = {f"run{r:05d}": rows_of(r) for r in range(RUNS)}  # rows built before the clock starts
    ids = list(runs)
    t0 = time.perf_counter()
    for i in range(0, RUNS, batch):
        chunk = {k: runs[k] for k in ids[i : i + batch]}
        st.append_runs(chunk)
    t_append = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = st.query(
        "SELECT depth, alpha, count(*) AS n, avg(gap_l1) AS g1, min(gap_l2) AS g2 "
        "FROM results GROUP BY depth, alpha ORDER BY depth, alpha"
    )
    t_query = time.perf_counter() - t1
    assert sum(r["n"] for r in res) == RUNS * LEVELS
    return t_append, t_query, res


def main() -> int:
    n = RUNS * LEVELS
    ta, tq, res = append(BATCH)
    print(
        f"store: {n:.0e} rows, {RUNS} runs in batches of {BATCH}: append {ta:.2f} s, "
        f"group-by query {tq:.3f} s, "
        f"total {ta + tq:.2f} s (target ≤ 2 s)"
    )
    tb, tqb, _ = append(1)
    print(
        f"baseline, one fragment per run: append {tb:.2f} s, group-by query {tqb:.3f} s, "
        f"total {tb + tqb:.2f} s"
    )
    print(
        f"ratio baseline/batched: {(tb + tqb) / (ta + tq):.1f}x; groups: {len(res)}; "
        f"mean gap_l1 {np.mean([r['g1'] for r in res]):.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
