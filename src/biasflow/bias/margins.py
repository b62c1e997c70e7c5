"""Max-margin predictors in ℓ1, ℓ2 and ℓ∞, normalized margins, and their certificates (docs/theory/certificates.md §7).

For a norm ‖·‖_p with dual norm ‖·‖_q and signed data X̃ = diag(y)X,

    γ_p* = max_{‖β‖_p ≤ 1} min_i (X̃β)_i = min_{λ ∈ Δ_n} ‖X̃ᵀλ‖_q          (LP/QP duality),

so every pair (β, λ) with λ ≥ 0, Σλ = 1 brackets the optimum:
``lower = min_i (X̃β)_i / ‖β‖_p ≤ γ_p* ≤ ‖X̃ᵀλ‖_q = upper``. The certificate a referee checks is that pair;
:class:`MarginResult` carries both bounds, their gap and the solver's status. Solvers:

- ℓ1 (D = 2 diagonal networks' limit; Gunasekar et al. 2018b): LP min 1ᵀ(a + b) s.t. X̃(a − b) ≥ 1, a, b ≥ 0,
  by SciPy HiGHS; λ from HiGHS's constraint marginals; then an exact vertex polish (solve the square
  active system), accepted only when it tightens the certificate.
- ℓ∞: LP max γ s.t. X̃β ≥ γ1, −1 ≤ β ≤ 1, by HiGHS.
- ℓ2 (hard-margin SVM without bias; Soudry et al. 2018): QP min ½‖β‖² s.t. X̃β ≥ 1 by cvxpy + Clarabel,
  then an active-set polish; or ``solver="nnls"``: Lawson–Hanson NNLS on the least-distance form
  (an independent path used in tests).

``solver="clarabel"`` solves any of the three with cvxpy + Clarabel (the independent reference for ℓ1/ℓ∞).
Non-separable data raise a :class:`~biasflow.errors.BiasflowError` naming the best achievable mean hinge
loss (an LP, docs/theory/numerics.md §2.5).

>>> from biasflow.data import gaussian
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> r = max_margin(ds, "l1")
>>> r.status, r.rel_gap <= 1e-9, abs(float(np.abs(r.predictor).sum()) - 1.0) < 1e-12
('ok', True, True)
>>> abs(normalized_margin(r.predictor, ds, "l1") - r.margin) <= 1e-12
True
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..data import Dataset
from ..display import Compact
from ..errors import BiasflowError

NORMS = ("l1", "l2", "linf")
_DUAL = {"l1": np.inf, "l2": 2.0, "linf": 1.0}
_P = {"l1": 1.0, "l2": 2.0, "linf": np.inf}
_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def _norm_p(norm) -> float:
    if isinstance(norm, str):
        if norm not in _P:
            raise BiasflowError(f"unknown norm {norm!r}; choose one of l1, l2, linf (or a number p > 0)")
        return _P[norm]
    p = float(norm)
    if not (p > 0):
        raise BiasflowError(f"norm exponent p must be > 0 (got {norm!r})")
    return p


def pnorm(beta, p: float) -> float:
    """‖β‖_p for p ∈ (0, ∞] (a quasi-norm for p < 1), computed without overflow.

    >>> pnorm([3.0, -4.0], 2), pnorm([1.0, 1.0], 0.5), pnorm([1.0, -7.0], np.inf)
    (5.0, 4.0, 7.0)
    """
    b = np.abs(np.asarray(beta, dtype=float))
    if p == np.inf:
        return float(b.max())
    m = float(b.max())
    if m == 0.0:
        return 0.0
    return m * float(np.sum((b / m) ** p)) ** (1.0 / p)


def margins(beta, data: Dataset) -> np.ndarray:
    """m = X̃β (classification: y_i x_iᵀβ)."""
    return data.A @ np.asarray(beta, dtype=float)


def normalized_margin(beta, data: Dataset, norm="l1") -> float:
    """γ_p(β) = min_i (X̃β)_i / ‖β‖_p, for norm ``"l1" | "l2" | "linf"`` or any exponent p > 0 (e.g. 2/D).

    Scale invariant; −inf for β = 0 (no margin). Raises for regression data.

    >>> from biasflow.data import make_dataset
    >>> ds = make_dataset([[1.0, 0.0], [0.0, 1.0]], [1, 1])
    >>> normalized_margin([1.0, 1.0], ds, "l1"), normalized_margin([1.0, 1.0], ds, "linf")
    (0.5, 1.0)
    """
    _require_classification(data, "normalized margins")
    p = _norm_p(norm)
    nb = pnorm(beta, p)
    if nb == 0.0:
        return -math.inf
    return float(np.min(margins(beta, data))) / nb


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class MarginResult(Compact):
    """A solved max-margin problem with its certificate.

    Attributes:
        norm: ``"l1" | "l2" | "linf"``.
        margin: γ_p* (the lower bound: the exact normalized margin of ``predictor``).
        predictor: β with ‖β‖_p = 1 and min_i (X̃β)_i = margin.
        dual: λ ∈ Δ_n (λ ≥ 0, Σλ = 1), the dual certificate.
        upper: ‖X̃ᵀλ‖_q ≥ γ_p*; gap = upper − margin ≥ 0, rel_gap = gap / upper.
        support: indices of the support vectors (λ_i > 1e-9·max λ).
        solver: which solver produced it; status: ``ok``, or the solver's failure status.
        seconds: wall time of the solve.
    """

    _hidden = ("dual",)  # large or derived: not in the repr

    norm: str
    margin: float
    predictor: np.ndarray
    dual: np.ndarray
    upper: float
    solver: str
    status: str = "ok"
    message: str = ""
    seconds: float = 0.0

    @property
    def gap(self) -> float:
        return float(self.upper - self.margin)

    @property
    def rel_gap(self) -> float:
        return float(self.gap / abs(self.upper)) if self.upper else math.inf

    @property
    def support(self) -> np.ndarray:
        lam = self.dual
        return np.flatnonzero(lam > 1e-9 * lam.max()) if lam.size else np.zeros(0, int)

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "message": self.message,
            "norm": self.norm,
            "margin": float(self.margin),
            "predictor": np.asarray(self.predictor, float).tolist(),
            "certificate": {
                "dual": np.asarray(self.dual, float).tolist(),
                "upper_bound": float(self.upper),
                "duality_gap": self.gap,
                "relative_gap": self.rel_gap,
                "support_vectors": self.support.tolist(),
                "statement": "margin = min_i y_i x_i·β/‖β‖_p ≤ γ* ≤ ‖Σ_i λ_i y_i x_i‖_q = upper_bound, "
                "λ ≥ 0, Σλ = 1",
            },
            "solver": self.solver,
            "seconds": float(self.seconds),
        }


def _require_classification(data: Dataset, what: str) -> None:
    if data.task != "classification":
        raise BiasflowError(
            f"{what} need classification data (labels ±1); {data.name!r} is a regression set — "
            "use interpolate for regression"
        )


def _bounds(A, beta, lam, p: float, q: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(lower, upper, unit β, simplex λ) from any candidate pair."""
    beta = np.asarray(beta, dtype=float)
    nb = pnorm(beta, p)
    lower = float(np.min(A @ beta)) / nb if nb > 0 else -math.inf
    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    s = lam.sum()
    if not (s > 0 and np.isfinite(s)):
        return lower, math.inf, beta / nb if nb > 0 else beta, lam
    lam = lam / s
    upper = pnorm(A.T @ lam, q)
    return lower, upper, beta / nb if nb > 0 else beta, lam


def best_hinge(data: Dataset) -> tuple[float, np.ndarray]:
    """min_β (1/n) Σ_i max(0, 1 − y_i x_iᵀβ) by HiGHS: 0 iff the data are linearly separable.

    >>> from biasflow.data import gaussian, non_separable
    >>> round(best_hinge(gaussian(10, 30, seed=0))[0], 12)
    0.0
    >>> best_hinge(non_separable(gaussian(10, 30, seed=0)))[0] > 0.1
    True
    """
    from scipy.optimize import linprog

    A = data.A
    n, d = A.shape
    c = np.concatenate([np.zeros(d), np.full(n, 1.0 / n)])
    A_ub = np.hstack([-A, -np.eye(n)])
    bounds = [(None, None)] * d + [(0, None)] * n
    res = linprog(c, A_ub=A_ub, b_ub=-np.ones(n), bounds=bounds, method="highs")
    if res.status != 0:
        raise BiasflowError(f"the hinge-loss LP failed: HiGHS status {res.status} ({res.message})")
    return float(res.fun), res.x[:d]


def _not_separable(data: Dataset) -> BiasflowError:
    h, _ = best_hinge(data)
    return BiasflowError(
        f"{data.name}: data are not linearly separable (the best achievable mean hinge loss "
        f"(1/n)Σmax(0, 1 − y_i x_i·β) is {h:.6g} > 0); max-margin problems need separable data — "
        "remove conflicting points or use biasflow flow, which reports the loss floor"
    )


def max_margin(data: Dataset, norm: str = "l1", *, solver: str = "auto") -> MarginResult:
    """The ℓ_p max-margin predictor (p ∈ {1, 2, ∞}) with a duality certificate.

    Args:
        data: a classification :class:`~biasflow.data.Dataset`.
        norm: ``"l1"``, ``"l2"`` or ``"linf"``.
        solver: ``"auto"`` (HiGHS for ℓ1/ℓ∞, Clarabel for ℓ2), ``"highs"``, ``"clarabel"`` or ``"nnls"``
            (ℓ2 only).

    Raises:
        BiasflowError: regression data, unknown norm/solver, or non-separable data (naming the best
            mean hinge loss). A solver that fails reports its status in the message.

    >>> from biasflow.data import make_dataset
    >>> ds = make_dataset([[2.0, 0.0], [0.0, 1.0]], [1, -1])
    >>> r = max_margin(ds, "l2")
    >>> round(r.margin, 12), [round(float(v), 12) for v in r.predictor]      # β ∝ (1/2, −1)
    (0.894427191, [0.4472135955, -0.894427191])
    """
    _require_classification(data, "max-margin problems")
    if norm not in NORMS:
        raise BiasflowError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if solver == "auto":
        solver = "clarabel" if norm == "l2" else "highs"
    valid = {"l1": ("highs", "clarabel"), "linf": ("highs", "clarabel"), "l2": ("clarabel", "nnls")}[norm]
    if solver not in valid:
        raise BiasflowError(
            f"solver {solver!r} does not solve the {norm} problem; use one of {', '.join(valid)}"
        )
    t0 = time.perf_counter()
    A = data.A
    if solver == "highs":
        beta, lam, status, msg = (_l1_highs if norm == "l1" else _linf_highs)(A)
    elif solver == "nnls":
        beta, lam, status, msg = _l2_nnls(A)
    else:
        beta, lam, status, msg = _cvxpy(A, norm)
    if status == "infeasible":
        raise _not_separable(data)
    if status != "ok":
        raise BiasflowError(f"{data.name}: the {norm} max-margin solve failed ({solver}: {msg})")
    p, q = _P[norm], _DUAL[norm]
    lo, up, b, lm = _bounds(A, beta, lam, p, q)
    if norm in ("l1", "l2"):
        for cb, cl in _polish(A, beta, lam, norm):
            lo2, up2, b2, lm2 = _bounds(A, cb, cl, p, q)
            if lo2 > lo:
                lo, b = lo2, b2
            if up2 < up:
                up, lm = up2, lm2
    if not (lo > 0):
        raise _not_separable(data)
    return MarginResult(
        norm=norm,
        margin=lo,
        predictor=b,
        dual=lm,
        upper=up,
        solver=solver,
        status="ok",
        message=msg,
        seconds=time.perf_counter() - t0,
    )


def margin(data: Dataset, norm: str = "l1", *, solver: str = "auto") -> MarginResult:
    """``biasflow.margin(data, norm)``: the certified ℓ_p max-margin predictor (same as :func:`max_margin`).

    >>> from biasflow.data import gaussian
    >>> r = margin(gaussian(n=10, d=30, k=1, seed=0), "linf")
    >>> r.status, float(np.abs(r.predictor).max())
    ('ok', 1.0)
    """
    return max_margin(data, norm, solver=solver)


# ------------------------------------------------------------------------------------------------ solvers
def _l1_highs(A):
    from scipy.optimize import linprog

    n, d = A.shape
    res = linprog(
        np.ones(2 * d),
        A_ub=np.hstack([-A, A]),
        b_ub=-np.ones(n),
        bounds=(0, None),
        method="highs-ds",
        options=_HIGHS,
    )
    if res.status == 2:
        return None, None, "infeasible", res.message
    if res.status != 0:
        return None, None, f"status {res.status}", f"HiGHS status {res.status}: {res.message}"
    beta = res.x[:d] - res.x[d:]
    lam = -np.asarray(res.ineqlin.marginals)
    return beta, lam, "ok", "HiGHS dual simplex"


def _linf_highs(A):
    from scipy.optimize import linprog

    n, d = A.shape
    c = np.zeros(d + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A, np.ones((n, 1))])
    bounds = [(-1.0, 1.0)] * d + [(None, None)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), bounds=bounds, method="highs-ds", options=_HIGHS)
    if res.status != 0:
        return None, None, f"status {res.status}", f"HiGHS status {res.status}: {res.message}"
    if -res.fun <= 1e-12:
        return None, None, "infeasible", "zero margin"
    return res.x[:d], -np.asarray(res.ineqlin.marginals), "ok", "HiGHS dual simplex"


def _l2_nnls(A):
    """Least-distance programming min ½‖β‖² s.t. Aβ ≥ 1 via NNLS (Lawson & Hanson 1974, ch. 23)."""
    from scipy.optimize import nnls

    n, d = A.shape
    E = np.vstack([A.T, np.ones((1, n))])
    f = np.zeros(d + 1)
    f[-1] = 1.0
    u, _ = nnls(E, f, maxiter=50 * (n + d))
    r = E @ u - f
    if abs(r[-1]) < 1e-14:
        return None, None, "infeasible", "NNLS residual vanished"
    beta = -r[:d] / r[-1]
    lam = u / -r[-1]
    return beta, lam, "ok", "Lawson–Hanson NNLS"


def _cvxpy(A, norm):
    import cvxpy as cp

    n, d = A.shape
    b = cp.Variable(d)
    cons = [A @ b >= 1]
    obj = {"l1": cp.norm1(b), "l2": 0.5 * cp.sum_squares(b), "linf": cp.norm_inf(b)}[norm]
    prob = cp.Problem(cp.Minimize(obj), cons)
    try:
        prob.solve(
            solver="CLARABEL",
            tol_gap_abs=1e-12,
            tol_gap_rel=1e-12,
            tol_feas=1e-12,
            tol_ktratio=1e-10,
            max_iter=500,
        )
    except cp.error.SolverError as e:
        return None, None, "failed", f"Clarabel: {e}"
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        return None, None, "infeasible", prob.status
    if prob.status not in ("optimal", "optimal_inaccurate") or b.value is None:
        return None, None, prob.status, f"Clarabel status {prob.status}"
    return np.asarray(b.value), np.asarray(cons[0].dual_value), "ok", f"cvxpy + Clarabel ({prob.status})"


def _polish(A, beta, lam, norm):
    """Exact active-set candidates from an approximate primal–dual pair (accepted only if they tighten)."""
    out = []
    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    if not lam.size or lam.max() <= 0:
        return out
    act = np.flatnonzero(lam > 1e-9 * lam.max())
    try:
        if norm == "l2":
            K = A[act] @ A[act].T
            la = np.linalg.lstsq(K, np.ones(act.size), rcond=None)[0]
            lf = np.zeros(A.shape[0])
            lf[act] = la
            out.append((A.T @ lf, lf))
        else:
            b = np.asarray(beta, dtype=float)
            sup = np.flatnonzero(np.abs(b) > 1e-9 * np.abs(b).max())
            M = A[np.ix_(act, sup)]
            bs = np.linalg.lstsq(M, np.ones(act.size), rcond=None)[0]
            bf = np.zeros(A.shape[1])
            bf[sup] = bs
            la = np.linalg.lstsq(M.T, np.sign(b[sup]), rcond=None)[0]
            lf = np.zeros(A.shape[0])
            lf[act] = la
            out.append((bf, lf))
    except np.linalg.LinAlgError:
        pass
    return out
