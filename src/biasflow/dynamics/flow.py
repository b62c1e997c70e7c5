"""Gradient flow to any training loss, solved as an ODE on a loss clock (docs/theory/numerics.md §2).

:func:`flow` runs gradient flow θ̇ = −∇ℒ(θ) of a model on a data set from its initialization down to a
target loss such as 1e-10000, recording checkpoints at exact loss levels with log10 of the flow time.
Neither the loss nor the time is ever formed as a float (both under/overflow far above 1e-10000).

Two independent paths (cross-checked in the tests):

- ``method="exact"``: the dual ODE on the integrated residual ν ∈ Rⁿ for models with a closed-form
  solution β = b(Aᵀν) (diagonal networks of any depth, untied diagonal networks; docs/theory/diagonal.md §3.2,
  :mod:`biasflow.dynamics.exact`); tied depth D ≥ 3 nets (d ≤ 400) use the same exact flow in the
  log-ratio coordinates p = log(u₊/u₋), which avoid the cancellation at the finite-τ* edge of the dual
  domain and reach 1e-10000 at any depth;
- ``method="autodiff"``: the primal ODE on the parameters θ of any model, with ∇ log ℒ from JAX
  (:mod:`biasflow.dynamics.primal`).

``method="auto"`` takes the exact path when the model has one. Both integrate on the τ-clock (dτ = ℒ dt)
through the initial saddle and then on σ = log(s − s(0)), s = −log ℒ (:mod:`biasflow.dynamics.clock`);
square loss runs in flow time t, with loss levels located as events.

Non-separable classification data (or regression targets outside range(X)) have a loss floor ℒ* > 0:
it is detected up front by a HiGHS LP (:mod:`biasflow.dynamics.separability`), the flow runs to the
checkpoints above the floor, and the result has status ``target_unreachable`` with ``floor_log10``.

>>> from biasflow.data import gaussian
>>> from biasflow.models import Diagonal
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> tr = flow(Diagonal(d=30, depth=2, alpha=0.1), ds, "exp", until="1e-1000")
>>> tr.status, [c.log10_loss for c in tr.checkpoints][-3:]
('ok', [-200.0, -500.0, -1000.0])
>>> 995 < tr.final.log10_time < 1000     # t ≈ 1/ℒ up to a polynomial factor
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..data import Dataset, fingerprint
from ..errors import BiasflowError
from ..fmt import log10_text
from ..levels import LN10, Level, default_checkpoints
from ..losses import Loss, get_loss
from ..models.base import bind_data, has_dual, is_linear
from ..models.memory import require_memory
from ..trajectory import Checkpoint, Trajectory

METHODS = ("auto", "exact", "autodiff")


def _as_level(value, what: str) -> float:
    """A loss level as log10, read by :meth:`~biasflow.levels.Level.parse` (strings, :class:`Level`,
    positive float VALUES); ≤ 0, NaN, ±inf and underflowed floats are refused."""
    try:
        return Level.parse(value).log10
    except BiasflowError as e:
        raise BiasflowError(f"{what}: {e}") from None


def _levels(until, checkpoints) -> tuple[float, list[float]]:
    target = _as_level(until, "until")
    if checkpoints is None:
        levels = default_checkpoints(target)
    else:
        if isinstance(checkpoints, str):
            checkpoints = [c for c in checkpoints.split(",") if c.strip()]
        levels = [_as_level(c, "checkpoint") for c in checkpoints]
        levels = [v for v in levels if v >= target and math.isfinite(v)]
        levels.append(target)
    return target, sorted(set(levels), reverse=True)


def _floor(model_data: Dataset, loss: Loss):
    """(floor_log10 or None, message) from the separability LP or least squares."""
    from .clock import _single_thread_blas

    with _single_thread_blas():
        return _floor_impl(model_data, loss)


def _floor_impl(model_data: Dataset, loss: Loss):
    from .separability import check

    if model_data.task == "regression":
        sep = check(model_data, loss)
        if not sep.separable:
            return sep.floor_log10, "y is not in the range of X: the least-squares residual is a floor"
        return None, ""
    sep = check(model_data, loss, margin=False)
    if not sep.separable:
        return sep.floor_log10, (f"the data are not linearly separable (hard set of {len(sep.hard_set)} "
                                 f"points): the {loss.name} loss has a floor")
    return None, ""


def _validate(model, data: Dataset, loss) -> Loss:
    if not isinstance(data, Dataset):
        raise BiasflowError("data must be a biasflow Dataset (see biasflow.data.make_dataset / load)")
    lossobj = get_loss(loss)
    if lossobj.task != data.task:
        raise BiasflowError(
            f"loss {lossobj.name!r} is for {lossobj.task} but the data are for {data.task}; "
            f"use loss {'square' if data.task == 'regression' else 'exp or logistic'}"
        )
    if getattr(model, "d", data.d) != data.d:
        raise BiasflowError(f"the model has input dimension {model.d} but the data have d = {data.d} columns")
    if not is_linear(model):
        raise BiasflowError(
            f"gradient flow follows linear models (with a predictor); {getattr(model, 'name', model)!r} is not "
            "linear: train it with descent"
        )
    if callable(getattr(model, "memory_bytes", None)):
        require_memory(model, data.n)
    return lossobj


def _resolution_limit(data: Dataset, loss: Loss, level0: float) -> float | None:
    """Square loss: residuals below ~1e-12·|y| are not resolvable in float64."""
    if loss.name != "square":
        return None
    return level0 - 24.0


def _square_level0(data: Dataset) -> float:
    y = np.asarray(data.y)
    v = 0.5 * float(np.mean(y * y))
    return math.log10(v) if v > 0 else -math.inf


def flow(
    model,
    data: Dataset,
    loss: Loss | str,
    *,
    until,
    checkpoints: Sequence | None = None,
    method: str = "auto",
    seed: int = 0,
    callback: Callable[[float], object] | None = None,
    max_steps: int = 200_000,
    rtol: float = 1e-10,
    atol: float | None = None,
    solver: str | None = None,
    **options,
) -> Trajectory:
    """Gradient flow of ``model`` on ``data`` from initialization to the loss level ``until``.

    Args:
        model: a model (:mod:`biasflow.models`).
        data: a :class:`~biasflow.data.Dataset`.
        loss: ``"exp"``, ``"logistic"``, ``"square"`` or a :class:`~biasflow.losses.Loss`.
        until: the target loss, a :class:`~biasflow.levels.Level` or anything :meth:`Level.parse
            <biasflow.levels.Level.parse>` reads: a string (``"1e-10000"``, never underflows) or a positive
            float read as the loss VALUE (``2.0`` is the loss 2). Floats ≤ 0, NaN and underflowed values
            are refused; a log10 value is passed as ``Level.from_log10(-100)``.
        checkpoints: loss levels to record (same forms as ``until``); default
            :func:`~biasflow.levels.default_checkpoints` (1e-1, 1e-2, 1e-5, 1e-10, …). Each is recorded at
            the exact loss level.
        method: ``"auto"`` (exact when the model has a dual solution), ``"exact"`` or ``"autodiff"``.
        seed: seed of the model's random initialization (``jax.random.PRNGKey(seed)``).
        callback: called with the current log10 loss as the run advances.
        max_steps: bound on right-hand-side evaluations per clock phase (status ``max_steps`` beyond).
        rtol, atol: ODE tolerances (default rtol 1e-10).
        solver: a :func:`scipy.integrate.solve_ivp` method for the σ-clock phase (default LSODA with the
            analytic Jacobian on the exact path, DOP853 on the autodiff path).

    Returns:
        A :class:`~biasflow.trajectory.Trajectory` with status ``ok``, ``target_unreachable`` (loss floor
        in ``floor_log10``), ``max_steps`` or ``diverged``, and a message.
    """
    unknown = set(options) - {"solver_tau"}
    if unknown:
        raise BiasflowError(f"unknown flow option(s) {', '.join(sorted(unknown))}")
    lossobj = _validate(model, data, loss)
    model = bind_data(model, data)
    target, levels = _levels(until, checkpoints)
    if method not in METHODS:
        raise BiasflowError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not (isinstance(max_steps, (int, np.integer)) and max_steps >= 1):
        raise BiasflowError(f"max_steps must be a positive integer (got {max_steps!r})")
    if not (0 < rtol < 1):
        raise BiasflowError(f"rtol must lie in (0, 1) (got {rtol!r})")
    dual = has_dual(model)
    if method == "exact" and not dual:
        raise BiasflowError(
            f"model {getattr(model, 'name', type(model).__name__)!r} has no exact dual solution; "
            "use method='autodiff' (or 'auto')"
        )
    use_exact = dual and method != "autodiff"
    floor_log10, floor_msg = _floor(data, lossobj)
    limit_msg = ""
    if floor_log10 is None and lossobj.name == "square":
        lim = _resolution_limit(data, lossobj, _square_level0(data))
        if lim is not None and target < lim:
            floor_log10 = lim
            limit_msg = ("square-loss residuals below 1e-12 of |y| are not resolvable in float64; "
                         f"loss levels below {log10_text(lim, 4)} are out of reach")
    atol = rtol * 1e-2 if atol is None else atol
    kw = dict(floor_log10=floor_log10, rtol=rtol, atol=atol, max_steps=max_steps, callback=callback,
              solver=solver, solver_tau=options.get("solver_tau"))
    if use_exact:
        from .exact import exact_flow

        res, system = exact_flow(model, data, lossobj, levels, **kw)
    else:
        from .primal import primal_flow

        res, system = primal_flow(model, data, lossobj, levels, seed=seed, **kw)
    return _trajectory(res, system, model, lossobj, levels, floor_log10, floor_msg or limit_msg,
                       "exact" if use_exact else "autodiff", data)


def flow_many(
    models: Sequence,
    data: Dataset,
    loss: Loss | str,
    *,
    until,
    checkpoints: Sequence | None = None,
    method: str = "auto",
    seed: int = 0,
    callback: Callable[[float], object] | None = None,
    max_steps: int = 200_000,
    rtol: float = 1e-10,
    atol: float | None = None,
    solver: str | None = None,
    **options,
) -> list[Trajectory]:
    """:func:`flow` for many models on the same data (e.g. a grid of α), batched.

    On the exact path the models share one separability check and one copy of the data matrices, and
    each runs its two clock phases (``stacked=True`` integrates all σ-clock phases as ONE block-diagonal
    ODE instead; measured slower, see :func:`biasflow.dynamics.clock.integrate_many`). Models without a
    dual solution (or ``method="autodiff"``) run one :func:`flow` after the other. Each trajectory
    equals the single :func:`flow` run to solver tolerance.

    >>> from biasflow.data import gaussian
    >>> from biasflow.models import Diagonal
    >>> ds = gaussian(n=10, d=30, k=1, seed=0)
    >>> trs = flow_many([Diagonal(d=30, alpha=a) for a in (0.01, 0.1, 1.0)], ds, "exp", until="1e-100")
    >>> [t.status for t in trs]
    ['ok', 'ok', 'ok']
    """
    models = list(models)
    if not models:
        return []
    stacked = bool(options.pop("stacked", False))
    unknown = set(options) - {"solver_tau"}
    if unknown:
        raise BiasflowError(f"unknown flow option(s) {', '.join(sorted(unknown))}")
    lossobj = None
    for m in models:
        lossobj = _validate(m, data, loss)
    models = [bind_data(m, data) for m in models]
    if method not in METHODS:
        raise BiasflowError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    exact = method != "autodiff" and all(has_dual(m) for m in models)
    if method == "exact" and not exact:
        raise BiasflowError("method='exact' needs every model to have an exact dual solution; use 'auto'")
    if not exact:
        return [flow(m, data, loss, until=until, checkpoints=checkpoints, method=method, seed=seed,
                     callback=callback, max_steps=max_steps, rtol=rtol, atol=atol, solver=solver, **options)
                for m in models]
    target, levels = _levels(until, checkpoints)
    floor_log10, floor_msg = _floor(data, lossobj)
    if floor_log10 is None and lossobj.name == "square":
        lim = _resolution_limit(data, lossobj, _square_level0(data))
        if lim is not None and target < lim:
            floor_log10, floor_msg = lim, "square-loss residuals below 1e-12 of |y| are not resolvable"
    from .clock import integrate_many
    from .exact import DualSystem

    systems = [DualSystem(m, data, lossobj) for m in models]
    for sy in systems[1:]:
        sy.A, sy.At = systems[0].A, systems[0].At
    results = integrate_many(systems, levels, floor_log10=floor_log10, rtol=rtol,
                             atol=rtol * 1e-2 if atol is None else atol, method=solver,
                             method_tau=options.get("solver_tau"), max_steps=max_steps, callback=callback,
                             stacked=stacked)
    return [_trajectory(r, sy, m, lossobj, levels, floor_log10, floor_msg, "exact", data)
            for r, sy, m in zip(results, systems, models, strict=True)]


def _trajectory(res, system, model, lossobj, levels, floor_log10, floor_msg, method, data) -> Trajectory:
    cps = []
    for lv, x, lt, clk in zip(res.levels, res.states, res.log10_times, res.clocks, strict=True):
        extra = {"s": clk["s"]}
        if clk.get("tau") is not None:
            extra["tau"] = clk["tau"]
        if method == "exact":
            extra["nu"] = system.nu(x) if hasattr(system, "nu") else np.array(x)
        cps.append(Checkpoint(log10_loss=float(lv), log10_time=float(lt), params=system.params(x),
                              predictor=system.predictor(x), extra=extra))
    if cps and len(cps) == len(levels) and cps[-1].log10_time == -math.inf:
        s0 = float(cps[-1].extra.get("s", math.nan))
        raise BiasflowError(
            f"until = {Level.from_log10(levels[-1])} is not below the initial loss ℒ(0) = "
            f"{Level.from_log10(-s0 / LN10) if math.isfinite(s0) else '?'}: nothing to train; "
            "give a smaller target such as '1e-10'"
        )
    status, message = res.status, res.message
    if status == "ok" and len(cps) < len(levels):
        if floor_log10 is not None:
            status = "target_unreachable"
            message = f"{floor_msg}: {log10_text(floor_log10, 6)} (reached every level above it)"
        else:
            status, message = "max_steps", message or "not every level was reached"
    elif status == "ok":
        message = f"reached loss {Level.from_log10(levels[-1])}"
    stats = dict(res.stats)
    return Trajectory(status=status, checkpoints=cps, message=message, method=method, loss=lossobj.name,
                      model=model.config() if hasattr(model, "config") else {},
                      floor_log10=floor_log10 if status == "target_unreachable" else None, stats=stats,
                      data=fingerprint(data))


__all__ = ["METHODS", "flow", "flow_many", "LN10"]
