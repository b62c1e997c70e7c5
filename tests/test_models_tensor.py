"""Dense, conv and general tensor networks: predictors, tensor special cases, invariants, bad input."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biasflow import BiasflowError
from biasflow.models import MODELS, Conv, Dense, Diagonal, TensorNetwork, UntiedDiagonal, build_model

rng = np.random.default_rng(0)


# ------------------------------------------------------------------------------- tensor special cases
def test_tensor_reproduces_fully_connected():
    d, widths = 4, (3, 5)
    net = Dense(d=d, depth=3, widths=widths, seed=1)
    Ws = net.init()
    ten = TensorNetwork.fully_connected(d, widths)
    beta_t = ten.predictor(tuple(W.ravel() for W in Ws))
    np.testing.assert_allclose(beta_t, net.predictor(Ws), rtol=1e-14, atol=1e-15)
    assert ten.nnz == 4 * 3 * 5 and ten.degree == 3


@pytest.mark.parametrize("ks", [(6, 6, 6), (6, 2, 3), (1, 6)])
def test_tensor_reproduces_convolution(ks):
    d = 6
    net = Conv(d=d, depth=len(ks), kernel_sizes=ks)
    ws = tuple(rng.standard_normal(k) for k in ks)
    ten = TensorNetwork.convolution(d, len(ks), ks)
    np.testing.assert_allclose(ten.predictor(ws), net.predictor(ws), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_tensor_reproduces_tied_diagonal(depth):
    d = 5
    diag = Diagonal(d=d, depth=depth, alpha=0.7)
    up, um = rng.uniform(0.2, 1.5, d), rng.uniform(0.2, 1.5, d)
    ten = TensorNetwork.diagonal(d, depth, branches=2)
    beta_t = ten.predictor(tuple(np.concatenate([up, um]) for _ in range(depth)))
    np.testing.assert_allclose(beta_t, diag.predictor((up, um)), rtol=1e-14)
    # the constant init at scale α is the diagonal net's init
    np.testing.assert_allclose(
        TensorNetwork.diagonal(d, depth, branches=2, alpha=0.7).init()[0], np.concatenate(diag.init())
    )


def test_tensor_reproduces_untied_two_branch_diagonal():
    d = 4
    m = UntiedDiagonal(d=d, u0=0.3, v0=1.1)
    up, vp, um, vm = (rng.standard_normal(d) for _ in range(4))
    ten = TensorNetwork.diagonal(d, 2, branches=2)
    np.testing.assert_allclose(
        ten.predictor((np.r_[up, um], np.r_[vp, vm])), m.predictor((up, vp, um, vm)), rtol=1e-14
    )


def test_tensor_from_callable_and_dense_agree():
    d, k = 3, (2, 3)
    T = rng.standard_normal((d, *k))
    a = TensorNetwork.from_dense(T)
    b = TensorNetwork.from_callable(lambda x: np.tensordot(x, T, axes=1), d)
    v = (rng.standard_normal(2), rng.standard_normal(3))
    np.testing.assert_allclose(a.predictor(v), b.predictor(v), rtol=1e-14)
    np.testing.assert_allclose(a.predictor(v), np.einsum("jab,a,b->j", T, *v), rtol=1e-13)
    np.testing.assert_array_equal(a.dense(), T)
    x = rng.standard_normal(d)
    np.testing.assert_allclose(a.M(x), np.tensordot(x, T, axes=1), rtol=1e-13)


def test_from_callable_rejects_nonlinear_map():
    with pytest.raises(BiasflowError, match="not linear"):
        TensorNetwork.from_callable(lambda x: np.outer(x, x) + 1.0, 3)


# ----------------------------------------------------------------------------------------------- conv
def test_conv_fft_of_predictor_is_product_of_filter_ffts():
    d, L = 1024, 3
    net = Conv(d=d, depth=L, seed=3)
    ws = net.init()
    beta = np.asarray(net.predictor(ws))
    prod = np.prod([np.fft.fft(np.asarray(w)) for w in ws], axis=0)
    assert np.max(np.abs(np.fft.fft(beta) - prod)) <= 1e-13 * np.max(np.abs(prod))


def test_conv_brute_force_tiny():
    d, ks = 5, (5, 3, 2)
    net = Conv(d=d, depth=3, kernel_sizes=ks)
    ws = [rng.standard_normal(k) for k in ks]
    x = rng.standard_normal(d)
    f = sum(
        x[(j1 + j2 + j3) % d] * ws[0][j1] * ws[1][j2] * ws[2][j3]
        for j1, j2, j3 in itertools.product(*(range(k) for k in ks))
    )
    assert abs(float(x @ net.predictor(ws)) - f) <= 1e-13 * max(1.0, abs(f))
    # the layer-by-layer definition of docs/theory/tensor.md §4.1
    h = x.copy()
    for w in ws[:-1]:
        wp = np.zeros(d)
        wp[: len(w)] = w
        h = np.array([sum(wp[k] * h[(i + k) % d] for k in range(d)) for i in range(d)])
    wl = np.zeros(d)
    wl[: ks[-1]] = ws[-1]
    assert abs(float(h @ wl) - f) <= 1e-12 * max(1.0, abs(f))


# ------------------------------------------------------------------------------------------------ dense
@pytest.mark.parametrize("init", ["gaussian", "orthogonal", "balanced"])
def test_dense_inits(init):
    net = Dense(d=6, depth=3, width=4, alpha=0.3, init_kind=init, seed=2)
    Ws = net.init()
    assert [W.shape for W in Ws] == [(6, 4), (4, 4), (4, 1)]
    if init == "orthogonal":
        for W in Ws:
            m, n = W.shape
            G = W.T @ W if m >= n else W @ W.T
            np.testing.assert_allclose(G, 0.09 * np.eye(min(m, n)), atol=1e-14)
    if init == "balanced":
        assert float(jnp.max(jnp.abs(net.invariants(Ws)))) < 1e-15
    else:
        assert float(jnp.max(jnp.abs(net.invariants(Ws)))) > 1e-3
    h = np.eye(6)  # layer-by-layer forward pass of the identity inputs
    for W in Ws:
        h = h @ np.asarray(W)
    np.testing.assert_allclose(h[:, 0], net.predictor(Ws), rtol=1e-13, atol=1e-16)


def test_registry_builds_each_model():
    assert {"dense", "conv", "tensor"} <= set(MODELS)
    assert build_model("dense", 5, depth=3, width=7).dims == (5, 7, 7, 1)
    assert build_model("conv", 8, depth=3, width=3).kernel_sizes == (3, 3, 3)
    assert build_model("conv", 8).full_length
    t = build_model("tensor", 4, depth=3)
    assert t.structure == "diagonal" and t.sizes == (4, 4, 4)
    assert build_model("tensor", 4, depth=2, width=3).structure == "fully_connected"
    assert build_model("tensor", 4, depth=2, structure="conv").structure == "convolution"


# --------------------------------------------------------------------------------------- invariants
def _gf_invariant_drift(model, params, A, t1=3.0):
    """Integrate θ̇ = −∇ℒ (exp loss) by SciPy DOP853 at rtol 1e-12; return relative invariant drift."""
    from jax.flatten_util import ravel_pytree
    from scipy.integrate import solve_ivp

    A = jnp.asarray(A)
    flat0, unravel = ravel_pytree(params)

    def loss(th):
        return jnp.mean(jnp.exp(-A @ model.predictor(unravel(th))))

    grad = jax.jit(jax.grad(loss))
    sol = solve_ivp(
        lambda t, th: -np.asarray(grad(jnp.asarray(th))),
        (0.0, t1),
        np.asarray(flat0),
        rtol=1e-12,
        atol=1e-14,
        method="DOP853",
    )
    p1 = unravel(jnp.asarray(sol.y[:, -1]))
    scale = sum(float(jnp.sum(v * v)) for v in jax.tree_util.tree_leaves(p1))
    drift = float(jnp.max(jnp.abs(model.invariants(p1) - model.invariants(params)))) / scale
    moved = float(loss(sol.y[:, -1])) < 0.5 * float(loss(flat0))
    return drift, moved


@pytest.mark.parametrize("kind", ["tensor"])  # dense and conv: tests/test_tensor_flows.py, via flow()
def test_invariants_conserved_along_flow(kind):
    n, d = 6, 8
    X = rng.standard_normal((n, d))
    y = np.sign(X[:, 0] + 0.1)
    A = y[:, None] * X
    model = {
        "dense": Dense(d=d, depth=3, width=5, alpha=1.0, seed=0),
        "conv": Conv(d=d, depth=3, alpha=0.7, seed=0),
        "tensor": TensorNetwork.convolution(d, 2, (8, 3), alpha=0.8),
    }[kind]
    drift, moved = _gf_invariant_drift(model, model.init(), A)
    assert moved
    assert drift < 1e-8


# ---------------------------------------------------------------------------------------- bad input
def test_bad_inputs():
    with pytest.raises(BiasflowError, match="widths has 1 entries but a depth-3"):
        Dense(d=4, depth=3, widths=(5,))
    with pytest.raises(BiasflowError, match="must have shape"):
        Dense(d=4, depth=2, width=3).predictor((np.ones((4, 2)), np.ones((2, 1))))
    with pytest.raises(BiasflowError, match="kernel_sizes has 2 entries but depth is 3"):
        Conv(d=8, depth=3, kernel_sizes=(3, 3))
    with pytest.raises(BiasflowError, match="length 9, but filters must have length 1..d=8"):
        Conv(d=8, depth=2, kernel_sizes=(9, 3))
    with pytest.raises(BiasflowError, match="alpha"):
        Conv(d=8, alpha=-1.0)
    with pytest.raises(BiasflowError, match="unknown init"):
        Dense(d=3, init_kind="xavier")
    with pytest.raises(BiasflowError, match="index out of range"):
        TensorNetwork(d=2, sizes=(2,), index=np.array([[0, 2]]), value=np.ones(1))
    with pytest.raises(BiasflowError, match="unknown tensor structure"):
        build_model("tensor", 3, structure="mlp")


def test_oversize_requests_refused_with_estimate():
    with pytest.raises(BiasflowError, match=r"estimated [0-9.]+ GiB of memory, over the budget of 2.0 GiB"):
        Dense(d=1000, depth=10, width=4096)
    with pytest.raises(BiasflowError, match=r"estimated .* GiB"):
        TensorNetwork.convolution(1024, 4)
    with pytest.raises(BiasflowError, match="estimated"):
        TensorNetwork.fully_connected(1024, (1024, 1024))
    # the scale targets fit
    Dense(d=1024, depth=8, width=1024)
    Conv(d=1024, depth=8)


def test_memory_budget_env(monkeypatch):
    monkeypatch.setenv("BIASFLOW_MEMORY_BUDGET", "1e6")
    with pytest.raises(BiasflowError, match="budget of 976.6 KiB"):
        Dense(d=100, depth=3, width=100)
    monkeypatch.setenv("BIASFLOW_MEMORY_BUDGET", "lots")
    with pytest.raises(BiasflowError, match="not a number of bytes"):
        Dense(d=3)


@settings(max_examples=5)
@given(d=st.integers(1, 7), depth=st.integers(1, 3), k=st.integers(1, 7))
def test_conv_tensor_agree_hypothesis(d, depth, k):
    k = min(k, d)
    ks = (d,) * (depth - 1) + (k,)
    net = Conv(d=d, depth=depth, kernel_sizes=ks, seed=d)
    ws = tuple(np.asarray(w) for w in net.init())
    ten = TensorNetwork.convolution(d, depth, ks)
    np.testing.assert_allclose(ten.predictor(ws), net.predictor(ws), rtol=1e-12, atol=1e-12)


@settings(max_examples=3)
@given(
    d=st.integers(1, 5), widths=st.lists(st.integers(1, 4), min_size=0, max_size=2), seed=st.integers(0, 9)
)
def test_fc_tensor_agree_hypothesis(d, widths, seed):
    net = Dense(d=d, depth=len(widths) + 1, widths=tuple(widths), seed=seed)
    Ws = net.init()
    ten = TensorNetwork.fully_connected(d, widths)
    np.testing.assert_allclose(
        ten.predictor(tuple(np.ravel(W) for W in Ws)), net.predictor(Ws), rtol=1e-12, atol=1e-14
    )


@settings(max_examples=30)
@given(
    d=st.one_of(st.integers(-2, 6), st.floats(allow_nan=True), st.none()),
    depth=st.one_of(st.integers(-1, 4), st.just(2.5)),
    ks=st.lists(st.one_of(st.integers(-1, 8), st.just(True)), min_size=0, max_size=4),
    alpha=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.5)),
)
def test_bad_model_arguments_raise_one_clear_error(d, depth, ks, alpha):
    """Any combination of arguments either builds a model or raises BiasflowError (never another error)."""
    for build in (
        lambda: Conv(d=d, depth=depth, kernel_sizes=tuple(ks), alpha=alpha),
        lambda: Dense(d=d, depth=depth, widths=tuple(ks) if ks else None, alpha=alpha),
        lambda: TensorNetwork.convolution(d, depth, tuple(ks), alpha=alpha),
    ):
        try:
            build()
        except BiasflowError as e:
            assert "\n" not in str(e)
