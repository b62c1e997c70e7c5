"""The non-convex ℓ_{2/L} max-margin problem: a KKT-stationarity residual and a best-effort solver.

Depth-L diagonal networks trained on separable data with exp/logistic loss converge in direction to a
KKT point of (Gunasekar et al. 2018b; Lyu & Li 2020; Yun et al. 2021; docs/theory/diagonal.md §3.5, tensor.md §4.3)

    min ‖β‖_p^p  s.t.  X̃β ≥ 1,        p = 2/L,

convex only for L = 2 (ℓ1). For L ≥ 3 only stationarity is guaranteed, so a flow is compared with this
problem by a KKT residual (docs/theory/tensor.md §4.5), never by distance to a "solution":

1. normalize β̃ = β/min_i(X̃β)_i; active set A = {i : m̃_i ≤ 1 + tol_active};
2. support S = {j : |β̃_j| > tol_support·max|β̃|} (relative thresholds);
3. g_j = p|β̃_j|^{p−1} sign β̃_j on S;
4. λ = NNLS(X̃_{A,S}ᵀ, g); residual r = ‖X̃_{A,S}ᵀλ − g‖/‖g‖;
5. for L = 2 also the off-support violation max_{j∉S}|X̃_Aᵀλ|_j − 1 (for L ≥ 3 |·|^p has infinite slope
   at 0, so there is no off-support condition: Clarke stationarity).

:func:`lp_max_margin_best_effort` finds KKT points by reweighted ℓ1 (a sequence of weighted ℓ1 LPs by HiGHS,
Candès–Wakin–Boyd style) from several starts, and reports the best one *as a best effort*.

>>> from biasflow.data import gaussian
>>> from biasflow.bias.margins import max_margin
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> r = kkt_residual(max_margin(ds, "l1").predictor, ds, depth=2)
>>> r.residual < 1e-10, r.offsupport < 1e-9
(True, True)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError
from .margins import _require_classification, best_hinge, max_margin, pnorm


@dataclasses.dataclass(frozen=True, eq=False)
class KKTResult:
    """KKT residual of a predictor for min ‖β‖_{2/L} s.t. X̃β ≥ 1.

    Attributes:
        residual: ‖X̃_{A,S}ᵀλ − g‖/‖g‖ (0 at a KKT point).
        offsupport: L = 2 only: max_{j∉S}|X̃_Aᵀλ|_j − 1 (≤ 0 at the optimum); NaN for L ≥ 3 (no condition).
        dual: λ on the active set (length n, zeros off A), normalized by the scale of g.
        active: indices of A; support: indices of S.
    """

    residual: float
    offsupport: float
    dual: np.ndarray
    active: np.ndarray
    support: np.ndarray

    def to_json(self) -> dict:
        return {
            "residual": float(self.residual),
            "offsupport": None if math.isnan(self.offsupport) else float(self.offsupport),
            "active": self.active.tolist(),
            "support": self.support.tolist(),
            "dual": self.dual.tolist(),
        }


def kkt_residual(
    beta, data: Dataset, depth: int, *, tol_active: float = 1e-3, tol_support: float = 1e-3
) -> KKTResult:
    """The ℓ_{2/L} KKT residual of β (any positive scale) on classification data (docs/theory/tensor.md §4.5).

    Args:
        beta: a predictor with positive minimum margin.
        depth: L (p = 2/L).
        tol_active: relative margin slack defining the active set.
        tol_support: relative magnitude threshold defining the support.

    >>> from biasflow.data import make_dataset
    >>> ds = make_dataset([[1.0, 1.0], [1.0, -1.0]], [1, 1])
    >>> kkt_residual([1.0, 0.0], ds, depth=3).residual < 1e-14      # β = e1 is stationary
    True
    """
    from scipy.optimize import nnls

    _require_classification(data, "KKT residuals")
    if not (isinstance(depth, (int, np.integer)) and depth >= 2):
        raise BiasflowError(f"depth L must be an integer ≥ 2 for the ℓ_(2/L) KKT residual (got {depth!r})")
    A = data.A
    b = np.asarray(beta, dtype=float)
    m = A @ b
    gam = float(m.min())
    if not gam > 0:
        raise BiasflowError(
            f"the predictor has minimum margin {gam:.3g} ≤ 0; KKT residuals need all points classified"
        )
    bt = b / gam
    mt = m / gam
    act = np.flatnonzero(mt <= 1.0 + tol_active)
    absb = np.abs(bt)
    sup = np.flatnonzero(absb > tol_support * absb.max())
    p = 2.0 / depth
    g = p * absb[sup] ** (p - 1.0) * np.sign(bt[sup])
    M = A[np.ix_(act, sup)].T
    lam_a, _ = nnls(M, g, maxiter=50 * (M.shape[0] + M.shape[1]))
    res = float(np.linalg.norm(M @ lam_a - g)) / float(np.linalg.norm(g))
    lam = np.zeros(data.n)
    lam[act] = lam_a
    off = math.nan
    if depth == 2:
        rest = np.setdiff1d(np.arange(data.d), sup)
        off = float(np.max(np.abs(A[act][:, rest].T @ lam_a)) - 1.0) if rest.size else -1.0
    return KKTResult(residual=res, offsupport=off, dual=lam, active=act, support=sup)


@dataclasses.dataclass(frozen=True, eq=False)
class BestEffortResult:
    """A best-effort ℓ_{2/L} max-margin predictor: a KKT point found by reweighted ℓ1, not certified global.

    Attributes:
        depth: L; margin: γ_{2/L} of ``predictor`` (‖predictor‖_{2/L} = 1); objective: ‖β̃‖_{2/L} at
        minimum margin 1 (= 1/margin); kkt: its :class:`KKTResult`; candidates: objective of every start.
    """

    depth: int
    margin: float
    predictor: np.ndarray
    objective: float
    kkt: KKTResult
    candidates: list
    status: str = "ok"
    message: str = ""

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "message": self.message,
            "depth": self.depth,
            "margin": float(self.margin),
            "predictor": self.predictor.tolist(),
            "objective": float(self.objective),
            "kkt": self.kkt.to_json(),
            "candidates": [float(c) for c in self.candidates],
            "note": "best effort (reweighted l1 multistart): a KKT point, not certified global",
        }


def _weighted_l1(A, w):
    from scipy.optimize import linprog

    n, d = A.shape
    res = linprog(
        np.concatenate([w, w]),
        A_ub=np.hstack([-A, A]),
        b_ub=-np.ones(n),
        bounds=(0, None),
        method="highs-ds",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0:
        return None
    return res.x[:d] - res.x[d:]


def lp_max_margin_best_effort(
    data: Dataset, depth: int, *, starts: int = 3, iterations: int = 25, seed: int = 0
) -> BestEffortResult:
    """Best-effort min ‖β‖_{2/L} s.t. X̃β ≥ 1 by reweighted ℓ1 from the ℓ1, ℓ2 and random starts.

    Each start iterates β ← argmin Σ_j w_j|β_j| s.t. X̃β ≥ 1 with w_j = (|β_j| + ε)^{p−1}, ε decreasing
    (every step is an LP by HiGHS). The candidate with the smallest ‖β̃‖_p among those with the smallest KKT
    residual is returned. Depth 2 is the convex ℓ1 problem and returns the certified LP optimum.

    >>> from biasflow.data import gaussian
    >>> r = lp_max_margin_best_effort(gaussian(n=10, d=30, k=1, seed=0), depth=3)
    >>> r.kkt.residual < 1e-8
    True
    """
    _require_classification(data, "max-margin problems")
    if not (isinstance(depth, (int, np.integer)) and depth >= 2):
        raise BiasflowError(f"depth L must be an integer ≥ 2 (got {depth!r})")
    A = data.A
    p = 2.0 / depth
    l1 = max_margin(data, "l1")
    inits = [l1.predictor / l1.margin]
    if depth >= 3 and starts >= 2:
        l2 = max_margin(data, "l2", solver="nnls")
        inits.append(l2.predictor / l2.margin)
    rng = np.random.default_rng(seed)
    for _ in range(max(0, starts - len(inits))):
        b = _weighted_l1(A, rng.uniform(0.2, 5.0, data.d))
        if b is not None:
            inits.append(b)
    cands = []
    for b in inits if depth >= 3 else inits[:1]:
        eps = float(np.abs(b).max())
        for _ in range(iterations if depth >= 3 else 0):
            w = (np.abs(b) + eps) ** (p - 1.0)
            nb = _weighted_l1(A, w / w.max())
            if nb is None:
                break
            done = np.allclose(nb, b, rtol=1e-12, atol=1e-14 * np.abs(nb).max())
            b = nb
            eps = max(eps * 0.1, 1e-14 * float(np.abs(b).max()))
            if done and eps < 1e-12 * float(np.abs(b).max()):
                break
        gam = float((A @ b).min())
        if gam <= 0:
            continue
        bt = b / gam
        cands.append((kkt_residual(bt, data, depth), pnorm(bt, p), bt))
    if not cands:
        h, _ = best_hinge(data)
        raise BiasflowError(f"{data.name}: no separating predictor found (best mean hinge loss {h:.6g})")
    best_res = min(c[0].residual for c in cands)
    good = [c for c in cands if c[0].residual <= max(1e-8, 10 * best_res)]
    k, obj, bt = min(good, key=lambda c: c[1])
    return BestEffortResult(
        depth=int(depth),
        margin=1.0 / obj,
        predictor=bt / obj,
        objective=obj,
        kkt=k,
        candidates=[c[1] for c in cands],
        status="ok",
        message=f"best of {len(cands)} reweighted-l1 starts; KKT residual {k.residual:.2e}",
    )
