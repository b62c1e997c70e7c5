"""Predicted implicit biases, solved and certified (docs/theory/diagonal.md §3, tensor.md §4.5, certificates.md §7).

- :mod:`~biasflow.bias.margins` — ℓ1/ℓ2/ℓ∞ max-margin with duality certificates; normalized margins.
- :mod:`~biasflow.bias.kkt` — the non-convex ℓ_{2/L} problem: KKT residual, best-effort solver.
- :mod:`~biasflow.bias.potentials` — Q-potentials of diagonal networks and their duals.
- :mod:`~biasflow.bias.interpolate` — minimum-Q interpolants (the end of square-loss flow) by dual Newton.
- :mod:`~biasflow.bias.predict` — the ``predict`` dispatcher; :mod:`~biasflow.bias.qmu` and
  :mod:`~biasflow.bias.margin_loss` — the Q_μ max-margin at a margin γ and at a loss level.
- :mod:`~biasflow.bias.finite_step` — Even et al.'s effective initialization of GD.
- :mod:`~biasflow.bias.compare` — per-checkpoint metrics of a trajectory against a prediction.
"""

from __future__ import annotations

import importlib
import sys
import types

# Public names and the submodule that defines each. Nothing is imported until a name is first used, so
# ``biasflow margin`` does not pay for the interpolation, KKT and comparison modules (PEP 562).
_NAMES = {
    "COLUMNS": "compare", "compare": "compare", "compare_path": "compare",
    "compare_predictor": "compare",
    "InterpolationResult": "interpolate", "interpolate": "interpolate",
    "min_l1_interpolant": "interpolate", "min_l2_interpolant": "interpolate",
    "kkt_residual": "kkt", "lp_max_margin_best_effort": "kkt",
    "MarginResult": "margins", "margin": "margins", "max_margin": "margins",
    "normalized_margin": "margins",
    "Q": "potentials", "potential_of": "potentials",
    "predict": "predict",
    "Prediction": "prediction",
    "q_mu_margin": "qmu",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    mod = _NAMES.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))


class _Package(types.ModuleType):
    """``compare``, ``interpolate`` and ``predict`` name both a submodule and the function it defines. The
    import system binds a submodule to its package's attribute once loaded; keep the attribute the
    function (as an eager ``from .predict import predict`` would), the module stays in ``sys.modules``."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _NAMES.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
