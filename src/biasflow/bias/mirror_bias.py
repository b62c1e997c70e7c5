"""The bias of mirror flow on a model linear in its trained parameters, by dual Newton (Liang & Montúfar 2025).

For f(X) = Φ(X)θ trained by mirror flow with a per-parameter potential Φ_pot (see
:mod:`biasflow.dynamics.mirror_maps`) the flow keeps ∇Φ_pot(θ) − ∇Φ_pot(θ₀) = Φᵀν and ends at

    argmin_θ D_Φpot(θ, θ₀)   subject to   Φ(X)θ = y,

whose Lagrange dual is the smooth concave program max_μ μᵀr − Σ_k Φ*_k((Φᵀμ)_k), r = y − Φθ₀, with
Δ(μ) = (∇Φ_pot)⁻¹(Φᵀμ). We solve it by Newton's method with Armijo backtracking on the dual objective;
the Hessian Φ diag(1/φ''(κΔ)) Φᵀ is n×n. The certificate is the primal residual ‖ΦΔ(μ) − r‖∞.

For the wide shallow network, :func:`predict_mirror` builds a deterministic quadrature of the law of
(w, b) with N units (the mid-points of N cells of U[−a, a] for ``pm1-uniform``; a fixed-seed sample
otherwise), takes the output layer's features (1/N-free, standard parametrization, output weights
starting at 0) and returns the function on a grid. With the quadratic potential this is the kernel
interpolant of the quadrature kernel (1/N)Σ_k σ_kσ_kᵀ, i.e. :mod:`biasflow.bias.splines` as N → ∞. With
the scaled potential (κ = N) the limit is a non-quadratic function-space problem, so the map from the
targets to the function is non-linear.

>>> import numpy as np
>>> F = np.array([[1.0, 2.0, 0.5], [0.0, 1.0, 3.0]])
>>> sol = mirror_interpolant(F, np.array([1.0, -2.0]), "quartic", kappa=1.0)
>>> sol.status, bool(sol.residual < 1e-12)
('ok', True)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..dynamics.mirror_maps import Potential
from ..errors import BiasflowError
from ..models.shallow import InitLaw


@dataclasses.dataclass
class MirrorSolution:
    """Δθ at the mirror-flow limit, its dual variable μ, the residual certificate and the Newton count."""

    delta: np.ndarray
    mu: np.ndarray
    residual: float
    iterations: int
    status: str = "ok"


def mirror_interpolant(F, r, potential="quadratic", *, kappa: float = 1.0, tol: float = 1e-12,
                       max_iter: int = 2000) -> MirrorSolution:
    """argmin_Δ Σ_k κ⁻²φ(κΔ_k) s.t. FΔ = r, by damped Newton on the dual (see the module doc)."""
    F = np.asarray(F, float)
    r = np.asarray(r, float).reshape(-1)
    pot = potential if isinstance(potential, Potential) else Potential(potential, float(kappa))
    n = F.shape[0]
    scale = max(1.0, float(np.max(np.abs(r))))
    # start from the quadratic solution (exact when φ is quadratic)
    K = F @ F.T
    mu = np.linalg.lstsq(K, r, rcond=None)[0]

    def dual(m):
        z = F.T @ m
        return float(m @ r - pot.conjugate(z))

    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        z = F.T @ mu
        d = pot.inverse(z)
        g = r - F @ d                        # ∇ of the dual objective
        if np.max(np.abs(g)) <= tol * scale:
            break
        H = (F / pot.hess(d)[None, :]) @ F.T
        try:
            step = np.linalg.solve(H + 1e-14 * np.trace(H) / n * np.eye(n), g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        f0, slope, t = dual(mu), float(g @ step), 1.0
        gnorm = float(np.max(np.abs(g)))
        slack = 1e-13 * (abs(f0) + 1.0)        # dual values below rounding: judge by the gradient instead
        while t > 1e-12:
            cand = mu + t * step
            fc = dual(cand)
            if fc >= f0 + 1e-4 * t * slope - slack and (fc > f0 + slack or float(
                    np.max(np.abs(r - F @ pot.inverse(F.T @ cand)))) < gnorm):
                break
            t *= 0.5
        mu = mu + t * step
    d = pot.inverse(F.T @ mu)
    res = float(np.max(np.abs(F @ d - r))) if n else 0.0
    status = "ok" if res <= 1e-8 * scale else "max_steps"
    return MirrorSolution(delta=d, mu=mu, residual=res, iterations=it, status=status)


def quadrature_units(law, N: int, d: int = 1, activation: str = "relu", seed: int = 0):
    """(w, b) of N units representing the law: mid-point grid of b for pm1-uniform in 1-D (w = ±1 in
    alternation for relu; w = 1 for abs, where the sign of w does not matter), else a fixed-seed sample."""
    law = InitLaw.parse(law)
    if law.kind == "pm1-uniform" and d == 1:
        b = -law.a + (np.arange(N) + 0.5) * (2 * law.a / N)
        if activation == "abs":
            w = np.ones((N, 1))
        else:                          # pairs (+1, b), (−1, b) on ⌈N/2⌉ mid-points
            M = (N + 1) // 2
            b = np.repeat(-law.a + (np.arange(M) + 0.5) * (2 * law.a / M), 2)[:N]
            w = np.tile([1.0, -1.0], M)[:N, None]
        return w, b
    import jax

    from .. import _jax  # noqa: F401

    w, b = law.sample(jax.random.PRNGKey(int(seed)), int(N), int(d))
    return np.asarray(w), np.asarray(b)


def predict_mirror(X, y, law="pm1-uniform:a=2", *, grid=None, activation: str = "relu",
                   potential: str = "quadratic", scale: str = "unscaled", width: int = 4000,
                   seed: int = 0) -> dict:
    """The mirror-flow bias of the output layer of a width-N shallow net started at a = 0, c = 0.

    Returns {"status", "function": {"x", "f"}, "residual", "iterations", "potential", "scale", "width"}.
    """
    X = np.asarray(X, float)
    X = X[:, None] if X.ndim == 1 else X
    y = np.asarray(y, float).reshape(-1)
    G_ = X if grid is None else np.asarray(grid, float).reshape(len(grid), -1)
    if scale not in ("unscaled", "scaled"):
        raise BiasflowError(f"unknown --potential-scale {scale!r}; use unscaled or scaled")
    N = int(width)
    w, b = quadrature_units(law, N, X.shape[1], activation, seed)
    act = (lambda z: np.maximum(z, 0.0)) if activation == "relu" else np.abs
    F = act(X @ w.T + b)
    kappa = float(N) if scale == "scaled" else 1.0
    sol = mirror_interpolant(F, y, Potential(potential, kappa))
    f = np.concatenate([act(G_[i:i + 4096] @ w.T + b) @ sol.delta for i in range(0, G_.shape[0], 4096)])
    return {"status": sol.status, "function": {"x": G_[:, 0].tolist() if G_.shape[1] == 1 else G_.tolist(),
                                               "f": f.tolist()},
            "residual": sol.residual, "iterations": sol.iterations, "potential": potential, "scale": scale,
            "width": N, "f": f, "delta": sol.delta}


__all__ = ["MirrorSolution", "mirror_interpolant", "predict_mirror", "quadrature_units"]
