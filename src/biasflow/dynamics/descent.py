"""Gradient descent and mini-batch SGD at any learning rate, as compiled ``jax.lax.scan`` loops.

θ_{k+1} = θ_k − η_k ∇ℒ_{B_k}(θ_k), with ℒ the MEAN loss over the batch B_k (all n examples for GD, a random
subset of ``batch_size`` examples drawn without replacement at every step for SGD) and η_k = η·m(k) for a
schedule m (:mod:`biasflow.dynamics.schedules`). Works for any model of the protocol
(:mod:`biasflow.models.base`): the outputs are f = ``model.apply(θ, X)`` (Xβ(θ) for linear models),
and the gradient is one VJP of f with the loss residuals as cotangent, so the logistic
σ is evaluated through tanh and nothing is special-cased per model.

What a run records (docs/theory/numerics.md §2.1, large-steps.md §5), and what each record costs (measured with
``benchmarks/bench_descent.py``: depth-3 width-256 dense net, n = 512, d = 64, logistic loss, as a ratio to
a bare compiled ``lax.scan`` of the same step that records only the loss, CPU time):

- always: the loss before every step in the log domain (``history["log10_loss"]``, exact below 1e-308) and
  as float64 values (``loss``, the CLI contract), the rate used (``lr``), and the divergence guard — one
  scalar comparison per step. Together 1.01–1.08× the bare loop. The log loss is the log of the plain mean while
  that is a normal float64 and the log-domain sum otherwise (a branch taken once per step, not both);
- with ``record_every=R`` (classification): the minimum margin and the normalized ℓ2/ℓ1 margins of β at
  steps 0, R, 2R, … and at the final step (``history["margin_step"]``), computed at the starts of blocks of
  R steps of the same loop: R = 1 cost 1.00–1.11× the default, R = 100 1.00–1.05×;
  :func:`biasflow.bias.gaps.path_gaps` turns them into gaps to the max-margin predictors after the run;
- with ``sharpness_every=M``: the sharpness λ_max(∇²ℒ) every M steps from step 0 and at the final state, by
  Lanczos on Hessian-vector products (:mod:`biasflow.dynamics.curvature`), and with ``ntk=True`` the top NTK
  eigenvalue at the same steps. Each estimate is 10 Lanczos iterations of a forward-over-reverse product:
  M = 100 cost 2.7–7.7× the default on that net (a Hessian-vector product is several steps' work);
- with ``effective_init=True``: Σ_j η_j g_j, with g_j = ∇_βℒ_{B_j}, and the gains Σ_j q(η_j g_j),
  Σ_j q_±(η_j g_j) of Even et al. 2023 (docs/theory/diagonal.md §3.8).

**Divergence is a result.** When the loss becomes non-finite (a non-finite parameter or gradient makes it
so one step later at the latest), or exceeds the initial loss by ``divergence_decades`` decades (default
30, with the initial loss floored at 1), the run stops with status ``diverged``; ``steps`` is the number of
good steps, the parameters and β are the last good state, and no history holds NaN. The loop carries no
copy of the previous state (that copy cost about half a step); a diverged run is replayed by the same
compiled program up to its last good step instead (one more run, only when a run diverged).

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

_OPTIONS = ("lanczos_iters", "ntk", "divergence_decades", "effective_init", "params0")


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


def _block_length(steps: int, every: int, rec_every: int) -> int:
    """Iterations per block of the compiled loop (0: one flat scan): strided records happen at block
    starts, so B = M (sharpness every M < K steps), R (margins every R steps), or gcd(M, R)."""
    m = every if 0 < every < steps else 0
    if m and rec_every:
        return math.gcd(m, rec_every)
    return m or rec_every


@functools.lru_cache(maxsize=64)
def _compiled(model, loss: Loss, task: str, n: int, steps: int, every: int, batch: int, sched_spec: str,
              iters: int, ntk: bool, decades: float, eff: bool, rec_every: int, batched: str):
    """Build (and jit) the training loop for one configuration; cached on the configuration."""
    sched = parse_schedule(sched_spec, steps=steps)
    cls = task == "classification"
    linear = _is_linear(model)
    kind = sched.kind
    full = batch >= n
    margins = cls and rec_every > 0

    def zf(f, y):
        return y * f if cls else f

    def log_loss(f, y):
        """log ℒ: the log of the plain mean while it is a normal float64 (relative error ~1e-16, two
        transcendentals per example), the log-domain sum only where ℒ under- or overflows."""
        z = zf(f, y)
        v = jnp.mean(loss.value(z, y))
        return jax.lax.cond((v > 1e-290) & (v < 1e290), lambda: jnp.log(v), lambda: loss.log_mean(z, y))

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

    def one_step(carry, k, X, y, lr, log_thresh, stop):
        """Check θ_k (record its loss), then step to θ_{k+1} unless k ≥ stop (masked iterations only check).

        The guard is scalar: θ_k is bad when log ℒ(θ_k) is NaN or above the threshold (a non-finite
        gradient makes θ_{k+1}, hence its loss, non-finite, so it is caught one step later); from then on
        the state no longer moves. No copy of the previous state is carried (it cost ~50% of a step on a
        dense net): :func:`_run` replays a diverged run with ``stop`` set to its last good step instead."""
        params, alive, ndone, key, acc = carry
        if full:
            g, f, gbeta = step_dir(params, X, y)
        else:
            key, sub = jax.random.split(key)
            idx = jax.random.choice(sub, n, (batch,), replace=False)
            g, _, gbeta = step_dir(params, X[idx], y[idx])
            f = _outputs(model, params, X)
        logl = log_loss(f, y)
        checking = k <= steps
        now_alive = alive & ((logl <= log_thresh) | ~checking)
        move = now_alive & (k < stop)
        eta = lr * sched.mult(k)
        if kind == "normalized":
            gn = sum(jnp.vdot(x, x) for x in jax.tree_util.tree_leaves(g))
            eta = eta / jnp.where(gn > 0, gn, 1.0)
        new = jax.tree_util.tree_map(lambda p, d: jnp.where(move, p - eta * d, p), params, g)
        if eff and linear:
            q, qp, qm = _q(eta * gbeta)
            upd = (eta * gbeta, q, qp, qm)
            acc = tuple(jnp.where(move, a + u, a) for a, u in zip(acc, upd, strict=True))
        good = now_alive & checking
        rec = (jnp.where(good, logl, jnp.nan), jnp.where(good, eta, jnp.nan))
        ndone = ndone + good.astype(jnp.int32)
        return (new, now_alive, ndone, key, acc), rec

    def margin_rec(params, X, y):
        """(min margin, min margin/‖β‖2, min margin/‖β‖1) of the state (linear models: of β)."""
        if linear:
            beta = model.predictor(params)
            zmin = jnp.min(y * (X @ beta))
            return zmin, zmin / jnp.linalg.norm(beta), zmin / jnp.sum(jnp.abs(beta))
        zmin = jnp.min(y * _outputs(model, params, X))
        return zmin, jnp.nan, jnp.nan

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

    def run(params0, lr, key, X, y, stop):
        f0 = _outputs(model, params0, X)
        log0 = log_loss(f0, y)
        log_thresh = jnp.maximum(log0, 0.0) + decades * LN10
        d = X.shape[1]
        acc0 = (jnp.zeros(d), jnp.zeros(d), jnp.zeros(d), jnp.zeros(d)) if (eff and linear) else ()
        carry = (params0, jnp.asarray(True), jnp.asarray(0, jnp.int32), key, acc0)
        body = lambda c, k: one_step(c, k, X, y, lr, log_thresh, stop)
        curv_hist = marg_hist = None
        inner = _block_length(steps, every, rec_every if margins else 0)
        flat0, _ = ravel_pytree(params0)
        kv = jax.random.split(jax.random.fold_in(key, 7))
        vs, vn = jax.random.normal(kv[0], flat0.shape), jax.random.normal(kv[1], (n,))
        if every >= steps:
            c0, vs, vn = curv(params0, X, y, vs, vn)
        if inner:
            # ceil((K+1)/B) blocks of B iterations; at the start of block j (step jB) the strided records:
            # the curvature when M | jB, the margins when R | jB (B = gcd(M, R) when both are on).
            nblocks = -(-(steps + 1) // inner)
            sharp_blocks = 0 < every < steps

            def block(state, j):
                c, vs, vn = state
                at = j * inner
                rec_c = None
                if sharp_blocks:
                    if every == inner:
                        rec_c, vs, vn = curv(c[0], X, y, vs, vn)
                    else:
                        shape = jax.eval_shape(lambda a: curv(c[0], X, y, *a)[0], (vs, vn))

                        def no(a):
                            return jax.tree_util.tree_map(lambda s_: jnp.full(s_.shape, jnp.nan), shape), *a

                        rec_c, vs, vn = jax.lax.cond(at % every == 0, lambda a: curv(c[0], X, y, *a), no,
                                                     (vs, vn))
                rec_m = None
                if margins:
                    rec_m = margin_rec(c[0], X, y)
                    if rec_every != inner:
                        rec_m = tuple(jnp.where(at % rec_every == 0, v, jnp.nan) for v in rec_m)
                c, recs = jax.lax.scan(body, c, at + jnp.arange(inner))
                return (c, vs, vn), (rec_c, rec_m, recs)

            (carry, vs, vn), (curv_hist, marg_hist, recs) = jax.lax.scan(block, (carry, vs, vn),
                                                                         jnp.arange(nblocks))
            recs = tuple(r.reshape(-1)[: steps + 1] for r in recs)
        else:
            carry, recs = jax.lax.scan(body, carry, jnp.arange(steps + 1))
        params = carry[0]
        if every > 0:  # the curvature at the final state
            c1, _, _ = curv(params, X, y, vs, vn)
            first = c0 if every >= steps else curv_hist
            curv_hist = (first, c1)
        marg_last = margin_rec(params, X, y) if margins else None
        beta = model.predictor(params) if linear else jnp.zeros(0)
        return dict(params=params, beta=beta, ndone=carry[2], recs=recs, curv_hist=curv_hist, acc=carry[4], log0=log0,
                    marg_hist=marg_hist, marg_last=marg_last)

    if batched == "vmap":
        return jax.jit(jax.vmap(run, in_axes=(None, 0, None, None, None, 0)))
    if batched == "map":
        return jax.jit(lambda p, lrs, key, X, y, stops: jax.lax.map(lambda a: run(p, a[0], key, X, y, a[1]),
                                                                    (lrs, stops)))
    return jax.jit(run)


def _run(fn, params0, lr, key, X, y, steps: int):
    """Run the compiled loop; replay the runs that diverged, stopping at their last good step.

    A run found bad at step k* keeps θ_{k*} in its carry; the replay (the same compiled program, hence
    the same rounding) stops moving after k* − 1 steps, so every output — parameters, final sharpness and
    margins, accumulators — is that of the last good state. Costs one more run, only when one diverged."""
    stops = np.full(np.shape(lr), steps, dtype=np.int32)
    out = fn(params0, lr, key, X, y, jnp.asarray(stops))
    ndone = np.asarray(out["ndone"])
    bad = ndone < steps + 1
    if not np.any(bad):
        return out, ndone
    stops = np.where(bad, np.maximum(ndone - 1, 0), steps).astype(np.int32)
    return fn(params0, lr, key, X, y, jnp.asarray(stops)), ndone


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


def _prepare(model, data, loss, lr, steps, schedule, batch_size, sharpness_every, seed, options, record_every):
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        hint = ("; the gaps to the max-margin predictors are computed from the recorded margins by "
                "biasflow.bias.gaps.path_gaps (record them with record_every=1)") if "bias_metrics" in unknown else ""
        raise BiasflowError(f"descent has no option {unknown[0]!r}; options: {', '.join(_OPTIONS)}{hint}")
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or record_every < 0:
        raise BiasflowError(f"record_every must be an integer ≥ 0 (got {record_every!r}); 0 turns it off")
    loss = get_loss(loss)
    decades = float(options.get("divergence_decades", 30.0))
    _validate(model, data, loss, lr, steps, batch_size, sharpness_every, decades)
    sched = parse_schedule(schedule, steps=int(steps))
    iters = int(options.get("lanczos_iters", 10))
    if iters < 1:
        raise BiasflowError(f"lanczos_iters must be ≥ 1 (got {iters})")
    batch = data.n if batch_size is None else int(batch_size)
    params0, key = _start(model, options.get("params0") is None)(int(seed))
    if options.get("params0") is not None:
        params0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), options["params0"])
    args = (model, loss, data.task, data.n, int(steps), int(sharpness_every), batch, sched.spec(), iters,
            bool(options.get("ntk", False)), decades, bool(options.get("effective_init", False)),
            int(record_every))
    return loss, sched, params0, key, args


@functools.lru_cache(maxsize=64)
def _start(model, init: bool):
    """seed ↦ (θ0 = model.init(fold_in(key, 0)) or None, the loop's key fold_in(key, 1)) as ONE compiled
    program: run op by op, a random initialization compiles a dozen small programs (seconds per process)."""

    def start(seed):
        key = jax.random.PRNGKey(seed)
        p0 = model.init(jax.random.fold_in(key, 0)) if init else None
        return p0, jax.random.fold_in(key, 1)

    return jax.jit(start)


def _strided(hist, nsteps: int, inner: int, stride: int):
    """(indices, steps) of the block-start records jB with stride | jB and jB < nsteps, then the final step."""
    starts = np.arange(len(hist)) * inner
    keep = np.flatnonzero((starts % stride == 0) & (starts < nsteps))
    return keep, np.concatenate([starts[keep], [nsteps]]).astype(int)


def _result(out, ndone, model, data, loss, sched, steps, every, lr, batch_size, options,
            rec_every) -> DescentResult:
    out = jax.tree_util.tree_map(np.asarray, out)
    linear = _is_linear(model)
    cls = data.task == "classification"
    ndone = int(ndone)                 # good states among θ_0..θ_K (they come first: a run never revives)
    nsteps = max(ndone - 1, 0)
    diverged = ndone < steps + 1
    logl, eta = (np.asarray(r, float) for r in out["recs"])
    logl = logl[: nsteps + 1] if ndone else np.array([float(out["log0"])])
    log10 = logl / LN10
    params = out["params"]
    beta = np.asarray(out["beta"], dtype=float)
    history: dict = {"log10_loss": log10, "lr": eta[:nsteps]}
    inner = _block_length(steps, every, rec_every if cls else 0)
    if cls and rec_every > 0:
        hist = out["marg_hist"]
        keep, at = _strided(hist[0], nsteps, inner, rec_every)
        cols = [np.concatenate([np.asarray(h)[keep], [float(v)]]) for h, v in zip(hist, out["marg_last"],
                                                                                  strict=True)]
        history["margin_step"] = at
        history["margin_min"] = cols[0]
        if linear:
            history["margin_l2"], history["margin_l1"] = cols[1], cols[2]
    sharp = np.zeros(0)
    if every > 0:
        first, last = out["curv_hist"]
        if every >= steps:       # at the start and the end only
            first = tuple(np.asarray(v)[None] for v in first)
            idx, at = (np.array([0]), np.array([0, nsteps])) if nsteps > 0 else (np.zeros(0, int), np.array([0]))
        else:
            idx, at = _strided(first[0], nsteps, inner, every)
        s0, n0, b0 = (np.asarray(v)[idx] for v in first)
        sharp = np.concatenate([s0, [float(last[0])]])
        history["sharpness_step"] = at
        if options.get("ntk", False):
            history["ntk"] = np.concatenate([n0, [float(last[1])]])
        if linear:
            b1 = np.asarray(last[2])
            history["beta"] = np.concatenate([b0.reshape(len(idx), b1.size), b1[None]])
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


def descent(model, data: Dataset, loss, *, lr, steps: int, schedule=None, batch_size: int | None = None,
            sharpness_every: int = 0, record_every: int = 0, seed: int = 0, **options) -> DescentResult:
    """Run gradient descent (or SGD) and return a :class:`~biasflow.trajectory.DescentResult`.

    Args:
        model: any model of the protocol (``init``, ``apply``; ``predictor`` when linear).
        data: the training set; loss: ``"exp"``, ``"logistic"``, ``"square"`` or a :class:`Loss`.
        lr: base learning rate η > 0 (the peak rate of a schedule).
        steps: number of steps K ≥ 1.
        schedule: a :class:`Schedule` or its CLI form ``NAME[:k=v,...]`` (default constant).
        batch_size: mini-batch size b ≤ n for SGD (default: full batch, i.e. GD).
        sharpness_every: M > 0 records the sharpness every M steps from step 0 and at the final state.
        record_every: R > 0 records the margins of β every R steps and at the final state (0: off).
        seed: seeds the initialization (random models) and the mini-batches.
        **options: ``lanczos_iters`` (10, each warm-started from the previous Ritz vector),
            ``ntk`` (False: also track λ_max of the NTK),
            ``divergence_decades`` (30), ``effective_init`` (False: Even et al. accumulators),
            ``params0`` (start from these parameters instead of ``model.init``).
    """
    model = bind_data(model, data) if isinstance(data, Dataset) else model
    loss, sched, params0, key, args = _prepare(model, data, loss, lr, steps, schedule, batch_size,
                                               sharpness_every, seed, options, record_every)
    fn = _compiled(*args, "none")
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    out, ndone = _run(fn, params0, jnp.asarray(float(lr)), key, X, y, int(steps))
    return _result(out, ndone, model, data, loss, sched, steps, sharpness_every, lr, batch_size, options,
                   record_every)


def descent_many(model, data: Dataset, loss, *, lrs, steps: int, schedule=None, batch_size: int | None = None,
                 sharpness_every: int = 0, record_every: int = 0, seed: int = 0, batching: str = "vmap",
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
                                               sharpness_every, seed, options, record_every)
    fn = _compiled(*args, batching)
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    out, ndone = _run(fn, params0, jnp.asarray(lrs), key, X, y, int(steps))
    res = []
    for i, lr in enumerate(lrs):
        oi = jax.tree_util.tree_map(lambda a, i=i: a[i], out)
        res.append(_result(oi, ndone[i], model, data, loss, sched, steps, sharpness_every, float(lr), batch_size,
                           options, record_every))
    return res


__all__ = ["descent", "descent_many"]
