"""Q-potentials and minimum-Q interpolants
(docs/theory/diagonal.md §3.4, §3.7, certificates.md §7, oracles.md §8.3–8.6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp

from biasflow.bias.interpolate import interpolate, min_l1_interpolant, min_l2_interpolant, stationarity
from biasflow.bias.potentials import Q, h_depth, h_depth_inverse, potential_of, q_hypentropy
from biasflow.data import gaussian, make_dataset
from biasflow.errors import BiasflowError
from biasflow.models import Diagonal, UntiedDiagonal

REG = gaussian(n=20, d=60, k=3, task="regression", seed=0)
SMALL = gaussian(n=6, d=12, k=2, task="regression", seed=2)


# ------------------------------------------------------------------------------------------ potentials
def test_hypentropy_closed_form_matches_quadrature():
    for z in (-7.0, -0.3, 1e-4, 0.5, 2.0, 30.0):
        ref = quad(lambda u: np.arcsinh(u / 2), 0.0, z, epsabs=0, epsrel=2e-14, limit=200)[0]
        assert float(q_hypentropy(z)) == pytest.approx(ref, rel=1e-13, abs=1e-300)


def test_hypentropy_asymptotics():
    z = 1e-2
    assert float(q_hypentropy(z)) == pytest.approx(z**2 / 4 - z**4 / 192, rel=1e-9)
    z = 1e4
    assert float(q_hypentropy(z)) == pytest.approx(z * np.log(z) - z + 2, rel=1e-8)


@pytest.mark.parametrize("D", [3, 4, 5])
def test_depth_potentials_derivatives(D):
    pot = potential_of(Diagonal(d=5, depth=D, alpha=0.7))
    w = np.array([-0.9, -0.2, 0.0, 0.3, 0.95]) * pot.bound
    eps = 1e-6 * pot.bound
    # Φ' = β (value vs beta) and Φ'' = curvature, by central differences
    fd = (pot.value(w + eps) - pot.value(w - eps)) / (2 * eps)
    np.testing.assert_allclose(fd, pot.beta(w), rtol=1e-6)
    fd2 = (pot.beta(w + eps) - pot.beta(w - eps)) / (2 * eps)
    np.testing.assert_allclose(fd2, pot.curvature(w), rtol=1e-6)
    # Q' = (Φ')⁻¹: finite differences of Q along each coordinate
    b = pot.beta(w)
    for j in range(5):
        e = np.zeros(5)
        e[j] = 1e-6 * max(1.0, abs(b[j]))
        dq = (pot.Q(b + e) - pot.Q(b - e)) / (2 * e[j])
        assert dq == pytest.approx(pot.inverse(b)[j], rel=1e-5, abs=1e-8)
    # small-t asymptotics q_D(t) ≈ (D−2)t²/(4D) for the unit potential a = κ = 1 (c_D absorbed)
    v = np.array([1e-3, -0.5, 0.999999])
    np.testing.assert_allclose(h_depth_inverse(h_depth(v, D), D), v, rtol=1e-12)


def test_potentials_reproduce_model_maps():
    z = np.array([0.3, -0.1, 0.0, 0.02])
    models = [Diagonal(d=4, depth=D, alpha=0.3, shape=(1.0, 2.0, 0.5, 1.5)) for D in (1, 2, 3, 4)]
    models += [
        UntiedDiagonal.from_scale_shape(4, alpha=0.01, shape=0.6),
        UntiedDiagonal.even(4, alpha=0.2),
        UntiedDiagonal(d=4, u0=0.7, v0=-0.2, branches=1),
    ]
    for m in models:
        np.testing.assert_allclose(
            potential_of(m).beta(z), np.asarray(m.beta_of_z(z)), rtol=1e-13, atol=1e-300
        )
        assert Q(m, np.asarray(m.beta_of_z(np.zeros(4)))) == pytest.approx(0.0, abs=1e-15)


def test_extreme_scales_never_nan():
    pot = potential_of(Diagonal(d=3, depth=2, alpha=1e-140))
    w = np.array([0.0, 150.0, 1e4])
    b = pot.beta(w)
    assert np.all(~np.isnan(b)) and b[0] == 0 and np.isfinite(b[1]) and b[2] == np.inf
    assert np.all(~np.isnan(pot.value(w)))
    with pytest.raises(BiasflowError, match=r"usable range.*\[1e-100, 1e100\]"):
        potential_of(Diagonal(d=3, depth=3, alpha=1e-120))


# ---------------------------------------------------------------------------------------- interpolants
@pytest.mark.parametrize(
    "D,alpha",
    [(2, 1e-6), (2, 1e-3), (2, 1.0), (2, 1e3), (2, 1e6), (3, 1e-4), (3, 1e-2), (3, 1.0), (3, 1e6), (4, 1e-2)],
)
def test_interpolant_certificates(D, alpha):
    r = interpolate(Diagonal(d=60, depth=D, alpha=alpha), REG)
    assert r.status == "ok"
    assert np.linalg.norm(REG.X @ r.predictor - REG.y) <= 1e-10 * max(1, np.linalg.norm(REG.y))
    assert r.kkt <= 1e-9
    # stationarity recomputed independently from the potential
    assert (
        stationarity(REG.X, potential_of(Diagonal(d=60, depth=D, alpha=alpha)).inverse(r.predictor)) <= 1e-9
    )


def test_rich_limit_l1_ratio_tends_to_one():
    b1 = np.abs(min_l1_interpolant(REG)).sum()
    ratios = [
        np.abs(interpolate(Diagonal(d=60, alpha=a), REG).predictor).sum() / b1 - 1
        for a in (1e-1, 1e-2, 1e-4, 1e-6)
    ]
    assert all(x > y for x, y in zip(ratios, ratios[1:], strict=False))
    assert ratios[-1] < 1e-4
    # D = 3: polynomial approach, much closer at the same α
    r3 = np.abs(interpolate(Diagonal(d=60, depth=3, alpha=1e-2), REG).predictor).sum() / b1 - 1
    assert 0 <= r3 < ratios[1]


def test_kernel_limit_rate():
    b2 = min_l2_interpolant(REG)
    np.testing.assert_allclose(b2, np.linalg.lstsq(REG.X, REG.y, rcond=None)[0], rtol=1e-10)
    dist = {a: np.linalg.norm(interpolate(Diagonal(d=60, alpha=a), REG).predictor - b2) for a in (1, 6, 24)}
    assert dist[24] < dist[6] < dist[1]
    # docs/theory/oracles.md §8.4: ‖β_α − X⁺y‖·α^{2D} changes by < 1% between α = 6 and α = 24 (D = 2)
    assert dist[24] * 24**4 == pytest.approx(dist[6] * 6**4, rel=1e-2)


def test_shape_as_scale_azulay():
    # two-branch untied model = Woodworth's Q with α_eff² = (u0² + v0²)/2 (docs/theory/diagonal.md §3.7)
    m = UntiedDiagonal.from_scale_shape(60, alpha=1e-3, shape=0.9)
    a_eff = m.alpha_eff
    ra = interpolate(m, REG).predictor
    rb = interpolate(Diagonal(d=60, alpha=a_eff), REG).predictor
    np.testing.assert_allclose(ra, rb, rtol=1e-9, atol=1e-12)
    rc = interpolate(Diagonal(d=60, alpha=np.sqrt(1e-3)), REG).predictor  # α² = u0v0: visibly wrong
    assert np.linalg.norm(rc - ra) > 1e-3 * np.linalg.norm(ra)


@pytest.mark.parametrize("D", [2, 3])
def test_primal_ode_end_point_equals_interpolant(D):
    # independent path: integrate gradient flow on the 2d parameters (u₊, u₋) with Radau to t = 4000
    m = Diagonal(d=12, depth=D, alpha=0.7)
    X, y, n = SMALL.X, SMALL.y, SMALL.n

    def rhs(t, th):
        up, um = th[:12], th[12:]
        r = y - X @ (up**D - um**D)
        g = X.T @ r / n
        return np.concatenate([D * up ** (D - 1) * g, -D * um ** (D - 1) * g])

    th0 = np.full(24, 0.7)
    sol = solve_ivp(rhs, (0, 4000.0), th0, method="Radau", rtol=1e-12, atol=1e-14)
    up, um = sol.y[:12, -1], sol.y[12:, -1]
    beta_gf = up**D - um**D
    r = interpolate(m, SMALL)
    np.testing.assert_allclose(beta_gf, r.predictor, rtol=1e-6, atol=1e-8)


def test_rank_deficient_and_inconsistent():
    X = np.vstack([SMALL.X, SMALL.X[:1]])
    ok = make_dataset(X, np.concatenate([SMALL.y, SMALL.y[:1]]), task="regression")
    r = interpolate(Diagonal(d=12, alpha=0.1), ok)
    assert r.status == "ok" and np.linalg.norm(X @ r.predictor - ok.y) < 1e-10
    bad = make_dataset(X, np.concatenate([SMALL.y, SMALL.y[:1] + 1.0]), task="regression")
    with pytest.raises(BiasflowError, match="no interpolant exists.*least_squares=True"):
        interpolate(Diagonal(d=12, alpha=0.1), bad)
    r = interpolate(Diagonal(d=12, alpha=0.1), bad, least_squares=True)
    proj = X @ np.linalg.lstsq(X, bad.y, rcond=None)[0]
    assert r.least_squares and np.linalg.norm(X @ r.predictor - proj) < 1e-10


def test_interpolate_bad_inputs():
    with pytest.raises(BiasflowError, match="regression"):
        interpolate(Diagonal(d=30), gaussian(n=10, d=30))
    with pytest.raises(BiasflowError, match="d = 7"):
        interpolate(Diagonal(d=7), SMALL)
    with pytest.raises(BiasflowError, match="alpha"):
        interpolate(Diagonal(d=12, alpha=-1.0), SMALL)


@settings(max_examples=20)
@given(n=st.integers(1, 6), extra=st.integers(0, 10), depth=st.sampled_from([2, 3, 4]),
       log_alpha=st.floats(-6, 6), scale=st.sampled_from([1e-3, 1.0, 1e3]), seed=st.integers(0, 10_000))
def test_interpolant_certificates_random(n, extra, depth, log_alpha, scale, seed):
    rng = np.random.default_rng(seed)
    ds = make_dataset(rng.standard_normal((n, n + extra)), scale * rng.standard_normal(n), task="regression")
    r = interpolate(Diagonal(d=ds.d, depth=depth, alpha=10**log_alpha), ds)
    assert r.status == "ok" and np.all(np.isfinite(r.predictor))
    assert r.residual <= 1e-10 and r.kkt <= 1e-9
