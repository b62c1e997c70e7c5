"""Linear separability, the hard set and the loss floor of non-separable data (docs/theory/numerics.md §2.5).

Classification data are *separable* iff the linear program "find β with X̃β ≥ 1" is feasible (solved by
HiGHS through :func:`scipy.optimize.linprog`). Otherwise the exp and logistic losses have a floor ℒ* > 0
(Ji & Telgarsky 2019b): the points split into a separable subset S, which some β separates with positive
margin while keeping every other margin ≥ 0, and a *hard set* H = complement of S, on which the data are
strongly non-separable, and

    ℒ* = (1/n) min_β Σ_{i∈H} ℓ(x̃_iᵀβ)        (attained; found by a trust-region Newton solve)

For square loss (regression) the floor is the least-squares residual ½ mean((y − Xβ_ls)²).

>>> import numpy as np
>>> from biasflow.data import gaussian, non_separable
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> check(ds).separable
True
>>> sep = check(non_separable(ds), "exp")         # a point copied with its label flipped
>>> sep.separable, sorted(sep.hard_set)
(False, [0, 10])
>>> bool(abs(sep.floor - 2 / 11) < 1e-10)          # floor 2ℓ(0)/n (docs/theory/oracles.md §8.20)
True
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError
from ..levels import LN10

_TOL = 1e-9


@dataclasses.dataclass(frozen=True)
class Separability:
    """Result of :func:`check`.

    Attributes:
        separable: True iff X̃β ≥ 1 is feasible (regression: True iff y lies in range(X), i.e. the
            least-squares floor is zero to float64 resolution).
        hard_set: indices of the hard set H (empty when separable).
        floor_log10: log10 of the loss floor ℒ* (−inf when separable / interpolable; None when no loss
            was given).
        margin: the LP margin max γ s.t. X̃β ≥ γ, ‖β‖∞ ≤ 1 (> 0 iff separable; classification only).
        loss: the loss name the floor refers to.
    """

    separable: bool
    hard_set: tuple[int, ...] = ()
    floor_log10: float | None = None
    margin: float | None = None
    loss: str | None = None

    @property
    def floor(self) -> float | None:
        """ℒ* as a float (0.0 when separable)."""
        if self.floor_log10 is None:
            return None
        return 0.0 if self.floor_log10 == -math.inf else 10.0**self.floor_log10


def _linprog(c, A_ub, b_ub, bounds):
    from scipy.optimize import linprog  # imported on demand: the quick certificate usually suffices
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status not in (0, 2):
        raise BiasflowError(f"separability LP failed ({res.message}); check the data for extreme values")
    return res


def _margin_lp(A: np.ndarray) -> float:
    """max γ s.t. Aβ ≥ γ, −1 ≤ β ≤ 1 (variables β, γ)."""
    n, d = A.shape
    c = np.zeros(d + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A, np.ones((n, 1))])
    res = _linprog(c, A_ub, np.zeros(n), [(-1.0, 1.0)] * d + [(None, None)])
    return float(-res.fun)


def _quick_certificate(A: np.ndarray) -> bool:
    """A cheap proof of separability: the least-squares solution of Aβ = 1 (exact when rank A = n ≤ d)
    has all margins ≥ 1/2, so 2β is feasible for the LP. False means "undecided", not "non-separable"."""
    n, d = A.shape
    try:
        if n <= d:  # min-norm solution through the n×n Gram matrix
            beta = A.T @ np.linalg.solve(A @ A.T, np.ones(n))
        else:
            beta = np.linalg.lstsq(A, np.ones(n), rcond=None)[0]
    except np.linalg.LinAlgError:
        return False
    m = A @ beta
    return bool(np.all(np.isfinite(m)) and m.min() >= 0.5)


def _separable_subset(A: np.ndarray) -> np.ndarray:
    """Indices S that some β with Aβ ≥ 0 makes strictly positive (the union over the cone)."""
    n, d = A.shape
    pos = np.zeros(n, bool)
    scale = max(1.0, float(np.abs(A).max()))
    while True:
        rest = np.flatnonzero(~pos)
        if rest.size == 0:
            return pos
        # variables (β, s_rest): max Σ s  s.t.  Aβ ≥ s on rest, Aβ ≥ 0 on pos, 0 ≤ s ≤ 1, |β| ≤ big
        k = rest.size
        c = np.concatenate([np.zeros(d), -np.ones(k)])
        S = np.zeros((n, k))
        S[rest, np.arange(k)] = 1.0
        A_ub = np.hstack([-A / scale, S])
        res = _linprog(c, A_ub, np.zeros(n), [(-1e6, 1e6)] * d + [(0.0, 1.0)] * k)
        new = rest[res.x[d:] > 1e-7]
        if new.size == 0:
            return pos
        pos[new] = True


def _floor(A_hard: np.ndarray, loss: str, n: int) -> float:
    """log ℒ* = log((1/n) min_β Σ_{i∈H} ℓ(x̃_iᵀβ)), minimized over β in the span of the hard rows."""
    U, sv, _ = np.linalg.svd(A_hard, full_matrices=False)
    r = int(np.sum(sv > sv.max() * 1e-12)) if sv.size else 0
    if r == 0:  # all hard rows are zero: margins are 0 whatever β
        return math.log(A_hard.shape[0] * (1.0 if loss == "exp" else math.log(2.0)) / n)
    G = U[:, :r] * sv[:r]  # m = G c for β in the row span (orthonormal coordinates)

    if loss == "exp":
        def fun(c):
            m = G @ c
            lo = -m
            mx = lo.max()
            e = np.exp(lo - mx)
            se = e.sum()
            val = mx + math.log(se)  # log Σ e^{-m}
            p = e / se
            grad = -G.T @ p
            H = G.T @ ((np.diag(p) - np.outer(p, p)) @ G)
            return val, grad, H
    else:
        def fun(c):
            m = G @ c
            ell = np.logaddexp(0.0, -m)
            sig = 0.5 * (1.0 - np.tanh(0.5 * m))  # σ(−m)
            val = float(ell.sum())
            grad = -G.T @ sig
            H = G.T @ ((sig * (1.0 - sig))[:, None] * G)
            return val, grad, H

    cache: dict = {}

    def get(c):
        key = c.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = fun(c)
        return cache[key]

    from scipy.optimize import minimize

    res = minimize(lambda c: get(c)[0], np.zeros(r), jac=lambda c: get(c)[1], hess=lambda c: get(c)[2],
                   method="trust-exact", options={"gtol": 1e-13, "maxiter": 500})
    val = float(res.fun)
    return (val if loss == "exp" else math.log(val)) - math.log(n)


def check(data: Dataset, loss=None, margin: bool = True) -> Separability:
    """Decide separability with HiGHS and, when a loss is given, solve the loss floor.

    Args:
        data: a :class:`~biasflow.data.Dataset`.
        loss: ``None``, a loss name or a :class:`~biasflow.losses.Loss` (``exp``, ``logistic``, ``square``).
        margin: also solve the margin LP (skip it with ``False`` when only separability is needed).

    Returns:
        :class:`Separability`; for regression data, ``separable`` means y ∈ range(X) (to relative
        1e-10) and the floor is the least-squares value.
    """
    name = getattr(loss, "name", loss)
    if data.task == "regression":
        X, y = np.asarray(data.X), np.asarray(data.y)
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        res = y - X @ beta
        scale = max(float(np.linalg.norm(y)), 1e-300)
        interp = float(np.linalg.norm(res)) <= 1e-10 * scale
        fl = -math.inf if interp else math.log10(0.5 * float(np.mean(res**2)))
        return Separability(separable=interp, floor_log10=fl, loss=name or "square")

    A = np.asarray(data.A, dtype=np.float64)
    n, d = A.shape
    separable = _quick_certificate(A)
    if not separable:
        res = _linprog(np.zeros(d), -A, -np.ones(n), [(None, None)] * d)
        separable = res.status == 0
    margin = _margin_lp(A) if margin else None
    if separable:
        fl = -math.inf if name is not None else None
        return Separability(True, (), fl, margin, name)
    hard = np.flatnonzero(~_separable_subset(A))
    fl = None
    if name is not None:
        if name not in ("exp", "logistic"):
            raise BiasflowError(f"loss {name!r} does not apply to classification data; use exp or logistic")
        fl = _floor(A[hard], name, n) / LN10
    return Separability(False, tuple(int(i) for i in hard), fl, margin, name)


__all__ = ["Separability", "check"]
