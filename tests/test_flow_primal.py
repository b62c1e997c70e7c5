"""The autodiff primal path on models without a dual solution (dense networks)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from biasflow.data import gaussian
from biasflow.dynamics.flow import flow
from biasflow.losses import EXP

Dense = pytest.importorskip("biasflow.models.dense").Dense
DS = gaussian(n=10, d=4, k=1, seed=3)


def test_dense_balancedness_conserved_and_auto_picks_autodiff():
    net = Dense(d=4, depth=3, width=3, alpha=0.5)
    tr = flow(net, DS, "exp", until="1e-10", checkpoints=["1e-2"], rtol=1e-12)
    assert tr.status == "ok" and tr.method == "autodiff"
    inv0 = np.asarray(net.invariants(net.init(__import__("jax").random.PRNGKey(0))))
    scale = np.abs(inv0).max()
    for c in tr.checkpoints:
        inv = np.asarray(net.invariants(c.params))
        # tol: invariants along DOP853 at rtol 1e-12: global error ≤ rtol × error growth (≤ 1e2 here)
        assert np.max(np.abs(inv - inv0)) < 1e-10 * max(scale, np.abs(inv).max())
        # tol: the predictor of the returned parameters, recomputed: a product of L ≤ 3 matrices, γ_width
        assert np.allclose(np.asarray(net.predictor(c.params)), c.predictor, rtol=1e-12)


def test_dense_loss_clock_matches_physical_time_primal_integration():
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    net = Dense(d=4, depth=2, width=3, alpha=0.7)
    tr = flow(net, DS, "exp", until="1e-3", checkpoints=["1e-1"])
    flat, unravel = ravel_pytree(net.init(jax.random.PRNGKey(0)))
    A = jnp.asarray(DS.A)
    logl = jax.jit(lambda th: EXP.log_mean(A @ net.predictor(unravel(th)), None))
    grad_loss = jax.jit(jax.grad(lambda th: jnp.exp(EXP.log_mean(A @ net.predictor(unravel(th)), None))))

    def ev(t, th):
        return float(logl(th)) - (-3.0 * np.log(10))

    ev.terminal = True
    sol = solve_ivp(lambda t, th: -np.asarray(grad_loss(th)), (0, 1e9), np.asarray(flat), method="DOP853",
                    rtol=1e-12, atol=1e-14, events=ev)
    beta = np.asarray(net.predictor(unravel(sol.y_events[0][0])))
    # tol: two integrations (loss clock vs physical time) each at rtol 1e-12, error growth ≤ 1e4
    assert np.linalg.norm(tr.final.predictor - beta) < 1e-8 * np.linalg.norm(beta)
    assert abs(tr.final.log10_time - np.log10(sol.t_events[0][0])) < 1e-8


@pytest.mark.slow
def test_dense_depth3_width100_reaches_1e_100():
    ds = gaussian(n=100, d=50, k=5, seed=0)
    tr = flow(Dense(d=50, depth=3, width=100, alpha=1.0), ds, "exp", until="1e-100")
    assert tr.status == "ok" and tr.final.log10_loss == -100.0
    m = np.asarray(ds.A) @ tr.final.predictor
    assert abs(float(EXP.log10_mean(m, None)) + 100) < 1e-9 * 100
