"""Geometry of the deep linear network: metric eigenvalues, volume form (D1, D4), orbit entropy (D2).

Oracles: the operator A_W assembled as a matrix from Schur–Padé fractional powers (not the SVD) and
diagonalized by eigvalsh; Cohen–Menon–Veraszto's closed-form volume form; the Gram determinant of the
orbit's tangent vectors assembled from the factors. Tolerances: all quantities are O(1)-conditioned
sums/products of at most a few dozen float64 terms for the random matrices below (condition numbers
< 1e3), so 1e-10 relative leaves a margin of ~1e4 over the observed ~1e-15 round-off.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow import geometry as g
from biasflow.errors import BiasflowError


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("L", [1, 2, 4, 7])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3), (4, 2)])
def test_eigenvalues_match_assembled_operator(L, shape):
    W = _rand(shape, 10 * L + shape[0])
    A = g.metric_operator_matrix(W, L)
    assert np.allclose(A, A.T, rtol=0, atol=1e-12 * np.abs(A).max())  # A_W is self-adjoint
    ev = np.sort(np.linalg.eigvalsh(0.5 * (A + A.T)))
    lam = np.sort(g.metric_eigenvalues(W, L).ravel())
    assert np.max(np.abs(ev - lam) / lam) < 1e-10


@pytest.mark.parametrize("L", [2, 3, 5])
def test_riemannian_gradient_is_the_assembled_operator(L):
    W, P = _rand((3, 2), 1), _rand((3, 2), 2)
    A = g.metric_operator_matrix(W, L)
    got = g.riemannian_gradient(W, L, P)
    assert np.allclose(got.ravel(), A @ P.ravel(), rtol=0, atol=1e-12 * np.abs(A @ P.ravel()).max())


def test_closed_forms_of_the_eigenvalues():
    # λ_il = (σ_i² − σ_l²)/(L(σ_i^{2/L} − σ_l^{2/L})), λ_ii = σ_i^{2(L−1)/L} (Menon 2024)
    s, L = np.array([3.0, 0.5]), 3
    lam = g.metric_eigenvalues(np.diag(s), L)
    assert lam[0, 1] == pytest.approx((9 - 0.25) / (3 * (3 ** (2 / 3) - 0.5 ** (2 / 3))), rel=1e-14)
    assert lam[0, 0] == pytest.approx(3 ** (4 / 3), rel=1e-14) and lam[1, 1] == pytest.approx(0.5 ** (4 / 3), rel=1e-14)
    # coincident singular values: no cancellation, the limit σ^{2(L−1)/L}
    lam = g.metric_eigenvalues(np.diag([2.0, 2.0 * (1 + 1e-13)]), L)
    assert lam[0, 1] == pytest.approx(2 ** (4 / 3), rel=1e-12)
    # L = 1 is the Euclidean metric
    assert np.array_equal(g.metric_eigenvalues(_rand((3, 2), 0), 1), np.ones((3, 2)))


def test_infinite_depth_limit():
    W = _rand((3, 3), 5)
    s = g.singular_values(W)
    lam = g.metric_eigenvalues(W, None)
    assert lam[0, 0] == pytest.approx(s[0] ** 2, rel=1e-14)
    lm = (s[0] ** 2 - s[1] ** 2) / math.log(s[0] ** 2 / s[1] ** 2)   # logarithmic mean
    assert lam[0, 1] == pytest.approx(lm, rel=1e-13)
    # finite depth converges like 1/L: the gap shrinks tenfold from L = 1e4 to 1e5
    d4 = abs(g.log_volume_density(W, 1e4) - g.log_volume_density(W, None))
    d5 = abs(g.log_volume_density(W, 1e5) - g.log_volume_density(W, None))
    assert 8 < d4 / d5 < 12
    assert g.log_volume_form(s, None) == pytest.approx(
        g.log_volume_density(W, None) + g.log_vandermonde(s * s), rel=1e-10)


@pytest.mark.parametrize("L", [2, 4, 7])
@pytest.mark.parametrize("seed", range(3))
def test_D1_volume_form(L, seed):
    """√det g_L · van(σ²) equals L^{d(d−1)/2} Π σ^{(1−L)/L} van(σ^{2/L}) to 1e-10 (CMV 2023, Thm 1.1)."""
    W = _rand((3, 3), seed)
    s = g.singular_values(W)
    A = g.metric_operator_matrix(W, L)
    half_logdet_g = -0.5 * float(np.sum(np.log(np.linalg.eigvalsh(0.5 * (A + A.T)))))
    lhs = half_logdet_g + g.log_vandermonde(s * s)
    rhs = g.log_volume_form(s, L)
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(rhs))            # |Δ log| = relative error
    assert abs(g.log_volume_density(W, L) + g.log_vandermonde(s * s) - rhs) < 1e-10 * max(1.0, abs(rhs))


@pytest.mark.parametrize(("d", "L", "const"), [(2, 2, math.sqrt(2)), (2, 3, 2.0), (3, 3, 8.0), (3, 5, 64.0)])
def test_D2_orbit_volume(d, L, const):
    """Orbit Gram volume / √(van(σ²)/van(σ^{2/L})) is constant over Σ (Menon & Yu 2025), spread ≤ 1e-10.

    With the basis E_ij − E_ji of the skew matrices the constant is 2^{(L−1)d(d−1)/4}; with the
    orthonormal basis it is exactly 1, which is what :func:`orbit_entropy` (without c_d) assumes."""
    ratios, ortho = [], []
    for seed in range(4):
        W = _rand((d, d), 100 + seed)
        facs = g.balanced_factors(W, L)
        prod = facs[0]
        for f in facs[1:]:
            prod = f @ prod
        assert np.allclose(prod, W, atol=1e-12)
        S = g.orbit_entropy(W, L, constant=False)
        ratios.append(g.orbit_gram_log_volume(facs, orthonormal=False) - S)
        ortho.append(g.orbit_gram_log_volume(facs) - S)
    assert np.ptp(ratios) < 1e-10
    assert math.exp(np.mean(ratios)) == pytest.approx(const, rel=1e-10)
    assert np.max(np.abs(ortho)) < 1e-10


def test_orbit_volume_without_square_root_is_not_constant():
    # the unrooted ratio van(σ²)/van(σ^{2/L}) varies across Σ: the square root is needed
    vals = []
    for seed in range(4):
        W = _rand((3, 3), 200 + seed)
        vals.append(g.orbit_gram_log_volume(g.balanced_factors(W, 3)) - 2 * g.orbit_entropy(W, 3, constant=False))
    assert np.ptp(vals) > 0.1


def test_orbit_entropy_limits():
    # finite at coincident nonzero σ and at rank d − 1; −inf with two zero σ; repulsion: grows with spread
    assert math.isfinite(g.orbit_entropy(np.eye(3), 3))
    assert math.isfinite(g.orbit_entropy(np.diag([2.0, 1.0, 0.0]), 3))
    assert g.orbit_entropy(np.diag([2.0, 0.0, 0.0]), 3) == -math.inf
    near = g.orbit_entropy(np.diag([1.0, 1.0 + 1e-9]), 3, constant=False)
    assert near == pytest.approx(g.orbit_entropy(np.eye(2), 3, constant=False), abs=1e-8)
    assert g.orbit_entropy(np.diag([3.0, 1.0]), 3) > g.orbit_entropy(np.diag([2.0, 1.5]), 3)
    # the constant: (L − 1) log vol(O_d) with vol(O_2) = 2·2π√2 in the Frobenius metric
    diff = g.orbit_entropy(np.eye(2), 4) - g.orbit_entropy(np.eye(2), 4, constant=False)
    assert diff == pytest.approx(3 * math.log(4 * math.pi * math.sqrt(2)), rel=1e-14)
    with pytest.raises(BiasflowError, match="square"):
        g.orbit_entropy(np.ones((2, 3)), 2)


def test_rank_deficient_volume_is_infinite_and_never_nan():
    W = np.diag([1.0, 0.0])
    assert g.log_volume_density(W, 3) == math.inf
    assert g.log_volume_density(W, None) == math.inf
    assert g.log_volume_density(W, 1) == 0.0
    assert np.all(np.isfinite(g.metric_eigenvalues(np.zeros((2, 2)), 3)))


@pytest.mark.parametrize("L", [2, 3, 4])
def test_D4_volume_on_the_completion_plane_peaks_at_the_corners(L):
    """On ab = 1 − 1e-3 (2×2 completion, W₁₁ = W₂₂ = 1) the log-density is largest at a = 1 and drops by
    (2(L−1)/L)·log(5/3) to a = 3 (σ₁ from 2 to 10/3) within 2% (Cohen, Menon & Veraszto 2023, Fig. 5)."""
    c = 1 - 1e-3

    def dens(a):
        return g.log_volume_density(np.array([[1.0, a], [c / a, 1.0]]), L)

    grid = np.linspace(0.2, 5.0, 4801)
    vals = np.array([dens(a) for a in grid])
    assert grid[np.argmax(vals)] == pytest.approx(1.0, abs=2e-3)
    drop, pred = dens(1.0) - dens(3.0), (2 * (L - 1) / L) * math.log(5 / 3)
    assert abs(drop - pred) <= 0.02 * pred


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 6), st.integers(0, 10_000))
def test_transpose_symmetry_and_positivity(m, k, L, seed):
    W = _rand((m, k), seed)
    lam = g.metric_eigenvalues(W, L)
    assert lam.shape == (m, k) and np.all(lam > 0)
    assert np.allclose(g.metric_eigenvalues(W.T, L), lam.T, rtol=1e-12)
    assert g.log_volume_density(W.T, L) == pytest.approx(g.log_volume_density(W, L), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "3"])
def test_bad_depth(bad):
    with pytest.raises(BiasflowError):
        g.metric_eigenvalues(np.eye(2), bad)


def test_bad_matrix():
    with pytest.raises(BiasflowError, match="non-finite"):
        g.log_volume_density(np.array([[1.0, math.nan]]), 2)


def test_summary_fields():
    out = g.summary(np.diag([2.0, 1.0]), 3)
    assert set(out) == {"log_volume", "entropy", "effective_rank", "nuclear_norm", "singular_values"}
    assert out["nuclear_norm"] == 3.0 and out["singular_values"] == [2.0, 1.0]
    p = np.array([2 / 3, 1 / 3])
    assert out["effective_rank"] == pytest.approx(math.exp(-np.sum(p * np.log(p))), rel=1e-14)
    assert g.summary(np.ones((2, 3)), 2)["entropy"] is None


@pytest.mark.parametrize(("shape", "L"), [((3, 3), 3), ((4, 4), None), ((2, 3), 2), ((3, 3), 1)])
def test_summary_agrees_with_the_single_functions(shape, L):
    W = _rand(shape, 7)
    out = g.summary(W, L)
    assert out["log_volume"] == pytest.approx(g.log_volume_density(W, L), rel=1e-13, abs=1e-13)
    if shape[0] == shape[1]:
        assert out["entropy"] == pytest.approx(g.orbit_entropy(W, L), rel=1e-13, abs=1e-13)
    assert out["effective_rank"] == pytest.approx(g.effective_rank(W), rel=1e-13)


@pytest.mark.parametrize("L", [2, 3, 5])
def test_entropy_on_the_rank_one_hyperbola_is_smallest_at_the_corners(L):
    """On ab = 1 (σ = (σ₁, 0), σ₁ = |a| + 1/|a|) S = ((L−1)/L) log σ₁ + (L−1) log c₂: the orbit entropy
    alone is MINIMAL at the corners a = ±1 where trained runs end, so a max-entropy selection cannot explain
    them; the volume density (maximal there, D4) can."""
    a = np.array([0.5, 1.0, 2.0, 3.0])
    S = np.array([g.orbit_entropy(np.array([[1.0, x], [1.0 / x, 1.0]]), L, constant=False) for x in a])
    # the SVD returns σ₂ ~ 1e-17 instead of 0: S moves by ~(σ₂/σ₁)^{2/L} ≤ (1e-16)^{2/5} ≈ 4e-7
    assert np.allclose(S, ((L - 1) / L) * np.log(a + 1 / a), rtol=0, atol=1e-6)
    assert np.argmin(S) == 1
