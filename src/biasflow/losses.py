"""Losses in the log domain: exp, logistic, square, each a MEAN over examples
(docs/theory/conventions.md §1, numerics.md §2.1).

All functions take ``z = A @ beta`` (margins m = X̃β for classification, predictions f = Xβ for regression)
and the labels ``y``; they compute in NumPy for NumPy input (JAX is never imported then) and in
jax.numpy for JAX arrays (JAX-traceable). A loss value is never formed where it could underflow:
:meth:`Loss.log_mean` returns log ℒ exactly even for margins of 1e6 (ℒ = e^{-1e6}).

- exp:      ℓ = e^{-m},            r = e^{-m}
- logistic: ℓ = log(1 + e^{-m}),   r = σ(−m)
- square:   ℓ = ½(f − y)²,         r = y − f

``r`` is the *residual*, with −∇_β ℒ = Aᵀr/n. The *weights* w = r/(nℒ) ∈ [0, 1] (a softmax of −m for exp)
give ∇_β log ℒ = −Aᵀw without forming ℒ.

>>> import numpy as np
>>> m = np.array([1e6, 2e6])
>>> float(EXP.log_mean(m, None)) == -1e6 - float(np.log(2.0))    # ℒ = e^{-1e6}/2, exactly in log
True
>>> float(LOGISTIC.log_mean(m, None)) == -1e6 - float(np.log(2.0))
True
>>> import jax.numpy as jnp                                      # the same on JAX arrays
>>> float(EXP.log_mean(jnp.asarray(m), None)) == -1e6 - float(np.log(2.0))
True
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable

import numpy as np

from .errors import BiasflowError
from .levels import LN10

_LOG_SWITCH = 30.0


def _xp(*arrays):
    """The array namespace of the arguments: jax.numpy for JAX arrays and tracers, NumPy otherwise.

    NumPy callers (the exact flow, margins, results) never import JAX: if JAX is not loaded, no argument
    can be a JAX array.
    """
    jax = sys.modules.get("jax")
    if jax is not None and any(isinstance(a, jax.Array) for a in arrays):
        from . import _jax  # noqa: F401  (float64)

        return jax.numpy
    return np


def _logsumexp(xp, a):
    if xp is np:
        from scipy.special import logsumexp

        return logsumexp(a, axis=-1)
    import jax

    return jax.scipy.special.logsumexp(a, axis=-1)


def _stop_gradient(xp, a):
    if xp is np:
        return a
    import jax

    return jax.lax.stop_gradient(a)


def log_logistic_loss(m):
    """Λ(m) = log log(1 + e^{−m}), exact for all m (docs/theory/numerics.md §2.1).

    For m ≤ 30 it is log(logaddexp(0, −m)); above, −m + log1p(−e^{−m}/2), with error O(e^{−2m}).
    """
    xp = _xp(m)
    m = xp.asarray(m, dtype=float) if xp is np else xp.asarray(m)
    lo = xp.minimum(m, _LOG_SWITCH)
    hi = xp.maximum(m, _LOG_SWITCH)
    small = xp.log(xp.logaddexp(0.0, -lo))
    large = -hi + xp.log1p(-0.5 * xp.exp(-hi))
    return xp.where(m <= _LOG_SWITCH, small, large)


def log_sigmoid_neg(m):
    """log σ(−m) = −(max(m, 0) + log1p(e^{−|m|}))."""
    xp = _xp(m)
    m = xp.asarray(m, dtype=float) if xp is np else xp.asarray(m)
    return -(xp.maximum(m, 0.0) + xp.log1p(xp.exp(-xp.abs(m))))


@dataclasses.dataclass(frozen=True)
class Loss:
    """A per-example loss ℓ(z; y) averaged over examples, with log-domain evaluation.

    Attributes:
        name: ``"exp"``, ``"logistic"`` or ``"square"``.
        task: the task it applies to.
        log_terms: z, y ↦ log ℓ_i (elementwise; −inf where ℓ_i = 0).
        residual: z, y ↦ r_i = −∂ℓ_i/∂z_i.
        value: z, y ↦ ℓ_i (plain values; may underflow, used for finite-step GD).
    """

    name: str
    task: str
    log_terms: Callable
    residual: Callable
    value: Callable

    def log_mean(self, z, y):
        """log ℒ = logsumexp_i log ℓ_i − log n."""
        xp = _xp(z, y)
        lt = self.log_terms(z, y)
        return _logsumexp(xp, lt) - math.log(lt.shape[-1])

    def log10_mean(self, z, y):
        """log10 ℒ."""
        return self.log_mean(z, y) / LN10

    def weights(self, z, y):
        """w_i = r_i/(nℒ): ∇_z log ℒ = −w (all in the log domain; Σw ≤ 1 for exp/logistic)."""
        xp = _xp(z, y)
        if self.name == "exp":
            e = xp.exp(-(z - _stop_gradient(xp, xp.min(z, axis=-1, keepdims=True))))
            return e / xp.sum(e, axis=-1, keepdims=True)  # softmax(−z), shifted: no overflow
        if self.name == "logistic":
            lt = self.log_terms(z, y)
            # shifted by the largest term: no cancellation in exp(log σ(−m) − log Σℓ) at margins ≫ 1
            mx = _stop_gradient(xp, xp.max(lt, axis=-1, keepdims=True))
            return xp.exp(log_sigmoid_neg(z) - mx) / xp.sum(xp.exp(lt - mx), axis=-1, keepdims=True)
        r = self.residual(z, y)
        return r / xp.sum(r * r, axis=-1, keepdims=True) * 2.0

    def mean(self, z, y):
        """ℒ as a float (may underflow to 0 for ℒ < 1e-308; use :meth:`log_mean` there)."""
        return _xp(z, y).mean(self.value(z, y), axis=-1)


def _sq_log_terms(z, y):
    xp = _xp(z, y)
    d = xp.abs(z - y)
    return 2.0 * xp.log(d) - math.log(2.0)


EXP = Loss(
    name="exp",
    task="classification",
    log_terms=lambda z, y: -z,
    residual=lambda z, y: _xp(z).exp(-z),
    value=lambda z, y: _xp(z).exp(-z),
)
LOGISTIC = Loss(
    name="logistic",
    task="classification",
    log_terms=lambda z, y: log_logistic_loss(z),
    residual=lambda z, y: 0.5 * (1.0 - _xp(z).tanh(0.5 * z)),
    value=lambda z, y: _xp(z).logaddexp(0.0, -z),
)
SQUARE = Loss(
    name="square",
    task="regression",
    log_terms=_sq_log_terms,
    residual=lambda z, y: y - z,
    value=lambda z, y: 0.5 * (z - y) ** 2,
)

LOSSES = {"exp": EXP, "logistic": LOGISTIC, "square": SQUARE}


def get_loss(name: str | Loss) -> Loss:
    """Look a loss up by name.

    >>> get_loss("exp").task
    'classification'
    >>> get_loss("hinge")
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: unknown loss 'hinge'; choose one of exp, logistic, square
    """
    if isinstance(name, Loss):
        return name
    if name not in LOSSES:
        raise BiasflowError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]


def floor_value(loss: Loss) -> float:
    """ℓ(0): the per-example loss at zero margin (1 for exp, log 2 for logistic)."""
    return {"exp": 1.0, "logistic": math.log(2.0), "square": 0.0}[loss.name]
