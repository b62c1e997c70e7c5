"""A wide shallow network f(x) = Σ_k a_k σ(w_k·x + b_k) + c, σ ∈ {relu, abs} — NOT a linear network.

Standard ("PyTorch-default") parametrization: the forward pass has no 1/√N factor and the output layer
starts at a_k, c ~ U[−1/√N, 1/√N], so the output-layer tangent kernel Σ_k σ(w_k·x + b_k)σ(w_k·x' + b_k)
is N·K(x, x') + O(√N) with K(x, x') = E_{w,b}[σ(w·x + b)σ(w·x' + b)], while the first layer contributes
O(1). As N → ∞ training is lazy and the trained function is f₀ plus the minimum-‖·‖_K interpolant of the
residual (Jin & Montúfar 2023); :mod:`biasflow.bias.splines` computes that limit.

The law of the first layer (w, b) is an :class:`InitLaw`, written on the command line as

- ``pm1-uniform:a=A``: w = ±1 with equal probability (unit-norm w, uniform on the sphere, for d > 1),
  b ~ U[−A, A];
- ``uniform:aw=AW,ab=AB``: w ~ U[−AW, AW] (each coordinate), b ~ U[−AB, AB]; ``uniform:aw=1,ab=1`` is
  PyTorch's default for d = 1;
- ``gaussian:sw=SW,sb=SB``: w ~ N(0, SW² I), b ~ N(0, SB²).

Options: ``asymmetric`` (N/2 mirrored pairs with equal (w, b) and opposite a, and c = 0, so f₀ ≡ 0: the
"ASI" device of Jin & Montúfar), ``train`` (``all`` or ``output``: the first layer frozen, so the model
is linear in its trainable parameters), ``skip`` (an affine skip connection s·(uᵀx + v) starting at 0;
its scale s, default N, makes its tangent kernel N²(xᵀx' + 1), so the affine part is unpenalized as
N → ∞; plain GD then needs a learning rate ≲ 1/s²).

>>> import jax, jax.numpy as jnp
>>> m = Shallow(d=1, width=8, asymmetric=True)
>>> p = m.init(jax.random.PRNGKey(0))
>>> bool(jnp.max(jnp.abs(m.apply(p, jnp.linspace(-1, 1, 5)[:, None]))) < 1e-15)   # f₀ ≡ 0 up to rounding
True
>>> InitLaw.parse("gaussian:sw=1")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
biasflow.errors.BiasflowError: init law 'gaussian' needs sb (form gaussian:sw=SW,sb=SB); ...
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from typing import ClassVar

import numpy as np

from ..errors import BiasflowError
from .memory import check_memory

_LAWS: dict[str, tuple[str, ...]] = {
    "pm1-uniform": ("a",),
    "uniform": ("aw", "ab"),
    "gaussian": ("sw", "sb"),
}
_FORMS = {"pm1-uniform": "pm1-uniform:a=A", "uniform": "uniform:aw=AW,ab=AB", "gaussian": "gaussian:sw=SW,sb=SB"}
_EXAMPLES = {"pm1-uniform": "pm1-uniform:a=2", "uniform": "uniform:aw=1,ab=1", "gaussian": "gaussian:sw=1,sb=1"}
_ALL_FORMS = ", ".join(_FORMS.values())


def sphere_abs_moment(d: int, k: int = 3) -> float:
    """c = E|w·e|^k for w uniform on the unit sphere of R^d (any unit e): Γ(d/2)Γ((k+1)/2)/(√π Γ((d+k)/2)).

    >>> round(sphere_abs_moment(2), 12) == round(4 / (3 * math.pi), 12)
    True
    """
    return math.exp(math.lgamma(d / 2) + math.lgamma((k + 1) / 2) - 0.5 * math.log(math.pi)
                    - math.lgamma((d + k) / 2))


@dataclasses.dataclass(frozen=True)
class InitLaw:
    """The law of one hidden unit's (w, b), symmetric under (w, b) → (−w, −b).

    Attributes: kind (``pm1-uniform``, ``uniform`` or ``gaussian``) and its parameters (a; aw, ab; sw, sb).
    """

    kind: str
    a: float = 0.0
    aw: float = 0.0
    ab: float = 0.0
    sw: float = 0.0
    sb: float = 0.0

    @classmethod
    def parse(cls, spec: str | InitLaw) -> InitLaw:
        """Parse ``KIND:k=v,...`` (see the module docstring); one clear line on any error.

        >>> InitLaw.parse("uniform:aw=1,ab=0.5")
        InitLaw(kind='uniform', a=0.0, aw=1.0, ab=0.5, sw=0.0, sb=0.0)
        """
        if isinstance(spec, InitLaw):
            return spec
        if not isinstance(spec, str) or not spec.strip():
            raise BiasflowError(f"init law must be a string such as pm1-uniform:a=2 (got {spec!r}); "
                                f"use one of {_ALL_FORMS}")
        kind, _, rest = spec.strip().partition(":")
        kind = kind.strip()
        if kind not in _LAWS:
            raise BiasflowError(f"unknown init law {kind!r} in --init {spec!r}; use one of {_ALL_FORMS}")
        values: dict[str, float] = {}
        for item in filter(None, (s.strip() for s in rest.split(","))):
            key, eq, val = item.partition("=")
            key = key.strip()
            if not eq or key not in _LAWS[kind]:
                raise BiasflowError(f"init law {kind!r} has no parameter {item!r} (form {_FORMS[kind]}); "
                                    f"write e.g. --init {_EXAMPLES[kind]}")
            try:
                v = float(val)
            except ValueError:
                raise BiasflowError(f"init law {kind!r}: {key} must be a number (got {val.strip()!r}; "
                                    f"form {_FORMS[kind]})") from None
            if not (math.isfinite(v) and v > 0):
                raise BiasflowError(f"init law {kind!r}: {key} must be positive and finite (got {val.strip()}; "
                                    f"form {_FORMS[kind]})")
            values[key] = v
        for key in _LAWS[kind]:
            if key not in values:
                raise BiasflowError(f"init law {kind!r} needs {key} (form {_FORMS[kind]}); "
                                    f"e.g. --init {_EXAMPLES[kind]}")
        return cls(kind=kind, **values)

    def spec(self) -> str:
        """The ``KIND:k=v,...`` form (inverse of :meth:`parse`)."""
        return self.kind + ":" + ",".join(f"{k}={getattr(self, k):g}" for k in _LAWS[self.kind])

    def sample(self, key, n: int, d: int):
        """(w, b): w of shape (n, d) and b of shape (n,), float64, from this law (JAX random)."""
        import jax
        import jax.numpy as jnp

        kw, kb = jax.random.split(key)
        if self.kind == "pm1-uniform":
            if d == 1:
                w = jnp.where(jax.random.bernoulli(kw, 0.5, (n, 1)), 1.0, -1.0)
            else:
                g = jax.random.normal(kw, (n, d))
                w = g / jnp.linalg.norm(g, axis=1, keepdims=True)
            b = jax.random.uniform(kb, (n,), minval=-self.a, maxval=self.a)
        elif self.kind == "uniform":
            w = jax.random.uniform(kw, (n, d), minval=-self.aw, maxval=self.aw)
            b = jax.random.uniform(kb, (n,), minval=-self.ab, maxval=self.ab)
        else:
            w = self.sw * jax.random.normal(kw, (n, d))
            b = self.sb * jax.random.normal(kb, (n,))
        return jnp.asarray(w, jnp.float64), jnp.asarray(b, jnp.float64)

    # ---- properties of the law used by the infinite-width bias (1-D unless stated) ----

    def zeta(self, s) -> np.ndarray:
        """Curvature weight ζ(s) = ∫|w|³ p(w, −ws) dw (d = 1): where the kinks −b/w land, weighted by |w|³.

        Closed forms: ±1 and U[−a, a]: 1/(2a) on |s| ≤ a; uniform (aw, ab): aw³/(8ab) on |s| ≤ ab/aw and
        ab³/(8aw s⁴) outside; Gaussian: (2/π)σw³σb³/(σb² + σw²s²)².

        >>> float(InitLaw.parse("pm1-uniform:a=2").zeta(0.5))
        0.25
        """
        s = np.asarray(s, float)
        if self.kind == "pm1-uniform":
            return np.where(np.abs(s) <= self.a, 1.0 / (2 * self.a), 0.0)
        if self.kind == "uniform":
            r = self.ab / self.aw
            with np.errstate(divide="ignore"):
                tail = self.ab ** 3 / (8 * self.aw * np.maximum(s * s, 1e-300) ** 2)
            return np.where(np.abs(s) <= r, self.aw ** 3 / (8 * self.ab), tail)
        sw, sb = self.sw, self.sb
        return (2 / np.pi) * sw ** 3 * sb ** 3 / (sb * sb + sw * sw * s * s) ** 2

    def second_moment(self, d: int = 1) -> np.ndarray:
        """G = E[(w, b)(w, b)ᵀ], a (d+1)×(d+1) diagonal matrix (w first, b last)."""
        if self.kind == "pm1-uniform":
            ww, bb = 1.0 / d, self.a ** 2 / 3
        elif self.kind == "uniform":
            ww, bb = self.aw ** 2 / 3, self.ab ** 2 / 3
        else:
            ww, bb = self.sw ** 2, self.sb ** 2
        return np.diag(np.r_[np.full(d, ww), bb])

    def zeta_support(self) -> float:
        """Half-width of the support of ζ (inf for the heavy-tailed laws)."""
        return self.a if self.kind == "pm1-uniform" else math.inf


_ACTIVATIONS = ("relu", "abs")
_TRAIN = ("all", "output")


@dataclasses.dataclass(frozen=True, eq=False)
class Shallow:
    """f(x) = Σ_k a_k σ(w_k·x + b_k) + c [+ s·(uᵀx + v)], standard parametrization (see the module doc)."""

    name: ClassVar[str] = "shallow"

    d: int = field(default=1, metadata={"help": "input dimension (from the data)"})
    width: int = field(default=1000, metadata={"help": "number of hidden units N (even with --asymmetric); "
                                                       "default 1000"})
    alpha: float = field(default=1.0, metadata={
        "help": "scale of the output layer at initialization: a_k, c ~ U[−α/√N, α/√N]; default 1 (PyTorch)"})
    activation: str = field(default="relu", metadata={"help": "hidden activation σ: relu or abs; default relu"})
    init_law: str = field(default="pm1-uniform:a=2", metadata={
        "cli": "--init", "help": "law of (w, b): pm1-uniform:a=A | uniform:aw=AW,ab=AB | gaussian:sw=SW,sb=SB; "
                "default pm1-uniform:a=2"})
    asymmetric: bool = field(default=False, metadata={
        "help": "N/2 mirrored pairs (same w, b; opposite a) and c = 0 so that f₀ ≡ 0; default off"})
    train: str = field(default="all", metadata={
        "help": "which parameters train: all, or output (a, c and the skip; the model is then linear in "
                "its parameters); default all"})
    skip: bool = field(default=False, metadata={
        "help": "add an affine skip connection s·(uᵀx + v), starting at 0, unpenalized as N → ∞; default off"})
    skip_scale: float = field(default=0.0, metadata={
        "help": "the skip's scale s (> 0), or 0 for the default s = N"})
    seed: int = field(default=0, metadata={"help": "initialization seed when no key is given; default 0"})

    def __post_init__(self):
        for name, v in (("d", self.d), ("width", self.width)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise BiasflowError(f"shallow model: {name} must be an integer ≥ 1 (got {v!r})")
        if self.activation not in _ACTIVATIONS:
            raise BiasflowError(f"unknown activation {self.activation!r}; use --activation relu or abs")
        if self.train not in _TRAIN:
            raise BiasflowError(f"unknown --train {self.train!r}; use all or output")
        if self.asymmetric and self.width % 2:
            raise BiasflowError(f"--asymmetric needs an even --width (N/2 mirrored pairs; got {self.width})")
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha) and self.alpha >= 0):
            raise BiasflowError(f"shallow model: alpha must be ≥ 0 and finite (got {self.alpha!r})")
        if not (math.isfinite(self.skip_scale) and self.skip_scale >= 0):
            raise BiasflowError(f"skip_scale must be ≥ 0 (0 = default N; got {self.skip_scale!r})")
        object.__setattr__(self, "_law", InitLaw.parse(self.init_law))
        check_memory(self.memory_bytes(0), f"a shallow network of width {self.width} on d = {self.d}",
                     "reduce --width")

    # ---- protocol ----

    @property
    def law(self) -> InitLaw:
        """The parsed law of (w, b) (the field ``init_law``; ``--init`` on the command line)."""
        return self._law  # type: ignore[attr-defined]

    @property
    def linear_in_params(self) -> bool:
        """True when the model is linear in its trainable parameters (``train="output"``): the capability
        that makes its gradient flow exact (:mod:`biasflow.dynamics.output_layer`)."""
        return self.train == "output"

    @property
    def scale(self) -> float:
        """The skip connection's scale s."""
        return float(self.skip_scale) if self.skip_scale > 0 else float(self.width)

    def init(self, key=None):
        """Parameters {w (N, d), b (N,), a (N,), c (), [u (d,), v ()]} drawn from the law (float64)."""
        import jax
        import jax.numpy as jnp

        from .. import _jax  # noqa: F401

        key = jax.random.PRNGKey(int(self.seed)) if key is None else key
        k1, k2, k3 = jax.random.split(key, 3)
        N, d = int(self.width), int(self.d)
        bound = float(self.alpha) / math.sqrt(N)
        if self.asymmetric:
            w, b = self.law.sample(k1, N // 2, d)
            a = jax.random.uniform(k2, (N // 2,), minval=-bound, maxval=bound)
            w, b, a = jnp.concatenate([w, w]), jnp.concatenate([b, b]), jnp.concatenate([a, -a])
            c = jnp.zeros(())
        else:
            w, b = self.law.sample(k1, N, d)
            a = jax.random.uniform(k2, (N,), minval=-bound, maxval=bound)
            c = jax.random.uniform(k3, (), minval=-bound, maxval=bound)
        p = {"w": w, "b": b, "a": jnp.asarray(a, jnp.float64), "c": jnp.asarray(c, jnp.float64)}
        if self.skip:
            p["u"] = jnp.zeros(d)
            p["v"] = jnp.zeros(())
        return p

    def act(self, z):
        import jax.numpy as jnp

        return jnp.maximum(z, 0.0) if self.activation == "relu" else jnp.abs(z)

    def features(self, params, X):
        """σ(X wᵀ + b): the (n, N) hidden activations (the output layer's features)."""
        import jax
        import jax.numpy as jnp

        w, b = params["w"], params["b"]
        if self.train == "output":
            w, b = jax.lax.stop_gradient(w), jax.lax.stop_gradient(b)
        return self.act(jnp.asarray(X) @ w.T + b)

    def apply(self, params, X):
        """f(X): one output per row of X (n, d). With ``train="output"`` the first layer gets no gradient."""
        import jax.numpy as jnp

        X = jnp.asarray(X)
        f = self.features(params, X) @ params["a"] + params["c"]
        if self.skip:
            f = f + self.scale * (X @ params["u"] + params["v"])
        return f

    # ---- linear in the output layer: θ_out = (a, c[, u, v]) with f = Φ(X)θ_out + (nothing else) ----

    def output_features(self, params, X) -> np.ndarray:
        """Φ(X) = [σ(Xwᵀ + b), 1, (s·X, s)]: f(X) = Φ(X)θ_out exactly (NumPy, (n, P_out))."""
        X = np.asarray(X, float)
        X = X[:, None] if X.ndim == 1 else X
        Z = X @ np.asarray(params["w"]).T + np.asarray(params["b"])
        H = np.maximum(Z, 0.0) if self.activation == "relu" else np.abs(Z)
        cols = [H, np.ones((X.shape[0], 1))]
        if self.skip:
            cols += [self.scale * X, np.full((X.shape[0], 1), self.scale)]
        return np.hstack(cols)

    def output_params(self, params) -> np.ndarray:
        """θ_out = (a, c[, u, v]) as one vector (the order of :meth:`output_features`)."""
        parts = [np.asarray(params["a"]).reshape(-1), np.asarray(params["c"]).reshape(1)]
        if self.skip:
            parts += [np.asarray(params["u"]).reshape(-1), np.asarray(params["v"]).reshape(1)]
        return np.concatenate(parts)

    def with_output_params(self, params, theta) -> dict:
        """``params`` with the output layer replaced by the vector θ_out."""
        N, d = int(self.width), int(self.d)
        theta = np.asarray(theta, float)
        out = dict(params)
        out["a"], out["c"] = theta[:N], theta[N]
        if self.skip:
            out["u"], out["v"] = theta[N + 1:N + 1 + d], theta[N + 1 + d]
        return out

    def invariants(self, params):
        """Per unit: a_k² − ‖w_k‖² − b_k² (conserved by gradient flow of the full net, σ 1-homogeneous)."""
        import jax.numpy as jnp

        return params["a"] ** 2 - jnp.sum(params["w"] ** 2, axis=1) - params["b"] ** 2

    def config(self) -> dict:
        return {"model": self.name, "d": int(self.d), "width": int(self.width), "activation": self.activation,
                "init": self.law.spec(), "asymmetric": bool(self.asymmetric), "train": self.train,
                "skip": bool(self.skip), "skip_scale": self.scale if self.skip else 0.0, "seed": int(self.seed),
                "alpha": float(self.alpha)}

    def num_params(self) -> int:
        N, d = int(self.width), int(self.d)
        return N * (d + 2) + 1 + ((d + 1) if self.skip else 0)

    def memory_bytes(self, n: int) -> int:
        """Peak bytes for a gradient step on n examples: ~6 (n, N) float64 arrays (pre-activations,
        activations and their cotangents) plus ~8 copies of the parameters (state, previous state, gradient,
        optimizer buffers)."""
        return int(8 * (6 * int(n) * int(self.width) + 8 * self.num_params()) + 2 ** 20)

    def evaluate(self, params, X, chunk_bytes: int = 2 ** 27) -> np.ndarray:
        """f(X) as a NumPy array, in row chunks so that (n, N) never exceeds ``chunk_bytes``."""
        X = np.asarray(X, float)
        if X.ndim == 1:
            X = X[:, None]
        rows = max(1, chunk_bytes // (8 * int(self.width)))
        p = {k: np.asarray(v) for k, v in params.items()}
        out = []
        for i in range(0, X.shape[0], rows):
            Z = X[i:i + rows] @ p["w"].T + p["b"]
            H = np.maximum(Z, 0.0) if self.activation == "relu" else np.abs(Z)
            f = H @ p["a"] + p["c"]
            if self.skip:
                f = f + self.scale * (X[i:i + rows] @ p["u"] + p["v"])
            out.append(f)
        return np.concatenate(out) if out else np.zeros(0)


def require_memory(model, n: int) -> None:
    """Refuse (one line) before allocating when ``model.memory_bytes(n)`` exceeds the memory budget
    (:func:`biasflow.models.memory.check_memory`).

    >>> require_memory(Shallow(width=10 ** 6), 10 ** 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: a shallow network of width 1000000 on 100000 points needs an estimated ...
    """
    check_memory(model.memory_bytes(int(n)), f"a shallow network of width {model.width} on {n} points",
                 "use a smaller --width or fewer points")


def make_shallow(d, depth=None, shape=None, init=None, **options) -> Shallow:
    """Factory for :data:`biasflow.models.MODELS` (``--model shallow``; options as the dataclass fields,
    ``--init`` for the field ``init_law``)."""
    if depth not in (None, 2):
        raise BiasflowError("the shallow model has two layers; drop --depth")
    if shape is not None:
        raise BiasflowError("the shallow model takes no --shape; choose the law of (w, b) with --init")
    from .options import fields as option_fields

    known = {f.name for f in dataclasses.fields(Shallow)}
    defaults = {f.name: f.default for f in option_fields()}
    unknown = sorted(k for k, v in options.items()
                     if k not in known and v is not None and not (k in defaults and v == defaults[k]))
    if unknown:
        raise BiasflowError(f"the shallow model takes no --{unknown[0].replace('_', '-')}")
    kw = {k: v for k, v in options.items() if k in known and v is not None}
    if init is not None:
        kw["init_law"] = init
    return Shallow(d=int(d), **kw)


__all__ = ["InitLaw", "Shallow", "make_shallow", "require_memory", "sphere_abs_moment"]
