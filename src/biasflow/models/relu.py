"""A two-layer ReLU network, f(x) = N^{−1/2} vᵀ relu(Ux) in NTK parametrization — NOT a linear network.

biasflow studies linear networks; this model exists only for the real-data comparison of test accuracy
versus learning rate (Huang et al. 2020 compare deep linear and non-linear nets on MNIST/CIFAR; we use the
digits set that ships with the package). It has no end-to-end linear predictor (no ``predictor``, no
``degree``): :func:`biasflow.dynamics.descent.descent` trains it through ``apply(params, X)``, as every
model. Gradient flow, bias predictions and certificates do not apply to it.

>>> import jax.numpy as jnp
>>> m = ReLU2(d=3, width=16)
>>> m.apply(m.init(), jnp.ones((2, 3))).shape
(2,)
>>> hasattr(m, "predictor")
False
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from .memory import SOLVER_COPIES, check_memory
from .uv import check_two_layer, gaussian_two_layer_init


@dataclasses.dataclass(frozen=True, eq=False)
class ReLU2:
    """f(x) = N^{−1/2} vᵀ relu(Ux), U ∈ R^{N×d}, v ∈ R^N, entries N(0, α²) at init (non-linear).

    Args:
        d: input dimension; width: N ≥ 1; alpha: init standard deviation; seed: init seed when no key.
    """

    d: int
    width: int = 256
    alpha: float = 1.0
    seed: int = 0
    name: str = "relu"

    def __post_init__(self):
        check_two_layer(self, example_width=256)
        check_memory(self.memory_bytes(0), f"a relu net of width {self.width} on d={self.d}", "reduce --width")

    def init(self, key=None):
        """(U, v) with i.i.d. N(0, α²) entries (as the uv model)."""
        return gaussian_two_layer_init(self, key)

    def apply(self, params, X):
        """f(X) = relu(X Uᵀ) v /√N, one output per row of X."""
        U, v = params
        return jax.nn.relu(jnp.asarray(X) @ U.T) @ v / jnp.sqrt(float(self.width))

    forward = apply  # the historical name

    def memory_bytes(self, n: int) -> int:
        """Bytes: working copies of U, v, the data with one copy, and the n × N activations (three)."""
        return int(8 * (SOLVER_COPIES * self.width * (self.d + 1) + 2 * n * self.d + 3 * n * self.width))

    def invariants(self, params):
        """Per neuron: v_k² − ‖U_k‖² (conserved by gradient flow for a 1-homogeneous activation)."""
        U, v = params
        return v * v - jnp.sum(U * U, axis=1)

    def config(self) -> dict:
        return {"model": self.name, "depth": 2, "width": int(self.width), "alpha": float(self.alpha),
                "seed": int(self.seed), "linear": False}


__all__ = ["ReLU2", "make_relu"]


def make_relu(d, depth=None, width=None, alpha=1.0, shape=None, seed=0, **_) -> ReLU2:
    """Factory for :data:`biasflow.models.MODELS` (``--model relu [--width N]``; descent only)."""
    if depth not in (None, 2):
        raise BiasflowError("the relu model has two layers; drop --depth")
    if shape is not None:
        raise BiasflowError("the relu model takes no --shape")
    return ReLU2(d=d, width=256 if width is None else int(width), alpha=float(alpha), seed=int(seed))
