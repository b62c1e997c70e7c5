"""Predicted implicit bias of linear G-CNNs: Schatten-2/L penalties of the group Fourier blocks.

For a linear G-CNN of depth L (:mod:`biasflow.models.gcnn`) trained on separable data with the exponential
or logistic loss, β/‖β‖ converges to a first-order stationary point of (Lawrence, Georgiev, Dienes, Kiani
2022)

    min_β  R_L(β) = Σ_ρ d_ρ ‖β̂(ρ)‖_{S_{2/L}}^{2/L}     s.t.  y_i ⟨x_i, β⟩ ≥ 1,

the sum over all irreps ρ over ℂ, with ‖B‖_{S_p}^p = Σ_i σ_i(B)^p. The weights d_ρ come from
min Σ_l ‖w_l‖² subject to w_L ∗ ⋯ ∗ w_1 = β, which equals (L/|G|)·R_L(β) (Plancherel blockwise, and the
balanced factorization of each block). On abelian groups R_L is ‖DFT β‖_{2/L}^{2/L}.

- L = 2: a convex program (a d_ρ-weighted sum of nuclear norms), solved by cvxpy with Clarabel:
  :func:`group_max_margin`. Its dual is max 1ᵀλ s.t. λ ≥ 0, ‖(X̃ᵀλ)^(ρ)‖_op ≤ |G| for every ρ (from
  ⟨z, β⟩ = |G|⁻¹ Σ_ρ d_ρ Re tr(ẑ(ρ)ᴴ β̂(ρ))); we rescale the solver's multipliers into that set and report
  the duality gap they certify.
- L ≥ 3: non-convex; :func:`group_kkt` measures how far β is from stationarity (Clarke, on the fixed-rank
  manifold of every block): min_{λ ≥ 0 on the active set} ‖P_T(X̃_Aᵀλ) − ∇R_L(β̃)‖/‖∇R_L(β̃)‖ with
  ∇_B ‖B‖_{S_p}^p = p U Σ^{p−1} Vᴴ on the support and P_T the projection on the tangent spaces.
- :func:`regularizer_gap`: R_L(β̃)/R_L* − 1 with β̃ = β/min-margin (normalized regularizer gap).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.optimize import nnls

from ..data import Dataset
from ..errors import BiasflowError


def _group(group):
    from ..groups import get_group

    return get_group(group)


def _classification(data: Dataset, G) -> np.ndarray:
    if not isinstance(data, Dataset) or data.task != "classification":
        raise BiasflowError("the group max-margin needs a classification data set (labels ±1)")
    if data.d != G.order:
        raise BiasflowError(
            f"the data have d = {data.d} columns but the group {G.name!r} has order {G.order}; "
            "signals on the group must have length |G|"
        )
    return np.asarray(data.A, dtype=float)


def normalize(beta, A) -> tuple[np.ndarray, float]:
    """β̃ = β/γ with γ = min_i (X̃β)_i > 0 (raise when β does not separate the data)."""
    beta = np.asarray(beta, dtype=float)
    gamma = float(np.min(A @ beta))
    if not gamma > 0:
        raise BiasflowError(f"β does not separate the data (minimum margin {gamma:.3g}); no normalized gap")
    return beta / gamma, gamma


@dataclasses.dataclass(frozen=True)
class GroupMarginResult:
    """The L = 2 program's solution with its certificate.

    Attributes:
        beta: the minimizer, scaled to minimum margin exactly 1.
        objective: R_2(beta) = Σ_ρ d_ρ ‖β̂(ρ)‖_* (an upper bound on the optimum R_2*).
        dual: 1ᵀλ of a dual-feasible λ (a lower bound on R_2*).
        lam: that λ.
        status: ``ok`` when the relative gap (objective − dual)/objective ≤ 1e-6, else ``inaccurate``.
    """

    beta: np.ndarray
    objective: float
    dual: float
    lam: np.ndarray
    status: str
    group: str

    @property
    def gap(self) -> float:
        return float((self.objective - self.dual) / self.objective)


def _blocks_cvx(G, b):
    """cvxpy expressions Σ_ρ d_ρ‖β̂(ρ)‖_* for a cvxpy vector b (1-D irreps as SOC, larger as nuclear norms)."""
    import cvxpy as cp

    terms = []
    for r in G.irreps:
        d = r.shape[1]
        Fr = r.reshape(G.order, d * d).T        # (d², N): row a·d + c is ρ(·)_{ac}
        re, im = np.ascontiguousarray(Fr.real), np.ascontiguousarray(Fr.imag)
        cplx = np.abs(im).max() > 1e-14
        if d == 1:
            terms.append(cp.norm(cp.hstack([re @ b, im @ b]), 2) if cplx else cp.abs(re @ b)[0])
            continue
        R = cp.reshape(re @ b, (d, d), order="C")
        if not cplx:
            terms.append(d * cp.normNuc(R))
            continue
        I_ = cp.reshape(im @ b, (d, d), order="C")
        big = cp.bmat([[R, -I_], [I_, R]])      # ‖Z‖_* = ½‖[[Re Z, −Im Z], [Im Z, Re Z]]‖_*
        terms.append(0.5 * d * cp.normNuc(big))
        continue
    return terms, [r.shape[1] for r in G.irreps]


def dual_scale(G, z) -> float:
    """max_ρ ‖ẑ(ρ)‖_op/|G|: λ is dual feasible iff this is ≤ 1 for z = X̃ᵀλ."""
    return float(max(np.linalg.norm(B, 2) for B in G.fourier(z)) / G.order)


def group_max_margin(data: Dataset, group, *, tol: float = 1e-6) -> GroupMarginResult:
    """min Σ_ρ d_ρ ‖β̂(ρ)‖_* s.t. X̃β ≥ 1 (cvxpy + Clarabel), with a certified duality gap.

    >>> from biasflow.data import make_dataset
    >>> import numpy as np
    >>> ds = make_dataset(np.eye(4)[:2], np.array([1.0, -1.0]))
    >>> r = group_max_margin(ds, "cyclic:n=4")
    >>> r.status, round(r.objective, 6)            # β = (1, −1, 1, −1): |fft β| = (0, 0, 4, 0)
    ('ok', 4.0)
    """
    import cvxpy as cp

    G = _group(group)
    A = _classification(data, G)
    b = cp.Variable(G.order)
    terms, _ = _blocks_cvx(G, b)
    cons = [A @ b >= 1]
    prob = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms))), cons)
    try:
        prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as e:
        raise BiasflowError(f"the group max-margin program failed in Clarabel: {e}") from None
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        raise BiasflowError("the data are not linearly separable: the group max-margin program is infeasible")
    if b.value is None or cons[0].dual_value is None:
        raise BiasflowError(f"the group max-margin program returned no solution (status {prob.status})")
    from ..groups import schatten_regularizer

    beta, _ = normalize(b.value, A)
    obj = schatten_regularizer(G, beta, 2)
    lam = np.maximum(np.asarray(cons[0].dual_value, dtype=float), 0.0)
    s = dual_scale(G, A.T @ lam)
    lam = lam / max(s, 1.0) if s > 0 else lam
    dual = float(lam.sum())
    status = "ok" if (obj - dual) <= tol * obj else "inaccurate"
    return GroupMarginResult(beta=beta, objective=obj, dual=dual, lam=lam, status=status, group=G.name)


def regularizer_gap(beta, data: Dataset, group, depth: int, optimum: float) -> float:
    """R_L(β̃)/R_L* − 1 with β̃ = β/γ(β) (0 at the optimum, > 0 elsewhere on the feasible set)."""
    from ..groups import schatten_regularizer

    G = _group(group)
    bt, _ = normalize(beta, _classification(data, G))
    if not (math.isfinite(optimum) and optimum > 0):
        raise BiasflowError(f"the optimum R_L* must be a positive number (got {optimum!r})")
    return float(schatten_regularizer(G, bt, depth) / optimum - 1.0)


def svm_regularizer_gap(data: Dataset, group, depth: int, optimum: float) -> float:
    """The same gap for the ℓ2 max-margin (SVM) direction: what a fully connected net converges to."""
    from .margins import max_margin

    return regularizer_gap(np.asarray(max_margin(data, "l2").predictor, float), data, group, depth, optimum)


def _tangent_projector(U, V):
    """P_T(M) = UUᴴM + MVVᴴ − UUᴴMVVᴴ: projection on the tangent space of fixed-rank matrices at UΣVᴴ."""
    Pu, Pv = U @ U.conj().T, V @ V.conj().T

    def proj(M):
        return Pu @ M + M @ Pv - Pu @ M @ Pv

    return proj


def group_kkt(beta, data: Dataset, group, depth: int, *, tol_margin: float = 1e-3,
              tol_support: float = 1e-3) -> dict:
    """Stationarity residual of min R_L(β) s.t. X̃β ≥ 1 at β̃ = β/γ (Lawrence et al. 2022, any L ≥ 2).

    Active set A = {i : m̃_i ≤ 1 + tol_margin}; in every block the singular values above
    tol_support·(largest over all blocks) span the support (rank r_ρ). With p = 2/L,
    ∇R_L = Σ_ρ d_ρ Re tr(∇_ρᴴ ρ(·)) with ∇_ρ = p U Σ^{p−1} Vᴴ, and the residual is
    min_{λ ≥ 0} ‖P(X̃_Aᵀλ) − ∇R_L‖/‖∇R_L‖ with P the tangent projection carried to signal space (NNLS).

    Returns ``{"residual", "active", "ranks", "multipliers"}``.
    """
    G = _group(group)
    A = _classification(data, G)
    L = int(depth)
    if L < 1:
        raise BiasflowError(f"depth must be ≥ 1 (got {depth!r})")
    bt, _ = normalize(beta, A)
    m = A @ bt
    active = np.nonzero(m <= 1.0 + tol_margin)[0]
    p = 2.0 / L
    blocks = G.fourier(bt)
    svds = [np.linalg.svd(B) for B in blocks]
    smax = max(float(s.max()) for _, s, _ in svds)
    projs, grads, ranks = [], [], []
    for (U, s, Vh) in svds:
        r = int(np.sum(s > tol_support * smax))
        ranks.append(r)
        Ur, Vr = U[:, :r], Vh[:r].conj().T
        grads.append(p * (Ur * s[:r] ** (p - 1)) @ Vr.conj().T)
        projs.append(_tangent_projector(Ur, Vr))
    N = G.order

    def to_signal(Ms):
        out = np.zeros(N, dtype=complex)
        for M, r in zip(Ms, G.irreps, strict=True):
            out += r.shape[1] * np.einsum("gab,ab->g", r.conj(), M)
        return out.real                          # = |G|·F⁻¹(M)

    g = to_signal(grads)
    cols = np.stack([to_signal([P(Bz) for P, Bz in zip(projs, G.fourier(A[i]), strict=True)])
                     for i in active], axis=1) if len(active) else np.zeros((N, 0))
    gn = float(np.linalg.norm(g))
    if gn == 0:
        raise BiasflowError("β̃ has no support above the threshold: the gradient of R_L vanishes")
    if cols.shape[1]:
        lam, res = nnls(cols, g)
    else:
        lam, res = np.zeros(0), gn
    return {"residual": float(res / gn), "active": active.tolist(), "ranks": ranks,
            "multipliers": lam.tolist()}




COLUMNS: dict[str, tuple[str, str]] = {
    "gap_group": ("R_L(β̃)/R_L* − 1, R_L = Σ_ρ d_ρ‖β̂(ρ)‖_{S_{2/L}}^{2/L}, β̃ = β/γ; R_L* the L = 2 optimum "
                  "(nuclear-norm program, Clarabel, certified); NaN for L ≥ 3 (non-convex)",
                  "dimensionless, ≥ 0; 0 at the group max-margin"),
    "gap_group_svm": ("the same gap for the ℓ2-SVM direction (what a fully connected net converges to)",
                      "dimensionless, ≥ 0"),
    "kkt_group": ("stationarity residual of min R_L s.t. margins ≥ 1 on the fixed-rank tangent spaces of the "
                  "Fourier blocks (NNLS over the active set; relative thresholds 1e-2)",
                  "dimensionless in [0, 1]; 0 at a first-order stationary point"),
    "block_rank": ("Σ_ρ rank β̂(ρ) (singular values above 1e-3 of the largest)", "count"),
}
"""Column name → (definition, unit) of the G-CNN columns (Lawrence et al. 2022)."""


def group_columns(beta, data: Dataset, group, depth: int, optimum: float | None = None,
                  svm_gap: float | None = None) -> dict:
    """The :data:`COLUMNS` for one predictor β (``optimum``: R_2*, solved when None and L = 2)."""
    from ..groups import singular_values

    G = _group(group)
    A = _classification(data, G)
    bt, _ = normalize(beta, A)
    L = int(depth)
    if optimum is None:
        optimum = group_max_margin(data, G).dual
    out = {"gap_group": regularizer_gap(bt, data, G, L, optimum) if L == 2 else math.nan,
           "gap_group_svm": (svm_regularizer_gap(data, G, 2, optimum) if svm_gap is None else svm_gap)
           if L == 2 else math.nan,
           "kkt_group": group_kkt(bt, data, G, L, tol_margin=1e-2, tol_support=1e-2)["residual"]}
    sv = singular_values(G, bt)
    smax = max(float(s.max()) for s in sv)
    out["block_rank"] = int(sum(int(np.sum(s > 1e-3 * smax)) for s in sv))
    return out



def predict_group(model, data: Dataset):
    """The predicted bias of a linear G-CNN (a model with the capability ``finite_group``), as a
    :class:`~biasflow.bias.prediction.Prediction` of kind ``group``: the d_ρ-weighted nuclear-norm
    max-margin β̃ (minimum margin 1). It is the limit for L = 2; for L ≥ 3 the limit is only a stationary
    point of the non-convex Schatten-2/L problem (measure it with ``kkt_group``) and β̃ is its convex
    (L = 2) reference."""
    import time

    from .prediction import Prediction

    t0 = time.perf_counter()
    G = model.finite_group
    L = int(model.degree)
    r = group_max_margin(data, G)
    svm = svm_regularizer_gap(data, G, 2, r.dual)
    msg = (f"d_ρ-weighted nuclear-norm max-margin over {G.name} (Clarabel; relative duality gap "
           f"{r.gap:.1e})")
    if L != 2:
        msg += (f"; for L = {L} the flow reaches a stationary point of the non-convex Schatten-2/{L} problem "
                "(see kkt_group): this is the convex L = 2 reference")
    return Prediction(kind="group", task="classification", predictor=r.beta, status=r.status, message=msg,
                      certificate={"objective": r.objective, "dual": r.dual, "relative_gap": r.gap,
                                   "svm_gap": svm, "group": G.name, "dims": list(G.dims)},
                      dual=r.lam, depth=L, model=model.config(), data=data,
                      seconds=time.perf_counter() - t0)



# ------------------------------------------------------------------ per-checkpoint metrics (biasflow.metrics)
def _limit_group(p):
    from ..metrics import Undefined

    lim = p.limit
    if lim is None or getattr(lim, "kind", None) != "group":
        raise Undefined("needs the group prediction of a G-CNN (biasflow predict --model gcnn)")
    return lim


def metric_gap_group(p) -> float:
    """R_L(β̃)/R_L* − 1 at a checkpoint (L = 2; for L ≥ 3 there is no certified optimum)."""
    from ..metrics import Undefined

    lim = _limit_group(p)
    if p.depth != 2:
        raise Undefined(f"L = {p.depth}: the Schatten-2/{p.depth} problem is non-convex (see kkt_group)")
    p.separating()
    return regularizer_gap(p.beta, p.data, lim.certificate["group"], 2, float(lim.certificate["dual"]))


def metric_gap_group_svm(p) -> float:
    """The ℓ2-SVM direction's R_2 gap (the same for every checkpoint of a run)."""
    from ..metrics import Undefined

    lim = _limit_group(p)
    if p.depth != 2:
        raise Undefined(f"L = {p.depth}: no certified optimum to compare with")
    return float(lim.certificate["svm_gap"])


def metric_kkt_group(p) -> float:
    _limit_group(p)
    p.separating()
    return group_kkt(p.beta, p.data, p.limit.certificate["group"], p.depth, tol_margin=1e-2,
                     tol_support=1e-2)["residual"]


def metric_block_rank(p) -> int:
    from ..groups import singular_values
    from ..metrics import Undefined

    lim = _limit_group(p)
    sv = singular_values(_group(lim.certificate["group"]), np.asarray(p.beta, float))
    smax = max(float(s.max()) for s in sv)
    if not smax > 0:
        raise Undefined("β = 0")
    return int(sum(int(np.sum(s > 1e-3 * smax)) for s in sv))


__all__ = [
    "COLUMNS",
    "GroupMarginResult",
    "dual_scale",
    "group_columns",
    "group_kkt",
    "group_max_margin",
    "metric_block_rank",
    "metric_gap_group",
    "metric_gap_group_svm",
    "metric_kkt_group",
    "normalize",
    "predict_group",
    "regularizer_gap",
    "svm_regularizer_gap",
]
