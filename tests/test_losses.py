"""Log-domain losses against mpmath at extreme margins, and the NumPy dual-flow loss terms against JAX."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.dynamics.exact import loss_terms
from biasflow.losses import EXP, LOGISTIC, SQUARE

mpmath.mp.dps = 60


def mp_log_mean(name, margins):
    if name == "exp":
        terms = [mpmath.exp(-mpmath.mpf(m)) for m in margins]
    else:
        terms = [mpmath.log1p(mpmath.exp(-mpmath.mpf(m))) for m in margins]
    return float(mpmath.log(mpmath.fsum(terms) / len(terms)))


@pytest.mark.parametrize("loss", [EXP, LOGISTIC])
@pytest.mark.parametrize("scale", [1e3, 1e4, 1e5, 1e6])
def test_log_mean_matches_mpmath(loss, scale):
    m = scale * np.array([1.0, 1.0 + 1e-4, 1.3, 2.0])
    ref = mp_log_mean(loss.name, m)
    got = float(loss.log_mean(m, None))
    # tol: log-domain closed forms vs 60-digit mpmath: correctly rounded functions leave ≤ 4 ulps
    assert abs(got - ref) <= 1e-15 * abs(ref)
    got_np, w, _ = loss_terms(loss.name, m, None)
    # tol: the NumPy path of the same closed forms: ≤ 4 ulps
    assert abs(got_np - ref) <= 1e-15 * abs(ref)


@pytest.mark.parametrize("loss", [EXP, LOGISTIC])
def test_log_mean_moderate_margins_match_mpmath(loss):
    m = np.array([-3.0, 0.0, 0.7, 29.9, 30.1, 40.0])
    # tol: logsumexp of n terms: γ_n·|log ℒ| with n ≤ 10
    assert abs(float(loss.log_mean(m, None)) - mp_log_mean(loss.name, m)) < 1e-14


@given(st.lists(st.floats(-50, 1e5), min_size=6, max_size=6), st.sampled_from(["exp", "logistic"]))
def test_numpy_terms_match_jax_losses(margins, name):
    m = np.array(margins)
    loss = EXP if name == "exp" else LOGISTIC
    lg, w, c = loss_terms(name, m, None)
    # tol: log10 ℒ of huge margins: relative rounding of m ≈ 1e6 is u·1e6 ≈ 1e-10 absolute; we ask 1e-12 relative
    assert abs(lg - float(loss.log_mean(m, None))) <= 1e-12 * max(1.0, abs(lg))
    # reference weights from the definition, in mpmath: w_i = r_i / Σ_j ℓ_j
    mpm = [mpmath.mpf(v) for v in m]
    if name == "exp":
        ell = [mpmath.exp(-v) for v in mpm]
        r = ell
    else:
        ell = [mpmath.log1p(mpmath.exp(-v)) for v in mpm]
        r = [1 / (1 + mpmath.exp(v)) for v in mpm]
    ref = np.array([float(ri / mpmath.fsum(ell)) for ri in r])
    # tol: softmax weights, two orders of summation: γ_n relative
    assert np.allclose(w, ref, rtol=1e-12, atol=1e-300)
    assert np.all(w >= 0) and w.sum() <= 1 + 1e-12


def test_weight_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    m = rng.normal(size=5) * 3
    y = rng.normal(size=5)
    for name in ("exp", "logistic", "square"):
        z = m if name != "square" else m
        _, w, c = loss_terms(name, z, y)
        J = np.outer(w, w) - np.diag(c)
        h = 1e-6
        num = np.column_stack([
            (loss_terms(name, z + h * e, y)[1] - loss_terms(name, z - h * e, y)[1]) / (2 * h)
            for e in np.eye(5)
        ])
        # tol: central differences (h = 1e-6) of the loss terms: truncation 1e-12 + rounding 1e-10 → 1e-6
        assert np.allclose(J, num, rtol=1e-6, atol=1e-8), name


def test_square_terms():
    y = np.array([1.0, -2.0, 0.5])
    m = np.array([0.5, -1.0, 0.0])
    lg, w, _ = loss_terms("square", m, y)
    assert math.isclose(lg, math.log(float(SQUARE.mean(m, y))), rel_tol=1e-14)


@pytest.mark.parametrize("loss", [EXP, LOGISTIC])
def test_jax_weights_exact_at_huge_margins(loss):
    m = 1e6 * np.array([1.0, 1.0, 1.0 + 1e-9, 1.5])
    mpm = [mpmath.mpf(v) for v in m]
    ell = [mpmath.exp(-v) for v in mpm] if loss is EXP else [mpmath.log1p(mpmath.exp(-v)) for v in mpm]
    r = ell if loss is EXP else [1 / (1 + mpmath.exp(v)) for v in mpm]
    ref = np.array([float(ri / mpmath.fsum(ell)) for ri in r])
    # tol: NumPy vs JAX evaluation of the same formula: γ_n relative
    assert np.allclose(np.asarray(loss.weights(m, None)), ref, rtol=1e-13, atol=1e-300)
