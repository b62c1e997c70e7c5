"""Rounding-error bounds that the numerical tolerances of the suite are derived from.

Every bound is a worst case for IEEE float64 (unit roundoff u = 2⁻⁵³) in the standard model
fl(a ∘ b) = (a ∘ b)(1 + δ), |δ| ≤ u, so it holds for any summation order (any BLAS, any permutation
of the examples): a tolerance taken from here does not depend on the machine the suite runs on.
"""

from __future__ import annotations

import math

import numpy as np

U = 2.0**-53  # unit roundoff of float64
LN10 = math.log(10.0)


def gamma(k: int) -> float:
    """γ_k = k·u/(1 − k·u): the relative error bound of a k-term floating-point sum or dot product."""
    return k * U / (1.0 - k * U)


def residual_abs_bound(X, y, beta) -> np.ndarray:
    """Componentwise bound on |fl(y − Xβ) − (y − Xβ)|: γ_{d+1}·(|y| + |X||β|), any summation order."""
    X, y, beta = np.asarray(X, float), np.asarray(y, float), np.asarray(beta, float)
    return gamma(X.shape[1] + 1) * (np.abs(y) + np.abs(X) @ np.abs(beta))


def square_log10_loss_bound(X, y, beta) -> float:
    """Bound on |log10 fl(½·mean r²) − log10(½·mean r²)| for r = y − Xβ evaluated in float64.

    With ε = ‖δr‖/‖r‖ from :func:`residual_abs_bound`, ‖r + δr‖²/‖r‖² ∈ [(1 − ε)², (1 + ε)²], so the
    log10 loss moves by at most 2·log10(1/(1 − ε)) (plus γ_n for the mean, negligible). Where the loss is
    small the residual is a small difference of O(‖y‖) numbers and ε ≈ u·‖y‖/‖r‖ is large: this is the
    cancellation that bounds any recomputation of a tiny square loss.
    """
    r = np.asarray(y, float) - np.asarray(X, float) @ np.asarray(beta, float)
    eps = float(np.linalg.norm(residual_abs_bound(X, y, beta)) / np.linalg.norm(r))
    if eps >= 1.0:
        return math.inf
    return -2.0 * math.log1p(-eps) / LN10 + gamma(len(r) + 2) / LN10
