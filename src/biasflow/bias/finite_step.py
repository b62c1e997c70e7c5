"""Finite step size: the effective initialization of gradient descent on the u⊙v model (Even et al. 2023).

Setting (docs/theory/diagonal.md §3.8): β = u⊙v with u(0) = √2α·1, v(0) = 0, (S)GD with steps γ_k on the mean square
loss, g_k = ∇_βℒ_{B_k}(β_k). With q(x) = −½log((1 − x²)²), q_±(x) = ∓2x − log((1 ∓ x)²),

    α_k = α⊙exp(−½Σ_{j<k} q(γ_j g_j)),   α_{±,k} = α⊙exp(−½Σ_{j<k} q_±(γ_j g_j)),
    β̃_k = ½(α_{+,k}² − α_{−,k}²),

and the exact identity (for γ_j g_j ≠ ±1), with ∇ψ_α(β) = ½ arcsinh(β/α²),

    ∇ψ_{α_k}(β_k) − ∇ψ_{α_k}(β̃_k) = −Σ_{j<k} γ_j g_j ∈ range(Xᵀ).

So an interpolating GD limit is β∞ = argmin_{Xβ=y} D_{ψ_{α∞}}(β, β̃∞): gradient flow's minimum-Q interpolant
with the scale α replaced by the *effective* scale α∞ ≤ α (the gain Σ_k q(γg_k) ≥ 0 only shrinks it) and a
tiny offset β̃∞. The gains depend on the GD path, so the prediction runs
:func:`biasflow.dynamics.descent.descent` (with its ``effective_init`` accumulators) and then solves the
Bregman interpolation problem by the same dual Newton as :mod:`biasflow.bias.interpolate`, with potential

    β_j(z) = α∞_j² sinh(2z_j + c_j),   c_j = arcsinh(β̃∞_j/α∞_j²),   z = Xᵀν.

>>> import numpy as np
>>> a, bt = np.array([0.1, 0.2]), np.array([0.0, 1e-3])
>>> pot = bregman_potential(a, bt)
>>> bool(np.allclose(pot.beta(np.zeros(2)), bt, rtol=1e-13))           # z = 0 gives β̃
True
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError, Status
from .interpolate import solve_dual, stationarity
from .potentials import ExpPotential
from .prediction import Prediction


def even_gains(steps_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Σ_k q(x_k), Σ_k q_+(x_k), Σ_k q_−(x_k) for a (K, d) array of step-gradient products x_k = γ_k g_k.

    >>> g, gp, gm = even_gains(np.array([[0.1], [-0.2]]))
    >>> bool(np.isclose(g[0], -np.log(0.99) - np.log(0.96)))
    True
    """
    x = np.asarray(steps_x, dtype=float)
    if np.any(np.abs(np.abs(x) - 1.0) < 1e-300):
        raise BiasflowError("a step with γ·g = ±1 makes Even et al.'s effective initialization undefined")
    q = -np.log(np.abs(1.0 - x * x)).sum(axis=0)
    qp = (-2.0 * x - 2.0 * np.log(np.abs(1.0 - x))).sum(axis=0)
    qm = (2.0 * x - 2.0 * np.log(np.abs(1.0 + x))).sum(axis=0)
    return q, qp, qm


def effective_initialization(alpha, gain, gain_plus, gain_minus) -> tuple[np.ndarray, np.ndarray]:
    """(α∞, β̃∞) from the accumulated gains: α∞ = α e^{−gain/2}, β̃∞ = ½(α²e^{−gain₊} − α²e^{−gain₋})."""
    a = np.broadcast_to(np.asarray(alpha, dtype=float), np.shape(gain))
    a_inf = a * np.exp(-0.5 * np.asarray(gain, float))
    bt = 0.5 * a * a * (np.exp(-np.asarray(gain_plus, float)) - np.exp(-np.asarray(gain_minus, float)))
    return a_inf, bt


def bregman_potential(alpha_inf, beta_tilde) -> ExpPotential:
    """Potential with β(z) = α² sinh(2z + c), c = arcsinh(β̃/α²): Φ' for argmin_{Xβ=y} D_{ψ_α}(β, β̃)."""
    a2 = np.asarray(alpha_inf, float) ** 2
    c = np.arcsinh(np.asarray(beta_tilde, float) / a2)
    base = np.log(a2) - math.log(2.0)
    return ExpPotential(base + c, base - c, 2.0)


def mirror_identity_residual(beta_k, alpha, gain, gain_plus, gain_minus, sum_step_grad) -> float:
    """max_j |∇ψ_{α_k}(β_k) − ∇ψ_{α_k}(β̃_k) + Σγg|_j / max(1, |Σγg|_∞): 0 up to rounding
    (docs/theory/oracles.md §8.9)."""
    a_k, bt = effective_initialization(alpha, gain, gain_plus, gain_minus)
    lhs = 0.5 * (np.arcsinh(np.asarray(beta_k) / a_k**2) - np.arcsinh(bt / a_k**2))
    s = np.asarray(sum_step_grad, float)
    return float(np.max(np.abs(lhs + s)) / max(1.0, float(np.max(np.abs(s)))))


def predict_descent(
    model,
    data: Dataset,
    *,
    lr: float,
    steps: int | None = None,
    schedule=None,
    batch_size: int | None = None,
    seed: int = 0,
):
    """The interpolant that GD (or SGD) with step ``lr`` converges to on the u⊙v model (Even et al. 2023).

    Runs :func:`~biasflow.dynamics.descent.descent` for ``steps`` steps (default 20,000) with the
    effective-initialization accumulators, then solves argmin_{Xβ=y} D_{ψ_{α∞}}(β, β̃∞). The certificate
    reports the interpolation and stationarity residuals, the effective scale range, the gain, the mirror
    identity residual along the run, the distance to GD's own end point, and the distance to gradient
    flow's interpolant (the O(η) effect of the step size).
    """
    alpha = getattr(model, "even_alpha", None)
    if alpha is None:
        raise BiasflowError(
            "the finite-step prediction (--lr) covers Even et al.'s one-branch model u⊙v with u(0) = √2α, "
            "v(0) = 0; use --model diagonal-uv"
        )
    if data.task != "regression":
        raise BiasflowError("the finite-step prediction (--lr) needs regression data (square loss)")
    if not (math.isfinite(lr) and lr > 0):
        raise BiasflowError(f"--lr must be a positive number (got {lr!r})")
    steps = 20000 if steps is None else int(steps)
    t0 = time.perf_counter()
    from ..dynamics.descent import descent

    res = descent(
        model,
        data,
        "square",
        lr=lr,
        steps=steps,
        schedule=schedule,
        batch_size=batch_size,
        seed=seed,
        effective_init=True,
    )
    return from_descent(model, data, res, lr=lr, steps=steps, t0=t0)


def from_descent(model, data: Dataset, res, *, lr: float, steps: int, t0: float | None = None):
    """The finite-step prediction from a finished descent run ``res`` (a
    :class:`~biasflow.trajectory.DescentResult` with the ``effective_init`` accumulators) on Even et al.'s
    u⊙v model: α∞, β̃∞ from its gains, then argmin_{Xβ=y} D_{ψ_{α∞}}(β, β̃∞)."""
    from .interpolate import interpolate

    alpha = getattr(model, "even_alpha", None)
    if alpha is None:
        raise BiasflowError(
            "the finite-step prediction (--lr) covers Even et al.'s one-branch model u⊙v with u(0) = √2α, "
            "v(0) = 0; use --model diagonal-uv"
        )
    t0 = time.perf_counter() if t0 is None else t0
    h = res.history
    if res.status != "ok" or "gain" not in h:
        return Prediction(
            kind="finite_step",
            task="regression",
            predictor=np.asarray(res.predictor, float),
            status=Status(res.status) if res.status != "ok" else Status.FAILED,
            message=f"gradient descent did not give an effective initialization: {res.message}",
            depth=2,
            model=model.config(),
            data=data,
            seconds=time.perf_counter() - t0,
        )
    gain, gp, gm, ssum = (
        np.asarray(h[k], float) for k in ("gain", "gain_plus", "gain_minus", "sum_step_grad")
    )
    a_inf, bt = effective_initialization(alpha, gain, gp, gm)
    pot = bregman_potential(a_inf, bt)
    beta, nu, status, msg, iters, stages, red = solve_dual(data.X, data.y, pot, name=data.name)
    ynorm = max(1.0, float(np.linalg.norm(data.y)))
    gd_beta = np.asarray(res.predictor, float)
    gf = interpolate(model, data)
    nb = max(float(np.linalg.norm(beta)), 1e-300)
    cert = {
        "residual": float(np.linalg.norm(data.X @ beta - data.y)) / ynorm,
        "kkt_residual": stationarity(red.X, pot.inverse(beta)),
        "alpha": alpha,
        "alpha_inf_min": float(a_inf.min()),
        "alpha_inf_max": float(a_inf.max()),
        "gain_max": float(gain.max()),
        "gain_mean": float(gain.mean()),
        "beta_tilde_inf_norm": float(np.max(np.abs(bt))),
        "mirror_identity_residual": mirror_identity_residual(gd_beta, alpha, gain, gp, gm, ssum),
        "gd_final_log10_loss": float(h["log10_loss"][-1]),
        "gd_distance": float(np.linalg.norm(gd_beta - beta)) / nb,
        "gf_distance": float(np.linalg.norm(gf.predictor - beta)) / nb,
        "statement": "beta = argmin_{X beta = y} D_psi_{alpha_inf}(beta, beta_tilde_inf) (Even et al. 2023); "
        "alpha_inf and beta_tilde_inf from GD's gains",
    }
    return Prediction(
        kind="finite_step",
        task="regression",
        predictor=beta,
        status=status,
        message=f"{msg}; GD {res.message}",
        certificate=cert,
        dual=nu,
        depth=2,
        model=model.config() | {"lr": float(lr), "steps": steps},
        data=data,
        potential=pot,
        seconds=time.perf_counter() - t0,
    )
