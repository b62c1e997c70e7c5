"""The model protocol and its optional capabilities (discovered by attribute presence, never by class).

A model is a small immutable object (a frozen dataclass) with a class attribute ``name``; its options are
dataclass fields whose ``metadata["help"]`` is their one-line documentation (read by the CLI and the sweep
schema through :func:`biasflow.models.options`). Every model has:

- ``d``: the input dimension;
- ``init(key) -> params``: initial parameters (a pytree of float64 arrays); ``key`` is a ``jax.random``
  key, ignored by deterministic initializations;
- ``apply(params, X) -> outputs``: the network's outputs f(X; θ), shape (n,);
- ``invariants(params) -> array``: quantities conserved along gradient flow (may be empty);
- ``config() -> dict``: its options, as stored in results tables;
- ``memory_bytes(n) -> int``: estimated peak memory of training on n examples, checked before allocating.

Capabilities (each optional; :func:`is_linear`, :func:`has_dual`, ... test for them):

- **linear** — ``predictor(params) -> beta`` (f(x) = xᵀβ(θ)) and ``degree`` (homogeneity of β in θ);
- **exact flow** — ``potential() -> Potential`` (NumPy, :mod:`biasflow.models.potentials`: β = Φ'(z) with
  z = Aᵀν, and Φ'', Φ''') and ``params_of_z(z) -> params`` (NumPy in, NumPy out);
- **transformed-space bias** — ``decomposition() -> Decomposition`` (:mod:`biasflow.models.decomposition`);
- ``untied_factors(params) -> list | None`` — the layers a_l of a one-branch untied diagonal net
  (β = a_1 ⊙ ⋯ ⊙ a_L), for Yun et al.'s closed-form interpolant;
- ``weight_matrices(params) -> list`` — the layer matrices of a fully connected net (alignment);
- ``even_alpha -> float | None`` — α when the model is Even et al.'s u⊙v with u(0) = √2α, v(0) = 0
  (the finite-step prediction).

Everything else (gradients, Hessian-vector products, NTK) is derived by JAX from ``apply``/``predictor``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

Params = Any


@runtime_checkable
class Model(Protocol):
    name: str
    d: int

    def init(self, key=None) -> Params: ...

    def apply(self, params: Params, X) -> Any: ...

    def invariants(self, params: Params) -> Any: ...

    def config(self) -> dict: ...

    def memory_bytes(self, n: int) -> int: ...


@runtime_checkable
class LinearModel(Model, Protocol):
    """f(x; θ) = xᵀβ(θ), β homogeneous of degree ``degree`` in θ."""

    @property
    def degree(self) -> int: ...

    def predictor(self, params: Params) -> Any: ...


@runtime_checkable
class DualModel(LinearModel, Protocol):
    """A model whose gradient flow is solved exactly by β = Φ'(Aᵀν) (docs/theory/diagonal.md §3.2)."""

    def potential(self) -> Any: ...

    def params_of_z(self, z) -> Params: ...


def is_linear(model) -> bool:
    """True when the model has an end-to-end linear predictor (``predictor`` and ``degree``)."""
    return callable(getattr(model, "predictor", None)) and hasattr(model, "degree")


def has_dual(model) -> bool:
    """True when the model exposes an exact dual solution (``potential`` and ``params_of_z``)."""
    return callable(getattr(model, "potential", None)) and callable(getattr(model, "params_of_z", None))


def has_decomposition(model) -> bool:
    """True when the model can say whether (and how) it is orthogonally decomposable."""
    return callable(getattr(model, "decomposition", None))


def bind_data(model, data):
    """The model bound to its training data when its map from parameters to outputs uses statistics of that
    data (capability ``bind(data) -> model``: batch normalization); otherwise the model itself."""
    bind = getattr(model, "bind", None)
    return bind(data) if callable(bind) else model


def linear_apply(model, params, X):
    """f = Xβ(θ): the ``apply`` of every linear model."""
    return X @ model.predictor(params)
