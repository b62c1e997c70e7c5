"""Analytic Jacobians of the exact systems against central finite differences (all losses, depths)."""

from __future__ import annotations

import numpy as np
import pytest

from biasflow.data import gaussian
from biasflow.dynamics.exact import DualSystem, RatioSystem
from biasflow.dynamics.primal import PrimalSystem
from biasflow.losses import EXP, LOGISTIC, SQUARE
from biasflow.models import Diagonal, UntiedDiagonal

CLS = gaussian(n=6, d=9, k=1, seed=2)
REG = gaussian(n=5, d=9, k=2, task="regression", seed=2)


# tol: central differences with h = 1e-6: truncation O(h²)·|f'''| ≈ 1e-12, rounding u·|f|/h ≈ 1e-10 → 1e-5 relative
def fd_check(system, x, h=1e-6, rtol=1e-5):
    F, s, g = system.evaluate(x)
    JF, gs, gg = system.jacobian(x)
    cols_F, cols_s, cols_g = [], [], []
    for e in np.eye(x.size):
        Fp, sp, gp = system.evaluate(x + h * e)
        Fm, sm, gm = system.evaluate(x - h * e)
        cols_F.append((Fp - Fm) / (2 * h))
        cols_s.append((sp - sm) / (2 * h))
        cols_g.append((gp - gm) / (2 * h))
    nF, ns, ng = np.column_stack(cols_F), np.array(cols_s), np.array(cols_g)
    assert np.allclose(JF, nF, rtol=rtol, atol=rtol * np.abs(nF).max())
    assert np.allclose(gs, ns, rtol=rtol, atol=rtol * np.abs(ns).max())
    assert np.allclose(gg, ng, rtol=rtol, atol=rtol * np.abs(ng).max())
    # g = ⟨∇s, F⟩ (the clock rate is the derivative of s along the flow)
    # tol: an identity of float64 sums over n ≤ 9 terms: γ_n·|g|·κ, κ ≤ 1e4
    assert abs(g - gs @ F) <= 1e-10 * max(1.0, abs(g))


@pytest.mark.parametrize("model", [Diagonal(d=9, depth=1, alpha=0.5), Diagonal(d=9, depth=2, alpha=0.3),
                                   Diagonal(d=9, depth=3, alpha=0.4), Diagonal(d=9, depth=4, alpha=0.6),
                                   UntiedDiagonal.from_scale_shape(d=9, alpha=0.2, shape=0.5),
                                   UntiedDiagonal.even(d=9, alpha=0.3)])
@pytest.mark.parametrize("loss", [EXP, LOGISTIC, SQUARE])
def test_dual_jacobian(model, loss):
    data = REG if loss is SQUARE else CLS
    sy = DualSystem(model, data, loss)
    nu = np.random.default_rng(0).normal(size=data.n) * 0.05
    fd_check(sy, nu)


@pytest.mark.parametrize("D", [3, 4, 6])
@pytest.mark.parametrize("loss", [EXP, LOGISTIC, SQUARE])
def test_ratio_jacobian_and_same_flow_as_dual(D, loss):
    data = REG if loss is SQUARE else CLS
    model = Diagonal(d=9, depth=D, alpha=0.5)
    sr = RatioSystem(model, data, loss)
    p = np.random.default_rng(1).normal(size=9) * 0.7
    fd_check(sr, p)
    # the same state in both coordinates: p = log(u₊/u₋) with u± from the dual closed form
    sd = DualSystem(model, data, loss)
    nu = np.random.default_rng(3).normal(size=data.n) * 0.02
    up, um = sd.params(nu)
    p2 = np.log(up) - np.log(um)
    # tol: the same flow in two coordinate systems: each map evaluated to a few ulps × κ of the log-ratio map ≤ 1e5
    assert np.allclose(sr.predictor(p2), sd.predictor(nu), rtol=1e-10, atol=1e-14)
    Fr, s_r, g_r = sr.evaluate(p2)
    Fd, s_d, g_d = sd.evaluate(nu)
    # tol: s: a few ulps (log-sum-exp of the same margins); g: sums of products, κ ≤ 1e5
    assert abs(s_r - s_d) < 1e-12 * max(1, abs(s_d)) and abs(g_r - g_d) < 1e-10 * g_d
    a = Fr / (np.asarray(data.A).T @ Fd)  # dp/dτ = a(p) ⊙ Aᵀ(dν/dτ), a = D(u₊^{D−2} + u₋^{D−2})
    # tol: closed-form derivative vs the model's: power functions to a few ulps × D² ≤ 1e3 (cancellation u₊ − u₋)
    assert np.allclose(a, D * (up ** (D - 2) + um ** (D - 2)), rtol=1e-9)


def test_primal_jacobian():
    sy = PrimalSystem(Diagonal(d=9, depth=3, alpha=0.5), CLS, LOGISTIC)
    x = sy.x0() * (1 + 0.1 * np.random.default_rng(2).normal(size=sy.dim))
    fd_check(sy, x)
