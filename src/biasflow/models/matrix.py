"""Deep matrix factorization: the end-to-end matrix W = W_L⋯W₁ of a depth-L linear network with matrix
output (Arora et al. 2019; Menon 2024; Cohen, Menon & Veraszto 2023).

Factor W_p has shape h_p × h_{p−1} with h_0 = k (columns of W), h_L = m (rows) and inner sizes
h_1, …, h_{L−1} (``widths``; default max(m, k), so the factorization can represent every m×k matrix).
The model's predictor is the row-major vec(W) ∈ R^{mk} (``d = mk``), so a measurement ⟨A_i, W⟩ is the
linear prediction vec(A_i)·β; :meth:`MatrixFactorization.matrix` gives W itself, and for a 1-column W
(k = 1) this is an ordinary deep linear network on vectors.

Initializations (``init_spec="KIND:eps=ε"``, CLI ``--init``, ε > 0):

- ``gaussian``: i.i.d. N(0, ε²) entries in every factor (Arora et al. 2019; the matrix-completion
  experiments of Cohen, Menon & Veraszto 2023);
- ``balanced``: exactly on the balanced variety W_{p+1}ᵀW_{p+1} = W_pW_pᵀ: W_p = Q_p S_p Q_{p−1}ᵀ with
  Haar-random orthogonal Q_p and a common diagonal S_p = ε·diag((s_i/s_rms)^{1/L}) taken from the
  singular values s of a Gaussian m×k matrix, so each factor has scale ε;
- ``identity``: W_p = ε·I (rectangular identity when h_p ≠ h_{p−1}).

Gradient flow conserves W_{p+1}ᵀW_{p+1} − W_pW_pᵀ for every p (:meth:`MatrixFactorization.invariants`);
from a balanced start W follows the Riemannian flow of :mod:`biasflow.geometry`.

>>> m = MatrixFactorization(rows=2, depth=3, init_spec="balanced:eps=0.5")
>>> p = m.init(0)
>>> [w.shape for w in p]
[(2, 2), (2, 2), (2, 2)]
>>> float(jnp.max(jnp.abs(m.invariants(p)))) < 1e-14        # balanced
True
>>> m.matrix(p).shape, m.predictor(p).shape, m.d
((2, 2), (4,), 4)
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401
from ..errors import BiasflowError

INITS = ("gaussian", "balanced", "identity")
_INIT = re.compile(r"^\s*(?P<kind>[a-z]+)\s*(?::\s*eps\s*=\s*(?P<eps>[^\s,]+))?\s*$")


def parse_init(spec: str) -> tuple[str, float]:
    """Parse ``"gaussian:eps=0.03"`` into (kind, ε); ε defaults to 0.01.

    >>> parse_init("balanced:eps=1e-2")
    ('balanced', 0.01)
    >>> parse_init("gaussian:eps=0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: --init gaussian:eps=0: the scale ε must be a positive finite number ...
    """
    m = _INIT.match(str(spec))
    if m is None:
        raise BiasflowError(f"--init {spec}: write KIND:eps=ε with KIND one of {', '.join(INITS)} "
                            "(e.g. gaussian:eps=0.01)")
    kind = m.group("kind")
    if kind not in INITS:
        raise BiasflowError(f"--init {spec}: unknown initialization {kind!r}; choose one of {', '.join(INITS)}")
    eps_text = m.group("eps")
    try:
        eps = 0.01 if eps_text is None else float(eps_text)
    except ValueError:
        eps = math.nan
    if not (math.isfinite(eps) and eps > 0):
        raise BiasflowError(f"--init {spec}: the scale ε must be a positive finite number (e.g. {kind}:eps=0.01)")
    return kind, eps


def _haar(key, n: int) -> jax.Array:
    """A Haar-random n×n orthogonal matrix (QR of a Gaussian with the sign fix)."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (n, n), jnp.float64))
    return q * jnp.sign(jnp.diag(r))[None, :]


@dataclasses.dataclass(frozen=True, eq=False)
class MatrixFactorization:
    """W = W_L⋯W₁ with factors of shapes h_p × h_{p−1} (h_0 = cols, h_L = rows)."""

    rows: int = dataclasses.field(default=2, metadata={"help": "m, rows of the end-to-end matrix W (default 2)"})
    cols: int = dataclasses.field(default=0, metadata={"help": "k, columns of W; 0 means square, k = m (default 0)"})
    depth: int = dataclasses.field(default=2, metadata={"help": "L ≥ 1, number of factors (default 2)"})
    widths: tuple = dataclasses.field(
        default=(), metadata={"help": "inner sizes h_1..h_{L-1}, comma-separated; default max(m, k) each"})
    init_spec: str = dataclasses.field(
        default="gaussian:eps=0.01",
        metadata={"flag": "--init", "help": "KIND:eps=ε, KIND gaussian | balanced | identity, ε > 0 the factor scale "
                          "(default gaussian:eps=0.01)"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the random initialization (default 0)"})
    name: ClassVar[str] = "matrix"

    def __post_init__(self):
        for what in ("rows", "cols", "depth", "seed"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise BiasflowError(f"matrix model: {what} must be an integer (got {v!r})")
        if self.rows < 1:
            raise BiasflowError(f"matrix model: rows must be ≥ 1 (got {self.rows})")
        if self.cols < 0:
            raise BiasflowError(f"matrix model: cols must be ≥ 1, or 0 for a square W (got {self.cols})")
        if self.depth < 1:
            raise BiasflowError(f"matrix model: depth must be ≥ 1 (got {self.depth}); pass e.g. --depth 3")
        widths = self.widths
        if isinstance(widths, str):
            try:
                widths = tuple(int(w) for w in widths.split(",") if w.strip())
            except ValueError:
                raise BiasflowError(f"matrix model: widths {self.widths!r} must be comma-separated integers") from None
        widths = tuple(int(w) for w in widths)
        if widths and len(widths) != self.depth - 1:
            raise BiasflowError(
                f"matrix model: the factor sizes do not chain: depth {self.depth} needs {self.depth - 1} inner "
                f"sizes h_1..h_{self.depth - 1} but got {len(widths)} ({','.join(map(str, widths))})")
        if any(w < 1 for w in widths):
            raise BiasflowError(f"matrix model: inner sizes must be ≥ 1 (got {','.join(map(str, widths))})")
        object.__setattr__(self, "widths", widths)
        parse_init(self.init_spec)

    # ------------------------------------------------------------------------------------------ shapes
    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.rows), int(self.cols or self.rows))

    @property
    def d(self) -> int:
        """Length of the predictor vec(W): m·k."""
        m, k = self.shape
        return m * k

    @property
    def degree(self) -> int:
        return int(self.depth)

    @property
    def sizes(self) -> tuple[int, ...]:
        """(h_0, …, h_L) = (k, h_1, …, h_{L−1}, m)."""
        m, k = self.shape
        inner = self.widths or (max(m, k),) * (self.depth - 1)
        return (k, *inner, m)

    def factor_shapes(self) -> list[tuple[int, int]]:
        h = self.sizes
        return [(h[p + 1], h[p]) for p in range(self.depth)]

    def check_params(self, params) -> None:
        """One clear error when ``params`` are not L factors whose sizes chain to an m×k product."""
        shapes = [tuple(np.shape(w)) for w in params]
        if len(shapes) != self.depth:
            raise BiasflowError(f"matrix model: expected {self.depth} factors, got {len(shapes)}")
        if shapes != self.factor_shapes():
            raise BiasflowError(f"matrix model: factor shapes {shapes} do not chain to {self.shape}; "
                                f"expected {self.factor_shapes()}")

    # ------------------------------------------------------------------------------------- protocol
    def init(self, key=None):
        """The L factors (W₁, …, W_L) as a tuple of float64 arrays; ``key`` a jax key or an int seed."""
        if key is None:
            key = jax.random.PRNGKey(self.seed)
        elif isinstance(key, (int, np.integer)):
            key = jax.random.PRNGKey(int(key))
        kind, eps = parse_init(self.init_spec)
        shapes = self.factor_shapes()
        if kind == "identity":
            return tuple(eps * jnp.eye(a, b, dtype=jnp.float64) for a, b in shapes)
        keys = jax.random.split(key, self.depth + 1)
        if kind == "gaussian":
            return tuple(eps * jax.random.normal(kk, s, jnp.float64) for kk, s in zip(keys, shapes, strict=False))
        # balanced: W_p = Q_p S Q_{p−1}ᵀ with a common r×r diagonal S padded by zeros
        h = self.sizes
        r = min(h)
        m, k = self.shape
        G = jax.random.normal(keys[-1], (m, k), jnp.float64)
        s = jnp.linalg.svd(G, compute_uv=False)[:r]
        s = s / jnp.sqrt(jnp.mean(s * s))
        S = eps * s ** (1.0 / self.depth)
        Qs = [_haar(keys[p], h[p]) for p in range(self.depth + 1)]
        out = []
        for p in range(self.depth):
            core = jnp.zeros((h[p + 1], h[p]), jnp.float64).at[jnp.arange(r), jnp.arange(r)].set(S)
            out.append(Qs[p + 1] @ core @ Qs[p].T)
        return tuple(out)

    def matrix(self, params) -> jax.Array:
        """W = W_L⋯W₁ (m×k)."""
        W = params[0]
        for f in params[1:]:
            W = f @ W
        return W

    def predictor(self, params) -> jax.Array:
        """β = vec(W) row-major (length m·k)."""
        return self.matrix(params).reshape(-1)

    def apply(self, params, X) -> jax.Array:
        """⟨X_i, W⟩ for measurement matrices X (n×m×k), or X (n×mk) rows of vec(A_i)."""
        X = jnp.asarray(X)
        W = self.matrix(params)
        if X.ndim == 3:
            return jnp.tensordot(X, W, axes=([1, 2], [0, 1]))
        return X @ W.reshape(-1)

    def invariants(self, params) -> jax.Array:
        """W_{p+1}ᵀW_{p+1} − W_pW_pᵀ for p = 1..L−1, flattened and concatenated (conserved by gradient
        flow; zero on the balanced variety)."""
        if len(params) < 2:
            return jnp.zeros(0)
        return jnp.concatenate([(params[p + 1].T @ params[p + 1] - params[p] @ params[p].T).ravel()
                                for p in range(len(params) - 1)])

    def config(self) -> dict:
        m, k = self.shape
        return {"model": self.name, "rows": m, "cols": k, "depth": int(self.depth),
                "widths": list(self.sizes[1:-1]), "init": str(self.init_spec), "seed": int(self.seed)}

    def memory_bytes(self, n: int) -> int:
        """Peak bytes for n measurements: factors, gradients and optimizer copies (4×), the products and
        their cotangents (2L m×k-sized intermediates), and the data (n×m×k dense, or 2 m×k for a mask)."""
        m, k = self.shape
        fac = sum(a * b for a, b in self.factor_shapes())
        inter = 2 * self.depth * max(self.sizes) * max(m, k)
        data = max(int(n) * m * k, 2 * m * k)
        from .memory import primal_flow_bytes

        # the autodiff gradient flow on vector data (the 1-column case) holds more: measured 134 MB for
        # d = 500 and 111 MB for d = 300, depth 3, on 100 points
        return int(max(8 * (4 * fac + inter + data), primal_flow_bytes(fac, int(n), m * k)))

    def geometry(self, params) -> dict:
        """The geometry fields of :func:`biasflow.geometry.summary` at these parameters."""
        from ..geometry import summary

        return summary(np.asarray(self.matrix(params)), self.depth)


def make_matrix(d, depth=None, width=None, alpha=None, shape=None, seed=0, rows=None, cols=None,
                widths=None, init=None, **_) -> MatrixFactorization:
    """Factory for :data:`biasflow.models.MODELS`: ``--model matrix [--depth L] [--widths h1,..]
    [--init gaussian:eps=0.01]``, with the shape of W from ``rows``/``cols`` (the data's) so that
    rows·cols = d; without them W is the d×1 column of a deep linear network on vectors.
    ``--alpha ε`` is shorthand for ``--init gaussian:eps=ε`` (``--init`` wins); ``--width h`` sets every
    inner size.

    >>> make_matrix(6, depth=3).shape, make_matrix(6, rows=2, cols=3).shape
    ((6, 1), (2, 3))
    """
    if shape is not None:
        raise BiasflowError("the matrix model takes no --shape; its initialization is --init KIND:eps=ε")
    d = int(d)
    if rows is None and cols is None:
        m, k = d, 1
    else:
        m = int(rows) if rows is not None else d // int(cols)
        k = int(cols) if cols is not None else d // int(rows)
        if m * k != d:
            raise BiasflowError(f"matrix model: rows × cols = {m}×{k} does not match the data's {d} entries")
    kw = {"rows": m, "cols": k, "depth": 2 if depth is None else int(depth), "seed": int(seed)}
    if widths is not None:
        kw["widths"] = widths
    elif width is not None:
        kw["widths"] = (int(width),) * (kw["depth"] - 1)
    if init is not None:
        kw["init_spec"] = str(init)
    elif alpha is not None:
        kw["init_spec"] = f"gaussian:eps={float(alpha)!r}"
    return MatrixFactorization(**kw)


def _task_from(spec: str):
    """Capability of the factory: ``--data`` naming a matrix task (completion or sensing: a built-in or an
    ``.npz`` with mask/values or A/b) is read as one (:func:`biasflow.matrix_data.resolve_task`); None for
    vector data sets, which train through the generic paths as the 1-column case."""
    from ..matrix_data import is_matrix_spec, resolve_task

    return resolve_task(spec) if is_matrix_spec(spec) else None


make_matrix.task_from = _task_from

__all__ = ["INITS", "MatrixFactorization", "make_matrix", "parse_init"]
