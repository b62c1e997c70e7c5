"""Dynamics of tensor networks: Saxe closed form, balancedness monitors, and the flows' limits."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from biasflow.dynamics.balance import invariant_drift
from biasflow.models import Conv, Dense

TS = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])


def _gf(model, params, X, y, ts):
    """Reference flow θ̇ = −∇ℒ, ℒ = (1/2n)‖Xβ − y‖²: SciPy DOP853 at rtol 1e-13 on a jitted gradient."""
    from jax.flatten_util import ravel_pytree

    X, y = jnp.asarray(X), jnp.asarray(y)
    flat0, unravel = ravel_pytree(params)

    @jax.jit
    def rhs(th):
        return -jax.grad(lambda t: 0.5 * jnp.mean((X @ model.predictor(unravel(t)) - y) ** 2))(th)

    sol = solve_ivp(
        lambda t, th: np.asarray(rhs(jnp.asarray(th))),
        (0.0, float(ts[-1])),
        np.asarray(flat0),
        t_eval=ts,
        rtol=1e-13,
        atol=1e-16,
        method="DOP853",
    )
    return [unravel(jnp.asarray(sol.y[:, i])) for i in range(len(ts))]


@pytest.mark.parametrize("L", [2, 3])
def test_saxe_sigmoid_deep_linear_regression(L):
    """docs/theory/oracles.md §8.7: whitened inputs, balanced rank-one init aligned with β*: ‖β(t)‖ = a(t) with
    ȧ = L a^{2−2/L}(s − a) (L = 2: a = s e^{2st}/(e^{2st} − 1 + s/a0))."""
    rng = np.random.default_rng(0)
    n, d, width, a0 = 8, 4, 3, 1e-2
    Q = np.linalg.qr(rng.standard_normal((n, d)))[0]
    X = math.sqrt(n) * Q  # (1/n) XᵀX = I
    bstar = rng.standard_normal(d)
    bstar *= 2.0 / np.linalg.norm(bstar)
    s = float(np.linalg.norm(bstar))
    y = X @ bstar
    u = [bstar / s] + [v / np.linalg.norm(v) for v in rng.standard_normal((L - 1, width))] + [np.ones(1)]
    c = a0 ** (1.0 / L)
    params = tuple(jnp.asarray(c * np.outer(u[l], u[l + 1])) for l in range(L))
    net = Dense(d=d, depth=L, width=width)
    states = _gf(net, params, X, y, TS)
    norms = np.array([np.linalg.norm(np.asarray(net.predictor(p))) for p in states])
    if L == 2:
        e = np.exp(2 * s * TS)
        ref = s * e / (e - 1 + s / a0)
    else:
        sol = solve_ivp(
            lambda t, a: L * a ** (2 - 2 / L) * (s - a),
            (0, TS[-1]),
            [a0],
            t_eval=TS,
            rtol=1e-13,
            atol=1e-16,
            method="DOP853",
        )
        ref = sol.y[0]
    assert ref[-1] > 0.9 * s and ref[0] < 0.1 * s  # the sigmoid is traversed
    np.testing.assert_allclose(norms, ref, rtol=1e-9)
    # β stays on the ray of β*, and the layers stay balanced
    b = np.asarray(net.predictor(states[-1]))
    assert np.linalg.norm(b / np.linalg.norm(b) - bstar / s) < 1e-9
    assert invariant_drift(net, params, states[-1]) < 1e-10


def test_balance_monitor_detects_gd_drift_scaling():
    """Under GD the invariants drift by O(η²) per step: over a fixed time, halving η divides drift by ~2."""
    from biasflow.data import gaussian
    from biasflow.dynamics.descent import descent

    ds = gaussian(n=6, d=8, k=1, seed=0)
    net = Conv(d=8, depth=2, alpha=0.2, seed=0)
    p0 = net.init()
    drifts = []
    for lr in (0.1, 0.05):
        r = descent(net, ds, "exp", lr=lr, steps=int(4 / lr), params0=p0)
        assert r.status == "ok"
        drifts.append(invariant_drift(net, p0, r.params))
    assert drifts[1] > 0
    assert 1.8 < drifts[0] / drifts[1] < 2.2
