"""Implicit-bias gaps along a gradient-descent path, from the margins it recorded.

:func:`biasflow.dynamics.descent.descent` records raw quantities only (with ``record_every=R``: the minimum
margin min_i y_i x_iᵀβ_k and the normalized margins γ_p(β_k) = min_i y_i x_iᵀβ_k / ‖β_k‖_p, p = 1, 2, at
steps 0, R, 2R, … and the final step). The gaps to the ℓp max-margin predictors (Soudry et al. 2018;
Gunasekar et al. 2018),

    gap_p(k) = 1 − γ_p(β_k)/γ_p*,    γ_p* = max_{‖β‖_p ≤ 1} min_i y_i x_iᵀβ  (certified LP/QP),

are computed here, after the run, so the dynamics never import the bias layer.

>>> from biasflow.data import gaussian
>>> from biasflow.dynamics.descent import descent
>>> from biasflow.models import Diagonal
>>> ds = gaussian(n=10, d=12, k=1, seed=0)
>>> r = descent(Diagonal(d=12, alpha=0.5), ds, "logistic", lr=1.0, steps=50, record_every=10)
>>> g = path_gaps(r, ds)
>>> g["margin_step"].tolist(), bool(g["gap_l1"][-1] < g["gap_l1"][1])   # β(0) = 0: no margin at step 0
([0, 10, 20, 30, 40, 50], True)
"""

from __future__ import annotations

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError
from .margins import max_margin


def path_gaps(result, data: Dataset, norms=("l1", "l2")) -> dict:
    """``{"gap_l1": array, "gamma_l1_star": float, ..., "margin_step": steps}`` for a descent result.

    Raises :class:`~biasflow.errors.BiasflowError` when the run recorded no margins (pass
    ``record_every`` ≥ 1 to :func:`~biasflow.dynamics.descent.descent`), or when the data are not
    separable (no max-margin predictor).
    """
    h = result.history
    if "margin_l1" not in h:
        raise BiasflowError("the run recorded no normalized margins: run descent with record_every ≥ 1 "
                            "(a linear model on classification data)")
    out: dict = {"margin_step": np.asarray(h["margin_step"])}
    for p in norms:
        star = max_margin(data, p).margin
        out[f"gap_{p}"] = 1.0 - np.asarray(h[f"margin_{p}"]) / star
        out[f"gamma_{p}_star"] = star
    return out


__all__ = ["path_gaps"]
