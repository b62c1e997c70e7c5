"""Model registry: one file per model, one line per name in :data:`MODELS` (import-light: no JAX here).

:func:`build_model` makes a model from the CLI/sweep options; :func:`options` lists the options a model
takes (fields of :class:`biasflow.models.options.ModelOptions`, with their help). Model classes are
imported on first use (``from biasflow.models import Dense`` works; ``import biasflow.models`` does not
import JAX). The protocol and its capabilities are in :mod:`biasflow.models.base`.
"""

from __future__ import annotations

import dataclasses
import importlib

from ..errors import BiasflowError
from . import options as _options
from .base import DualModel, LinearModel, Model, has_decomposition, has_dual, is_linear


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered model: its factory ``"module:function"`` (imported on first use), the option names
    it takes (fields of :class:`~biasflow.models.options.ModelOptions`), and the depth recorded in results
    tables for runs that set none (None: not recorded)."""

    factory: str
    options: tuple[str, ...]
    depth: int | None = None

    def load(self):
        module, attr = self.factory.split(":")
        return getattr(importlib.import_module(module), attr)


MODELS: dict[str, Entry] = {
    "diagonal": Entry("biasflow.models.diagonal:make_diagonal", ("depth", "alpha", "shape"), depth=2),
    "diagonal-untied": Entry("biasflow.models.diagonal:make_untied", ("alpha", "shape"), depth=2),
    "diagonal-uv": Entry("biasflow.models.diagonal:make_uv_diagonal", ("alpha",), depth=2),
    "dense": Entry("biasflow.models.dense:make_dense", ("depth", "width", "alpha", "seed")),
    "conv": Entry("biasflow.models.conv:make_conv", ("depth", "width", "alpha", "seed")),
    "tensor": Entry("biasflow.models.tensor:make_tensor", ("depth", "width", "alpha", "seed")),
    "uv": Entry("biasflow.models.uv:make_uv", ("width", "alpha", "seed")),
    "relu": Entry("biasflow.models.relu:make_relu", ("width", "alpha", "seed")),
    "twolayer": Entry("biasflow.models.twolayer:make_twolayer", ("width", "alpha", "seed")),
    "gcnn": Entry("biasflow.models.gcnn:make_gcnn", ("group", "depth", "alpha", "seed")),
    "batchnorm": Entry("biasflow.models.batchnorm:make_batchnorm", ("alpha", "seed", "gamma0", "patches", "center")),
    "matrix": Entry("biasflow.models.matrix:make_matrix", ("depth", "width", "alpha", "seed", "widths", "init")),
    "shallow": Entry("biasflow.models.shallow:make_shallow", ("width", "alpha", "seed", "activation", "init",
                                                             "asymmetric", "train", "skip")),
}
"""Registered models by name: ``MODELS[name].load()(d, depth=, width=, alpha=, shape=, seed=) -> Model``."""


def options(name: str) -> tuple[dataclasses.Field, ...]:
    """The option fields (with ``metadata["help"]``) that model ``name`` takes.

    >>> [f.name for f in options("uv")]
    ['width', 'alpha', 'seed']
    """
    entry = _entry(name)
    return tuple(f for f in _options.fields() if f.name in entry.options)


def _entry(name: str) -> Entry:
    if name not in MODELS:
        raise BiasflowError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name: str, d: int, **options) -> Model:
    """Build a model by name for inputs of dimension ``d``.

    >>> build_model("diagonal", 4, depth=3, alpha=0.1).degree
    3
    >>> build_model("mlp", 4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: unknown model 'mlp'; choose one of diagonal, diagonal-untied, diagonal-uv, ...
    """
    return _entry(name).load()(d, **options)


_CLASSES = {
    "Diagonal": "diagonal", "UntiedDiagonal": "diagonal", "Dense": "dense", "Conv": "conv",
    "TensorNetwork": "tensor", "UV": "uv", "ReLU2": "relu", "MatrixFactorization": "matrix", "Shallow": "shallow",
}


def __getattr__(attr):  # PEP 562: model classes load (with JAX) on first access
    if attr in _CLASSES:
        return getattr(importlib.import_module(f"{__name__}.{_CLASSES[attr]}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


__all__ = [
    "MODELS", "UV", "Conv", "Dense", "Diagonal", "DualModel", "Entry", "LinearModel", "MatrixFactorization", "Model",
    "ReLU2",
    "TensorNetwork", "UntiedDiagonal", "build_model", "has_decomposition", "has_dual", "is_linear", "options",
]
