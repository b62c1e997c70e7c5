"""A two-layer linear network with a vector output layer: f(x) = xᵀW a (Saxe et al. 2014; Arora et al. 2018).

W ∈ R^{d×k}, a ∈ R^k, so the end-to-end predictor is β = W a ∈ R^d, homogeneous of degree 2 in (W, a).
Gradient flow conserves WᵀW − a aᵀ (k × k): with g = ∇_βℒ, Ẇ = −g aᵀ and ȧ = −Wᵀg, so
d(WᵀW)/dt = −(Wᵀg aᵀ + a gᵀW) = d(a aᵀ)/dt (balancedness, Arora, Cohen, Hazan 2018).
Initialization at scale α: W = α·G/√d and a = α·g/√k with G, g i.i.d. N(0, 1).

Written against the model protocol only (:mod:`biasflow.models.base`): it has ``apply``, ``predictor`` and
``degree``; the gradient-flow solver, descent, the CLI options and the conformance tests come from the
registry line.

>>> m = TwoLayer(d=3, width=2, alpha=0.5)
>>> W, a = m.init()
>>> W.shape, a.shape, m.predictor((W, a)).shape
((3, 2), (2,), (3,))
>>> float(abs(m.invariants((2.0 * W, a / 2.0)) - m.invariants((W, a))).max()) > 0  # not a rescaling symmetry
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import ClassVar

import jax
import jax.numpy as jnp

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .memory import SOLVER_COPIES, check_memory


@dataclasses.dataclass(frozen=True, eq=False)
class TwoLayer:
    """f(x) = xᵀW a with W ∈ R^{d×k}, a ∈ R^k."""

    d: int
    width: int = field(default=8, metadata={"help": "hidden width k ≥ 1 (default 8)"})
    alpha: float = field(default=1.0, metadata={"help": "initialization scale α > 0 (default 1)"})
    seed: int = field(default=0, metadata={"help": "seed of the Gaussian initialization (default 0)"})
    name: ClassVar[str] = "twolayer"

    def __post_init__(self):
        for what, v in (("input dimension d", self.d), ("width", self.width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise BiasflowError(f"{what} must be a positive integer (got {v!r}); pass e.g. --width 8")
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha < float("inf")):
            raise BiasflowError(f"alpha must be a positive finite number (got {self.alpha!r}); pass e.g. --alpha 0.1")
        check_memory(self.memory_bytes(0), f"a two-layer net of width {self.width} on d={self.d}", "reduce --width")

    @property
    def degree(self) -> int:
        return 2

    def init(self, key=None):
        """W = α·G/√d, a = α·g/√k."""
        key = jax.random.PRNGKey(self.seed) if key is None else key
        kw, ka = jax.random.split(key)
        W = self.alpha * jax.random.normal(kw, (self.d, self.width), jnp.float64) / jnp.sqrt(float(self.d))
        a = self.alpha * jax.random.normal(ka, (self.width,), jnp.float64) / jnp.sqrt(float(self.width))
        return (W, a)

    def predictor(self, params):
        """β = W a."""
        W, a = params
        return W @ a

    def apply(self, params, X):
        """f = X W a."""
        return X @ self.predictor(params)

    def invariants(self, params):
        """WᵀW − a aᵀ (k × k, flattened), conserved by gradient flow."""
        W, a = params
        return (W.T @ W - jnp.outer(a, a)).ravel()

    def memory_bytes(self, n: int) -> int:
        """Bytes: solver copies of the k(d + 1) parameters, the data with one copy, and the k × k invariants."""
        k = self.width
        return int(8 * (SOLVER_COPIES * k * (self.d + 1) + 2 * n * self.d + 2 * k * k))

    def config(self) -> dict:
        return {"model": self.name, "depth": 2, "width": int(self.width), "alpha": float(self.alpha),
                "seed": int(self.seed)}


def make_twolayer(d, width=None, alpha=1.0, seed=0, depth=None, shape=None, **_) -> TwoLayer:
    """Factory for ``--model twolayer [--width K] [--alpha A] [--seed S]``."""
    if depth not in (None, 2):
        raise BiasflowError("the twolayer model has two layers; drop --depth")
    if shape is not None:
        raise BiasflowError("the twolayer model takes no --shape (its init is Gaussian; use --alpha/--seed)")
    return TwoLayer(d=d, width=8 if width is None else int(width), alpha=float(alpha), seed=int(seed))
