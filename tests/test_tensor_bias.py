"""Transformed-space biases of tensor networks: ODec detection, Fourier SOCP, KKT residuals, interpolants."""

from __future__ import annotations

import numpy as np
import pytest

from biasflow import BiasflowError
from biasflow.bias.margins import max_margin
from biasflow.bias.transformed import (
    alignment,
    decompose,
    fourier_l1,
    fourier_l1_max_margin,
    fourier_l2L_candidate,
    fourier_lp,
    parameter_kkt,
    predict_classification,
    predict_regression,
    transformed_kkt,
    yun_interpolant,
)
from biasflow.data import gaussian, make_dataset
from biasflow.models import Conv, Dense, Diagonal, TensorNetwork

DS = gaussian(n=10, d=16, k=1, seed=0)


@pytest.fixture(scope="module")
def socp():
    return fourier_l1_max_margin(DS)


# -------------------------------------------------------------------------------------- Fourier-ℓ1
def test_fourier_socp_certificate(socp):
    assert socp.status == "ok"
    assert abs(fourier_l1(socp.predictor) - 1.0) < 1e-12
    assert 0 <= socp.upper - socp.margin <= 1e-6 * socp.upper


def test_fourier_socp_matches_full_spectrum_formulation(socp):
    """An independent formulation: all d frequencies, no Hermitian halving, via the (Re, Im) DFT rows."""
    import cvxpy as cp

    d = DS.d
    F = np.fft.fft(np.eye(d), axis=0)
    b = cp.Variable(d)
    obj = cp.sum(cp.norm(cp.vstack([F.real @ b, F.imag @ b]), 2, axis=0))
    cp.Problem(cp.Minimize(obj), [DS.A @ b >= 1]).solve(solver=cp.CLARABEL)
    assert abs(1.0 / fourier_l1(b.value) * float(np.min(DS.A @ b.value)) - socp.margin) < 1e-6 * socp.margin


def test_fourier_kkt_accepts_optimum_and_rejects_other_points(socp):
    k = transformed_kkt(socp.predictor, DS, 2, space="fourier")
    assert k["residual"] < 1e-4
    assert k["off_support"] < 1e-4
    svm = max_margin(DS, "l2").predictor
    k2 = transformed_kkt(svm, DS, 2, space="fourier")
    assert k2["residual"] > 1e-2 or k2["off_support"] > 1e-2
    with pytest.raises(BiasflowError, match="does not separate"):
        transformed_kkt(-svm, DS, 2)


def test_identity_kkt_l1_optimum():
    r = max_margin(DS, "l1")
    k = transformed_kkt(r.predictor, DS, 2, space="identity")
    assert k["residual"] < 1e-8 and k["off_support"] < 1e-6


def test_fourier_l2L_candidate_is_stationary_and_better(socp):
    c = fourier_l2L_candidate(DS, 3)
    assert c["kkt"]["residual"] < 1e-3
    b1 = socp.predictor / socp.margin
    assert c["objective"] <= fourier_lp(b1, 2 / 3) * (1 + 1e-9)


# -------------------------------------------------------------------------------------- ODec
def test_decompose_models():
    assert decompose(Conv(d=8, depth=3)).kind == "fourier"
    dec = decompose(Conv(d=8, depth=2, kernel_sizes=(3, 8)))
    assert not dec.decomposable and "shorter than d=8" in dec.reason
    assert "not orthogonally decomposable" in decompose(Dense(d=4, depth=3, width=2)).reason
    assert decompose(Diagonal(d=3, depth=3)).kind == "identity"
    assert decompose(TensorNetwork.diagonal(4, 3)).kind == "identity"


def test_decompose_numeric_tensors():
    rng = np.random.default_rng(1)
    conv = decompose(TensorNetwork.from_dense(TensorNetwork.convolution(6, 2).dense()))
    assert conv.decomposable and "Fourier" in conv.reason
    x = rng.standard_normal(6)
    # the Fourier transform found: β = Sᵀρ reproduces f through ρ = Π_l B_lᵀ v_l
    v = [rng.standard_normal(6) for _ in range(2)]
    rho = np.prod([B.T @ vv for B, vv in zip(conv.bases, v, strict=True)], axis=0)
    f = x @ np.asarray(TensorNetwork.convolution(6, 2).predictor(tuple(v)))
    assert abs((conv.S @ x) @ rho - f) < 1e-12
    fc = decompose(TensorNetwork.from_dense(TensorNetwork.fully_connected(3, (2,)).dense()))
    assert not fc.decomposable and "shared by several terms" in fc.reason
    U1 = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    U2 = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    S = rng.standard_normal((4, 3))
    T = np.einsum("tj,at,bt->jab", S, U1, U2)
    dec = decompose(TensorNetwork.from_dense(T))
    assert dec.decomposable and dec.S.shape == (4, 3)
    assert not decompose(TensorNetwork.from_dense(rng.standard_normal((3, 3, 3)))).decomposable


# -------------------------------------------------------------------------------------- predictions
def test_predict_routes():
    fc = predict_classification(Dense(d=16, depth=3, width=4), DS)
    assert fc.problem == "l2-svm" and abs(float(np.min(DS.A @ fc.predictor)) - 1) < 1e-9
    assert predict_classification(Diagonal(d=16, depth=2), DS).problem == "l1-max-margin"
    conv = predict_classification(Conv(d=16, depth=2), DS)
    assert conv.problem == "fourier-l1-max-margin"
    with pytest.raises(
        BiasflowError, match="needs an orthogonally decomposable network, but fully connected"
    ):
        predict_classification(Dense(d=16, depth=2, width=3), DS, require_decomposable=True)
    with pytest.raises(BiasflowError, match="shorter than d=16.*parameter_kkt"):
        predict_classification(Conv(d=16, depth=2, kernel_sizes=(4, 16)), DS, require_decomposable=True)
    d3 = predict_classification(Diagonal(d=16, depth=3), DS)
    assert d3.problem == "l2/L-kkt" and d3.certificate["residual"] < 1e-6
    with pytest.raises(BiasflowError, match="classification"):
        predict_classification(Conv(d=16), gaussian(n=5, d=16, task="regression"))


def test_parameter_kkt_fc():
    svm = max_margin(DS, "l2").predictor
    u0 = svm / np.linalg.norm(svm)
    u1 = np.ones(3) / np.sqrt(3)
    net = Dense(d=16, depth=2, width=3)
    good = (np.outer(u0, u1), u1[:, None])
    assert parameter_kkt(net, good, DS)["residual"] < 1e-8
    r = np.random.default_rng(0).standard_normal(16)
    bad_dir = u0 + 0.3 * r / np.linalg.norm(r)
    bad = (np.outer(bad_dir, u1), u1[:, None])
    assert parameter_kkt(net, bad, DS)["residual"] > 1e-2
    a = alignment(net, good)
    assert abs(a["rank_one_ratio"][0] - 1) < 1e-12 and abs(a["adjacent_alignment"][0] - 1) < 1e-12


# -------------------------------------------------------------------------------------- regression
REG = gaussian(n=5, d=12, k=2, task="regression", seed=0)


def _equal_gap(rng, d, L, gap=0.4):
    aL = 0.3 * rng.standard_normal(d)
    top = np.sqrt(aL**2 + gap**2)
    return tuple([top * rng.choice([-1.0, 1.0], d)] + [top] * (L - 2) + [aL])


@pytest.mark.parametrize("L", [2, 3, pytest.param(4, marks=pytest.mark.slow)])
def test_yun_interpolant_gd_error_halves_with_eta(L):
    """docs/theory/oracles.md §8.19: GD reaches the §4.4 closed form, with an O(η) error (halves as η halves)."""
    from biasflow.dynamics.descent import descent

    rng = np.random.default_rng(L)
    net = TensorNetwork.diagonal(12, L)
    p0 = (0.5 * rng.standard_normal(12), 0.3 * rng.standard_normal(12)) if L == 2 else _equal_gap(rng, 12, L)
    beta = predict_regression(net, REG, params0=p0).predictor
    assert np.linalg.norm(REG.X @ beta - REG.y) < 1e-10
    errs = []
    for lr in (0.1, 0.05):
        r = descent(net, REG, "square", lr=lr, steps=int((1200 if L < 4 else 4000) / lr), params0=p0)
        assert r.status == "ok" and r.loss[-1] < 1e-20
        errs.append(np.linalg.norm(r.predictor - beta))
    assert 1.7 < errs[0] / errs[1] < 2.3


def test_yun_interpolant_rejects_unequal_gaps():
    rng = np.random.default_rng(0)
    with pytest.raises(BiasflowError, match="equal positive gaps"):
        yun_interpolant(REG.X, REG.y, [rng.standard_normal(12) for _ in range(3)])


def test_fc_regression_prediction_is_min_norm():
    p = predict_regression(Dense(d=12, depth=3, width=4), REG)
    np.testing.assert_allclose(p.predictor, np.linalg.pinv(REG.X) @ REG.y, rtol=1e-10)
    with pytest.raises(BiasflowError, match="no closed-form"):
        predict_regression(Conv(d=12, depth=2), REG)


def test_non_separable_socp_refused():
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    ds = make_dataset(X, [1.0, -1.0])
    with pytest.raises(BiasflowError, match="not linearly separable"):
        fourier_l1_max_margin(ds)


def test_prediction_in_a_numerically_found_transform():
    """A random real ODec tensor: the predicted β must be the image Sᵀρ of the ℓ1 max-margin on Sx."""
    rng = np.random.default_rng(3)
    d, k = 16, 12
    U1 = np.linalg.qr(rng.standard_normal((k, k)))[0]
    U2 = np.linalg.qr(rng.standard_normal((k, k)))[0]
    S = rng.standard_normal((k, d))
    net = TensorNetwork.from_dense(np.einsum("tj,at,bt->jab", S, U1, U2))
    p = predict_classification(net, DS)
    assert p.problem == "transformed-l1-max-margin"
    assert abs(float(np.min(DS.A @ p.predictor)) - 1.0) < 1e-8
    # ρ (in the found basis) has the optimal ℓ1 norm 1/γ of the ℓ1 max-margin on Z = XSᵀ built from the
    # true S: the found decomposition may only permute and flip the signs of the rank-one terms
    rho = np.linalg.lstsq(p.decomposition.S.T, p.predictor, rcond=None)[0]
    z = make_dataset(DS.X @ S.T, DS.y)
    assert abs(np.abs(rho).sum() - 1.0 / max_margin(z, "l1").margin) < 1e-7 * np.abs(rho).sum()
