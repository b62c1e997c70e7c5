"""Linear network models, one per file, with a common protocol (:mod:`biasflow.models.base`).

:func:`build_model` makes a model from the CLI/sweep options; :data:`MODELS` maps each name to its factory.
A new model is one new file and one line here.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import BiasflowError
from .base import DualModel, Model, has_dual
from .conv import Conv, make_conv
from .dense import Dense, make_dense
from .diagonal import Diagonal, UntiedDiagonal
from .relu import ReLU2, make_relu
from .tensor import TensorNetwork, make_tensor
from .uv import UV, make_uv


def _diagonal(d, depth=None, alpha=1.0, shape=None, **_):
    return Diagonal(d=d, depth=2 if depth is None else depth, alpha=alpha, shape=shape)


def _untied(d, depth=None, alpha=1.0, shape=None, **_):
    if depth not in (None, 2):
        raise BiasflowError("diagonal-untied has depth 2; drop --depth")
    return UntiedDiagonal.from_scale_shape(d, alpha=alpha, shape=0.0 if shape is None else float(shape))


def _uv_diagonal(d, depth=None, alpha=1.0, shape=None, **_):
    if depth not in (None, 2):
        raise BiasflowError("diagonal-uv has depth 2; drop --depth")
    if shape is not None:
        raise BiasflowError("diagonal-uv starts at u = √2α, v = 0 and takes no --shape; use diagonal-untied")
    return UntiedDiagonal.even(d, alpha=alpha)


MODELS: dict[str, Callable[..., Model]] = {
    "diagonal": _diagonal,
    "diagonal-untied": _untied,
    "diagonal-uv": _uv_diagonal,
    "dense": make_dense,
    "conv": make_conv,
    "tensor": make_tensor,
    "uv": make_uv,
    "relu": make_relu,
    "shallow": lambda d, **o: __import__("biasflow.models.shallow", fromlist=["make_shallow"]).make_shallow(d, **o),
}
"""Model factories by name: ``factory(d, depth=, width=, alpha=, shape=, seed=, ...) -> Model``."""


def build_model(name: str, d: int, **options) -> Model:
    """Build a model by name for inputs of dimension ``d``.

    >>> build_model("diagonal", 4, depth=3, alpha=0.1).degree
    3
    >>> build_model("mlp", 4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: unknown model 'mlp'; choose one of diagonal, diagonal-untied, diagonal-uv, ...
    """
    if name not in MODELS:
        raise BiasflowError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](d, **options)


__all__ = [
    "MODELS", "UV", "Conv", "Dense", "Diagonal", "DualModel", "Model", "ReLU2", "TensorNetwork",
    "UntiedDiagonal", "build_model", "has_dual",
]
