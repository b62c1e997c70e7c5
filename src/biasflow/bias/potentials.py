"""Q-potentials of diagonal networks and their convex conjugates, evaluated without overflow.

Every diagonal network's gradient flow is a mirror flow (Woodworth et al. 2020; Azulay et al. 2021;
THEORY.md §3.2–3.4): with the integrated residual ν(t) and z = Aᵀν,

    β_j(t) = Φ_j'(z_j(t)),

for a convex, separable *dual potential* Φ = Σ_j Φ_j. Its conjugate Q = Φ* (Q_j' = (Φ_j')⁻¹) is the
*Q-potential*: square-loss flow ends at argmin Q(β) s.t. Xβ = y, and the normalized classification path
solves a Q_μ max-margin problem (THEORY.md §3.5). This module holds the three families that occur, each as
a small immutable object with vectorized NumPy methods:

- :class:`ExpPotential` — Φ_j'(w) = P_j e^{k w} − M_j e^{−k w} (every depth-2 diagonal model: tied D = 2 with
  P = M = α², k = 4; two-branch untied with P = M = (u0² + v0²)/2, k = 2; one-branch u⊙v with
  P = (u0 + v0)²/4, M = (u0 − v0)²/4, k = 2). P and M are stored as logarithms, so α from 1e-300 to 1e300
  is fine; values follow THEORY.md §7 (``2ϱ cosh z = exp(log ϱ + |z| + log1p(e^{−2|z|}))``).
- :class:`PowerPotential` — Φ_j'(w) = a_j h_D(κ_j w), h_D(v) = (1 − v)^{−D/(D−2)} − (1 + v)^{−D/(D−2)} on
  |v| < 1 (tied depth D ≥ 3: a = α^D, κ = c_D α^{D−2}, c_D = D(D − 2)).
- :class:`QuadPotential` — Φ_j'(w) = K_j w (depth 1 and the kernel limit: Q = Σ β_j²/(2K_j)).

Methods (all elementwise, w and β of length d): ``beta(w)`` = Φ'(w); ``curvature(w)`` = Φ''(w);
``value(w)`` = Φ(w) − Φ(0); ``inverse(beta)`` = (Φ')⁻¹(β) = ∇Q(β); ``Q(beta)`` = Σ_j Q_j(β_j) with
Q(Φ'(0)) = 0; ``bound`` = the open box |w_j| < bound_j of the domain (inf when unbounded);
``scaled(c)`` the potential c·Φ (whose β is c times larger: used for μ = α^D/γ).

The closed forms of THEORY.md §3.4 are recovered: for D = 2 and unit α, Q is the hypentropy
α² q(β/α²)/4 with q(z) = 2 − √(4 + z²) + z·arcsinh(z/2) (the ¼ is the time constant c_2 = 4 of the
flow's clock; it does not change argmins).

>>> import numpy as np
>>> pot = potential_of(Diagonal(d=3, depth=2, alpha=0.5))
>>> w = np.array([0.1, -0.2, 0.0])
>>> bool(np.allclose(pot.beta(w), 2 * 0.25 * np.sinh(4 * w)))
True
>>> bool(np.allclose(pot.inverse(pot.beta(w)), w, rtol=1e-14, atol=0))
True
>>> pot.Q(np.zeros(3))
0.0
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import BiasflowError
from ..levels import LN10
from ..models.diagonal import Diagonal, UntiedDiagonal

_LOG_MAX = math.log(np.finfo(np.float64).max)


def _exp_diff(a, b):
    """e^a − e^b, with full relative accuracy (e^b·expm1(a − b) around the larger term)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    hi = np.maximum(a, b)
    lo = np.minimum(a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.exp(hi) * -np.expm1(lo - hi)
        out = np.where(hi == -np.inf, 0.0, out)
    return np.where(a >= b, out, -out)


def q_hypentropy(z):
    """Woodworth's q(z) = ∫₀^z arcsinh(u/2) du = 2 − √(4 + z²) + z·arcsinh(z/2), stable for all z.

    >>> float(q_hypentropy(0.0)), round(float(q_hypentropy(2.0)), 12)
    (0.0, 0.934320049293)
    """
    z = np.abs(np.asarray(z, dtype=float))
    # 2 − √(4 + z²) = −z²/(2 + √(4 + z²)) avoids cancellation at small z
    return z * np.arcsinh(z / 2.0) - z * z / (2.0 + np.sqrt(4.0 + z * z))


def h_depth(v, D: int):
    """h_D(v) = (1 − v)^{−D/(D−2)} − (1 + v)^{−D/(D−2)} on (−1, 1) (THEORY.md §3.2), accurate near 0."""
    v = np.asarray(v, dtype=float)
    p = D / (D - 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _exp_diff(-p * np.log1p(-v), -p * np.log1p(v))


def h_depth_inverse(t, D: int):
    """h_D⁻¹(t), by monotone Newton (small |t| in v, large |t| in the gap g = 1 − |v|); odd in t.

    >>> v = np.array([-0.999, -0.3, 0.0, 1e-9, 0.5, 0.999999])
    >>> bool(np.allclose(h_depth_inverse(h_depth(v, 3), 3), v, rtol=1e-13, atol=1e-300))
    True
    """
    t = np.asarray(t, dtype=float)
    s = np.sign(t)
    a = np.abs(t)
    p = D / (D - 2.0)
    out = np.zeros_like(a)
    small = a <= 1.0
    # convex increasing on [0, 1): Newton from the tangent-at-0 guess decreases monotonically to the root
    v = a[small] / (2.0 * p)
    extra = 1
    for _ in range(60):
        f = h_depth(v, D) - a[small]
        fp = p * ((1.0 - v) ** (-p - 1.0) + (1.0 + v) ** (-p - 1.0))
        step = f / fp
        v = v - step
        if np.all(np.abs(step) <= 1e-13 * np.maximum(v, 1e-300)):
            if extra == 0:  # quadratic convergence: one more step after 1e-13 reaches rounding
                break
            extra -= 1
    out[small] = v
    big = ~small
    if np.any(big):
        ab = a[big]
        g = (ab + 1.0) ** (-1.0 / p)  # left of the root of the convex decreasing F(g) = g^{-p} − (2−g)^{-p}
        extra = 1
        for _ in range(200):
            F = g ** (-p) - (2.0 - g) ** (-p) - ab
            Fp = -p * (g ** (-p - 1.0) + (2.0 - g) ** (-p - 1.0))
            step = F / Fp
            g = np.minimum(g - step, 1.0)
            if np.all(np.abs(step) <= 1e-13 * g):
                if extra == 0:
                    break
                extra -= 1
        out[big] = 1.0 - g
    return s * out


def _big_H(v, D: int):
    """H_D(v) − H_D(0), H_D(v) = ((D−2)/2)[(1−v)^{−2/(D−2)} + (1+v)^{−2/(D−2)}], H_D' = h_D."""
    q = 2.0 / (D - 2.0)
    v = np.asarray(v, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # e^a + e^b − 2 = 2[expm1(s)·cosh δ + 2 sinh²(δ/2)], s = (a+b)/2 ≥ 0, δ = (a−b)/2: no cancellation
        s = -0.5 * q * np.log1p(-v * v)
        dl = 0.5 * q * (np.log1p(v) - np.log1p(-v))
        return (D - 2.0) * (np.expm1(s) * np.cosh(dl) + 2.0 * np.sinh(0.5 * dl) ** 2)


@dataclasses.dataclass(frozen=True, eq=False)
class ExpPotential:
    """Φ_j'(w) = P_j e^{k w} − M_j e^{−k w}, with log P, log M stored (P, M > 0), k > 0."""

    logP: np.ndarray
    logM: np.ndarray
    k: float

    @property
    def d(self) -> int:
        return int(np.size(self.logP))

    @property
    def bound(self) -> np.ndarray:
        return np.full(self.d, np.inf)

    def scaled(self, c: float) -> ExpPotential:
        lc = math.log(c)
        return ExpPotential(self.logP + lc, self.logM + lc, self.k)

    def beta(self, w):
        kw = self.k * np.asarray(w, dtype=float)
        big = _exp_diff(self.logP + kw, self.logM - kw)
        # near w = 0, log P + kw would round kw away: use (P − M) cosh x + (P + M) sinh x instead
        small = np.abs(kw) <= 2.0
        x = np.where(small, kw, 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            near = _exp_diff(self.logP, self.logM) * np.cosh(x) + np.exp(
                np.logaddexp(self.logP, self.logM)
            ) * np.sinh(x)
        return np.where(small & np.isfinite(near), near, big)

    def log_curvature(self, w):
        kw = self.k * np.asarray(w, dtype=float)
        return math.log(self.k) + np.logaddexp(self.logP + kw, self.logM - kw)

    def curvature(self, w):
        with np.errstate(over="ignore"):
            return np.exp(self.log_curvature(w))

    def value(self, w):
        """Φ(w) − Φ(0) = (P(e^{kw} − 1) + M(e^{−kw} − 1))/k, with inf on overflow (never NaN)."""
        kw = self.k * np.asarray(w, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            small = np.abs(kw) < 1.0
            kws = np.where(small, kw, 0.0)
            # P·expm1(x) + M·expm1(−x) = (P − M) sinh x + 2(P + M) sinh²(x/2): no cancellation at small x
            v_small = (
                _exp_diff(self.logP, self.logM) * np.sinh(kws)
                + 2.0 * np.exp(np.logaddexp(self.logP, self.logM)) * np.sinh(0.5 * kws) ** 2
            ) / self.k
            big = np.logaddexp(self.logP + kw, self.logM - kw)
            v_big = (np.exp(big) - np.exp(np.logaddexp(self.logP, self.logM))) / self.k
            out = np.where(small, v_small, v_big)
        return np.where(np.isnan(out), np.inf, out)

    def inverse(self, beta):
        """w = w0 + arcsinh(β/(2√(PM)))/k with w0 = (log M − log P)/(2k)."""
        beta = np.asarray(beta, dtype=float)
        w0 = (self.logM - self.logP) / (2.0 * self.k)
        lg = 0.5 * (self.logP + self.logM)  # log √(PM)
        # arcsinh(x) for x = β e^{−lg}/2 without overflow: sign·(log|β| − lg − log 2... ) when huge
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            x = beta * np.exp(-lg) / 2.0
            ash = np.where(
                np.isfinite(x),
                np.arcsinh(np.where(np.isfinite(x), x, 0.0)),
                np.sign(beta) * (np.log(np.abs(beta)) - lg),
            )
        return w0 + ash / self.k

    def Q(self, beta) -> float:
        """Σ_j Q_j(β_j) with Q_j = Φ_j* normalized to 0 at β_j = Φ_j'(0)."""
        beta = np.asarray(beta, dtype=float)
        w = self.inverse(beta)
        return float(np.sum(beta * w - self.value(w)))


@dataclasses.dataclass(frozen=True, eq=False)
class PowerPotential:
    """Φ_j'(w) = a_j h_D(κ_j w) on |κ_j w| < 1 (tied diagonal, depth D ≥ 3), with log a, log κ stored."""

    loga: np.ndarray
    logk: np.ndarray
    depth: int

    @property
    def d(self) -> int:
        return int(np.size(self.loga))

    @property
    def bound(self) -> np.ndarray:
        return np.exp(-self.logk)

    def scaled(self, c: float) -> PowerPotential:
        return PowerPotential(self.loga + math.log(c), self.logk, self.depth)

    def _v(self, w):
        return np.exp(self.logk) * np.asarray(w, dtype=float)

    def beta(self, w):
        with np.errstate(over="ignore"):
            return np.exp(self.loga) * h_depth(self._v(w), self.depth)

    def log_curvature(self, w):
        v = self._v(w)
        D = self.depth
        p = D / (D - 2.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lh = math.log(p) + np.logaddexp(-(p + 1.0) * np.log1p(-v), -(p + 1.0) * np.log1p(v))
        return np.where(np.abs(v) < 1.0, self.loga + self.logk + lh, np.inf)

    def curvature(self, w):
        with np.errstate(over="ignore"):
            return np.exp(self.log_curvature(w))

    def value(self, w):
        v = self._v(w)
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.exp(self.loga - self.logk) * _big_H(v, self.depth)
        return np.where((np.abs(v) < 1.0) & ~np.isnan(out), out, np.inf)

    def inverse(self, beta):
        beta = np.asarray(beta, dtype=float)
        with np.errstate(over="ignore"):
            t = beta * np.exp(-self.loga)
        return h_depth_inverse(t, self.depth) * np.exp(-self.logk)

    def Q(self, beta) -> float:
        beta = np.asarray(beta, dtype=float)
        w = self.inverse(beta)
        return float(np.sum(beta * w - self.value(w)))


@dataclasses.dataclass(frozen=True, eq=False)
class QuadPotential:
    """Φ_j'(w) = K_j w: Q(β) = Σ β_j²/(2K_j) (depth 1, and every model's kernel limit)."""

    K: np.ndarray

    @property
    def d(self) -> int:
        return int(np.size(self.K))

    @property
    def bound(self) -> np.ndarray:
        return np.full(self.d, np.inf)

    def scaled(self, c: float) -> QuadPotential:
        return QuadPotential(self.K * c)

    def beta(self, w):
        return self.K * np.asarray(w, dtype=float)

    def log_curvature(self, w):
        return np.log(self.K) + 0.0 * np.asarray(w, dtype=float)

    def curvature(self, w):
        return self.K + 0.0 * np.asarray(w, dtype=float)

    def value(self, w):
        w = np.asarray(w, dtype=float)
        return 0.5 * self.K * w * w

    def inverse(self, beta):
        return np.asarray(beta, dtype=float) / self.K

    def Q(self, beta) -> float:
        beta = np.asarray(beta, dtype=float)
        return float(np.sum(beta * beta / (2.0 * self.K)))


Potential = ExpPotential | PowerPotential | QuadPotential


def potential_of(model) -> Potential:
    """The dual potential Φ of a diagonal model's gradient flow (β = Φ'(Aᵀν), THEORY.md §3.2, §3.7).

    Supports :class:`~biasflow.models.diagonal.Diagonal` (any depth, any shape) and
    :class:`~biasflow.models.diagonal.UntiedDiagonal` (one or two branches). Raises
    :class:`~biasflow.errors.BiasflowError` for other models.

    >>> m = Diagonal(d=2, depth=3, alpha=0.1)
    >>> import numpy as np
    >>> z = np.array([0.5, -1.0])
    >>> bool(np.allclose(potential_of(m).beta(z), np.asarray(m.beta_of_z(z)), rtol=1e-13))
    True
    """
    if isinstance(model, Diagonal):
        a = np.asarray(model.scales, dtype=float)
        la = np.log(a)
        D = int(model.depth)
        if D == 1:
            return QuadPotential(np.full(model.d, 2.0))
        lo, hi = float(la.min()), float(la.max())
        if D * lo < -690.0 or D * hi > 690.0:
            r = 690.0 / (D * LN10)
            raise BiasflowError(
                f"alpha^D = 1e{D * (lo if D * lo < -690 else hi) / LN10:.0f} is outside "
                f"float64's usable "
                f"range for depth {D}: the Q-potential needs alpha (times shape) in [1e-{r:.0f}, 1e{r:.0f}]"
            )
        if D == 2:
            return ExpPotential(2.0 * la, 2.0 * la, 4.0)
        return PowerPotential(D * la, math.log(D * (D - 2.0)) + (D - 2.0) * la, D)
    if isinstance(model, UntiedDiagonal):
        d = model.d
        if model.branches == 2:
            lr = math.log((model.u0**2 + model.v0**2) / 2.0)
            return ExpPotential(np.full(d, lr), np.full(d, lr), 2.0)
        s, t = model.u0 + model.v0, model.u0 - model.v0
        if s == 0.0 or t == 0.0:
            raise BiasflowError(
                "one-branch u⊙v with |u0| = |v0| keeps the sign of β fixed and has no finite Q-potential; "
                "start with |u0| ≠ |v0| (e.g. UntiedDiagonal.even)"
            )
        return ExpPotential(
            np.full(d, 2.0 * math.log(abs(s)) - math.log(4.0)),
            np.full(d, 2.0 * math.log(abs(t)) - math.log(4.0)),
            2.0,
        )
    raise BiasflowError(
        f"model {getattr(model, 'name', type(model).__name__)!r} has no Q-potential in biasflow; "
        "interpolate and predict support the diagonal models (diagonal, diagonal-untied, diagonal-uv)"
    )


def Q(model, beta) -> float:
    """The model's Q-potential at β (THEORY.md §3.4): Q(β) = Φ*(β), 0 at the initial predictor.

    >>> import numpy as np
    >>> m = Diagonal(d=1, depth=2, alpha=1.0)
    >>> b = np.array([2.0])
    >>> abs(Q(m, b) - float(q_hypentropy(b / 1.0)[0]) / 4) < 1e-15
    True
    """
    return potential_of(model).Q(beta)
