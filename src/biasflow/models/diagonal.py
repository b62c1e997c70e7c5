"""Diagonal linear networks (Woodworth et al. 2020; Moroshko et al. 2020; Azulay et al. 2021; Even et al. 2023).

Three parametrizations of a linear predictor by elementwise products (docs/theory/conventions.md §1, diagonal.md §3):

- :class:`Diagonal` — tied, depth D: β = u₊^D − u₋^D, u±(0) = α·w0 (shape w0 > 0, default 1), β(0) = 0.
- :class:`UntiedDiagonal` with ``branches=2`` — β = u₊⊙v₊ − u₋⊙v₋, u±(0) = u0, v±(0) = v0 (Azulay et al.):
  scale α_A = u0·v0 and shape s = (v0 − u0)/(v0 + u0).
- :class:`UntiedDiagonal` with ``branches=1`` — β = u⊙v, u(0) = u0, v(0) = v0 (Even et al.: u0 = √2α, v0 = 0).

Each exposes the exact gradient-flow solution in the integrated residual ν(t) = (1/n)∫₀ᵗ r ds, with
z = Aᵀν (docs/theory/diagonal.md §3.2, §3.7):

- tied, D = 2:  β_j = 2α_j² sinh(4 z_j),   u±_j = α_j e^{±2 z_j}
- tied, D ≥ 3:  β_j = α_j^D h_D(c_D α_j^{D−2} z_j), h_D(v) = (1−v)^{−D/(D−2)} − (1+v)^{−D/(D−2)}, c_D = D(D−2)
- untied, two branches: β = (u0² + v0²) sinh(2z)
- untied, one branch:   u ± v = (u0 ± v0) e^{±z}, β = u v

>>> import jax.numpy as jnp
>>> m = Diagonal(d=3, depth=2, alpha=0.5)
>>> p = m.init()
>>> [float(v) for v in m.predictor(p)]
[0.0, 0.0, 0.0]
>>> z = jnp.array([0.1, -0.2, 0.0])
>>> bool(jnp.allclose(m.predictor(m.params_of_z(z)), m.beta_of_z(z), rtol=1e-14))
True
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .decomposition import Decomposition
from .memory import SOLVER_COPIES, check_memory
from .potentials import ExpPotential, Potential, PowerPotential, QuadPotential


def _xp(z):
    """NumPy for NumPy input (the exact flow stays free of JAX), jax.numpy otherwise."""
    return np if isinstance(z, (np.ndarray, np.generic, float)) else jnp


def _scales(d: int, alpha: float, shape) -> np.ndarray:
    if not (isinstance(d, (int, np.integer)) and d >= 1):
        raise BiasflowError(f"input dimension d must be a positive integer (got {d!r})")
    if not (math.isfinite(alpha) and alpha > 0):
        raise BiasflowError(f"alpha must be a positive finite number (got {alpha!r}); pass e.g. --alpha 0.1")
    w0 = np.ones(d) if shape is None else np.broadcast_to(np.asarray(shape, dtype=np.float64), (d,)).copy()
    if not np.all(np.isfinite(w0) & (w0 > 0)):
        raise BiasflowError("the initialization shape w0 must be positive and finite in every coordinate")
    a = alpha * w0
    if not np.all((a > 1e-150) & (a < 1e150)):
        raise BiasflowError(
            f"alpha·w0 = {a.min():.3g}..{a.max():.3g} is outside the usable float64 range 1e-150..1e150"
        )
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class Diagonal:
    """Tied diagonal network of depth D: β = u₊^{⊙D} − u₋^{⊙D}, u±(0) = α·w0.

    Args:
        d: input dimension.
        depth: D ≥ 2 (D = 1 is the linear model β = u₊ − u₋, allowed for completeness).
        alpha: initialization scale α > 0.
        shape: optional positive per-coordinate shape w0 (scalar or length d); α_j = α·w0_j.
    """

    d: int
    depth: int = 2
    alpha: float = 1.0
    shape: tuple | None = None
    name: str = "diagonal"

    def __post_init__(self):
        if not (isinstance(self.depth, (int, np.integer)) and self.depth >= 1):
            raise BiasflowError(f"depth must be an integer ≥ 1 (got {self.depth!r})")
        if self.shape is not None and not isinstance(self.shape, tuple):
            object.__setattr__(self, "shape", tuple(np.atleast_1d(np.asarray(self.shape, float)).tolist()))
        _scales(self.d, self.alpha, self.shape)
        check_memory(self.memory_bytes(0), f"a diagonal net with d={self.d}", "reduce d")

    @property
    def degree(self) -> int:
        return int(self.depth)

    @property
    def log10_mu_scale(self) -> float | None:
        """log10 α^D, the scale of Moroshko et al.'s μ = α^D/γ, when α is uniform (no shape); else None."""
        return self.depth * math.log10(float(self.alpha)) if self.shape is None else None

    @property
    def scales(self) -> jnp.ndarray:
        """α_j = α·w0_j."""
        return jnp.asarray(_scales(self.d, self.alpha, self.shape))

    def init(self, key=None):
        a = self.scales
        return (a, a)

    def apply(self, params, X):
        """f = Xβ(θ)."""
        return X @ self.predictor(params)

    def memory_bytes(self, n: int) -> int:
        """Bytes: solver copies of the 2d parameters and n duals, the data (and its two contiguous copies
        in the exact flow), the n×n dual Jacobians, and the d×d ratio-coordinate Jacobians (D ≥ 3)."""
        d = int(self.d)
        extra = 3 * d * d if self.depth >= 3 and d <= 400 else 0
        return int(8 * (SOLVER_COPIES * (2 * d + n) + 3 * n * d + 4 * n * n + extra))

    def predictor(self, params):
        up, um = params
        return up**self.depth - um**self.depth

    def invariants(self, params):
        """D = 2: u₊u₋ (= α²); D ≥ 3: u₊^{2−D} + u₋^{2−D} (= 2α^{2−D}); D = 1: u₊ + u₋."""
        up, um = params
        D = self.depth
        if D == 1:
            return up + um
        if D == 2:
            return up * um
        return up ** (2 - D) + um ** (2 - D)

    def config(self) -> dict:
        return {"model": self.name, "depth": int(self.depth), "alpha": float(self.alpha),
                "shape": None if self.shape is None else list(self.shape)}

    # -------------------------------------------------------------- exact dual solution (docs/theory/diagonal.md §3.2)
    @property
    def c(self) -> float:
        """c_D: 4 for D = 2, D(D − 2) for D ≥ 3 (2 for D = 1, where β = 2z·... is linear)."""
        D = self.depth
        return 4.0 if D == 2 else float(D * (D - 2)) if D >= 3 else 2.0

    def z_domain(self):
        """|z_j| < α_j^{2−D}/c_D for D ≥ 3; None (unbounded) for D ≤ 2."""
        if self.depth <= 2:
            return None
        return self.scales ** (2 - self.depth) / self.c

    def params_of_z(self, z):
        """(u₊, u₋) after the flow has accumulated z (NumPy in, NumPy out; JAX otherwise)."""
        xp = _xp(z)
        a, D = xp.asarray(_scales(self.d, self.alpha, self.shape)), self.depth
        if D == 1:
            return (a + z, a - z)
        if D == 2:
            return (a * xp.exp(2.0 * z), a * xp.exp(-2.0 * z))
        p = -1.0 / (D - 2)
        base = a ** (2 - D)
        with np.errstate(invalid="ignore"):
            return ((base - self.c * z) ** p, (base + self.c * z) ** p)

    def potential(self) -> Potential:
        """The dual potential Φ with β = Φ'(z) (NumPy; see :mod:`biasflow.models.potentials`).

        D = 1: Φ' = 2w; D = 2: Φ' = 2α² sinh(4w); D ≥ 3: Φ' = α^D h_D(c_D α^{D−2} w).
        ``unusable`` is set when α^D leaves float64's range (the Q-solvers then refuse; the flow does not).
        """
        a = _scales(self.d, self.alpha, self.shape)
        la = np.log(a)
        D = int(self.depth)
        if D == 1:
            return QuadPotential(np.full(self.d, 2.0))
        lo, hi = float(la.min()), float(la.max())
        why = ""
        if D * lo < -690.0 or D * hi > 690.0:
            r = 690.0 / (D * math.log(10.0))
            why = (
                f"alpha^D = 1e{D * (lo if D * lo < -690 else hi) / math.log(10.0):.0f} is outside "
                f"float64's usable "
                f"range for depth {D}: the Q-potential needs alpha (times shape) in [1e-{r:.0f}, 1e{r:.0f}]"
            )
        if D == 2:
            return ExpPotential(2.0 * la, 2.0 * la, 4.0, why)
        return PowerPotential(D * la, math.log(D * (D - 2.0)) + (D - 2.0) * la, D, why)

    def decomposition(self) -> Decomposition:
        """Orthogonally decomposable with S = I (Yun et al. 2021)."""
        return Decomposition(True, "identity", "Diagonal: diagonal network, transform S = I (β itself)",
                             int(self.degree))

    def beta_of_z(self, z):
        a, D = self.scales, self.depth
        if D == 1:
            return 2.0 * z
        if D == 2:
            return 2.0 * a**2 * jnp.sinh(4.0 * z)
        v = self.c * a ** (D - 2) * z
        e = -D / (D - 2)
        return a**D * ((1.0 - v) ** e - (1.0 + v) ** e)


@dataclasses.dataclass(frozen=True, eq=False)
class UntiedDiagonal:
    """Untied diagonal network: two branches β = u₊⊙v₊ − u₋⊙v₋ (Azulay et al. 2021) or one, β = u⊙v.

    Build with :meth:`from_scale_shape` (two branches, scale α_A = u0·v0 and shape s ∈ (−1, 1)) or
    :meth:`even` (one branch, u0 = √2α, v0 = 0, as in Even et al. 2023), or give u0 and v0 directly.

    >>> m = UntiedDiagonal.from_scale_shape(d=2, alpha=0.01, shape=0.5)
    >>> round(m.u0 * m.v0, 12), round((m.v0 - m.u0) / (m.v0 + m.u0), 12)
    (0.01, 0.5)
    """

    d: int
    u0: float = 1.0
    v0: float = 1.0
    branches: int = 2
    name: str = "diagonal-untied"

    def __post_init__(self):
        if self.branches not in (1, 2):
            raise BiasflowError(f"branches must be 1 or 2 (got {self.branches!r})")
        for k, v in (("u0", self.u0), ("v0", self.v0)):
            if not math.isfinite(v):
                raise BiasflowError(f"{k} must be finite (got {v!r})")
        if self.branches == 2 and not (self.u0 > 0 and self.v0 > 0):
            raise BiasflowError("two-branch untied diagonal needs u0 > 0 and v0 > 0")
        if self.branches == 1 and self.u0 == 0 and self.v0 == 0:
            raise BiasflowError("one-branch diagonal needs u0 or v0 nonzero (else it never moves)")
        _scales(self.d, 1.0, None)
        check_memory(self.memory_bytes(0), f"a diagonal net with d={self.d}", "reduce d")

    @classmethod
    def from_scale_shape(cls, d: int, alpha: float = 1.0, shape: float = 0.0) -> UntiedDiagonal:
        """u0 = √(α(1−s)/(1+s)), v0 = √(α(1+s)/(1−s)), so that u0·v0 = α and (v0−u0)/(v0+u0) = s."""
        if not (math.isfinite(alpha) and alpha > 0):
            raise BiasflowError(f"alpha must be a positive finite number (got {alpha!r})")
        if not -1.0 < shape < 1.0:
            raise BiasflowError(f"shape s must lie in (-1, 1) (got {shape!r}); s = (v0 - u0)/(v0 + u0)")
        r = (1.0 + shape) / (1.0 - shape)
        return cls(d=d, u0=math.sqrt(alpha / r), v0=math.sqrt(alpha * r), branches=2)

    @classmethod
    def even(cls, d: int, alpha: float = 1.0) -> UntiedDiagonal:
        """One branch β = u⊙v with u(0) = √2α, v(0) = 0 (Even et al. 2023)."""
        if not (math.isfinite(alpha) and alpha > 0):
            raise BiasflowError(f"alpha must be a positive finite number (got {alpha!r})")
        return cls(d=d, u0=math.sqrt(2.0) * alpha, v0=0.0, branches=1, name="diagonal-uv")

    @property
    def degree(self) -> int:
        return 2

    @property
    def alpha_eff(self) -> float:
        """Woodworth's equivalent scale: α_eff² = (u0² + v0²)/2 (docs/theory/diagonal.md §3.7; two branches)."""
        return math.sqrt((self.u0**2 + self.v0**2) / 2.0)

    def init(self, key=None):
        u = jnp.full(self.d, self.u0)
        v = jnp.full(self.d, self.v0)
        return (u, v, u, v) if self.branches == 2 else (u, v)

    def apply(self, params, X):
        """f = Xβ(θ)."""
        return X @ self.predictor(params)

    def memory_bytes(self, n: int) -> int:
        """Bytes: solver copies of the 2·branches·d parameters and n duals, the data and its copies, and
        the n×n dual Jacobians."""
        d = int(self.d)
        return int(8 * (SOLVER_COPIES * (2 * self.branches * d + n) + 3 * n * d + 4 * n * n))

    def predictor(self, params):
        if self.branches == 2:
            up, vp, um, vm = params
            return up * vp - um * vm
        u, v = params
        return u * v

    def invariants(self, params):
        """u² − v² per branch (docs/theory/diagonal.md §3.1)."""
        if self.branches == 2:
            up, vp, um, vm = params
            return jnp.concatenate([up**2 - vp**2, um**2 - vm**2])
        u, v = params
        return u**2 - v**2

    def config(self) -> dict:
        return {"model": self.name, "depth": 2, "u0": float(self.u0), "v0": float(self.v0),
                "branches": int(self.branches),
                "alpha": float(self.u0 * self.v0) if self.branches == 2 else float(self.u0 / math.sqrt(2.0))}

    def z_domain(self):
        return None

    def params_of_z(self, z):
        """The parameters after the flow has accumulated z (NumPy in, NumPy out; JAX otherwise)."""
        xp = _xp(z)
        s, t = self.u0 + self.v0, self.u0 - self.v0
        def branch(zz):
            a, b = s * xp.exp(zz), t * xp.exp(-zz)   # u + v, u − v
            return 0.5 * (a + b), 0.5 * (a - b)
        up, vp = branch(z)
        if self.branches == 1:
            return (up, vp)
        um, vm = branch(-z)
        return (up, vp, um, vm)

    @property
    def even_alpha(self) -> float | None:
        """α when this is Even et al.'s one-branch u⊙v with u(0) = √2α, v(0) = 0 (else None)."""
        if self.branches == 1 and self.v0 == 0.0 and self.u0 > 0:
            return self.u0 / math.sqrt(2.0)
        return None

    def untied_factors(self, params):
        """The layer vectors (u, v) with β = u⊙v of the one-branch net (None for two branches)."""
        return [np.asarray(v) for v in params] if self.branches == 1 else None

    def potential(self) -> Potential:
        """Φ'(w) = P e^{2w} − M e^{−2w}: P = M = (u0² + v0²)/2 (two branches); P = (u0 + v0)²/4,
        M = (u0 − v0)²/4 (one branch). ``unusable`` is set when |u0| = |v0| (β keeps its sign)."""
        d = self.d
        if self.branches == 2:
            lr = math.log((self.u0**2 + self.v0**2) / 2.0)
            return ExpPotential(np.full(d, lr), np.full(d, lr), 2.0)
        s, t = self.u0 + self.v0, self.u0 - self.v0
        why = ""
        if s == 0.0 or t == 0.0:
            why = ("one-branch u⊙v with |u0| = |v0| keeps the sign of β fixed and has no finite Q-potential; "
                   "start with |u0| ≠ |v0| (e.g. UntiedDiagonal.even)")
        with np.errstate(divide="ignore"):
            ls, lt = (2.0 * math.log(abs(x)) if x != 0.0 else -math.inf for x in (s, t))
        return ExpPotential(np.full(d, ls - math.log(4.0)), np.full(d, lt - math.log(4.0)), 2.0, why)

    def decomposition(self) -> Decomposition:
        """Orthogonally decomposable with S = I (Yun et al. 2021)."""
        return Decomposition(True, "identity", "UntiedDiagonal: diagonal network, transform S = I (β itself)",
                             int(self.degree))

    def beta_of_z(self, z):
        if self.branches == 2:
            return (self.u0**2 + self.v0**2) * jnp.sinh(2.0 * z)
        s, t = self.u0 + self.v0, self.u0 - self.v0
        return 0.25 * (s * s * jnp.exp(2.0 * z) - t * t * jnp.exp(-2.0 * z))


def make_diagonal(d, depth=None, alpha=1.0, shape=None, **_) -> Diagonal:
    """Factory for ``--model diagonal`` (depth 2 by default)."""
    return Diagonal(d=d, depth=2 if depth is None else depth, alpha=alpha, shape=shape)


def make_untied(d, depth=None, alpha=1.0, shape=None, **_) -> UntiedDiagonal:
    """Factory for ``--model diagonal-untied``: two branches at scale α and shape s (Azulay et al. 2021)."""
    if depth not in (None, 2):
        raise BiasflowError("diagonal-untied has depth 2; drop --depth")
    return UntiedDiagonal.from_scale_shape(d, alpha=alpha, shape=0.0 if shape is None else float(shape))


def make_uv_diagonal(d, depth=None, alpha=1.0, shape=None, **_) -> UntiedDiagonal:
    """Factory for ``--model diagonal-uv``: one branch u⊙v, u(0) = √2α, v(0) = 0 (Even et al. 2023)."""
    if depth not in (None, 2):
        raise BiasflowError("diagonal-uv has depth 2; drop --depth")
    if shape is not None:
        raise BiasflowError("diagonal-uv starts at u = √2α, v = 0 and takes no --shape; use diagonal-untied")
    return UntiedDiagonal.even(d, alpha=alpha)
