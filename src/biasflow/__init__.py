"""biasflow: a laboratory for the implicit bias of training linear networks.

Data flows one way: Dataset → Model → Dynamics (flow | descent) → Trajectory → Bias → Comparison →
Store/Report. JAX runs in float64 (enabled at ``import biasflow``, before JAX is imported, and again by
every module that imports it).

Start-up is in proportion to the work: ``import biasflow`` loads NumPy only; the names below are
imported on first access (PEP 562 module ``__getattr__``), so the exact flow, margins, interpolants and
results never import JAX, and JAX, optax, cvxpy, pyarrow/duckdb, dask and matplotlib load only on the
paths that use them.

>>> import biasflow
>>> biasflow.get_loss("exp").task
'classification'
"""

from __future__ import annotations

import importlib
import os
import sys

__version__ = "0.1.0"

# float64 from the start, without importing JAX: JAX reads JAX_ENABLE_X64 when it is first imported (so the
# caller's own jax.numpy arrays, e.g. in a model of their own, are float64 too); if the caller imported JAX
# before biasflow, switch it on now, before any program is traced.
os.environ.setdefault("JAX_ENABLE_X64", "1")
if "jax" in sys.modules:
    sys.modules["jax"].config.update("jax_enable_x64", True)

_LAZY = {
    "compare": "biasflow.bias.compare:compare",
    "interpolate": "biasflow.bias.interpolate:interpolate",
    "margin": "biasflow.bias.margins:margin",
    "predict": "biasflow.bias.predict:predict",
    "Dataset": "biasflow.data:Dataset",
    "builtin": "biasflow.data:builtin",
    "gaussian": "biasflow.data:gaussian",
    "load": "biasflow.data:load",
    "make_dataset": "biasflow.data:make_dataset",
    "descent": "biasflow.dynamics.descent:descent",
    "descent_many": "biasflow.dynamics.descent:descent_many",
    "flow": "biasflow.dynamics.flow:flow",
    "flow_many": "biasflow.dynamics.flow:flow_many",
    "BiasflowError": "biasflow.errors:BiasflowError",
    "Status": "biasflow.errors:Status",
    "Level": "biasflow.levels:Level",
    "GradientFlowClassifier": "biasflow.estimators:GradientFlowClassifier",
    "GradientFlowRegressor": "biasflow.estimators:GradientFlowRegressor",
    "parse_level": "biasflow.levels:parse_level",
    "get_loss": "biasflow.losses:get_loss",
    "UV": "biasflow.models:UV",
    "Conv": "biasflow.models:Conv",
    "Dense": "biasflow.models:Dense",
    "Diagonal": "biasflow.models:Diagonal",
    "ReLU2": "biasflow.models:ReLU2",
    "TensorNetwork": "biasflow.models:TensorNetwork",
    "UntiedDiagonal": "biasflow.models:UntiedDiagonal",
    "build_model": "biasflow.models:build_model",
    "Checkpoint": "biasflow.trajectory:Checkpoint",
    "DescentResult": "biasflow.trajectory:DescentResult",
    "Trajectory": "biasflow.trajectory:Trajectory",
}


def __getattr__(name: str):
    """Import a public name on first access (and cache it in the module)."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'biasflow' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
