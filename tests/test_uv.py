"""The uv model (Lewkowycz et al. 2020) and large learning rates: exact maps vs autodiff GD
(docs/theory/oracles.md §8.8),
MSE phases (§5.3), logistic separable vs non-separable (§5.4, Huang et al. 2020), conservation (§8.2)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from biasflow.data import make_dataset
from biasflow.dynamics.descent import descent
from biasflow.errors import BiasflowError
from biasflow.models import build_model
from biasflow.models.uv import UV, binary_entropy, logistic_map, reduced_run, reduced_step, warmup_map

WARM = make_dataset(np.ones((1, 1)), np.zeros(1), task="regression", name="warmup")
M_WARM = UV(d=1, width=100, seed=0)
P_WARM = M_WARM.init(jax.random.PRNGKey(11))
LAM0_WARM = float(M_WARM.ntk_top(P_WARM, WARM.X))

_rng = np.random.default_rng(5)
REG = make_dataset(_rng.standard_normal((5, 3)), _rng.standard_normal(5), task="regression", name="reg")
M_REG = UV(d=3, width=64, seed=0)
P_REG = M_REG.init(jax.random.PRNGKey(2))
LAM0_REG = float(M_REG.ntk_top(P_REG, REG.X))

# degenerate data x_α = s_α x̄ (docs/theory/large-steps.md §5.4): f(x_α) = s_α g; p = fraction of y_α s_α = +1
XBAR = np.array([[0.6, -0.8]])  # κ = ‖x̄‖² = 1


def degenerate(p_plus: int, n: int) -> object:
    s = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    z = np.where(np.arange(n) < p_plus, 1.0, -1.0)
    return make_dataset(s[:, None] * XBAR, z * s, task="classification", name=f"degenerate-{p_plus}of{n}")


M_LOG = UV(d=2, width=64, seed=0)
P_LOG = M_LOG.init(jax.random.PRNGKey(4))


def test_ntk_closed_form_matches_autodiff_jacobian():
    from biasflow.dynamics.curvature import ntk_dense

    th = M_REG.ntk(P_REG, REG.X)
    ref = ntk_dense(lambda p: jnp.asarray(REG.X) @ M_REG.predictor(p), P_REG)
    np.testing.assert_allclose(th, ref, rtol=1e-12, atol=1e-14)
    st = M_REG.reduced(P_REG)
    np.testing.assert_allclose(st.ntk(REG.X), th, rtol=1e-12)


def _warm(c):
    """One compiled configuration shared by the warm-up tests: 100 steps, sharpness every 20."""
    return descent(M_WARM, WARM, "square", lr=c / LAM0_WARM, steps=100, sharpness_every=20, params0=P_WARM)


def test_warmup_map_matches_autodiff_one_step_and_100_lazy_steps():
    """docs/theory/oracles.md §8.8: 1e-12 for one step (here a catapult step, ηλ0 = 3), and over 100 lazy steps
    (1.5)."""
    f0 = float(M_WARM.predictor(P_WARM)[0])
    for c in (3.0, 1.5):
        r = _warm(c)
        fs, lams = warmup_map(f0, LAM0_WARM, c / LAM0_WARM, M_WARM.width, steps=100)
        loss_map = 0.5 * np.asarray(fs) ** 2
        assert abs(r.loss[1] - loss_map[1]) <= 1e-12 * loss_map[1]
        if c == 1.5:
            np.testing.assert_allclose(r.loss, loss_map, rtol=1e-10, atol=1e-12 * r.loss[0])
            assert abs(float(M_WARM.predictor(r.params)[0]) - float(fs[-1])) <= 1e-12 * abs(f0)
            assert abs(float(M_WARM.ntk_top(r.params, WARM.X)) - float(lams[-1])) <= 1e-12 * LAM0_WARM


def test_mse_phases_lazy_catapult_divergent():
    """η < 2/λ0: monotone, λ barely moves; 2/λ0 < η < 4/λ0: catapult, final sharpness < 2/η;
    η > 4/λ0: diverged."""
    lazy, cat, div = _warm(1.5), _warm(3.0), _warm(5.0)
    assert lazy.status == "ok" and np.all(np.diff(lazy.loss) <= 1e-12 * lazy.loss[0])
    assert lazy.sharpness[-1] / lazy.sharpness[0] > 0.95
    assert cat.status == "ok" and cat.loss.max() / cat.loss[0] >= 10 and cat.loss[-1] < 1e-12
    eta = 3.0 / LAM0_WARM
    assert cat.sharpness[-1] < 2.0 / eta and cat.sharpness[-1] / cat.sharpness[0] <= 0.6
    assert div.status == "diverged" and div.steps < 50 and np.all(np.isfinite(div.loss))
    assert all(np.all(np.isfinite(x)) for x in jax.tree_util.tree_leaves(div.params))
    assert len(div.sharpness) == len(div.history["sharpness_step"]) and np.all(np.isfinite(div.sharpness))


def test_reduced_map_matches_autodiff_gd_any_data():
    """The (UᵀU, ‖v‖², w) map (width-independent) reproduces full-parameter GD: one catapult step (1e-12)
    and 100 lazy steps (1e-10)."""
    st0 = M_REG.reduced(P_REG)
    for c in (3.0, 1.5):
        eta = c / LAM0_REG
        r = descent(M_REG, REG, "square", lr=eta, steps=100, params0=P_REG)
        last, fs, lams = reduced_run(st0, REG.X, REG.y, "square", eta, 100)
        loss_map = 0.5 * np.mean((np.asarray(fs) - REG.y) ** 2, axis=1)
        assert abs(r.loss[1] - loss_map[1]) <= 1e-12 * loss_map[1]
        if c == 1.5:
            np.testing.assert_allclose(loss_map, r.loss, rtol=1e-10)
            w_gd = np.asarray(r.predictor)
            np.testing.assert_allclose(w_gd, last.w, rtol=1e-10, atol=1e-12 * np.abs(w_gd).max())
            U, v = r.params
            np.testing.assert_allclose(U.T @ U, last.G, rtol=1e-10)
            assert abs(float(v @ v) - float(last.s)) <= 1e-10 * float(v @ v)
    one = reduced_step(st0, REG.X, REG.y, "square", 3.0 / LAM0_REG)
    np.testing.assert_allclose(REG.X @ one.w, np.asarray(reduced_run(st0, REG.X, REG.y, "square",
                                                                      3.0 / LAM0_REG, 1)[1][1]), rtol=1e-13)


def test_logistic_degenerate_map_matches_autodiff():
    ds = degenerate(3, 4)  # p = 3/4
    p = 0.75
    g0 = float(jnp.asarray(XBAR[0]) @ M_LOG.predictor(P_LOG))
    lam0 = float(M_LOG.ntk_top(P_LOG, XBAR))  # λ = (κ‖v‖² + ‖Ux̄‖²)/N
    for c in (6.0, 1.0):
        eta = c / lam0
        r = descent(M_LOG, ds, "logistic", lr=eta, steps=100, params0=P_LOG)
        gs, lams = logistic_map(g0, lam0, eta, M_LOG.width, p, kappa=1.0, steps=100)
        gs = np.asarray(gs)
        loss_map = p * np.logaddexp(0.0, -gs) + (1 - p) * np.logaddexp(0.0, gs)
        assert abs(r.loss[1] - loss_map[1]) <= 1e-12 * loss_map[1]
        if c == 1.0:
            np.testing.assert_allclose(r.loss, loss_map, rtol=1e-12)
            g_gd = float(jnp.asarray(XBAR[0]) @ r.predictor)
            assert abs(g_gd - float(gs[-1])) <= 1e-12 * max(1.0, abs(g_gd))
            assert abs(float(M_LOG.ntk_top(r.params, XBAR)) - float(lams[-1])) <= 1e-12 * lam0


def test_gd_conservation_drift_is_second_order_in_eta():
    """vvᵀ − UUᵀ is conserved by GF; GD drifts by O(η²) per step, so over a fixed time ηK the drift halves
    when η halves (and a single step's drift is divided by 4: checked on the exact one-step change)."""
    inv0 = np.asarray(M_REG.invariants(P_REG))
    eta = 0.2 / LAM0_REG

    def drift(e, steps):
        r = descent(M_REG, REG, "square", lr=e, steps=steps, params0=P_REG)
        return np.abs(np.asarray(M_REG.invariants(r.params)) - inv0).max()

    assert 1.8 < drift(eta, 50) / drift(eta / 2, 100) < 2.2
    # one step: v'v'ᵀ − U'U'ᵀ − (vvᵀ − UUᵀ) = η²(UeeᵀUᵀ/N − s eeᵀ... ) is exactly quadratic in η
    st0 = M_REG.reduced(P_REG)
    s1, s2 = (reduced_step(st0, REG.X, REG.y, "square", e) for e in (eta, eta / 2))
    d1 = abs(float(s1.s - jnp.trace(s1.G)) - float(st0.s - jnp.trace(st0.G)))
    d2 = abs(float(s2.s - jnp.trace(s2.G)) - float(st0.s - jnp.trace(st0.G)))
    assert 3.99 < d1 / d2 < 4.01


def test_logistic_separable_no_catapult_loss_to_zero():
    """Separable (p = 1): the loss falls at every step even at ηλ0 = 50, and goes to 0."""
    ds = degenerate(4, 4)
    lam0 = float(M_LOG.ntk_top(P_LOG, XBAR))
    r = descent(M_LOG, ds, "logistic", lr=50.0 / lam0, steps=100, params0=P_LOG)
    assert r.status == "ok"
    assert np.all(np.diff(r.history["log10_loss"]) <= 1e-12)
    assert r.history["log10_loss"][-1] < -3
    assert np.all(np.diff(r.history["margin_min"]) >= -1e-12)


def test_logistic_non_separable_catapult_to_flatter_minimum():
    """Non-separable p = ½ (docs/theory/large-steps.md §5.4): η_crit = 2/(p(1−p)λ0) = 8/λ0. Above it the loss
    oscillates, then
    still reaches H(p), with final η p(1−p) S just below 2 (width N = 1000); below it λ barely moves."""
    ds = degenerate(2, 4)
    m = UV(d=2, width=1000, seed=0)
    p0 = m.init(jax.random.PRNGKey(4))
    lam0 = float(m.ntk_top(p0, XBAR))
    crit = 8.0 / lam0
    H = binary_entropy(0.5)
    lo = descent(m, ds, "logistic", lr=0.9 * crit, steps=1000, sharpness_every=1000, params0=p0)
    hi = descent(m, ds, "logistic", lr=1.5 * crit, steps=1000, sharpness_every=1000, params0=p0)
    assert lo.status == hi.status == "ok"
    assert abs(lo.loss[-1] - H) < 1e-10 and abs(hi.loss[-1] - H) < 1e-10
    s_lo, s_hi = lo.sharpness[-1], hi.sharpness[-1]
    assert 1.9 <= 1.5 * crit * s_hi < 2.0          # final sharpness just below 2/η
    assert s_hi < s_lo                              # a flatter minimum than the small-η run
    assert float(m.ntk_top(lo.params, XBAR)) / lam0 >= 0.98
    assert float(m.ntk_top(hi.params, XBAR)) / lam0 <= 0.97
    assert np.any(np.diff(hi.loss) > 0)             # not monotone: the oscillation (catapult) phase


def test_uv_factory_and_bad_options():
    m = build_model("uv", 3, width=10, alpha=0.5, seed=3)
    assert isinstance(m, UV) and m.width == 10 and m.config()["alpha"] == 0.5
    with pytest.raises(BiasflowError, match="width"):
        UV(d=3, width=0)
    with pytest.raises(BiasflowError, match="depth"):
        build_model("uv", 3, depth=3)
    with pytest.raises(BiasflowError, match="alpha"):
        UV(d=2, alpha=-1.0)
    assert math.isclose(binary_entropy(0.5), math.log(2.0))


def test_reduced_map_general_classification_data():
    """Exact map vs autodiff on general (non-degenerate) classification data with logistic loss."""
    rng = np.random.default_rng(0)
    ds = make_dataset(rng.standard_normal((4, 2)), np.array([1.0, -1.0, 1.0, 1.0]), task="classification")
    r = descent(M_LOG, ds, "logistic", lr=2.0, steps=100, params0=P_LOG)
    last, fs, _ = reduced_run(M_LOG.reduced(P_LOG), ds.X, ds.y, "logistic", 2.0, 100)
    np.testing.assert_allclose(r.predictor, last.w, rtol=1e-11, atol=1e-13)
