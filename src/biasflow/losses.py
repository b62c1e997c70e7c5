"""Losses in the log domain: exp, logistic, square, each a MEAN over examples
(docs/theory/conventions.md §1, numerics.md §2.1).

All functions take ``z = A @ beta`` (margins m = X̃β for classification, predictions f = Xβ for regression)
and the labels ``y``, and are JAX-traceable. A loss value is never formed where it could underflow:
:meth:`Loss.log_mean` returns log ℒ exactly even for margins of 1e6 (ℒ = e^{-1e6}).

- exp:      ℓ = e^{-m},            r = e^{-m}
- logistic: ℓ = log(1 + e^{-m}),   r = σ(−m)
- square:   ℓ = ½(f − y)²,         r = y − f

``r`` is the *residual*, with −∇_β ℒ = Aᵀr/n. The *weights* w = r/(nℒ) ∈ [0, 1] (a softmax of −m for exp)
give ∇_β log ℒ = −Aᵀw without forming ℒ.

>>> import jax.numpy as jnp
>>> m = jnp.array([1e6, 2e6])
>>> float(EXP.log_mean(m, None)) == -1e6 - float(jnp.log(2.0))    # ℒ = e^{-1e6}/2, exactly in log
True
>>> float(LOGISTIC.log_mean(m, None)) == -1e6 - float(jnp.log(2.0))
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from . import _jax  # noqa: F401  (float64)
from .errors import BiasflowError
from .levels import LN10

_LOG_SWITCH = 30.0


def log_logistic_loss(m):
    """Λ(m) = log log(1 + e^{−m}), exact for all m (docs/theory/numerics.md §2.1).

    For m ≤ 30 it is log(logaddexp(0, −m)); above, −m + log1p(−e^{−m}/2), with error O(e^{−2m}).
    """
    m = jnp.asarray(m)
    lo = jnp.minimum(m, _LOG_SWITCH)
    hi = jnp.maximum(m, _LOG_SWITCH)
    small = jnp.log(jnp.logaddexp(0.0, -lo))
    large = -hi + jnp.log1p(-0.5 * jnp.exp(-hi))
    return jnp.where(m <= _LOG_SWITCH, small, large)


def log_sigmoid_neg(m):
    """log σ(−m) = −(max(m, 0) + log1p(e^{−|m|}))."""
    m = jnp.asarray(m)
    return -(jnp.maximum(m, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(m))))


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
        lt = self.log_terms(z, y)
        return jax.scipy.special.logsumexp(lt, axis=-1) - jnp.log(lt.shape[-1])

    def log10_mean(self, z, y):
        """log10 ℒ."""
        return self.log_mean(z, y) / LN10

    def weights(self, z, y):
        """w_i = r_i/(nℒ): ∇_z log ℒ = −w (all in the log domain; Σw ≤ 1 for exp/logistic)."""
        if self.name == "exp":
            return jax.nn.softmax(-z, axis=-1)
        if self.name == "logistic":
            lt = self.log_terms(z, y)
            # shifted by the largest term: no cancellation in exp(log σ(−m) − log Σℓ) at margins ≫ 1
            mx = jax.lax.stop_gradient(jnp.max(lt, axis=-1, keepdims=True))
            return jnp.exp(log_sigmoid_neg(z) - mx) / jnp.sum(jnp.exp(lt - mx), axis=-1, keepdims=True)
        r = self.residual(z, y)
        return r / jnp.sum(r * r, axis=-1, keepdims=True) * 2.0

    def mean(self, z, y):
        """ℒ as a float (may underflow to 0 for ℒ < 1e-308; use :meth:`log_mean` there)."""
        return jnp.mean(self.value(z, y), axis=-1)


def _sq_log_terms(z, y):
    d = jnp.abs(z - y)
    return 2.0 * jnp.log(d) - jnp.log(2.0)


EXP = Loss(
    name="exp",
    task="classification",
    log_terms=lambda z, y: -z,
    residual=lambda z, y: jnp.exp(-z),
    value=lambda z, y: jnp.exp(-z),
)
LOGISTIC = Loss(
    name="logistic",
    task="classification",
    log_terms=lambda z, y: log_logistic_loss(z),
    residual=lambda z, y: 0.5 * (1.0 - jnp.tanh(0.5 * z)),
    value=lambda z, y: jnp.logaddexp(0.0, -z),
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
