"""Max-margin problems: closed forms, independent solvers, certificates, bad input
(docs/theory/certificates.md §7, oracles.md §8.17)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biasflow.bias.kkt import kkt_residual, lp_max_margin_best_effort
from biasflow.bias.margins import best_hinge, margin, max_margin, normalized_margin, pnorm
from biasflow.data import gaussian, make_dataset, non_separable
from biasflow.errors import BiasflowError

SPARSE = gaussian(n=10, d=30, k=1, seed=0)
WIDE = gaussian(n=40, d=120, k=3, seed=3)


def test_closed_form_two_points():
    # X̃ = diag(2, −1): ℓ1 optimum 2β1 = −β2 = t, 1.5t = 1 → γ1 = 2/3; ℓ∞: β = (1, −1) → γ∞ = 1;
    # ℓ2: β ∝ (1/2, −1) → γ2 = 1/√1.25
    ds = make_dataset([[2.0, 0.0], [0.0, 1.0]], [1, -1])
    assert margin(ds, "l1").margin == pytest.approx(2 / 3, rel=1e-14)
    assert margin(ds, "linf").margin == pytest.approx(1.0, rel=1e-14)
    assert margin(ds, "l2").margin == pytest.approx(1 / np.sqrt(1.25), rel=1e-14)
    np.testing.assert_allclose(margin(ds, "l1").predictor, [1 / 3, -2 / 3], rtol=1e-13)


@pytest.mark.parametrize("ds", [SPARSE, WIDE], ids=["sparse", "wide"])
@pytest.mark.parametrize(
    "norm,a,b", [("l1", "highs", "clarabel"), ("linf", "highs", "clarabel"), ("l2", "clarabel", "nnls")]
)
def test_independent_solvers_agree_and_certify(ds, norm, a, b):
    ra, rb = max_margin(ds, norm, solver=a), max_margin(ds, norm, solver=b)
    assert ra.margin == pytest.approx(rb.margin, rel=1e-8)
    p = {"l1": 1, "l2": 2, "linf": np.inf}[norm]
    for r in (ra, rb):
        assert r.status == "ok"
        assert r.rel_gap <= 1e-9 and r.gap >= -1e-14
        assert pnorm(r.predictor, p) == pytest.approx(1.0, rel=1e-12)
        assert np.min(ds.A @ r.predictor) >= r.margin * (1 - 1e-12)  # feasible, margin exact
        assert r.dual.min() >= 0 and r.dual.sum() == pytest.approx(1.0, rel=1e-12)
        assert normalized_margin(r.predictor, ds, norm) == pytest.approx(r.margin, rel=1e-12)


def test_svm_dual_matches_qp():
    r = max_margin(WIDE, "l2", solver="nnls")
    lam = r.dual * (1 / r.margin**2)  # SVM dual in ½‖β‖² form: β/γ = X̃ᵀλ, Σλ = ‖β/γ‖²
    np.testing.assert_allclose(WIDE.A.T @ lam, r.predictor / r.margin, rtol=1e-9, atol=1e-11)


@settings(max_examples=12)
@given(n=st.integers(2, 8), d=st.integers(2, 12), seed=st.integers(0, 10_000))
def test_certificates_on_random_separable_data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    y = np.where(X @ w >= 0, 1.0, -1.0)
    ds = make_dataset(X, y)
    for norm in ("l1", "linf"):
        r = max_margin(ds, norm)
        assert r.margin > 0 and r.rel_gap <= 1e-9
        # the dual bound holds against a random feasible direction
        assert normalized_margin(w, ds, norm) <= r.upper * (1 + 1e-12)


def test_normalized_margin_scale_invariance():
    b = np.linspace(-1, 1, 30) + 3 * np.eye(30)[0]
    for norm in ("l1", "l2", "linf", 2 / 3):
        assert normalized_margin(7.5 * b, SPARSE, norm) == pytest.approx(
            normalized_margin(b, SPARSE, norm), rel=1e-14
        )


def test_non_separable_error_names_hinge():
    bad = non_separable(SPARSE)
    h, _ = best_hinge(bad)
    # the flipped duplicate: hinge(m) + hinge(−m) ≥ 2 on that pair, so the mean is at least 2/n
    assert h == pytest.approx(2 / bad.n, rel=1e-8)
    for norm in ("l1", "l2", "linf"):
        with pytest.raises(BiasflowError, match="not linearly separable.*hinge loss"):
            max_margin(bad, norm)


def test_bad_inputs():
    reg = gaussian(n=5, d=8, task="regression")
    with pytest.raises(BiasflowError, match="classification"):
        max_margin(reg, "l1")
    with pytest.raises(BiasflowError, match="unknown norm"):
        max_margin(SPARSE, "l3")
    with pytest.raises(BiasflowError, match="does not solve"):
        max_margin(SPARSE, "l1", solver="nnls")
    with pytest.raises(BiasflowError, match="p must be > 0"):
        normalized_margin(np.ones(30), SPARSE, -1.0)


def test_l1_kkt_residual_separates_optimum_from_svm():
    r1 = max_margin(SPARSE, "l1")
    k = kkt_residual(r1.predictor, SPARSE, depth=2)
    assert k.residual < 1e-10 and k.offsupport < 1e-9
    k2 = kkt_residual(max_margin(SPARSE, "l2").predictor, SPARSE, depth=2)
    assert k2.residual > 1e-2 or k2.offsupport > 1e-2  # the ℓ2 SVM is not ℓ1-stationary


def test_best_effort_l2L_is_stationary_and_sparser_than_svm():
    b = lp_max_margin_best_effort(SPARSE, depth=3)
    assert b.kkt.residual < 1e-8
    assert pnorm(b.predictor, 2 / 3) == pytest.approx(1.0, rel=1e-12)
    sup = np.sum(np.abs(b.predictor) > 1e-3 * np.abs(b.predictor).max())
    sup2 = np.sum(np.abs(max_margin(SPARSE, "l2").predictor) > 1e-3)
    assert sup < sup2
    # its ℓ_{2/3} margin is at least that of the ℓ1 optimum (the start of the reweighting)
    assert b.margin >= normalized_margin(max_margin(SPARSE, "l1").predictor, SPARSE, 2 / 3) * (1 - 1e-12)
    with pytest.raises(BiasflowError, match="depth"):
        kkt_residual(b.predictor, SPARSE, depth=1)
