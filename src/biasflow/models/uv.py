"""The uv model of Lewkowycz et al. 2020: a two-layer linear network of width N in NTK parametrization.

f(x) = N^{−1/2} vᵀUx, U ∈ R^{N×d}, v ∈ R^N, all entries i.i.d. N(0, α²) at init (α = 1 is the paper's
NTK initialization). The end-to-end predictor is w = β = Uᵀv/√N (docs/theory/large-steps.md §5.1).

Besides the autodiff path every model has (:func:`biasflow.dynamics.descent.descent`), this module gives
**exact update maps** of gradient descent as an independent path (docs/theory/large-steps.md §5.2, §5.4):

- :func:`reduced_step` — any data, any loss: GD on (U, v) closes on the state (G, s, w) with G = UᵀU
  (d×d), s = ‖v‖², w = Uᵀv/√N. With e = Xᵀ∇_fℒ (the β-gradient), the step η maps

  ::

      w ← w − (η/N)(G + sI)e + (η²/N)(wᵀe) e
      s ← s − 2η wᵀe + (η²/N) eᵀGe
      G ← G − η(e wᵀ + w eᵀ) + (η² s/N) e eᵀ

  [derived here from U ← U − η v eᵀ/√N, v ← v − ηUe/√N]; the outputs are f = Xw and the NTK is
  Θ = (s XXᵀ + X G Xᵀ)/(N n). Its cost does not depend on the width N.
- :func:`warmup_map` — one example x = 1, y = 0, square loss: f ← f(1 − ηλ + η²f²/N),
  λ ← λ + (ηf²/N)(ηλ − 4) (Lewkowycz et al.'s warm-up map).
- :func:`logistic_map` — "degenerate" data x_α = s_αx̄ with logistic loss, in g = f(x̄) and λ
  (docs/theory/large-steps.md §5.4): g ← g − ηλℓ'(g) + κ(η²/N)ℓ'(g)²g, λ ← λ + κ(ηℓ'(g)/N)(ηλℓ'(g) − 4g),
  ℓ'(g) = σ(g) − p.

Gradient flow conserves vvᵀ − UUᵀ (:meth:`UV.invariants`, docs/theory/oracles.md §8.2); GD drifts by O(η²) per step.

>>> import jax, jax.numpy as jnp
>>> m = UV(d=1, width=50, seed=0)
>>> p = m.init()
>>> f0, lam0 = float(m.predictor(p)[0]), float(m.ntk(p, jnp.ones((1, 1)))[0, 0])
>>> f1, lam1 = warmup_map(f0, lam0, 0.5, 50, steps=1)
>>> s1 = reduced_step(m.reduced(p), jnp.ones((1, 1)), jnp.zeros(1), "square", 0.5)
>>> bool(abs(float(s1.w[0]) - float(f1[-1])) < 1e-12)
True
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from ..losses import get_loss
from .memory import SOLVER_COPIES, check_memory


class UVState(NamedTuple):
    """The closed state of GD on the uv model: G = UᵀU, s = ‖v‖², w = Uᵀv/√N (and the width N)."""

    G: jax.Array
    s: jax.Array
    w: jax.Array
    N: int

    def ntk(self, X) -> jax.Array:
        """Θ = (s XXᵀ + X G Xᵀ)/(N n)."""
        X = jnp.asarray(X)
        return (self.s * X @ X.T + X @ self.G @ X.T) / (self.N * X.shape[0])

    def ntk_top(self, X) -> jax.Array:
        return jnp.linalg.eigvalsh(self.ntk(X))[-1]


def check_two_layer(model, example_width: int) -> None:
    """Validate the (d, width, alpha) options of a two-layer model; one clear error each."""
    if not (isinstance(model.d, (int, np.integer)) and model.d >= 1):
        raise BiasflowError(f"input dimension d must be a positive integer (got {model.d!r})")
    if not (isinstance(model.width, (int, np.integer)) and model.width >= 1):
        raise BiasflowError(
            f"{model.name} width must be an integer ≥ 1 (got {model.width!r}); pass e.g. --width {example_width}")
    if not (math.isfinite(model.alpha) and model.alpha > 0):
        raise BiasflowError(f"alpha must be a positive finite number (got {model.alpha!r})")


def gaussian_two_layer_init(model, key=None):
    """(U, v) ∈ R^{N×d} × R^N with i.i.d. N(0, α²) entries, from ``key`` or the model's seed."""
    key = jax.random.PRNGKey(model.seed) if key is None else key
    ku, kv = jax.random.split(key)
    U = model.alpha * jax.random.normal(ku, (model.width, model.d), jnp.float64)
    v = model.alpha * jax.random.normal(kv, (model.width,), jnp.float64)
    return (U, v)


@dataclasses.dataclass(frozen=True, eq=False)
class UV:
    """Two-layer linear network f = N^{−1/2}vᵀUx (Lewkowycz et al. 2020), NTK parametrization.

    Args:
        d: input dimension.
        width: N ≥ 1, the hidden width.
        alpha: the standard deviation of the initial entries (1 is the NTK initialization).
        seed: the initialization seed used when :meth:`init` gets no key.
    """

    d: int
    width: int = 1000
    alpha: float = 1.0
    seed: int = 0
    name: str = "uv"

    def __post_init__(self):
        check_two_layer(self, example_width=1000)
        check_memory(self.memory_bytes(0), f"a uv net of width {self.width} on d={self.d}", "reduce --width")

    @property
    def degree(self) -> int:
        return 2

    def init(self, key=None):
        """(U, v) with i.i.d. N(0, α²) entries."""
        return gaussian_two_layer_init(self, key)

    def apply(self, params, X):
        """f = Xβ(θ)."""
        return X @ self.predictor(params)

    def memory_bytes(self, n: int) -> int:
        """Bytes: working copies of U, v (N(d + 1) words each) and the data with one copy."""
        return int(8 * (SOLVER_COPIES * self.width * (self.d + 1) + 2 * n * self.d))

    def predictor(self, params):
        """β = Uᵀv/√N."""
        U, v = params
        return U.T @ v / jnp.sqrt(float(self.width))

    def invariants(self, params):
        """vvᵀ − UUᵀ (N×N, flattened), conserved by gradient flow."""
        check_memory(8 * 3 * self.width**2, f"the uv invariants vvᵀ − UUᵀ ({self.width}×{self.width})",
                     "skip the invariants or reduce --width")
        U, v = params
        return (jnp.outer(v, v) - U @ U.T).ravel()

    def config(self) -> dict:
        return {"model": self.name, "depth": 2, "width": int(self.width), "alpha": float(self.alpha),
                "seed": int(self.seed)}

    def ntk(self, params, X):
        """The tangent kernel Θ_{αβ} = (‖v‖² x_αᵀx_β + x_αᵀUᵀUx_β)/(N n), normalized like the mean loss."""
        U, v = params
        X = jnp.asarray(X)
        UX = X @ U.T
        return (jnp.vdot(v, v) * X @ X.T + UX @ UX.T) / (self.width * X.shape[0])

    def ntk_top(self, params, X) -> jax.Array:
        """λ = λ_max(Θ) (λ0 at the initial parameters)."""
        return jnp.linalg.eigvalsh(self.ntk(params, X))[-1]

    def reduced(self, params) -> UVState:
        """The closed state (UᵀU, ‖v‖², Uᵀv/√N) of the exact GD map."""
        U, v = params
        return UVState(G=U.T @ U, s=jnp.vdot(v, v), w=self.predictor(params), N=int(self.width))


# -------------------------------------------------------------------------------------------- exact maps
def _beta_grad(w, X, y, loss):
    """e = Xᵀ∇_fℒ for the mean loss (classification: f-derivative through the margins y·f)."""
    f = X @ w
    if loss.task == "classification":
        r = loss.residual(y * f, y)
        return -X.T @ (y * r) / X.shape[0]
    return -X.T @ loss.residual(f, y) / X.shape[0]


def reduced_step(state: UVState, X, y, loss, eta) -> UVState:
    """One exact GD step of the uv model on (G, s, w), for any data and loss (see the module docstring)."""
    loss = get_loss(loss)
    X, y = jnp.asarray(X, jnp.float64), jnp.asarray(y, jnp.float64)
    G, s, w, N = state
    e = _beta_grad(w, X, y, loss)
    we = jnp.vdot(w, e)
    w2 = w - (eta / N) * (G @ e + s * e) + (eta**2 / N) * we * e
    s2 = s - 2.0 * eta * we + (eta**2 / N) * (e @ G @ e)
    G2 = G - eta * (jnp.outer(e, w) + jnp.outer(w, e)) + (eta**2 * s / N) * jnp.outer(e, e)
    return UVState(G=G2, s=s2, w=w2, N=N)


def reduced_run(state: UVState, X, y, loss, eta, steps: int):
    """``steps`` exact GD steps; returns (final state, outputs f_t (steps+1, n), NTK λ_t (steps+1,)).

    Compiled with ``lax.scan``; vmap over ``eta`` for phase maps.
    """
    loss = get_loss(loss)
    X, y = jnp.asarray(X, jnp.float64), jnp.asarray(y, jnp.float64)
    N = state.N

    def body(carry, _):
        G, s, w = carry
        st = UVState(G, s, w, N)
        out = (X @ w, st.ntk_top(X))
        st = reduced_step(st, X, y, loss, eta)
        return (st.G, st.s, st.w), out

    (G, s, w), (fs, lams) = jax.lax.scan(body, (state.G, state.s, state.w), None, length=steps)
    last = UVState(G, s, w, N)
    fs = jnp.concatenate([fs, (X @ w)[None]])
    lams = jnp.concatenate([lams, last.ntk_top(X)[None]])
    return last, fs, lams


def warmup_map(f0, lam0, eta, N, steps: int = 1):
    """Lewkowycz et al.'s warm-up map (x = 1, y = 0, ℒ = f²/2); returns f_t, λ_t (length steps + 1)."""
    def body(c, _):
        f, lam = c
        nf = f * (1.0 - eta * lam + eta**2 * f * f / N)
        nl = lam + (eta * f * f / N) * (eta * lam - 4.0)
        return (nf, nl), (nf, nl)

    c0 = (jnp.asarray(f0, jnp.float64), jnp.asarray(lam0, jnp.float64))
    _, (fs, ls) = jax.lax.scan(body, c0, None, length=steps)
    return jnp.concatenate([c0[0][None], fs]), jnp.concatenate([c0[1][None], ls])


def logistic_map(g0, lam0, eta, N, p, kappa=1.0, steps: int = 1):
    """The degenerate-data logistic map of docs/theory/large-steps.md §5.4; returns arrays g_t, λ_t of length steps + 1.

    ℒ(g) = p log(1 + e^{−g}) + (1 − p) log(1 + e^{g}), ℓ'(g) = σ(g) − p (σ through tanh); κ = ‖x̄‖².
    """
    def body(c, _):
        g, lam = c
        lp = 0.5 * (1.0 + jnp.tanh(0.5 * g)) - p
        ng = g - eta * lam * lp + kappa * (eta**2 / N) * lp * lp * g
        nl = lam + kappa * (eta * lp / N) * (eta * lam * lp - 4.0 * g)
        return (ng, nl), (ng, nl)

    c0 = (jnp.asarray(g0, jnp.float64), jnp.asarray(lam0, jnp.float64))
    _, (gs, ls) = jax.lax.scan(body, c0, None, length=steps)
    return jnp.concatenate([c0[0][None], gs]), jnp.concatenate([c0[1][None], ls])


def binary_entropy(p: float) -> float:
    """H(p) in nats: the logistic loss floor on degenerate data with label fraction p
    (docs/theory/large-steps.md §5.4)."""
    if p in (0.0, 1.0):
        return 0.0
    return -(p * math.log(p) + (1.0 - p) * math.log1p(-p))


__all__ = ["UV", "UVState", "binary_entropy", "logistic_map", "make_uv", "reduced_run", "reduced_step",
           "warmup_map"]


def make_uv(d, depth=None, width=None, alpha=1.0, shape=None, seed=0, **_) -> UV:
    """Factory for :data:`biasflow.models.MODELS` (``--model uv [--width N] [--alpha A] [--seed K]``)."""
    if depth not in (None, 2):
        raise BiasflowError("the uv model has two layers; drop --depth")
    if shape is not None:
        raise BiasflowError("the uv model takes no --shape (its init is i.i.d. Gaussian; use --alpha/--seed)")
    return UV(d=d, width=1000 if width is None else int(width), alpha=float(alpha), seed=int(seed))
