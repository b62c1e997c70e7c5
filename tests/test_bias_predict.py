"""Q_μ predictions, the predict dispatcher, Even et al.'s finite-step prediction, and compare()."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biasflow.bias.compare import COLUMNS, compare, compare_predictor
from biasflow.bias.finite_step import even_gains, mirror_identity_residual
from biasflow.bias.margins import max_margin, normalized_margin
from biasflow.bias.predict import predict, q_mu_margin
from biasflow.data import gaussian, make_dataset
from biasflow.errors import BiasflowError
from biasflow.levels import Level
from biasflow.models import Diagonal, UntiedDiagonal
from biasflow.trajectory import Checkpoint, Trajectory

SPARSE = gaussian(n=10, d=30, k=1, seed=0)
REG = gaussian(n=10, d=30, k=2, task="regression", seed=1)


def _qmu_primal_cvxpy(A, P, M, k):
    """Independent primal: Q(β) = min_{β=a−b, a,b≥0} (1/k)Σ[a log(a/P) − a + b log(b/M) − b] (exp cones)."""
    import cvxpy as cp

    d = A.shape[1]
    a, b = cp.Variable(d, nonneg=True), cp.Variable(d, nonneg=True)
    obj = cp.sum(cp.rel_entr(a, P) - a + cp.rel_entr(b, M) - b) / k
    prob = cp.Problem(cp.Minimize(obj), [A @ (a - b) >= 1])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return np.asarray(a.value - b.value)


@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_qmu_matches_independent_exponential_cone_solve(alpha):
    m = Diagonal(d=30, depth=2, alpha=alpha)
    p = q_mu_margin(m, SPARSE, gamma=20.0)
    assert p.status == "ok"
    P = np.full(30, alpha**2 / 20.0)  # Ψ = Φ/γ: Ψ'(w) = (α²/γ)(e^{4w} − e^{−4w})
    ref = _qmu_primal_cvxpy(SPARSE.A, P, P, 4.0)
    np.testing.assert_allclose(p.predictor, ref, rtol=0, atol=2e-6 * np.abs(ref).max())


def test_qmu_certificate_and_margin_loss_relation():
    for D in (2, 3):
        p = predict(Diagonal(d=30, depth=D, alpha=0.1), SPARSE, at_loss="1e-100")
        c = p.certificate
        assert p.kind == "q_mu" and p.status == "ok"
        assert c["duality_gap"] <= 1e-9 and c["infeasibility"] <= 1e-12 and c["projected_gradient"] <= 1e-9
        assert c["log10_loss_check"] == pytest.approx(-100.0, abs=1e-9)
        # exp-loss sandwich: log(1/ℒ) − log n ≤ γ ≤ log(1/ℒ)
        L = 100 * math.log(10)
        assert L - math.log(10) - 1e-9 <= p.gamma <= L + 1e-9
        assert p.mu == pytest.approx(0.1**D / p.gamma, rel=1e-14)


def test_qmu_regimes_kernel_and_rich():
    g1, g2 = max_margin(SPARSE, "l1").margin, max_margin(SPARSE, "l2").margin
    # kernel: μ huge → ℓ2 max-margin direction
    big = predict(Diagonal(d=30, depth=2, alpha=30.0), SPARSE, at_loss="1e-10")
    assert 1 - normalized_margin(big.predictor, SPARSE, "l2") / g2 < 1e-8
    # rich: at fixed α the ℓ1 gap falls with the loss, slowly (docs/theory/diagonal.md §3.6)
    gaps = [
        1
        - normalized_margin(
            predict(Diagonal(d=30, depth=2, alpha=0.01), SPARSE, at_loss=lv).predictor, SPARSE, "l1"
        )
        / g1
        for lv in ("1e-10", "1e-100", "1e-1000", "1e-10000")
    ]
    assert all(a > b > 0 for a, b in zip(gaps, gaps[1:], strict=False))
    assert gaps[-1] < 1e-2


def test_predict_dispatch_and_limits():
    p = predict(Diagonal(d=30, depth=2, alpha=1.0), SPARSE)
    assert p.kind == "l1" and p.status == "ok"
    assert normalized_margin(p.predictor, SPARSE, "l1") == pytest.approx(
        max_margin(SPARSE, "l1").margin, rel=1e-12
    )
    p3 = predict(Diagonal(d=30, depth=3, alpha=1.0), SPARSE)
    assert p3.kind == "l2D" and p3.certificate["kkt_residual"] < 1e-8
    pr = predict(Diagonal(d=30, depth=2, alpha=0.1), REG)
    assert pr.kind == "interpolant" and pr.certificate["residual"] < 1e-12


def test_predict_bad_inputs():
    m = Diagonal(d=30, depth=2, alpha=1.0)
    with pytest.raises(BiasflowError, match="not below"):
        predict(m, SPARSE, at_loss="0.5")
    with pytest.raises(BiasflowError, match="regression"):
        predict(m, SPARSE, lr=0.1)
    with pytest.raises(BiasflowError, match="classification"):
        predict(m, REG, at_loss="1e-10")
    with pytest.raises(BiasflowError, match="positive"):
        q_mu_margin(m, SPARSE, gamma=-1.0)
    with pytest.raises(BiasflowError, match="diagonal-uv"):
        predict(m, REG, lr=0.1)


# ----------------------------------------------------------------------------------------- finite step
def test_even_identity_with_a_plain_gd_loop():
    # docs/theory/oracles.md §8.9: the identity holds to ≤ 1e-12 after 1e4 GD steps with unit-scale gradients
    X, y, n = REG.X, REG.y, REG.n
    alpha, lr = 0.1, 0.05
    u, v = np.full(30, math.sqrt(2) * alpha), np.zeros(30)
    xs = []
    for _ in range(10_000):
        g = -X.T @ (y - X @ (u * v)) / n
        xs.append(lr * g)
        u, v = u - lr * g * v, v - lr * g * u
    xs = np.array(xs)
    q, qp, qm = even_gains(xs)
    assert mirror_identity_residual(u * v, alpha, q, qp, qm, xs.sum(axis=0)) <= 1e-12


def test_finite_step_prediction_matches_gd_and_differs_from_gf_by_order_eta():
    m = UntiedDiagonal.even(30, alpha=0.1)
    dist = {}
    for lr in (0.05, 0.1):
        p = predict(m, REG, lr=lr, steps=20_000)
        c = p.certificate
        assert p.kind == "finite_step" and p.status == "ok"
        assert c["residual"] < 1e-12 and c["kkt_residual"] < 1e-9
        assert c["mirror_identity_residual"] < 1e-11
        assert c["gd_distance"] < 1e-8  # GD's end point is the predicted interpolant
        dist[lr] = c["gf_distance"]
    assert 1.6 < dist[0.1] / dist[0.05] < 2.4  # O(η) away from gradient flow's interpolant


# --------------------------------------------------------------------------------------------- compare
def _traj(betas, levels):
    cps = [Checkpoint(lv, 0.0, None, b) for b, lv in zip(betas, levels, strict=True)]
    return Trajectory(status="ok", checkpoints=cps)


def test_compare_columns_and_self_consistency():
    m = Diagonal(d=30, depth=2, alpha=1.0)
    p = predict(m, SPARSE, at_loss="1e-10")
    l2 = max_margin(SPARSE, "l2")
    rows = compare(_traj([p.predictor * p.gamma, l2.predictor], [-10.0, -10.0]), p)
    # a Q_μ prediction fills the *_qmu columns, not the limit ones; every null column has a reason
    assert set(rows[0]) - {"log10_loss", "log10_time", "reasons"} <= set(COLUMNS)
    assert not set(rows[0]) & {"dist_pred", "support_recall", "rho_nsv_pred", "support_precision"}
    r0, r1 = rows
    assert {k for k, v in r0.items() if v is None} == set(r0["reasons"])
    assert all(isinstance(v, (int, float)) for k, v in r0.items() if k != "reasons" and v is not None)
    assert r0["dist_qmu"] < 1e-12 and r0["rho_nsv"] < 1e-9 and r0["gamma"] == pytest.approx(p.gamma)
    assert r1["gap_l2"] == pytest.approx(0.0, abs=1e-12) and r1["gap_l1"] > 0.1
    assert r0["gap_l2D"] == r0["gap_l1"] and r0["residual"] is None and "regression" in r0["reasons"]["residual"]
    assert 0 <= r0["support_recall_qmu"] <= 1 and r1["dist_qmu"] > 1e-2
    # at another level the Q_μ columns are null with the reason, not a wrong number
    r2 = compare(_traj([p.predictor * p.gamma], [-20.0]), p)[0]
    assert r2["dist_qmu"] is None and "compare_path" in r2["reasons"]["dist_qmu"]


def test_compare_test_error_and_regression_rows():
    train, test = gaussian(n=40, d=30, k=1, seed=5).split(30, seed=0)
    p = predict(Diagonal(d=30, depth=2, alpha=1.0), train)
    row = compare_predictor(p.predictor, p, test=test)
    assert row["test_error"] == pytest.approx(np.mean(np.sign(test.X @ p.predictor) != test.y))
    assert row["kkt_l2D"] < 1e-10 and row["gap_l1"] == pytest.approx(0.0, abs=1e-12)
    pr = predict(Diagonal(d=30, depth=2, alpha=0.05), REG)
    rr = compare_predictor(pr.predictor, pr)
    assert rr["residual"] < 1e-12 and rr["dist_pred"] < 1e-14 and rr["kkt_q"] < 1e-9
    assert rr["l1_ratio"] >= 1 - 1e-9 and rr["gamma"] is None
    assert rr["gap_obj_l1"] == pytest.approx(rr["l1_ratio"] - 1, abs=1e-15)
    with pytest.raises(BiasflowError, match="shape"):
        compare_predictor(np.ones(3), pr)


@settings(max_examples=15)
@given(n=st.integers(2, 8), d=st.integers(2, 12), depth=st.sampled_from([2, 3]),
       log_alpha=st.floats(-3, 2), loss_exp=st.floats(0.5, 4.0), seed=st.integers(0, 10_000))
def test_qmu_certificates_on_random_data(n, d, depth, log_alpha, loss_exp, seed):
    # random separable data (n > d included: then λ is not unique but β̃ is)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) >= 0, 1.0, -1.0)
    ds = make_dataset(X, y)
    lv = -max(10**loss_exp, math.log10(n) + 1.0)
    p = predict(Diagonal(d=d, depth=depth, alpha=10**log_alpha), ds, at_loss=Level.from_log10(lv))
    c = p.certificate
    assert p.status == "ok", p.message
    assert c["duality_gap"] <= 1e-9 and c["infeasibility"] <= 1e-9
    assert c["log10_loss_check"] == pytest.approx(lv, rel=1e-7)
    assert np.all(np.isfinite(p.predictor))
