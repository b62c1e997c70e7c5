"""The metrics registry: every column biasflow stores or prints, defined once.

Each :class:`Metric` has a name, a one-line definition (the formula), a unit or range, the source of the
definition, and (for the per-checkpoint metrics) the ONE function that computes it. :func:`compare
<biasflow.bias.compare.compare>`, ``predict --trajectory``, the sweep store, ``descent`` records and the
report all evaluate metrics through :func:`evaluate`, so equal names mean equal numbers on every path.

A metric that cannot be computed for a checkpoint (e.g. ``gap_l1`` on regression data, ``rho_nsv``
without a dual potential) is ``None`` and its reason is recorded in the row's ``reasons`` column, a
``{name: reason}`` mapping (JSON text in the store). No failure is dropped silently.

Comparisons follow the rule "gaps, not argmin distances" (LP optima need not be unique): the
normalized-margin gap 1 − γ_p(β)/γ_p*, the objective gap, KKT residuals and the non-support dual
fraction (Moroshko et al. 2020; Gunasekar et al. 2018; Woodworth et al. 2020).

>>> print(describe("gap_l1"))
gap_l1: 1 − γ₁(β)/γ₁*, γ₁(β) = min_i y_i x_iᵀβ / ‖β‖₁ and γ₁* the ℓ1 max-margin (certified LP)
  unit: dimensionless, ≤ 1; 0 at the ℓ1 max-margin direction
  source: Gunasekar et al. 2018; normalized-margin gap
>>> describe("suport_size")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
biasflow.errors.BiasflowError: unknown column 'suport_size'; did you mean support_size...
"""  # noqa: E501

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .data import fingerprint
from .errors import BiasflowError


class Undefined(Exception):
    """Raised by a metric's compute function when the metric does not apply; the message is the reason."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """One column: its name, a one-line formula, its unit or range, where the definition comes from, and
    (per-checkpoint metrics) the function ``compute(point) -> float | int`` (raises :class:`Undefined`)."""

    name: str
    definition: str
    unit: str
    source: str
    compute: Callable[[Point], Any] | None = None


METRICS: dict[str, Metric] = {}
"""Name → :class:`Metric`: every column biasflow stores or prints."""


def register(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS` (a name is defined once: re-registering a different metric raises)."""
    old = METRICS.get(metric.name)
    if old is not None and old != metric:
        raise BiasflowError(f"metric {metric.name!r} is already registered with another definition")
    METRICS[metric.name] = metric
    return metric


RENAMED: dict[str, str] = {
    "support": "support_size",
}
"""Old column names → their registry names (for messages; old stores keep their columns)."""


def describe(name: str) -> str:
    """The registry text of column ``name``: definition, unit, source."""
    m = METRICS.get(name)
    if m is None and name in RENAMED:
        raise BiasflowError(
            f"column {name!r} is now called {RENAMED[name]!r}; see biasflow results --describe {RENAMED[name]}"
        )
    if m is None:
        close = difflib.get_close_matches(name, list(METRICS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise BiasflowError(
            f"unknown column {name!r}; {hint}(biasflow results --describe NAME; "
            "all names: biasflow.metrics.METRICS)"
        )
    return f"{m.name}: {m.definition}\n  unit: {m.unit}\n  source: {m.source}"


# ----------------------------------------------------------------------------------------- data identity
# ------------------------------------------------------------------------------- references (cached)
_DATA: dict[str, Any] = {}


def reference(data, name: str, depth: int = 2):
    """A reference optimum on ``data``, solved once per data set (keyed by :func:`fingerprint`):
    ``l1``/``l2`` max-margin (:class:`~biasflow.bias.margins.MarginResult`; ℓ2 by NNLS), ``l2D`` the
    best-effort ℓ_{2/D} max-margin, ``min_l1``/``min_l2`` interpolants (arrays). Raises
    :class:`Undefined` when the problem has no solution (e.g. non-separable data)."""
    key = fingerprint(data)["sha256"]
    if len(_DATA) > 64:
        _DATA.clear()
        _reference.cache_clear()
    _DATA[key] = data
    return _reference(key, name, int(depth) if name == "l2D" else 0)


@functools.lru_cache(maxsize=256)
def _reference(key: str, name: str, depth: int):
    ds = _DATA[key]
    try:
        if name in ("l1", "l2"):
            from .bias.margins import max_margin

            return max_margin(ds, name, solver="nnls" if name == "l2" else "auto")
        if name == "l2D":
            from .bias.kkt import lp_max_margin_best_effort

            return lp_max_margin_best_effort(ds, max(2, depth))
        if name in ("min_l1", "min_l2"):
            from .bias.interpolate import min_l1_interpolant, min_l2_interpolant

            return np.asarray((min_l1_interpolant if name == "min_l1" else min_l2_interpolant)(ds), float)
    except BiasflowError as e:
        return Undefined(f"no {name} reference: {e}")
    raise BiasflowError(f"unknown reference {name!r}")


def _ref(p: Point, name: str):
    r = reference(p.data, name, _degree(p) if name == "l2D" else 2)
    if isinstance(r, Undefined):
        raise r
    return r


# ------------------------------------------------------------------------------------------- the point
@dataclasses.dataclass
class Point:
    """Everything a per-checkpoint metric may read.

    Attributes:
        beta: the predictor β at the checkpoint (any scale for classification).
        data: the training data; test: held-out data (``test_error``).
        log10_loss, log10_time: the level and log10 of the flow time (GD: t = Σ_k η_k).
        step: the GD step (descent records), else None.
        depth: the model's degree D (None for a model that is not linear); model: the model's config
            (``model``, ``alpha``, ``shape``, ...).
        limit: the model's limit prediction (ℒ → 0 or the interpolant) or None.
        qmu: the Q_μ prediction at this checkpoint's own loss level, or None.
        potential: the model's dual potential (recovers the flow's dual from β), or None.
        nu: the flow's dual ν if the dynamics carry it (exact dual flows), else None.
        teacher: the generating teacher vector when known.
        support_tol, active_tol: relative thresholds for supports and active points.
        mu_scale: log10 α^D, the scale of μ = α^D/γ (the model's ``log10_mu_scale``), or None.
        params: the model parameters at the checkpoint when the record has them, else None.
    """

    beta: np.ndarray
    data: Any
    log10_loss: float | None = None
    log10_time: float | None = None
    step: int | None = None
    depth: int | None = 2
    model: dict = dataclasses.field(default_factory=dict)
    limit: Any = None
    qmu: Any = None
    potential: Any = None
    nu: Any = None
    teacher: Any = None
    test: Any = None
    support_tol: float = 1e-3
    active_tol: float = 1e-3
    mu_scale: float | None = None
    params: Any = None

    @functools.cached_property
    def margins(self) -> np.ndarray:
        self._need("classification")
        return self.data.A @ self.beta

    @property
    def gamma(self) -> float:
        return float(np.min(self.margins))

    def _need(self, task: str) -> None:
        if self.data.task != task:
            raise Undefined(f"{task} only (the data are for {self.data.task})")

    def separating(self) -> float:
        g = self.gamma
        if not g > 0:
            raise Undefined(f"β does not separate the data (min margin {g:.3g} ≤ 0)")
        return g


def evaluate(point: Point, names) -> tuple[dict, dict]:
    """Compute the metrics ``names`` at ``point``: ``(values, reasons)``, with ``None`` values for the
    metrics that do not apply and their reasons (an unexpected error is a reason too, never dropped)."""
    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for name in names:
        m = METRICS[name]
        if m.compute is None:
            raise BiasflowError(f"metric {name!r} is not computed per checkpoint")
        try:
            v = m.compute(point)
        except Undefined as e:
            v, reasons[name] = None, str(e)
        except (BiasflowError, ArithmeticError, np.linalg.LinAlgError, ValueError) as e:
            v, reasons[name] = None, f"{type(e).__name__}: {e}"
        if isinstance(v, float) and (math.isnan(v) or v == math.inf):
            reasons[name] = f"not finite ({v})"
            v = None
        out[name] = v
    return out, reasons


# --------------------------------------------------------------------------------------- the functions
def _support(beta, tol) -> set:
    a = np.abs(np.asarray(beta, float))
    m = float(a.max()) if a.size else 0.0
    return set(np.flatnonzero(a > tol * m).tolist()) if m > 0 else set()


def _pred(p: Point, which: str):
    pred = p.limit if which == "limit" else p.qmu
    if pred is None:
        raise Undefined("no limit prediction" if which == "limit" else "no Q_μ prediction at this level")
    if getattr(pred, "status", "ok") != "ok":
        raise Undefined(f"the {which} prediction has status {pred.status}")
    return pred


def _support_size(p: Point) -> int:
    return len(_support(p.beta, p.support_tol))


def _support_overlap(which, over: str):
    """|S(β) ∩ S(β̂)| divided by |S(β)| (``over="flow"``: precision) or |S(β̂)| (``"prediction"``: recall)."""
    def f(p: Point) -> float:
        s, ps = _support(p.beta, p.support_tol), _support(_pred(p, which).predictor, p.support_tol)
        denom = s if over == "flow" else ps
        if not denom:
            raise Undefined("β = 0 has no support" if over == "flow" else "the prediction has an empty support")
        return len(s & ps) / len(denom)

    return f


def _precision(which):
    return _support_overlap(which, "flow")


def _recall(which):
    return _support_overlap(which, "prediction")


def _dist(which):
    def f(p: Point) -> float:
        pred = _pred(p, which)
        if not pred.strictly_convex:
            raise Undefined(f"the {pred.kind} prediction need not be unique (an LP): compare by gaps")
        pb = np.asarray(pred.predictor, float)
        if p.data.task == "classification":
            b = p.beta / p.separating()
        else:
            b = p.beta
        return float(np.linalg.norm(b - pb) / max(np.linalg.norm(pb), 1e-300))

    return f


def _flow_dual(p: Point) -> np.ndarray:
    if p.nu is not None:
        return np.asarray(p.nu, float)
    if p.potential is None:
        raise Undefined("no dual potential for this model: the flow's dual is unknown")
    z = p.potential.inverse(np.asarray(p.beta, float))
    if not np.all(np.isfinite(z)):
        raise Undefined("β lies outside the range of the model's potential")
    return np.linalg.lstsq(p.data.A.T, z, rcond=None)[0]


def _dual_mass(p: Point) -> tuple[np.ndarray, float]:
    p.separating()
    lp = np.maximum(_flow_dual(p), 0.0)
    tot = float(lp.sum())
    if not tot > 0:
        raise Undefined("the flow's dual has no positive mass")
    return lp, tot


def _rho_nsv(p: Point) -> float:
    lp, tot = _dual_mass(p)
    return float(lp[p.margins / p.gamma > 1.0 + p.active_tol].sum()) / tot


def _support_vectors(pred, p: Point) -> np.ndarray:
    if pred.kind == "q_mu" and pred.dual is not None:
        lam = np.asarray(pred.dual, float)
        return np.flatnonzero(lam > 1e-9 * max(float(lam.max()), 1e-300))
    if pred.kind in ("l1", "l2"):
        return np.asarray(_ref(p, pred.kind).support)
    raise Undefined(f"the {pred.kind} prediction has no support vectors")


def _rho_nsv_against(which):
    def f(p: Point) -> float:
        pred = _pred(p, which)
        p._need("classification")
        sv = _support_vectors(pred, p)
        lp, tot = _dual_mass(p)
        out = np.ones(p.data.n, bool)
        out[sv] = False
        return float(lp[out].sum()) / tot

    return f


def _norm_p(beta, p: float) -> float:
    if p == 1.0:
        return float(np.abs(beta).sum())
    if p == 2.0:
        return float(np.linalg.norm(beta))
    a = np.abs(np.asarray(beta, float))
    m = float(a.max()) if a.size else 0.0
    return float(np.sum((a / m) ** p) ** (1.0 / p) * m) if m > 0 else 0.0


def _gamma_p(p_exp):
    def f(p: Point) -> float:
        n = _norm_p(p.beta, p_exp(p))
        if not n > 0:
            raise Undefined("β = 0 has no normalized margin")
        return p.gamma / n

    return f


def _gap(norm):
    def f(p: Point) -> float:
        g = _gamma_p(lambda _p: 1.0 if norm == "l1" else 2.0)(p)
        return 1.0 - g / float(_ref(p, norm).margin)

    return f


def _degree(p: Point) -> int:
    """The model's degree D; Undefined for a model that is not linear (it has none)."""
    if p.depth is None:
        raise Undefined("the model is not linear: it has no degree D")
    return int(p.depth)


def _gap_l2D(p: Point) -> float:
    D = _degree(p)
    if D == 2:
        return _gap("l1")(p)
    if D < 2:
        raise Undefined("depth 1: ℓ_{2/D} is ℓ2 (see gap_l2)")
    g = _gamma_p(lambda _p: 2.0 / D)(p)
    return 1.0 - g / float(_ref(p, "l2D").margin)


def _kkt(p: Point):
    from .bias.kkt import kkt_residual

    p.separating()
    if _degree(p) < 2:
        raise Undefined("depth 1 has no ℓ_{2/D} KKT problem")
    return kkt_residual(p.beta, p.data, p.depth, tol_active=p.active_tol, tol_support=p.support_tol)


def _kkt_offsupport(p: Point) -> float:
    if _degree(p) != 2:
        raise Undefined("defined for D = 2 (the ℓ1 problem) only")
    return float(_kkt(p).offsupport)


def _log10_mu(p: Point) -> float:
    if p.mu_scale is None:
        raise Undefined("μ = α^D/γ is defined for the tied diagonal network with uniform α")
    return p.mu_scale - math.log10(p.separating())


def _test_error(p: Point) -> float:
    if p.test is None:
        raise Undefined("no held-out data")
    t = p.test
    if p.data.task == "classification":
        return float(np.mean(np.sign(t.X @ p.beta) != t.y))
    return float(np.mean((t.X @ p.beta - t.y) ** 2))


def _residual(p: Point) -> float:
    p._need("regression")
    return float(np.linalg.norm(p.data.X @ p.beta - p.data.y)) / max(1.0, float(np.linalg.norm(p.data.y)))


def _l1_ratio(p: Point) -> float:
    p._need("regression")
    return float(np.abs(p.beta).sum() / max(float(np.abs(_ref(p, "min_l1")).sum()), 1e-300))


def _dist_interp(name):
    def f(p: Point) -> float:
        p._need("regression")
        ref = _ref(p, name)
        return float(np.linalg.norm(p.beta - ref) / max(np.linalg.norm(ref), 1e-300))

    return f


def _kkt_q(p: Point) -> float:
    from .bias.interpolate import stationarity

    p._need("regression")
    if p.potential is None:
        raise Undefined("no Q-potential for this model")
    g = p.potential.inverse(p.beta)
    if not np.all(np.isfinite(g)):
        raise Undefined("β lies outside the range of the model's potential")
    return float(stationarity(p.data.X, g))


def _recovery(p: Point) -> float:
    p._need("regression")
    if p.teacher is None:
        raise Undefined("no known teacher (generated data only)")
    t = np.asarray(p.teacher, float)
    return float(np.linalg.norm(p.beta - t) / max(np.linalg.norm(t), 1e-300))


def _given(attr):
    def f(p: Point):
        v = getattr(p, attr)
        if v is None:
            raise Undefined(f"no {attr} for this record")
        return v

    return f


def _cls(fn):
    def f(p: Point):
        p._need("classification")
        return fn(p)

    return f


_SV = "Moroshko et al. 2020 (μ-representation; ρ_nsv = 0 iff β̃ solves Q_μ)"
_GAPS = "Gunasekar et al. 2018; normalized-margin gap"
_W = "Woodworth et al. 2020"
for _m in [
    # the record
    Metric("log10_loss", "log10 ℒ, the mean training loss at the checkpoint", "log10 of a loss", "definition",
           _given("log10_loss")),
    Metric("log10_time", "log10 t, the gradient-flow time (GD: t = Σ_k η_k)", "log10 of a time; −inf at t = 0",
           "definition", _given("log10_time")),
    Metric("step", "the gradient-descent step k of a descent record", "count", "definition", _given("step")),
    # any task
    Metric("support_size", "#{j : |β_j| > support_tol·max_j|β_j|} (support_tol = 1e-3)", "count, 0..d",
           "relative threshold (interior-point output is not bit-sparse)", _support_size),
    Metric("norm_l1", "‖β‖₁", "same unit as β", "definition", lambda p: float(np.abs(p.beta).sum())),
    Metric("norm_l2", "‖β‖₂", "same unit as β", "definition", lambda p: float(np.linalg.norm(p.beta))),
    Metric("support_precision", "|S(β) ∩ S(β_lim)|/|S(β)|, S the relative-threshold support, β_lim the limit "
           "prediction", "fraction in [0, 1]", "definition", _precision("limit")),
    Metric("support_recall", "|S(β) ∩ S(β_lim)|/|S(β_lim)| (β_lim the limit prediction)", "fraction in [0, 1]",
           "definition", _recall("limit")),
    Metric("support_precision_qmu", "|S(β) ∩ S(β_μ)|/|S(β)|, β_μ the Q_μ solution at the checkpoint's loss",
           "fraction in [0, 1]", _SV, _precision("qmu")),
    Metric("support_recall_qmu", "|S(β) ∩ S(β_μ)|/|S(β_μ)|, β_μ the Q_μ solution at the checkpoint's loss",
           "fraction in [0, 1]", _SV, _recall("qmu")),
    Metric("test_error", "held-out 0/1 error (classification) or mean squared error (regression)",
           "fraction in [0, 1] / squared unit of y", "definition", _test_error),
    Metric("dist_pred", "‖β̃ − β̃_lim‖/‖β̃_lim‖ (β̃ = β/γ for classification), strictly convex limits only",
           "relative distance ≥ 0", "docs/theory/certificates.md §7.3: distances only for unique optima",
           _dist("limit")),
    Metric("dist_qmu", "‖β/γ − β_μ‖/‖β_μ‖, β_μ the Q_μ solution at the checkpoint's loss", "relative distance ≥ 0",
           _SV, _dist("qmu")),
    # classification
    Metric("gamma", "γ = min_i y_i x_iᵀβ, the minimum margin of β", "unit of x·β", "definition",
           lambda p: p.gamma),
    Metric("gamma_l1", "γ₁ = γ/‖β‖₁", "margin per unit ℓ1 norm", _GAPS, _gamma_p(lambda p: 1.0)),
    Metric("gamma_l2", "γ₂ = γ/‖β‖₂", "margin per unit ℓ2 norm", _GAPS, _gamma_p(lambda p: 2.0)),
    Metric("gamma_l2D", "γ_{2/D} = γ/‖β‖_{2/D} (D the model degree)", "margin per unit ℓ_{2/D} quasi-norm", _GAPS,
           _gamma_p(lambda p: 2.0 / max(_degree(p), 1))),
    Metric("gap_l1", "1 − γ₁(β)/γ₁*, γ₁(β) = min_i y_i x_iᵀβ / ‖β‖₁ and γ₁* the ℓ1 max-margin (certified LP)",
           "dimensionless, ≤ 1; 0 at the ℓ1 max-margin direction", _GAPS, _cls(_gap("l1"))),
    Metric("gap_l2", "1 − γ₂(β)/γ₂*, γ₂* the ℓ2 max-margin (SVM, by NNLS on the dual)",
           "dimensionless, ≤ 1; 0 at the SVM direction", _GAPS, _cls(_gap("l2"))),
    Metric("gap_l2D", "1 − γ_{2/D}(β)/γ_{2/D}^best (D = 2: gap_l1; D ≥ 3: best-effort non-convex optimum)",
           "dimensionless, ≤ 1; can be < 0 for D ≥ 3", "Lyu & Li 2020; Yun et al. 2021", _cls(_gap_l2D)),
    Metric("kkt_l2D", "KKT residual of β for min ‖β‖_{2/D} s.t. X̃β ≥ 1 (relative active/support thresholds)",
           "dimensionless ≥ 0; 0 at a KKT point", "Lyu & Li 2020 (KKT form)",
           _cls(lambda p: float(_kkt(p).residual))),
    Metric("kkt_l1_offsupport", "D = 2: max_{j∉S}|X̃_Aᵀλ|_j − 1", "≤ 0 at the ℓ1 optimum", "LP optimality",
           _cls(_kkt_offsupport)),
    Metric("rho_nsv", "Σ_{m̃_i > 1+active_tol} λ_i / Σ_i λ_i, λ the flow's dual (ν, or recovered from β)",
           "fraction in [0, 1]; 0 iff β̃ solves its Q_μ problem", _SV, _cls(_rho_nsv)),
    Metric("rho_nsv_pred", "flow dual mass off the limit prediction's support vectors / total",
           "fraction in [0, 1]", _SV, _cls(_rho_nsv_against("limit"))),
    Metric("rho_nsv_qmu", "flow dual mass off the support vectors of the Q_μ solution at the checkpoint's loss "
           "/ total", "fraction in [0, 1]", _SV, _cls(_rho_nsv_against("qmu"))),
    Metric("log10_mu", "log10 μ, μ = α^D/γ (tied diagonal network, uniform α)", "log10 of a scale", _SV,
           _cls(_log10_mu)),
    # regression
    Metric("residual", "‖Xβ − y‖/max(1, ‖y‖)", "relative residual ≥ 0", "definition", _residual),
    Metric("l1_ratio", "‖β‖₁/‖β_ℓ1‖₁, β_ℓ1 the min-ℓ1 interpolant", "ratio; ≥ 1 for interpolants", _W, _l1_ratio),
    Metric("gap_obj_l1", "‖β‖₁/‖β_ℓ1‖₁ − 1 (objective gap to the min-ℓ1 interpolant)", "ratio − 1", _W,
           lambda p: _l1_ratio(p) - 1.0),
    Metric("dist_l1", "‖β − β_ℓ1‖/‖β_ℓ1‖ (min-ℓ1 interpolant, an LP: may be non-unique)", "relative distance",
           _W, _dist_interp("min_l1")),
    Metric("dist_l2", "‖β − X⁺y‖/‖X⁺y‖ (min-ℓ2 interpolant)", "relative distance", _W, _dist_interp("min_l2")),
    Metric("kkt_q", "‖(I − P_X)∇Q(β)‖/‖∇Q(β)‖ for the model's Q-potential", "dimensionless ≥ 0; 0 at min-Q",
           _W, _kkt_q),
    Metric("recovery_error", "‖β − β*‖/‖β*‖, β* the generating teacher", "relative distance", _W, _recovery),
]:
    register(_m)



def _lazy(module: str, function: str):
    """A compute function living in a bias module (imported on first use: no upward import here)."""
    def f(p: Point):
        import importlib

        return getattr(importlib.import_module(module), function)(p)

    return f


_LGDK = "Lawrence, Georgiev, Dienes, Kiani 2022"
_CZLG = "Cao, Zou, Li, Gu 2023"
KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    "group": ("gap_group", "gap_group_svm", "kkt_group", "block_rank"),
    "uniform": ("margin_spread", "patch_spread", "bn_gamma", "w_norm"),
}
"""Columns computed only against a limit prediction of that kind (a G-CNN's group bias, batch norm's
uniform margins)."""
for _m in [
    Metric("gap_group", "R_L(β̃)/R_L* − 1, R_L = Σ_ρ d_ρ‖β̂(ρ)‖_{S_{2/L}}^{2/L} over the irreps ρ of the group, β̃ = β/γ, "
           "R_2* the d_ρ-weighted nuclear-norm max-margin (Clarabel, certified); L = 2 only",
           "dimensionless ≥ 0; 0 at the group max-margin", _LGDK, _cls(_lazy("biasflow.bias.groups",
                                                                              "metric_gap_group"))),
    Metric("gap_group_svm", "R_2(β̃_SVM)/R_2* − 1 for the ℓ2 max-margin direction (where a fully connected net "
           "goes)", "dimensionless ≥ 0", _LGDK, _cls(_lazy("biasflow.bias.groups", "metric_gap_group_svm"))),
    Metric("kkt_group", "stationarity residual of min R_L s.t. X̃β ≥ 1 on the fixed-rank tangent spaces of the "
           "Fourier blocks (NNLS over the active set; relative thresholds 1e-2)",
           "dimensionless in [0, 1]; 0 at a first-order stationary point", _LGDK,
           _cls(_lazy("biasflow.bias.groups", "metric_kkt_group"))),
    Metric("block_rank", "Σ_ρ rank β̂(ρ), singular values above 1e-3 of the largest", "count", _LGDK,
           _lazy("biasflow.bias.groups", "metric_block_rank")),
    Metric("margin_spread", "max_i m_i/min_i m_i − 1 of the margins m = X̃β", "dimensionless ≥ 0; 0 iff all "
           "margins are equal (uniform margin)", _CZLG, _cls(_lazy("biasflow.bias.batchnorm",
                                                                   "metric_margin_spread"))),
    Metric("patch_spread", "max/min − 1 of the n·P patch margins y_i⟨b, x_i^(p)⟩, b the first patch block of β",
           "dimensionless ≥ 0; 0 iff patch-wise uniform", _CZLG,
           _cls(_lazy("biasflow.bias.batchnorm", "metric_patch_spread"))),
    Metric("bn_gamma", "|γ| of batch norm, = ‖b‖_Σ for the first patch block b of β", "dimensionless; grows "
           "like log t", _CZLG, _lazy("biasflow.bias.batchnorm", "metric_bn_gamma")),
    Metric("w_norm", "‖w‖₂ of the batch-normalized filter", "unit of w; constant along gradient flow", _CZLG,
           _lazy("biasflow.bias.batchnorm", "metric_w_norm")),
]:
    register(_m)

CHECKPOINT_METRICS: tuple[str, ...] = tuple(n for n in METRICS if not any(n in c for c in KIND_COLUMNS.values()))
"""Per-checkpoint metrics, in column order."""

LIMIT_COLUMNS = ("support_precision", "support_recall", "dist_pred", "rho_nsv_pred")
"""Columns against the limit prediction."""
QMU_COLUMNS = ("support_precision_qmu", "support_recall_qmu", "dist_qmu", "rho_nsv_qmu")
"""Columns against the Q_μ solution at the checkpoint's own loss level."""

# columns of results that are not per-checkpoint metrics (configuration, bookkeeping)
for _name, _def, _unit in [
    ("sweep", "name of the sweep", "text"),
    ("run_id", "content hash of a run's configuration (16 hex digits)", "text"),
    ("config_id", "hash of the sweep configuration (name, [run], [grid]) that stored the row; `sweep "
     "--resume` refuses another one unless --new-config", "12 hex digits"),
    ("data", "data set: a file, a built-in name or a generator call", "text"),
    ("data_seed", "seed of generated data", "integer"),
    ("data_sha256", "sha256 of X's and y's bytes with shapes and dtypes (biasflow.metrics.fingerprint)", "hex"),
    ("model", "model name", "text"),
    ("depth", "model depth D (diagonal) or number of layers", "integer"),
    ("width", "hidden width", "integer"),
    ("alpha", "initialization scale α", "> 0"),
    ("shape", "initialization shape: a number or a JSON list per coordinate", "number or JSON"),
    ("loss", "loss name", "exp | logistic | square"),
    ("method", "flow method", "auto | exact | autodiff"),
    ("seed", "seed of the model's random initialization", "integer"),
    ("group", "finite group of a G-CNN (e.g. dihedral:n=4); null: cyclic:n=d or a model without groups", "text"),
    ("gamma0", "initial batch-norm scale γ(0) (batchnorm model)", "non-zero number"),
    ("patches", "number of patches sharing the batch-normalized filter (batchnorm model)", "integer ≥ 1"),
    ("center", "batch norm re-centers with a trained shift (batchnorm model)", "boolean"),
    ("widths", "inner sizes h_1,…,h_{L−1} of a matrix factorization (matrix model); null: the default", "text"),
    ("until_log10", "log10 of the target loss level", "log10 of a loss"),
    ("checkpoint", "index of the checkpoint within its run", "integer ≥ 0"),
    ("status", "the run's status (biasflow.errors.Status)", "ok | target_unreachable | diverged | max_steps | "
     "invalid_input | inaccurate | failed"),
    ("message", "what happened, in words", "text"),
    ("seconds", "wall time of the run", "seconds"),
    ("predictor", "β at the checkpoint", "list of floats"),
    ("floor_log10", "log10 of the loss floor (non-separable data)", "log10 of a loss"),
    ("biasflow_version", "biasflow version that wrote the row", "text"),
    ("reasons", "why a metric of this row is null: JSON object {column: reason}", "JSON text"),
]:
    register(Metric(_name, _def, _unit, "bookkeeping"))


# wide shallow networks (functions as results; biasflow.bias.splines, biasflow.bias.mirror_bias)
for _name, _def, _unit, _src in [
    ("sup_to_prediction", "sup_x |f(x) − f_∞(x)| over the evaluation points, f_∞ = f₀ + the minimum-‖·‖_K "
     "interpolant of y − f₀(X) (the infinite-width prediction)", "unit of y", "Jin & Montúfar 2023"),
    ("sup_to_natural_spline", "sup_x |f(x) − s(x)| over the evaluation points inside the data hull, s the natural "
     "cubic spline through the data", "unit of y", "Jin & Montúfar 2023"),
    ("norm2_K", "‖h‖²_K = λᵀK_Xλ of the predicted interpolant h = K(·, X)λ (= ∫h''²/ζ + 4(u, v)G⁻¹(u, v)ᵀ for ReLU)",
     "unit of y², ≥ 0", "Jin & Montúfar 2023; affine part derived"),
    ("interpolation_residual", "max_i |h(x_i) − (y_i − f₀(x_i))| of the predicted function (its certificate; at "
     "finite --at-time the residual of the smoothing-spline optimality condition)", "unit of y, ≥ 0", "definition"),
    ("zeta", "curvature weight ζ(s) = ∫|w|³ p(w, −ws) dw on the evaluation points", "density", "Jin & Montúfar 2023"),
    ("init", "initialization law: of the first layer (w, b) of the shallow network, e.g. pm1-uniform:a=2, or of "
     "the matrix model's factors, e.g. balanced:eps=0.03; null: the model's default", "text", "bookkeeping"),
    ("activation", "hidden activation of the shallow network", "relu | abs", "bookkeeping"),
    ("train", "which layers of the shallow network train", "all | output", "bookkeeping"),
    ("asymmetric", "mirrored pairs of hidden units so that f₀ ≡ 0", "boolean", "bookkeeping"),
    ("skip", "affine skip connection of the shallow network", "boolean", "bookkeeping"),
    ("potential", "mirror potential φ per parameter", "quadratic | cubic | quartic", "Liang & Montúfar 2025"),
    ("potential_scale", "unscaled (κ = 1) or scaled (κ = width) potential κ⁻²φ(κΔθ)", "unscaled | scaled",
     "Liang & Montúfar 2025"),
]:
    register(Metric(_name, _def, _unit, _src))

# quantities the commands print besides the columns: certificates of `predict` and `margin`, solver statistics
_CERT = "docs/theory/certificates.md §7.1"
for _name, _def, _unit, _src in [
    ("mu", "μ = α^D/γ, the parameter of the Q_μ max-margin problem solved by `predict --at-loss`",
     "> 0 (log10 in the column log10_mu)", "Moroshko et al. 2020; docs/theory/diagonal.md §3.5"),
    ("margin", "`biasflow margin`: the ℓ_p max margin γ_p* = min_i y_i x_iᵀβ at ‖β‖_p = 1 (the column of a stored "
     "checkpoint is `gamma`)", "margin units per unit ‖β‖_p", _CERT),
    ("upper_bound", "dual bound ‖Σ_i λ_i y_i x_i‖_q (λ ≥ 0, Σλ = 1, 1/p + 1/q = 1) with γ_p* ≤ upper_bound",
     "margin units", _CERT),
    ("duality_gap", "`margin`: upper_bound − margin; `predict` (Q_μ): |λ·(X̃β̃ − 1)|/Σλ, complementary slackness "
     "per unit dual mass; 0 at an exact optimum", "≥ 0", _CERT),
    ("duality_gap_abs", "`predict` (Q_μ): |λ·(X̃β̃ − 1)|, the duality gap not divided by Σλ", "≥ 0", _CERT),
    ("relative_gap", "(upper_bound − margin)/|upper_bound|: the certified relative suboptimality of a max margin",
     "≥ 0", _CERT),
    ("min_margin", "min_i (X̃β̃)_i of a predicted normalized predictor (1 when feasible and tight)", "margin units",
     _CERT),
    ("infeasibility", "max(0, 1 − min_i (X̃β̃)_i): how far a prediction violates its margin constraints",
     "≥ 0; 0 when feasible", _CERT),
    ("projected_gradient", "KKT residual of the Q_μ solution: max of |m̃_i − 1| on the dual support "
     "(λ_i > 1e-12·max λ) and of max(0, 1 − m̃_i) off it", "margin units ≥ 0", _CERT),
    ("log10_loss_check", "log10 ℒ(γβ̃) recomputed from a Q_μ prediction; equals the requested level (checked to "
     "1e-7 relative) when γ is consistent with it", "log10 of a loss", "docs/theory/numerics.md §2.3"),
    ("iterations", "Newton iterations of the prediction's solver", "count", "solver statistic"),
    ("nfev", "right-hand-side evaluations of the ODE solver, over all clock phases", "count", "solver statistic"),
    ("njev", "Jacobian evaluations of the ODE solver, over all clock phases", "count", "solver statistic"),
    ("tau_switch", "value of the τ clock at which the flow switched to the s = −log ℒ clock",
     "τ units (dτ = ℒ dt)", "docs/theory/numerics.md §2.2"),
]:
    register(Metric(_name, _def, _unit, _src))

# columns of deep matrix factorization runs (biasflow.geometry, biasflow.dynamics.matrix, biasflow.bias.matrix)
_CMV = "Cohen, Menon & Veraszto 2023; Menon 2024"
for _name, _def, _unit, _src in [
    ("log_volume", "log √det g_L(W) = −½ Σ_il log λ_il: log density of the Riemannian volume of the depth-L metric "
     "w.r.t. Lebesgue dW", "log of a density; +inf at rank deficiency (L ≥ 2)", _CMV),
    ("entropy", "S(W) = log vol(O_W) = (L−1) log vol(O_d) + ½ log(van(σ²)/van(σ^{2/L})), square W (else null)",
     "log of a volume; −inf once two σ vanish", "Menon & Yu 2025"),
    ("effective_rank", "exp(−Σ p_i log p_i), p_i = σ_i/Σσ: Roy & Vetterli's effective rank of W", "1 … min(m, k)",
     "Roy & Vetterli 2007; Arora et al. 2019"),
    ("nuclear_norm", "‖W‖_* = Σ σ_i", "same unit as W", "definition"),
    ("singular_values", "σ₁ ≥ σ₂ ≥ … of the end-to-end matrix W", "list of floats ≥ 0", "definition"),
    ("balance_drift", "max_p ‖D_p − D_p(0)‖_F, D_p = W_{p+1}ᵀW_{p+1} − W_pW_pᵀ (0 for exact gradient flow)",
     "same unit as W^{2/L}", "Arora, Cohen & Hazan 2018"),
    ("t", "the gradient-flow time at the checkpoint", "time ≥ 0", "definition"),
    ("dist_nuclear", "‖W − W_*‖_F/‖W_*‖_F, W_* the minimum-nuclear-norm completion (Clarabel)", "relative distance",
     "Gunasekar et al. 2017"),
    ("dist_frobenius", "‖W − W_F‖_F/‖W_F‖_F, W_F the minimum-Frobenius completion", "relative distance",
     "definition"),
    ("dist_low_rank", "min over the lowest-rank completions found (ALS + SLSQP) of ‖W − W_r‖_F/‖W_r‖_F",
     "relative distance", _CMV),
    ("nearest_low_rank", "name of the nearest low-rank candidate (rank_r or rank_r_j)", "text", "definition"),
    ("steps", "number of gradient-descent steps (or adaptive solver steps for flows) a run took", "count",
     "definition"),
    ("dynamics", "how an ensemble run was trained", "descent | flow", "bookkeeping"),
    ("rows", "m, rows of the end-to-end matrix W", "integer", "bookkeeping"),
    ("cols", "k, columns of the end-to-end matrix W", "integer", "bookkeeping"),
    ("experiment", "name of the reproduction that wrote the row", "text", "bookkeeping"),
    ("task", "matrix task of a reproduction (e.g. 2x2, 3x3)", "text", "bookkeeping"),
    ("eps", "initialization scale ε of the factors (i.i.d. N(0, ε²) entries)", "> 0", "bookkeeping"),
    ("a", "W₁₂ of a 2×2 completion outcome [[1, a], [b, 1]]", "real", "Cohen, Menon & Veraszto 2023"),
    ("b", "W₂₁ of a 2×2 completion outcome [[1, a], [b, 1]]", "real", "Cohen, Menon & Veraszto 2023"),
]:
    register(Metric(_name, _def, _unit, _src))
