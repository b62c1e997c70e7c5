"""Closed-form regression limits of untied diagonal networks (Yun, Krishnan, Mobahi 2021): the coordinate
flow G_L and the interpolant gradient flow converges to from a given initialization.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import BiasflowError

# ------------------------------------------------------------------------------------- regression


def _G(z, L: int):
    """G_L(z) = ∫₀^z (1 + u²)^{−(L−1)/2} du (arcsinh, arctan, z/√(1+z²) for L = 2, 3, 4)."""
    if L == 2:
        return np.arcsinh(z)
    if L == 3:
        return np.arctan(z)
    if L == 4:
        return z / np.sqrt(1.0 + z * z)
    from scipy.special import hyp2f1

    return z * hyp2f1(0.5, (L - 1) / 2.0, 1.5, -z * z)


def _G_bound(L: int) -> float:
    """sup |G_L| = (√π/2)Γ((L−2)/2)/Γ((L−1)/2) for L ≥ 3 (π/2 for L = 3, 1 for L = 4)."""
    return 0.5 * math.sqrt(math.pi) * math.exp(math.lgamma((L - 2) / 2.0) - math.lgamma((L - 1) / 2.0))


def _G_inv(g, L: int):
    if L == 2:
        return np.sinh(g)
    if L == 3:
        return np.tan(g)
    if L == 4:
        return g / np.sqrt(1.0 - g * g)
    # safeguarded Newton on the increasing G_L, started from the L = 4-like guess
    c = _G_bound(L)
    z = np.tan(0.5 * math.pi * np.asarray(g) / c)
    for _ in range(100):
        step = (_G(z, L) - g) * (1.0 + z * z) ** ((L - 1) / 2.0)
        z = z - step
        if np.all(np.abs(step) <= 1e-15 * (1.0 + np.abs(z))):
            break
    return z


@dataclasses.dataclass(frozen=True)
class _CoordinateFlow:
    """ρ_j = φ_j(τ_j) for an untied diagonal network in the transformed space (docs/theory/tensor.md §4.4)."""

    L: int
    c0: np.ndarray | None = None  # L = 2: (a + b)(0)
    e0: np.ndarray | None = None  # L = 2: (a − b)(0)
    alpha: np.ndarray | None = None  # L ≥ 3, equal gaps: α_j
    g0: np.ndarray | None = None  # L ≥ 3: G_L(z_j(0))

    def phi(self, tau):
        if self.L == 2:
            return 0.25 * (self.c0**2 * np.exp(2 * tau) - self.e0**2 * np.exp(-2 * tau))
        z = _G_inv(self.g0 + self.alpha ** (self.L - 2) * tau, self.L)
        return self.alpha**self.L * z * (1.0 + z * z) ** ((self.L - 1) / 2.0)

    def dphi(self, tau):
        if self.L == 2:
            return 0.5 * (self.c0**2 * np.exp(2 * tau) + self.e0**2 * np.exp(-2 * tau))
        z = _G_inv(self.g0 + self.alpha ** (self.L - 2) * tau, self.L)
        return self.alpha ** (2 * self.L - 2) * (1.0 + z * z) ** (self.L - 2) * (1.0 + self.L * z * z)

    def inside(self, tau) -> bool:
        if self.L == 2:
            return bool(np.all(np.abs(tau) < 300))
        c = _G_bound(self.L)
        return bool(np.all(np.abs(self.g0 + self.alpha ** (self.L - 2) * tau) < c * (1 - 1e-15)))


def _coordinate_flow(layers: list[np.ndarray], rtol: float = 1e-9) -> _CoordinateFlow:
    L = len(layers)
    if L == 2:
        a, b = layers
        return _CoordinateFlow(2, c0=a + b, e0=a - b)
    aL = layers[-1]
    gaps = np.array([a * a - aL * aL for a in layers[:-1]])
    alpha2 = gaps[0]
    if not (np.all(np.abs(gaps - alpha2) <= rtol * np.maximum(1.0, np.abs(alpha2))) and np.all(alpha2 > 0)):
        raise BiasflowError(
            f"the closed form of docs/theory/tensor.md §4.4 for depth {L} needs equal positive gaps "
            "a_l(0)² − a_L(0)² = α_j² for every l < L and coordinate j (the 'equal-gap' initialization), "
            "which this initialization does "
            "not satisfy; compare with a trained network instead"
        )
    alpha = np.sqrt(alpha2)
    s = np.prod(np.sign(np.array(layers[:-1])), axis=0)
    z0 = s * aL / alpha
    return _CoordinateFlow(L, alpha=alpha, g0=_G(z0, L))


def yun_interpolant(X, y, layers, *, tol: float = 1e-12, max_iter: int = 200) -> np.ndarray:
    """The limit of gradient flow (square loss) of β = v_1 ⊙ ⋯ ⊙ v_L started at v_l(0) = ``layers[l]``.

    Solves X φ(Xᵀν) = y by damped Newton on the convex dual Ψ(ν) = Σ_j Φ_j((Xᵀν)_j) − yᵀν, where
    ρ_j = φ_j(τ_j) is the closed-form coordinate flow of docs/theory/tensor.md §4.4 (L = 2: any initialization,
    ρ = ¼[(a+b)(0)² e^{2τ} − (a−b)(0)² e^{−2τ}]; L ≥ 3: equal-gap initializations, through G_L).
    Returns β∞ = φ(Xᵀν*), the minimizer of the Bregman problem of §4.4 subject to Xβ = y.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    layers = [np.asarray(a, dtype=float) for a in layers]
    flow = _coordinate_flow(layers)
    n = X.shape[0]
    nu = np.zeros(n)
    scale = max(1.0, float(np.linalg.norm(y)))
    for _ in range(max_iter):
        tau = X.T @ nu
        r = X @ flow.phi(tau) - y
        rn = float(np.linalg.norm(r))
        if rn <= tol * scale:
            break
        H = (X * flow.dphi(tau)) @ X.T
        step = np.linalg.lstsq(H, r, rcond=None)[0]
        t = 1.0
        while t > 1e-12:
            cand = nu - t * step
            tc = X.T @ cand
            if flow.inside(tc):
                rc = float(np.linalg.norm(X @ flow.phi(tc) - y))
                if np.isfinite(rc) and rc < (1 - 1e-4 * t) * rn:
                    break
            t *= 0.5
        else:
            raise BiasflowError(
                "the interpolant's Newton iteration stalled; the data may not be interpolable "
                "by this network (need rank X = n)"
            )
        nu = cand
    beta = flow.phi(X.T @ nu)
    if float(np.linalg.norm(X @ beta - y)) > 1e-8 * scale:
        raise BiasflowError("the interpolant's Newton iteration did not converge (‖Xβ − y‖ > 1e-8‖y‖)")
    return beta
