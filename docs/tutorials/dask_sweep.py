# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A sweep on Dask
#
# A sweep is a base run times a grid of options, written as TOML and validated before anything runs.
# Each point of the grid is a run with a content-hash id; runs that differ only in their initialization
# are batched together; every checkpoint of every run becomes one row of a Parquet store that DuckDB
# queries. The same sweep runs in-process or on a Dask cluster and stores identical numbers. Here: a tiny
# grid on a local cluster of two worker processes (`biasflow sweep CONFIG --out DIR --scheduler local`
# on the command line, or `--scheduler tcp://host:port` for a cluster of your own).

# %%
import os
import tempfile
from pathlib import Path

os.environ["DASK_LOGGING__DISTRIBUTED"] = "critical"   # keep the workers' shutdown chatter off this page

import matplotlib.pyplot as plt
from biasflow.store import Store
from biasflow.sweep import parse_config, run_sweep

config = parse_config("""
name = "depth-vs-scale"

[run]
data = "sparse"
model = "diagonal"
loss = "exp"
until = "1e-100"
levels = ["1e-2", "1e-10", "1e-30", "1e-100"]

[grid]
alpha = [0.01, 0.1, 1.0]
depth = [2, 3]
""")

# %% [markdown]
# A typo in a key is caught here, with the line it is on — before any worker starts:

# %%
try:
    parse_config('[run]\ndata = "sparse"\n[grid]\nalpah = [0.1, 1.0]\n')
except Exception as err:
    print(type(err).__name__, ":", err)

# %% [markdown]
# `scheduler="local"` starts a Dask `LocalCluster` of two single-threaded worker processes; the sweep
# submits its batches to them and appends each batch's rows to the store as it arrives (an interrupted
# sweep resumes with `resume=True`). To use a cluster you already have, pass `client=` (a
# `distributed.Client`) or an address `scheduler="tcp://host:8786"`.

# %%
out = Path(tempfile.mkdtemp()) / "depth-vs-scale"
summary = run_sweep(config, out, scheduler="local", workers=2)   # a LocalCluster, closed at the end
print(summary.runs, "runs,", summary.rows, "rows,", summary.statuses, f"in {summary.seconds:.1f} s")

# %% [markdown]
# The store is a directory of Parquet fragments; SQL runs over the table `results` (DuckDB). The same
# query from a shell: `biasflow results DIR --sql "..."`. Columns are defined in the
# [result reference](../reference/results.md).

# %%
store = Store(out, create=False)
rows = store.query(
    "SELECT depth, alpha, log10_loss, gap_l1, gap_l2 FROM results ORDER BY depth, alpha, log10_loss DESC"
)
for r in rows:
    print(f"D={r['depth']}  α={r['alpha']:<5}  log10 ℒ={r['log10_loss']:7.1f}  gap_l1={r['gap_l1']:.3g}"
          f"  gap_l2={r['gap_l2']:.3g}")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for depth, style in ((2, "-"), (3, "--")):
    for alpha in (0.01, 0.1, 1.0):
        pts = [r for r in rows if r["depth"] == depth and r["alpha"] == alpha]
        ax.plot([-r["log10_loss"] for r in pts], [r["gap_l1"] for r in pts], style, marker="o",
                label=f"D={depth}, α={alpha}")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("log10(1/ℒ)")
ax.set_ylabel("gap_l1 = 1 − γ₁/γ₁*")
ax.legend(fontsize=8, ncol=2)
plt.show()
assert summary.failed == 0 and summary.rows == len(rows) == 6 * 4
