"""Sweep throughput: a 32 × 32 (α × ε) phase diagram, D = 2 diagonal net, n = 50, d = 100, ε down to 1e-1000.

Measures, in one process run:

1. the baseline: the 32 runs one at a time (batch = 1);
2. the batched in-process executor (4, 8 (default) or 32 α per stacked flow, :func:`flow_many`) — target
   ≤ 60 s — and its speed-up over the loop;
3. Dask ``LocalCluster`` with 2 worker processes (the sweep cut into 2 batches of 16) against the
   in-process executor on the same batches (identical rows checked) — target ≤ 1.3×; cluster start-up
   reported separately;
4. Dask per-run overhead: 200 trivial runs (batch = 1) through an open client, minus the same in-process.
5. Cluster-sized batches: a 64-run sweep whose config says ``batch = 32`` on a 2-worker ``LocalCluster``
   (the runs re-cut so that every worker is busy) against the same sweep in-process with its 32-run
   batches — target ≤ 0.7×, identical rows.

Prints timings and ratios; exits 0.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time

from biasflow.store import Store
from biasflow.sweep import _close, _connect, failure_row, parse_config, run_sweep

CONFIG = """
name = "bench-phase"
batch = {batch}
[run]
data = {{generator = "gaussian", n = 50, d = 100, k = 1, seed = 0}}
model = "diagonal"
depth = 2
loss = "exp"
until = "1e-1000"
levels = {{start = "1e-1", stop = "1e-1000", num = 32}}
[grid]
alpha = {{geomspace = [1e-2, 10.0, 32]}}
"""


def timed_sweep(batch: int, **kw) -> tuple[float, str, int]:
    out = tempfile.mkdtemp() + "/o"
    cfg = parse_config(CONFIG.format(batch=batch))
    t0 = time.perf_counter()
    s = run_sweep(cfg, out, **kw)
    dt = time.perf_counter() - t0
    assert s.executed == 32, s
    return dt, out, s.failed


def trivial(batch):
    return [(s["run_id"], [{**failure_row(s, ValueError("x")), "status": "ok"}]) for s in batch]


def main() -> int:
    from biasflow.data import gaussian
    from biasflow.dynamics.flow import flow_many
    from biasflow.models import Diagonal

    # warm-up (imports, LP references, JIT) so that each timing is the sweep itself
    ds = gaussian(n=50, d=100, k=1, seed=0)
    flow_many([Diagonal(d=100, alpha=a) for a in (0.1, 1.0)], ds, "exp", until="1e-10")
    t_single, out_s, _ = timed_sweep(1)
    print(f"baseline, loop of single runs (batch = 1): {t_single:.2f} s for 32 × 32")
    times = {}
    for b in (4, 8, 32):
        times[b], out_b, failed = timed_sweep(b)
        shutil.rmtree(out_b, ignore_errors=True)
        print(
            f"in-process, batch = {b:2d} α per flow_many:   {times[b]:.2f} s ({failed} failed) "
            f"→ speed-up over the "
            f"loop {t_single / times[b]:.2f}x — target ≤ 60 s"
        )
    t_batched = times[8]  # the default batch size

    t_in16, out_in16, _ = timed_sweep(16)
    t0 = time.perf_counter()
    client = _connect("local", 2)
    t_start = time.perf_counter() - t0
    try:
        # warm the workers (imports, references of the data set) as a long-lived cluster would be
        warm = parse_config(CONFIG.format(batch=1).replace("{geomspace = [1e-2, 10.0, 32]}", "[0.5, 2.0]"))
        run_sweep(warm, tempfile.mkdtemp() + "/w", client=client)
        t_dask, out_d, _ = timed_sweep(16, client=client)
        q = "SELECT run_id, log10_loss, gap_l1, gap_l2, predictor FROM results ORDER BY run_id, log10_loss"
        same = Store(out_in16).query(q) == Store(out_d).query(q)
        print(f"in-process, 2 batches of 16:               {t_in16:.2f} s")
        print(
            f"Dask LocalCluster, 2 workers, 2 batches:   {t_dask:.2f} s  → ratio to in-process (batch 16) "
            f"{t_dask / t_in16:.2f}x, to in-process (default batch 8) {t_dask / t_batched:.2f}x "
            "— target ≤ 1.3x; "
            f"identical rows: {same}; cluster start-up {t_start:.1f} s (not included)"
        )
        n = 200
        text = f'[run]\nuntil = "1e-5"\n[grid]\nseed = {{range = [0, {n}]}}\n'
        cfg = parse_config(text.replace("[run]", "batch = 1\n[run]"))
        t0 = time.perf_counter()
        run_sweep(cfg, tempfile.mkdtemp() + "/t", runner=trivial)
        t_local = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_sweep(cfg, tempfile.mkdtemp() + "/t", runner=trivial, client=client)
        t_remote = time.perf_counter() - t0
        print(
            f"Dask per-run overhead: {(t_remote - t_local) / n * 1e3:.1f} ms/run over {n} trivial runs "
            f"(in-process {t_local / n * 1e3:.1f} ms/run, Dask {t_remote / n * 1e3:.1f} ms/run) "
            "— target ≤ 50 ms"
        )
        cluster_sized(client)
    finally:
        _close(client)
    for d in (out_s, out_in16):
        shutil.rmtree(d, ignore_errors=True)
    sys.stdout.flush()
    return 0


def cluster_sized(client) -> None:
    """Line 5: 64 runs, ``batch = 32`` in the config, in-process vs the 2-worker cluster."""
    text = CONFIG.format(batch=32).replace("[1e-2, 10.0, 32]", "[1e-2, 10.0, 64]").replace("num = 32", "num = 16")
    cfg = parse_config(text)
    outs, times = {}, {}
    for where, kw in (("in-process", {}), ("cluster", {"client": client})):
        outs[where] = tempfile.mkdtemp() + "/o"
        t0 = time.perf_counter()
        s = run_sweep(cfg, outs[where], **kw)
        times[where] = time.perf_counter() - t0
        assert s.executed == 64, s
    q = "SELECT run_id, log10_loss, log10_time, gap_l1, gap_l2, predictor FROM results ORDER BY run_id, log10_loss"
    same = Store(outs["in-process"]).query(q) == Store(outs["cluster"]).query(q)
    ratio = times["cluster"] / times["in-process"]
    print(f"64 runs, batch = 32: in-process {times['in-process']:.2f} s, 2-worker cluster {times['cluster']:.2f} s "
          f"→ ratio {ratio:.2f}x — target ≤ 0.7x ({'met' if ratio <= 0.7 else 'MISSED'}); identical rows: {same}")
    for d in outs.values():
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
