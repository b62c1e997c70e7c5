"""Exact gradient flow of diagonal networks in dual variables (Woodworth et al. 2020;
docs/theory/diagonal.md §3.2–§3.3).

For every model with a dual solution β = b(z), z = Aᵀν (A = X̃ for classification, X for regression),
gradient flow on the 2d (or more) parameters is *exactly* an ODE on the n-vector ν, the integrated
residual ν(t) = (1/n)∫₀ᵗ r ds. On the τ-clock (dτ = ℒ dt):

    dν/dτ = w(m),     m = A b(Aᵀν),     w = r/(nℒ)  (softmax(−m) for exp loss, so Σν = τ exactly)

and d(−log ℒ)/dτ = g := Σ_j b'(z_j) (Aᵀw)_j². The same equation covers exp and logistic classification
and square-loss regression (where w = 2r/‖r‖²). :mod:`biasflow.dynamics.clock` integrates it through the
saddle on the τ-clock and then on the σ = log(s − s(0)) clock, s = −log ℒ, where the flow is smooth and
stiff: an implicit solver with the analytic Jacobian below takes O(1) steps per unit of σ, whatever the
target loss.

Analytic Jacobian (all n×n, K := A diag(b') Aᵀ, q := Aᵀw):

    ∂w/∂m = −diag(c) + wwᵀ,   c = w (exp), w⊙σ(m) (logistic), 2/‖r‖² (square)
    ∂F/∂ν = (∂w/∂m) K,   ∂s/∂ν = K w,   ∂g/∂ν = A(b''⊙q²) + 2 K (∂w/∂m)ᵀ A(b'⊙q)

The maps b, b', b'' are the model's potential Φ', Φ'', Φ''' (``model.potential()``, NumPy closed forms
shared with the bias solvers; depth-2 forms are evaluated in the log domain, so α as small as 1e-150 never
underflows), and the parameters come from ``model.params_of_z`` on NumPy input.

>>> from biasflow.data import gaussian
>>> from biasflow.losses import EXP
>>> from biasflow.models import Diagonal
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> sys_ = DualSystem(Diagonal(d=30, depth=2, alpha=0.1), ds, EXP)
>>> import numpy as np
>>> nu = np.full(10, 0.05)
>>> F, s, g = sys_.evaluate(nu)
>>> bool(abs(F.sum() - 1.0) < 1e-14)                     # exp-loss weights sum to 1
True
"""

from __future__ import annotations

import math

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError
from ..losses import Loss
from ..models.base import has_dual
from ..models.potentials import PowerPotential
from .clock import LN10, integrate

_LOG_SWITCH = 30.0


# ---------------------------------------------------------------------------------------------- β maps
def dual_maps(model):
    """NumPy callables z ↦ (b(z), b'(z), b''(z)) for the model's exact map β = b(z) = Φ'(z) (elementwise),
    from the potential the model provides (:mod:`biasflow.models.potentials`)."""
    return model.potential().derivatives


# ---------------------------------------------------------------------------------------------- losses
def loss_terms(name: str, m: np.ndarray, y: np.ndarray | None):
    """(log ℒ, w, c) in NumPy: w = r/(nℒ) and ∂w/∂m = −diag(c) + wwᵀ (see module docstring).

    The weights are formed as shifted softmaxes, so they are exact to rounding relative to themselves
    even when log ℒ is −1e6 (no catastrophic cancellation in exp(log r − log ℒ)).
    """
    n = m.shape[0]
    if name == "exp":
        lt = -m
        mx = np.max(lt)
        e = np.exp(lt - mx)
        S = float(np.sum(e))
        w = e / S
        return mx + math.log(S) - math.log(n), w, w
    if name == "logistic":
        lo = np.minimum(m, _LOG_SWITCH)
        hi = np.maximum(m, _LOG_SWITCH)
        lt = np.where(m <= _LOG_SWITCH, np.log(np.logaddexp(0.0, -lo)), -hi + np.log1p(-0.5 * np.exp(-hi)))
        mx = np.max(lt)
        S = float(np.sum(np.exp(lt - mx)))
        log_sig_neg = -(np.maximum(m, 0.0) + np.log1p(np.exp(-np.abs(m))))
        w = np.exp(log_sig_neg - mx) / S
        sig = 0.5 * (1.0 + np.tanh(0.5 * m))  # σ(m)
        return mx + math.log(S) - math.log(n), w, w * sig
    r = y - m
    rr = float(r @ r)
    logL = math.log(0.5 * rr / n) if rr > 0 else -math.inf
    w = 2.0 * r / rr if rr > 0 else np.zeros_like(r)
    return logL, w, np.full(n, 2.0 / rr if rr > 0 else 0.0)


# ---------------------------------------------------------------------------------------------- system
class DualSystem:
    """The dual flow dν/dτ = w(A b(Aᵀν)) as a :class:`~biasflow.dynamics.clock.LossClockSystem`."""

    has_jacobian = True

    def __init__(self, model, data: Dataset, loss: Loss):
        if not has_dual(model):
            raise BiasflowError(
                f"model {getattr(model, 'name', model)!r} has no exact dual solution; use method='autodiff'"
            )
        self.model = model
        self._data = data
        self.A = np.ascontiguousarray(np.asarray(data.A, dtype=np.float64))
        self.At = np.ascontiguousarray(self.A.T)
        self.y = np.asarray(data.y, dtype=np.float64)
        self.loss = loss
        self.name = loss.name
        self.maps = dual_maps(model)
        self.dim = self.A.shape[0]
        self.time_clock = loss.name == "square"
        self._key = None
        self._val = None

    def x0(self):
        return np.zeros(self.dim)

    def _state(self, nu):
        key = nu.tobytes()
        if key == self._key:
            return self._val
        z = self.At @ nu
        b, b1, b2 = self.maps(z)
        m = self.A @ b
        logL, w, c = loss_terms(self.name, m, self.y)
        q = self.At @ w
        g = float(b1 @ (q * q))
        val = (z, b, b1, b2, m, logL, w, c, q, g)
        self._key, self._val = key, val
        return val

    def shares_data_with(self, other) -> bool:
        return isinstance(other, DualSystem) and other.A is self.A and other.name == self.name

    @staticmethod
    def evaluate_many(systems, nus):
        """Fill the caches of several systems on the same data with two matrix-matrix products."""
        first = systems[0]
        V = np.stack(nus, axis=1)
        Z = first.At @ V
        maps = [sy.maps(Z[:, j]) for j, sy in enumerate(systems)]
        B = np.stack([mp[0] for mp in maps], axis=1)
        M = first.A @ B
        terms = [loss_terms(first.name, M[:, j], first.y) for j in range(len(systems))]
        W = np.stack([tm[1] for tm in terms], axis=1)
        Q = first.At @ W
        for j, sy in enumerate(systems):
            b, b1, b2 = maps[j]
            q = Q[:, j]
            logL, w, c = terms[j]
            sy._key = nus[j].tobytes()
            sy._val = (Z[:, j], b, b1, b2, M[:, j], logL, w, c, q, float(b1 @ (q * q)))

    def evaluate(self, nu):
        z, b, b1, b2, m, logL, w, c, q, g = self._state(nu)
        if not (np.isfinite(logL) or logL == -math.inf) or not np.isfinite(g):
            return np.full_like(nu, np.nan), math.nan, math.nan
        return w, -logL, g

    def jacobian(self, nu):
        """(∂F/∂ν, ∂s/∂ν, ∂g/∂ν). K = A diag(b') Aᵀ is summed only over coordinates with
        b'_j > 1e-9·max b' (late in the flow most coordinates are negligible); the Jacobian only steers
        the implicit solver's Newton iterations, the right-hand side stays exact."""
        z, b, b1, b2, m, logL, w, c, q, g = self._state(nu)
        keep = b1 > 1e-9 * b1.max()
        if keep.mean() < 0.7:
            As = self.A[:, keep]
            K = (As * b1[keep]) @ As.T
        else:
            K = (self.A * b1) @ self.At
        Jw = np.outer(w, w)
        Jw[np.diag_indices_from(Jw)] -= c
        JF = Jw @ K
        gs = K @ w
        gg = self.A @ (b2 * q * q) + 2.0 * (K @ (Jw.T @ (self.A @ (b1 * q))))
        return JF, gs, gg

    def predictor(self, nu):
        return self._state(nu)[1].copy()

    def params(self, nu):
        """Parameters after the flow has accumulated z = Aᵀν (closed forms in NumPy for the diagonal
        models, so that no JAX computation is compiled on the exact path; JAX otherwise)."""
        z = self._state(nu)[0]
        return tuple(np.asarray(v) for v in self.model.params_of_z(np.asarray(z, dtype=np.float64)))


class RatioSystem:
    """Tied diagonal nets of depth D ≥ 3 in log-ratio coordinates p_j = log(u₊,j/u₋,j) (d-dimensional).

    The conservation law u₊^{−k} + u₋^{−k} = 2α^{−k} (k = D − 2, docs/theory/diagonal.md §3.1) gives the parameters
    from p without cancellation, log u± = log α + (softplus(±kp) − log 2)/k, where the dual form
    β = α^D h_D(c_D α^{D−2} z) loses precision as |c_D α^{D−2} z| → 1 (the finite-τ* edge of §2.2).
    The flow is dp/dτ = a(p) ⊙ Aᵀw with a = D(u₊^k + u₋^k); g = Σ D²(u₊^{2D−2} + u₋^{2D−2})(Aᵀw)².
    It is the same exact flow in other coordinates (the dual variable ν is recovered by least squares
    for diagnostics).
    """

    has_jacobian = True

    def __init__(self, model, data: Dataset, loss: Loss):
        pot = model.potential()
        self.model = model
        self.D = int(pot.depth)
        self.k = self.D - 2
        self.c = float(self.D * (self.D - 2))
        self.la = np.asarray(pot.loga, dtype=np.float64) / self.D  # log α_j
        self.A = np.ascontiguousarray(np.asarray(data.A, dtype=np.float64))
        self.At = np.ascontiguousarray(self.A.T)
        self.y = np.asarray(data.y, dtype=np.float64)
        self.name = loss.name
        self.dim = self.A.shape[1]
        self.time_clock = loss.name == "square"
        self._key = None
        self._val = None

    def x0(self):
        return np.zeros(self.dim)

    def _logu(self, p):
        kp = self.k * p
        lp = self.la + (np.logaddexp(0.0, kp) - math.log(2.0)) / self.k
        lm = self.la + (np.logaddexp(0.0, -kp) - math.log(2.0)) / self.k
        return lp, lm

    def _state(self, p):
        key = p.tobytes()
        if key == self._key:
            return self._val
        D, k = self.D, self.k
        lp, lm = self._logu(p)
        upD, umD = np.exp(D * lp), np.exp(D * lm)
        beta = upD - umD
        sp = 0.5 * (1.0 + np.tanh(0.5 * k * p))  # σ(kp)
        sm = 1.0 - sp
        bp = D * (upD * sp + umD * sm)  # dβ/dp
        a = D * (np.exp(k * lp) + np.exp(k * lm))
        m = self.A @ beta
        logL, w, c = loss_terms(self.name, m, self.y)
        q = self.At @ w
        G = a * bp
        g = float(G @ (q * q))
        val = (lp, lm, beta, sp, sm, bp, a, m, logL, w, c, q, G, g)
        self._key, self._val = key, val
        return val

    def evaluate(self, p):
        lp, lm, beta, sp, sm, bp, a, m, logL, w, c, q, G, g = self._state(p)
        if not np.isfinite(logL) or not np.isfinite(g):
            return np.full_like(p, np.nan), math.nan, math.nan
        return a * q, -logL, g

    def jacobian(self, p):
        lp, lm, beta, sp, sm, bp, a, m, logL, w, c, q, G, g = self._state(p)
        D, k = self.D, self.k
        Jw = np.outer(w, w)
        Jw[np.diag_indices_from(Jw)] -= c
        M = self.At @ Jw @ self.A  # ∂q/∂β (d × d)
        dq = M * bp  # ∂q/∂p
        a1 = D * k * (np.exp(k * lp) * sp - np.exp(k * lm) * sm)
        JF = a[:, None] * dq
        JF[np.diag_indices_from(JF)] += a1 * q
        gs = q * bp
        G1 = D * D * (2 * D - 2) * (np.exp((2 * D - 2) * lp) * sp - np.exp((2 * D - 2) * lm) * sm)
        gg = G1 * q * q + 2.0 * (dq.T @ (G * q))
        return JF, gs, gg

    def predictor(self, p):
        return self._state(p)[2].copy()

    def params(self, p):
        lp, lm = self._logu(p)
        return (np.exp(lp), np.exp(lm))

    def nu(self, p):
        """ν with Aᵀν = z(p) (least squares; for diagnostics such as dual mass fractions)."""
        lp, lm = self._logu(p)
        z = (np.exp(-self.k * self.la) - np.exp(-self.k * lp)) / self.c
        return np.linalg.lstsq(self.At, z, rcond=None)[0]


RATIO_MAX_D = 400
"""Depth ≥ 3 diagonal nets with d ≤ this use :class:`RatioSystem` (d×d Jacobian), else the n-dim dual."""


def exact_flow(model, data: Dataset, loss: Loss, levels: list[float], *, floor_log10=None, rtol=1e-10,
               atol=1e-12, max_steps=200_000, callback=None, solver=None, solver_tau=None):
    """Run the exact flow through ``levels``; returns (ClockResult, system).

    The system is :class:`DualSystem` (n-dimensional), except for tied diagonal nets of depth ≥ 3 with
    d ≤ :data:`RATIO_MAX_D`, which use the cancellation-free :class:`RatioSystem`.
    """
    if isinstance(model.potential(), PowerPotential) and model.d <= RATIO_MAX_D:
        system = RatioSystem(model, data, loss)
    else:
        system = DualSystem(model, data, loss)
    res = integrate(system, levels, floor_log10=floor_log10, rtol=rtol, atol=atol, method=solver,
                    method_tau=solver_tau, max_steps=max_steps, callback=callback)
    return res, system


__all__ = ["DualSystem", "RatioSystem", "dual_maps", "exact_flow", "loss_terms", "LN10"]
