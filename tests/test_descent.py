"""Gradient descent / SGD: independent NumPy oracle, divergence as a result, histories, Even et al. identity
(docs/theory/oracles.md §8.9), conservation drift O(η²) (§8.2), vmap batching, bad inputs (library and CLI)."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.data import gaussian, make_dataset, save
from biasflow.dynamics.descent import descent, descent_many
from biasflow.errors import BiasflowError
from biasflow.models import Diagonal, UntiedDiagonal

REG = gaussian(n=8, d=12, k=2, task="regression", seed=0)
CLS = gaussian(n=10, d=12, k=1, seed=0)
D2 = Diagonal(d=12, depth=2, alpha=0.5)
D3 = Diagonal(d=12, depth=3, alpha=0.5)
EVEN = UntiedDiagonal.even(12, alpha=0.1)


def numpy_gd_diagonal(X, y, alpha, depth, lr, steps, loss):
    """Plain NumPy GD on β = u₊^D − u₋^D (independent of JAX and of the model code)."""
    up = np.full(X.shape[1], alpha)
    um = up.copy()
    A = y[:, None] * X if loss != "square" else X
    out = []
    for k in range(steps + 1):
        beta = up**depth - um**depth
        z = A @ beta
        if loss == "square":
            out.append(0.5 * np.mean((z - y) ** 2))
            r = y - z
        elif loss == "exp":
            out.append(np.mean(np.exp(-z)))
            r = np.exp(-z)
        else:
            out.append(np.mean(np.logaddexp(0.0, -z)))
            r = 1.0 / (1.0 + np.exp(z))
        if k == steps:
            break
        gb = -A.T @ r / len(y)
        up, um = up - lr * depth * up ** (depth - 1) * gb, um + lr * depth * um ** (depth - 1) * gb
    return np.array(out), up**depth - um**depth


@pytest.mark.parametrize("loss,data,model", [("square", REG, D2), ("exp", CLS, D3), ("logistic", CLS, D2)])
def test_gd_matches_plain_numpy_loop(loss, data, model):
    r = descent(model, data, loss, lr=0.05, steps=60)
    ref_loss, ref_beta = numpy_gd_diagonal(data.X, data.y, 0.5, model.depth, 0.05, 60, loss)
    assert r.status == "ok" and r.steps == 60 and len(r.loss) == 61
    np.testing.assert_allclose(r.loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(r.predictor, ref_beta, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(r.history["log10_loss"], np.log10(ref_loss), rtol=1e-12)


def test_divergence_is_a_result_with_last_finite_state():
    r = descent(D2, REG, "square", lr=50.0, steps=60)
    assert r.status == "diverged" and 0 < r.steps < 60
    assert len(r.loss) == r.steps + 1 and np.all(np.isfinite(r.loss))
    assert all(np.all(np.isfinite(p)) for p in r.params) and np.all(np.isfinite(r.predictor))
    assert "diverged at step" in r.message
    # the kept state is the one after `steps` good steps: replaying that many steps gives it exactly
    ok = descent(D2, REG, "square", lr=50.0, steps=r.steps)
    assert ok.status == "ok"
    np.testing.assert_allclose(ok.predictor, r.predictor, rtol=1e-13)
    text = json.dumps(r.to_json())
    assert "NaN" not in text and "Infinity" not in text


def test_vmap_batch_matches_single_runs_and_isolates_divergence():
    lrs = [0.01, 0.05, 50.0]
    many = descent_many(D2, REG, "square", lrs=lrs, steps=60, sharpness_every=20)
    for lr, rm in zip(lrs, many, strict=True):
        r1 = descent(D2, REG, "square", lr=lr, steps=60, sharpness_every=20)
        assert rm.status == r1.status and rm.steps == r1.steps
        np.testing.assert_allclose(rm.loss, r1.loss, rtol=1e-12)
        np.testing.assert_allclose(rm.sharpness, r1.sharpness, rtol=1e-8)
    assert [r.status for r in many] == ["ok", "ok", "diverged"]
    mapped = descent_many(D2, REG, "square", lrs=lrs, steps=60, sharpness_every=20, batching="map")
    for rm, rv in zip(mapped, many, strict=True):
        assert rm.status == rv.status
        np.testing.assert_allclose(rm.loss, rv.loss, rtol=1e-12)


def test_sharpness_schedule_of_entries():
    """Entries at steps 0, M, 2M, … and a last one at the final state (docs/reference/cli.md)."""
    r = descent(D2, REG, "square", lr=0.01, steps=60, sharpness_every=20)
    assert list(r.history["sharpness_step"]) == [0, 20, 40, 60] and len(r.sharpness) == 4
    r = descent(D2, REG, "square", lr=0.01, steps=50, sharpness_every=20)
    assert list(r.history["sharpness_step"]) == [0, 20, 40, 50] and len(r.sharpness) == 4
    # GD at small η on a square loss: sharpness at the end stays below 2/η
    assert np.all(r.sharpness < 2 / 0.01)


def test_even_identity_gd_and_sgd():
    """docs/theory/oracles.md §8.9: ∇ψ_{α_k}(β_k) − ∇ψ_{α_k}(β̃_k) = −Σ_j γ_j g_j to 1e-12 after 1e4 GD and SGD steps."""
    alpha = 0.1
    for bs in (None, 3):
        r = descent(EVEN, REG, "square", lr=0.05, steps=10_000, batch_size=bs, effective_init=True, seed=1)
        h = r.history
        assert r.status == "ok"
        ak2 = alpha**2 * np.exp(-h["gain"])
        bt = 0.5 * alpha**2 * (np.exp(-h["gain_plus"]) - np.exp(-h["gain_minus"]))
        lhs = 0.5 * np.arcsinh(r.predictor / ak2) - 0.5 * np.arcsinh(bt / ak2)
        S = h["sum_step_grad"]
        assert np.max(np.abs(lhs + S)) <= 1e-12 * np.max(np.abs(S))
        assert np.all(h["gain"] >= 0)                         # the effective scale only shrinks
        assert np.max(np.abs(h["gain"] - 0.5 * (h["gain_plus"] + h["gain_minus"]))) < 1e-12


def test_sgd_is_seeded_and_differs_from_gd():
    a = descent(D2, REG, "square", lr=0.05, steps=60, batch_size=3, seed=4)
    b = descent(D2, REG, "square", lr=0.05, steps=60, batch_size=3, seed=4)
    c = descent(D2, REG, "square", lr=0.05, steps=60, batch_size=3, seed=5)
    g = descent(D2, REG, "square", lr=0.05, steps=60)
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.allclose(a.loss, c.loss) and not np.allclose(a.loss, g.loss)
    assert a.history["batch_size"] == 3 and a.loss[-1] < a.loss[0]


def test_conservation_drift_second_order():
    """D = 2: u₊u₋ = α² under GF; GD changes it by the factor (1 − 4η²g²) per step (docs/theory/oracles.md §8.2)."""
    inv0 = np.asarray(D2.invariants(D2.init()))

    def drift(lr, steps):
        r = descent(D2, REG, "square", lr=lr, steps=steps)
        return np.abs(np.asarray(D2.invariants(r.params)) - inv0).max()

    assert 1.8 < drift(0.02, 30) / drift(0.01, 60) < 2.2


def test_log_domain_history_below_float_underflow():
    """Normalized steps (a discrete s-clock, Δ log ℒ ≈ −η per step) drive the exp loss far below 1e-308:
    the log10 history stays exact and finite where the float64 loss value is 0."""
    r = descent(D2, CLS, "exp", lr=2.0, steps=400, schedule="normalized")
    assert r.status == "ok"
    lg = r.history["log10_loss"]
    assert lg[-1] < -320 and np.all(np.diff(lg) < 0)
    assert r.loss[-1] == 0.0 and np.all(np.isfinite(lg))
    # each step lowers log ℒ by about η (first order in the step)
    assert 0.5 < -(lg[-1] - lg[-2]) * math.log(10) / 2.0 < 1.5
    m = r.history["margin_min"]
    # margin–loss sandwich (docs/theory/oracles.md §8.13): log(1/ℒ) − log n ≤ γ ≤ log(1/ℒ)
    lnL = lg * math.log(10)
    assert np.all(-lnL - math.log(CLS.n) <= m + 1e-9) and np.all(m <= -lnL + 1e-9)


def test_loss_clock_steps_and_other_schedules_run():
    r = descent(D2, CLS, "exp", lr=0.1, steps=400, schedule="loss")   # η/ℒ: a discrete τ-clock
    assert r.status == "ok" and r.history["log10_loss"][-1] < -300
    r = descent(D2, CLS, "logistic", lr=0.5, steps=100, schedule="normalized")
    assert r.status == "ok" and r.history["log10_loss"][-1] < r.history["log10_loss"][0] - 1
    r = descent(D2, REG, "square", lr=0.05, steps=60, schedule="cosine:final=0.1,warmup=10")
    assert r.history["lr"][0] == 0.0 and abs(r.history["lr"][10] - 0.05) < 1e-15
    assert r.history["schedule"] == "cosine:l=60,final=0.1,warmup=10"


def test_margins_along_gd_path_separable():
    r = descent(D2, CLS, "logistic", lr=1.0, steps=300, bias_metrics=True)
    m1 = r.history["margin_l1"]
    assert r.status == "ok" and np.all(np.isfinite(m1[1:]))
    assert m1[-1] > 0 and m1[-1] > m1[50]   # the ℓ1-normalized margin grows (D = 2 → ℓ1 max-margin)
    g1 = r.history["gap_l1"]
    assert np.all(g1[1:] >= -1e-9) and g1[-1] < g1[50] and g1[-1] < 1.0
    np.testing.assert_allclose(g1, 1.0 - m1 / r.history["gamma_l1_star"], rtol=1e-12)


# ------------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(lr=0.0, steps=10), "learning rate"),
        (dict(lr=-1.0, steps=10), "learning rate"),
        (dict(lr=float("nan"), steps=10), "learning rate"),
        (dict(lr=0.1, steps=0), "steps"),
        (dict(lr=0.1, steps=10, batch_size=9), "larger than the number of examples"),
        (dict(lr=0.1, steps=10, batch_size=0), "batch size"),
        (dict(lr=0.1, steps=10, schedule="warp"), "unknown schedule"),
        (dict(lr=0.1, steps=10, schedule="exp:gamma=2"), "gamma"),
        (dict(lr=0.1, steps=10, sharpness_every=-1), "sharpness_every"),
        (dict(lr=0.1, steps=10, foo=1), "no option"),
    ],
)
def test_bad_inputs_raise_one_line(kwargs, match):
    with pytest.raises(BiasflowError, match=match) as e:
        descent(D2, REG, "square", **kwargs)
    assert "\n" not in str(e.value)


def test_wrong_dimension_and_task():
    with pytest.raises(BiasflowError, match="dimension"):
        descent(Diagonal(d=3), REG, "square", lr=0.1, steps=5)
    with pytest.raises(BiasflowError, match="regression"):
        descent(D2, REG, "exp", lr=0.1, steps=5)


@given(st.floats(max_value=0.0, allow_nan=False) | st.just(float("inf")), st.integers(max_value=0))
def test_bad_lr_and_steps_property(lr, steps):
    with pytest.raises(BiasflowError):
        descent(D2, REG, "square", lr=lr, steps=5)
    with pytest.raises(BiasflowError):
        descent(D2, REG, "square", lr=0.1, steps=steps)


@pytest.fixture(scope="module")
def reg_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "reg.npz"
    save(REG, p)
    return p


def test_cli_descent_json_contract(cli, reg_file):
    code, out, err = cli("descent", "--data", reg_file, "--loss", "square", "--alpha", "0.5", "--lr", "0.05",
                         "--steps", "60", "--sharpness-every", "20", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and res["steps"] == 60 and len(res["loss"]) == 61
    assert len(res["sharpness"]) == 4 and len(res["predictor"]) == REG.d


def test_cli_diverged_exit_code_and_json(cli, reg_file):
    code, out, err = cli("descent", "--data", reg_file, "--loss", "square", "--alpha", "0.5", "--lr", "50",
                         "--steps", "60", "--json")
    res = json.loads(out)
    assert code == 3 and res["status"] == "diverged" and all(math.isfinite(v) for v in res["loss"])


@pytest.mark.parametrize(
    "args,match",
    [
        (["--lr", "0", "--steps", "5"], "learning rate"),
        (["--lr", "0.1", "--steps", "0"], "steps"),
        (["--lr", "0.1", "--steps", "5", "--batch-size", "100"], "batch size"),
        (["--lr", "0.1", "--steps", "5", "--schedule", "bogus"], "unknown schedule"),
        (["--lr", "0.1", "--steps", "5", "--schedule", "step:gamma=0"], "gamma"),
        (["--lr", "0.1", "--steps", "5", "--schedule", "tri:low=2"], "low"),
    ],
)
def test_cli_bad_inputs(cli, reg_file, args, match):
    code, out, err = cli("descent", "--data", reg_file, "--loss", "square", *args)
    assert code == 2 and out == ""
    assert match in err and err.count("\n") == 1 and "Traceback" not in err


def test_nan_free_json_when_first_step_diverges():
    ds = make_dataset(np.array([[1e3, 0.0], [0.0, 1e3]]), np.array([1.0, -1.0]), task="regression")
    r = descent(Diagonal(d=2, alpha=1.0), ds, "square", lr=1e12, steps=10, sharpness_every=5)
    assert r.status == "diverged" and r.steps == 0 and len(r.loss) == 1 and len(r.sharpness) == 1
    assert np.all(np.isfinite(r.sharpness)) and np.all(np.isfinite(r.loss))
    jax.tree_util.tree_map(lambda a: np.testing.assert_array_equal(a, 1.0), r.params)


def test_nonlinear_relu_model_through_forward():
    """The ReLU comparison model (non-linear) trains through ``forward``: no predictor, margins recorded,
    sharpness matches the dense Hessian of the same loss."""
    import jax.numpy as jnp

    from biasflow.dynamics.curvature import hessian_dense
    from biasflow.models.relu import ReLU2

    m = ReLU2(d=12, width=3)
    r = descent(m, CLS, "logistic", lr=0.5, steps=20, sharpness_every=20, lanczos_iters=40)
    assert r.status == "ok" and r.predictor.size == 0 and len(r.history["margin_min"]) == 21
    X, y = jnp.asarray(CLS.X), jnp.asarray(CLS.y)
    H = hessian_dense(lambda p: jnp.mean(jnp.logaddexp(0.0, -y * m.forward(p, X))), r.params)
    assert abs(r.sharpness[-1] - float(np.linalg.eigvalsh(np.asarray(H))[-1])) < 1e-8 * abs(r.sharpness[-1])
    # a non-linear model has no linear predictor (no raising stub), and gradient flow refuses it by capability
    assert not hasattr(m, "predictor")
    from biasflow.dynamics.flow import flow

    with pytest.raises(BiasflowError, match="not linear"):
        flow(m, CLS, "logistic", until="1e-2")
