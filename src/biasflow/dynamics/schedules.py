"""Learning-rate schedules for gradient descent (docs/theory/large-steps.md §6; Wu et al. 2019, "LRBench").

A schedule is a *multiplier* m(t) of the base rate η (``--lr``): the step size at step t is η·m(t), so one
compiled loop serves a whole grid of η (``vmap`` over η). Every schedule is an optax schedule or a plain
JAX function of the step t (an optax schedule is just that), and :func:`parse_schedule` reads the CLI form
``NAME[:key=value,...]``. Rates below are written with k0 = η for decaying schedules; cyclic schedules run
between k0 = ``low``·η and k1 = η.

Decaying (optax where optax has the policy):

================  ===========================================  ==========================
name              η_t / η                                      parameters (defaults)
================  ===========================================  ==========================
constant (fix)    1                                            —
step              γ^⌊t/l⌋                                      gamma=0.5, l=100
nstep             γ^i on the i-th milestone interval           milestones=a/b/..., gamma=0.1
exp               γ^t                                          gamma=0.999
inv               (1 + γt)^(−p)                                gamma=1e-3, p=0.5
poly              (1 − t/l)^p for t ≤ l, then 0                l=steps, p=1
cosine            optax cosine decay to ``final`` over l steps  l=steps, final=0
================  ===========================================  ==========================

Cyclic, with k0 = low·η, k1 = η and half-period l:

================  ============================================================
tri               k0 + (k1 − k0)(2/π)|arcsin sin(πt/2l)|
sin               k0 + (k1 − k0)|sin(πt/2l)|
tri2, sin2        the same with the amplitude halved every 2l steps
triexp, sinexp    the same with the amplitude multiplied by γ^t
cos               k0 + (k1 − k0)·½(1 + cos(πt/l))   (period 2l; docs/theory/large-steps.md §6 lists
                  πt/l vs 2πt/l as open — we use πt/l so that l is the half-period like tri/sin)
================  ============================================================

State-dependent step sizes (time changes of gradient flow for exp/logistic
loss, docs/theory/large-steps.md §6, certificates.md §7):

- ``loss``: η_t = η/ℒ(θ_t), i.e. the step −η∇log ℒ — a discrete τ-clock (dτ = ℒ dt);
- ``normalized``: the step −η∇log ℒ/‖∇log ℒ‖² — a discrete s-clock (s = −log ℒ).

Every schedule also takes ``warmup=W`` (linear warm-up from 0 to the schedule over W steps, joined with
``optax.join_schedules``); ``warmup`` alone is a constant rate after a linear warm-up.

>>> s = parse_schedule("step:gamma=0.5,l=10")
>>> [float(s(t)) for t in (0, 9, 10, 25)]
[1.0, 1.0, 0.5, 0.25]
>>> parse_schedule("cos:l=0")
Traceback (most recent call last):
...
biasflow.errors.BiasflowError: schedule 'cos': l must be ≥ 1 (got 0); e.g. --schedule cos:l=100,low=0.1
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax.numpy as jnp
import optax

from .. import _jax  # noqa: F401
from ..errors import BiasflowError


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A learning-rate policy: ``mult(t)`` (traceable) multiplies the base rate η at step t.

    Attributes:
        name: the policy's name. params: its parameters. kind: ``"step"`` (a function of t only),
        ``"loss"`` or ``"normalized"`` (state-dependent, see the module docstring).
    """

    name: str
    params: dict
    mult: Callable
    kind: str = "step"

    def __call__(self, t):
        return self.mult(t)

    def spec(self) -> str:
        """The CLI form ``NAME:k=v,...`` of this schedule."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={_fmt(v)}" for k, v in self.params.items())


def _fmt(v) -> str:
    if isinstance(v, (tuple, list)):
        return "/".join(_fmt(x) for x in v)
    return repr(float(v)) if isinstance(v, float) else str(v)


# --------------------------------------------------------------------------------------------- policies
def _cyclic(shape: str, l: float, low: float, decay: str | None, gamma: float) -> Callable:
    def mult(t):
        t = jnp.asarray(t, jnp.float64)
        phase = jnp.pi * t / (2.0 * l)
        if shape == "tri":
            wave = (2.0 / jnp.pi) * jnp.abs(jnp.arcsin(jnp.sin(phase)))
        elif shape == "sin":
            wave = jnp.abs(jnp.sin(phase))
        else:  # cos
            wave = 0.5 * (1.0 + jnp.cos(jnp.pi * t / l))
        amp = 1.0 - low
        if decay == "half":
            amp = amp * 0.5 ** jnp.floor(t / (2.0 * l))
        elif decay == "exp":
            amp = amp * gamma**t
        return low + amp * wave

    return mult


_SPECS: dict[str, dict] = {
    # name: {param: (default, check, message)}; default None means "must be given"; "steps" = run length
    "constant": {},
    "step": {"gamma": 0.5, "l": 100},
    "nstep": {"milestones": None, "gamma": 0.1},
    "exp": {"gamma": 0.999},
    "inv": {"gamma": 1e-3, "p": 0.5},
    "poly": {"l": "steps", "p": 1.0},
    "cosine": {"l": "steps", "final": 0.0},
    "tri": {"l": 100, "low": 0.1},
    "sin": {"l": 100, "low": 0.1},
    "cos": {"l": 100, "low": 0.1},
    "tri2": {"l": 100, "low": 0.1},
    "sin2": {"l": 100, "low": 0.1},
    "triexp": {"l": 100, "low": 0.1, "gamma": 0.999},
    "sinexp": {"l": 100, "low": 0.1, "gamma": 0.999},
    "warmup": {},
    "loss": {},
    "normalized": {},
}
_ALIASES = {"fix": "constant", "const": "constant", "triangular": "tri", "cyclic": "tri",
            "exponential": "exp"}

SCHEDULES: tuple[str, ...] = tuple(_SPECS)
"""Schedule names accepted by :func:`make_schedule` and ``--schedule``."""

_EXAMPLE = {
    "step": "step:gamma=0.5,l=100", "nstep": "nstep:milestones=100/200,gamma=0.1", "exp": "exp:gamma=0.999",
    "inv": "inv:gamma=0.001,p=0.5", "poly": "poly:l=1000,p=2", "cosine": "cosine:l=1000,final=0.01",
    "warmup": "warmup:warmup=100",
}


def _example(name: str) -> str:
    return _EXAMPLE.get(name, f"{name}:l=100,low=0.1" if name in ("tri", "sin", "cos", "tri2", "sin2",
                                                                  "triexp", "sinexp") else name)


def make_schedule(name: str = "constant", *, steps: int | None = None, warmup: int = 0, **params) -> Schedule:
    """Build a schedule by name with validated parameters (see the module docstring for the formulas).

    Args:
        name: one of :data:`SCHEDULES` (aliases: fix, const, triangular, cyclic, exponential).
        steps: the run length, the default horizon ``l`` of ``poly`` and ``cosine``.
        warmup: linear warm-up steps W ≥ 0 prepended to the policy.
        **params: the policy's parameters.

    >>> s = make_schedule("inv", gamma=1.0, p=1.0)
    >>> float(s(3))
    0.25
    >>> float(make_schedule("tri", l=10, low=0.0)(5))   # half-way up the first ramp
    0.5
    """
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in _SPECS:
        raise BiasflowError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    spec = _SPECS[key]
    unknown = sorted(set(params) - set(spec))
    if unknown:
        allowed = ", ".join(list(spec) + ["warmup"])
        raise BiasflowError(
            f"schedule {key!r} has no parameter {unknown[0]!r}; its parameters are {allowed or 'warmup'}"
        )
    p: dict = {}
    for k, default in spec.items():
        v = params.get(k, default)
        if v == "steps":
            v = steps
        if v is None:
            raise BiasflowError(f"schedule {key!r} needs {k}=...; e.g. --schedule {_example(key)}")
        p[k] = v
    where = f"schedule {key!r}"

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise BiasflowError(f"{where}: {what}; e.g. --schedule {_example(key)}")

    def num(k) -> float:
        try:
            v = float(p[k])
        except (TypeError, ValueError):
            raise BiasflowError(f"{where}: {k} must be a number (got {p[k]!r})") from None
        need(math.isfinite(v), f"{k} must be finite (got {v})")
        p[k] = v
        return v

    def integer(k) -> int:
        v = num(k)
        need(v >= 1, f"{k} must be ≥ 1 (got {v:g})")
        need(v == int(v), f"{k} must be a whole number of steps (got {v:g})")
        p[k] = int(v)
        return int(v)

    if "gamma" in p:
        g = num("gamma")
        if key == "inv":
            need(g > 0, f"gamma must be > 0 (got {g:g})")
        else:
            need(0 < g <= 1, f"gamma must lie in (0, 1] (got {g:g})")
    if "p" in p:
        need(num("p") > 0, f"p must be > 0 (got {p['p']:g})")
    if "l" in p:
        integer("l")
    if "low" in p:
        need(0 <= num("low") <= 1,
             f"low must lie in [0, 1] (the lowest rate as a fraction of --lr; got {p['low']:g})")
    if "final" in p:
        need(0 <= num("final") <= 1, f"final must lie in [0, 1] (got {p['final']:g})")
    if "milestones" in p:
        ms = p["milestones"]
        if isinstance(ms, str):
            try:
                ms = tuple(int(v) for v in ms.split("/") if v.strip())
            except ValueError:
                raise BiasflowError(
                    f"{where}: milestones must be step numbers separated by '/' (got {p['milestones']!r}); "
                    f"e.g. --schedule {_example(key)}") from None
        ms = tuple(int(v) for v in ms)
        need(len(ms) > 0 and all(v >= 1 for v in ms) and all(a < b for a, b in zip(ms, ms[1:], strict=False)),
             "milestones must be increasing positive step numbers")
        p["milestones"] = ms
    try:
        w = float(warmup)
    except (TypeError, ValueError):
        raise BiasflowError(f"{where}: warmup must be a whole number of steps (got {warmup!r})") from None
    need(w >= 0 and w == int(w), f"warmup must be a whole number of steps ≥ 0 (got {warmup!r})")
    w = int(w)
    if key == "warmup":
        need(w >= 1, "needs warmup=W ≥ 1 steps")

    kind = "step"
    if key in ("constant", "warmup"):
        mult = optax.constant_schedule(1.0)
    elif key in ("loss", "normalized"):
        mult = optax.constant_schedule(1.0)
        kind = key
    elif key == "step":
        mult = optax.exponential_decay(1.0, transition_steps=p["l"], decay_rate=p["gamma"], staircase=True)
    elif key == "nstep":
        mult = optax.piecewise_constant_schedule(1.0, {m: p["gamma"] for m in p["milestones"]})
    elif key == "exp":
        mult = optax.exponential_decay(1.0, transition_steps=1, decay_rate=p["gamma"])
    elif key == "inv":
        g, q = p["gamma"], p["p"]
        mult = lambda t: (1.0 + g * jnp.asarray(t, jnp.float64)) ** (-q)
    elif key == "poly":
        mult = optax.polynomial_schedule(1.0, 0.0, power=p["p"], transition_steps=p["l"])
    elif key == "cosine":
        mult = optax.cosine_decay_schedule(1.0, decay_steps=p["l"], alpha=p["final"])
    else:
        shape = key[:3]
        decay = "half" if key.endswith("2") else "exp" if key.endswith("exp") else None
        mult = _cyclic(shape, float(p["l"]), p["low"], decay, p.get("gamma", 1.0))
    if w:
        need(kind == "step", "warmup does not combine with state-dependent steps")
        ramp = optax.linear_schedule(0.0, 1.0, transition_steps=w)
        mult = optax.join_schedules([ramp, mult], boundaries=[w])
        p["warmup"] = w
    return Schedule(name=key, params=p, mult=mult, kind=kind)


def parse_schedule(text: str | Schedule | None, steps: int | None = None) -> Schedule:
    """Read ``NAME[:key=value,...]`` (the ``--schedule`` option); None means constant.

    >>> parse_schedule("nstep:milestones=10/20,gamma=0.1").params["milestones"]
    (10, 20)
    >>> parse_schedule("cosine", steps=50).params["l"]
    50
    >>> parse_schedule("exp:gamma")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: cannot read --schedule 'exp:gamma': write NAME:key=value,... e.g. exp:...
    """
    if text is None:
        return make_schedule("constant", steps=steps)
    if isinstance(text, Schedule):
        return text
    s = str(text).strip()
    name, _, rest = s.partition(":")
    params: dict = {}
    if rest.strip():
        for item in rest.split(","):
            k, eq, v = item.partition("=")
            if not eq or not k.strip() or not v.strip():
                key = _ALIASES.get(name.strip().lower(), name.strip().lower())
                raise BiasflowError(
                    f"cannot read --schedule {s!r}: write NAME:key=value,... e.g. {_example(key)}"
                )
            params[k.strip()] = v.strip()
    warmup = params.pop("warmup", 0)
    for k, v in list(params.items()):
        if k != "milestones":
            try:
                params[k] = float(v)
            except ValueError:
                raise BiasflowError(f"cannot read --schedule {s!r}: {k}={v!r} is not a number") from None
    return make_schedule(name.strip(), steps=steps, warmup=warmup, **params)


__all__ = ["SCHEDULES", "Schedule", "make_schedule", "parse_schedule"]
