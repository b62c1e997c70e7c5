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
# # The Moroshko phase diagram from Python
#
# Moroshko et al. (2020) showed that for a depth-2 diagonal network trained with the exponential loss,
# *which* max-margin predictor gradient flow approaches depends jointly on the initialization scale α and
# on how far training goes (the loss ε): large α and moderate ε look like the ℓ2 max-margin (the kernel
# regime), ε → 0 at fixed α goes to the ℓ1 max-margin (the rich regime), and for α ≳ 1 the ℓ1 limit shows
# only at losses far below 1e-100. Here we draw that diagram in a few seconds, down to ε = 1e-1000.
#
# The theory is in [diagonal networks §3.5–3.6](../theory/diagonal.md); the columns are defined in the
# [result reference](../reference/results.md).

# %%
import matplotlib.pyplot as plt
import numpy as np

import biasflow as bf
from biasflow.bias.margins import normalized_margin

data = bf.builtin("sparse")            # n = 10 points in d = 30 dimensions, y = sign(x_1)
print(data.n, data.d, data.task)

# %% [markdown]
# The references: the ℓ1 and ℓ2 max-margin predictors, solved as a linear and a quadratic program, each
# with a certificate (a relative duality gap near machine precision).

# %%
l1 = bf.margin(data, "l1")
l2 = bf.margin(data, "l2")
print(f"γ1* = {l1.margin:.6f}, γ2* = {l2.margin:.6f}")

# %% [markdown]
# One exact flow per α (the dual ODE of the diagonal network, batched with `flow_many`), each recorded at
# the same loss levels. Loss levels are strings: `"1e-1000"` is not a float64 number, and biasflow never
# forms it as one.

# %%
alphas = np.geomspace(1e-2, 10.0, 7)
levels = ["1e-1", "1e-2", "1e-5", "1e-10", "1e-30", "1e-100", "1e-300", "1e-1000"]
nets = [bf.Diagonal(d=data.d, depth=2, alpha=float(a)) for a in alphas]
trajs = bf.flow_many(nets, data, "exp", until="1e-1000", checkpoints=levels)
print([t.status for t in trajs])

# %% [markdown]
# At each checkpoint the normalized-margin gap `gap_l1` = 1 − γ₁(β)/γ₁* says how far the predictor is
# from the ℓ1 max-margin (0 at the optimum); `gap_l2` does the same for ℓ2.

# %%
gap1 = np.array([[1 - normalized_margin(c.predictor, data, "l1") / l1.margin for c in t.checkpoints]
                 for t in trajs]).T
gap2 = np.array([[1 - normalized_margin(c.predictor, data, "l2") / l2.margin for c in t.checkpoints]
                 for t in trajs]).T
depth_of_loss = [-c.log10_loss for c in trajs[0].checkpoints]

fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
for ax, g, name in zip(axes, (gap1, gap2), ("gap_l1", "gap_l2"), strict=True):
    im = ax.imshow(np.log10(np.maximum(g, 1e-12)), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(alphas)), [f"{a:.2g}" for a in alphas])
    ax.set_yticks(range(len(levels)), [f"{v:g}" for v in depth_of_loss])
    ax.set_xlabel("initialization scale α")
    ax.set_ylabel("log10(1/ε)")
    ax.set_title(f"log10 {name}")
    fig.colorbar(im, ax=ax)
plt.show()

# %% [markdown]
# Read it along a column: at fixed α the ℓ1 gap shrinks as the loss goes down, but at α ≥ 1 it is still
# clearly positive at ε = 1e-100. Read it along a row: at a fixed loss, larger α stays closer to ℓ2.

# %%
i100, i1000 = levels.index("1e-100"), levels.index("1e-1000")
for a, g100, g1000 in zip(alphas, gap1[i100], gap1[i1000], strict=True):
    print(f"α = {a:8.3g}   gap_l1 at 1e-100: {g100:.2e}   at 1e-1000: {g1000:.2e}")
assert all(g1000 <= g100 + 1e-9 for g100, g1000 in zip(gap1[i100], gap1[i1000], strict=True))

# %% [markdown]
# The same diagram, with more α and ε and the claims of the paper checked, is one command:
# `biasflow reproduce moroshko2020 --quick --out out/m20` (see the [reproduction page](../reproductions/moroshko2020.md)).
