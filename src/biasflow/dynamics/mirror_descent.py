"""Mirror descent (and its continuous-time limit, mirror flow) for any model with ``apply(params, X)``.

With a per-parameter potential Φ around the initialization (:class:`~biasflow.dynamics.mirror_maps.Potential`)
the iteration runs in the dual coordinates ζ = ∇Φ(θ) − ∇Φ(θ₀) (which start at 0):

    ζ_{k+1} = ζ_k − η ∇ℒ_B(θ_k),    θ_k = θ₀ + (∇Φ)⁻¹(ζ_k),

with ℒ the mean square loss ½(f − y)² on a batch B (all n examples unless ``batch_size`` is given). The
quadratic potential makes it plain gradient descent. The loop is one compiled ``jax.lax.scan``; the loss
before every step is recorded in the log domain; a non-finite state stops the run with status
``diverged`` and keeps the last finite state. :func:`mirror_flow` integrates d/dt ζ = −∇ℒ(θ(ζ)) with
SciPy's ``solve_ivp`` (DOP853; meant for moderate parameter counts).

>>> import numpy as np
>>> from biasflow.data import make_dataset
>>> from biasflow.models.shallow import Shallow
>>> ds = make_dataset(np.array([[-1.0], [0.0], [1.0]]), np.array([0.5, -0.2, 0.3]), task="regression")
>>> res = mirror_descent(Shallow(d=1, width=100, asymmetric=True), ds, "quartic", "scaled", lr=0.01, steps=1000)
>>> res.status, bool(res.log10_loss[-1] < res.log10_loss[0] - 0.5)
('ok', True)
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..errors import BiasflowError
from ..levels import LN10
from .mirror_maps import Potential


@dataclasses.dataclass
class MirrorRun:
    """Result of :func:`mirror_descent`: status, steps done, log10 of the mean loss before each step (and
    at the end), the final parameters and dual coordinates, and the function every M steps on a grid."""

    status: str
    steps: int
    log10_loss: np.ndarray
    params: dict
    zeta: dict
    functions: list = dataclasses.field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict:
        return {"status": self.status, "steps": self.steps, "message": self.message,
                "loss": [10.0 ** v for v in self.log10_loss.tolist()],
                "log10_loss": self.log10_loss.tolist(), "functions": self.functions}


def _log_mean_half_sq(r):
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    return logsumexp(2 * jnp.log(jnp.abs(r) + 1e-300)) - jnp.log(2.0 * r.shape[0])


@functools.lru_cache(maxsize=32)
def _compiled(model, pot: Potential, n: int, steps: int, batch: int):
    import jax
    import jax.numpy as jnp

    def loss(params, X, y):
        r = model.apply(params, X) - y
        return 0.5 * jnp.mean(r * r)

    grad = jax.grad(loss)

    def run(params0, zeta0, lr, key, X, y):
        def theta(z):
            return jax.tree_util.tree_map(lambda p, zz: p + pot.inverse(zz), params0, z)

        def body(carry, k):
            z, alive, ndone, key = carry
            key, sub = jax.random.split(key)
            th = theta(z)
            logl = _log_mean_half_sq(model.apply(th, X) - y)
            if batch >= n:
                g = grad(th, X, y)
            else:
                idx = jax.random.choice(sub, n, (batch,), replace=False)
                g = grad(th, X[idx], y[idx])
            z_new = jax.tree_util.tree_map(lambda zz, gg: zz - lr * gg, z, g)
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree_util.tree_leaves(z_new)]))
            ok = alive & jnp.isfinite(logl)
            move = ok & finite & (k < steps)
            z = jax.tree_util.tree_map(lambda a, b: jnp.where(move, a, b), z_new, z)
            return (z, ok & finite, ndone + ok.astype(jnp.int32), key), jnp.where(ok, logl, jnp.nan)

        (z, alive, ndone, _), logs = jax.lax.scan(body, (zeta0, True, jnp.asarray(0, jnp.int32), key),
                                                  jnp.arange(steps + 1))
        return z, alive, ndone, logs

    return jax.jit(run)


def mirror_descent(model, data, potential: str = "quadratic", scale: str = "unscaled", *, lr: float,
                   steps: int, batch_size: int | None = None, seed: int = 0, params0=None,
                   record_every: int = 0, grid=None) -> MirrorRun:
    """Run mirror descent with φ = ``potential`` around the initialization (see the module doc).

    Args:
        model: any model with ``init`` and ``apply`` (``width`` too for ``scale="scaled"``).
        data: a regression data set; lr: η > 0; steps: K ≥ 1; batch_size: SGD batch (default full).
        record_every: M > 0 records the function on ``grid`` every M steps (and at the end).
    """
    import jax
    import jax.numpy as jnp

    from .. import _jax  # noqa: F401

    if data.task != "regression":
        raise BiasflowError("mirror descent uses the square loss; give regression data")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise BiasflowError(f"the learning rate must be a positive finite number (got {lr!r})")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise BiasflowError(f"steps must be an integer ≥ 1 (got {steps!r})")
    pot = Potential.for_model(potential, scale, model)
    n = data.n
    if callable(getattr(model, "memory_bytes", None)):
        from ..models.shallow import require_memory

        require_memory(model, n)
    batch = n if batch_size is None else int(batch_size)
    if not 1 <= batch <= n:
        raise BiasflowError(f"batch size must be between 1 and n = {n} (got {batch_size!r})")
    key = jax.random.PRNGKey(int(seed))
    p0 = model.init(jax.random.fold_in(key, 0)) if params0 is None else params0
    p0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), p0)
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    z = jax.tree_util.tree_map(jnp.zeros_like, p0)
    every = int(record_every) if (record_every and grid is not None) else 0
    blocks = [steps] if not every else [every] * (steps // every) + ([steps % every] if steps % every else [])
    logs_all, functions, done, status = [], [], 0, "ok"
    grid_np = None if grid is None else np.asarray(grid, float).reshape(len(grid), -1)

    def theta(zz):
        return jax.tree_util.tree_map(lambda p, v: p + pot.inverse(v), p0, zz)

    def record(k, zz):
        if grid_np is not None:
            f = model.evaluate(theta(zz), grid_np) if hasattr(model, "evaluate") else np.asarray(
                model.apply(theta(zz), grid_np))
            functions.append({"step": k, "x": grid_np[:, 0].tolist() if grid_np.shape[1] == 1 else grid_np.tolist(),
                              "f": np.asarray(f).tolist()})

    if every:
        record(0, z)
    for i, m in enumerate(blocks):
        fn = _compiled(model, pot, n, int(m), batch)
        z, alive, ndone, logs = fn(p0, z, jnp.asarray(float(lr)), jax.random.fold_in(key, 1 + i), X, y)
        logs = np.asarray(logs)
        nd = int(ndone)
        keep = logs[: nd] if i == len(blocks) - 1 or not bool(alive) else logs[: m]
        logs_all.append(keep)
        if not bool(alive):
            done += max(nd - 1, 0)
            status = "diverged"
            break
        done += m
        if every:
            record(done, z)
    log10 = np.concatenate(logs_all) / LN10 if logs_all else np.zeros(0)
    params = jax.tree_util.tree_map(np.asarray, theta(z))
    if grid_np is not None and not every:
        record(done, z)
    msg = (f"{done} mirror steps ({pot.kind}, κ = {pot.kappa:g}), loss 1e{log10[0]:.4g} → 1e{log10[-1]:.4g}"
           if status == "ok" else f"diverged after {done} steps; the last finite state is kept")
    return MirrorRun(status=status, steps=done, log10_loss=log10, params=params,
                     zeta=jax.tree_util.tree_map(np.asarray, z), functions=functions, message=msg)


def mirror_flow(model, data, potential: str = "quadratic", scale: str = "unscaled", *, time: float,
                seed: int = 0, params0=None, rtol: float = 1e-9, atol: float = 1e-12):
    """Mirror flow d/dt ζ = −∇ℒ(θ₀ + (∇Φ)⁻¹(ζ)) of the whole network up to ``time`` (DOP853, jitted RHS).

    Returns (params at ``time``, log10 of the loss there, the solver's status message).
    """
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree
    from scipy.integrate import solve_ivp

    from .. import _jax  # noqa: F401

    pot = Potential.for_model(potential, scale, model)
    p0 = model.init(jax.random.PRNGKey(int(seed))) if params0 is None else params0
    flat0, unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), p0))
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)

    @jax.jit
    def rhs(z):
        th = unravel(flat0 + pot.inverse(z))
        g = jax.grad(lambda p: 0.5 * jnp.mean((model.apply(p, X) - y) ** 2))(th)
        return -ravel_pytree(g)[0]

    sol = solve_ivp(lambda t, z: np.asarray(rhs(jnp.asarray(z))), (0.0, float(time)), np.zeros(flat0.size),
                    method="DOP853", rtol=rtol, atol=atol)
    params = unravel(flat0 + pot.inverse(jnp.asarray(sol.y[:, -1])))
    r = np.asarray(model.apply(params, X) - y)
    return jax.tree_util.tree_map(np.asarray, params), math.log10(max(0.5 * float(np.mean(r * r)), 1e-320)), sol.message


__all__ = ["MirrorRun", "mirror_descent", "mirror_flow"]
