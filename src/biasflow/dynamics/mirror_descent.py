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
        from ..models.memory import require_memory

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


def mirror_flow(model, data, potential: str = "quadratic", scale: str = "unscaled", *, time: float | None = None,
                until_loss=None, checkpoints=None, grid=None, seed: int = 0, params0=None, rtol: float = 1e-9,
                atol: float = 1e-12):
    """Mirror flow d/dt ζ = −∇ℒ(θ₀ + (∇Φ)⁻¹(ζ)) of the whole network (the quadratic potential: gradient flow).

    SciPy ``solve_ivp`` on the flattened dual coordinates with a jitted right-hand side — LSODA with the
    exact Jacobian (``jax.jacfwd``) up to 3000 parameters, DOP853 beyond — either up to ``time`` or until the
    mean loss reaches ``until_loss`` (loss levels as events, over growing time windows).
    Returns a :class:`~biasflow.dynamics.output_layer.FunctionTrajectory`.
    """
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree
    from scipy.integrate import solve_ivp

    from .. import _jax  # noqa: F401
    from ..levels import format_level
    from .output_layer import FunctionTrajectory, _levels

    if (time is None) == (until_loss is None):
        raise BiasflowError("give the mirror flow either a time or a loss level to reach (not both)")
    pot = Potential.for_model(potential, scale, model)
    if callable(getattr(model, "memory_bytes", None)):
        from ..models.memory import require_memory

        require_memory(model, data.n)
    p0 = model.init(jax.random.PRNGKey(int(seed))) if params0 is None else params0
    flat0, unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), p0))
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)

    def loss(p):
        return 0.5 * jnp.mean((model.apply(p, X) - y) ** 2)

    @jax.jit
    def rhs(z):
        g = jax.grad(loss)(unravel(flat0 + pot.inverse(z)))
        return -ravel_pytree(g)[0]

    @jax.jit
    def log_loss(z):
        r = model.apply(unravel(flat0 + pot.inverse(z)), X) - y
        return _log_mean_half_sq(r)

    f = lambda t, z: np.asarray(rhs(jnp.asarray(z)))          # noqa: E731
    # stiff solver with the exact Jacobian (jax.jacfwd) while it fits in memory; DOP853 beyond
    if flat0.size <= 3000:
        jac_fn = jax.jit(jax.jacfwd(rhs))
        method, extra = "LSODA", {"jac": lambda t, z: np.asarray(jac_fn(jnp.asarray(z)))}
    else:
        method, extra = "DOP853", {}
    ll = lambda z: float(log_loss(jnp.asarray(z)))             # noqa: E731
    grid_np = None if grid is None else np.asarray(grid, float).reshape(len(grid), -1)

    def record(t, z):
        rec = {"log10_loss": ll(z) / LN10, "time": float(t), "log10_time": math.log10(t) if t > 0 else -math.inf}
        if grid_np is not None:
            prm = unravel(flat0 + pot.inverse(jnp.asarray(z)))
            vals = model.evaluate(prm, grid_np) if hasattr(model, "evaluate") else model.apply(prm, grid_np)
            rec["function"] = {"x": grid_np[:, 0].tolist() if grid_np.shape[1] == 1 else grid_np.tolist(),
                               "f": np.asarray(vals).tolist()}
        return rec

    z0 = np.zeros(flat0.size)
    if time is not None:
        sol = solve_ivp(f, (0.0, float(time)), z0, method=method, rtol=rtol, atol=atol, **extra)
        z_end, recs, status = sol.y[:, -1], [record(sol.t[-1], sol.y[:, -1])], "ok" if sol.success else "max_steps"
        msg = sol.message
    else:
        levels = _levels(until_loss, checkpoints)
        goal = levels[-1] * LN10
        events = []
        for lv in levels:
            ev = (lambda v: (lambda t, z: ll(z) - v * LN10))(lv)
            ev.direction = -1
            events.append(ev)
        events[-1].terminal = True
        found: dict[int, tuple] = {}
        t0, t1, z, status = 0.0, 1.0, z0, "max_steps"
        for _ in range(60):
            sol = solve_ivp(f, (t0, t1), z, method=method, rtol=rtol, atol=atol, events=events, **extra)
            for k, (te, ye) in enumerate(zip(sol.t_events, sol.y_events, strict=True)):
                if len(te) and k not in found:
                    found[k] = (float(te[0]), ye[0])
            if len(sol.t_events[-1]):
                status = "ok"
                break
            if not sol.success:
                break
            t0, z, t1 = float(sol.t[-1]), sol.y[:, -1], 4 * t1
        recs = [record(*found[k]) for k in sorted(found)]
        z_end = found[len(levels) - 1][1] if status == "ok" else sol.y[:, -1]
        if not recs:
            recs = [record(sol.t[-1], z_end)]
        msg = (f"mirror flow ({pot.kind}) by {method} to loss {format_level(recs[-1]['log10_loss'])}"
               if status == "ok" else f"did not reach loss {format_level(goal / LN10)} ({sol.message})")
    params = jax.tree_util.tree_map(np.asarray, unravel(flat0 + pot.inverse(jnp.asarray(z_end))))
    return FunctionTrajectory(status=status, checkpoints=recs, params=params, message=msg)


def function_flow(model, data, *, until_loss="1e-10", checkpoints=None, grid=None, potential: str = "quadratic",
                  scale: str = "unscaled", seed: int = 0, params0=None):
    """Gradient (or mirror) flow of a model whose result is a function, exactly, when the model is linear in
    its trained parameters (capabilities ``linear_in_params`` and ``output_features``).

    The flow of all layers of a ReLU/abs network is refused: its right-hand side is discontinuous where a
    unit's kink crosses a data point, and the flow can slide along such a surface (a Filippov solution), where
    an ODE solver's step collapses (measured: RK45 stalls at t ≈ 2 with steps of 1e-7 on six points, width
    30). Use the output layer's exact flow, or ``descent``/``mirror_descent`` with a small rate.
    """
    from .output_layer import output_flow

    if getattr(model, "linear_in_params", False) and callable(getattr(model, "output_features", None)):
        pot = None if potential == "quadratic" else Potential.for_model(potential, scale, model)
        return output_flow(model, data, until_loss=until_loss, checkpoints=checkpoints, grid=grid, seed=seed,
                           params0=params0, potential=pot)
    raise BiasflowError("the flow of all layers of this network is a non-smooth ODE (kinks crossing data points) "
                        "and is not solved; use --train output for the exact output-layer flow, or descent with a "
                        "small --lr")


__all__ = ["MirrorRun", "function_flow", "mirror_descent", "mirror_flow"]
