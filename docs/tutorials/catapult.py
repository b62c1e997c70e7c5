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
# # Large learning rates and the catapult
#
# Gradient descent with a step η below 2/λ₀ (λ₀ the top eigenvalue of the tangent kernel at
# initialization) behaves like gradient flow: the loss falls and the kernel barely moves. Between 2/λ₀ and
# 4/λ₀ the two-layer uv model does something the flow cannot do — the loss first *grows*, the curvature
# drops, and training converges at a flatter point with sharpness below 2/η (Lewkowycz et al. 2020). Above
# 4/λ₀ it diverges. The theory, with the exact update maps biasflow uses as a second path, is in
# [large learning rates](../theory/large-steps.md).

# %%
import matplotlib.pyplot as plt
import numpy as np

import biasflow as bf
from biasflow.dynamics.phases import phase_map

data = bf.builtin("sparse-regression")
net = bf.UV(d=data.d, width=128)
print(data.n, data.d, data.task)

# %% [markdown]
# `phase_map` runs one compiled gradient-descent program for a grid of learning rates — here in units of
# 2/λ₀ — from the same initialization, tracking the sharpness (top Hessian eigenvalue) and the tangent
# kernel, and classifies each run as lazy, catapult or divergent from its loss history.

# %%
units = np.array([0.5, 0.9, 1.3, 1.9, 2.6, 4.0])
pm = phase_map(net, data, "square", units=units, steps=300, seed=0)
print(f"λ0 = {pm.lambda0:.4f}, so 2/λ0 = {2 / pm.lambda0:.4f}")
for u, ph, pk, s in zip(pm.units, pm.phases, pm.peak_ratio, pm.final_sharpness, strict=True):
    print(f"η = {u:4.2f} × 2/λ0   {ph:10s} peak loss / initial = {pk:10.3g}   final sharpness × η/2 = {s * u / pm.lambda0:.3g}")

# %% [markdown]
# The loss curves make the phases visible: monotone below 2/λ₀; above it a spike, then convergence at a
# flatter point; far enough above, a blow-up (status `diverged`, the last finite state kept).

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
for u, ph, r in zip(pm.units, pm.phases, pm.results, strict=True):
    loss = np.asarray(r.loss, float)
    ax1.semilogy(np.arange(loss.size), np.maximum(loss, 1e-300), label=f"{u:.2g}×2/λ0 ({ph})")
ax1.set_ylim(1e-12, 1e8)
ax1.set_xlabel("step")
ax1.set_ylabel("training loss")
ax1.legend(fontsize=8)
ok = [i for i, ph in enumerate(pm.phases) if ph != "divergent"]
ax2.plot(pm.units[ok], pm.final_sharpness[ok] / pm.lambda0, "o-", label="final sharpness / λ0")
ax2.plot(pm.units, 1 / pm.units, "k--", label="2/η (in units of λ0)")
ax2.set_xlabel("η in units of 2/λ0")
ax2.legend()
plt.show()

# %% [markdown]
# The catapult runs end flatter than they started, just below the stability edge 2/η: that is the check
# `biasflow reproduce huang2020` makes over many seeds and widths ([its page](../reproductions/huang2020.md)).

# %%
for u, ph, s in zip(pm.units, pm.phases, pm.final_sharpness, strict=True):
    if ph == "catapult":
        eta = u * 2 / pm.lambda0
        assert s < 2 / eta, (u, s)
        assert s < pm.sharpness0
print(sorted(set(pm.phases)))
