"""Linear group-equivariant convolutional networks (Lawrence, Georgiev, Dienes, Kiani 2022).

Signals live on a finite group G (x ∈ R^{|G|}, elements numbered as in :mod:`biasflow.groups`). The network
has L − 1 full-width single-channel G-correlation layers and a final linear layer:

    h_0 = x,   h_l(g) = Σ_h w_l(h) h_{l−1}(g h)   (l < L),   f(x) = ⟨w_L, h_{L−1}⟩,

so f(x) = ⟨x, β⟩ with the end-to-end predictor

    β = w_L ∗ w_{L−1} ∗ ⋯ ∗ w_1,    (f ∗ h)(u) = Σ_v f(v) h(v⁻¹u),

and, by the convolution theorem, β̂(ρ) = ŵ_L(ρ)⋯ŵ_1(ρ) for every irrep ρ: a deep matrix factorization in
each Fourier block. Gradient flow therefore conserves, for every l < L and every irrep ρ,

    ŵ_l(ρ) ŵ_l(ρ)ᴴ − ŵ_{l+1}(ρ)ᴴ ŵ_{l+1}(ρ),

and on separable data β/‖β‖ converges to a first-order stationary point of
min Σ_ρ d_ρ ‖β̂(ρ)‖_{S_{2/L}}^{2/L} subject to margins ≥ 1 (Lawrence et al. 2022; see
:mod:`biasflow.bias.groups`). On the cyclic group C_d this is exactly the circular convolutional network of
:mod:`biasflow.models.conv` (Gunasekar et al. 2018b), with the same initialization for the same α and key.

>>> import numpy as np
>>> net = GCNN(d=8, group="dihedral:n=4", depth=2, alpha=1.0)
>>> delta_s = np.eye(8)[4]                       # the reflection s
>>> w1 = np.eye(8)[1]                            # the rotation r
>>> [int(i) for i in np.nonzero(np.asarray(net.predictor((w1, delta_s))))[0]]   # s ∗ r = s r = r⁻¹ s
[7]
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import ClassVar

import jax
import jax.numpy as jnp

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .tensor import _positive_alpha, _positive_int, check_memory


@dataclasses.dataclass(frozen=True, eq=False)
class GCNN:
    """An L-layer linear G-CNN over a finite group (see the module docstring)."""

    d: int = field(metadata={"help": "input dimension: the order |G| of the group"})
    group: str | None = field(
        default=None,
        metadata={"help": "the group: cyclic:n=8, dihedral:n=4 (order 8), product:cyclic:n=2,dihedral:n=3, "
                          "C2xD3 or file:PATH of irreps; default cyclic:n=d"},
    )
    depth: int = field(default=2, metadata={"help": "number of layers L ≥ 1 (L − 1 G-correlations + a linear "
                                                     "layer); default 2"})
    alpha: float = field(default=1.0, metadata={"help": "initialization scale: every filter is α·N(0, I); "
                                                       "default 1"})
    seed: int = field(default=0, metadata={"help": "seed of the random initialization; default 0"})
    name: ClassVar[str] = "gcnn"

    def __post_init__(self):
        from ..groups import get_group

        d = _positive_int(self.d, "input dimension d")
        _positive_int(self.depth, "depth")
        _positive_alpha(self.alpha)
        spec = f"cyclic:n={d}" if self.group is None else self.group
        G = get_group(spec)
        if G.order != d:
            raise BiasflowError(
                f"the group {G.name!r} has order {G.order} but the signals have length d = {d}; "
                f"give data with {G.order} columns or a group of order {d}"
            )
        object.__setattr__(self, "group", spec)     # the spec (file:PATH stays a path), for config()
        object.__setattr__(self, "_G", G)
        object.__setattr__(self, "_T", jnp.asarray(G.conv_index()))
        check_memory(self.memory_bytes(0), f"a G-CNN over {G.name} (order {d})", "use a smaller group")

    # ------------------------------------------------------------------ protocol
    @property
    def degree(self) -> int:
        return int(self.depth)

    @property
    def finite_group(self):
        """The :class:`~biasflow.groups.FiniteGroup` the filters live on."""
        return self._G

    def memory_bytes(self, n: int = 0) -> int:
        """Bytes: an autodiff flow of the L·|G| filter entries (:func:`~biasflow.models.memory.primal_flow_bytes`),
        the |G|×|G| index table and its gathered copies and cotangents (8L of them: measured 89 MB at
        |G| = 512 and 211 MB at |G| = 1024, L = 2), and the dense Hessian of the implicit solver for up to 400
        parameters."""
        from .memory import primal_flow_bytes

        N, L = int(self.d), int(self.depth)
        p = L * N
        hess = p * p if p <= 400 else 0
        return int(primal_flow_bytes(p, int(n), N) + 8 * (8 * L * N * N + 3 * hess))

    def init(self, key=None):
        """w_l(0) = α·N(0, I_{|G|}), one key per layer from ``jax.random.split(key, L)`` (as the conv model)."""
        key = jax.random.PRNGKey(self.seed) if key is None else key
        keys = jax.random.split(key, self.depth)
        return tuple(self.alpha * jax.random.normal(k, (self.d,)) for k in keys)

    def _check(self, params):
        if not isinstance(params, (tuple, list)) or len(params) != self.depth:
            raise BiasflowError(f"a depth-{self.depth} G-CNN needs a tuple of {self.depth} filters")
        ws = tuple(jnp.asarray(w) for w in params)
        for l, w in enumerate(ws):
            if w.shape != (self.d,):
                raise BiasflowError(f"filter {l + 1} must have shape ({self.d},) (a signal on the group), "
                                    f"got {w.shape}")
        return ws

    def predictor(self, params):
        """β = w_L ∗ (w_{L−1} ∗ (⋯ ∗ w_1)), each convolution f ∗ h = f @ h[T] with T[v, u] = v⁻¹u."""
        ws = self._check(params)
        beta = ws[0]
        for w in ws[1:]:
            beta = w @ beta[self._T]
        return beta

    def apply(self, params, X):
        """f(X) = X β (one output per row of X)."""
        return jnp.asarray(X) @ self.predictor(params)

    def forward_layers(self, params, x):
        """The layered computation h_l(g) = Σ_h w_l(h) h_{l−1}(g h), f = ⟨w_L, h_{L−1}⟩ (a second path to f)."""
        ws = self._check(params)
        mul = jnp.asarray(self._G.mul)
        h = jnp.asarray(x)
        for w in ws[:-1]:
            h = h[mul] @ w                        # h[mul][g, k] = h(g k)
        return h @ ws[-1]

    def spectra(self, params) -> list:
        """ŵ_l(ρ) for every layer and irrep: a list over irreps of (L, d_ρ, d_ρ) complex arrays."""
        W = jnp.stack(self._check(params))
        return [jnp.einsum("lg,gab->lab", W, jnp.asarray(r)) for r in self._G.irreps]

    def invariants(self, params):
        """Real and imaginary parts of ŵ_lŵ_lᴴ − ŵ_{l+1}ᴴŵ_{l+1} for l < L and every irrep (conserved by GF)."""
        if self.depth == 1:
            return jnp.zeros(0)
        out = []
        for S in self.spectra(params):
            a = S[:-1] @ jnp.conj(jnp.swapaxes(S[:-1], -1, -2))
            b = jnp.conj(jnp.swapaxes(S[1:], -1, -2)) @ S[1:]
            out += [jnp.real(a - b).ravel(), jnp.imag(a - b).ravel()]
        return jnp.concatenate(out)

    def config(self) -> dict:
        return {"model": self.name, "group": self.group, "depth": int(self.depth), "alpha": float(self.alpha),
                "seed": int(self.seed)}


def make_gcnn(d, depth=None, alpha=1.0, seed=0, group=None, width=None, shape=None, **_) -> GCNN:
    """Factory for ``--model gcnn``: ``--group`` (default cyclic:n=d), depth 2 by default."""
    if width is not None or shape is not None:
        raise BiasflowError("the gcnn model takes no --width or --shape (filters are full-width on the group)")
    return GCNN(d=d, group=group, depth=2 if depth is None else depth, alpha=alpha, seed=seed)


__all__ = ["GCNN", "make_gcnn"]

