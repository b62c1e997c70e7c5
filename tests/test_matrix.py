"""Deep matrix factorization: model, tasks, flows (two paths), descent, ensembles and predicted biases."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biasflow.bias.matrix import distances, low_rank_candidates, min_frobenius, min_nuclear_norm
from biasflow.dynamics.matrix import (
    descent_ensemble,
    factor_gradients,
    matrix_descent,
    matrix_flow,
)
from biasflow.errors import BiasflowError
from biasflow.matrix_data import (
    completion,
    from_dataset,
    load_task,
    low_rank_completion,
    menon_2x2,
    menon_3x3,
    sensing,
)
from biasflow.models import build_model
from biasflow.models.matrix import MatrixFactorization as MF


# ------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: completion([[True, False]], [[1.0, 2.0, 3.0]]), "shape"),
        (lambda: completion([[False, False]], [[1.0, 2.0]]), "no observed entries"),
        (lambda: completion([[True, True]], [[1.0, math.inf]]), "non-finite"),
        (lambda: sensing(np.ones((2, 2, 2)), [1.0]), "must match"),
        (lambda: sensing(np.full((1, 2, 2), math.nan), [1.0]), "non-finite"),
        (lambda: MF(rows=2, init_spec="gaussian:eps=0"), "positive"),
        (lambda: MF(rows=2, init_spec="gaussian:eps=-1"), "positive"),
        (lambda: MF(rows=2, init_spec="normal:eps=0.1"), "unknown initialization"),
        (lambda: MF(rows=2, depth=0), "depth must be ≥ 1"),
        (lambda: MF(rows=2, cols=3, depth=3, widths=(4,)), "do not chain"),
        (lambda: MF(rows=2, depth=2, widths="a"), "integers"),
    ],
)
def test_bad_input_is_one_line(make, match):
    with pytest.raises(BiasflowError, match=match) as e:
        make()
    assert "\n" not in str(e.value)


def test_nan_off_the_mask_is_ignored_and_roundtrip(tmp_path):
    t = completion([[True, False], [False, True]], [[1.0, math.nan], [math.nan, 2.0]])
    assert t.b.tolist() == [1.0, 2.0] and np.all(np.isfinite(t.values))
    t.save(tmp_path / "c.npz")
    u = load_task(tmp_path / "c.npz")
    assert u.kind == "completion" and np.array_equal(u.mask, t.mask) and np.array_equal(u.b, t.b)
    np.savez(tmp_path / "bad.npz", mask=np.ones((2, 2), bool))
    with pytest.raises(BiasflowError, match="both 'mask' and 'values'"):
        load_task(tmp_path / "bad.npz")
    with pytest.raises(BiasflowError, match="not found"):
        load_task(tmp_path / "none.npz")


def test_wrong_factor_shapes_are_refused():
    m = MF(rows=2, cols=3, depth=2, widths=(4,))
    with pytest.raises(BiasflowError, match="do not chain"):
        m.check_params((np.zeros((4, 3)), np.zeros((2, 5))))
    with pytest.raises(BiasflowError, match="2×3"):
        matrix_flow(m, menon_2x2())


# ---------------------------------------------------------------------------------------------- model
def test_inits():
    m = MF(rows=3, depth=4, init_spec="identity:eps=0.5")
    assert np.allclose(m.matrix(m.init()), 0.5**4 * np.eye(3), atol=1e-15)
    b = MF(rows=3, cols=2, depth=3, init_spec="balanced:eps=0.2", seed=4)
    p = b.init()
    assert b.factor_shapes() == [(3, 2), (3, 3), (3, 3)]
    assert float(jnp.max(jnp.abs(b.invariants(p)))) < 1e-15   # exactly balanced up to round-off
    g = MF(rows=30, depth=2, init_spec="gaussian:eps=0.1").init(jax.random.PRNGKey(1))
    assert np.std(np.asarray(g[0])) == pytest.approx(0.1, rel=0.05)          # 900 samples: 3σ ≈ 7%·½
    assert build_model("matrix", 2, depth=3).config()["depth"] == 3


@pytest.mark.slow  # each new shape compiles JAX kernels (~2 s)
@settings(max_examples=8)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_shapes_chain_and_memory(m, k, L):
    mod = MF(rows=m, cols=k, depth=L, init_spec="balanced:eps=0.3")
    p = mod.init(0)
    assert mod.matrix(p).shape == (m, k) and mod.predictor(p).shape == (m * k,)
    assert float(jnp.max(jnp.abs(mod.invariants(p)))) < 1e-14 if L > 1 else mod.invariants(p).size == 0
    assert mod.memory_bytes(10) >= 8 * m * k * 10
    X = np.random.default_rng(0).standard_normal((5, m, k))
    assert np.allclose(mod.apply(p, X), np.tensordot(X, np.asarray(mod.matrix(p)), axes=([1, 2], [0, 1])))


def test_factor_gradients_match_autodiff():
    task = low_rank_completion(4, 3, 1, 0.6, seed=2)
    m = MF(rows=4, cols=3, depth=3, init_spec="gaussian:eps=0.7", widths=(2, 5))
    p = m.init(3)
    W = np.asarray(m.matrix(p))
    mine = factor_gradients([np.asarray(f) for f in p], task.grad(W))

    def loss(ps):
        r = jnp.asarray(task.mask) * (m.matrix(ps) - jnp.asarray(task.values))
        return 0.5 * jnp.sum(r * r) / task.n

    auto = jax.grad(loss)(p)
    for a, b in zip(mine, auto, strict=True):
        assert np.allclose(a, b, rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------------------------- flows
@pytest.mark.parametrize(("task", "model"), [
    (menon_2x2(), MF(rows=2, depth=3, init_spec="balanced:eps=0.1", seed=3)),
    (menon_3x3(), MF(rows=3, depth=4, init_spec="balanced:eps=0.5", seed=1)),
    (low_rank_completion(3, 2, 1, 0.7, seed=1), MF(rows=3, cols=2, depth=3, init_spec="balanced:eps=0.5")),
])
def test_factor_flow_equals_riemannian_flow(task, model):
    """From a balanced start the factor flow moves W by Ẇ = −L·A_W(∇ℒ): two independent solvers agree to
    1e-8 at every checkpoint (both DOP853 at rtol 1e-12; observed ~1e-12)."""
    a = matrix_flow(model, task, until="1e-12", path="factors")
    b = matrix_flow(model, task, until="1e-12", path="riemannian")
    assert a.status == b.status == "ok"
    assert [c.log10_loss for c in a.checkpoints] == [c.log10_loss for c in b.checkpoints]
    for ca, cb in zip(a.checkpoints, b.checkpoints, strict=True):
        assert np.max(np.abs(ca.predictor - cb.predictor)) < 1e-8
        assert ca.extra["balance_drift"] < 1e-9     # conserved by the flow (round-off of rtol 1e-12)
        assert task.log10_loss(ca.predictor) == pytest.approx(ca.log10_loss, abs=1e-9)


def test_flow_to_deep_levels_and_limits():
    t = menon_2x2()
    tr = matrix_flow(MF(rows=2, depth=2, init_spec="balanced:eps=0.3"), t, until="1e-20")
    assert tr.status == "ok" and tr.final.log10_loss == -20.0
    assert tr.to_json()["checkpoints"][-1]["predictor"][0][0] == pytest.approx(1.0, abs=1e-9)  # list of rows
    deep = matrix_flow(MF(rows=2, depth=2, init_spec="balanced:eps=0.3"), t, until="1e-40")
    assert deep.status == "target_unreachable" and "float64" in deep.message
    assert deep.final.log10_loss >= deep.floor_log10


def test_flow_depth_one_is_linear_regression_closed_form():
    """L = 1 on a vector task: W(∞) = P_null W₀ + X⁺y (gradient flow of least squares)."""
    from biasflow.data import make_dataset

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((3, 5)), rng.standard_normal(3)
    task = from_dataset(make_dataset(X, y, task="regression"))
    m = MF(rows=5, cols=1, depth=1, init_spec="gaussian:eps=0.5")
    w0 = np.asarray(m.init()[0]).ravel()
    tr = matrix_flow(m, task, until="1e-26")
    expect = w0 - np.linalg.pinv(X) @ (X @ w0) + np.linalg.pinv(X) @ y
    # loss 1e-26 ⇒ residual ≲ 1e-13; the null-space part is conserved exactly by the flow
    assert np.allclose(tr.final.predictor.ravel(), expect, atol=1e-9)


def test_sensing_floor_is_target_unreachable():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 2, 1))
    t = sensing(A, rng.standard_normal(6))           # 6 generic equations in 2 unknowns: a floor
    tr = matrix_flow(MF(rows=2, cols=1, depth=2, init_spec="gaussian:eps=0.3"), t, until="1e-10")
    assert tr.status == "target_unreachable" and tr.floor_log10 is not None


# --------------------------------------------------------------------------------------------- descent
def test_descent_and_ensemble_agree():
    """The vmapped ensemble run of seed s equals the single compiled run of seed s."""
    t = menon_2x2()
    m = MF(rows=2, depth=3, init_spec="gaussian:eps=0.3")
    ens = descent_ensemble(m, t, lr=0.1, seeds=[0, 5, 7], until="1e-10", chunk=300)
    assert ens.status == ["ok", "ok", "ok"]
    for i, s in enumerate([0, 5, 7]):
        single = matrix_descent(m, t, lr=0.1, steps=100_000, until="1e-10", seed=s, record_every=300)
        assert single.steps == ens.steps[i]
        assert np.allclose(single.predictor, ens.W[i], rtol=0, atol=1e-13)
        assert single.history["log10_loss"][-1] <= -10 < single.history["log10_loss"][-2]
    rows = ens.rows()
    assert len(rows) == 3 and len(rows[0]["predictor"]) == 4 and rows[0]["rows"] == 2


def test_descent_records_geometry_and_divergence():
    t = low_rank_completion(5, 5, 1, 0.6, seed=0)
    m = MF(rows=5, depth=3, init_spec="gaussian:eps=0.3")
    res = matrix_descent(m, t, lr=0.2, steps=400, record_every=100)
    assert res.status == "ok" and res.steps == 400 and len(res.loss) == 401
    cps = res.history["checkpoints"]
    assert [c["step"] for c in cps] == [0, 100, 200, 300, 400]
    fields = {"log_volume", "entropy", "effective_rank", "nuclear_norm", "singular_values", "balance_drift"}
    assert fields <= set(cps[0])
    big = matrix_descent(m, t, lr=1e4, steps=200)
    assert big.status == "diverged" and np.all(np.isfinite(big.predictor))
    assert np.all(np.isfinite(big.history["log10_loss"]))


# ------------------------------------------------------------------------------------------------ bias
def test_predictions_2x2():
    t = menon_2x2()
    nuc = min_nuclear_norm(t)
    # every [[1, a], [a, 1]] with |a| ≤ 1 has ‖·‖_* = 2 = the minimum (σ = 1 ± a); Clarabel tol 1e-10
    assert nuc.status == "ok" and nuc.value == pytest.approx(2.0, abs=1e-8) and nuc.gap < 1e-8
    assert np.array_equal(min_frobenius(t).W, np.eye(2))
    cands = low_rank_candidates(t, seed=0)
    corners = sorted(np.round(c.W[0, 1], 8) for c in cands)
    assert corners == [-1.0, 1.0] and all(c.rank == 1 for c in cands)
    d = distances(np.ones((2, 2)), cands)
    assert min(d.values()) == pytest.approx(0.0, abs=1e-8)


def test_min_nuclear_sensing_recovers_low_rank():
    rng = np.random.default_rng(3)
    truth = np.outer([1.0, -2.0, 0.5], [0.3, 1.0, 1.0])
    A = rng.standard_normal((7, 3, 3))
    t = sensing(A, np.tensordot(A, truth, axes=([1, 2], [0, 1])), truth=truth)
    nuc = min_nuclear_norm(t)
    assert nuc.gap < 1e-7 and nuc.residual < 1e-8
    assert nuc.value <= np.linalg.svd(truth, compute_uv=False).sum() + 1e-7   # a feasible point's norm bounds it
    fro = min_frobenius(t)
    assert fro.residual < 1e-10 and fro.value <= np.linalg.norm(truth) + 1e-12


def test_json_outputs_and_task_specs():
    import json

    from biasflow.dynamics.matrix import descent_json, trajectory_json
    from biasflow.matrix_data import resolve_task

    t = resolve_task("menon-2x2")
    m = MF(rows=2, depth=2, init_spec="balanced:eps=0.3")
    js = trajectory_json(matrix_flow(m, t, until="1e-5"))
    c = js["checkpoints"][-1]
    assert len(c["predictor"]) == 2 and len(c["predictor"][0]) == 2          # W as a list of rows
    assert {"log_volume", "entropy", "effective_rank", "nuclear_norm", "singular_values", "balance_drift"} <= set(c)
    json.dumps(js)
    dj = descent_json(matrix_descent(m, t, lr=0.1, steps=50, record_every=25))
    assert [r["step"] for r in dj["checkpoints"]] == [0, 25, 50] and len(dj["predictor"]) == 2
    json.dumps(dj)
    assert resolve_task("lowrank:m=5,k=4,rank=2,fraction=0.5,seed=3").shape == (5, 4)
    with pytest.raises(BiasflowError, match="unknown or empty option"):
        resolve_task("lowrank:q=1")
    assert resolve_task("sparse").kind == "vector"


def test_flow_ensemble_equals_single_flows():
    """The vmapped adaptive flow (diffrax Dopri8, event at the level) and SciPy's DOP853 single flow end at
    the same W: both at rtol ≤ 1e-10 through a saddle, observed ~1e-11; bound 1e-8."""
    from biasflow.dynamics.matrix import flow_ensemble

    t = menon_2x2()
    m = MF(rows=2, depth=3, init_spec="gaussian:eps=0.1")
    ens = flow_ensemble(m, t, seeds=[0, 3], until="1e-10")
    assert ens.status == ["ok", "ok"] and ens.method == "flow"
    assert np.allclose(ens.log10_loss, -10.0, atol=1e-8)
    for i, s in enumerate([0, 3]):
        single = matrix_flow(m, t, until="1e-10", seed=s)
        assert np.max(np.abs(single.final.predictor - ens.W[i])) < 1e-8
        assert ens.times[i] == pytest.approx(single.final.extra["t"], rel=1e-5)


def test_one_column_case_matches_the_generic_autodiff_flow():
    """A vector regression task is the 1-column case: the generic protocol flow (JAX autodiff on the
    loss clock) and the matrix factor flow (hand-written gradients, DOP853) agree at loss 1e-10
    (two ODE solves at rtol ≤ 1e-10; observed 1.5e-12)."""
    from biasflow.data import make_dataset
    from biasflow.dynamics.flow import flow

    rng = np.random.default_rng(0)
    ds = make_dataset(rng.standard_normal((4, 6)), rng.standard_normal(4), task="regression")
    m = build_model("matrix", 6, depth=3, alpha=0.3)
    a = flow(m, ds, "square", until="1e-10")
    b = matrix_flow(m, from_dataset(ds), until="1e-10")
    assert a.status == b.status == "ok"
    assert np.max(np.abs(a.final.predictor - b.final.predictor.ravel())) < 1e-8


def test_min_nuclear_on_inconsistent_measurements_is_a_status():
    A = np.zeros((2, 1, 1))
    A[:, 0, 0] = 1.0
    t = sensing(A, [1.0, 2.0])                       # W = 1 and W = 2: no exact fit
    p = min_nuclear_norm(t)
    assert p.status in ("invalid_input", "failed") and p.message and not math.isnan(p.value)
