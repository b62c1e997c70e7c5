"""Training deep matrix factorizations W = W_L⋯W₁ on matrix tasks (completion, sensing, vector regression).

Three paths, for the square loss ℒ(W) = (1/2n)Σ(⟨A_i, W⟩ − b_i)² of :mod:`biasflow.matrix_data`:

- :func:`matrix_flow` with ``path="factors"``: gradient flow Ẇ_p = −∂ℒ/∂W_p on the factors, with the
  factor gradients (W_L⋯W_{p+1})ᵀ ∇ℒ(W) (W_{p−1}⋯W₁)ᵀ written out by hand (NumPy), solved by SciPy's
  DOP853 (rtol 1e-12 by default) stepped one step at a time, so that the loss is tracked in the log
  domain after every step and every requested loss level is located exactly (Brent's method on the
  dense output);
- :func:`matrix_flow` with ``path="riemannian"``: the end-to-end flow Ẇ = −L·A_W(∇ℒ(W)) on W alone, with
  A_W applied through the SVD (:func:`biasflow.geometry.riemannian_gradient`). It equals the factor flow
  from a balanced start (Menon 2024; Arora, Cohen & Hazan 2018) and is the second, independent path that
  the tests check against the first;
- :func:`matrix_descent`: gradient descent W_p ← W_p − η ∂ℒ/∂W_p as a compiled ``lax.scan`` (JAX
  autodiff), and :func:`descent_ensemble`: hundreds of such runs from different seeds in ONE compiled
  program (``vmap`` over the seeds), each run frozen at the first step where its loss is below the
  target. Ensembles use gradient descent with small steps, reported as descent, not flow: a vmapped
  adaptive ODE solver would make every run take the smallest step any run needs.

Every checkpoint records the geometry of W (:func:`biasflow.geometry.summary`: log-volume density,
orbit entropy, effective rank, nuclear norm, singular values) and the drift of the balancedness
invariants max_p ‖D_p(t) − D_p(0)‖_F, D_p = W_{p+1}ᵀW_{p+1} − W_pW_pᵀ (zero for exact gradient flow).

>>> from biasflow.matrix_data import menon_2x2
>>> from biasflow.models.matrix import MatrixFactorization
>>> tr = matrix_flow(MatrixFactorization(rows=2, depth=3, init_spec="balanced:eps=0.3"), menon_2x2(), until="1e-10")
>>> tr.status, [c.log10_loss for c in tr.checkpoints]
('ok', [-1.0, -2.0, -5.0, -10.0])
>>> tr.final.extra["balance_drift"] < 1e-9
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import DOP853
from scipy.optimize import brentq

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from ..geometry import riemannian_gradient, summary
from ..levels import default_checkpoints, parse_level
from ..matrix_data import MatrixTask
from ..trajectory import Checkpoint, DescentResult, Trajectory
from .clock import _single_thread_blas

PATHS = ("factors", "riemannian")


def _one_blas_thread(fn):
    """Run ``fn`` with single-threaded BLAS: the small SVDs and products here were measured 10× slower
    with threaded OpenBLAS on a busy machine (100×100 SVD: 128 ms vs 11 ms)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _single_thread_blas():
            return fn(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------------------------------ helpers
def _check(model, task) -> None:
    if not isinstance(task, MatrixTask):
        raise BiasflowError("the matrix model trains on a matrix task (biasflow.matrix_data: completion, "
                            "sensing, or a regression data set via from_dataset)")
    if tuple(model.shape) != tuple(task.shape):
        raise BiasflowError(f"the matrix model is {model.shape[0]}×{model.shape[1]} but the task's matrix is "
                            f"{task.shape[0]}×{task.shape[1]}; pass --rows/--cols to match")


def _level(value, what: str) -> float:
    if isinstance(value, str):
        return parse_level(value)
    if hasattr(value, "log10"):
        return float(value.log10)
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise BiasflowError(f"{what} = {value!r} is not a loss level; give a positive number such as '1e-12'")
    return math.log10(v)


def _levels(until, checkpoints, start: float) -> tuple[float, list[float]]:
    target = _level(until, "until")
    if checkpoints is None:
        levels = default_checkpoints(target)
    else:
        if isinstance(checkpoints, str):
            checkpoints = [c for c in checkpoints.split(",") if c.strip()]
        levels = [_level(c, "checkpoint") for c in checkpoints if _level(c, "checkpoint") >= target] + [target]
    return target, sorted({v for v in levels if v < start}, reverse=True)


def _product(factors: list[np.ndarray]) -> np.ndarray:
    W = factors[0]
    for f in factors[1:]:
        W = f @ W
    return W


def factor_gradients(factors: list[np.ndarray], G: np.ndarray) -> list[np.ndarray]:
    """∂ℒ/∂W_p = (W_L⋯W_{p+1})ᵀ G (W_{p−1}⋯W₁)ᵀ for G = ∇ℒ(W), by prefix and suffix products."""
    L = len(factors)
    pre = [np.eye(factors[0].shape[1])]
    for f in factors[:-1]:
        pre.append(f @ pre[-1])
    suf = [np.eye(factors[-1].shape[0])]
    for f in reversed(factors[1:]):
        suf.append(suf[-1] @ f)
    suf = suf[::-1]  # suf[p] = W_L⋯W_{p+2} (0-based p), suf[L-1] = I
    return [suf[p].T @ G @ pre[p].T for p in range(L)]


def balance(factors) -> list[np.ndarray]:
    return [np.asarray(factors[p + 1]).T @ np.asarray(factors[p + 1]) - np.asarray(factors[p]) @ np.asarray(
        factors[p]).T for p in range(len(factors) - 1)]


def _drift(factors, D0) -> float:
    if not D0:
        return 0.0
    return float(max(np.linalg.norm(a - b) for a, b in zip(balance(factors), D0, strict=True)))


# -------------------------------------------------------------------------------------------------- flow
@_one_blas_thread
def matrix_flow(model, task: MatrixTask, *, until="1e-12", checkpoints=None, path: str = "factors", seed=None,
                params0=None, rtol: float = 1e-12, atol: float | None = None, max_steps: int = 200_000,
                t_max: float = 1e15) -> Trajectory:
    """Gradient flow of the deep matrix factorization ``model`` on ``task`` down to the loss ``until``.

    Args:
        model: a :class:`~biasflow.models.matrix.MatrixFactorization`.
        task: a :class:`~biasflow.matrix_data.MatrixTask` of the same shape.
        until: target loss level (``"1e-12"``, a positive value or a ``Level``).
        checkpoints: loss levels to record (default 1e-1, 1e-2, 1e-5, 1e-10, … down to ``until``).
        path: ``"factors"`` (flow on W₁..W_L) or ``"riemannian"`` (Ẇ = −L·A_W(∇ℒ), from the product of the
            initial factors; exact for balanced starts only).
        seed / params0: the initialization (``model.init(seed)``, default the model's seed) or explicit
            factors.
        rtol, atol: DOP853 tolerances (atol default rtol·1e-2·max|W₀| over factors, at least 1e-300).
        max_steps: bound on solver steps (status ``max_steps`` beyond); t_max: bound on the flow time.

    Returns:
        A :class:`~biasflow.trajectory.Trajectory`; checkpoint ``predictor`` is the m×k matrix W, ``params``
        the factors, ``extra`` the geometry fields, ``balance_drift`` and ``t``. Status ``ok``,
        ``target_unreachable`` (a loss floor, or below float64 resolution: 1e-24 of the initial loss),
        ``max_steps`` or ``diverged``.
    """
    _check(model, task)
    if path not in PATHS:
        raise BiasflowError(f"unknown flow path {path!r}; choose one of {', '.join(PATHS)}")
    if not (0 < rtol < 1):
        raise BiasflowError(f"rtol must lie in (0, 1) (got {rtol!r})")
    t0 = time.perf_counter()
    if params0 is None:
        params0 = model.init(model.seed if seed is None else int(seed))
    model.check_params(params0)
    factors0 = [np.array(f, dtype=np.float64) for f in params0]
    shapes = [f.shape for f in factors0]
    sizes = [f.size for f in factors0]
    splits = np.cumsum(sizes)[:-1]
    L = len(factors0)
    D0 = balance(factors0)

    def unpack(y):
        return [p.reshape(s) for p, s in zip(np.split(y, splits), shapes, strict=True)]

    if path == "factors":
        y0 = np.concatenate([f.ravel() for f in factors0])

        def W_of(y):
            return _product(unpack(y))

        def rhs(t, y):
            fs = unpack(y)
            G = task.grad(_product(fs))
            return -np.concatenate([g.ravel() for g in factor_gradients(fs, G)])
    else:
        W0 = _product(factors0)
        y0 = W0.ravel()

        def W_of(y):
            return y.reshape(task.shape)

        def rhs(t, y):
            W = y.reshape(task.shape)
            return -L * riemannian_gradient(W, L, task.grad(W)).ravel()

    def logloss(y):
        return task.log10_loss(W_of(y))

    start = logloss(y0)
    target, levels = _levels(until, checkpoints, start)
    floor = task.floor_log10()
    limit = task.level0_log10() - 24.0
    note = ""
    if floor is None and target < limit:
        floor, note = limit, ("square-loss residuals below 1e-12 of |b| are not resolvable in float64; levels "
                              f"below 1e{limit:.4g} are out of reach")
    elif floor is not None:
        note = "the measurements are not fit exactly by any matrix: the least-squares residual is a floor"
    reachable = [v for v in levels if floor is None or v > floor]
    if atol is None:
        atol = max(rtol * 1e-2 * max(1e-300, float(np.max(np.abs(y0)))), 1e-300)
    solver = DOP853(rhs, 0.0, y0, t_bound=t_max, rtol=rtol, atol=atol)
    cps: list[Checkpoint] = []

    def record(t, y, level):
        W = W_of(y)
        extra = summary(W, L)
        if path == "factors":
            fs = unpack(y)
            extra["balance_drift"] = _drift(fs, D0)
            params = tuple(fs)
        else:
            params = None
        extra["t"] = float(t)
        cps.append(Checkpoint(log10_loss=float(level), log10_time=math.log10(t) if t > 0 else -math.inf,
                              params=params, predictor=np.array(W), extra=extra))

    status, message = "ok", ""
    pending = list(reachable)
    prev_t, prev_l = 0.0, start
    steps = 0
    while pending:
        if steps >= max_steps:
            status, message = "max_steps", f"stopped after {steps} solver steps at loss 1e{prev_l:.4g}"
            break
        msg = solver.step()
        steps += 1
        if solver.status == "failed":
            status, message = "diverged", f"the ODE solver failed: {msg}"
            break
        t, y = solver.t, solver.y
        if not np.all(np.isfinite(y)):
            status, message = "diverged", f"non-finite state at t = {t:.3g}"
            break
        lcur = logloss(y)
        if lcur <= pending[0]:
            dense = solver.dense_output()
            while pending and lcur <= pending[0]:
                lv = pending.pop(0)
                f = lambda s, lv=lv, dense=dense: logloss(dense(s)) - lv
                ts = brentq(f, prev_t, t, xtol=1e-14 * max(1.0, t), rtol=4 * np.finfo(float).eps) \
                    if f(prev_t) > 0 else prev_t
                record(ts, dense(ts), lv)
        prev_t, prev_l = t, lcur
        if solver.status == "finished" and pending:
            status = "target_unreachable" if floor is not None else "max_steps"
            message = f"flow time t_max = {t_max:g} reached at loss 1e{lcur:.4g}"
            break
    if status == "ok" and len(cps) < len(levels):
        status = "target_unreachable"
        message = f"{note}: 1e{floor:.6g} (reached every level above it)"
    elif status == "ok":
        message = f"reached loss 1e{levels[-1]:.6g}" if levels else "the initial loss is already below the target"
    stats = {"steps": steps, "nfev": int(solver.nfev), "seconds": time.perf_counter() - t0, "path": path}
    cfg = {**model.config(), **task.config()}
    return Trajectory(status=status, checkpoints=cps, message=message, method=f"flow:{path}", loss="square",
                      model=cfg, floor_log10=floor if status == "target_unreachable" else None, stats=stats)


# ------------------------------------------------------------------------------------------ descent (JAX)

def _jax_loss_fn(model, task: MatrixTask):
    """ℒ(params) as a JAX function of the factors, with the data closed over as constants."""
    n = float(task.n)
    if task.kind == "completion":
        mask = jnp.asarray(task.mask, jnp.float64)
        vals = jnp.asarray(task.values)

        def loss(params):
            r = mask * (model.matrix(params) - vals)
            return 0.5 * jnp.sum(r * r) / n
    else:
        A = jnp.asarray(task.A)
        b = jnp.asarray(task.b)

        def loss(params):
            r = jnp.tensordot(A, model.matrix(params), axes=([1, 2], [0, 1])) - b
            return 0.5 * jnp.sum(r * r) / n
    return loss


def _masked_steps(loss, lr, target_log10, chunk: int):
    """A function running ``chunk`` GD steps on one run (vmap it for many).

    A run stops (its state frozen) at the first state whose loss is ≤ 10^target, or once it has taken
    ``kmax`` steps. A state whose loss is non-finite or above 10^cap (divergence) is undone: the run goes
    back to the previous state, the last one with a finite loss, and is marked diverged.
    Returns (params, prev, done, diverged, steps_taken, log10 loss of each visited state)."""
    vg = jax.value_and_grad(loss)

    def body(carry, _):
        params, prev, done, bad, k, kmax, cap = carry
        val, g = vg(params)
        l10 = jnp.log10(val)
        ok = jnp.isfinite(l10) & (l10 <= cap) & jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in g]))
        live = ~(done | bad)
        blow = live & ~ok
        reached = live & ok & (l10 <= target_log10)
        limit = live & ok & (k >= kmax)
        move = live & ok & ~reached & ~limit
        new = jax.tree_util.tree_map(
            lambda p, q, pr: jnp.where(move, p - lr * q, jnp.where(blow, pr, p)), params, g, prev)
        prev2 = jax.tree_util.tree_map(lambda p, pr: jnp.where(move, p, pr), params, prev)
        k2 = k + jnp.where(move, 1, 0) - jnp.where(blow & (k > 0), 1, 0)
        done2 = done | reached | limit
        return (new, prev2, done2, bad | blow, k2, kmax, cap), jnp.where(live, l10, jnp.nan)

    def run(params, prev, done, bad, k, kmax, cap):
        (params, prev, done, bad, k, _, _), l10 = jax.lax.scan(
            body, (params, prev, done, bad, k, kmax, cap), None, length=chunk)
        return params, prev, done, bad, k, l10

    return run


@functools.lru_cache(maxsize=32)
def _compiled_single(model, task, lr, target_log10, chunk):
    return jax.jit(_masked_steps(_jax_loss_fn(model, task), lr, target_log10, chunk))


@_one_blas_thread
def matrix_descent(model, task: MatrixTask, *, lr: float, steps: int, until=None, record_every: int | None = None,
                   seed=None, params0=None, divergence_decades: float = 30.0) -> DescentResult:
    """Gradient descent W_p ← W_p − η ∂ℒ/∂W_p for at most ``steps`` steps (or until the loss is ≤ ``until``).

    The loss before every step is kept in ``history["log10_loss"]``; every ``record_every`` steps (default
    ``steps``/20) and at the end ``history["checkpoints"]`` gets the step, the log10 loss, the geometry
    fields and the balancedness drift. Status ``ok`` (ran all steps or reached ``until``), ``diverged``
    (the loss became non-finite or rose ``divergence_decades`` decades above max(ℒ₀, 1): the last state
    with a finite loss is returned, and no history holds NaN).
    """
    _check(model, task)
    if not (isinstance(steps, (int, np.integer)) and steps >= 0):
        raise BiasflowError(f"steps must be a non-negative integer (got {steps!r})")
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise BiasflowError(f"the learning rate must be positive and finite (got {lr!r})")
    target = -math.inf if until is None else _level(until, "until")
    every = max(1, int(record_every or max(1, steps // 20)))
    if params0 is None:
        params0 = model.init(model.seed if seed is None else int(seed))
    model.check_params(params0)
    params = tuple(jnp.asarray(p, jnp.float64) for p in params0)
    D0 = balance([np.asarray(p) for p in params])
    run = _compiled_single(model, task, lr, float(target), every)
    done, bad, k = jnp.asarray(False), jnp.asarray(False), jnp.asarray(0)
    prev = params
    cap = jnp.asarray(max(task.log10_loss(np.asarray(model.matrix(params))), 0.0) + divergence_decades)
    losses: list[np.ndarray] = []
    cps: list[dict] = []

    def record():
        if cps and cps[-1]["step"] == int(k):
            return
        W = np.asarray(model.matrix(params))
        row = {"step": int(k), "log10_loss": task.log10_loss(W), **summary(W, model.depth),
               "balance_drift": _drift([np.asarray(p) for p in params], D0)}
        cps.append(row)

    record()
    while not bool(done) and not bool(bad):
        params, prev, done, bad, k, l10 = run(params, prev, done, bad, k, jnp.asarray(steps), cap)
        l10 = np.asarray(l10)
        losses.append(l10[np.isfinite(l10) & (l10 <= float(cap))])
        record()
    W = np.asarray(model.matrix(params))
    l10_all = np.concatenate(losses) if losses else np.zeros(0)
    l10_all = np.concatenate([l10_all[: int(k)], [task.log10_loss(W)]])   # before each step, then the last state
    status = "diverged" if bool(bad) else "ok"
    if status == "diverged":
        message = (f"diverged after {int(k)} steps (the loss became non-finite or rose {divergence_decades:g} "
                   "decades above the start); the last finite state is kept")
    elif math.isfinite(target) and l10_all[-1] <= target:
        message = f"reached loss 1e{target:.6g} after {int(k)} steps"
    else:
        message = f"ran {int(k)} steps; loss 1e{l10_all[-1]:.4g}"
    with np.errstate(under="ignore"):
        loss_values = np.power(10.0, l10_all)
    return DescentResult(status=status, steps=int(k), loss=loss_values, params=tuple(np.asarray(p) for p in params),
                         predictor=W, message=message,
                         history={"log10_loss": l10_all, "checkpoints": cps})


# -------------------------------------------------------------------------------------------- ensembles
@dataclasses.dataclass(frozen=True, eq=False)
class EnsembleResult:
    """Outcomes of a batch of gradient-descent runs that differ only in their initialization seed.

    Attributes:
        seeds: (R,) the seeds; W: (R, m, k) the final end-to-end matrices; log10_loss: (R,) final losses;
        steps: (R,) steps taken by each run (solver steps for flows); status: per run ``ok`` (reached the
        target), ``max_steps`` or ``diverged``; lr, until: the step size (0 for flows) and target;
        method: ``descent`` or ``flow``; times: (R,) flow times at the target (flows only).
    """

    seeds: np.ndarray
    W: np.ndarray
    log10_loss: np.ndarray
    steps: np.ndarray
    status: list[str]
    lr: float
    until_log10: float
    seconds: float = 0.0
    method: str = "descent"
    times: np.ndarray | None = None

    def rows(self) -> list[dict]:
        """One dict per run (for the results store): ``predictor`` is vec(W) row-major, with ``rows``/``cols``."""
        out = []
        for i in range(len(self.seeds)):
            W = self.W[i]
            s = np.linalg.svd(W, compute_uv=False)
            out.append({"seed": int(self.seeds[i]), "dynamics": self.method, "status": self.status[i],
                        "steps": int(self.steps[i]),
                        "log10_loss": float(self.log10_loss[i]), "predictor": W.ravel().tolist(),
                        "rows": int(W.shape[0]), "cols": int(W.shape[1]), "singular_values": s.tolist()})
            if self.times is not None:
                out[-1]["log10_time"] = math.log10(float(self.times[i])) if self.times[i] > 0 else -math.inf
        return out


@functools.lru_cache(maxsize=32)
def _compiled_batch(model, task, lr, target_log10, chunk):
    return jax.jit(jax.vmap(_masked_steps(_jax_loss_fn(model, task), lr, target_log10, chunk)))


def descent_ensemble(model, task: MatrixTask, *, lr: float, seeds, until="1e-12", max_steps: int = 1_000_000,
                     chunk: int = 2000) -> EnsembleResult:
    """R gradient-descent runs from ``model.init(seed)`` for each seed, in one compiled, vmapped program.

    Each run is frozen at the first step whose loss is ≤ ``until`` (so it stops exactly where a single run
    would); all runs advance together in chunks of ``chunk`` steps until every run has stopped or
    ``max_steps`` is reached. ``seeds``: an int R (seeds 0..R−1) or a sequence of ints.
    """
    _check(model, task)
    seeds = np.arange(int(seeds)) if np.ndim(seeds) == 0 else np.asarray(seeds, dtype=np.int64)
    if seeds.size == 0:
        raise BiasflowError("descent_ensemble needs at least one seed")
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise BiasflowError(f"the learning rate must be positive and finite (got {lr!r})")
    target = _level(until, "until")
    t0 = time.perf_counter()
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    params = jax.vmap(model.init)(keys)
    R = seeds.size
    done, bad, k = jnp.zeros(R, bool), jnp.zeros(R, bool), jnp.zeros(R, jnp.int64)
    run = _compiled_batch(model, task, lr, float(target), int(chunk))
    prev = params
    l0 = max(task.log10_loss(np.asarray(model.matrix(jax.tree_util.tree_map(lambda x: x[0], params)))), 0.0)
    cap = jnp.full(R, l0 + 30.0)
    total = 0
    while total < max_steps:
        params, prev, done, bad, k, _ = run(params, prev, done, bad, k, jnp.full(R, max_steps), cap)
        total += chunk
        if bool(jnp.all(done | bad)):
            break
    Ws = np.asarray(jax.vmap(model.matrix)(params))
    l10 = np.array([task.log10_loss(W) for W in Ws])
    done, bad = np.asarray(done), np.asarray(bad)
    status = ["diverged" if b else ("ok" if d else "max_steps") for d, b in zip(done, bad, strict=True)]
    return EnsembleResult(seeds=seeds, W=Ws, log10_loss=l10, steps=np.asarray(k), status=status, lr=lr,
                          until_log10=target, seconds=time.perf_counter() - t0)


GEOMETRY_FIELDS = ("log_volume", "entropy", "effective_rank", "nuclear_norm", "singular_values")


def trajectory_json(traj: Trajectory) -> dict:
    """``traj.to_json()`` with each checkpoint's predictor as the m×k matrix W (a list of rows) and its
    geometry fields, balancedness drift and flow time ``t``."""
    out = traj.to_json()
    for c, cp in zip(out["checkpoints"], traj.checkpoints, strict=True):
        c["predictor"] = np.asarray(cp.predictor, dtype=float).tolist()
        for key in (*GEOMETRY_FIELDS, "balance_drift", "t"):
            if key in cp.extra:
                c[key] = cp.extra[key]
    return out


def descent_json(res: DescentResult) -> dict:
    """``res.to_json()`` with W as a list of rows and the recorded checkpoints (step, loss, geometry)."""
    out = res.to_json()
    out["predictor"] = np.asarray(res.predictor, dtype=float).tolist()
    out["checkpoints"] = list(res.history.get("checkpoints", []))
    return out


@functools.lru_cache(maxsize=16)
def _compiled_flow_batch(model, task, target_log10, rtol, atol, t_max, max_steps):
    import diffrax
    import optimistix as optx

    loss = _jax_loss_fn(model, task)
    grad = jax.grad(loss)

    def field(t, y, args):
        return jax.tree_util.tree_map(jnp.negative, grad(y))

    def level(t, y, args, **kwargs):
        return jnp.log10(loss(y)) - target_log10

    event = diffrax.Event(level, root_finder=optx.Newton(rtol=1e-10, atol=1e-10))

    def solve(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field), diffrax.Dopri8(), t0=0.0, t1=t_max, dt0=None, y0=y0,
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol), event=event, max_steps=max_steps,
            saveat=diffrax.SaveAt(t1=True), throw=False)
        # the root finder may report "max steps" although it located the level: the level is checked below
        fired = jnp.any(jnp.stack(jax.tree_util.tree_leaves(sol.event_mask)))
        return jax.tree_util.tree_map(lambda x: x[0], sol.ys), sol.ts[0], fired, sol.stats["num_steps"]

    return jax.jit(jax.vmap(solve))


@_one_blas_thread
def flow_ensemble(model, task: MatrixTask, *, seeds, until="1e-12", rtol: float = 1e-10, atol: float = 1e-12,
                  t_max: float = 1e7, max_steps: int = 100_000) -> EnsembleResult:
    """R gradient FLOWS (one per seed) in one compiled, vmapped program: diffrax's adaptive Dopri8 with a PID
    step-size controller (each run keeps its own step size), stopped by an event at the exact loss level
    ``until`` (Newton root finding on log10 ℒ). Agrees with :func:`matrix_flow` (SciPy DOP853) at the
    target to ~1e-11 on the 2×2 problem. Runs that reach ``t_max`` or ``max_steps`` first get status
    ``max_steps``."""
    _check(model, task)
    seeds = np.arange(int(seeds)) if np.ndim(seeds) == 0 else np.asarray(seeds, dtype=np.int64)
    if seeds.size == 0:
        raise BiasflowError("flow_ensemble needs at least one seed")
    if not (0 < rtol < 1):
        raise BiasflowError(f"rtol must lie in (0, 1) (got {rtol!r})")
    target = _level(until, "until")
    t0 = time.perf_counter()
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    params = jax.vmap(model.init)(keys)
    solve = _compiled_flow_batch(model, task, float(target), float(rtol), float(atol), float(t_max), int(max_steps))
    ys, ts, ok, nsteps = solve(params)
    Ws = np.asarray(jax.vmap(model.matrix)(ys))
    l10 = np.array([task.log10_loss(W) for W in Ws])
    ok = np.asarray(ok) & (np.abs(l10 - target) <= 1e-6)    # the event fired AT the level (checked in NumPy)
    status = ["ok" if o else "max_steps" for o in ok]
    return EnsembleResult(seeds=seeds, W=Ws, log10_loss=l10, steps=np.asarray(nsteps), status=status, lr=0.0,
                          until_log10=target, seconds=time.perf_counter() - t0, method="flow",
                          times=np.asarray(ts))


__all__ = [
    "GEOMETRY_FIELDS", "PATHS", "EnsembleResult", "balance", "descent_ensemble", "descent_json", "factor_gradients",
    "flow_ensemble", "matrix_descent", "matrix_flow", "trajectory_json",
]
