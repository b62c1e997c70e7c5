"""Autodiff gradient flow of any model in its own parameters, on the loss clock (docs/theory/numerics.md §2.2).

For a model with ``init`` and ``predictor`` (the protocol of :mod:`biasflow.models.base`), the state is
the flattened parameter vector θ and, on the τ-clock,

    dθ/dτ = F(θ) := −∇_θ log ℒ(θ),    s = −log ℒ,    g = ds/dτ = ‖F‖²

with log ℒ evaluated in the log domain (:meth:`~biasflow.losses.Loss.log_mean`) and the gradient from
``jax.grad``; one compiled function returns (F, s, g). For up to ``jac_max`` parameters the Hessian of
log ℒ is compiled too (∂F/∂θ = −∇² log ℒ, ∂g/∂θ = 2(∂F/∂θ)F) and the implicit LSODA solver is used;
larger models use the explicit DOP853 method. :mod:`biasflow.dynamics.clock` does the rest.

>>> from biasflow.data import gaussian
>>> from biasflow.losses import EXP
>>> from biasflow.models import Diagonal
>>> import numpy as np
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> sy = PrimalSystem(Diagonal(d=30, depth=2, alpha=1.0), ds, EXP)
>>> F, s, g = sy.evaluate(sy.x0())
>>> abs(s), bool(abs(g - F @ F) < 1e-12)
(0.0, True)
"""

from __future__ import annotations

import numpy as np

from ..data import Dataset
from ..losses import Loss
from .clock import integrate

JAC_MAX = 400


class PrimalSystem:
    """θ on the loss clock with ∇ log ℒ from JAX (a :class:`~biasflow.dynamics.clock.LossClockSystem`)."""

    def __init__(self, model, data: Dataset, loss: Loss, *, seed: int = 0, jac_max: int = JAC_MAX):
        import jax
        import jax.numpy as jnp
        from jax.flatten_util import ravel_pytree

        self.model = model
        params = model.init(jax.random.PRNGKey(seed))
        flat, unravel = ravel_pytree(params)
        self._x0 = np.asarray(flat, dtype=np.float64)
        self.unravel = unravel
        self.dim = int(self._x0.size)
        self.time_clock = loss.name == "square"
        A = jnp.asarray(np.asarray(data.A, dtype=np.float64))
        y = jnp.asarray(np.asarray(data.y, dtype=np.float64))

        def log_loss(th):
            beta = model.predictor(unravel(th))
            return loss.log_mean(A @ beta, y)

        def ev(th):  # one output array: a single device-to-host transfer per evaluation
            lv, gr = jax.value_and_grad(log_loss)(th)
            F = -gr
            return jnp.concatenate([F, jnp.stack([-lv, F @ F])])

        self._ev = jax.jit(ev)
        self.has_jacobian = self.dim <= jac_max
        if self.has_jacobian:
            def jac(th):
                H = jax.hessian(log_loss)(th)
                F = -jax.grad(log_loss)(th)
                JF = -H
                return JF, F, 2.0 * (JF.T @ F)

            self._jac = jax.jit(jac)
        self._beta = jax.jit(lambda th: model.predictor(unravel(th)))
        self._key = None
        self._val = None

    def x0(self):
        return self._x0.copy()

    def evaluate(self, x):
        key = x.tobytes()
        if key != self._key:
            out = np.asarray(self._ev(x))
            self._key, self._val = key, (out[:-2], float(out[-2]), float(out[-1]))
        return self._val

    def jacobian(self, x):
        JF, gs, gg = self._jac(x)
        return np.asarray(JF), np.asarray(gs), np.asarray(gg)

    def predictor(self, x):
        return np.asarray(self._beta(x))

    def params(self, x):
        import jax

        return jax.tree_util.tree_map(np.asarray, self.unravel(x))


def primal_flow(model, data: Dataset, loss: Loss, levels: list[float], *, seed=0, floor_log10=None,
                rtol=1e-10, atol=1e-12, max_steps=200_000, callback=None, solver=None, solver_tau=None,
                jac_max: int = JAC_MAX):
    """Run the autodiff primal flow through ``levels``; returns (ClockResult, PrimalSystem)."""
    system = PrimalSystem(model, data, loss, seed=seed, jac_max=jac_max)
    res = integrate(system, levels, floor_log10=floor_log10, rtol=rtol, atol=atol, method=solver,
                    method_tau=solver_tau, max_steps=max_steps, callback=callback)
    return res, system


__all__ = ["PrimalSystem", "primal_flow"]
