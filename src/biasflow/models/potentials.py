"""Dual potentials of mirror-flow models, in NumPy, evaluated without overflow (a leaf module).

A model whose gradient flow is exactly a mirror flow (Woodworth et al. 2020; Azulay et al. 2021) provides
``potential()``: a separable convex Φ = Σ_j Φ_j with β = Φ'(z), z = Aᵀν the accumulated dual variable.
This module holds the three families that occur, each a small immutable object with vectorized methods
(w and β of length d):

- ``beta(w)`` = Φ'(w), ``curvature(w)`` = Φ''(w), ``third(w)`` = Φ'''(w) (NaN or inf outside the domain),
  all three at once by ``derivatives(w)``;
- ``value(w)`` = Φ(w) − Φ(0); ``inverse(beta)`` = (Φ')⁻¹(β) = ∇Q(β); ``Q(beta)`` = Σ_j Q_j(β_j), Q = Φ*;
- ``bound``: the open box |w_j| < bound_j of the domain (inf when unbounded); ``scaled(c)``: c·Φ;
- ``unusable``: "" when the Q-solvers can use it in float64, else one line saying why not.

The exact flow (:mod:`biasflow.dynamics.exact`) and the bias solvers (:mod:`biasflow.bias.interpolate`,
:mod:`biasflow.bias.predict`) both evaluate these, so each closed form is written once.

- :class:`ExpPotential` — Φ_j'(w) = P_j e^{k w} − M_j e^{−k w} (every depth-2 diagonal model), with log P
  and log M stored, so that scales from 1e-300 to 1e300 are fine;
- :class:`PowerPotential` — Φ_j'(w) = a_j h_D(κ_j w), h_D(v) = (1 − v)^{−D/(D−2)} − (1 + v)^{−D/(D−2)} on
  |v| < 1 (tied depth D ≥ 3: a = α^D, κ = c_D α^{D−2}, c_D = D(D − 2));
- :class:`QuadPotential` — Φ_j'(w) = K_j w (depth 1 and the kernel limit: Q = Σ β_j²/(2K_j)).

>>> pot = ExpPotential(np.zeros(2), np.zeros(2), 2.0)     # Φ'(w) = 2 sinh(2w)
>>> w = np.array([0.1, -0.3])
>>> bool(np.allclose(pot.beta(w), 2 * np.sinh(2 * w), rtol=1e-15))
True
>>> bool(np.allclose(pot.third(w), 8 * np.sinh(2 * w), rtol=1e-15))
True
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

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
    """h_D(v) = (1 − v)^{−D/(D−2)} − (1 + v)^{−D/(D−2)} on (−1, 1) (docs/theory/diagonal.md §3.2), accurate near 0."""
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
    unusable: str = ""

    @property
    def d(self) -> int:
        return int(np.size(self.logP))

    @property
    def bound(self) -> np.ndarray:
        return np.full(self.d, np.inf)

    def scaled(self, c: float) -> ExpPotential:
        lc = math.log(c)
        return ExpPotential(self.logP + lc, self.logM + lc, self.k, self.unusable)

    @functools.cached_property
    def _near(self):
        """(P − M, P + M): the constants of the small-|kw| form, computed once."""
        with np.errstate(over="ignore", invalid="ignore"):
            return _exp_diff(self.logP, self.logM), np.exp(np.logaddexp(self.logP, self.logM))

    @functools.cached_property
    def _symmetric(self) -> bool:
        return bool(np.array_equal(self.logP, self.logM))

    def beta(self, w):
        kw = self.k * np.asarray(w, dtype=float)
        diff, total = self._near
        if self._symmetric:  # P = M: Φ' = 2P sinh(kw), exact to rounding; the log form only past overflow
            with np.errstate(over="ignore", invalid="ignore"):
                out = total * np.sinh(kw)
            bad = ~np.isfinite(out)
            if bad.any():
                out = np.where(bad, _exp_diff(self.logP + kw, self.logM - kw), out)
            return out
        big = _exp_diff(self.logP + kw, self.logM - kw)
        # near w = 0, log P + kw would round kw away: use (P − M) cosh x + (P + M) sinh x instead
        small = np.abs(kw) <= 2.0
        x = np.where(small, kw, 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            near = diff * np.cosh(x) + total * np.sinh(x)
        return np.where(small & np.isfinite(near), near, big)

    def derivatives(self, w):
        """(Φ'(w), Φ''(w), Φ'''(w)) in one pass: Φ'' = k(P e^{kw} + M e^{−kw}) summed directly (a sum of
        positives: within two roundings of :meth:`curvature`), Φ''' = k²Φ'."""
        b = self.beta(w)
        kw = self.k * np.asarray(w, dtype=float)
        with np.errstate(over="ignore"):
            c = self.k * (np.exp(self.logP + kw) + np.exp(self.logM - kw))
        return b, c, self.k * self.k * b

    def log_curvature(self, w):
        kw = self.k * np.asarray(w, dtype=float)
        return math.log(self.k) + np.logaddexp(self.logP + kw, self.logM - kw)

    def curvature(self, w):
        with np.errstate(over="ignore"):
            return np.exp(self.log_curvature(w))

    def third(self, w):
        """Φ'''(w) = k²Φ'(w)."""
        return self.k * self.k * self.beta(w)

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
    unusable: str = ""

    @property
    def d(self) -> int:
        return int(np.size(self.loga))

    @property
    def bound(self) -> np.ndarray:
        return np.exp(-self.logk)

    def scaled(self, c: float) -> PowerPotential:
        return PowerPotential(self.loga + math.log(c), self.logk, self.depth, self.unusable)

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

    def third(self, w):
        """Φ'''(w) = aκ² e(e − 1)[(1 − v)^{e−2} − (1 + v)^{e−2}], v = κw, e = −D/(D − 2); NaN off |v| < 1."""
        D = self.depth
        e = -D / (D - 2.0)
        v = self._v(w)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            lo, hi = 1.0 - v, 1.0 + v
            bad = (lo <= 0) | (hi <= 0)
            lo = np.where(bad, np.nan, lo)
            hi = np.where(bad, np.nan, hi)
            return np.exp(self.loga + 2.0 * self.logk) * e * (e - 1.0) * (lo ** (e - 2.0) - hi ** (e - 2.0))

    def derivatives(self, w):
        """(Φ'(w), Φ''(w), Φ'''(w))."""
        return self.beta(w), self.curvature(w), self.third(w)

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
    unusable: str = ""

    @property
    def d(self) -> int:
        return int(np.size(self.K))

    @property
    def bound(self) -> np.ndarray:
        return np.full(self.d, np.inf)

    def scaled(self, c: float) -> QuadPotential:
        return QuadPotential(self.K * c, self.unusable)

    def beta(self, w):
        return self.K * np.asarray(w, dtype=float)

    def log_curvature(self, w):
        return np.log(self.K) + 0.0 * np.asarray(w, dtype=float)

    def curvature(self, w):
        return self.K + 0.0 * np.asarray(w, dtype=float)

    def third(self, w):
        return 0.0 * np.asarray(w, dtype=float)

    def derivatives(self, w):
        """(Φ'(w), Φ''(w), Φ'''(w))."""
        return self.beta(w), self.curvature(w), self.third(w)

    def value(self, w):
        w = np.asarray(w, dtype=float)
        return 0.5 * self.K * w * w

    def inverse(self, beta):
        return np.asarray(beta, dtype=float) / self.K

    def Q(self, beta) -> float:
        beta = np.asarray(beta, dtype=float)
        return float(np.sum(beta * beta / (2.0 * self.K)))


Potential = ExpPotential | PowerPotential | QuadPotential
