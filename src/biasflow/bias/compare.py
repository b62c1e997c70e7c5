"""How far a trajectory is from a prediction: one flat row of floats per checkpoint (THEORY.md §7).

Flow and theory are compared by *gaps*, KKT residuals and the non-support dual fraction, not by argmin
distances (LP optima need not be unique; distances are reported only for strictly convex predictions:
Q_μ, interpolants, finite-step interpolants). The CLI, sweeps and reports use :func:`compare`; its
columns are documented in :data:`COLUMNS`. A column that does not apply to a checkpoint (e.g. ``rho_nsv``
for regression) is NaN, by design, and listed as such in :data:`COLUMNS`.

>>> from biasflow.data import gaussian
>>> from biasflow.models import Diagonal
>>> from biasflow.bias.predict import predict
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> pred = predict(Diagonal(d=30, depth=2, alpha=1.0), ds, at_loss="1e-10")
>>> row = compare_predictor(pred.predictor * pred.gamma, pred)      # the prediction itself
>>> row["dist_pred"] < 1e-12, row["rho_nsv"] < 1e-9, row["gap_l1"] > 0
(True, True, True)
"""

from __future__ import annotations

import math

import numpy as np

from ..data import Dataset
from ..display import Rows
from ..errors import BiasflowError
from .kkt import kkt_residual
from .margins import normalized_margin

COLUMNS: dict[str, str] = {
    "log10_loss": "log10 of the training loss at the checkpoint",
    "log10_time": "log10 of the gradient-flow time",
    "support_size": "#{j : |β_j| > support_tol·max|β|}",
    "support_precision": "fraction of β's support inside the prediction's support (same relative threshold)",
    "support_recall": "fraction of the prediction's support inside β's support",
    "test_error": "held-out error: 0/1 error (classification) or mean squared error (regression); "
    "NaN without test data",
    "dist_pred": "‖β̃ − β̃_pred‖/‖β̃_pred‖ (β̃ = β/γ for classification); NaN unless the prediction is "
    "strictly convex (Q_μ, interpolants)",
    # classification
    "gamma": "minimum margin min_i y_i x_iᵀβ (classification)",
    "gamma_l1": "normalized ℓ1 margin γ/‖β‖₁",
    "gamma_l2": "normalized ℓ2 margin γ/‖β‖₂",
    "gamma_l2D": "normalized ℓ_{2/D} margin γ/‖β‖_{2/D} (D = model depth)",
    "gap_l1": "1 − γ₁(β)/γ₁* (ℓ1 max-margin, certified LP)",
    "gap_l2": "1 − γ₂(β)/γ₂* (ℓ2 max-margin)",
    "gap_l2D": "1 − γ_{2/D}(β)/γ_{2/D}^best (best-effort optimum for D ≥ 3: can be negative)",
    "kkt_l2D": "ℓ_{2/D} KKT residual (THEORY.md §4.5), relative support/active thresholds",
    "kkt_l1_offsupport": "D = 2: max_{j∉S}|X̃_Aᵀλ|_j − 1 (≤ 0 at the ℓ1 optimum); NaN for D ≥ 3",
    "rho_nsv": "non-support dual fraction Σ_{m̃_i>1+active_tol} λ_i/Σλ_i, λ the flow's dual (0 iff β̃ solves "
    "its Q_μ problem)",
    "rho_nsv_pred": "flow dual mass outside the prediction's support vectors (Q_μ: λ_pred,i = 0; ℓ1/ℓ2 "
    "limit: the LP/QP dual's support) / total: robust to margins that approach 1 slowly; NaN "
    "for predictions without support vectors",
    "log10_mu": "log10(α^D/γ), the Q_μ parameter of the checkpoint (tied diagonal, uniform α; else NaN)",
    # regression
    "residual": "‖Xβ − y‖/max(1, ‖y‖) (regression)",
    "l1_ratio": "‖β‖₁/‖β_{ℓ1}‖₁ with β_{ℓ1} the min-ℓ1 interpolant",
    "dist_l2": "‖β − X⁺y‖/‖X⁺y‖ (distance to the min-ℓ2 interpolant)",
    "kkt_q": "‖(I − P_X)∇Q(β)‖/‖∇Q(β)‖ for the model's Q-potential",
}
"""Column name → meaning of every metric :func:`compare` returns."""


def _support(beta, tol):
    a = np.abs(np.asarray(beta, float))
    m = float(a.max()) if a.size else 0.0
    return set(np.flatnonzero(a > tol * m).tolist()) if m > 0 else set()


def _prediction_support_vectors(pred):
    """Indices of the prediction's support vectors (None when it has no dual)."""
    if pred.kind == "q_mu" and pred.dual is not None:
        lam = np.asarray(pred.dual, float)
        return np.flatnonzero(lam > 1e-9 * max(float(lam.max()), 1e-300))
    if pred.kind in ("l1", "l2") and pred.kind in pred.references:
        return pred.references[pred.kind].support
    return None


def flow_dual(beta, pred, data: Dataset) -> np.ndarray | None:
    """The flow's dual λ with β = Φ'(X̃ᵀλ), recovered from β by least squares (None without a potential)."""
    pot = pred.potential
    if pot is None:
        return None
    z = pot.inverse(np.asarray(beta, float))
    if not np.all(np.isfinite(z)):
        return None
    return np.linalg.lstsq(data.A.T, z, rcond=None)[0]


def compare_predictor(
    beta,
    prediction,
    *,
    data: Dataset | None = None,
    test: Dataset | None = None,
    support_tol: float = 1e-3,
    active_tol: float = 1e-3,
    nu=None,
) -> dict:
    """The metrics of :data:`COLUMNS` for one predictor β against ``prediction`` (a flat dict of floats).

    Args:
        beta: the predictor (any scale for classification).
        prediction: a :class:`~biasflow.bias.predict.Prediction` (it carries the training data).
        data: training data (defaults to the prediction's).
        test: held-out data for ``test_error``.
        support_tol, active_tol: relative thresholds for supports and active (margin ≤ 1 + tol) points.
        nu: the flow's dual variable if known (else it is recovered from β through the model potential).
    """
    ds = data if data is not None else prediction.data
    if ds is None:
        raise BiasflowError("compare needs the training data: pass data= or use a prediction from predict()")
    b = np.asarray(beta, dtype=float)
    if b.shape != (ds.d,):
        raise BiasflowError(f"predictor has shape {b.shape} but the data have d = {ds.d} features")
    row = {k: math.nan for k in ("log10_loss", "log10_time", *COLUMNS)}
    for k in ("log10_loss", "log10_time"):
        row.pop(k)
    ps = _support(prediction.predictor, support_tol)
    s = _support(b, support_tol)
    row["support_size"] = float(len(s))
    row["support_precision"] = len(s & ps) / len(s) if s else math.nan
    row["support_recall"] = len(s & ps) / len(ps) if ps else math.nan
    D = max(1, int(prediction.depth))
    if ds.task == "classification":
        m = ds.A @ b
        gam = float(m.min())
        row["gamma"] = gam
        if test is not None:
            row["test_error"] = float(np.mean(np.sign(test.X @ b) != test.y))
        if gam > 0:
            bt = b / gam
            row["gamma_l1"] = normalized_margin(b, ds, "l1")
            row["gamma_l2"] = normalized_margin(b, ds, "l2")
            row["gamma_l2D"] = normalized_margin(b, ds, 2.0 / D) if D >= 2 else row["gamma_l2"]
            row["gap_l1"] = 1.0 - row["gamma_l1"] / prediction.reference("l1").margin
            row["gap_l2"] = 1.0 - row["gamma_l2"] / prediction.reference("l2").margin
            if D >= 3:
                ref = prediction.reference("l2D")
                row["gap_l2D"] = 1.0 - row["gamma_l2D"] / ref.margin
            elif D == 2:
                row["gap_l2D"] = row["gap_l1"]
            if D >= 2:
                k = kkt_residual(b, ds, D, tol_active=active_tol, tol_support=support_tol)
                row["kkt_l2D"] = k.residual
                row["kkt_l1_offsupport"] = k.offsupport
            lam = np.asarray(nu, float) if nu is not None else flow_dual(b, prediction, ds)
            if lam is not None and np.sum(np.abs(lam)) > 0:
                lp = np.maximum(lam, 0.0)
                tot = float(lp.sum())
                if tot > 0:
                    row["rho_nsv"] = float(lp[m / gam > 1.0 + active_tol].sum()) / tot
                    sv = _prediction_support_vectors(prediction)
                    if sv is not None:
                        out = np.ones(ds.n, bool)
                        out[sv] = False
                        row["rho_nsv_pred"] = float(lp[out].sum()) / tot
            cfg = prediction.model
            alpha = cfg.get("alpha")
            tied_uniform = cfg.get("model") == "diagonal" and cfg.get("shape") is None
            if alpha and tied_uniform:
                row["log10_mu"] = D * math.log10(float(alpha)) - math.log10(gam)
            if prediction.strictly_convex and prediction.task == "classification":
                pb = np.asarray(prediction.predictor, float)
                row["dist_pred"] = float(np.linalg.norm(bt - pb) / np.linalg.norm(pb))
    else:
        yn = max(1.0, float(np.linalg.norm(ds.y)))
        row["residual"] = float(np.linalg.norm(ds.X @ b - ds.y)) / yn
        if test is not None:
            row["test_error"] = float(np.mean((test.X @ b - test.y) ** 2))
        l1 = prediction.reference("min_l1")
        row["l1_ratio"] = float(np.abs(b).sum() / np.abs(l1).sum())
        l2 = prediction.reference("min_l2")
        row["dist_l2"] = float(np.linalg.norm(b - l2) / np.linalg.norm(l2))
        if prediction.potential is not None:
            from .interpolate import stationarity

            g = prediction.potential.inverse(b)
            if np.all(np.isfinite(g)):
                row["kkt_q"] = stationarity(ds.X, g)
        if prediction.strictly_convex:
            pb = np.asarray(prediction.predictor, float)
            row["dist_pred"] = float(np.linalg.norm(b - pb) / max(np.linalg.norm(pb), 1e-300))
    return row


def compare(
    trajectory,
    prediction,
    *,
    data: Dataset | None = None,
    test: Dataset | None = None,
    support_tol: float = 1e-3,
    active_tol: float = 1e-3,
) -> list[dict]:
    """Per-checkpoint metrics of a :class:`~biasflow.trajectory.Trajectory` against a prediction.

    Returns one flat ``dict[str, float]`` per checkpoint with the keys of :data:`COLUMNS` (NaN where a
    column does not apply). When a checkpoint carries the flow's dual (``extra["nu"]``, exact dual flows),
    ρ_nsv uses it; otherwise the dual is recovered from β through the model's potential.

    For a Q_μ prediction made at one loss level, ``dist_pred`` is meaningful at that level; to follow the
    Q_μ path along a trajectory, predict at each checkpoint's level (see :func:`compare_path`).
    """
    rows = []
    for c in getattr(trajectory, "checkpoints", trajectory):
        nu = (c.extra or {}).get("nu") if hasattr(c, "extra") else None
        row = compare_predictor(
            c.predictor,
            prediction,
            data=data,
            test=test,
            support_tol=support_tol,
            active_tol=active_tol,
            nu=nu,
        )
        row = {"log10_loss": float(c.log10_loss), "log10_time": float(c.log10_time)} | row
        rows.append(row)
    return Rows(rows)


def compare_path(
    trajectory,
    model,
    data: Dataset,
    *,
    loss: str = "exp",
    test: Dataset | None = None,
    support_tol: float = 1e-3,
    active_tol: float = 1e-3,
) -> list[dict]:
    """Like :func:`compare`, with a fresh Q_μ prediction at every checkpoint's own loss level.

    ``dist_pred`` is then the distance from the flow's β̃ to the Q_μ solution at the same loss: the test of
    Moroshko et al.'s description (0 iff ρ_nsv = 0).
    """
    from .predict import predict_at_loss

    rows = []
    shared: dict = {}
    for c in trajectory.checkpoints:
        p = predict_at_loss(model, data, float(c.log10_loss), loss=loss)
        p.references = shared  # the l1/l2/l2D optima are solved once for the whole path
        nu = (c.extra or {}).get("nu")
        row = compare_predictor(
            c.predictor, p, data=data, test=test, support_tol=support_tol, active_tol=active_tol, nu=nu
        )
        rows.append({"log10_loss": float(c.log10_loss), "log10_time": float(c.log10_time)} | row)
    return Rows(rows)
