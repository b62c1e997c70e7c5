"""General linear tensor networks (Yun, Krishnan, Mobahi 2021), with the diagonal, fully connected and
convolutional networks as special cases (docs/theory/tensor.md §4.1).

A linear tensor network with L layers has parameter vectors v_l ∈ R^{k_l} and a tensor-valued map
M(x) ∈ R^{k_1×⋯×k_L}, linear in x ∈ R^d:

    f(x; v) = M(x)·(v_1, …, v_L) = Σ_{j_1…j_L} M(x)[j_1, …, j_L] Π_l v_l[j_l],
    β_j = M(e_j)·(v_1, …, v_L).

Here the whole object T[j, j_1, …, j_L] = M(e_j)[j_1, …, j_L] is stored as a sparse list of its nonzero
entries (indices and values), so that the fully connected and convolutional instances stay small:

- diagonal (``diagonal``):      T[j, j, …, j] = 1, so β = v_1 ⊙ ⋯ ⊙ v_L (Yun's deep untied diagonal net);
  with ``branches=2`` the layers have 2d entries and β = Π_l v_l[:d] − Π_l v_l[d:], which contains the
  tied diagonal net u₊^L − u₋^L (:class:`biasflow.models.Diagonal`);
- fully connected (``fully_connected``): v_l = vec W_l (row-major), T[a_1, (a_1,b_1), …, (a_L,b_L)] = 1
  when b_l = a_{l+1} and b_L = 0, so β = W_1 W_2 ⋯ W_L (:class:`biasflow.models.Dense`);
- circular convolution (``convolution``): T[(j_1+⋯+j_L) mod d, j_1, …, j_L] = 1 with j_l < k_l, so
  β = w_1 ⊛ ⋯ ⊛ w_L (:class:`biasflow.models.Conv`).

Every request is sized up front: a network whose estimated working memory exceeds the budget (2 GiB by
default, ``BIASFLOW_MEMORY_BUDGET`` in bytes to change it) is refused with the estimate in the message.

>>> import numpy as np
>>> net = TensorNetwork.diagonal(d=3, depth=2)
>>> v = (np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
>>> [float(b) for b in net.predictor(v)]
[4.0, 10.0, 18.0]
>>> net.degree, net.nnz
(2, 3)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .memory import (  # noqa: F401  (re-exported for the sibling model files)
    DEFAULT_MEMORY_BUDGET,
    SOLVER_COPIES,
    check_memory,
    format_bytes,
    memory_budget,
)


def _positive_alpha(alpha) -> float:
    if not (isinstance(alpha, (int, float, np.floating)) and math.isfinite(alpha) and alpha > 0):
        raise BiasflowError(f"alpha must be a positive finite number (got {alpha!r}); pass e.g. --alpha 0.1")
    return float(alpha)


def _positive_int(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise BiasflowError(f"{what} must be a positive integer (got {value!r})")
    return int(value)


@dataclasses.dataclass(frozen=True, eq=False)
class TensorNetwork:
    """A linear tensor network f(x) = M(x)·(v_1, …, v_L) given by the nonzeros of T[j, j_1, …, j_L].

    Build it with a constructor (:meth:`diagonal`, :meth:`fully_connected`, :meth:`convolution`,
    :meth:`from_dense`, :meth:`from_callable`) rather than directly.

    Attributes:
        d: input dimension.
        sizes: (k_1, …, k_L), the lengths of the parameter vectors.
        index: (nnz, L + 1) int array of the nonzero positions (j, j_1, …, j_L).
        value: (nnz,) float64 array of the nonzero values.
        alpha: initialization scale.
        init_kind: ``"gaussian"`` (v_l = α·N(0, I), rescaled per layer by the constructor) or ``"constant"``.
        structure: what built it (``diagonal``, ``fully_connected``, ``convolution``, ``dense``).
        seed: seed of the random initialization.
    """

    d: int
    sizes: tuple
    index: np.ndarray
    value: np.ndarray
    alpha: float = 1.0
    init_kind: str = "gaussian"
    structure: str = "dense"
    seed: int = 0
    meta: dict = dataclasses.field(default_factory=dict)
    name: str = "tensor"

    def __post_init__(self):
        _positive_int(self.d, "input dimension d")
        sizes = tuple(_positive_int(k, "every layer size k_l") for k in self.sizes)
        if not sizes:
            raise BiasflowError("a tensor network needs at least one layer (sizes is empty)")
        object.__setattr__(self, "sizes", sizes)
        _positive_alpha(self.alpha)
        if self.init_kind not in ("gaussian", "constant", "explicit"):
            raise BiasflowError(
                f"unknown init {self.init_kind!r} for a tensor network; use gaussian or "
                "constant (or with_init(params) for explicit parameters)"
            )
        index = np.asarray(self.index)
        value = np.asarray(self.value, dtype=np.float64)
        L = len(sizes)
        if index.ndim != 2 or index.shape[1] != L + 1 or value.shape != (index.shape[0],):
            raise BiasflowError(
                f"tensor entries must be an (nnz, {L + 1}) index array and an (nnz,) value array; got "
                f"{index.shape} and {value.shape}"
            )
        bounds = np.array((self.d, *sizes))
        if index.size and (index.min() < 0 or np.any(index.max(axis=0) >= bounds)):
            bad = int(np.argmax(np.any((index < 0) | (index >= bounds), axis=0)))
            raise BiasflowError(
                f"tensor index out of range in slot {bad} (size {bounds[bad]}); indices must lie in 0..size-1"
            )
        if not np.all(np.isfinite(value)):
            raise BiasflowError("tensor values must be finite")
        index = index.astype(np.int64)
        index.setflags(write=False)
        value.setflags(write=False)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "value", value)
        check_memory(
            self.memory_bytes(0),
            f"tensor network with {self.nnz} nonzeros and layers {sizes}",
            "use a sparser structure or a smaller network",
        )

    # ------------------------------------------------------------------------------------- protocol
    @property
    def depth(self) -> int:
        return len(self.sizes)

    @property
    def degree(self) -> int:
        return len(self.sizes)

    @property
    def nnz(self) -> int:
        return int(self.value.shape[0])

    def decomposition(self):
        """Orthogonal decomposability (Yun et al. 2021): S = I (diagonal), S = DFT (full-length
        convolution), not ODec (fully connected, short filters), or found numerically for a dense tensor."""
        from .decomposition import FC_REASON, Decomposition, decompose_dense

        s, L = self.structure, self.depth
        if s == "diagonal":
            return Decomposition(True, "identity", "diagonal tensor network: transform S = I", L)
        if s == "convolution":
            if all(k == self.d for k in self.sizes):
                return Decomposition(True, "fourier", "full-length convolutional tensor: transform S = DFT", L)
            return Decomposition(
                False,
                "none",
                f"convolutional tensor with filter lengths {self.sizes} < "
                f"d={self.d}: not orthogonally decomposable",
                L,
            )
        if s == "fully_connected" and L >= 2:
            return Decomposition(False, "none", FC_REASON, L, fully_connected=True)
        dec = decompose_dense(self.dense(), 1e-10)
        if s == "fully_connected":
            dec = dataclasses.replace(dec, fully_connected=True)
        return dec

    def untied_factors(self, params):
        """The layer vectors v_l of a one-branch diagonal tensor network, β = v_1 ⊙ ⋯ ⊙ v_L (Yun et al.
        2021); None for other structures."""
        if self.structure != "diagonal" or self.meta.get("branches", 1) != 1:
            return None
        return [np.asarray(v) for v in params]

    def memory_bytes(self, n: int) -> int:
        """Bytes: the entries and their per-step products (≈ 4 nnz(L + 2) words), solver copies of the
        parameters, and the data with one copy."""
        L = len(self.sizes)
        return int(8 * (4 * self.nnz * (L + 2) + SOLVER_COPIES * sum(self.sizes) + 2 * n * self.d))

    def memory_estimate(self) -> int:
        """Bytes of the model itself (``memory_bytes(0)``)."""
        return self.memory_bytes(0)

    def apply(self, params, X):
        """f = Xβ(θ)."""
        return X @ self.predictor(params)


    def init(self, key=None):
        """v_l(0) = α·N(0, I_{k_l}) (``gaussian``; the FC and conv constructors rescale to match
        :class:`~biasflow.models.Dense` and :class:`~biasflow.models.Conv`) or α·1 (``constant``)."""
        if self.init_kind == "constant":
            return tuple(jnp.full(k, self.alpha) for k in self.sizes)
        if self.init_kind == "explicit":
            return tuple(jnp.asarray(v) for v in self.meta["params0"])
        key = jax.random.PRNGKey(self.seed) if key is None else key
        keys = jax.random.split(key, len(self.sizes))
        scales = self.meta.get("init_std", [1.0] * len(self.sizes))
        return tuple(
            self.alpha * s * jax.random.normal(k, (n,))
            for k, n, s in zip(keys, self.sizes, scales, strict=True)
        )

    def predictor(self, params):
        """β_j = Σ_{entries with first index j} T[j, j_1, …, j_L] Π_l v_l[j_l]."""
        vs = self._check_params(params)
        prod = jnp.asarray(self.value)
        for l, v in enumerate(vs):
            prod = prod * v[self.index[:, l + 1]]
        return jax.ops.segment_sum(prod, jnp.asarray(self.index[:, 0]), num_segments=self.d)

    def invariants(self, params):
        """‖v_l‖² − ‖v_L‖² for l < L: conserved by gradient flow of any multilinear model, since
        d‖v_l‖²/dt = −2⟨∇_β ℒ, β⟩ for every l (docs/theory/oracles.md §8.2)."""
        vs = self._check_params(params)
        sq = jnp.stack([jnp.sum(v * v) for v in vs])
        return sq[:-1] - sq[-1]

    def config(self) -> dict:
        return {
            "model": self.name,
            "depth": self.depth,
            "alpha": float(self.alpha),
            "structure": self.structure,
            "sizes": list(self.sizes),
            "nnz": self.nnz,
            "init": self.init_kind,
            "seed": int(self.seed),
        }

    def _check_params(self, params):
        if not isinstance(params, (tuple, list)) or len(params) != len(self.sizes):
            raise BiasflowError(
                f"a tensor network with {len(self.sizes)} layers needs a tuple of "
                f"{len(self.sizes)} parameter vectors"
            )
        vs = tuple(jnp.asarray(v) for v in params)
        for l, (v, k) in enumerate(zip(vs, self.sizes, strict=True)):
            if v.shape != (k,):
                raise BiasflowError(f"layer {l + 1} parameters must have shape ({k},), got {v.shape}")
        return vs

    def with_init(self, params) -> TensorNetwork:
        """The same network started at the given parameters (``init`` returns them; α is kept as a label).

        >>> net = TensorNetwork.diagonal(d=2, depth=2).with_init(([1.0, 2.0], [3.0, 4.0]))
        >>> [float(b) for b in net.predictor(net.init())]
        [3.0, 8.0]
        """
        vs = tuple(np.array(v, dtype=np.float64) for v in params)
        self._check_params(vs)
        for v in vs:
            if not np.all(np.isfinite(v)):
                raise BiasflowError("initial parameters must be finite")
            v.setflags(write=False)
        return dataclasses.replace(self, init_kind="explicit", meta={**self.meta, "params0": vs})

    # -------------------------------------------------------------------------------- the dense tensor
    def dense(self) -> np.ndarray:
        """T as a dense (d, k_1, …, k_L) array (size-checked against the memory budget)."""
        size = self.d * math.prod(self.sizes)
        check_memory(
            8.0 * size,
            f"the dense tensor of shape {(self.d, *self.sizes)}",
            "inspect it through its sparse entries instead",
        )
        T = np.zeros((self.d, *self.sizes))
        np.add.at(T, tuple(self.index.T), self.value)
        return T

    def M(self, x) -> np.ndarray:
        """M(x) = Σ_j x_j T[j] as a dense k_1×⋯×k_L array."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.d,):
            raise BiasflowError(f"x must have shape ({self.d},), got {x.shape}")
        size = math.prod(self.sizes)
        check_memory(8.0 * size, f"M(x) of shape {self.sizes}", "use predictor() instead")
        out = np.zeros(self.sizes)
        np.add.at(out, tuple(self.index[:, 1:].T), self.value * x[self.index[:, 0]])
        return out

    # ----------------------------------------------------------------------------------- constructors
    @classmethod
    def from_dense(
        cls, T, *, alpha: float = 1.0, init: str = "gaussian", seed: int = 0, tol: float = 0.0
    ) -> TensorNetwork:
        """From a dense array T of shape (d, k_1, …, k_L) with T[j] = M(e_j); entries with |T| ≤ tol dropped.

        >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 1, 1] = 1.0
        >>> TensorNetwork.from_dense(T).nnz
        2
        """
        T = np.asarray(T, dtype=np.float64)
        if T.ndim < 2:
            raise BiasflowError(
                f"a tensor network needs T of shape (d, k_1, …, k_L) with L ≥ 1; got {T.shape}"
            )
        if not np.all(np.isfinite(T)):
            raise BiasflowError("tensor values must be finite")
        idx = np.argwhere(np.abs(T) > tol)
        return cls(
            d=T.shape[0],
            sizes=T.shape[1:],
            index=idx,
            value=T[tuple(idx.T)],
            alpha=alpha,
            init_kind=init,
            seed=seed,
            structure="dense",
        )

    @classmethod
    def from_callable(cls, M: Callable, d: int, **options) -> TensorNetwork:
        """From a function x ↦ M(x) (a k_1×⋯×k_L array, linear in x), evaluated on the basis e_1…e_d.

        >>> net = TensorNetwork.from_callable(lambda x: np.diag(x), d=3)   # the depth-2 diagonal net
        >>> [float(b) for b in net.predictor((np.ones(3), np.arange(3.0)))]
        [0.0, 1.0, 2.0]
        """
        d = _positive_int(d, "input dimension d")
        slices = [np.asarray(M(np.eye(d)[j]), dtype=np.float64) for j in range(d)]
        shapes = {s.shape for s in slices}
        if len(shapes) != 1:
            raise BiasflowError(f"M(x) must have the same shape for every x; got {sorted(shapes)}")
        T = np.stack(slices)
        x = np.random.default_rng(0).standard_normal(d)
        if not np.allclose(
            np.asarray(M(x), dtype=np.float64), np.tensordot(x, T, axes=1), rtol=1e-10, atol=1e-12
        ):
            raise BiasflowError("M(x) is not linear in x: M(x) differs from Σ_j x_j M(e_j) at a random x")
        return cls.from_dense(T, **options)

    @classmethod
    def diagonal(
        cls,
        d: int,
        depth: int = 2,
        *,
        branches: int = 1,
        alpha: float = 1.0,
        init: str = "constant",
        seed: int = 0,
    ) -> TensorNetwork:
        """The diagonal network: β = v_1⊙⋯⊙v_L (``branches=1``) or Π v_l[:d] − Π v_l[d:] (``branches=2``)."""
        d = _positive_int(d, "input dimension d")
        L = _positive_int(depth, "depth")
        if branches not in (1, 2):
            raise BiasflowError(f"branches must be 1 or 2 (got {branches!r})")
        j = np.arange(d)
        if branches == 1:
            idx = np.repeat(j[:, None], L + 1, axis=1)
            val = np.ones(d)
        else:
            idx = np.concatenate([np.repeat(j[:, None], L + 1, axis=1), np.column_stack([j] + [j + d] * L)])
            val = np.concatenate([np.ones(d), -np.ones(d)])
        return cls(
            d=d,
            sizes=(branches * d,) * L,
            index=idx,
            value=val,
            alpha=alpha,
            init_kind=init,
            seed=seed,
            structure="diagonal",
            meta={"branches": branches},
        )

    @classmethod
    def fully_connected(
        cls, d: int, widths: Sequence[int] = (), *, alpha: float = 1.0, init: str = "gaussian", seed: int = 0
    ) -> TensorNetwork:
        """The FC net f = xᵀW_1⋯W_L with hidden widths ``widths`` (L = len(widths) + 1), v_l = vec W_l.

        The Gaussian init matches :class:`~biasflow.models.Dense`: entries of W_l are α·N(0, 1/d_{l−1}).
        """
        d = _positive_int(d, "input dimension d")
        widths = tuple(_positive_int(w, "every hidden width") for w in widths)
        dims = (d, *widths, 1)
        L = len(dims) - 1
        nnz = math.prod(dims[:-1])
        check_memory(
            8.0 * 4 * nnz * (L + 2),
            f"the fully connected tensor network with dims {dims}",
            "use the dense model (--model dense), which never forms the tensor",
        )
        # enumerate paths (a_1, …, a_L) with a_l < d_{l−1}; slot l holds the flat index a_l·d_l + a_{l+1}
        grids = np.indices(dims[:-1]).reshape(L, -1).T  # (nnz, L): a_1..a_L
        nxt = np.column_stack([grids[:, 1:], np.zeros(len(grids), dtype=np.int64)])
        slots = grids * np.array(dims[1:]) + nxt
        idx = np.column_stack([grids[:, 0], slots])
        std = [1.0 / math.sqrt(n) for n in dims[:-1]]
        return cls(
            d=d,
            sizes=tuple(a * b for a, b in zip(dims[:-1], dims[1:], strict=True)),
            index=idx,
            value=np.ones(len(idx)),
            alpha=alpha,
            init_kind=init,
            seed=seed,
            structure="fully_connected",
            meta={"dims": dims, "init_std": std},
        )

    @classmethod
    def convolution(
        cls,
        d: int,
        depth: int = 2,
        kernel_sizes: Sequence[int] | None = None,
        *,
        alpha: float = 1.0,
        init: str = "gaussian",
        seed: int = 0,
    ) -> TensorNetwork:
        """The circular convolutional net: M(x)[j_1, …, j_L] = x_{(j_1+⋯+j_L) mod d}, j_l < k_l."""
        d = _positive_int(d, "input dimension d")
        L = _positive_int(depth, "depth")
        ks = (d,) * L if kernel_sizes is None else tuple(kernel_sizes)
        if len(ks) != L:
            raise BiasflowError(
                f"kernel_sizes has {len(ks)} entries but depth is {L}; give one size per layer"
            )
        for l, k in enumerate(ks):
            if not (isinstance(k, (int, np.integer)) and 1 <= k <= d):
                raise BiasflowError(f"kernel size of layer {l + 1} must be an integer in 1..{d} (got {k!r})")
        nnz = math.prod(ks)
        check_memory(
            8.0 * 4 * nnz * (L + 2),
            f"the convolutional tensor network with kernels {ks}",
            "use the conv model (--model conv), which uses FFTs and never forms the tensor",
        )
        js = np.array(list(itertools.product(*[range(k) for k in ks])), dtype=np.int64).reshape(-1, L)
        idx = np.column_stack([js.sum(axis=1) % d, js])
        return cls(
            d=d,
            sizes=ks,
            index=idx,
            value=np.ones(len(idx)),
            alpha=alpha,
            init_kind=init,
            seed=seed,
            structure="convolution",
            meta={"kernel_sizes": ks},
        )


def make_tensor(
    d,
    depth=None,
    width=None,
    alpha=1.0,
    shape=None,
    seed=0,
    structure=None,
    kernel_sizes=None,
    tensor=None,
    **_,
) -> TensorNetwork:
    """Factory for ``--model tensor``: ``structure`` is ``diagonal`` (default, Yun's untied deep diagonal
    β = v_1⊙⋯⊙v_L from v_l = α·N(0, I); a constant start would be degenerate: with all layers equal each
    β_j keeps its sign forever), ``dense`` (the FC tensor network; default when ``width`` is given),
    ``conv`` (full-length circular convolution unless ``kernel_sizes``), or a dense (d, k_1, …, k_L) array
    or ``.npy`` path given as ``tensor``."""
    if shape is not None:
        raise BiasflowError(
            "the tensor model takes no --shape; its structure is set by --width or structure="
        )
    if tensor is not None:
        T = np.load(tensor, allow_pickle=False) if isinstance(tensor, (str, os.PathLike)) else tensor
        T = np.asarray(T)
        if T.ndim < 2 or T.shape[0] != d:
            raise BiasflowError(f"the tensor must have shape (d={d}, k_1, …, k_L); got {T.shape}")
        return TensorNetwork.from_dense(T, alpha=alpha, seed=seed)
    if structure is None:
        structure = "dense" if width is not None else "diagonal"
    L = 2 if depth is None else depth
    if structure == "diagonal":
        return TensorNetwork.diagonal(d, L, alpha=alpha, seed=seed, init="gaussian")
    if structure in ("dense", "fully_connected"):
        w = d if width is None else width
        return TensorNetwork.fully_connected(
            d, (w,) * (_positive_int(L, "depth") - 1), alpha=alpha, seed=seed
        )
    if structure in ("conv", "convolution"):
        return TensorNetwork.convolution(d, L, kernel_sizes, alpha=alpha, seed=seed)
    raise BiasflowError(f"unknown tensor structure {structure!r}; use diagonal, dense or conv")
