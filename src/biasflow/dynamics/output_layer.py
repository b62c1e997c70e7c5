"""Exact gradient flow and mirror flow of a model that is linear in its trainable parameters.

A model with ``output_features(params, X) -> Φ`` (n, P), ``output_params`` and ``with_output_params``
computes f(X) = Φ(X)θ with Φ fixed along training (the shallow network with ``train="output"``). For the
mean square loss ℒ = (1/2n)‖Φθ − y‖²:

- **Gradient flow** θ̇ = −(1/n)Φᵀ(Φθ − y) is a linear ODE with constant coefficients. With the n×n Gram
  matrix K = ΦΦᵀ = V diag(λ) Vᵀ and r₀ = Φθ₀ − y, its solution is
  θ(t) = θ₀ − Φᵀ V diag((1 − e^{−tλ/n})/λ) Vᵀ r₀ and r(t) = V e^{−tΛ/n} Vᵀ r₀. We evaluate it in this
  closed form rather than with a step-size-controlled solver: it is exact to rounding at every t, costs
  one eigendecomposition of an n×n matrix (n ≪ P), and the loss
  log ℒ(t) = log(1/2n) + logsumexp_j(−2tλ_j/n + log ρ_j²), ρ = Vᵀr₀, is computed in the log domain, so a
  checkpoint at any loss level (1e-20 or 1e-10000) is one scalar root find. (1 − e^{−x})/x is formed by
  ``expm1``, never by exponentiating a large x.
- **Mirror flow** d/dt ∇Φ_pot(θ) = −∇ℒ(θ) keeps ∇Φ_pot(θ(t)) − ∇Φ_pot(θ₀) = Φᵀν(t) in the row space of
  Φ, with ν̇ = −r(θ(ν))/n. We integrate this n-dimensional ODE in the dual coordinates ν with SciPy's
  ``solve_ivp`` (Radau, analytic Jacobian −(1/n)Φ diag(1/φ''(κΔ))Φᵀ), the loss levels as events. It ends
  at argmin D_Φpot(θ, θ₀) subject to interpolation (Liang & Montúfar 2025), which
  :func:`biasflow.bias.mirror_bias.mirror_interpolant` solves directly.

>>> import numpy as np
>>> from biasflow.data import make_dataset
>>> from biasflow.models.shallow import Shallow
>>> ds = make_dataset(np.array([[-1.0], [0.0], [1.0]]), np.array([0.5, -0.2, 0.3]), task="regression")
>>> res = output_flow(Shallow(d=1, width=200, train="output", asymmetric=True), ds, until_loss="1e-30")
>>> res.status, round(res.checkpoints[-1]["log10_loss"], 6)
('ok', -30.0)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

from ..errors import BiasflowError
from ..levels import LN10, default_checkpoints, format_level, parse_level
from .mirror_maps import Potential


@dataclasses.dataclass
class FunctionTrajectory:
    """Checkpoints of a training run whose result is a function.

    Attributes:
        status: ``ok``, ``target_unreachable`` or ``max_steps``; message: one line.
        checkpoints: dicts with ``log10_loss``, ``time`` (the flow's time; ``log10_time`` too) and, when a
            grid was given, ``function`` = {"x": [...], "f": [...]}.
        params: the parameters at the last checkpoint.
    """

    status: str
    checkpoints: list[dict]
    params: dict
    message: str = ""
    extra: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return {"status": self.status, "message": self.message, "checkpoints": self.checkpoints, **self.extra}


def _require_linear(model):
    if not callable(getattr(model, "output_features", None)) or not getattr(model, "linear_in_params", False):
        raise BiasflowError("the exact output-layer flow needs a model that is linear in its trained parameters "
                            "(for the shallow model: --train output)")


def feature_gram(model, params, X1, X2=None, chunk_bytes: int = 2 ** 27) -> np.ndarray:
    """Φ(X1)Φ(X2)ᵀ without forming more than ``chunk_bytes`` of features at once."""
    F2 = model.output_features(params, X2 if X2 is not None else X1)
    if X2 is None:
        return F2 @ F2.T
    rows = max(1, chunk_bytes // (8 * F2.shape[1]))
    X1 = np.asarray(X1, float)
    return np.vstack([model.output_features(params, X1[i:i + rows]) @ F2.T for i in range(0, X1.shape[0], rows)]
                     or [np.zeros((0, F2.shape[0]))])


def _levels(until_loss, checkpoints) -> list[float]:
    until = parse_level(until_loss)
    if checkpoints is None:
        levels = default_checkpoints(until)
    else:
        levels = sorted({parse_level(c) for c in checkpoints} | {until}, reverse=True)
    return [lv for lv in levels if lv >= until]


def output_flow(model, data, *, until_loss="1e-20", checkpoints=None, times=None, params0=None, seed: int = 0,
                grid=None, potential: Potential | None = None, rtol: float = 1e-10) -> FunctionTrajectory:
    """Gradient flow (or mirror flow with ``potential``) of the trainable output layer, exactly.

    Args:
        model: a model with ``output_features`` that is linear in its trained parameters.
        data: a regression :class:`~biasflow.data.Dataset`.
        until_loss: the final loss level (a string such as ``"1e-20"`` or a positive float).
        checkpoints: loss levels to record (default: decades down to ``until_loss``).
        times: record at these flow times instead of loss levels.
        params0: starting parameters (default ``model.init`` with ``seed``).
        grid: (m, d) points at which each checkpoint records the function.
        potential: a non-quadratic :class:`Potential` makes it mirror flow (solved as an ODE).
    """
    import jax

    _require_linear(model)
    if data.task != "regression":
        raise BiasflowError("the output-layer flow uses the square loss; give regression data")
    X, y = np.asarray(data.X, float), np.asarray(data.y, float)
    n = X.shape[0]
    if callable(getattr(model, "memory_bytes", None)):
        from ..models.memory import require_memory

        require_memory(model, n)
    p0 = model.init(jax.random.PRNGKey(int(seed))) if params0 is None else params0
    p0 = {k: np.asarray(v) for k, v in p0.items()}
    F = model.output_features(p0, X)
    theta0 = model.output_params(p0)
    r0 = F @ theta0 - y
    grid = None if grid is None else np.asarray(grid, float).reshape(len(grid), -1)
    Kg = feature_gram(model, p0, grid, X) if grid is not None else None
    f0g = model.evaluate(p0, grid) if grid is not None else None
    if potential is not None and potential.kind != "quadratic":
        return _mirror_flow(model, p0, F, theta0, r0, y, until_loss, checkpoints, times, grid, f0g, potential, rtol)
    if potential is not None and potential.kappa != 1.0:
        pass   # a quadratic potential with any κ is Φ = ‖Δ‖²/2: gradient flow exactly
    K = F @ F.T
    lam, V = np.linalg.eigh(K)
    lam = np.where(lam > 1e-13 * max(lam[-1], 1e-300), lam, 0.0)
    rho = V.T @ r0
    pos = lam > 0
    floor = float(np.sum(rho[~pos] ** 2)) / (2 * n)
    logc = math.log(1.0 / (2 * n))

    def log_loss(t):
        terms = np.where(pos, -2 * t * lam / n, 0.0) + np.log(np.maximum(rho * rho, 1e-320))
        return logc + float(logsumexp(terms))

    def state(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(pos, -np.expm1(-t * lam / n) / np.where(pos, lam, 1.0), t / n)
        gain = np.where(pos, gain, 0.0) if floor > 0 else gain
        return V @ (gain * rho)           # coefficient c(t): θ(t) = θ₀ − Φᵀc, f(x) = f₀(x) − Φ(x)Φᵀc

    records, status, msg = [], "ok", ""
    if times is not None:
        targets = [("time", float(t)) for t in times]
    else:
        targets = [("level", lv) for lv in _levels(until_loss, checkpoints)]
    l0 = log_loss(0.0)
    for kind, val in targets:
        if kind == "time":
            t = val
        else:
            goal = val * LN10
            if goal >= l0:
                t = 0.0
            elif floor > 0 and math.log(floor) >= goal:
                status = "target_unreachable"
                msg = (f"the features cannot fit the data: the loss floor is {format_level(math.log10(floor))} "
                       f"(above {format_level(val)})")
                break
            else:
                lmin = float(np.min(lam[pos]))
                hi = n * (l0 - goal) / (2 * lmin) + 1.0
                while log_loss(hi) > goal:
                    hi *= 2
                t = brentq(lambda s, g=goal: log_loss(s) - g, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                           maxiter=500)
        c = state(t)
        rec = {"log10_loss": (log_loss(t) / LN10), "time": t, "log10_time": math.log10(t) if t > 0 else -math.inf}
        if grid is not None:
            rec["function"] = {"x": _xlist(grid), "f": (f0g - Kg @ c).tolist()}
        records.append(rec)
    c = state(records[-1]["time"]) if records else np.zeros(n)
    params = model.with_output_params(p0, theta0 - F.T @ c)
    if status == "ok":
        msg = f"exact flow to loss {format_level(records[-1]['log10_loss'])} at t = {records[-1]['time']:.6g}"
    return FunctionTrajectory(status=status, checkpoints=records, params=params, message=msg)


def _xlist(grid):
    return grid[:, 0].tolist() if grid.shape[1] == 1 else grid.tolist()


def _mirror_flow(model, p0, F, theta0, r0, y, until_loss, checkpoints, times, grid, f0g, pot, rtol):
    from scipy.integrate import solve_ivp

    n = F.shape[0]

    def delta(nu):
        return pot.inverse(F.T @ nu)

    def rhs(t, nu):
        return -(r0 + F @ delta(nu)) / n

    def jac(t, nu):
        d = delta(nu)
        return -(F / pot.hess(d)[None, :]) @ F.T / n

    def log_loss(nu):
        r = r0 + F @ delta(nu)
        return math.log(max(float(r @ r) / (2 * n), 1e-320))

    levels = _levels(until_loss, checkpoints) if times is None else []
    events = []
    for lv in levels:
        ev = (lambda lv_: (lambda t, nu: log_loss(nu) - lv_ * LN10))(lv)
        ev.terminal = False
        ev.direction = -1
        events.append(ev)
    final_goal = parse_level(until_loss) * LN10
    stop = lambda t, nu: log_loss(nu) - final_goal   # noqa: E731
    stop.terminal = True
    stop.direction = -1
    # Integrate over growing windows [t0, 4 t0] until the final level is crossed: the flow's time scale
    # depends on the potential (a scaled potential slows the output layer by up to a factor N), so no fixed
    # horizon fits all; each window restarts from the last state and keeps the events it found.
    if times is not None:
        sol = solve_ivp(rhs, (0.0, float(max(times))), np.zeros(n), method="Radau", jac=jac, rtol=rtol,
                        atol=1e-14, t_eval=np.asarray(times, float))
        pts, reached, nfev = list(zip(sol.t, sol.y.T, strict=True)), True, sol.nfev
    else:
        lam = np.linalg.eigvalsh(F @ F.T)
        t0, t1, nu0 = 0.0, n / max(float(lam[-1]), 1e-300), np.zeros(n)
        found: list[list] = [[] for _ in levels]
        reached, nfev = False, 0
        for _ in range(200):
            sol = solve_ivp(rhs, (t0, t1), nu0, method="Radau", jac=jac, rtol=rtol, atol=1e-14,
                            events=events + [stop])
            nfev += sol.nfev
            for k, (te, ye) in enumerate(zip(sol.t_events[:-1], sol.y_events[:-1], strict=True)):
                if len(te) and not found[k]:
                    found[k] = [float(te[0]), ye[0]]
            if len(sol.t_events[-1]) or sol.status < 0:
                reached = bool(len(sol.t_events[-1]))
                break
            t0, nu0, t1 = float(sol.t[-1]), sol.y[:, -1], 4 * t1
        pts = [tuple(f) for f in found if f]
    recs = []
    for t, nu in pts:
        rec = {"log10_loss": log_loss(nu) / LN10, "time": float(t), "log10_time": math.log10(t) if t > 0 else -math.inf}
        if grid is not None:
            Fg = model.output_features(p0, grid)
            rec["function"] = {"x": _xlist(grid), "f": (f0g + Fg @ delta(nu)).tolist()}
        recs.append(rec)
    nu_end = pts[-1][1] if pts else sol.y[:, -1]
    status = "ok" if reached else "max_steps"
    msg = (f"mirror flow ({pot.kind}, κ = {pot.kappa:g}) by Radau: {nfev} evaluations"
           if status == "ok" else f"mirror flow did not reach the target by t = {float(sol.t[-1]):.3g} ({sol.message})")
    params = model.with_output_params(p0, theta0 + delta(nu_end))
    return FunctionTrajectory(status=status, checkpoints=recs, params=params, message=msg,
                              extra={"nu": nu_end.tolist()})


__all__ = ["FunctionTrajectory", "feature_gram", "output_flow"]
