"""Deep linear fully connected networks (Ji & Telgarsky 2019a; Arora, Cohen, Hazan 2018; Yun et al. 2021).

f(x) = xᵀW_1W_2⋯W_L with W_l ∈ R^{d_{l−1}×d_l}, d_0 = d and d_L = 1, so the end-to-end predictor is
β = W_1⋯W_L ∈ R^d (docs/theory/conventions.md §1). Gradient flow conserves W_lᵀW_l − W_{l+1}W_{l+1}ᵀ for every l < L
(balancedness; docs/theory/oracles.md §8.2), and for separable classification β/‖β‖ tends to the ℓ2 max-margin
direction (docs/theory/tensor.md §4.3).

Initializations at scale α:

- ``gaussian`` (default): W_l = α·G_l with G_l i.i.d. N(0, 1/d_{l−1});
- ``orthogonal``: W_l = α·Q_l, Q_l with orthonormal columns (d_{l−1} ≥ d_l) or rows;
- ``balanced``: W_l = α·u_{l−1}u_lᵀ with random unit vectors u_l (u_L = 1), so that W_lᵀW_l = W_{l+1}W_{l+1}ᵀ
  exactly and β(0) = α^L u_0 (balancedness forces rank one, since W_L is a column).

>>> net = Dense(d=4, depth=3, width=5, alpha=0.5, init_kind="balanced")
>>> W = net.init()
>>> [w.shape for w in W]
[(4, 5), (5, 5), (5, 1)]
>>> float(abs(net.invariants(W)).max()) < 1e-15
True
>>> round(float(jnp.linalg.norm(net.predictor(W))), 12)        # ‖β(0)‖ = α^L
0.125
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .tensor import SOLVER_COPIES, _positive_alpha, _positive_int, check_memory

INITS = ("gaussian", "orthogonal", "balanced")


@dataclasses.dataclass(frozen=True, eq=False)
class Dense:
    """A deep linear fully connected network f(x) = xᵀW_1⋯W_L.

    Args:
        d: input dimension.
        depth: number of layers L ≥ 1.
        width: hidden width (every hidden layer), default d; or
        widths: the L − 1 hidden widths explicitly (overrides ``width`` and must have length L − 1).
        alpha: initialization scale α > 0.
        init_kind: ``gaussian`` | ``orthogonal`` | ``balanced``.
        seed: seed of the random initialization (used when ``init(key)`` gets no key).
    """

    d: int
    depth: int = 2
    width: int | None = None
    widths: tuple | None = None
    alpha: float = 1.0
    init_kind: str = "gaussian"
    seed: int = 0
    name: str = "dense"

    def __post_init__(self):
        _positive_int(self.d, "input dimension d")
        L = _positive_int(self.depth, "depth")
        _positive_alpha(self.alpha)
        if self.init_kind not in INITS:
            raise BiasflowError(
                f"unknown init {self.init_kind!r} for a dense net; use one of {', '.join(INITS)}"
            )
        if self.widths is not None:
            widths = tuple(self.widths)
            if len(widths) != L - 1:
                raise BiasflowError(
                    f"widths has {len(widths)} entries but a depth-{L} network has {L - 1} hidden layers; "
                    f"give {L - 1} widths"
                )
            widths = tuple(_positive_int(w, "every hidden width") for w in widths)
        else:
            w = self.d if self.width is None else _positive_int(self.width, "width")
            widths = (w,) * (L - 1)
        object.__setattr__(self, "widths", widths)
        if self.width is None and widths:
            object.__setattr__(self, "width", widths[0] if len(set(widths)) == 1 else None)
        check_memory(
            self.memory_bytes(0), f"a dense net with layer sizes {self.dims}", "reduce --width or --depth"
        )

    @property
    def dims(self) -> tuple:
        """(d_0, …, d_L) = (d, hidden widths…, 1)."""
        return (int(self.d), *self.widths, 1)

    @property
    def degree(self) -> int:
        return int(self.depth)

    @property
    def n_params(self) -> int:
        dims = self.dims
        return int(sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True)))

    def memory_bytes(self, n: int) -> int:
        """Bytes: the solver's working copies of the parameters, and the data with one copy (β is formed
        by matrix–vector products, so no n × width activations). The width × width invariant matrices are
        checked separately by :meth:`invariants`, which only diagnostics call."""
        return int(8 * (SOLVER_COPIES * self.n_params + 2 * n * self.d))

    def memory_estimate(self) -> int:
        """Bytes of the model itself (``memory_bytes(0)``)."""
        return self.memory_bytes(0)

    def apply(self, params, X):
        """f = Xβ(θ)."""
        return X @ self.predictor(params)


    def init(self, key=None):
        """Parameters (W_1, …, W_L) at scale α (see the module docstring)."""
        key = jax.random.PRNGKey(self.seed) if key is None else key
        dims, a = self.dims, self.alpha
        keys = jax.random.split(key, len(dims))
        if self.init_kind == "gaussian":
            return tuple(
                a * jax.random.normal(k, (m, n)) / jnp.sqrt(m)
                for k, m, n in zip(keys[:-1], dims[:-1], dims[1:], strict=True)
            )
        if self.init_kind == "orthogonal":
            out = []
            for k, m, n in zip(keys[:-1], dims[:-1], dims[1:], strict=True):
                g = jax.random.normal(k, (max(m, n), min(m, n)))
                q, r = jnp.linalg.qr(g)
                q = q * jnp.sign(jnp.diagonal(r))  # Haar-distributed
                out.append(a * (q if m >= n else q.T))
            return tuple(out)
        units = []
        for k, m in zip(keys, dims, strict=True):
            u = jax.random.normal(k, (m,))
            units.append(u / jnp.linalg.norm(u) if m > 1 else jnp.ones(1))
        return tuple(a * jnp.outer(units[l], units[l + 1]) for l in range(len(dims) - 1))

    def _check(self, params):
        if not isinstance(params, (tuple, list)) or len(params) != self.depth:
            raise BiasflowError(
                f"a depth-{self.depth} dense net needs a tuple of {self.depth} weight matrices"
            )
        Ws = tuple(jnp.asarray(W) for W in params)
        dims = self.dims
        for l, W in enumerate(Ws):
            if W.shape != (dims[l], dims[l + 1]):
                raise BiasflowError(f"W_{l + 1} must have shape {(dims[l], dims[l + 1])}, got {W.shape}")
        return Ws

    def predictor(self, params):
        """β = W_1 W_2 ⋯ W_L, evaluated right to left (matrix–vector products only)."""
        Ws = self._check(params)
        v = Ws[-1][:, 0]
        for W in reversed(Ws[:-1]):
            v = W @ v
        return v

    def invariants(self, params):
        """W_lᵀW_l − W_{l+1}W_{l+1}ᵀ for l = 1…L−1, flattened and concatenated (docs/theory/oracles.md §8.2)."""
        Ws = self._check(params)
        if len(Ws) == 1:
            return jnp.zeros(0)
        check_memory(8 * 2 * sum(w * w for w in self.dims[1:-1]), "the dense invariants WᵀW − WWᵀ",
                     "skip the invariants or reduce --width")
        return jnp.concatenate(
            [(Ws[l].T @ Ws[l] - Ws[l + 1] @ Ws[l + 1].T).ravel() for l in range(len(Ws) - 1)]
        )

    def decomposition(self):
        """Depth 1 is the linear model (S = I); deeper fully connected nets are not ODec (their limit is
        the ℓ2 max-margin, Ji & Telgarsky 2019a)."""
        from .decomposition import FC_REASON, Decomposition

        if self.depth == 1:
            return Decomposition(True, "identity", "a depth-1 dense net is the linear model (S = I)", 1,
                                 fully_connected=True)
        return Decomposition(False, "none", FC_REASON, self.depth, fully_connected=True)

    def weight_matrices(self, params):
        """The layer matrices (W_1, …, W_L) as NumPy arrays (for singular-vector alignment)."""
        import numpy as np

        return [np.asarray(W) for W in self._check(params)]

    def config(self) -> dict:
        return {
            "model": self.name,
            "depth": int(self.depth),
            "widths": list(self.widths),
            "width": None if self.width is None else int(self.width),
            "alpha": float(self.alpha),
            "init": self.init_kind,
            "seed": int(self.seed),
        }


def make_dense(
    d,
    depth=None,
    width=None,
    alpha=1.0,
    shape=None,
    seed=0,
    init=None,
    widths: Sequence[int] | None = None,
    **_,
) -> Dense:
    """Factory for ``--model dense`` (depth 2 and width d by default; ``init`` gaussian)."""
    if shape is not None:
        raise BiasflowError("the dense model takes no --shape; choose init= gaussian, orthogonal or balanced")
    return Dense(
        d=d,
        depth=2 if depth is None else depth,
        width=width,
        widths=None if widths is None else tuple(widths),
        alpha=alpha,
        init_kind="gaussian" if init is None else init,
        seed=seed,
    )
