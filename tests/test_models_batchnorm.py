"""Batch-normalized linear models and linear CNNs: conservation, frozen null space, uniform margins."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from biasflow.bias.batchnorm import (
    margin_spread,
    margins,
    norm_drift,
    null_drift,
    patch_margins,
    uniform_margin,
)
from biasflow.data import make_dataset
from biasflow.dynamics.descent import descent
from biasflow.dynamics.flow import flow
from biasflow.errors import BiasflowError
from biasflow.models import build_model
from biasflow.models.batchnorm import BatchNorm, CenteredBatchNorm


def cao_linear_data():
    """d = 6, n = 5, x₅ = 2x₁ + 0.5·noise (the ill-spread example: x₅ is no support vector of the SVM)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 6))
    X[4] = 2 * X[0] + 0.5 * rng.standard_normal(6)
    y = rng.choice([-1.0, 1.0], 5)
    y[4] = y[0]
    return make_dataset(X, y)


def test_predictor_equals_layered_bn_and_invariance():
    ds = cao_linear_data()
    net = BatchNorm(d=6, patches=2, gamma0=1.5).bind(ds)
    w, g = net.init(jax.random.PRNGKey(1))
    Xp = ds.X.reshape(10, 3)
    # BN by hand: normalize the patch features ⟨w, x^{(p)}⟩ by their root mean square over batch and positions
    feats = (ds.X.reshape(5, 2, 3) @ np.asarray(w))
    f = float(g) * feats.sum(axis=1) / np.sqrt(np.mean((Xp @ np.asarray(w)) ** 2))
    assert np.allclose(np.asarray(net.apply((w, g), ds.X)), f, rtol=1e-13)
    # scale invariance in w: f(cw) = f(w)
    assert np.allclose(net.apply((3.7 * w, g), ds.X), net.apply((w, g), ds.X), rtol=1e-13)


def test_B2_B3_norm_conserved_and_null_frozen_under_flow():
    ds = cao_linear_data()
    net = BatchNorm(d=6, alpha=0.4).bind(ds)
    tr = flow(net, ds, "exp", until="1e-8", seed=0)
    assert tr.status == "ok"
    w0 = np.asarray(net.init(jax.random.PRNGKey(0))[0])
    for c in tr.checkpoints:
        w = np.asarray(c.params[0])
        # B2: ‖w‖ is an exact invariant of GF (∇_w ⊥ w); the ODE at rtol 1e-10 keeps it to ~1e-9
        assert abs(norm_drift(w, w0)) <= 1e-8
        # B3: the null(X) component never moves (gradients lie in row(X)): rounding only
        assert null_drift(w, w0, ds) <= 1e-12


def test_B1_bn_gd_reaches_uniform_margins_plain_gd_does_not():
    ds = cao_linear_data()
    net = BatchNorm(d=6, alpha=0.4).bind(ds)
    r = descent(net, ds, "exp", lr=0.5, steps=100_000)
    w, g = (np.asarray(p) for p in r.params)
    # measured 1.9e-7 (super-polynomial rate); the paper's claim is convergence to uniform margins
    assert margin_spread(margins(w, ds), float(g)) <= 1e-6
    # the limit is the predicted one: X⁺y direction in row(X) plus the frozen null part of w(0)
    w0 = np.asarray(net.init(jax.random.fold_in(jax.random.PRNGKey(0), 0))[0])
    pred = uniform_margin(ds, w0, norm=np.linalg.norm(w))
    assert np.linalg.norm(w - pred) / np.linalg.norm(w) <= 1e-5
    assert null_drift(w, w0, ds) <= 1e-12
    assert norm_drift(w, w0) > 1e-3        # GD (unlike GF) grows ‖w‖ in its first steps
    plain = descent(build_model("dense", 6, depth=1, alpha=1e-4), ds, "exp", lr=0.1, steps=10_000)
    assert margin_spread(ds.A @ np.asarray(plain.predictor)) >= 0.5


def test_patch_uniform_margins_exist_and_predictor_tiles():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 24))
    ds = make_dataset(X, np.array([1.0, -1.0, 1.0]))
    u = uniform_margin(ds, patches=2)                      # 6 patch vectors in R^12: independent
    assert np.allclose(patch_margins(u, ds, 2), 1.0, atol=1e-12)
    net = BatchNorm(d=24, patches=2).bind(ds)
    w, g = net.init()
    beta = np.asarray(net.predictor((w, g)))
    assert np.allclose(beta[:12], beta[12:])


def test_centered_model_trains_by_descent():
    ds = cao_linear_data()
    net = build_model("batchnorm", 6, center=True, alpha=0.4).bind(ds)
    assert isinstance(net, CenteredBatchNorm) and not hasattr(net, "predictor")
    p0 = net.init()
    # centering: a constant shift of every input does not change f (with b = 0)
    assert np.allclose(net.apply(p0, ds.X + 0.0), net.bind(ds.X + 5.0).apply(p0, ds.X + 5.0), rtol=1e-12)
    r = descent(net, ds, "exp", lr=0.5, steps=2000)
    assert r.status == "ok" and r.loss[-1] < r.loss[0]


def test_bad_inputs():
    with pytest.raises(BiasflowError, match="--patches 4 does not divide d = 6"):
        BatchNorm(d=6, patches=4)
    with pytest.raises(BiasflowError, match="gamma0 must be a finite non-zero"):
        build_model("batchnorm", 6, gamma0=0)
    with pytest.raises(BiasflowError, match=r"call model.bind\(data\)"):
        BatchNorm(d=6).predictor((jnp.ones(6), 1.0))
    with pytest.raises(BiasflowError, match="linearly dependent"):
        uniform_margin(make_dataset(np.ones((3, 2)) + np.eye(3, 2), np.array([1.0, -1.0, 1.0])))
