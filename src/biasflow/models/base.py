"""The model protocol every linear network implements.

A model is a small immutable object (a frozen dataclass). It knows its input dimension ``d`` and:

- ``init(key) -> params``: initial parameters (a pytree of float64 arrays); ``key`` is a
  ``jax.random`` key, ignored by deterministic initializations;
- ``predictor(params) -> beta``: the end-to-end linear predictor β(θ) ∈ R^d, with f(x; θ) = xᵀβ(θ);
- ``degree``: the homogeneity degree of β in θ (D for a depth-D diagonal net, L for an L-layer net);
- ``invariants(params) -> array``: quantities conserved along gradient flow
(docs/theory/diagonal.md §3.1, oracles.md §8.2);
- ``config() -> dict``: its options, as stored in results tables.

Everything else (gradients, Hessian-vector products, NTK) is derived by JAX from ``predictor``, so a new
architecture is one new file plus one line in :data:`biasflow.models.MODELS`.

Models with an exact dual solution (diagonal networks, docs/theory/diagonal.md §3.2) also provide
``beta_of_z(z)`` and ``params_of_z(z)``: the predictor and parameters after the flow has accumulated
z = Aᵀν(t), where ν is the integrated residual. The flow dispatcher uses them for ``method="exact"``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

from .. import _jax  # noqa: F401

Params = Any


@runtime_checkable
class Model(Protocol):
    name: str
    d: int

    @property
    def degree(self) -> int: ...

    def init(self, key: jax.Array | None = None) -> Params: ...

    def predictor(self, params: Params) -> jax.Array: ...

    def invariants(self, params: Params) -> jax.Array: ...

    def config(self) -> dict: ...


@runtime_checkable
class DualModel(Model, Protocol):
    """A model whose gradient flow is solved exactly by β = beta_of_z(Aᵀν) (docs/theory/diagonal.md §3.2)."""

    def beta_of_z(self, z: jax.Array) -> jax.Array: ...

    def params_of_z(self, z: jax.Array) -> Params: ...

    def z_domain(self) -> jax.Array | None:
        """Bound b with |z_j| < b_j along the flow (depth ≥ 3), or None if unbounded."""
        ...


def has_dual(model: Model) -> bool:
    """True when the model exposes an exact dual solution."""
    return callable(getattr(model, "beta_of_z", None))
