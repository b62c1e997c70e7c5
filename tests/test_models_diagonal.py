"""Diagonal networks: the exact dual solution is the gradient flow (an exact differential identity),
conserved quantities, and bad options."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.errors import BiasflowError
from biasflow.models import Diagonal, UntiedDiagonal, build_model, has_dual


def _models(d):
    yield Diagonal(d, depth=1, alpha=0.7)
    yield Diagonal(d, depth=2, alpha=0.3, shape=tuple(np.linspace(0.5, 2.0, d)))
    yield Diagonal(d, depth=3, alpha=0.5)
    yield Diagonal(d, depth=5, alpha=1.3)
    yield UntiedDiagonal.from_scale_shape(d, alpha=0.2, shape=0.6)
    yield UntiedDiagonal.even(d, alpha=0.4)
    yield UntiedDiagonal(d, u0=0.9, v0=-0.3, branches=1)


def _z(model, seed):
    z = np.random.default_rng(seed).uniform(-0.4, 0.4, model.d)
    bound = model.z_domain()
    if bound is not None:
        z = z * 0.9 * np.asarray(bound) / 0.4
    return jnp.asarray(z)


@pytest.mark.parametrize("model", list(_models(4)), ids=lambda m: f"{m.name}-{m.degree}")
@given(seed=st.integers(0, 1000))
def test_dual_solution_solves_gradient_flow(model, seed):
    """d/dt θ(z(t)) with ż = g must equal the gradient-flow field (∂β/∂θ)ᵀ g at θ(z), for any g.

    This is the defining identity of the exact solution (docs/theory/diagonal.md §3.2): z = Aᵀν accumulates
    g = −∇_β ℒ = Aᵀr/n, and gradient flow moves θ by −∇_θ ℒ = (∂β/∂θ)ᵀ g.
    """
    z = _z(model, seed)
    g = jnp.asarray(np.random.default_rng(seed + 1).standard_normal(model.d))
    theta = model.params_of_z(z)
    _, dtheta = jax.jvp(model.params_of_z, (z,), (g,))
    _, vjp = jax.vjp(model.predictor, theta)
    (field,) = vjp(g)
    for a, b in zip(jax.tree.leaves(dtheta), jax.tree.leaves(field), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(model.predictor(theta), model.beta_of_z(z), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("model", list(_models(3)), ids=lambda m: f"{m.name}-{m.degree}")
def test_initial_state_and_invariants(model):
    theta0 = model.init(jax.random.key(0))
    z0 = jnp.zeros(model.d)
    for a, b in zip(jax.tree.leaves(theta0), jax.tree.leaves(model.params_of_z(z0)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15)
    inv0 = model.invariants(theta0)
    for seed in range(3):
        np.testing.assert_allclose(model.invariants(model.params_of_z(_z(model, seed))), inv0, rtol=1e-10)


def test_closed_form_values():
    m = Diagonal(2, depth=2, alpha=0.5)
    z = jnp.array([0.1, -0.3])
    np.testing.assert_allclose(m.beta_of_z(z), 2 * 0.25 * np.sinh(4 * np.array([0.1, -0.3])), rtol=1e-15)
    # Woodworth linearization: β ≈ 2D²α^{2D−2} z for small z, D = 3.
    m3 = Diagonal(2, depth=3, alpha=0.7)
    z = jnp.array([1e-7, -2e-7])
    np.testing.assert_allclose(m3.beta_of_z(z), 2 * 9 * 0.7**4 * np.asarray(z), rtol=1e-6)
    # Two-branch untied: β = (u0² + v0²) sinh(2z).
    mu = UntiedDiagonal(2, u0=0.3, v0=0.8)
    np.testing.assert_allclose(mu.beta_of_z(z), (0.09 + 0.64) * np.sinh(2 * np.asarray(z)), rtol=1e-14)
    assert mu.alpha_eff == pytest.approx(np.sqrt((0.09 + 0.64) / 2))


def test_registry_and_dual_flag():
    assert has_dual(build_model("diagonal", 3))
    assert build_model("diagonal-uv", 3, alpha=0.5).u0 == pytest.approx(np.sqrt(2) * 0.5)
    assert build_model("diagonal-untied", 3, alpha=0.5, shape=0.2).branches == 2


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(depth=0), "depth"),
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=-1.0), "alpha"),
        (dict(alpha=float("nan")), "alpha"),
        (dict(alpha=1e-200), "usable float64 range"),
        (dict(shape=(1.0, -1.0, 1.0)), "shape"),
    ],
)
def test_bad_options(kwargs, fragment):
    with pytest.raises(BiasflowError, match=fragment):
        Diagonal(3, **kwargs)


def test_bad_untied_options():
    with pytest.raises(BiasflowError, match=r"\(-1, 1\)"):
        UntiedDiagonal.from_scale_shape(3, alpha=1.0, shape=1.0)
    with pytest.raises(BiasflowError, match="branches"):
        UntiedDiagonal(3, branches=3)
    with pytest.raises(BiasflowError, match="depth 2"):
        build_model("diagonal-untied", 3, depth=3)
