"""The two-layer linear net f = xᵀW a: closed forms of its flow on one example (the registry's conformance
suite covers the protocol)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from biasflow.data import make_dataset
from biasflow.errors import BiasflowError
from biasflow.models import build_model
from biasflow.models.twolayer import TwoLayer


def test_square_loss_flow_interpolates_and_keeps_balance():
    """One regression example x = e_1, y = 1: the flow interpolates (β_1 → 1) and WᵀW − aaᵀ is conserved."""
    from biasflow.dynamics.flow import flow

    X = np.eye(3)[:1]
    ds = make_dataset(X, np.array([1.0]), task="regression")
    m = build_model("twolayer", 3, width=2, alpha=0.5, seed=1)
    tr = flow(m, ds, "square", until="1e-8")
    assert tr.status == "ok"
    c = tr.checkpoints[-1]
    # ℒ = (1 − β_1)²/2 = 1e-8 ⇒ |1 − β_1| = √2·1e-4
    assert abs(1.0 - float(c.predictor[0])) == pytest.approx(np.sqrt(2e-8), rel=1e-6)
    I0, I1 = m.invariants(m.init(jax.random.PRNGKey(0))), m.invariants(c.params)  # flow's start: seed 0
    np.testing.assert_allclose(I1, I0, atol=1e-8)  # the solver's rtol 1e-10 on O(1) parameters, summed


def test_bad_options_are_refused():
    with pytest.raises(BiasflowError, match="width must be a positive integer"):
        TwoLayer(d=3, width=0)
    with pytest.raises(BiasflowError, match="drop --depth"):
        build_model("twolayer", 3, depth=3)
    with pytest.raises(BiasflowError, match="over the budget"):
        TwoLayer(d=10**6, width=10**4)
