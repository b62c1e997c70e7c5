"""The Q_μ max-margin problem min Ψ*(β) s.t. X̃β ≥ 1 (Moroshko et al. 2020), solved on its dual
max_{λ≥0} 1ᵀλ − Σ_j Ψ_j((X̃ᵀλ)_j) by projected Newton (Bertsekas 1982) with a scale homotopy for small μ.

Certificate: primal feasibility max(0, 1 − min_i m̃_i), the duality gap λᵀ(m̃ − 1) (= primal − dual
objective), and the projected-gradient residual ‖min(λ, m̃ − 1)‖_∞. :func:`q_mu_margin` returns the
:class:`~biasflow.bias.prediction.Prediction` at a given margin γ; :mod:`biasflow.bias.margin_loss` finds γ
from a loss level.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError
from ..levels import LN10
from .interpolate import _gram, _log_scale, _shifted, _warm_start
from .margins import _require_classification
from .potentials import PowerPotential, potential_of
from .prediction import Prediction


# --------------------------------------------------------------------------------- Q_μ max-margin solver
def _kkt_res(lam, g) -> float:
    """Scale-free KKT residual in margin units: |m_i − 1| on the support (λ_i > 1e-12·max λ), and the
    violation max(0, 1 − m_i) off it (g = m − 1)."""
    top = float(np.max(lam)) if lam.size else 0.0
    on = lam > 1e-12 * top if top > 0 else np.zeros(lam.shape, bool)
    r_on = float(np.max(np.abs(g[on]))) if np.any(on) else 0.0
    r_off = float(np.max(np.maximum(-g[~on], 0.0))) if np.any(~on) else 0.0
    return max(r_on, r_off)


def _qmu_newton(A, pot, lam, tol, max_iter):
    """Projected Newton on f(λ) = ΣΨ(X̃ᵀλ) − 1ᵀλ over λ ≥ 0. Returns (λ, iterations, converged)."""
    import scipy.linalg

    def F(l_):
        z = A.T @ l_
        return float(np.sum(pot.value(z))) - float(l_.sum()), z

    f, z = F(lam)
    if not math.isfinite(f):
        return lam, 0, False
    prev = best = math.inf
    stall = 0
    f_stall = f
    for it in range(1, max_iter + 1):
        m = A @ pot.beta(z)
        g = m - 1.0
        pg = _kkt_res(lam, g)
        if pg <= tol:
            return lam, it - 1, True
        if pg <= 1e-8 and pg > 0.5 * prev:  # rounding floor of β = Ψ'(X̃ᵀλ) near a depth ≥ 3 domain edge
            return lam, it - 1, True
        prev = pg
        if pg < best * 0.9:
            best, stall = pg, 0
        else:  # the damped phase may raise the residual while f falls: stop only when neither improves
            stall += 1
            if stall >= 10:
                if not f < f_stall - 1e-12 * (abs(f_stall) + 1.0):
                    return lam, it - 1, pg <= 1e3 * tol  # float64 cannot resolve this scale any better
                f_stall, stall = f, 0
        eps = min(1e-3, pg)
        act = (lam <= eps) & (g > 0)
        free = ~act
        lc = pot.log_curvature(z)
        shift = float(np.max(lc))
        c = np.exp(lc - shift)
        H = _gram(A, c)
        step = np.zeros_like(lam)
        if np.any(free):
            Hf = H[np.ix_(free, free)]
            # a tiny ridge keeps the step defined when rank X̃ < n (then λ is not unique, β still is);
            # along null(X̃ᵀ) f is linear and the step becomes a long gradient step cut by λ ≥ 0
            Hf = Hf + (1e-12 * float(np.max(np.diag(Hf))) + 1e-300) * np.eye(Hf.shape[0])
            try:
                step[free] = -scipy.linalg.cho_solve(scipy.linalg.cho_factor(Hf), g[free])
            except (np.linalg.LinAlgError, ValueError):
                step[free] = -np.linalg.lstsq(Hf, g[free], rcond=None)[0]
        dg = np.maximum(np.diag(H)[act], 1e-300)
        step[act] = -g[act] / dg
        step *= math.exp(-shift)
        if not np.all(np.isfinite(step)):
            return lam, it, False
        t = 1.0
        ok = False
        for _ in range(80):
            lt = np.maximum(lam + t * step, 0.0)
            ft, zt = F(lt)
            if math.isfinite(ft):
                dec = t * float(-g[free] @ step[free]) + float(g[act] @ (lam[act] - lt[act]))
                if ft <= f - 1e-4 * dec:
                    ok = True
                    break
                if ft <= f + 1e-13 * (abs(f) + 1.0):
                    gt = A @ pot.beta(zt) - 1.0
                    if _kkt_res(lt, gt) < pg:
                        ok = True
                        break
            t *= 0.5
        if not ok:
            return lam, it, pg <= 1e3 * tol
        lam, f, z = lt, ft, zt
    m = A @ pot.beta(z)
    return lam, max_iter, _kkt_res(lam, m - 1.0) <= tol


def solve_qmu(A: np.ndarray, pot, *, lam0=None, tol: float = 1e-12, max_iter: int = 200):
    """Solve max_{λ≥0} 1ᵀλ − Σ_j Ψ_j((Aᵀλ)_j) for a potential Ψ; returns (β̃, λ, converged, iterations)."""
    n = A.shape[0]
    iters = 0
    ls = _log_scale(pot)
    if lam0 is not None:
        lam, it, ok = _qmu_newton(A, pot, np.asarray(lam0, float), tol, max_iter)
        iters += it
        if ok:
            return pot.beta(A.T @ lam), lam, ok, iters
    if ls < math.log(0.3):
        sig0 = -ls
        sigmas = np.linspace(sig0, 0.0, max(2, int(math.ceil(sig0 / LN10)) + 1))
        # extrapolate λ·α^{D−2} for depth ≥ 3 (smooth in σ), λ itself for exp potentials
        e = (pot.depth - 2.0) if isinstance(pot, PowerPotential) else 0.0
        hist: list = []
        lam = np.zeros(n)
        for k, s in enumerate(sigmas):
            ps = _shifted(pot, float(s))
            if hist:
                lam = _warm_start(hist, float(s), e, lam, lambda c, ps=ps: ps.value(A.T @ c), nonneg=True)
            lam, it, ok = _qmu_newton(A, ps, lam, tol if k == len(sigmas) - 1 else 1e-6, max_iter)
            iters += it
            hist.append((float(s), lam * math.exp(e * s)))
    else:
        lam, it, ok = _qmu_newton(A, pot, np.zeros(n), tol, max_iter)
        iters += it
    return pot.beta(A.T @ lam), lam, ok, iters


def _certificate(A, beta, lam) -> dict:
    m = A @ beta
    g = m - 1.0
    return {
        "min_margin": float(m.min()),
        "infeasibility": float(max(0.0, 1.0 - m.min())),
        "duality_gap": float(abs(lam @ g)) / max(float(lam.sum()), 1e-300),
        "duality_gap_abs": float(abs(lam @ g)),
        "projected_gradient": _kkt_res(lam, g),
        "support_vectors": np.flatnonzero(lam > 1e-9 * max(float(lam.max()), 1e-300)).tolist(),
        "statement": "beta = Psi'(X~^T lam), lam >= 0; primal min Psi*(beta) s.t. X~ beta >= 1; "
        "duality gap = |lam.(X~ beta - 1)| / sum(lam) (relative; duality_gap_abs unscaled); "
        "infeasibility = max(0, 1 - min margin)",
    }


def q_mu_margin(model, data: Dataset, *, gamma: float, lam0=None) -> Prediction:
    """The Q_μ max-margin predictor for the model's potential scaled by 1/γ (μ = α^D/γ for uniform α).

    >>> from biasflow.data import gaussian
    >>> from biasflow.bias.margins import max_margin
    >>> from biasflow.models import Diagonal
    >>> ds = gaussian(n=10, d=30, k=1, seed=0)
    >>> big = q_mu_margin(Diagonal(d=30, depth=2, alpha=1e3), ds, gamma=10.0)      # μ = 1e5: kernel regime
    >>> l2 = max_margin(ds, "l2", solver="nnls")
    >>> b = big.predictor / np.linalg.norm(big.predictor)
    >>> bool(np.linalg.norm(b - l2.predictor) < 1e-4)
    True
    """
    _require_classification(data, "the Q_mu max-margin problem")
    if not (math.isfinite(gamma) and gamma > 0):
        raise BiasflowError(f"the margin gamma must be positive and finite (got {gamma!r})")
    t0 = time.perf_counter()
    pot = potential_of(model)
    A = data.A
    beta, lam, ok, iters = solve_qmu(A, pot.scaled(1.0 / gamma), lam0=lam0)
    return _qmu_prediction(model, data, pot, beta, lam, ok, iters, gamma, None, t0)


def _qmu_prediction(model, data, pot, beta, lam, ok, iters, gamma, log10_loss, t0):
    mmin = float(np.min(data.A @ beta))
    if abs(mmin - 1.0) < 1e-6:  # rounding-level deviation: put the minimum margin exactly at 1
        beta = beta / mmin
    cert = _certificate(data.A, beta, lam)
    cert["iterations"] = iters
    alpha = getattr(model, "alpha", None)
    D = int(model.degree)
    mu = (float(alpha) ** D / gamma) if alpha is not None and alpha**D > 0 else None
    status = "ok" if ok and cert["infeasibility"] < 1e-9 and cert["duality_gap"] <= 1e-9 else "max_steps"
    msg = (
        f"Q_mu max-margin by projected Newton ({iters} iterations in all), gamma = {gamma:.6g}"
        if status == "ok"
        else f"projected Newton stopped early (projected gradient "
        f"{cert['projected_gradient']:.3g}) after {iters} iterations"
    )
    return _with_scale(model, Prediction(
        kind="q_mu",
        task="classification",
        predictor=beta,
        status=status,
        message=msg,
        certificate=cert,
        log10_loss=log10_loss,
        gamma=gamma,
        mu=mu,
        dual=lam,
        depth=D,
        model=model.config() if hasattr(model, "config") else {},
        data=data,
        potential=pot,
        seconds=time.perf_counter() - t0,
    ))


def _with_scale(model, pr: Prediction) -> Prediction:
    """Record the model's μ scale (its ``log10_mu_scale`` capability) on a prediction it produced."""
    return dataclasses.replace(pr, log10_mu_scale=getattr(model, "log10_mu_scale", None))
