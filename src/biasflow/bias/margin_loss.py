"""The Q_μ prediction at a loss level: γ from the margin–loss relation ℒ = (1/n)Σ_i ℓ(γ·(X̃β̃_γ)_i)
(Moroshko et al. 2020), found by Brent's method on log γ with the Q_μ problem re-solved (warm-started) at
each γ; the result re-checks the loss it reaches.
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
from .margins import _require_classification
from .potentials import potential_of
from .prediction import Prediction
from .qmu import _qmu_prediction, solve_qmu


def _log_loss(loss: str, m: np.ndarray) -> float:
    """log ℒ for margins m (mean reduction), in the log domain."""
    from scipy.special import logsumexp

    if loss == "exp":
        return float(logsumexp(-m) - math.log(m.size))
    from ..losses import log_logistic_loss

    return float(logsumexp(np.asarray(log_logistic_loss(m))) - math.log(m.size))


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
    p = dataclasses.replace(p, certificate={**p.certificate, "log10_loss_check": chk})
    if p.status == "ok" and abs(chk - log10) > 1e-7 * max(1.0, abs(log10)):
        p = dataclasses.replace(p, status="max_steps", message=(
            f"the margin–loss relation was not met (loss {log10_text(chk, 7)} instead of "
            f"{log10_text(log10, 7)}); " + p.message))
    return p
