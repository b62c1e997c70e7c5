"""The linear G-CNN: layered forward = predictor, Fourier factorization, conservation, equality with conv."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from biasflow.data import gaussian, make_dataset
from biasflow.dynamics.flow import flow
from biasflow.errors import BiasflowError
from biasflow.models import build_model
from biasflow.models.conv import Conv
from biasflow.models.gcnn import GCNN


@pytest.mark.parametrize("group,L", [("dihedral:n=4", 3), ("C2xD3", 2), ("dihedral:n=5", 1), ("C6", 4)])
def test_layers_predictor_and_fourier_product(group, L):
    net = GCNN(d=_order(group),
               group=group, depth=L, alpha=0.7, seed=3)
    G = net.finite_group
    params = net.init()
    beta = np.asarray(net.predictor(params))
    x = np.random.default_rng(0).standard_normal(G.order)
    # two paths to f(x): the layered G-correlations and ⟨x, β⟩ (sums of |G|^L products: rounding ≲ 1e-12)
    assert abs(float(net.forward_layers(params, x)) - x @ beta) <= 1e-12 * (1 + abs(x @ beta))
    # convolution theorem: β̂(ρ) = ŵ_L(ρ)⋯ŵ_1(ρ)
    spectra = net.spectra(params)
    for B, S in zip(G.fourier(beta), spectra, strict=True):
        P = np.eye(B.shape[0])
        for Sl in np.asarray(S):
            P = Sl @ P
        assert np.abs(B - P).max() <= 1e-12 * (1 + np.abs(B).max())


def _order(spec):
    from biasflow.groups import get_group

    return get_group(spec).order


def test_gcnn_on_cyclic_equals_conv_along_flow():
    ds = gaussian(n=6, d=8, k=1, seed=0)
    a = flow(GCNN(d=8, group="cyclic:n=8", depth=3, alpha=0.5), ds, "exp", until="1e-30")
    b = flow(Conv(d=8, depth=3, alpha=0.5), ds, "exp", until="1e-30")
    assert a.status == b.status == "ok"
    assert [c.log10_loss for c in a.checkpoints] == [c.log10_loss for c in b.checkpoints]
    for ca, cb in zip(a.checkpoints, b.checkpoints, strict=True):
        # same ODE (right-hand sides equal to rounding) solved at rtol 1e-10: measured ≤ 7e-12 relative
        err = np.abs(ca.predictor - cb.predictor).max() / np.abs(cb.predictor).max()
        assert err <= 1e-10


def test_invariants_conserved_under_flow_dihedral():
    net = GCNN(d=8, group="dihedral:n=4", depth=3, alpha=0.5, seed=1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 8))
    ds = make_dataset(X, np.sign(X[:, 0] + 0.1))
    tr = flow(net, ds, "exp", until="1e-20", seed=1)
    assert tr.status == "ok"
    inv0 = np.asarray(net.invariants(net.init(jax.random.PRNGKey(1))))
    for c in tr.checkpoints:
        inv = np.asarray(net.invariants(c.params))
        scale = max(float(np.sum(np.asarray(w) ** 2)) for w in c.params) * net.d
        # conserved by the exact flow; the ODE at rtol 1e-10 keeps it to ~1e-9 of the parameter scale
        assert np.abs(inv - inv0).max() <= 1e-8 * scale


def test_bad_inputs():
    with pytest.raises(BiasflowError, match="order 8 but the signals have length d = 6"):
        GCNN(d=6, group="dihedral:n=4")
    with pytest.raises(BiasflowError, match="unknown group"):
        GCNN(d=8, group="octahedral")
    with pytest.raises(BiasflowError, match="tuple of 2 filters"):
        GCNN(d=8).predictor((np.ones(8),))
    assert build_model("gcnn", 8, group="D4", depth=3).config() == {
        "model": "gcnn", "group": "D4", "depth": 3, "alpha": 1.0, "seed": 0}
