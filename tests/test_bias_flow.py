"""Predictions against real gradient flows (docs/theory/oracles.md §8.3, §8.14–8.16): the flow is the oracle here."""

from __future__ import annotations

import numpy as np
import pytest

from biasflow.bias.compare import compare, compare_path
from biasflow.bias.interpolate import interpolate
from biasflow.bias.margins import max_margin
from biasflow.bias.potentials import potential_of
from biasflow.bias.predict import predict, predict_at_loss
from biasflow.data import builtin, gaussian
from biasflow.dynamics.flow import flow
from biasflow.levels import Level
from biasflow.models import Diagonal

SPARSE = builtin("sparse")
REG = gaussian(n=8, d=20, k=2, task="regression", seed=4)


@pytest.fixture(scope="module")
def d2_flows():
    levels = ["1e-10", "1e-100", "1e-1000"]
    return {
        a: flow(Diagonal(d=30, depth=2, alpha=a), SPARSE, "exp", until="1e-1000", checkpoints=levels)
        for a in (0.01, 1.0)
    }


@pytest.mark.parametrize("D", [2, 3])
def test_square_loss_flow_ends_at_interpolant(D):
    m = Diagonal(d=20, depth=D, alpha=0.2)
    tr = flow(m, REG, "square", until="1e-20")
    assert tr.status == "ok"
    r = interpolate(m, REG)
    np.testing.assert_allclose(
        tr.final.predictor, r.predictor, rtol=0, atol=1e-6 * np.linalg.norm(r.predictor)
    )


def test_d2_l1_margin_ratio_increases_slowly(d2_flows):
    # docs/theory/oracles.md §8.15
    for a, tr in d2_flows.items():
        rows = compare(tr, predict(Diagonal(d=30, depth=2, alpha=a), SPARSE))
        ratios = [1 - r["gap_l1"] for r in rows]
        assert ratios[0] < ratios[1] < ratios[2] <= 1 + 1e-12
        assert ratios[2] > 0.9 and ratios[1] <= 1 - 1e-3


def test_mu_representation_and_qmu_optimality(d2_flows):
    # docs/theory/oracles.md §8.14: β̃ = Ψ'(X̃ᵀν) with Ψ = Φ/γ exactly; the flow's β̃ is feasible for Q_μ, so the
    # certified Q_μ optimum has a Q-value no larger, and the flow's λ = ν ≥ 0 is dual feasible.
    m = Diagonal(d=30, depth=2, alpha=1.0)
    pot = potential_of(m)
    for c in d2_flows[1.0].checkpoints:
        nu = np.asarray(c.extra["nu"])
        gam = float(np.min(SPARSE.A @ c.predictor))
        psi = pot.scaled(1.0 / gam)
        bt = c.predictor / gam
        np.testing.assert_allclose(psi.beta(SPARSE.A.T @ nu), bt, rtol=1e-9, atol=1e-12 * np.abs(bt).max())
        p = predict_at_loss(m, SPARSE, Level.from_log10(c.log10_loss))
        primal_pred, primal_flow = psi.Q(p.predictor), psi.Q(bt)
        dual_flow = float(nu.sum() - np.sum(psi.value(SPARSE.A.T @ nu)))
        assert dual_flow <= primal_pred * (1 + 1e-9) + 1e-12
        assert primal_pred <= psi.Q(bt) * (1 + 1e-9)  # optimality against a feasible point
        assert primal_pred < primal_flow  # ... and strictly better (ρ_nsv > 0)


def test_rho_nsv_two_paths_and_qmu_description(d2_flows):
    m = Diagonal(d=30, depth=2, alpha=1.0)
    rows = compare_path(d2_flows[1.0], m, SPARSE)
    p = predict_at_loss(m, SPARSE, "1e-100")
    for c in d2_flows[1.0].checkpoints:
        r2 = compare(
            type(d2_flows[1.0])(
                status="ok", checkpoints=[type(c)(c.log10_loss, c.log10_time, None, c.predictor)]
            ),
            p,
        )[0]  # no ν: recovered from β
        r1 = compare(type(d2_flows[1.0])(status="ok", checkpoints=[c]), p)[0]
        assert r1["rho_nsv"] == pytest.approx(r2["rho_nsv"], abs=1e-6)
    dist = [r["dist_qmu"] for r in rows]
    assert dist[0] > dist[1] > dist[2]  # the Q_μ description improves with accuracy
    assert dist[2] < 0.05
    assert all(0 <= r["rho_nsv_qmu"] <= r["rho_nsv"] + 1e-12 for r in rows)


def test_d3_small_alpha_reaches_sparse_kkt_point_not_qmu():
    # docs/theory/oracles.md §8.16
    m = Diagonal(d=30, depth=3, alpha=1e-2)
    tr = flow(m, SPARSE, "exp", until="1e-1000", checkpoints=["1e-1000"])
    row = compare_path(tr, m, SPARSE)[-1]
    assert row["kkt_l2D"] <= 1e-6
    assert row["rho_nsv"] >= 0.3
    svm = max_margin(SPARSE, "l2").predictor
    assert row["support_size"] < np.sum(np.abs(svm) > 1e-3 * np.abs(svm).max())
    assert row["dist_qmu"] > 0.1
