"""Predicted biases for matrix tasks (completion, sensing) and the distance of a trained W to each.

- **Minimum nuclear norm** (Gunasekar et al. 2017's conjecture for depth 2 at small initialization):
  min ‖W‖_* s.t. ⟨A_i, W⟩ = b_i, solved by cvxpy + Clarabel, with a certified duality gap: the dual is
  max bᵀν s.t. ‖Σ ν_i A_i‖_op ≤ 1; the solver's ν is scaled into the dual feasible set, so
  gap = ‖W‖_* − bᵀν ≥ 0 bounds the suboptimality of W (up to its constraint residual, also reported).
- **Minimum Frobenius norm**: the least-norm solution W = A⁺b (for completion: the observed values and
  zeros elsewhere) — the kernel-regime / depth-1 answer.
- **Low-rank candidates**: for each rank r from 1 up, completions of rank r reached by alternating least
  squares on W = PQᵀ with a vanishing balanced ridge (μ/2)(‖P‖² + ‖Q‖²) from several random starts; the
  ridge picks, among rank-r completions, ones of locally minimal nuclear norm (min over factorizations of
  (‖P‖² + ‖Q‖²)/2 is ‖W‖_*). The lowest rank with an exact fit is the deep-network prediction of Arora
  et al. 2019 / Cohen, Menon & Veraszto 2023; for the 2×2 problem with W₁₁ = W₂₂ = 1 it returns the
  corners [[1, ±1], [±1, 1]].

>>> from biasflow.matrix_data import menon_2x2
>>> p = min_nuclear_norm(menon_2x2())
>>> p.status, round(p.value, 6), p.gap < 1e-6
('ok', 2.0, True)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import BiasflowError, Status
from ..matrix_data import MatrixTask


@dataclasses.dataclass(frozen=True, eq=False)
class MatrixPrediction:
    """A predicted end-to-end matrix.

    Attributes:
        name: ``min_nuclear``, ``min_frobenius`` or ``rank_r`` (a low-rank candidate, suffix ``_j`` when
            several); W: the m×k matrix; value: its norm (nuclear or Frobenius) where defined;
        status: :class:`~biasflow.errors.Status` (``ok``, ``inaccurate``, ``invalid_input`` when no matrix
            fits the measurements, ``failed``); gap: certified duality gap (nuclear norm) or 0;
        residual: max |⟨A_i, W⟩ − b_i|; rank: numerical rank (σ > 1e-8·σ₁).
    """

    name: str
    W: np.ndarray
    value: float
    status: str = Status.OK
    gap: float = 0.0
    residual: float = 0.0
    rank: int = 0
    message: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "W": np.asarray(self.W).tolist(), "value": float(self.value),
                "status": str(self.status), "gap": float(self.gap), "residual": float(self.residual),
                "rank": int(self.rank), "message": self.message}


def _rank(W, tol: float = 1e-8) -> int:
    s = np.linalg.svd(W, compute_uv=False)
    return int(np.sum(s > tol * max(s[0], 1e-300))) if s.size else 0


def _check(task) -> None:
    if not isinstance(task, MatrixTask):
        raise BiasflowError("matrix predictions need a matrix task (completion or sensing)")


def min_frobenius(task: MatrixTask) -> MatrixPrediction:
    """The least-Frobenius-norm W with ⟨A_i, W⟩ = b_i (least squares when inconsistent)."""
    _check(task)
    if task.kind == "completion":
        W = np.array(task.values, dtype=np.float64)
    else:
        x, *_ = np.linalg.lstsq(task.operator(), task.b, rcond=None)
        W = x.reshape(task.shape)
    res = float(np.max(np.abs(task.residual(W))))
    return MatrixPrediction("min_frobenius", W, float(np.linalg.norm(W)), residual=res, rank=_rank(W))


def min_nuclear_norm(task: MatrixTask, *, tol: float = 1e-10) -> MatrixPrediction:
    """min ‖W‖_* s.t. ⟨A_i, W⟩ = b_i by cvxpy + Clarabel, with the certified duality gap (see module doc)."""
    import cvxpy as cp

    _check(task)
    m, k = task.shape
    X = cp.Variable((m, k))
    if task.kind == "completion":
        idx = np.argwhere(task.mask)
        lhs = cp.hstack([X[int(a), int(c)] for a, c in idx])
    else:
        lhs = task.operator() @ cp.vec(X, order="C")
    cons = [lhs == task.b]
    prob = cp.Problem(cp.Minimize(cp.normNuc(X)), cons)
    try:
        prob.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
    except cp.error.SolverError as e:
        return MatrixPrediction("min_nuclear", np.zeros((m, k)), math.inf, status=Status.FAILED,
                                message=f"Clarabel failed: {str(e).splitlines()[0]}")
    if X.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
        bad = Status.INVALID_INPUT if "infeasible" in str(prob.status) else Status.FAILED
        why = "no matrix fits the measurements exactly" if bad == Status.INVALID_INPUT else "no solution"
        return MatrixPrediction("min_nuclear", np.zeros((m, k)), math.inf, status=bad,
                                message=f"Clarabel returned {prob.status}: {why}")
    W = np.array(X.value, dtype=np.float64)
    nu = np.asarray(cons[0].dual_value, dtype=np.float64).reshape(-1)
    primal = float(np.sum(np.linalg.svd(W, compute_uv=False)))
    # dual certificate: Y = Σ ν_i A_i (sign chosen so that bᵀν ≈ ‖W‖_*), scaled to ‖Y‖_op ≤ 1
    gap = math.inf
    for sgn in (1.0, -1.0):
        v = sgn * nu
        Y = (task.operator().T @ v).reshape(task.shape)
        op = float(np.linalg.norm(Y, 2))
        scale = max(1.0, op)
        dual = float(task.b @ v) / scale
        gap = min(gap, primal - dual)
    res = float(np.max(np.abs(task.residual(W))))
    status = Status.OK if prob.status == "optimal" else Status.INACCURATE
    return MatrixPrediction("min_nuclear", W, primal, status=status, gap=max(gap, 0.0), residual=res,
                            rank=_rank(W, 1e-6), message=f"Clarabel {prob.status}; duality gap {gap:.2e}")


def _als(task: MatrixTask, r: int, rng, iters: int, mu0: float):
    """ALS on W = PQᵀ with a decreasing balanced ridge; returns W."""
    m, k = task.shape
    P = rng.standard_normal((m, r))
    Q = rng.standard_normal((k, r))
    if task.kind == "completion":
        mask, vals = task.mask, task.values
    mus = np.geomspace(mu0, 1e-13, iters)
    for mu in mus:
        if task.kind == "completion":
            for i in range(m):
                o = mask[i]
                Qo = Q[o]
                P[i] = np.linalg.solve(Qo.T @ Qo + mu * np.eye(r), Qo.T @ vals[i, o])
            for j in range(k):
                o = mask[:, j]
                Po = P[o]
                Q[j] = np.linalg.solve(Po.T @ Po + mu * np.eye(r), Po.T @ vals[o, j])
        else:
            # ⟨A_i, PQᵀ⟩ is linear in P (and in Q): solve the ridge least squares for each block
            Ar = task.A  # n×m×k
            BP = np.einsum("imk,kr->imr", Ar, Q).reshape(task.n, m * r)
            P = np.linalg.solve(BP.T @ BP + mu * np.eye(m * r), BP.T @ task.b).reshape(m, r)
            BQ = np.einsum("imk,mr->ikr", Ar, P).reshape(task.n, k * r)
            Q = np.linalg.solve(BQ.T @ BQ + mu * np.eye(k * r), BQ.T @ task.b).reshape(k, r)
        # rebalance P, Q (same W, equal Gram matrices): keeps the ridge a nuclear-norm proxy
        U, s, Vt = np.linalg.svd(P @ Q.T, full_matrices=False)
        P = U[:, :r] * np.sqrt(s[:r])
        Q = Vt[:r].T * np.sqrt(s[:r])
    return P, Q


def _polish(task: MatrixTask, P, Q, max_vars: int = 2000):
    """min ½(‖P‖² + ‖Q‖²) s.t. ⟨A_i, PQᵀ⟩ = b_i by SLSQP from a feasible (P, Q): a locally
    nuclear-norm-minimal rank-r completion. Skipped above ``max_vars`` variables, and when the rank-r
    completions are isolated (n ≥ (m + k)r − r², the dimension of the rank-r matrices; SLSQP also needs
    fewer equality constraints than variables)."""
    from scipy.optimize import minimize

    m, r = P.shape
    k = Q.shape[0]
    if (m + k) * r > max_vars or task.n >= (m + k) * r - r * r:
        return P @ Q.T
    M = task.operator()

    def split(x):
        return x[: m * r].reshape(m, r), x[m * r:].reshape(k, r)

    def cons(x):
        Pp, Qq = split(x)
        return M @ (Pp @ Qq.T).ravel() - task.b

    def cons_jac(x):
        Pp, Qq = split(x)
        Ms = M.reshape(-1, m, k)
        dP = np.einsum("imk,kr->imr", Ms, Qq).reshape(-1, m * r)
        dQ = np.einsum("imk,mr->ikr", Ms, Pp).reshape(-1, k * r)
        return np.hstack([dP, dQ])

    x0 = np.concatenate([P.ravel(), Q.ravel()])
    res = minimize(lambda x: 0.5 * float(x @ x), x0, jac=lambda x: x, method="SLSQP",
                   constraints=[{"type": "eq", "fun": cons, "jac": cons_jac}],
                   options={"ftol": 1e-15, "maxiter": 500})
    Pp, Qq = split(res.x)
    W = Pp @ Qq.T
    W0 = P @ Q.T
    return W if np.max(np.abs(task.residual(W))) <= np.max(np.abs(task.residual(W0))) + 1e-12 else W0


def low_rank_candidates(task: MatrixTask, *, max_rank: int | None = None, starts: int = 8, seed: int = 0,
                        iters: int = 200, tol: float = 1e-8) -> list[MatrixPrediction]:
    """Exact low-rank completions: for r = 1, 2, … the distinct rank-r fits found by ALS from ``starts``
    random starts (deduplicated to 1e-4), stopping at the first rank that fits (max residual ≤ ``tol``·max|b|).
    Empty when no rank up to ``max_rank`` fits."""
    _check(task)
    m, k = task.shape
    max_rank = min(m, k) if max_rank is None else int(max_rank)
    rng = np.random.default_rng(seed)
    scale = max(float(np.max(np.abs(task.b))), 1e-300)
    for r in range(1, max_rank + 1):
        found: list[np.ndarray] = []
        for _ in range(starts):
            W = _polish(task, *_als(task, r, rng, iters, mu0=1e-2 * scale))
            if np.max(np.abs(task.residual(W))) <= tol * scale and not any(
                    np.linalg.norm(W - F) <= 1e-4 * max(1.0, np.linalg.norm(F)) for F in found):
                found.append(W)
        if found:
            found.sort(key=lambda W: float(np.sum(np.linalg.svd(W, compute_uv=False))))
            many = len(found) > 1
            return [MatrixPrediction(f"rank_{r}" + (f"_{j}" if many else ""), W,
                                     float(np.sum(np.linalg.svd(W, compute_uv=False))),
                                     residual=float(np.max(np.abs(task.residual(W)))), rank=_rank(W, 1e-6),
                                     message=f"rank-{r} completion (ALS with vanishing ridge)")
                    for j, W in enumerate(found)]
    return []


def predict_matrix(task: MatrixTask, *, candidates: bool = True, seed: int = 0) -> list[MatrixPrediction]:
    """All predictions for ``task``: min nuclear norm, min Frobenius, and the low-rank candidates."""
    out = [min_nuclear_norm(task), min_frobenius(task)]
    if candidates:
        out += low_rank_candidates(task, seed=seed)
    return out


def distances(W, predictions) -> dict[str, float]:
    """Relative Frobenius distance ‖W − W_pred‖/max(‖W_pred‖, 1e-300) of a run's W to each prediction.

    >>> distances(np.eye(2), [MatrixPrediction("a", np.eye(2), 2.0)])
    {'a': 0.0}
    """
    W = np.asarray(W, dtype=np.float64)
    return {p.name: float(np.linalg.norm(W - p.W) / max(float(np.linalg.norm(p.W)), 1e-300)) for p in predictions}


__all__ = ["MatrixPrediction", "distances", "low_rank_candidates", "min_frobenius", "min_nuclear_norm",
           "predict_matrix"]
