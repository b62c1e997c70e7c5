"""Wide shallow networks: model, curvature-spline bias (two paths), exact output-layer flow, mirror bias."""

import math

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from biasflow.bias.mirror_bias import mirror_interpolant, predict_mirror
from biasflow.bias.splines import (
    discretized_function,
    hull_grid,
    kernel,
    natural_spline,
    polyharmonic_r3,
    predict_function,
)
from biasflow.data import make_dataset
from biasflow.dynamics.mirror_maps import Potential
from biasflow.dynamics.output_layer import output_flow
from biasflow.errors import BiasflowError
from biasflow.models import build_model
from biasflow.models.shallow import InitLaw, Shallow

X6 = np.array([-1, -.6, -.1, .3, .7, 1.])
Y6 = np.array([.2, -.5, .4, .9, -.3, .5])
HULL = hull_grid(X6, 801)[:, None]


# ------------------------------------------------------------------ model


def test_init_laws_and_asymmetric_zero_function():
    m = Shallow(d=1, width=6, asymmetric=True, init_law="gaussian:sw=1,sb=2")
    p = m.init(jax.random.PRNGKey(3))
    assert np.max(np.abs(np.asarray(m.apply(p, np.linspace(-3, 3, 7)[:, None])))) < 1e-15   # pairs cancel
    m2 = Shallow(d=1, width=4000, init_law="pm1-uniform:a=3")
    p2 = m2.init(jax.random.PRNGKey(0))
    assert set(np.unique(np.asarray(p2["w"]))) == {-1.0, 1.0}
    assert np.max(np.abs(p2["b"])) <= 3.0
    assert np.max(np.abs(p2["a"])) <= 1 / math.sqrt(4000)                 # PyTorch default U[±1/√N]
    m3 = Shallow(d=3, width=50, init_law="pm1-uniform:a=2")
    w = np.asarray(m3.init(jax.random.PRNGKey(1))["w"])
    assert np.allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-14)        # unit-norm w for d > 1


@pytest.mark.parametrize("spec, needle", [
    ("foo:a=1", "unknown init law 'foo'"),
    ("uniform:aw=1", "needs ab (form uniform:aw=AW,ab=AB)"),
    ("gaussian:sw=0,sb=1", "sw must be positive"),
    ("pm1-uniform:b=1", "has no parameter 'b=1' (form pm1-uniform:a=A)"),
    ("pm1-uniform:a=x", "a must be a number"),
])
def test_init_law_errors_are_one_line(spec, needle):
    with pytest.raises(BiasflowError) as e:
        InitLaw.parse(spec)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_model_option_errors():
    with pytest.raises(BiasflowError, match="even --width"):
        Shallow(width=5, asymmetric=True)
    with pytest.raises(BiasflowError, match="activation"):
        Shallow(activation="tanh")
    with pytest.raises(BiasflowError, match="--train"):
        Shallow(train="first")
    assert build_model("shallow", 2, width=8, activation="abs").config()["activation"] == "abs"


def test_output_training_freezes_first_layer_and_features_are_exact():
    m = Shallow(d=2, width=30, train="output", skip=True, init_law="gaussian:sw=1,sb=1")
    p = m.init(jax.random.PRNGKey(0))
    p["u"] = p["u"] + 0.3
    X = np.random.default_rng(0).normal(size=(7, 2))
    g = jax.grad(lambda q: jax.numpy.sum(m.apply(q, X) ** 2))(p)
    assert float(np.max(np.abs(g["w"]))) == 0.0 and float(np.max(np.abs(g["b"]))) == 0.0
    F = m.output_features(p, X)
    # f = Φθ_out: same function by two code paths (jnp apply vs NumPy features)
    assert np.max(np.abs(F @ m.output_params(p) - np.asarray(m.apply(p, X)))) < 1e-12
    assert np.max(np.abs(m.evaluate(p, X, chunk_bytes=8 * 30 * 2) - np.asarray(m.apply(p, X)))) < 1e-12


def test_memory_estimate_within_2x_of_arrays():
    m = Shallow(d=1, width=10_000)
    n = 200
    # the (n, N) float64 arrays of one gradient step: pre-activations, activations, two cotangents
    assert 4 * 8 * n * 10_000 <= m.memory_bytes(n) <= 2 * 6 * 8 * n * 10_000 + 2 ** 22


# ------------------------------------------------------------------ ζ and kernels


@pytest.mark.parametrize("spec", ["pm1-uniform:a=2", "uniform:aw=1.5,ab=1", "gaussian:sw=1.3,sb=0.7"])
def test_zeta_closed_form_equals_quadrature(spec):
    """J1: ζ(s) = ∫|w|³ p(w, −ws) dw by quadrature over w, relative ≤ 1e-10."""
    law = InitLaw.parse(spec)

    def dens(w, b):
        if law.kind == "uniform":
            return float(abs(w) <= law.aw and abs(b) <= law.ab) / (4 * law.aw * law.ab)
        return math.exp(-w * w / (2 * law.sw ** 2) - b * b / (2 * law.sb ** 2)) / (2 * math.pi * law.sw * law.sb)

    for s in (-3.0, -0.4, 0.0, 0.9, 2.5):
        if law.kind == "pm1-uniform":        # w = ±1: ζ = Σ_± ½·p_b(∓s)
            q = sum(0.5 * (abs(s) <= law.a) / (2 * law.a) for _ in (1, -1))
        else:
            lim = law.aw if law.kind == "uniform" else 12 * law.sw
            pts = [law.ab / abs(s), -law.ab / abs(s)] if (law.kind == "uniform" and s != 0) else None
            q = integrate.quad(lambda w, s=s: abs(w) ** 3 * dens(w, -w * s), -lim, lim, points=pts,
                               epsabs=0, epsrel=1e-13, limit=200)[0]
        assert abs(float(law.zeta(s)) - q) <= 1e-10 * max(q, 1e-300)


@pytest.mark.parametrize("spec", ["pm1-uniform:a=1.5", "uniform:aw=1,ab=0.8", "gaussian:sw=1,sb=0.5"])
@pytest.mark.parametrize("act", ["relu", "abs"])
def test_kernel_equals_monte_carlo_expectation(spec, act):
    """K(x, x') = E σ(wx + b)σ(wx' + b): closed form vs 4e6 samples (tolerance 6 standard errors)."""
    law = InitLaw.parse(spec)
    w, b = law.sample(jax.random.PRNGKey(7), 4_000_000, 1)
    w, b = np.asarray(w)[:, 0], np.asarray(b)
    xs = np.array([-2.0, -0.3, 0.4, 1.7])
    K = kernel(law, xs[:, None], activation=act)
    sig = (lambda z: np.maximum(z, 0)) if act == "relu" else np.abs
    for i in range(4):
        for j in range(i, 4):
            v = sig(w * xs[i] + b) * sig(w * xs[j] + b)
            assert abs(v.mean() - K[i, j]) <= 6 * v.std() / math.sqrt(v.size) + 1e-12   # + rounding of 0


def test_kernel_zeta_route_equals_simple_closed_form_inside_support():
    """For w = ±1, b ~ U[−a, a], |x| ≤ a: K = a²/6 + xx'/2 + |x − x'|³/(24a) (derived separately)."""
    xs = np.linspace(-1.9, 1.9, 9)[:, None]
    K = kernel("pm1-uniform:a=2", xs)
    closed = 4 / 6 + xs @ xs.T / 2 + np.abs(xs - xs.T) ** 3 / 48
    assert np.max(np.abs(K - closed)) < 1e-13


def test_gaussian_kernel_equals_zeta_representation():
    """Arc-cosine closed form == ¼∫ζ|x − s||x' − s|ds + ¼(x, 1)G(x', 1)ᵀ by adaptive quadrature."""
    law = InitLaw.parse("gaussian:sw=1.2,sb=0.6")
    xs = [-1.0, 0.3, 2.0]
    K = kernel(law, np.array(xs)[:, None])
    G = law.second_moment(1)
    for i, p in enumerate(xs):
        for j, q in enumerate(xs):
            f = lambda s, p=p, q=q: float(law.zeta(s)) * abs(p - s) * abs(q - s)   # noqa: E731
            I = sum(integrate.quad(f, lo, hi, epsabs=1e-14, epsrel=1e-13, limit=400)[0]
                    for lo, hi in ((-np.inf, min(p, q)), (min(p, q), max(p, q)), (max(p, q), np.inf)))
            ref = 0.25 * I + 0.25 * (p * q * G[0, 0] + G[1, 1])
            assert abs(K[i, j] - ref) < 1e-10


# ------------------------------------------------------------------ predicted bias


def test_kernel_interpolant_matches_theory_numbers():
    """‖h‖²_K = 1291.2102 for ±1/U[−2, 2] on the reference data, residual at rounding level."""
    p = predict_function(X6, Y6, "pm1-uniform:a=2", grid=HULL)
    assert p.status == "ok" and p.residual < 1e-10
    assert abs(p.norm2 - 1291.2102) < 1e-3


@pytest.mark.parametrize("act", ["relu", "abs"])
@pytest.mark.parametrize("skip", [False, True])
def test_kernel_path_equals_discretized_program(act, skip):
    """Two independent paths: closed-form kernel vs cells for h'' (8000 cells, h = 5e-4: O(h²) ≈ 2e-7)."""
    p = predict_function(X6, Y6, "pm1-uniform:a=2", grid=HULL, activation=act, skip=skip)
    q = discretized_function(X6, Y6, "pm1-uniform:a=2", grid=HULL, activation=act, skip=skip, cells=8000)
    assert np.max(np.abs(p.f - q.f)) <= 1e-5
    if not skip:
        assert abs(p.norm2 - q.norm2) <= 1e-5 * p.norm2


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["gaussian:sw=1,sb=1", "uniform:aw=1,ab=1"])
def test_heavy_tailed_discretized_agrees(spec):
    """Truncation at R = 1e4 costs O(1/R); measured 4e-6 with a sinh grid of 8000 cells."""
    p = predict_function(X6, Y6, spec, grid=HULL)
    q = discretized_function(X6, Y6, spec, grid=HULL, R=1e4)
    assert np.max(np.abs(p.f - q.f)) <= 1e-5


def test_natural_spline_only_when_affine_penalty_vanishes():
    """J3: ≥ 2e-3 from the natural spline at a = 2, ≤ 5e-5 at a = 100; = natural spline with a free affine
    part; Gaussian laws visibly not natural splines (≥ 0.05)."""
    ns = natural_spline(X6, Y6, HULL[:, 0])
    gap = {a: np.max(np.abs(predict_function(X6, Y6, f"pm1-uniform:a={a}", grid=HULL).f - ns)) for a in (2, 100)}
    assert gap[2] >= 2e-3 and gap[100] <= 5e-5
    skip = predict_function(X6, Y6, "pm1-uniform:a=2", grid=HULL, skip=True)
    assert np.max(np.abs(skip.f - ns)) < 1e-10      # exactly the natural spline (conditioning-limited)
    for spec in ("gaussian:sw=1,sb=1", "gaussian:sw=1,sb=0.3"):
        assert np.max(np.abs(predict_function(X6, Y6, spec, grid=HULL).f - ns)) >= 0.05


def test_polyharmonic_is_natural_spline_in_1d_and_limit_in_2d():
    """r³ interpolant == natural spline in 1-D. In 2-D (unit-norm w, b ~ U[−a, a]) the kernel is
    a²/6 + x·x'/4 + c₂‖x − x'‖³/(24a): with a free affine part the interpolant IS the r³+affine one (the
    polynomial part of K is absorbed), and without it the gap decays like 1/a (a·gap within 2× from a = 20 to
    1000)."""
    assert np.max(np.abs(polyharmonic_r3(X6, Y6, HULL) - natural_spline(X6, Y6, HULL[:, 0]))) < 1e-10
    X = np.array([[-0.8, -0.5], [0.6, -0.7], [0.1, 0.2], [-0.4, 0.9], [0.9, 0.6]])
    y = np.array([0.3, -0.2, 0.8, 0.1, -0.5])
    g = np.stack(np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-1, 1, 21)), -1).reshape(-1, 2)
    r3 = polyharmonic_r3(X, y, g)
    assert np.max(np.abs(predict_function(X, y, "pm1-uniform:a=2", grid=g, skip=True).f - r3)) < 1e-11
    gaps = [a * np.max(np.abs(predict_function(X, y, f"pm1-uniform:a={a}", grid=g).f - r3)) for a in (20, 1000)]
    assert max(gaps) / min(gaps) < 2 and gaps[1] / 1000 <= 1e-4


def test_smoothing_spline_trajectory_is_exact():
    """J5: the time-T prediction equals argmin ‖h‖²_K + (r − h_X)ᵀW_T(r − h_X), W_T = K⁻¹(e^{TK/n} − I)."""
    K = kernel("pm1-uniform:a=2", X6[:, None])
    n = 6
    for T in (1.0, 10.0, 1e3):
        p = predict_function(X6, Y6, "pm1-uniform:a=2", time=T)
        lam, V = np.linalg.eigh(K)
        Winv = V @ np.diag(lam / np.expm1(T * lam / n)) @ V.T          # spectrally: e^{TK/n} overflows
        # the smoothing spline is K(·, X)λ with (K + W⁻¹)λ = r  ⇒  h_X = K(K + W⁻¹)⁻¹ r
        hX = K @ np.linalg.solve(K + Winv, Y6)
        assert np.max(np.abs(p.f - hX)) <= 1e-10 and p.residual < 1e-10
    assert np.max(np.abs(predict_function(X6, Y6, "pm1-uniform:a=2", time=1e9).f - Y6)) < 1e-8


def test_bad_prediction_inputs():
    with pytest.raises(BiasflowError, match="--at-time with --skip"):
        predict_function(X6, Y6, skip=True, time=1.0)
    with pytest.raises(BiasflowError, match="no closed-form kernel"):
        predict_function(np.zeros((3, 2)) + [[0, 1]], np.ones(3), "uniform:aw=1,ab=1")
    with pytest.raises(BiasflowError, match="needs ‖x‖ ≤ 1"):
        predict_function(np.array([[0.0, 2.0], [0.5, 0.1]]), np.ones(2), "pm1-uniform:a=1")


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=8, unique=True),
       st.sampled_from(["pm1-uniform:a=2", "uniform:aw=1,ab=1", "gaussian:sw=1,sb=1"]),
       st.sampled_from(["relu", "abs"]))
def test_prediction_interpolates_any_data(xs, spec, act):
    xs = np.array(xs)
    if np.min(np.diff(np.sort(xs))) < 1e-2:
        return
    y = np.sin(3 * xs)
    p = predict_function(xs, y, spec, activation=act)
    assert p.residual <= 1e-7 and p.norm2 > 0


# ------------------------------------------------------------------ training


def test_output_flow_is_exact_and_reaches_any_level():
    ds = make_dataset(X6[:, None], Y6, task="regression")
    m = Shallow(d=1, width=300, train="output", init_law="uniform:aw=1,ab=1")
    res = output_flow(m, ds, until_loss="1e-300", checkpoints=["1e-5", "1e-100"])
    assert res.status == "ok"
    assert [round(c["log10_loss"], 9) for c in res.checkpoints] == [-5.0, -100.0, -300.0]
    # the closed form against a Radau solve of θ̇ = −(1/n)Φᵀ(Φθ − y) at a finite time
    from scipy.integrate import solve_ivp

    p0 = m.init(jax.random.PRNGKey(0))
    F = m.output_features(p0, ds.X)
    th0 = m.output_params(p0)
    T = 0.05
    sol = solve_ivp(lambda t, th: -F.T @ (F @ th - Y6) / 6, (0, T), th0, method="DOP853", rtol=1e-12, atol=1e-14)
    ex = output_flow(m, ds, times=[T], grid=X6[:, None])
    assert np.max(np.abs(np.array(ex.checkpoints[0]["function"]["f"]) - F @ sol.y[:, -1])) < 1e-9


def test_output_flow_refuses_non_linear_model():
    ds = make_dataset(X6[:, None], Y6, task="regression")
    with pytest.raises(BiasflowError, match="--train output"):
        output_flow(Shallow(d=1, width=10), ds)


def test_finite_width_time_matches_smoothing_spline_within_sqrt_n():
    """A width-N net at time t is the limit's smoothing spline at T = N t, up to O(N^{-1/2})."""
    ds = make_dataset(X6[:, None], Y6, task="regression")
    N = 8000
    r = output_flow(Shallow(d=1, width=N, train="output", asymmetric=True), ds, times=[2e-3], grid=HULL)
    q = predict_function(X6, Y6, "pm1-uniform:a=2", grid=HULL, time=N * 2e-3)
    assert np.max(np.abs(np.array(r.checkpoints[0]["function"]["f"]) - q.f)) < 5 / math.sqrt(N)


@pytest.mark.slow
def test_trained_nets_approach_prediction_like_inverse_sqrt_width():
    """J4: sup error·√N stays in a band of ratio < 3 for N = 1e3 … 6.4e4 (3 seeds each)."""
    ds = make_dataset(X6[:, None], Y6, task="regression")
    p = predict_function(X6, Y6, "pm1-uniform:a=2", grid=HULL)
    scaled = []
    for N in (1000, 4000, 16000, 64000):
        errs = [np.max(np.abs(np.array(output_flow(Shallow(d=1, width=N, train="output", asymmetric=True), ds,
                                                   until_loss="1e-20", checkpoints=[], grid=HULL, seed=s)
                                       .checkpoints[-1]["function"]["f"]) - p.f)) for s in range(3)]
        scaled.append(np.mean(errs) * math.sqrt(N))
    assert max(scaled) / min(scaled) < 3, scaled


# ------------------------------------------------------------------ mirror


@pytest.mark.parametrize("kind", ["quadratic", "cubic", "quartic"])
def test_potential_inverse_and_hessian(kind):
    pot = Potential(kind, kappa=7.0)
    z = np.array([-50.0, -1.0, -1e-12, 0.0, 3e-7, 2.0, 1e3])
    assert np.allclose(pot.inverse(pot.grad(z)), z, rtol=1e-13, atol=1e-300)
    h = 1e-9 * np.maximum(1.0, np.abs(z))
    fd = (pot.grad(z + h) - pot.grad(z - h)) / (2 * h)
    assert np.allclose(pot.hess(z), fd, rtol=1e-5)      # central differences: O(h) at the kink of |z|, O(ε/h)


def test_quadratic_mirror_reproduces_kernel_interpolant():
    """The quadratic potential gives the kernel interpolant of the N-unit quadrature (mid-point, O(N⁻²))."""
    g = np.linspace(-1, 1, 201)
    q = predict_mirror(X6, Y6, "pm1-uniform:a=2", grid=g, activation="abs", width=3200)
    p = predict_function(X6, Y6, "pm1-uniform:a=2", grid=g[:, None], activation="abs")
    assert np.max(np.abs(q["f"] - p.f)) < 5e-6


def test_scaled_quartic_is_nonlinear_in_targets():
    """M2 on the bias support [−2, 2]: sup|h_s/s − h_GF| ≤ 2e-3 at s = 1e-3 and ≥ 0.3 at s = 1."""
    g = np.linspace(-2, 2, 401)
    kw = dict(grid=g, activation="abs", scale="scaled", width=800)
    hgf = predict_mirror(X6, Y6, **kw)["f"]
    small = predict_mirror(X6, 1e-3 * Y6, potential="quartic", **kw)
    big = predict_mirror(X6, Y6, potential="quartic", **kw)
    assert small["status"] == big["status"] == "ok"
    assert np.max(np.abs(small["f"] / 1e-3 - hgf)) <= 2e-3
    assert np.max(np.abs(big["f"] - hgf)) >= 0.3


def test_unscaled_potentials_approach_gradient_flow():
    """M1: N·sup|MF − GF| (cubic) and N²·sup|MF − GF| (quartic) vary < 2× between N = 800 and 3200."""
    g = np.linspace(-2, 2, 401)
    def gap(pot, N):
        kw = dict(grid=g, activation="abs", width=N)
        return np.max(np.abs(predict_mirror(X6, Y6, potential=pot, **kw)["f"] - predict_mirror(X6, Y6, **kw)["f"]))
    c = [gap("cubic", N) * N for N in (800, 3200)]
    q = [gap("quartic", N) * N * N for N in (800, 3200)]
    assert max(c) / min(c) < 2 and max(q) / min(q) < 2


def test_mirror_flow_ode_ends_at_dual_newton_solution():
    """The mirror-flow ODE (dual coordinates, Radau) and the dual Newton program agree at interpolation."""
    ds = make_dataset(X6[:, None], Y6, task="regression")
    m = Shallow(d=1, width=400, train="output", activation="abs", asymmetric=True)
    p0 = m.init(jax.random.PRNGKey(0))
    pot = Potential("quartic", 400.0)
    res = output_flow(m, ds, until_loss="1e-22", checkpoints=[], potential=pot, grid=HULL, params0=p0)
    assert res.status == "ok"
    F = m.output_features(p0, ds.X)
    sol = mirror_interpolant(F, Y6 - F @ m.output_params(p0), pot)
    f_dual = m.output_features(p0, HULL) @ (m.output_params(p0) + sol.delta)
    # loss 1e-22 ⇒ residual ~1e-11; the flow's end point differs from the limit by the same order
    assert np.max(np.abs(np.array(res.checkpoints[-1]["function"]["f"]) - f_dual)) < 1e-7


def test_mirror_descent_reaches_the_dual_program():
    """M3: output-layer mirror descent (scaled quartic, non-quadratic regime: max φ'' ≈ 1.9) ends at the dual
    Newton solution; ∇Φ(θ) − ∇Φ(θ₀) stays in the row space of the features (rounding level)."""
    from biasflow.dynamics.mirror_descent import mirror_descent

    x3, y3 = np.array([-0.8, 0.1, 0.9]), 0.1 * np.array([0.4, -0.3, 0.6])
    ds = make_dataset(x3[:, None], y3, task="regression")
    m = Shallow(d=1, width=500, train="output", activation="abs", asymmetric=True)
    p0 = m.init(jax.random.PRNGKey(5))
    F = m.output_features(p0, ds.X)
    lr = 1.0 / float(np.linalg.eigvalsh(F @ F.T / 3)[-1])
    md = mirror_descent(m, ds, "quartic", "scaled", lr=lr, steps=20000, params0=p0)
    assert md.status == "ok" and md.log10_loss[-1] < -25
    sol = mirror_interpolant(F, y3 - F @ m.output_params(p0), Potential("quartic", 500.0))
    assert np.max(np.abs(m.output_params(md.params) - m.output_params(p0) - sol.delta)) < 1e-10
    z = np.r_[md.zeta["a"], md.zeta["c"]]
    assert np.max(np.abs(F.T @ np.linalg.lstsq(F.T, z, rcond=None)[0] - z)) < 1e-12
    # the first layer is frozen: its dual coordinates never move
    assert float(np.max(np.abs(md.zeta["w"]))) == 0.0


def test_mirror_descent_diverges_cleanly():
    from biasflow.dynamics.mirror_descent import mirror_descent

    ds = make_dataset(X6[:, None], Y6, task="regression")
    md = mirror_descent(Shallow(d=1, width=200), ds, "quadratic", lr=1e3, steps=200)
    assert md.status == "diverged" and np.all(np.isfinite(md.log10_loss))
    assert all(np.all(np.isfinite(v)) for v in md.params.values())


def test_full_network_gradient_descent_through_descent():
    """The shallow model runs through the library's GD loop (model.forward); GD on the output layer with a
    small rate tracks the exact output-layer flow at t = η·K (Euler error O(η))."""
    from biasflow.dynamics.descent import descent

    ds = make_dataset(X6[:, None], Y6, task="regression")
    m = Shallow(d=1, width=400, train="output", asymmetric=True)
    p0 = m.init(jax.random.PRNGKey(2))
    errs = []
    for eta, K in ((1e-4, 2000), (5e-5, 4000)):          # the same flow time t = ηK = 0.2
        res = descent(m, ds, "square", lr=eta, steps=K, params0=p0)
        exact = output_flow(m, ds, times=[eta * K], params0=p0, grid=HULL)
        assert res.status == "ok"
        errs.append(np.max(np.abs(m.evaluate(res.params, HULL) - np.array(exact.checkpoints[0]["function"]["f"]))))
    # Euler's global error is first order in η: halving η halves it (measured 4.5e-6 → 2.25e-6)
    assert errs[0] < 1e-5 and 0.45 < errs[1] / errs[0] < 0.55
    full = descent(Shallow(d=1, width=400), ds, "square", lr=1e-3, steps=300)
    assert full.status == "ok" and full.loss[-1] < full.loss[0]


# ------------------------------------------------------------------ evaluation points


@pytest.mark.parametrize("text, needle", [
    ("1,0,5", "LO must be < HI"), ("0,1,1", "NUM must be ≥ 2"), ("0,1", "three numbers"),
    ("a,1,3", "must be numbers"), ("0,1,2.5", "NUM must be an integer"), ("0,inf,3", "finite"),
])
def test_grid_errors(text, needle):
    from biasflow.grids import parse_grid

    with pytest.raises(BiasflowError, match=needle):
        parse_grid(text)


def test_eval_points_from_files_and_dimension_checks(tmp_path):
    from biasflow.grids import eval_points, function_json

    np.savez(tmp_path / "p.npz", X=np.array([[0.0, 1.0], [2.0, 3.0]]))
    np.savetxt(tmp_path / "p.csv", np.array([[0.5], [1.5]]), delimiter=",")
    assert eval_points(None, str(tmp_path / "p.npz"), 2).shape == (2, 2)
    assert eval_points(None, str(tmp_path / "p.csv"), 1)[:, 0].tolist() == [0.5, 1.5]
    with pytest.raises(BiasflowError, match="use --eval|pass the points with --eval"):
        eval_points("0,1,3", None, 2)
    with pytest.raises(BiasflowError, match="dimension 2 but the data have d = 3"):
        eval_points(None, str(tmp_path / "p.npz"), 3)
    with pytest.raises(BiasflowError, match="not both"):
        eval_points("0,1,3", str(tmp_path / "p.csv"), 1)
    assert function_json(np.array([[0.0], [1.0]]), [2, 3]) == {"x": [0.0, 1.0], "f": [2.0, 3.0]}


def test_mirror_flow_ode_of_any_model_matches_exact_flow():
    """mirror_flow (DOP853 on ζ, any model with apply) with the quadratic potential on a frozen first layer is
    gradient flow: it equals the closed-form output-layer flow at the same time (solver tolerance 1e-10)."""
    from biasflow.dynamics.mirror_descent import mirror_flow

    ds = make_dataset(X6[:, None], Y6, task="regression")
    m = Shallow(d=1, width=40, train="output")
    p0 = m.init(jax.random.PRNGKey(4))
    res = mirror_flow(m, ds, "quadratic", time=0.5, params0=p0, rtol=1e-11, atol=1e-13)
    exact = output_flow(m, ds, times=[0.5], params0=p0, grid=HULL)
    assert np.max(np.abs(m.evaluate(res.params, HULL) - np.array(exact.checkpoints[0]["function"]["f"]))) < 1e-8
    assert abs(res.checkpoints[-1]["log10_loss"] - exact.checkpoints[0]["log10_loss"]) < 1e-6


def test_function_flow_routes_on_capability():
    """Exact when linear in the trained parameters (mirror flow with a potential too); refused for all layers."""
    from biasflow.dynamics.mirror_descent import function_flow

    ds = make_dataset(X6[:, None], Y6, task="regression")
    res = function_flow(Shallow(d=1, width=30, train="output"), ds, until_loss="1e-8", checkpoints=["1e-3"])
    assert res.status == "ok" and [round(c["log10_loss"], 9) for c in res.checkpoints] == [-3.0, -8.0]
    with pytest.raises(BiasflowError, match="non-smooth ODE"):
        function_flow(Shallow(d=1, width=30), ds)


def test_prediction_equals_closed_form_kernel_interpolant():
    """Done-when oracle: the library prediction (kernel from the exact ζ integrals) equals the interpolant
    built by hand from K = a²/6 + xx'/2 + |x − x'|³/(24a) to 1e-8 (measured ~1e-13; conditioning ~1e6)."""
    a = 2.0
    K = lambda p, q: a * a / 6 + np.outer(p, q) / 2 + np.abs(p[:, None] - q[None, :]) ** 3 / (24 * a)  # noqa: E731
    lam = np.linalg.solve(K(X6, X6), Y6)
    g = HULL[:, 0]
    p = predict_function(X6, Y6, "pm1-uniform:a=2", grid=HULL)
    assert np.max(np.abs(p.f - K(g, X6) @ lam)) <= 1e-8
