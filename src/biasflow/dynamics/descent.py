"""Gradient descent and mini-batch SGD at any learning rate, as compiled ``jax.lax.scan`` loops.

θ_{k+1} = θ_k − η_k ∇ℒ_{B_k}(θ_k), with ℒ the MEAN loss over the batch B_k (all n examples for GD, a random
subset of ``batch_size`` examples drawn without replacement at every step for SGD) and η_k = η·m(k) for a
schedule m (:mod:`biasflow.dynamics.schedules`). Works for any model of the protocol
(:mod:`biasflow.models.base`): the outputs are f = ``model.apply(θ, X)`` (Xβ(θ) for linear models),
and the gradient is one VJP of f with the loss residuals as cotangent, so the logistic
σ is evaluated through tanh and nothing is special-cased per model.

What a run records (docs/theory/numerics.md §2.1, large-steps.md §5):

- the loss before every step in the log domain (``history["log10_loss"]``, exact below 1e-308) and as
  float64 values (``loss``, the CLI contract);
- the sharpness λ_max(∇²ℒ) every M steps from step 0 and at the final state, by Lanczos on
  Hessian-vector products (:mod:`biasflow.dynamics.curvature`), and with ``ntk=True`` the top NTK eigenvalue
  at the same steps;
- per step: the rate used (``lr``) and, for classification, the minimum margin and the normalized ℓ2/ℓ1
  margins of β (implicit-bias metrics along the GD path);
- with ``effective_init=True``: Σ_j η_j g_j, with g_j = ∇_βℒ_{B_j}, and the gains Σ_j q(η_j g_j),
  Σ_j q_±(η_j g_j) of Even et al. 2023 (docs/theory/diagonal.md §3.8).

**Divergence is a result.** When the parameters or the loss become non-finite, or the loss exceeds the
initial loss by ``divergence_decades`` decades (default 30, with the initial loss floored at 1), the run
stops with status ``diverged``; ``steps`` is the number of good steps, the parameters and β are the last
finite state, and no history holds NaN.

>>> from biasflow.data import gaussian
>>> from biasflow.losses import LOGISTIC
>>> from biasflow.models import Diagonal
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> res = descent(Diagonal(d=30, depth=2, alpha=0.5), ds, LOGISTIC, lr=1.0, steps=200)
>>> res.status, len(res.loss), bool(res.loss[-1] < res.loss[0])
('ok', 201, True)
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .. import _jax  # noqa: F401
from ..data import Dataset
from ..errors import BiasflowError
from ..fmt import log10_text
from ..losses import Loss, get_loss
from ..models.base import bind_data, is_linear
from ..trajectory import DescentResult
from .curvature import lanczos_top
from .schedules import parse_schedule

LN10 = math.log(10.0)

_OPTIONS = ("lanczos_iters", "ntk", "divergence_decades", "effective_init", "params0", "bias_metrics")


def _is_linear(model) -> bool:
    return is_linear(model)


def _outputs(model, params, X):
    return model.apply(params, X)


def _tree_finite(tree) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _q(x):
    """Even et al.'s q(x) = −½ log((1 − x²)²) and q_±(x) = ∓2x − log((1 ∓ x)²) (docs/theory/diagonal.md §3.8)."""
    q = -jnp.log(jnp.abs(1.0 - x * x))
    qp = -2.0 * x - 2.0 * jnp.log(jnp.abs(1.0 - x))
    qm = 2.0 * x - 2.0 * jnp.log(jnp.abs(1.0 + x))
    return q, qp, qm


@functools.lru_cache(maxsize=64)
def _compiled(model, loss: Loss, task: str, n: int, steps: int, every: int, batch: int, sched_spec: str,
              iters: int, ntk: bool, decades: float, eff: bool, batched: str):
    """Build (and jit) the training loop for one configuration; cached on the configuration."""
    sched = parse_schedule(sched_spec, steps=steps)
    cls = task == "classification"
    linear = _is_linear(model)
    kind = sched.kind
    full = batch >= n

    def zf(f, y):
        return y * f if cls else f

    def log_loss(f, y):
        return loss.log_mean(zf(f, y), y)

    def mean_loss(params, X, y):
        return jnp.mean(loss.value(zf(_outputs(model, params, X), y), y))

    def step_dir(params, Xb, yb):
        """(direction d with θ' = θ − η d, f on the batch, g_β): ∇ℒ_B or ∇log ℒ_B by one VJP."""
        fb, vjp = jax.vjp(lambda p: _outputs(model, p, Xb), params)
        z = zf(fb, yb)
        if kind == "step":
            r = loss.residual(z, yb) / yb.shape[0]
        else:
            r = loss.weights(z, yb)
        cot = -(yb * r) if cls else -r
        (g,) = vjp(cot)
        gbeta = Xb.T @ cot if (eff and linear) else None
        return g, fb, gbeta

    def one_step(carry, k, X, y, lr, log_thresh):
        """Check θ_k (record its loss), then step to θ_{k+1} unless k ≥ K (masked iterations only check)."""
        params, prev, alive, ndone, key, acc = carry
        key, sub = jax.random.split(key)
        if full:
            g, f, gbeta = step_dir(params, X, y)
        else:
            idx = jax.random.choice(sub, n, (batch,), replace=False)
            g, _, gbeta = step_dir(params, X[idx], y[idx])
            f = _outputs(model, params, X)
        logl = log_loss(f, y)
        bad = jnp.isnan(logl) | (logl > log_thresh) | ~_tree_finite(params)
        checking = k <= steps
        now_alive = alive & ~(bad & checking)
        # a state found bad is replaced by the previous (last good) one, and the run freezes there
        params = jax.tree_util.tree_map(lambda a, b: jnp.where(now_alive | ~alive, a, b), params, prev)
        move = now_alive & (k < steps)
        eta = lr * sched.mult(k)
        if kind == "normalized":
            gn = sum(jnp.vdot(x, x) for x in jax.tree_util.tree_leaves(g))
            eta = eta / jnp.where(gn > 0, gn, 1.0)
        new = jax.tree_util.tree_map(lambda p, d: jnp.where(move, p - eta * d, p), params, g)
        if eff and linear:
            q, qp, qm = _q(eta * gbeta)
            upd = (eta * gbeta, q, qp, qm)
            acc = tuple(jnp.where(move, a + u, a) for a, u in zip(acc, upd, strict=True))
        zmin = jnp.min(zf(f, y)) if cls else jnp.nan
        if linear and cls:
            beta = model.predictor(params)
            rec = (logl, eta, zmin, zmin / jnp.linalg.norm(beta), zmin / jnp.sum(jnp.abs(beta)))
        else:
            rec = (logl, eta, zmin, jnp.nan, jnp.nan)
        good = now_alive & checking
        rec = tuple(jnp.where(good, v, jnp.nan) for v in rec)
        ndone = ndone + good.astype(jnp.int32)
        return (new, params, now_alive, ndone, key, acc), rec

    def curv(params, X, y, vs, vn):
        flat, unravel = ravel_pytree(params)
        mv = lambda v: ravel_pytree(
            jax.jvp(jax.grad(lambda p: mean_loss(p, X, y)), (params,), (unravel(v),))[1])[0]
        s, vs = lanczos_top(mv, vs, iters)
        lam = jnp.nan
        if ntk:
            fn = lambda p: _outputs(model, p, X)
            f, vjp = jax.vjp(fn, params)

            def mvn(u):
                (jt,) = vjp(u)
                return jax.jvp(fn, (params,), (jt,))[1] / n

            lam, vn = lanczos_top(mvn, vn, iters)
        beta = model.predictor(params) if linear else jnp.zeros(0)
        return (s, lam, beta), vs, vn

    def run(params0, lr, key, X, y):
        f0 = _outputs(model, params0, X)
        log0 = log_loss(f0, y)
        log_thresh = jnp.maximum(log0, 0.0) + decades * LN10
        d = X.shape[1]
        acc0 = (jnp.zeros(d), jnp.zeros(d), jnp.zeros(d), jnp.zeros(d)) if (eff and linear) else ()
        carry = (params0, params0, jnp.asarray(True), jnp.asarray(0, jnp.int32), key, acc0)
        body = lambda c, k: one_step(c, k, X, y, lr, log_thresh)
        curv_hist = None
        if every >= steps:
            # curvature at the start and at the end only (phase maps): no block structure, no wasted steps
            flat0, _ = ravel_pytree(params0)
            kv = jax.random.split(jax.random.fold_in(key, 7))
            vs, vn = jax.random.normal(kv[0], flat0.shape), jax.random.normal(kv[1], (n,))
            c0, vs, vn = curv(params0, X, y, vs, vn)
            carry, recs = jax.lax.scan(body, carry, jnp.arange(steps + 1))
            c1, _, _ = curv(carry[0], X, y, vs, vn)
            curv_hist = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), c0, c1)
        elif every > 0:
            # ceil(K/M) + 1 blocks of M iterations, the curvature at the start of each: at steps 0, M, 2M, …
            # and, in the last block (whose iterations only check the final state), at step K.
            nblocks = -(-steps // every) + 1
            flat0, _ = ravel_pytree(params0)
            kv = jax.random.split(jax.random.fold_in(key, 7))
            vs = jax.random.normal(kv[0], flat0.shape)
            vn = jax.random.normal(kv[1], (n,))

            def block(state, j):
                c, vs, vn = state
                rec_c, vs, vn = curv(c[0], X, y, vs, vn)
                c, recs = jax.lax.scan(body, c, j * every + jnp.arange(every))
                return (c, vs, vn), (rec_c, recs)

            (carry, _, _), (curv_hist, recs) = jax.lax.scan(block, (carry, vs, vn), jnp.arange(nblocks))
            recs = tuple(r.reshape(-1)[: steps + 1] for r in recs)
        else:
            carry, recs = jax.lax.scan(body, carry, jnp.arange(steps + 1))
        params, prev, alive, ndone, key, acc = carry
        return dict(params=params, ndone=ndone, recs=recs, curv_hist=curv_hist, acc=acc, log0=log0)

    if batched == "vmap":
        return jax.jit(jax.vmap(run, in_axes=(None, 0, None, None, None)))
    if batched == "map":
        return jax.jit(lambda p, lrs, key, X, y: jax.lax.map(lambda lr: run(p, lr, key, X, y), lrs))
    return jax.jit(run)


def _validate(model, data, loss, lr, steps, batch_size, every, decades):
    if not isinstance(data, Dataset):
        raise BiasflowError("data must be a biasflow Dataset (see biasflow.data)")
    if loss.task != data.task:
        raise BiasflowError(f"loss {loss.name!r} is for {loss.task} but the data are for {data.task}")
    if getattr(model, "d", data.d) != data.d:
        raise BiasflowError(f"the model expects inputs of dimension {model.d} but the data have d = {data.d}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise BiasflowError(f"steps must be an integer ≥ 1 (got {steps!r}); pass e.g. --steps 1000")
    lrs = np.atleast_1d(np.asarray(lr, dtype=float)) if not isinstance(lr, str) else None
    if lrs is None or lrs.size == 0 or not np.all(np.isfinite(lrs) & (lrs > 0)):
        raise BiasflowError(
            f"the learning rate must be a positive finite number (got {lr!r}); pass e.g. --lr 0.1")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise BiasflowError(f"batch size must be an integer ≥ 1 (got {batch_size!r})")
        if batch_size > data.n:
            raise BiasflowError(
                f"batch size {batch_size} is larger than the number of examples n = {data.n}; "
                f"use --batch-size between 1 and {data.n} (or omit it for full-batch GD)")
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 0:
        raise BiasflowError(f"sharpness_every must be an integer ≥ 0 (got {every!r}); 0 turns it off")
    if not (math.isfinite(decades) and decades > 0):
        raise BiasflowError(f"divergence_decades must be > 0 (got {decades!r})")


def _prepare(model, data, loss, lr, steps, schedule, batch_size, sharpness_every, seed, options):
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise BiasflowError(f"descent has no option {unknown[0]!r}; options: {', '.join(_OPTIONS)}")
    loss = get_loss(loss)
    decades = float(options.get("divergence_decades", 30.0))
    _validate(model, data, loss, lr, steps, batch_size, sharpness_every, decades)
    sched = parse_schedule(schedule, steps=int(steps))
    iters = int(options.get("lanczos_iters", 10))
    if iters < 1:
        raise BiasflowError(f"lanczos_iters must be ≥ 1 (got {iters})")
    batch = data.n if batch_size is None else int(batch_size)
    key = jax.random.PRNGKey(int(seed))
    params0 = options.get("params0")
    if params0 is None:
        params0 = model.init(jax.random.fold_in(key, 0))
    params0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params0)
    args = (model, loss, data.task, data.n, int(steps), int(sharpness_every), batch, sched.spec(), iters,
            bool(options.get("ntk", False)), decades, bool(options.get("effective_init", False)))
    return loss, sched, params0, jax.random.fold_in(key, 1), args


def _result(out, model, data, loss, sched, steps, every, lr, batch_size, options) -> DescentResult:
    out = jax.tree_util.tree_map(np.asarray, out)
    linear = _is_linear(model)
    ndone = int(out["ndone"])          # good states among θ_0..θ_K (they come first: a run never revives)
    nsteps = max(ndone - 1, 0)
    diverged = ndone < steps + 1
    logl, eta, zmin, m2, m1 = (np.asarray(r, float) for r in out["recs"])
    logl = logl[: nsteps + 1] if ndone else np.array([float(out["log0"])])
    log10 = logl / LN10
    params = out["params"]
    beta = np.asarray(model.predictor(params)) if linear else np.zeros(0)
    history: dict = {"log10_loss": log10, "lr": eta[:nsteps]}
    if data.task == "classification":
        history["margin_min"] = zmin[: nsteps + 1]
        if linear:
            history["margin_l2"] = m2[: nsteps + 1]
            history["margin_l1"] = m1[: nsteps + 1]
    if options.get("bias_metrics", False) and data.task == "classification" and linear:
        _bias_gaps(history, data)
    sharp = np.zeros(0)
    if every > 0:
        s_hist, n_hist, b_hist = out["curv_hist"]
        at = np.minimum(np.arange(len(s_hist)) * every, steps)
        keep = np.flatnonzero(at < nsteps)
        last = int(np.searchsorted(at, nsteps))          # the first block that starts at the final state
        idx = np.concatenate([keep, [last]])
        sharp = np.asarray(s_hist)[idx]
        history["sharpness_step"] = np.concatenate([at[keep], [nsteps]]).astype(int)
        if options.get("ntk", False):
            history["ntk"] = np.asarray(n_hist)[idx]
        if linear:
            history["beta"] = np.asarray(b_hist)[idx]
    if options.get("effective_init", False) and linear:
        s, q, qp, qm = out["acc"]
        history.update(sum_step_grad=s, gain=q, gain_plus=qp, gain_minus=qm)
    if diverged:
        status = "diverged"
        msg = (f"diverged at step {nsteps + 1} (loss non-finite or more than "
               f"{options.get('divergence_decades', 30):g} decades above its initial value); "
               f"the last finite state (after {nsteps} steps) is kept")
    else:
        status = "ok"
        msg = f"{nsteps} steps, loss {log10_text(log10[0], 4)} → {log10_text(log10[-1], 4)}"
    history["schedule"] = sched.spec()
    history["batch_size"] = data.n if batch_size is None else int(batch_size)
    return DescentResult(status=status, steps=nsteps, loss=np.exp(logl), params=params, predictor=beta,
                         sharpness=sharp, message=msg, history=history)


def _bias_gaps(history: dict, data: Dataset) -> None:
    """Implicit-bias metrics along the GD path (separable data): the normalized-margin gaps
    1 − γ_p(β_k)/γ_p* to the ℓ1 and ℓ2 max-margin predictors (docs/theory/certificates.md §7), per step."""
    from ..bias.margins import max_margin

    for p in ("l1", "l2"):
        try:
            star = max_margin(data, p).margin
        except BiasflowError as e:          # non-separable data: no max-margin predictor
            history["bias_metrics"] = f"not available: {e}"
            return
        history[f"gap_{p}"] = 1.0 - history[f"margin_{p}"] / star
        history[f"gamma_{p}_star"] = star


def descent(model, data: Dataset, loss, *, lr, steps: int, schedule=None, batch_size: int | None = None,
            sharpness_every: int = 0, seed: int = 0, **options) -> DescentResult:
    """Run gradient descent (or SGD) and return a :class:`~biasflow.trajectory.DescentResult`.

    Args:
        model: any model of the protocol (``init``, ``apply``; ``predictor`` when linear).
        data: the training set; loss: ``"exp"``, ``"logistic"``, ``"square"`` or a :class:`Loss`.
        lr: base learning rate η > 0 (the peak rate of a schedule).
        steps: number of steps K ≥ 1.
        schedule: a :class:`Schedule` or its CLI form ``NAME[:k=v,...]`` (default constant).
        batch_size: mini-batch size b ≤ n for SGD (default: full batch, i.e. GD).
        sharpness_every: M > 0 records the sharpness every M steps from step 0 and at the final state.
        seed: seeds the initialization (random models) and the mini-batches.
        **options: ``lanczos_iters`` (10, each warm-started from the previous Ritz vector),
            ``ntk`` (False: also track λ_max of the NTK),
            ``divergence_decades`` (30), ``effective_init`` (False: Even et al. accumulators),
            ``params0`` (start from these parameters instead of ``model.init``), ``bias_metrics``
            (False: per-step gaps to the ℓ1/ℓ2 max-margin predictors, separable classification data).
    """
    model = bind_data(model, data) if isinstance(data, Dataset) else model
    loss, sched, params0, key, args = _prepare(model, data, loss, lr, steps, schedule, batch_size,
                                               sharpness_every, seed, options)
    fn = _compiled(*args, "none")
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    out = fn(params0, jnp.asarray(float(lr)), key, X, y)
    return _result(out, model, data, loss, sched, steps, sharpness_every, lr, batch_size, options)


def descent_many(model, data: Dataset, loss, *, lrs, steps: int, schedule=None, batch_size: int | None = None,
                 sharpness_every: int = 0, seed: int = 0, batching: str = "vmap",
                 **options) -> list[DescentResult]:
    """:func:`descent` for a grid of learning rates in one compiled run.

    All runs share the initialization (``seed``) and, for SGD, the mini-batch sequence; each gets its own
    status, so one diverging rate does not disturb the others.

    ``batching="vmap"`` (default) vectorizes over η — the fast choice on a GPU; ``"map"`` runs the rates one
    after the other inside the same compiled program (``lax.map``), which on a CPU is often faster because
    the batched small matrix products vectorize poorly there (see ``benchmarks/bench_lr.py``).

    >>> from biasflow.data import gaussian
    >>> from biasflow.models import Diagonal
    >>> ds = gaussian(n=8, d=5, k=1, task="regression", seed=1)
    >>> rs = descent_many(Diagonal(d=5, alpha=1.0), ds, "square", lrs=[0.01, 0.1, 100.0], steps=50)
    >>> [r.status for r in rs]
    ['ok', 'ok', 'diverged']
    """
    model = bind_data(model, data) if isinstance(data, Dataset) else model
    if batching not in ("vmap", "map"):
        raise BiasflowError(f"batching must be 'vmap' or 'map' (got {batching!r})")
    lrs = np.atleast_1d(np.asarray(lrs, dtype=float))
    loss, sched, params0, key, args = _prepare(model, data, loss, lrs, steps, schedule, batch_size,
                                               sharpness_every, seed, options)
    fn = _compiled(*args, batching)
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    out = fn(params0, jnp.asarray(lrs), key, X, y)
    res = []
    for i, lr in enumerate(lrs):
        oi = jax.tree_util.tree_map(lambda a, i=i: a[i], out)
        res.append(_result(oi, model, data, loss, sched, steps, sharpness_every, float(lr), batch_size,
                           options))
    return res


__all__ = ["descent", "descent_many"]
