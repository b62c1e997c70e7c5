"""Minimum-Q interpolants: where square-loss gradient flow of a diagonal network converges.

Theorem (Woodworth et al. 2020; Azulay et al. 2021 for the shape): if gradient flow on ½‖Xβ − y‖²/n
interpolates, its limit is

    β∞ = argmin Q(β)  s.t.  Xβ = y,        Q = Φ*  (docs/theory/diagonal.md §3.4),

with Φ the model's dual potential (:mod:`biasflow.bias.potentials`). We solve the *dual* (docs/theory/diagonal.md §3.3):

    ν* = argmin_ν  F(ν) = Σ_j Φ_j((Xᵀν)_j) − yᵀν,      β∞ = Φ'(Xᵀν*),

a smooth convex problem in n variables, by Newton's method with a backtracking line search that rejects
overflowing or out-of-domain trial points (docs/theory/certificates.md §7). ∇F = Xβ − y and ∇²F = X diag(Φ'') Xᵀ, so one
step costs one n×n Cholesky and an n×d weighted Gram product. For small initialization scales the cold
start overflows, so the scale is followed along a decreasing homotopy α·e^{σ}, σ ↓ 0, warm-starting each
stage with a secant prediction of ν in σ. This is also exactly the gradient flow's own dual ODE's
equilibrium (dν/dt = −∇F/n), so :func:`interpolate` is the flow's end point, not an approximation of it.

Certificates: ``residual`` = ‖Xβ − y‖/max(1, ‖y‖) (interpolation), and ``kkt`` =
‖(I − P_X)∇Q(β)‖/‖∇Q(β)‖ (stationarity: ∇Q(β) must lie in range(Xᵀ)).

Rank-deficient X is reduced to an orthonormal basis of its row space; an inconsistent system raises a
:class:`~biasflow.errors.BiasflowError` unless ``least_squares=True`` (then y is replaced by its
projection on range(X), which is where square-loss flow goes).

>>> from biasflow.data import gaussian
>>> from biasflow.models import Diagonal
>>> ds = gaussian(n=20, d=60, k=3, task="regression", seed=0)
>>> r = interpolate(Diagonal(d=60, depth=2, alpha=1e-3), ds)
>>> r.status, r.residual < 1e-12, r.kkt < 1e-9
('ok', True, True)
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..data import Dataset
from ..display import Compact
from ..errors import BiasflowError
from .potentials import ExpPotential, PowerPotential, QuadPotential, potential_of


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class InterpolationResult(Compact):
    """A minimum-Q interpolant with its certificate.

    Attributes:
        predictor: β∞ (length d).
        dual: ν* (length n, in the original rows; the flow's limiting integrated residual).
        residual: ‖Xβ − y‖ / max(1, ‖y‖).
        kkt: ‖(I − P_X)∇Q(β)‖ / ‖∇Q(β)‖ (0 when ∇Q(β) = 0).
        objective: Q(β∞).
        status: ``ok`` or ``max_steps`` (with the reached residual in ``message``).
        iterations: Newton iterations (all homotopy stages); stages: homotopy stages used.
        least_squares: True when y was projected onto range(X).
    """

    _hidden = ("dual",)  # large or derived: not in the repr

    predictor: np.ndarray
    dual: np.ndarray
    residual: float
    kkt: float
    objective: float
    status: str = "ok"
    message: str = ""
    iterations: int = 0
    stages: int = 1
    least_squares: bool = False
    seconds: float = 0.0
    model: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "message": self.message,
            "predictor": np.asarray(self.predictor, float).tolist(),
            "certificate": {
                "dual": np.asarray(self.dual, float).tolist(),
                "residual": float(self.residual),
                "kkt_residual": float(self.kkt),
                "objective_Q": float(self.objective),
                "statement": "beta = Phi'(X^T nu); residual = |X beta - y|/max(1,|y|); "
                "kkt = |(I - P_X) grad Q(beta)|/|grad Q(beta)|",
            },
            "iterations": int(self.iterations),
            "stages": int(self.stages),
            "least_squares": bool(self.least_squares),
            "model": self.model,
            "seconds": float(self.seconds),
        }


def _shifted(pot, sigma: float):
    """The potential of the same model at scale α·e^{σ}."""
    if sigma == 0.0:
        return pot
    if isinstance(pot, ExpPotential):
        return ExpPotential(pot.logP + 2.0 * sigma, pot.logM + 2.0 * sigma, pot.k)
    if isinstance(pot, PowerPotential):
        D = pot.depth
        return PowerPotential(pot.loga + D * sigma, pot.logk + (D - 2.0) * sigma, D)
    return pot


def _log_scale(pot) -> float:
    """log of the smallest effective scale α_j (how far the cold start is from the kernel regime)."""
    if isinstance(pot, ExpPotential):
        return float(np.min(0.25 * (pot.logP + pot.logM)))
    if isinstance(pot, PowerPotential):
        return float(np.min(pot.loga / pot.depth))
    return 0.0


def _gram(X: np.ndarray, c=None) -> np.ndarray:
    """X diag(c) Xᵀ (symmetric, full) by BLAS syrk: several times faster than a general product."""
    import scipy.linalg

    Y = X if c is None else X * np.sqrt(c)
    U = scipy.linalg.blas.dsyrk(1.0, np.asarray(Y, order="C"))
    return np.triu(U) + np.triu(U, 1).T


class _Reduced:
    """Row-space reduction of X: X = U diag(s) Vᵀ restricted to nonzero s (used when rank X < n)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, least_squares: bool, name: str):
        n, d = X.shape
        G = _gram(X)
        self.G = G
        evals, evecs = np.linalg.eigh(G)
        top = max(float(evals[-1]), 0.0)
        if top == 0.0:
            raise BiasflowError(f"{name}: X is all zeros; no interpolant of y exists")
        keep = evals > 1e-12 * top * max(n, d)
        self.full = bool(np.all(keep))
        self.rank = int(keep.sum())
        self.least_squares = False
        yt = y
        if not self.full:
            U = evecs[:, keep]
            resid = y - U @ (U.T @ y)
            rnorm = float(np.linalg.norm(resid))
            if rnorm > 1e-9 * max(1.0, float(np.linalg.norm(y))):
                if not least_squares:
                    raise BiasflowError(
                        f"{name}: no interpolant exists — Xβ = y is inconsistent (rank X = {self.rank} < "
                        f"n = {n}, least-squares residual {rnorm:.3g}); pass least_squares=True "
                        "(--least-squares) to interpolate the least-squares fit instead"
                    )
                self.least_squares = True
            self.U = U
            X = U.T @ X
            yt = U.T @ y
            self.G = (U.T @ G) @ U
        self.X = X
        self.y = yt

    def lift(self, nu_r: np.ndarray) -> np.ndarray:
        return nu_r if self.full else self.U @ nu_r


def _newton(X, y, pot, nu, tol, max_iter):
    """Damped Newton on F(ν) = ΣΦ(Xᵀν) − yᵀν. Returns (ν, iterations, converged, residual norm)."""
    import scipy.linalg

    ynorm = max(1.0, float(np.linalg.norm(y)))

    def F(nu_):
        z = X.T @ nu_
        v = pot.value(z)
        return float(np.sum(v)) - float(y @ nu_), z

    f, z = F(nu)
    if not math.isfinite(f):
        return nu, 0, False, math.inf
    best = prev = math.inf
    f_stall = f
    stall = 0
    it = 0
    for it in range(1, max_iter + 1):
        beta = pot.beta(z)
        g = X @ beta - y
        gn = float(np.linalg.norm(g))
        if gn <= tol * ynorm:
            return nu, it - 1, True, gn
        if gn <= 1e-8 * ynorm and gn > 0.5 * prev:
            # rounding floor of β = Φ'(Xᵀν) reached (quadratic convergence has stopped): the primal
            # correction in solve_dual takes it from here
            return nu, it - 1, True, gn
        prev = gn
        if gn < best * (1 - 1e-3):
            best, stall = gn, 0
        else:  # the damped phase may raise ‖∇F‖ while F falls; stop only when neither improves
            stall += 1
            if stall >= 6 and not f < f_stall - 1e-12 * (abs(f_stall) + 1.0):
                return nu, it - 1, gn <= 1e3 * tol * ynorm, gn
            if stall >= 6:
                f_stall, stall = f, 0
        lc = pot.log_curvature(z)
        shift = float(np.max(lc))
        c = np.exp(lc - shift)  # scaled curvature (the Hessian is e^{shift}·X diag(c) Xᵀ)
        H = _gram(X, c)
        try:
            cf = scipy.linalg.cho_factor(H, lower=True, check_finite=True)
            step = -scipy.linalg.cho_solve(cf, g)
        except (np.linalg.LinAlgError, ValueError):
            step = -np.linalg.lstsq(H, g, rcond=None)[0]
        step = step * math.exp(-shift)
        if not np.all(np.isfinite(step)):
            return nu, it, False, gn
        slope = float(g @ step)
        t = 1.0
        accepted = False
        for _ in range(80):
            nu_t = nu + t * step
            f_t, z_t = F(nu_t)
            if math.isfinite(f_t):
                if f_t <= f + 1e-4 * t * slope:
                    accepted = True
                    break
                # near the optimum F is flat to rounding: accept a step that shrinks the gradient
                if f_t <= f + 1e-13 * (abs(f) + 1.0):
                    g_t = X @ pot.beta(z_t) - y
                    if float(np.linalg.norm(g_t)) < gn:
                        accepted = True
                        break
            t *= 0.5
        if not accepted:
            return nu, it, gn <= 1e3 * tol * ynorm, gn
        nu, f, z = nu_t, f_t, z_t
    g = X @ pot.beta(z) - y
    gn = float(np.linalg.norm(g))
    return nu, max_iter, gn <= tol * ynorm, gn


def _homotopy(Xr, yr, pot, sig0: float, factor: float, tol: float, max_iter: int):
    """Follow the interpolant from scale α·e^{σ0} down to α (σ ↓ 0) in stages of ``factor`` in α."""
    n_st = max(2, int(math.ceil(sig0 / math.log(factor))) + 1)
    sigmas = np.linspace(sig0, 0.0, n_st)
    # extrapolate in the variable that is smooth in σ: ν for exp potentials (z grows linearly in
    # log α), λ = ν·α^{D−2} for depth ≥ 3 (λ tends to the ℓ1 dual as α → 0)
    e = (pot.depth - 2.0) if isinstance(pot, PowerPotential) else 0.0
    hist: list[tuple[float, np.ndarray]] = []
    nu = np.zeros(Xr.shape[0])
    iters = 0
    ok = False
    for k, s in enumerate(sigmas):
        ps = _shifted(pot, float(s))
        if hist:
            nu = _warm_start(hist, float(s), e, nu, lambda c, ps=ps: ps.value(Xr.T @ c), fractions=(1.0, 0.5, 0.25))
        last = k == len(sigmas) - 1
        nu, it, ok, gn = _newton(Xr, yr, ps, nu, tol if last else 1e-5, max_iter)
        iters += it
        hist.append((float(s), nu * math.exp(e * s)))
    resid = float(np.linalg.norm(Xr @ pot.beta(Xr.T @ nu) - yr)) / max(1.0, float(np.linalg.norm(yr)))
    return nu, iters, ok and resid <= 1e-8, len(sigmas)


def _warm_start(hist, s: float, e: float, current, value, fractions=(1.0, 0.5), nonneg: bool = False):
    """The first finite warm start for the dual at homotopy stage σ = ``s``.

    ``hist`` holds (σ_k, dual_k·e^{e σ_k}) of earlier stages, smooth in σ. Candidates, in order: linear
    extrapolation of the last two stages damped by each of ``fractions`` (clipped at 0 if ``nonneg``),
    the last stage, then ``current``; each rescaled by e^{−e s}. ``value(c)`` is the dual potential term.
    """
    cands = [hist[-1][1] * math.exp(-e * s)]
    if len(hist) >= 2:
        (s1, l1), (s2, l2) = hist[-2], hist[-1]
        step = (l2 - l1) * (s - s2) / (s2 - s1)
        ext = [l2 + f * step for f in fractions]
        cands = [(np.maximum(x, 0.0) if nonneg else x) * math.exp(-e * s) for x in ext] + cands
    cands.append(current)
    return next((c for c in cands if math.isfinite(float(np.sum(value(c))))), current)


def solve_dual(
    X: np.ndarray,
    y: np.ndarray,
    pot,
    *,
    tol: float = 1e-13,
    max_iter: int = 100,
    least_squares: bool = False,
    name: str = "data",
    nu0=None,
):
    """Minimize Σ_j Φ_j((Xᵀν)_j) − yᵀν for any potential; returns (β, ν, status, message, iterations, stages).

    Low-level entry point shared by :func:`interpolate` and the finite-step prediction.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    red = _Reduced(X, y, least_squares, name)
    Xr, yr = red.X, red.y
    n = Xr.shape[0]
    iters = 0
    stages = 1
    ls = _log_scale(pot)
    nu = np.zeros(n) if nu0 is None or not red.full else np.asarray(nu0, float)
    if ls < math.log(0.3) and nu0 is None and not isinstance(pot, QuadPotential):
        # homotopy from the kernel regime (α_eff = 1) down to the target scale: stages of a factor 1000 in
        # α, refined to a factor 10 if the coarse path does not converge
        for factor in (1000.0, 10.0):
            nu, it, ok, stages = _homotopy(Xr, yr, pot, -ls, factor, tol, max_iter)
            iters += it
            if ok:
                break
    else:
        nu, it, ok, gn = _newton(Xr, yr, pot, nu, tol, max_iter)
        iters += it
    z = Xr.T @ nu
    beta = pot.beta(z)
    ynorm = max(1.0, float(np.linalg.norm(yr)))
    resid = float(np.linalg.norm(Xr @ beta - yr)) / ynorm
    # Primal correction: the Newton step taken in β-space, δ = C Xᵀ(X C Xᵀ)⁻¹(y − Xβ), C = diag Φ''(z).
    # Near the edge of a depth ≥ 3 domain β = Φ'(Xᵀν) amplifies the rounding of ν; δ moves ∇Q(β) only
    # within range(Xᵀ) to first order, so it restores Xβ = y without spoiling stationarity.
    st0 = stationarity(Xr, pot.inverse(beta), red.G)
    for _ in range(3):
        if resid <= 1e-15:
            break
        lc = pot.log_curvature(z)
        c = np.exp(lc - float(np.max(lc)))
        r = yr - Xr @ beta
        cands = []
        try:
            cands.append(beta + c * (Xr.T @ np.linalg.solve(_gram(Xr, c), r)))
        except np.linalg.LinAlgError:
            pass
        sq = np.sqrt(c)  # the same correction through a least-squares solve (better conditioned)
        cands.append(beta + sq * np.linalg.lstsq(Xr * sq, r, rcond=None)[0])
        for cand in cands:
            r2 = float(np.linalg.norm(Xr @ cand - yr)) / ynorm
            if (
                np.all(np.isfinite(cand))
                and r2 < resid
                and stationarity(Xr, pot.inverse(cand), red.G) <= max(1e-10, 10 * st0)
            ):
                beta, resid = cand, r2
                break
        else:
            break
    status = "ok" if resid <= 1e-10 else "max_steps"
    msg = (
        f"dual Newton converged in {iters} iterations ({stages} homotopy stage(s))"
        if status == "ok"
        else f"dual Newton stopped at relative residual {resid:.3g} after {iters} iterations "
        "(float64 precision limit of the dual at this scale"
        + (
            f": depth {pot.depth} puts the support at 1 − |κz| ≈ α^(D−2) = "
            f"{math.exp(float(np.min(pot.loga)) * (pot.depth - 2) / pot.depth):.1e}, near float64's "
            "resolution; use a larger alpha or a smaller depth)"
            if isinstance(pot, PowerPotential)
            else ")"
        )
    )
    return beta, red.lift(nu), status, msg, iters, stages, red


def stationarity(X: np.ndarray, grad: np.ndarray, gram: np.ndarray | None = None) -> float:
    """‖(I − P_X) g‖ / ‖g‖, where P_X projects onto range(Xᵀ) (docs/theory/certificates.md §7); 0 for g = 0."""
    import scipy.linalg

    g = np.asarray(grad, dtype=float)
    gn = float(np.linalg.norm(g))
    if gn == 0.0:
        return 0.0
    G = _gram(X) if gram is None else gram
    try:
        coef = scipy.linalg.cho_solve(scipy.linalg.cho_factor(G), X @ g)
    except (np.linalg.LinAlgError, ValueError):
        coef = np.linalg.lstsq(X.T, g, rcond=None)[0]
    r = g - X.T @ coef
    if float(np.linalg.norm(r)) > 1e-6 * gn:  # refine once (the normal equations square the condition)
        r = r - X.T @ np.linalg.lstsq(G, X @ r, rcond=None)[0]
    return float(np.linalg.norm(r)) / gn


def interpolate(
    model, data: Dataset, *, least_squares: bool = False, tol: float = 1e-13, max_iter: int = 100
) -> InterpolationResult:
    """The minimum-Q interpolant of a diagonal model: the end point of square-loss gradient flow.

    Args:
        model: :class:`~biasflow.models.Diagonal` (any depth, shape) or
            :class:`~biasflow.models.UntiedDiagonal` (Azulay's two branches, or Even's u⊙v), or a
            potential from :mod:`biasflow.bias.potentials`.
        data: regression :class:`~biasflow.data.Dataset` (classification data are rejected).
        least_squares: interpolate the least-squares fit when Xβ = y is inconsistent.
        tol: stop when ‖Xβ − y‖ ≤ tol·max(1, ‖y‖).

    >>> from biasflow.data import make_dataset
    >>> from biasflow.models import Diagonal
    >>> ds = make_dataset([[1.0, 1.0]], [2.0], task="regression")
    >>> [round(float(b), 12) for b in interpolate(Diagonal(d=2, alpha=0.1), ds).predictor]   # symmetric
    [1.0, 1.0]
    """
    if data.task != "regression":
        raise BiasflowError(
            f"interpolate needs regression data; {data.name!r} is classification — use predict (Q_μ "
            "max-margin) or margin for classification"
        )
    if getattr(model, "d", data.d) != data.d:
        raise BiasflowError(f"model has d = {model.d} but the data have d = {data.d} features")
    t0 = time.perf_counter()
    pot = model if isinstance(model, (ExpPotential, PowerPotential, QuadPotential)) else potential_of(model)
    beta, nu, status, msg, iters, stages, red = solve_dual(
        data.X, data.y, pot, tol=tol, max_iter=max_iter, least_squares=least_squares, name=data.name
    )
    yfit = red.U @ red.y if not red.full else data.y
    resid = float(np.linalg.norm(data.X @ beta - yfit)) / max(1.0, float(np.linalg.norm(yfit)))
    kkt = stationarity(red.X, pot.inverse(beta), red.G)
    cfg = model.config() if hasattr(model, "config") else {}
    return InterpolationResult(
        predictor=beta,
        dual=nu,
        residual=resid,
        kkt=kkt,
        objective=pot.Q(beta),
        status=status,
        message=msg,
        iterations=iters,
        stages=stages,
        least_squares=red.least_squares,
        seconds=time.perf_counter() - t0,
        model=cfg,
    )


def min_l2_interpolant(data: Dataset, weights=None) -> np.ndarray:
    """min Σ β_j²/K_j s.t. Xβ = y: β = K Xᵀ(X K Xᵀ)⁻¹ y (docs/theory/certificates.md §7; K = I gives X⁺y,
    the kernel limit, and the small-initialization limit of fully connected nets, computed by least squares
    on X itself)."""
    X = data.X
    if weights is None:
        return np.linalg.lstsq(X, data.y, rcond=None)[0]
    K = np.ones(data.d) if weights is None else np.asarray(weights, float)
    G = (X * K) @ X.T
    return K * (X.T @ np.linalg.lstsq(G, data.y, rcond=None)[0])


def min_l1_interpolant(data: Dataset, weights=None) -> np.ndarray:
    """min Σ w_j|β_j| s.t. Xβ = y by HiGHS (the rich limit of docs/theory/diagonal.md §3.4).

    >>> from biasflow.data import make_dataset
    >>> ds = make_dataset([[1.0, 2.0]], [2.0], task="regression")
    >>> [float(v) for v in min_l1_interpolant(ds)]
    [0.0, 1.0]
    """
    from scipy.optimize import linprog

    X, y = data.X, data.y
    d = data.d
    w = np.ones(d) if weights is None else np.asarray(weights, float)
    res = linprog(
        np.concatenate([w, w]),
        A_eq=np.hstack([X, -X]),
        b_eq=y,
        bounds=(0, None),
        method="highs-ds",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status == 2:
        raise BiasflowError(f"{data.name}: no interpolant exists (Xβ = y is infeasible)")
    if res.status != 0:
        raise BiasflowError(
            f"{data.name}: min-ℓ1 interpolation failed: HiGHS status {res.status} ({res.message})"
        )
    return res.x[:d] - res.x[d:]
