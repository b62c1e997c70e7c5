"""Batch normalization in linear models and two-layer linear CNNs (Cao, Zou, Li, Gu 2023).

The input x ∈ R^d is split into P equal patches x^{(1)}, …, x^{(P)} ∈ R^{d/P} (P = 1: the plain linear
model). With a filter w ∈ R^{d/P}, a scale γ and the training statistics Σ = (nP)⁻¹ Σ_{i,p} x_i^{(p)} x_i^{(p)ᵀ}
(batch and positions, no re-centering), the network is

    f(x) = γ Σ_p ⟨w, x^{(p)}⟩ / ‖w‖_Σ,     ‖w‖_Σ = (wᵀΣw)^{1/2},

linear in x with the effective predictor β = γ·(w, …, w)/‖w‖_Σ (w repeated P times). f is invariant to the
scale of w, so ∇_w f ⊥ w and gradient flow conserves ‖w‖₂ (gradient descent grows it by η²‖∇_w ℒ‖² per
step); Σw ∈ row(X), so the component of w(0) in the null space of the patch matrix never moves. Normalized
margins m̃_i = y_i⟨w, x_i⟩/‖w‖_Σ satisfy (1/n)Σ m̃_i² = 1 (P = 1), so min m̃_i ≤ 1 with equality iff all margins
are equal: gradient descent is biased toward the uniform-margin classifier (Cao et al. 2023), not the
max-margin one. With ``center=True`` the statistics are centered (x − x̄, x̄ the mean patch) and a shift b
is trained: f(x) = γ Σ_p ⟨w, x^{(p)} − x̄⟩/‖w‖_Σ + b (an affine model: it has no linear predictor).

The model needs its training statistics: ``model.bind(data)`` returns the model bound to a data set; the
unbound model refuses to predict.

>>> import numpy as np
>>> from biasflow.data import make_dataset
>>> X = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
>>> net = BatchNorm(d=3, alpha=1.0, gamma0=2.0).bind(make_dataset(X, np.array([1.0, -1.0])))
>>> w, g = np.array([1.0, 1.0, 0.0]), 2.0
>>> beta = np.asarray(net.predictor((w, g)))
>>> float(np.mean((X @ beta) ** 2))          # ‖β‖_Σ = γ by construction
4.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import field
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .tensor import _positive_alpha, _positive_int, check_memory


@dataclasses.dataclass(frozen=True, eq=False)
class _BatchNormBase:
    """γ Σ_p ⟨w, x^{(p)}⟩/‖w‖_Σ with batch statistics Σ of the training data (see the module docstring)."""

    d: int = field(metadata={"help": "input dimension d"})
    alpha: float = field(default=1.0, metadata={"help": "initialization scale: w(0) = α·N(0, I); default 1"})
    gamma0: float = field(default=1.0, metadata={"help": "initial BN scale γ(0) ≠ 0; default 1"})
    patches: int = field(default=1, metadata={"help": "number P of equal patches (must divide d) sharing one "
                                                       "filter of length d/P; 1 = linear model; default 1"})
    center: bool = field(default=False, metadata={"help": "re-center with the mean patch and train a shift b "
                                                         "(affine model); default off"})
    seed: int = field(default=0, metadata={"help": "seed of the random initialization; default 0"})
    name: ClassVar[str] = "batchnorm"

    def __post_init__(self):
        d = _positive_int(self.d, "input dimension d")
        _positive_alpha(self.alpha)
        P = _positive_int(self.patches, "patches")
        if d % P:
            raise BiasflowError(f"--patches {P} does not divide d = {d}; choose a divisor of {d} "
                                "(the patches must have equal length)")
        g = self.gamma0
        if isinstance(g, bool) or not isinstance(g, (int, float, np.floating)) or not math.isfinite(g) or g == 0:
            raise BiasflowError(f"gamma0 must be a finite non-zero number (got {g!r}): γ = 0 is a saddle the "
                                "flow never leaves; pass e.g. --gamma0 1")
        if not isinstance(self.center, (bool, np.bool_)):
            raise BiasflowError(f"center must be true or false (got {self.center!r})")
        object.__setattr__(self, "_stats", None)
        check_memory(self.memory_bytes(0), f"a batchnorm model with d = {d}", "reduce d")

    # ------------------------------------------------------------------ data binding
    @property
    def k(self) -> int:
        """The filter length d/P."""
        return self.d // self.patches

    def bind(self, data):
        """A copy of the model with the training statistics of ``data`` (a Dataset or an (n, d) matrix);
        the model itself when it is already bound to the same data."""
        X = np.asarray(getattr(data, "X", data), dtype=float)
        if X.ndim != 2 or X.shape[1] != self.d:
            raise BiasflowError(f"the batchnorm model has d = {self.d} but the data have shape {X.shape}")
        key = (X.shape, hashlib.blake2b(np.ascontiguousarray(X).tobytes(), digest_size=16).hexdigest())
        if self._stats is not None and self._stats[3] == key:
            return self
        Xp = X.reshape(X.shape[0] * self.patches, self.k)
        mean = Xp.mean(axis=0) if self.center else np.zeros(self.k)
        Xc = Xp - mean
        if not np.any(Xc):
            raise BiasflowError("the data have zero (centered) second moment: batch normalization is undefined")
        new = dataclasses.replace(self)
        object.__setattr__(new, "_stats", (jnp.asarray(Xc), jnp.asarray(mean), X.shape[0], key))
        return new

    @property
    def uniform_margin_patches(self) -> int:
        """Capability: the implicit bias is the (patch-wise, P > 1) uniform-margin classifier (Cao et al.
        2023), with this many patches."""
        return int(self.patches)

    @property
    def bound(self) -> bool:
        return self._stats is not None

    def _need(self):
        if self._stats is None:
            raise BiasflowError("the batchnorm model needs its training statistics: call model.bind(data) first")
        return self._stats

    # ------------------------------------------------------------------ protocol
    def memory_bytes(self, n: int = 0) -> int:
        """Bytes: an autodiff flow of the d/P + 2 parameters (:func:`~biasflow.models.memory.primal_flow_bytes`,
        measured 68 MB at d = 20000 and 112 MB at d = 50000 on 10 points), a third copy of the n×d patch
        matrix and the dense Hessian of the implicit solver for up to 400 parameters."""
        from .memory import primal_flow_bytes

        p = self.k + 2
        hess = p * p if p <= 400 else 0
        return int(primal_flow_bytes(p, int(n), self.d) + 8 * (int(n) * self.d + 3 * hess))

    def init(self, key=None):
        """(w, γ) = (α·N(0, I_{d/P}), γ₀), plus the shift b = 0 when centered."""
        key = jax.random.PRNGKey(self.seed) if key is None else key
        w = self.alpha * jax.random.normal(key, (self.k,))
        g = jnp.asarray(float(self.gamma0))
        return (w, g, jnp.asarray(0.0)) if self.center else (w, g)

    def _check(self, params):
        want = 3 if self.center else 2
        if not isinstance(params, (tuple, list)) or len(params) != want:
            raise BiasflowError(f"batchnorm parameters are (w, gamma{', b' if self.center else ''})")
        w = jnp.asarray(params[0])
        if w.shape != (self.k,):
            raise BiasflowError(f"the filter w must have shape ({self.k},), got {w.shape}")
        return w, jnp.asarray(params[1]), (jnp.asarray(params[2]) if self.center else None)

    def sigma_norm(self, w):
        """‖w‖_Σ = ‖X_p w‖/√(nP) over the (centered) training patches."""
        Xc = self._need()[0]
        return jnp.sqrt(jnp.mean((Xc @ w) ** 2))

    def normalized_filter(self, params):
        """w/‖w‖_Σ (the patch margins are y_i⟨·, x_i^{(p)}⟩ of it)."""
        w, _, _ = self._check(params)
        return w / self.sigma_norm(w)

    def apply(self, params, X):
        """f(X) row by row: γ Σ_p ⟨w, x^{(p)} − x̄⟩/‖w‖_Σ (+ b)."""
        w, g, b = self._check(params)
        mean = self._need()[1]
        X = jnp.asarray(X)
        u = g * w / self.sigma_norm(w)
        out = X @ jnp.tile(u, self.patches)
        if self.center:
            out = out - self.patches * (mean @ u) + b
        return out

    def invariants(self, params):
        """‖w‖₂² (conserved by gradient flow: ∇_w ℒ ⊥ w)."""
        w, _, _ = self._check(params)
        return jnp.atleast_1d(w @ w)

    def config(self) -> dict:
        return {"model": self.name, "alpha": float(self.alpha), "gamma0": float(self.gamma0),
                "patches": int(self.patches), "center": bool(self.center), "seed": int(self.seed)}


@dataclasses.dataclass(frozen=True, eq=False)
class BatchNorm(_BatchNormBase):
    """The linear BN model (``center=False``): it has the effective linear predictor β = γ(w, …, w)/‖w‖_Σ."""

    def __post_init__(self):
        super().__post_init__()
        if self.center:
            raise BiasflowError("BatchNorm is the uncentered, linear model; use CenteredBatchNorm "
                                "(or make_batchnorm(..., center=True)) for re-centering with a shift")

    @property
    def degree(self) -> int:
        """1: β is homogeneous of degree 1 in (w, γ) (of degree 1 in γ and 0 in w)."""
        return 1

    def predictor(self, params):
        """β = γ·(w, …, w)/‖w‖_Σ ∈ R^d."""
        w, g, _ = self._check(params)
        return jnp.tile(g * w / self.sigma_norm(w), self.patches)



@dataclasses.dataclass(frozen=True, eq=False)
class CenteredBatchNorm(_BatchNormBase):
    """BN with re-centering and a trained shift b: an affine model, so it has no linear predictor."""

    center: bool = field(default=True, metadata={"help": "re-center with the mean patch and train a shift b; "
                                                        "default on for this class"})

    def __post_init__(self):
        super().__post_init__()
        if not self.center:
            raise BiasflowError("CenteredBatchNorm always re-centers; use BatchNorm for center=False")


def make_batchnorm(d, alpha=1.0, seed=0, gamma0=1.0, patches=1, center=False, depth=None, width=None,
                   shape=None, **_) -> BatchNorm:
    """Factory for ``--model batchnorm`` (``--gamma0``, ``--patches``, ``--center``)."""
    if depth not in (None, 2) or width is not None or shape is not None:
        raise BiasflowError("the batchnorm model takes no --depth, --width or --shape")
    cls = CenteredBatchNorm if center else BatchNorm
    return cls(d=d, alpha=alpha, gamma0=1.0 if gamma0 is None else gamma0,
               patches=1 if patches is None else patches, center=bool(center), seed=seed)


__all__ = ["BatchNorm", "CenteredBatchNorm", "make_batchnorm"]
