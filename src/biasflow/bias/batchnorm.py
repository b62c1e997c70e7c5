"""Predicted implicit bias of batch-normalized linear models and linear CNNs (Cao, Zou, Li, Gu 2023).

Gradient descent on the BN model of :mod:`biasflow.models.batchnorm` converges to the **uniform-margin**
classifier: all normalized margins m̃_i = y_i⟨w, x_i⟩/‖w‖_Σ equal (at rate exp(−Ω(log² t)) in Cao et al.
2023), whereas plain gradient descent goes to the max-margin classifier at rate O(1/log t). Two facts fix the
limit of w itself, not only its direction in row(X):

- the component of w in null(X) is frozen (every gradient lies in row(X) = range(Σ));
- ‖w‖₂ is conserved by gradient flow.

So under gradient flow w(t) → P_null w(0) + ‖P_row w(0)‖·X⁺y/‖X⁺y‖ (:func:`uniform_margin`), and
predictions off the training data depend on the initialization. With P patches the bias is toward
**patch-wise** uniform margins y_i⟨w, x_i^{(p)}⟩ all equal (:func:`patch_uniform_margin`; it needs the nP
patch vectors to be linearly independent, so nP ≤ d/P).

Diagnostics (columns of results tables): :func:`margin_spread` (max/min − 1 of the margins, 0 iff uniform),
:func:`norm_drift` (‖w‖₂/‖w(0)‖₂ − 1) and γ.
"""

from __future__ import annotations

import numpy as np

from ..errors import BiasflowError


def _patch_matrix(X, y, patches: int) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    if patches < 1 or d % patches:
        raise BiasflowError(f"--patches {patches} does not divide d = {d}; choose a divisor of {d}")
    y = np.asarray(y, dtype=float)
    return (y[:, None, None] * X.reshape(n, patches, d // patches)).reshape(n * patches, d // patches)


def uniform_margin(data, w0=None, *, patches: int = 1, norm: float | None = None) -> np.ndarray:
    """The uniform-margin limit of w: Z⁺1 scaled to the conserved norm, plus the frozen P_null w(0).

    Z has rows y_i x_i^{(p)} (one per example and patch; Z⁺1 = X⁺y for P = 1). With ``w0`` the result is
    P_null w0 + c·Z⁺1/‖Z⁺1‖ with c = (norm² − ‖P_null w0‖²)^{1/2} and ``norm`` = ‖w0‖ by default (the
    gradient-flow limit); without ``w0`` it is Z⁺1 (the minimum-norm uniform-margin filter, margins 1).

    >>> from biasflow.data import make_dataset
    >>> ds = make_dataset(np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), np.array([1.0, -1.0]))
    >>> [float(v) for v in uniform_margin(ds)]
    [1.0, -0.5, 0.0]
    >>> [round(float(v), 6) for v in uniform_margin(ds, w0=np.array([0.0, 0.0, 3.0]) + 1.0)]  # null part kept
    [1.264911, -0.632456, 4.0]
    """
    Z = _patch_matrix(data.X, data.y, patches)
    u = np.linalg.lstsq(Z, np.ones(Z.shape[0]), rcond=None)[0]
    if np.max(np.abs(Z @ u - 1.0)) > 1e-8:
        raise BiasflowError(
            f"no filter has uniform margins: the {Z.shape[0]} (example, patch) vectors of length {Z.shape[1]} "
            "are linearly dependent (uniform margins need n·P ≤ d/P and independent patches)"
        )
    if w0 is None:
        return u
    w0 = np.asarray(w0, dtype=float)
    null = w0 - np.linalg.lstsq(Z, Z @ w0, rcond=None)[0]
    total = float(np.linalg.norm(w0)) if norm is None else float(norm)
    c2 = total**2 - float(null @ null)
    if c2 <= 0:
        raise BiasflowError("the row-space part of w has no norm left: the uniform-margin limit is undefined")
    return null + np.sqrt(c2) * u / np.linalg.norm(u)


def patch_uniform_margin(data, patches: int, w0=None, *, norm: float | None = None) -> np.ndarray:
    """:func:`uniform_margin` for P patches (the patch-wise uniform-margin filter of length d/P)."""
    return uniform_margin(data, w0, patches=patches, norm=norm)


def margins(w, data, patches: int = 1) -> np.ndarray:
    """Margins y_i Σ_p ⟨w, x_i^{(p)}⟩ of a filter w (P = 1: y_i⟨w, x_i⟩)."""
    Z = _patch_matrix(data.X, data.y, patches)
    return (Z @ np.asarray(w, dtype=float)).reshape(data.n, patches).sum(axis=1)


def patch_margins(w, data, patches: int) -> np.ndarray:
    """The n × P matrix of patch margins y_i⟨w, x_i^{(p)}⟩."""
    Z = _patch_matrix(data.X, data.y, patches)
    return (Z @ np.asarray(w, dtype=float)).reshape(data.n, patches)


def margin_spread(m, sign: float = 1.0) -> float:
    """max/min − 1 of the margins sign·m (0 iff all equal); +inf when the smallest is ≤ 0 (not separating).

    ``sign`` = sign(γ): GD may take the (γ, w) → (−γ, −w) branch, which flips every margin of w.

    >>> margin_spread([1.0, 2.0, 1.5])
    1.0
    """
    m = float(np.sign(sign) or 1.0) * np.asarray(m, dtype=float)
    lo = float(m.min())
    return float(m.max() / lo - 1.0) if lo > 0 else float("inf")


def norm_drift(w, w0) -> float:
    """‖w‖₂/‖w(0)‖₂ − 1 (0 under gradient flow; O(η²) per step under GD)."""
    return float(np.linalg.norm(np.asarray(w, float)) / np.linalg.norm(np.asarray(w0, float)) - 1.0)


def null_drift(w, w0, data, patches: int = 1) -> float:
    """‖P_null(w − w(0))‖/‖w(0)‖: the frozen null-space component's change (0 for GF and GD)."""
    Z = _patch_matrix(data.X, data.y, patches)
    dw = np.asarray(w, float) - np.asarray(w0, float)
    null = dw - np.linalg.lstsq(Z, Z @ dw, rcond=None)[0]
    return float(np.linalg.norm(null) / np.linalg.norm(np.asarray(w0, float)))




COLUMNS: dict[str, tuple[str, str]] = {
    "margin_spread": ("max_i m_i/min_i m_i − 1 of the margins sign(γ)·y_i⟨w, x_i⟩ (+inf when one is ≤ 0)",
                      "dimensionless, ≥ 0; 0 iff all margins are equal (the uniform-margin classifier)"),
    "patch_spread": ("the same over the n·P patch margins sign(γ)·y_i⟨w, x_i^{(p)}⟩ (BN CNN)",
                     "dimensionless, ≥ 0; 0 iff patch-wise uniform"),
    "w_norm_drift": ("‖w‖₂/‖w(0)‖₂ − 1 of the BN filter", "dimensionless; 0 under gradient flow"),
    "bn_gamma": ("the BN scale γ", "dimensionless; grows like log t"),
}
"""Column name → (definition, unit) of the batch-normalization columns (Cao et al. 2023)."""


def bn_columns(params, params0, data, patches: int = 1) -> dict:
    """The :data:`COLUMNS` for BN parameters (w, γ, …) against the initial ones."""
    w, g = np.asarray(params[0], float), float(np.asarray(params[1]))
    sign = 1.0 if g >= 0 else -1.0
    return {"margin_spread": margin_spread(margins(w, data, patches), sign),
            "patch_spread": margin_spread(patch_margins(w, data, patches).ravel(), sign),
            "w_norm_drift": norm_drift(w, params0[0]), "bn_gamma": g}



def predict_uniform(model, data):
    """The predicted bias of a batch-normalized model (capability ``uniform_margin_patches``), as a
    :class:`~biasflow.bias.prediction.Prediction` of kind ``uniform``: the gradient-flow limit
    w∞ = P_null w(0) + ‖P_row w(0)‖·Z⁺1/‖Z⁺1‖ of :func:`uniform_margin` from the model's initialization
    (``jax.random.PRNGKey(model.seed)``, as :func:`~biasflow.dynamics.flow.flow` with that seed), as the
    effective predictor β̃ = (w∞, …, w∞) scaled to minimum margin 1."""
    import time

    import jax

    from .prediction import Prediction

    t0 = time.perf_counter()
    P = int(model.uniform_margin_patches)
    w0 = np.asarray(model.init(jax.random.PRNGKey(int(getattr(model, "seed", 0))))[0], float)
    w = uniform_margin(data, w0, patches=P)
    beta = np.tile(w, P)
    m = data.A @ beta
    beta = beta / float(m.min())
    spread = margin_spread(data.A @ beta)
    return Prediction(kind="uniform", task="classification", predictor=beta, status="ok",
                      message=(f"{'patch-wise ' if P > 1 else ''}uniform-margin classifier with the frozen "
                               f"null-space part of w(0) (margin spread {spread:.1e})"),
                      certificate={"margin_spread": spread, "patches": P,
                                   "null_norm": float(np.linalg.norm(w - np.linalg.lstsq(
                                       _patch_matrix(data.X, data.y, P),
                                       _patch_matrix(data.X, data.y, P) @ w, rcond=None)[0]))},
                      depth=int(getattr(model, "degree", 1)), model=model.config(), data=data,
                      seconds=time.perf_counter() - t0)



# ------------------------------------------------------------------ per-checkpoint metrics (biasflow.metrics)
def _limit_uniform(p):
    from ..metrics import Undefined

    lim = p.limit
    if lim is None or getattr(lim, "kind", None) != "uniform":
        raise Undefined("needs the uniform-margin prediction of a batch-normalized model")
    return int(lim.certificate.get("patches", 1))


def metric_margin_spread(p) -> float:
    """max/min − 1 of the margins of β (β = γ(w, …, w)/‖w‖_Σ carries the sign of γ)."""
    _limit_uniform(p)
    return margin_spread(p.margins)


def metric_patch_spread(p) -> float:
    """max/min − 1 of the n·P patch margins of the first block of β (γw/‖w‖_Σ)."""
    P = _limit_uniform(p)
    b = np.asarray(p.beta, float)[: p.data.d // P]
    return margin_spread(patch_margins(b, p.data, P).ravel())


def metric_bn_gamma(p) -> float:
    """|γ| = ‖γw/‖w‖_Σ‖_Σ, recovered from β and the training patches."""
    P = _limit_uniform(p)
    k = p.data.d // P
    b = np.asarray(p.beta, float)[:k]
    Xp = np.asarray(p.data.X, float).reshape(p.data.n * P, k)
    return float(np.sqrt(np.mean((Xp @ b) ** 2)))


def metric_w_norm(p) -> float:
    """‖w‖₂ of the BN filter (constant along gradient flow)."""
    from ..metrics import Undefined

    _limit_uniform(p)
    params = getattr(p, "params", None)
    if params is None:
        raise Undefined("the record carries no parameters")
    return float(np.linalg.norm(np.asarray(params[0], float)))


__all__ = [
    "COLUMNS",
    "bn_columns",
    "margin_spread",
    "margins",
    "metric_bn_gamma",
    "metric_margin_spread",
    "metric_patch_spread",
    "metric_w_norm",
    "norm_drift",
    "null_drift",
    "patch_margins",
    "patch_uniform_margin",
    "predict_uniform",
    "uniform_margin",
]
