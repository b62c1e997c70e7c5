"""Gradient flow on loss clocks: closed-form oracles (docs/theory/oracles.md §8), two independent paths, statuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.optimize import linprog

from biasflow.data import gaussian, make_dataset, non_separable
from biasflow.dynamics.flow import flow, flow_many
from biasflow.errors import BiasflowError
from biasflow.losses import EXP, LOGISTIC, SQUARE
from biasflow.models import Diagonal, UntiedDiagonal

LN10 = math.log(10.0)
DS = gaussian(n=10, d=30, k=1, seed=0)  # docs/theory/oracles.md §8.15 data
REG = gaussian(n=6, d=20, k=2, task="regression", seed=1)


def unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def l1_max_margin(A):
    """γ1* = max γ s.t. Aβ ≥ γ, ‖β‖1 ≤ 1 (β = a − b)."""
    n, d = A.shape
    c = np.zeros(2 * d + 1)
    c[-1] = -1
    A_ub = np.vstack([np.hstack([-A, A, np.ones((n, 1))]), np.concatenate([np.ones(2 * d), [0]])[None]])
    b_ub = np.concatenate([np.zeros(n), [1.0]])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * (2 * d) + [(None, None)], method="highs")
    return -res.fun


def primal_t_flow(model, data, loss, level_log10, rtol=1e-12):
    """Independent reference: θ̇ = −∇ℒ in physical time t (plain SciPy, NumPy gradients, diagonal net),
    stopped by an event at log ℒ = level."""
    A, y = np.asarray(data.A), np.asarray(data.y)
    D, a = model.depth, np.asarray(model.scales)
    d, n = A.shape[1], A.shape[0]

    def logl_and_r(th):
        up, um = th[:d], th[d:]
        m = A @ (up**D - um**D)
        if loss is SQUARE:
            r = y - m
            return math.log(0.5 * np.mean(r * r)), r
        if loss is EXP:
            mx = (-m).max()
            return mx + math.log(np.exp(-m - mx).sum()) - math.log(n), np.exp(-m)
        return math.log(np.mean(np.logaddexp(0, -m))), 0.5 * (1 - np.tanh(0.5 * m))

    def f(t, th):
        _, r = logl_and_r(th)
        q = A.T @ r / n
        up, um = th[:d], th[d:]
        return np.concatenate([D * up ** (D - 1) * q, -D * um ** (D - 1) * q])

    def ev(t, th):
        return logl_and_r(th)[0] - level_log10 * LN10

    ev.terminal = True
    sol = solve_ivp(f, (0, 1e12), np.concatenate([a, a]), method="DOP853", rtol=rtol, atol=1e-14, events=ev)
    th = sol.y_events[0][0]
    return th[:d] ** D - th[d:] ** D, math.log10(sol.t_events[0][0]), th


# ------------------------------------------------------------------------ §8.1 closed form, §8.2 invariants
@pytest.mark.parametrize("D", [2, 3])
@pytest.mark.parametrize("loss", ["exp", "square"])
def test_closed_form_matches_joint_integration(D, loss):
    data = DS if loss == "exp" else REG
    model = Diagonal(d=data.d, depth=D, alpha=0.5)
    A, y = np.asarray(data.A), np.asarray(data.y)
    n, d = A.shape

    def f(t, Y):  # (u+, u−, ν) jointly, physical time
        up, um = Y[:d], Y[d:2 * d]
        m = A @ (up**D - um**D)
        r = np.exp(-m) if loss == "exp" else y - m
        q = A.T @ r / n
        return np.concatenate([D * up ** (D - 1) * q, -D * um ** (D - 1) * q, r / n])

    a = np.asarray(model.scales)
    y0 = np.concatenate([a, a, np.zeros(n)])
    sol = solve_ivp(f, (0, 3.0), y0, method="DOP853", rtol=1e-13, atol=1e-15)
    Y = sol.y[:, -1]
    up, um, nu = Y[:d], Y[d:2 * d], Y[2 * d:]
    beta = up**D - um**D
    closed = np.asarray(model.beta_of_z(A.T @ nu))
    assert np.linalg.norm(beta - closed) <= 1e-10 * np.linalg.norm(beta)
    inv = np.asarray(model.invariants((up, um)))
    inv0 = np.asarray(model.invariants(model.init()))
    assert np.max(np.abs(inv / inv0 - 1)) < 1e-10


@pytest.mark.parametrize("method", ["exact", "autodiff"])
@pytest.mark.parametrize("D", [2, 3])
def test_conservation_along_flow(method, D):
    model = Diagonal(d=30, depth=D, alpha=0.3)
    tr = flow(model, DS, "exp", until="1e-10", method=method, rtol=1e-12)
    assert tr.status == "ok"
    inv0 = np.asarray(model.invariants(model.init()))
    for c in tr.checkpoints:
        inv = np.asarray(model.invariants(c.params))
        assert np.max(np.abs(inv / inv0 - 1)) < 1e-10, (c.log10_loss, method)
        assert np.allclose(model.predictor(c.params), c.predictor, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- two independent paths
@pytest.mark.parametrize("D", [2, 3])
def test_exact_and_autodiff_agree_at_1e_20(D):
    model = Diagonal(d=30, depth=D, alpha=0.3)
    a = flow(model, DS, "exp", until="1e-20", method="exact")
    b = flow(model, DS, "exp", until="1e-20", method="autodiff")
    assert a.status == b.status == "ok"
    assert a.method == "exact" and b.method == "autodiff"
    for ca, cb in zip(a.checkpoints, b.checkpoints, strict=True):
        assert ca.log10_loss == cb.log10_loss
        assert np.linalg.norm(unit(ca.predictor) - unit(cb.predictor)) < 1e-8
        assert abs(ca.log10_time - cb.log10_time) < 1e-8


def test_untied_and_logistic_paths_agree():
    m = UntiedDiagonal.from_scale_shape(d=30, alpha=0.05, shape=0.4)
    a = flow(m, DS, "logistic", until="1e-12", method="exact")
    b = flow(m, DS, "logistic", until="1e-12", method="autodiff")
    assert a.status == b.status == "ok"
    assert np.linalg.norm(unit(a.final.predictor) - unit(b.final.predictor)) < 1e-8
    assert abs(a.final.log10_time - b.final.log10_time) < 1e-7


@pytest.mark.parametrize("loss", [EXP, LOGISTIC])
def test_loss_clock_matches_physical_time_integration(loss):
    model = Diagonal(d=30, depth=2, alpha=0.5)
    tr = flow(model, DS, loss, until="1e-3", checkpoints=["1e-1", "1e-2"])
    ref_beta, ref_logt, _ = primal_t_flow(model, DS, loss, -3.0)
    assert tr.final.log10_loss == -3.0
    assert np.linalg.norm(tr.final.predictor - ref_beta) < 1e-8 * np.linalg.norm(ref_beta)
    assert abs(tr.final.log10_time - ref_logt) < 1e-8


def test_clock_invariance_tau_and_log_time():
    """§8.12: Σν = τ for exp loss from β(0) = 0; τ-clock (early) and σ-clock checkpoints vs t-integration."""
    model = Diagonal(d=30, depth=2, alpha=0.5)
    tr = flow(model, DS, "exp", until="1e-8", checkpoints=[0.9, 0.6, "1e-2", "1e-5"])
    early = [c for c in tr.checkpoints if "tau" in c.extra]
    assert len(early) >= 2  # levels above 1/e are on the τ-clock
    for c in early:
        assert abs(c.extra["nu"].sum() - c.extra["tau"]) < 1e-10 * c.extra["tau"]
    for c in tr.checkpoints:
        ref_beta, ref_logt, _ = primal_t_flow(model, DS, EXP, c.log10_loss)
        assert np.linalg.norm(c.predictor - ref_beta) < 1e-8 * np.linalg.norm(ref_beta)
        assert abs(c.log10_time - ref_logt) < 1e-8
        m = np.asarray(DS.A) @ c.predictor
        assert abs(float(EXP.log10_mean(m, None)) - c.log10_loss) < 1e-12 * max(1, abs(c.log10_loss))


# --------------------------------------------------------------------------- §8.11, §8.13, §8.15, §8.16
def test_margin_loss_sandwich_and_monotone_smoothed_margin():
    model = Diagonal(d=30, depth=2, alpha=0.1)
    tr = flow(model, DS, "exp", until="1e-1000")
    assert tr.status == "ok" and tr.final.log10_loss == -1000.0
    n = DS.n
    prev = -np.inf
    A = np.asarray(DS.A)
    for c in tr.checkpoints:
        logL = c.log10_loss * LN10
        gamma = (A @ c.predictor).min()
        assert -logL - math.log(n) - 1e-9 * abs(logL) <= gamma <= -logL + 1e-9 * abs(logL)
        if -logL > math.log(n):  # nℒ < 1
            theta = np.concatenate([np.ravel(p) for p in c.params])
            sm = (-logL - math.log(n)) / np.linalg.norm(theta) ** model.degree
            assert sm >= prev * (1 - 1e-9)
            prev = sm


@pytest.mark.parametrize("alpha", [1e-2, 1.0])
def test_depth2_approaches_l1_max_margin(alpha):
    """§8.15: γ1/γ1* increases across 1e-10, 1e-100, 1e-1000; in (0.9, 1] at 1e-1000; ≤ 1 − 1e-3 at 1e-100."""
    A = np.asarray(DS.A)
    g1 = l1_max_margin(A)
    tr = flow(Diagonal(d=30, depth=2, alpha=alpha), DS, "exp", until="1e-1000",
              checkpoints=["1e-10", "1e-100"])
    ratios = [(A @ c.predictor).min() / np.abs(c.predictor).sum() / g1 for c in tr.checkpoints]
    assert ratios[0] < ratios[1] < ratios[2]
    assert 0.9 < ratios[2] <= 1 + 1e-12
    assert ratios[1] <= 1 - 1e-3


def test_depth3_small_alpha_kkt_point_not_qmu():
    """§8.16: D = 3, α = 1e-2, ℒ = 1e-1000: ℓ_{2/3} KKT residual ≤ 1e-6, ρ_nsv ≥ 0.3, sparse support."""
    tr = flow(Diagonal(d=30, depth=3, alpha=1e-2), DS, "exp", until="1e-1000", checkpoints=["1e-100"])
    assert tr.status == "ok"
    A = np.asarray(DS.A)
    c = tr.final
    beta = c.predictor
    m = A @ beta
    bt = beta / m.min()  # minimum margin 1
    mt = A @ bt
    supp = np.abs(bt) > 1e-3 * np.abs(bt).max()
    active = mt <= 1 + 1e-3
    p = 2.0 / 3.0
    grad = p * np.abs(bt[supp]) ** (p - 1) * np.sign(bt[supp])
    from scipy.optimize import nnls

    lam, _ = nnls(A[np.ix_(active, supp)].T, grad)
    kkt = np.linalg.norm(A[np.ix_(active, supp)].T @ lam - grad) / np.linalg.norm(grad)
    assert kkt <= 1e-6
    nu = c.extra["nu"]
    rho = nu[~active].sum() / nu.sum()
    assert rho >= 0.3
    # ℓ2 SVM support for comparison: min ½‖β‖² s.t. Aβ ≥ 1 (SLSQP on the dual is enough here)
    import cvxpy as cp

    b2 = cp.Variable(30)
    cp.Problem(cp.Minimize(cp.sum_squares(b2)), [A @ b2 >= 1]).solve(solver=cp.CLARABEL)
    svm_supp = np.sum(np.abs(b2.value) > 1e-3 * np.abs(b2.value).max())
    assert supp.sum() * 3 <= svm_supp


def test_depth3_reaches_beyond_1e_1000():
    tr = flow(Diagonal(d=30, depth=3, alpha=0.5), DS, "exp", until="1e-3000", checkpoints=["1e-1000"])
    assert tr.status == "ok"
    assert [c.log10_loss for c in tr.checkpoints] == [-1000.0, -3000.0]
    m = np.asarray(DS.A) @ tr.final.predictor
    assert abs(float(EXP.log10_mean(m, None)) + 3000) < 1e-9 * 3000


# --------------------------------------------------------------------------- regression limits
def test_kernel_limit_square_loss_is_min_l2_interpolant():
    X, y = np.asarray(REG.X), np.asarray(REG.y)
    l2 = np.linalg.pinv(X) @ y
    dist = {}
    for alpha in (6.0, 12.0):
        tr = flow(Diagonal(d=20, depth=2, alpha=alpha), REG, "square", until="1e-20")
        assert tr.status == "ok"
        b = tr.final.predictor
        assert np.linalg.norm(X @ b - y) < 1e-8 * np.linalg.norm(y)
        dist[alpha] = np.linalg.norm(b - l2)
    assert dist[12.0] < 1e-3 * np.linalg.norm(l2)
    # distance ∝ α^{-2D} = α^{-4}: halving α multiplies it by ≈ 16 (docs/theory/oracles.md §8.4)
    assert 14.0 < dist[6.0] / dist[12.0] < 18.0


def test_small_alpha_tends_to_min_l1_interpolant():
    X, y = np.asarray(REG.X), np.asarray(REG.y)
    d = X.shape[1]
    res = linprog(np.ones(2 * d), A_eq=np.hstack([X, -X]), b_eq=y, bounds=[(0, None)] * (2 * d),
                  method="highs")
    l1 = res.fun
    gaps = []
    for alpha in (1e-1, 1e-3, 1e-6):
        tr = flow(Diagonal(d=20, depth=2, alpha=alpha), REG, "square", until="1e-20")
        assert tr.status == "ok"
        gaps.append(np.abs(tr.final.predictor).sum() / l1 - 1)
    assert gaps[0] > gaps[1] > gaps[2] >= -1e-8
    assert gaps[2] < 0.05


# --------------------------------------------------------------------------- §8.20, statuses, bad inputs
@pytest.mark.parametrize("loss,ell0", [("exp", 1.0), ("logistic", math.log(2.0))])
def test_non_separable_reports_floor(loss, ell0):
    ns = non_separable(DS)
    tr = flow(Diagonal(d=30, alpha=0.3), ns, loss, until="1e-10", checkpoints=[0.5])
    assert tr.status == "target_unreachable"
    assert abs(10**tr.floor_log10 / (2 * ell0 / ns.n) - 1) < 1e-8
    assert [c.log10_loss for c in tr.checkpoints] == [math.log10(0.5)]
    assert "floor" in tr.message


def test_regression_outside_range_reports_least_squares_floor():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3))
    y = rng.standard_normal(8)
    ds = make_dataset(X, y, task="regression")
    tr = flow(Diagonal(d=3, alpha=1.0), ds, "square", until="1e-30")
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert tr.status == "target_unreachable"
    assert abs(tr.floor_log10 - math.log10(0.5 * np.mean((y - X @ b) ** 2))) < 1e-10


def test_max_steps_status():
    tr = flow(Diagonal(d=30, alpha=0.1), DS, "exp", until="1e-100", max_steps=20)
    assert tr.status == "max_steps" and "max_steps" in tr.message


def test_flow_many_equals_single_runs():
    alphas = [0.01, 0.3, 2.0]
    models = [Diagonal(d=30, alpha=a) for a in alphas]
    for stacked in (False, True):
        many = flow_many(models, DS, "exp", until="1e-200", stacked=stacked)
        for m, tm in zip(models, many, strict=True):
            one = flow(m, DS, "exp", until="1e-200")
            assert tm.status == one.status == "ok"
            for a, b in zip(tm.checkpoints, one.checkpoints, strict=True):
                assert np.linalg.norm(a.predictor - b.predictor) <= 1e-7 * np.linalg.norm(b.predictor)
                assert abs(a.log10_time - b.log10_time) < 1e-7 * max(1, abs(b.log10_time))


@pytest.mark.parametrize("kwargs,match", [
    ({"until": "abc"}, "cannot read loss level"),
    ({"until": 5.0}, "not below the initial loss"),  # a float is a loss VALUE: 5 > ℒ(0) = 1
    ({"until": -5.0}, "must be positive"),
    ({"until": 1e-400}, "underflow"),
    ({"until": 0}, "never reached"),
    ({"until": "1e-10", "method": "fancy"}, "unknown method"),
    ({"until": "1e-10", "max_steps": 0}, "max_steps"),
    ({"until": "1e-10", "bogus": 1}, "unknown flow option"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(BiasflowError, match=match):
        flow(Diagonal(d=30), DS, "exp", **kwargs)


def test_bad_combinations():
    with pytest.raises(BiasflowError, match="for regression"):
        flow(Diagonal(d=20), REG, "exp", until="1e-5")
    with pytest.raises(BiasflowError, match="input dimension"):
        flow(Diagonal(d=7), DS, "exp", until="1e-5")

    class NoDual:
        name, d, degree = "stand-in", 30, 1

        def init(self, key=None):
            return np.zeros(30)

        def predictor(self, p):
            return p

        def invariants(self, p):
            return p[:0]

        def config(self):
            return {"model": self.name}

    with pytest.raises(BiasflowError, match="autodiff"):
        flow(NoDual(), DS, "exp", until="1e-5", method="exact")


@given(n=st.integers(2, 6), d=st.integers(1, 8), depth=st.sampled_from([1, 2, 3]),
       loss=st.sampled_from(["exp", "logistic"]), seed=st.integers(0, 10))
def test_shapes_and_statuses(n, d, depth, loss, seed):
    ds = gaussian(n=n, d=d, k=1, seed=seed)
    tr = flow(Diagonal(d=d, depth=depth, alpha=0.5), ds, loss, until="1e-6", checkpoints=["1e-2"])
    assert tr.status in ("ok", "target_unreachable")
    for c in tr.checkpoints:
        assert c.predictor.shape == (d,)
        assert np.all(np.isfinite(c.predictor)) and math.isfinite(c.log10_time)
        m = np.asarray(ds.A) @ c.predictor
        lossobj = EXP if loss == "exp" else LOGISTIC
        assert abs(float(lossobj.log10_mean(m, None)) - c.log10_loss) < 1e-9
    if tr.status == "ok":
        assert [c.log10_loss for c in tr.checkpoints] == [-2.0, -6.0]
    else:
        assert tr.floor_log10 is not None and tr.floor_log10 > -6.0


def test_depth3_ratio_coordinates_match_dual_coordinates():
    """Two exact forms of the same D ≥ 3 flow: log-ratio p (d-dim) and the dual ν (n-dim)."""
    from biasflow.dynamics.clock import integrate
    from biasflow.dynamics.exact import DualSystem, RatioSystem

    model = Diagonal(d=30, depth=3, alpha=0.2)
    levels = [-2.0, -50.0, -500.0]
    r1 = integrate(RatioSystem(model, DS, EXP), levels)
    sd = DualSystem(model, DS, EXP)
    r2 = integrate(sd, levels)
    sr = RatioSystem(model, DS, EXP)
    assert r1.status == r2.status == "ok"
    for x1, x2, t1, t2 in zip(r1.states, r2.states, r1.log10_times, r2.log10_times, strict=True):
        b1, b2 = sr.predictor(x1), sd.predictor(x2)
        assert np.linalg.norm(b1 - b2) < 1e-8 * np.linalg.norm(b2)
        assert abs(t1 - t2) < 1e-8 * max(1.0, abs(t2))


@pytest.mark.parametrize("D", [4, 5])
def test_deep_small_alpha_reaches_1e_10000(D):
    model = Diagonal(d=30, depth=D, alpha=1e-2)
    tr = flow(model, DS, "exp", until="1e-10000", checkpoints=["1e-100"])
    assert tr.status == "ok"
    inv0 = np.asarray(model.invariants(model.init()))
    for c in tr.checkpoints:
        m = np.asarray(DS.A) @ c.predictor
        assert abs(float(EXP.log10_mean(m, None)) - c.log10_loss) < 1e-10 * abs(c.log10_loss)
        assert np.max(np.abs(np.asarray(model.invariants(c.params)) / inv0 - 1)) < 1e-10


@pytest.mark.parametrize("model", [Diagonal(d=30, depth=1, alpha=0.7), Diagonal(d=30, depth=2, alpha=0.3),
                                   Diagonal(d=30, depth=4, alpha=0.3),
                                   UntiedDiagonal.from_scale_shape(d=30, alpha=0.2, shape=-0.3),
                                   UntiedDiagonal.even(d=30, alpha=0.1)])
def test_numpy_params_match_model_closed_forms(model):
    from biasflow.dynamics.exact import DualSystem

    sy = DualSystem(model, DS, EXP)
    nu = np.linspace(0.0, 0.02, 10)
    z = np.asarray(DS.A).T @ nu
    ours = sy.params(nu)
    ref = model.params_of_z(z)
    for a, b in zip(ours, ref, strict=True):
        assert np.allclose(a, np.asarray(b), rtol=1e-13, atol=0)
    assert np.allclose(sy.predictor(nu), np.asarray(model.beta_of_z(z)), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("D,alpha", [(2, 1e-8), (3, 1e-3)])
def test_small_alpha_regression_through_plateaus(D, alpha):
    """Saddle-to-saddle regression dynamics: plateaus where ℒ stalls are integrated on the t-clock."""
    tr = flow(Diagonal(d=20, depth=D, alpha=alpha), REG, "square", until="1e-22", checkpoints=["1e-5"])
    assert tr.status == "ok"
    X, y = np.asarray(REG.X), np.asarray(REG.y)
    for c in tr.checkpoints:
        r = y - X @ c.predictor
        # recomputing r in float64 costs |δr| ≤ n·ε·(|X||β| + |y|) per entry (Higham's dot-product bound), so
        # log10 ℒ is known here to 2‖δr‖/(‖r‖ ln 10): about 1e-5 at ℒ = 1e-22, below 1e-15 at ℒ = 1e-5
        dr = X.shape[1] * np.finfo(float).eps * (np.abs(X) @ np.abs(c.predictor) + np.abs(y))
        tol = max(1e-6, 2.0 * np.linalg.norm(dr) / np.linalg.norm(r) / math.log(10.0))
        assert abs(math.log10(0.5 * np.mean(r * r)) - c.log10_loss) < tol


def test_regression_exact_and_autodiff_agree():
    m = Diagonal(d=20, depth=2, alpha=0.05)
    a = flow(m, REG, "square", until="1e-12", method="exact", rtol=1e-12)
    b = flow(m, REG, "square", until="1e-12", method="autodiff", rtol=1e-12)
    assert a.status == b.status == "ok"
    for ca, cb in zip(a.checkpoints, b.checkpoints, strict=True):
        assert np.linalg.norm(ca.predictor - cb.predictor) < 1e-8 * np.linalg.norm(cb.predictor)
        assert abs(ca.log10_time - cb.log10_time) < 1e-8 * max(1.0, abs(cb.log10_time))


@given(text=st.one_of(st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True)))
def test_until_garbage_is_a_clear_error_or_a_level(text):
    """Any `until` is either a valid level (the run ends with a status) or one BiasflowError line."""
    try:
        tr = flow(Diagonal(d=30, alpha=0.5), DS, "exp", until=text, checkpoints=[], max_steps=2000)
    except BiasflowError as e:
        assert "\n" not in str(e)
    else:
        assert tr.status in ("ok", "max_steps")
