"""The linear G-CNN: layered forward = predictor, Fourier factorization, conservation, equality with conv."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_descent_runs_and_keeps_invariants_to_order_eta_squared():
    from biasflow.dynamics.descent import descent

    G = "dihedral:n=3"
    net = GCNN(d=6, group=G, depth=2, alpha=0.5)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 6))
    ds = make_dataset(X, np.sign(X[:, 0] + 0.2))
    drifts = []
    for lr in (0.02, 0.01):
        r = descent(net, ds, "exp", lr=lr, steps=int(2 / lr))
        assert r.status == "ok" and r.loss[-1] < r.loss[0]
        p0 = net.init(jax.random.fold_in(jax.random.PRNGKey(0), 0))
        drifts.append(float(np.abs(np.asarray(net.invariants(r.params)) - np.asarray(net.invariants(p0))).max()))
    # GD drifts by O(η²) per step over 2/η steps: O(η) in total, so halving η about halves the drift
    assert 0.35 < drifts[1] / drifts[0] < 0.65


@settings(max_examples=10)
@given(st.sampled_from(["C5", "D3", "D4", "C2xC3", "C2xD3"]), st.integers(1, 4), st.integers(0, 3))
def test_shapes_and_fourier_products_any_group(spec, L, seed):
    from biasflow.groups import get_group

    G = get_group(spec)
    net = GCNN(d=G.order, group=spec, depth=L, alpha=1.0, seed=seed)
    p = net.init()
    beta = np.asarray(net.predictor(p))
    assert beta.shape == (G.order,) and net.invariants(p).ndim == 1
    for B, S in zip(G.fourier(beta), net.spectra(p), strict=True):
        P = np.eye(B.shape[0])
        for Sl in np.asarray(S):
            P = Sl @ P
        assert np.abs(B - P).max() <= 1e-11 * (1 + np.abs(B).max())   # L ≤ 4 products of O(|G|) sums


def test_group_from_file_and_config_roundtrip(tmp_path):
    import json

    from biasflow.groups import dihedral

    g0 = dihedral(3)
    p = tmp_path / "d3.json"
    p.write_text(json.dumps({"name": "D3 (file)", "elements": [
        [[[[float(x.real), float(x.imag)] for x in row] for row in m] for m in r] for r in g0.irreps]}))
    net = build_model("gcnn", 6, group=f"file:{p}", depth=2, alpha=0.5)
    assert net.config()["group"] == f"file:{p}"
    again = build_model("gcnn", 6, **{k: v for k, v in net.config().items() if k != "model"})
    params = net.init()
    # same element order as the shipped D3 (the file lists its matrices in that order): same predictor
    ship = GCNN(d=6, group="D3", depth=2, alpha=0.5)
    np.testing.assert_array_equal(np.asarray(again.predictor(params)), np.asarray(ship.predictor(params)))
