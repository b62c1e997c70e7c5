"""Deep linear circular convolutional networks (Gunasekar et al. 2018b; Yun et al. 2021).

With L layers of circular convolution, filters w_l ∈ R^{k_l} (k_l ≤ d, zero-padded to length d) and the
0-indexed convention of docs/theory/tensor.md §4.1,

    [h_l]_i = Σ_k [w_l]_k [h_{l−1}]_{(i+k) mod d}  (l < L),   f(x) = ⟨h_{L−1}, w_L⟩,

the network computes f(x) = Σ_{j_1…j_L} x_{(j_1+⋯+j_L) mod d} Π_l w_l[j_l], so its predictor is the circular
convolution β = w_1 ⊛ ⋯ ⊛ w_L and, with the unnormalized DFT,

    fft(β) = Π_l fft(w_l).

The predictor is computed that way (real FFTs of length d: O(L d log d), so d = 1024 is cheap).
Gradient flow conserves ‖w_l‖² − ‖w_k‖² and, for full-length filters (k_l = d), also
|fft(w_l)_k|² − |fft(w_L)_k|² at every frequency k (docs/theory/oracles.md §8.2). Full-length networks are orthogonally
decomposable in the Fourier basis (§4.2); networks with a shorter filter are not.

>>> import numpy as np
>>> net = Conv(d=4, depth=2, alpha=1.0)
>>> w1, w2 = np.array([1.0, 2.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
>>> [float(b) for b in net.predictor((w1, w2))]          # convolving with δ_1 shifts by one
[0.0, 1.0, 2.0, 0.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .tensor import SOLVER_COPIES, _positive_alpha, _positive_int, check_memory


@dataclasses.dataclass(frozen=True, eq=False)
class Conv:
    """An L-layer linear circular convolutional network.

    Args:
        d: input dimension (the signal length).
        depth: number of layers L ≥ 1.
        kernel_sizes: filter length k_l ∈ 1..d of each layer (length L); default d for every layer.
        alpha: initialization scale: w_l(0) = α·N(0, I_{k_l}).
        seed: seed of the random initialization.
    """

    d: int
    depth: int = 2
    kernel_sizes: tuple | None = None
    alpha: float = 1.0
    seed: int = 0
    name: str = "conv"

    def __post_init__(self):
        d = _positive_int(self.d, "input dimension d")
        L = _positive_int(self.depth, "depth")
        _positive_alpha(self.alpha)
        if self.kernel_sizes is None:
            ks = (d,) * L
        else:
            ks = tuple(self.kernel_sizes)
            if len(ks) != L:
                raise BiasflowError(
                    f"kernel_sizes has {len(ks)} entries but depth is {L}; give one filter length per layer"
                )
            for l, k in enumerate(ks):
                if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= d:
                    raise BiasflowError(
                        f"the filter of layer {l + 1} has length {k!r}, but filters must have length 1..d={d}"
                    )
            ks = tuple(int(k) for k in ks)
        object.__setattr__(self, "kernel_sizes", ks)
        check_memory(self.memory_bytes(0), f"a conv net with d={d} and filters {ks}", "reduce d or depth")

    @property
    def degree(self) -> int:
        return int(self.depth)

    @property
    def full_length(self) -> bool:
        """True when every filter has length d (the orthogonally decomposable case)."""
        return all(k == self.d for k in self.kernel_sizes)

    def memory_bytes(self, n: int) -> int:
        """Bytes: solver copies of the filters, the complex spectra of every layer, the data and a copy."""
        return int(8 * (SOLVER_COPIES * sum(self.kernel_sizes) + 4 * self.depth * (self.d + 2) + 2 * n * self.d))

    def memory_estimate(self) -> int:
        """Bytes of the model itself (``memory_bytes(0)``)."""
        return self.memory_bytes(0)

    def apply(self, params, X):
        """f = Xβ(θ)."""
        return X @ self.predictor(params)


    def init(self, key=None):
        """w_l(0) = α·N(0, I_{k_l})."""
        key = jax.random.PRNGKey(self.seed) if key is None else key
        keys = jax.random.split(key, self.depth)
        return tuple(
            self.alpha * jax.random.normal(k, (n,)) for k, n in zip(keys, self.kernel_sizes, strict=True)
        )

    def _check(self, params):
        if not isinstance(params, (tuple, list)) or len(params) != self.depth:
            raise BiasflowError(f"a depth-{self.depth} conv net needs a tuple of {self.depth} filters")
        ws = tuple(jnp.asarray(w) for w in params)
        for l, (w, k) in enumerate(zip(ws, self.kernel_sizes, strict=True)):
            if w.shape != (k,):
                raise BiasflowError(f"filter {l + 1} must have shape ({k},), got {w.shape}")
        return ws

    def spectra(self, params):
        """rfft of each zero-padded filter: (L, ⌊d/2⌋ + 1) complex array."""
        return jnp.stack([jnp.fft.rfft(w, n=self.d) for w in self._check(params)])

    def predictor(self, params):
        """β = w_1 ⊛ ⋯ ⊛ w_L = irfft(Π_l rfft(w_l))."""
        ws = self._check(params)
        if len(ws) == 1:
            return jnp.zeros(self.d).at[: ws[0].shape[0]].set(ws[0])
        spec = jnp.fft.rfft(ws[0], n=self.d)
        for w in ws[1:]:
            spec = spec * jnp.fft.rfft(w, n=self.d)
        return jnp.fft.irfft(spec, n=self.d)

    def invariants(self, params):
        """‖w_l‖² − ‖w_L‖² (l < L), then, for full-length filters, |rfft(w_l)_k|² − |rfft(w_L)_k|² per k."""
        ws = self._check(params)
        sq = jnp.stack([jnp.sum(w * w) for w in ws])
        out = [sq[:-1] - sq[-1]]
        if self.full_length and len(ws) > 1:
            p = jnp.abs(self.spectra(ws)) ** 2
            out.append((p[:-1] - p[-1]).ravel())
        return jnp.concatenate(out)

    def decomposition(self):
        """Full-length filters: ODec with S = DFT (Gunasekar et al. 2018b); shorter filters: not ODec."""
        from .decomposition import Decomposition

        if self.full_length:
            return Decomposition(
                True, "fourier", f"conv with full-length filters: transform S = DFT (d={self.d})", self.depth
            )
        short = [l + 1 for l, k in enumerate(self.kernel_sizes) if k < self.d]
        return Decomposition(
            False,
            "none",
            f"conv filters of layer(s) {short} are shorter than d={self.d}, so the layers do "
            "not share the Fourier basis and the network is not orthogonally decomposable",
            self.depth,
        )

    def config(self) -> dict:
        return {
            "model": self.name,
            "depth": int(self.depth),
            "kernel_sizes": list(self.kernel_sizes),
            "alpha": float(self.alpha),
            "seed": int(self.seed),
        }


def make_conv(
    d, depth=None, width=None, alpha=1.0, shape=None, seed=0, kernel_sizes: Sequence[int] | None = None, **_
) -> Conv:
    """Factory for ``--model conv``: depth 2 by default; ``--width K`` gives every layer filters of length K
    (default d, the full-length orthogonally decomposable case); ``kernel_sizes`` sets them per layer."""
    if shape is not None:
        raise BiasflowError(
            "the conv model takes no --shape; set filter lengths with --width or kernel_sizes"
        )
    L = 2 if depth is None else depth
    if kernel_sizes is None and width is not None:
        kernel_sizes = (width,) * _positive_int(L, "depth")
    return Conv(
        d=d,
        depth=L,
        kernel_sizes=None if kernel_sizes is None else tuple(kernel_sizes),
        alpha=alpha,
        seed=seed,
    )
