"""What theory predicts for a diagonal network: the Q_μ max-margin path, the limits, the interpolants.

**Classification at a finite loss (Moroshko et al. 2020; docs/theory/diagonal.md §3.5).** Along exp/logistic gradient
flow of a diagonal network, β(t) = Φ'(X̃ᵀν(t)) exactly, so the normalized predictor β̃ = β/γ (γ = min
margin) satisfies

    β̃ = Ψ'(X̃ᵀν),  Ψ = Φ/γ,   min_i (X̃β̃)_i = 1,

which is the KKT system of the strictly convex **Q_μ max-margin problem**

    min Ψ*(β)  s.t.  X̃β ≥ 1        (for uniform α: min μ Σ_j q_D(β_j/μ), μ = α^D/γ),

except for complementary slackness. The prediction at loss ℒ is that problem's solution, with γ fixed
self-consistently by the margin–loss relation ℒ = (1/n)Σ_i ℓ(γ·(X̃β̃_γ)_i) (for exp loss γ lies in
[log(1/ℒ) − log n, log(1/ℒ)], docs/theory/numerics.md §2.3). It is a *description to test*: the flow follows it iff its
dual ν puts no mass on points with margin > 1 (ρ_nsv = 0), which :func:`biasflow.bias.compare.compare`
measures on every checkpoint.

Measured on the built-in ``sparse`` set (n = 10, d = 30, exact dual flows; ``tests/test_bias_flow.py``):
for D = 2 the relative distance from the flow's β̃ to the Q_μ solution at the same loss falls with accuracy
and with α (α = 1: 0.07, 0.03, 0.014, 0.009 at ℒ = 1e-10, 1e-100, 1e-1000, 1e-10000; α = 10: 0.05 → 5e-4;
α = 0.01: 0.32 → 0.11), so Q_μ is a good description at large α or extreme accuracy and a poor one at small
α, where the saddle phase leaves dual mass on points that are not support vectors. For D = 3 at α = 0.01
it fails outright (distance ≈ 3.5, ρ_nsv ≈ 0.77): the flow stops at a sparse ℓ_{2/3} KKT point, as
docs/theory/diagonal.md §3.5 predicts. Limits of float64: for depth ≥ 4 with α^D/γ below about 1e-12 the dual cannot
resolve β̃ near the edge of its domain; the result then has status ``max_steps`` with the reached residuals.

The Q_μ problem is solved on its dual, max_{λ≥0} 1ᵀλ − Σ_j Ψ_j((X̃ᵀλ)_j), by projected Newton (Bertsekas
1982) with a scale homotopy for small μ. Certificate: primal feasibility max(0, 1 − min_i m̃_i), the duality
gap λᵀ(m̃ − 1) (= primal − dual objective), and the projected-gradient residual ‖min(λ, m̃ − 1)‖_∞.

**Limits.** ``at_loss=None`` gives the ℒ → 0 limit: the ℓ1 max-margin (D = 2, certified LP), or a
best-effort ℓ_{2/D} KKT point (D ≥ 3, non-convex). **Regression**: the minimum-Q interpolant
(:mod:`biasflow.bias.interpolate`), or with ``lr`` the interpolant gradient descent converges to
(:mod:`biasflow.bias.finite_step`).

>>> from biasflow.data import gaussian
>>> from biasflow.models import Diagonal
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> p = predict(Diagonal(d=30, depth=2, alpha=1.0), ds, at_loss="1e-10")
>>> p.kind, p.status, p.certificate["duality_gap"] < 1e-9, p.certificate["infeasibility"] < 1e-12
('q_mu', 'ok', True, True)
>>> bool(abs(p.gamma - 23.03) < 3)           # γ ≈ log(1/ℒ) − O(log n)
True
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError, UndefinedAtLevel
from ..fmt import log10_text
from ..levels import LN10, Level
from ..models.base import bind_data, has_dual
from .interpolate import _gram, _log_scale, _shifted, _warm_start, interpolate
from .margins import _require_classification, max_margin
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


def _log_loss(loss: str, m: np.ndarray) -> float:
    """log ℒ for margins m (mean reduction), in the log domain."""
    from scipy.special import logsumexp

    if loss == "exp":
        return float(logsumexp(-m) - math.log(m.size))
    from ..losses import log_logistic_loss

    return float(logsumexp(np.asarray(log_logistic_loss(m))) - math.log(m.size))


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


def predict_at_loss(model, data: Dataset, at_loss, *, loss: str = "exp") -> Prediction:
    """The Q_μ prediction at training loss ``at_loss`` (a :class:`~biasflow.levels.Level`, text such as
    ``"1e-100"`` or a positive float loss VALUE), with γ from the margin–loss relation, solved by Brent's
    method. Raises :class:`~biasflow.errors.UndefinedAtLevel` when the level is not below ℓ(0)/n."""
    _require_classification(data, "a classification prediction")
    if loss not in ("exp", "logistic"):
        raise BiasflowError(f"classification predictions need --loss exp or logistic (got {loss!r})")
    log10 = Level.parse(at_loss).log10
    t0 = time.perf_counter()
    L = -log10 * LN10  # log(1/ℒ)
    n = data.n
    floor = math.log(n) if loss == "exp" else math.log(n) - math.log(math.log(2.0))
    if not L > floor + 1e-9:
        raise UndefinedAtLevel(
            f"--at-loss {Level.from_log10(log10)} is not below ℓ(0)/n = {Level.from_log10(-floor / LN10)}: "
            "the Q_mu description needs "
            "every training point classified; give a smaller loss such as 1e-10"
        )
    pot = potential_of(model)
    A = data.A
    state = {"lam": None, "sol": None, "iters": 0}

    def h(log_gamma):
        gam = math.exp(log_gamma)
        beta, lam, ok, it = solve_qmu(A, pot.scaled(1.0 / gam), lam0=state["lam"])
        state["lam"] = lam
        state["iters"] += it
        state["sol"] = (beta, lam, ok, state["iters"], gam)
        m = A @ beta
        return _log_loss(loss, gam * m / m.min()) + L

    lo = math.log(max(L - math.log(n), 1e-3 * L, 1e-12))
    hi = math.log(L)
    if loss == "logistic":
        lo, hi = lo - 0.1, hi + 0.1
    hlo, hhi = h(lo), h(hi)
    for _ in range(40):
        if hlo >= 0 >= hhi:
            break
        if hlo < 0:
            lo -= 0.5
            hlo = h(lo)
        if hhi > 0:
            hi += 0.5
            hhi = h(hi)
    else:
        from ..dynamics.separability import check
        from .margins import _not_separable

        if not check(data, margin=False).separable:  # e.g. a point repeated with the opposite label
            raise _not_separable(data)
        raise BiasflowError("could not bracket the margin for this loss level (margin–loss relation failed)")
    from scipy.optimize import brentq

    try:
        lg = brentq(h, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
    except (ValueError, RuntimeError):  # inconsistent evaluations: the inner solves did not converge
        lg = lo if abs(hlo) < abs(hhi) else hi
    h(lg)
    beta, lam, ok, it, gam = state["sol"]
    p = _qmu_prediction(model, data, pot, beta, lam, ok, it, gam, log10, t0)
    chk = _log_loss(loss, gam * (A @ p.predictor)) / LN10
    p.certificate["log10_loss_check"] = chk
    if p.status == "ok" and abs(chk - log10) > 1e-7 * max(1.0, abs(log10)):
        p.status = "max_steps"
        p.message = (
            f"the margin–loss relation was not met (loss {log10_text(chk, 7)} instead of "
            f"{log10_text(log10, 7)}); " + p.message
        )
    return p


def _with_scale(model, pr: Prediction) -> Prediction:
    """Record the model's μ scale (its ``log10_mu_scale`` capability) on a prediction it produced."""
    pr.log10_mu_scale = getattr(model, "log10_mu_scale", None)
    return pr


# ------------------------------------------------------------------------------------------ dispatcher
def predict(
    model,
    data: Dataset,
    at_loss=None,
    *,
    loss: str | None = None,
    lr: float | None = None,
    steps: int | None = None,
    least_squares: bool = False,
) -> Prediction:
    """What theory predicts for ``model`` trained on ``data`` (see :func:`_predict`)."""
    return _with_scale(model, _predict(model, data, at_loss, loss=loss, lr=lr, steps=steps,
                                       least_squares=least_squares))


def _predict(
    model,
    data: Dataset,
    at_loss=None,
    *,
    loss: str | None = None,
    lr: float | None = None,
    steps: int | None = None,
    least_squares: bool = False,
) -> Prediction:
    """What theory predicts for ``model`` trained on ``data``, with a certificate.

    - classification, ``at_loss`` given: the Q_μ max-margin at that loss (diagonal models);
    - classification, ``at_loss=None``: the ℒ → 0 limit — ℓ1 max-margin for depth 2 (LP, certified),
      best-effort ℓ_{2/D} KKT point for depth ≥ 3; other linear networks go to
      :func:`biasflow.bias.transformed.predict_classification`;
    - regression: the minimum-Q interpolant (the end of square-loss flow), or with ``lr`` (and ``steps``)
      the interpolant gradient descent with step η converges to (Even et al. 2023).

    Args:
        model: a model from :mod:`biasflow.models`.
        data: the training set.
        at_loss: loss level, e.g. ``"1e-100"`` (classification only).
        loss: ``exp`` (default for classification) or ``logistic``; ``square`` for regression.
        lr, steps: gradient-descent step size and number of steps for the finite-step prediction.
        least_squares: for inconsistent regression systems, interpolate the least-squares fit.
    """
    t0 = time.perf_counter()
    if data.task == "classification":
        if lr is not None:
            raise BiasflowError("--lr (finite-step prediction) applies to regression (square loss) only")
        if loss is not None and loss not in ("exp", "logistic"):
            raise BiasflowError(f"loss {loss!r} is for regression; use exp or logistic for classification")
        own = _own_bias(model, data, at_loss)
        if own is not None:
            return own
        diagonal = _is_diagonal(model)
        if at_loss is not None:
            if not diagonal:
                raise BiasflowError(
                    "finite-loss (Q_mu) predictions exist for diagonal models only; "
                    "drop --at-loss for the limit prediction"
                )
            return predict_at_loss(model, data, at_loss, loss=loss or "exp")
        if not diagonal:
            from .transformed import predict_classification

            tp = predict_classification(model, data)
            return Prediction(
                kind="transformed",
                task="classification",
                predictor=np.asarray(tp.predictor, float),
                status="ok",
                message=getattr(tp, "message", "") or getattr(tp, "kind", ""),
                certificate=_jsonable_cert(tp),
                depth=int(model.degree),
                model=model.config() if hasattr(model, "config") else {},
                data=data,
                seconds=time.perf_counter() - t0,
            )
        D = int(model.degree)
        if D <= 2:
            r = max_margin(data, "l1" if D == 2 else "l2")
            pr = Prediction(
                kind="l1" if D == 2 else "l2",
                task="classification",
                predictor=r.predictor / r.margin,
                status=r.status,
                message=f"{r.norm} max-margin (limit L -> 0), {r.solver}",
                certificate=r.to_json()["certificate"] | {"margin": r.margin},
                depth=D,
                model=model.config(),
                data=data,
                potential=potential_of(model),
                seconds=time.perf_counter() - t0,
            )
            pr.references[r.norm] = r
            return pr
        from .kkt import lp_max_margin_best_effort

        b = lp_max_margin_best_effort(data, D)
        pr = Prediction(
            kind="l2D",
            task="classification",
            predictor=b.predictor / b.margin,
            status=b.status,
            message=f"l_(2/{D}) max-margin, {b.message} (non-convex: best effort, not certified "
            "global; the flow reaches an alpha-dependent KKT point)",
            certificate={
                "kkt_residual": b.kkt.residual,
                "objective": b.objective,
                "candidates": b.candidates,
            },
            depth=D,
            model=model.config(),
            data=data,
            potential=potential_of(model),
            seconds=time.perf_counter() - t0,
        )
        pr.references["l2D"] = b
        return pr
    # regression
    if at_loss is not None:
        raise BiasflowError(
            "--at-loss applies to classification; square-loss flow converges to the interpolant"
        )
    if loss is not None and loss != "square":
        raise BiasflowError(f"loss {loss!r} is for classification; regression uses square loss")
    if lr is not None:
        from .finite_step import predict_descent

        return predict_descent(model, data, lr=lr, steps=steps)
    if not _is_diagonal(model):
        from .transformed import predict_regression

        tp = predict_regression(model, data)
        return Prediction(
            kind="transformed",
            task="regression",
            predictor=np.asarray(tp.predictor, float),
            status="ok",
            message=getattr(tp, "message", ""),
            certificate=_jsonable_cert(tp),
            depth=int(model.degree),
            model=model.config() if hasattr(model, "config") else {},
            data=data,
            seconds=time.perf_counter() - t0,
        )
    r = interpolate(model, data, least_squares=least_squares)
    return Prediction(
        kind="interpolant",
        task="regression",
        predictor=r.predictor,
        status=r.status,
        message=r.message,
        certificate=r.to_json()["certificate"],
        dual=r.dual,
        depth=int(model.degree),
        model=model.config(),
        data=data,
        potential=potential_of(model),
        seconds=time.perf_counter() - t0,
    )


def _own_bias(model, data: Dataset, at_loss):
    """Models whose bias is not a norm of β say so by a capability: ``finite_group`` (linear G-CNNs:
    the group Fourier Schatten problem) or ``uniform_margin_patches`` (batch normalization: uniform
    margins). None for every other model."""
    group = getattr(model, "finite_group", None)
    patches = getattr(model, "uniform_margin_patches", None)
    if group is None and patches is None:
        return None
    if at_loss is not None:
        raise BiasflowError("finite-loss (Q_mu) predictions exist for diagonal models only; "
                            "drop --at-loss for the limit prediction")
    if group is not None:
        from .groups import predict_group

        return predict_group(model, data)
    from .batchnorm import predict_uniform

    return predict_uniform(bind_data(model, data), data)


def _is_diagonal(model) -> bool:
    """True for mirror-flow models (they provide an exact dual potential: the diagonal networks)."""
    return has_dual(model)


def _jsonable_cert(tp) -> dict:
    out = {}
    for k, v in dataclasses.asdict(tp).items() if dataclasses.is_dataclass(tp) else {}:
        if k == "predictor":
            continue
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if isinstance(v, (int, float, str, bool, list, dict)) or v is None:
            out[k] = v
    return out
