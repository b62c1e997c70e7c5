"""Balancedness monitors: how well a run conserves its model's gradient-flow invariants (docs/theory/oracles.md §8.2).

Gradient flow conserves, for example, W_lᵀW_l − W_{l+1}W_{l+1}ᵀ in a fully connected net and
‖w_l‖² − ‖w_k‖² (and the same per frequency) in a convolutional one; every model lists its conserved
quantities in ``model.invariants(params)``. Their drift measures the integration error of a flow, and the
O(η²)-per-step drift of gradient descent.

The drift is reported relative to the parameter scale Σ_l‖θ_l‖² (the size of the terms whose difference
is conserved), so that it reads as a relative error at any initialization scale:

    drift(θ) = max |I(θ) − I(θ(0))| / max(Σ‖θ‖², Σ‖θ(0)‖²).

>>> import jax.numpy as jnp
>>> from biasflow.models import Dense
>>> net = Dense(d=3, depth=2, width=2, init_kind="balanced")
>>> p = net.init()
>>> invariant_drift(net, p, p)
0.0
>>> q = (p[0] * 2.0, p[1])                     # not a gradient-flow move: the balance breaks
>>> invariant_drift(net, p, q) > 0.1
True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401


def _sq_norm(params) -> float:
    return float(sum(jnp.sum(jnp.abs(x) ** 2) for x in jax.tree_util.tree_leaves(params)))


def invariant_drift(model, params0, params) -> float:
    """Relative drift of ``model.invariants`` between ``params0`` and ``params`` (see module docstring)."""
    i0 = np.asarray(model.invariants(params0))
    i1 = np.asarray(model.invariants(params))
    if i0.size == 0:
        return 0.0
    scale = max(_sq_norm(params0), _sq_norm(params))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(i1 - i0)) / scale)


def monitor(model, trajectory, params0=None) -> np.ndarray:
    """Drift at each checkpoint of a :class:`~biasflow.trajectory.Trajectory` (relative; see above).

    ``params0`` defaults to ``model.init()`` (the flow's starting point for a seeded model). Checkpoints
    without parameters give NaN entries.
    """
    p0 = model.init() if params0 is None else params0
    out = []
    for c in trajectory.checkpoints:
        out.append(np.nan if c.params is None else invariant_drift(model, p0, c.params))
    return np.asarray(out, dtype=float)
