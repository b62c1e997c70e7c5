"""Conformance of every registered model to the protocol of biasflow.models.base.

Parametrized over :data:`biasflow.models.MODELS` (as optax's common optimizer tests and diffrax's solver
registry): a model gets these checks by being registered. Each check is an oracle independent of the
model's own code path where one exists (homogeneity, conservation as orthogonality to the gradient, the
JAX closed form against the NumPy potential, the exact flow against the autodiff flow).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from biasflow.data import builtin, gaussian
from biasflow.errors import BiasflowError
from biasflow.models import MODELS, build_model, has_decomposition, has_dual, is_linear, options
from biasflow.models.base import Model, bind_data

NAMES = sorted(MODELS)
D = 6


def small(name: str, d: int = D, **extra):
    """The model at small sizes (width 4 wherever a width is taken; α = 0.5 so nothing is degenerate),
    bound to a Gaussian data set when it uses training statistics (batch normalization)."""
    opts = {"alpha": 0.5} | ({"width": 4} if "width" in MODELS[name].options else {}) | extra
    return bind_data(build_model(name, d, **opts), gaussian(n=8, d=d, k=1, seed=7))


def generic_params(model, key=0):
    """Initial parameters moved by a random perturbation, so no identity holds by symmetry alone."""
    p = model.init(jax.random.PRNGKey(key))
    leaves, tree = jax.tree_util.tree_flatten(p)
    keys = jax.random.split(jax.random.PRNGKey(key + 1), len(leaves))
    leaves = [x + 0.1 * jax.random.normal(k, jnp.shape(x)) for x, k in zip(leaves, keys, strict=True)]
    return jax.tree_util.tree_unflatten(tree, leaves)


@pytest.mark.parametrize("name", NAMES)
def test_protocol_shapes_and_config(name):
    m = small(name)
    assert isinstance(m, Model) and m.d == D and m.name == name
    assert m.config()["model"] == name
    X = jax.random.normal(jax.random.PRNGKey(3), (5, D))
    p = m.init(jax.random.PRNGKey(0))
    assert all(jnp.asarray(x).dtype == jnp.float64 for x in jax.tree_util.tree_leaves(p))
    f = m.apply(p, X)
    assert f.shape == (5,) and bool(jnp.all(jnp.isfinite(f)))
    assert jnp.ndim(m.invariants(p)) == 1
    if is_linear(m):
        beta = m.predictor(p)
        assert beta.shape == (D,) and isinstance(m.degree, int) and m.degree >= 1
        np.testing.assert_allclose(f, X @ beta, rtol=1e-13, atol=1e-15)  # rounding of one matvec
    else:  # a non-linear model declares no linear capability at all (no raising stubs)
        assert not hasattr(m, "predictor") and not hasattr(m, "degree")


@pytest.mark.parametrize("name", NAMES)
def test_predictor_is_homogeneous_of_its_degree(name):
    """β(cθ) = c^degree β(θ) for every linear model (the definition of ``degree``)."""
    m = small(name)
    if not is_linear(m):
        with pytest.raises(AttributeError):
            m.predictor  # noqa: B018
        return
    p = generic_params(m)
    c = 1.7
    scaled = jax.tree_util.tree_map(lambda x: c * x, p)
    np.testing.assert_allclose(m.predictor(scaled), c**m.degree * m.predictor(p), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_invariants_are_conserved_by_gradient_flow(name):
    """dI/dt = −⟨∇I, ∇ℒ⟩ = 0 for any data and any loss: the JVP of the invariants along the gradient."""
    m = small(name)
    X = jax.random.normal(jax.random.PRNGKey(5), (7, D))
    y = jax.random.normal(jax.random.PRNGKey(6), (7,))
    p = generic_params(m)
    g = jax.grad(lambda q: jnp.mean((m.apply(q, X) - y) ** 2))(p)
    _, dI = jax.jvp(m.invariants, (p,), (g,))
    scale = max(1.0, float(jnp.max(jnp.abs(m.invariants(p)))))
    # exact zero in real arithmetic; float64 rounding of O(10) products of O(1) numbers
    assert float(jnp.max(jnp.abs(dI), initial=0.0)) <= 1e-12 * scale


@pytest.mark.parametrize("name", NAMES)
def test_memory_estimate_is_positive_and_grows_with_n(name):
    m = small(name)
    a, b = m.memory_bytes(0), m.memory_bytes(1000)
    assert isinstance(a, int) and 0 < a < b


@pytest.mark.parametrize("name", [n for n in NAMES if has_dual(small(n))])
def test_potential_agrees_with_predictor_and_its_derivatives(name):
    """β(θ(z)) = Φ'(z) (JAX parameters vs NumPy potential), and Φ'', Φ''' are derivatives of Φ'."""
    m = small(name)
    pot = m.potential()
    z = np.linspace(-0.4, 0.3, D) * min(1.0, 0.5 * float(np.min(pot.bound)))
    np.testing.assert_allclose(np.asarray(m.predictor(m.params_of_z(jnp.asarray(z)))), pot.beta(z),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        np.asarray(m.predictor(m.params_of_z(z))), pot.beta(z), rtol=1e-12, atol=1e-15)  # NumPy path
    h = 1e-5
    # central differences: error h²·max|Φ''''|/6 ≈ 1e-10 relative at these scales
    np.testing.assert_allclose((pot.beta(z + h) - pot.beta(z - h)) / (2 * h), pot.curvature(z), rtol=1e-7)
    np.testing.assert_allclose((pot.curvature(z + h) - pot.curvature(z - h)) / (2 * h), pot.third(z),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(pot.inverse(pot.beta(z)), z, rtol=1e-10, atol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if has_dual(small(n))])
def test_exact_flow_equals_autodiff_flow(name):
    from biasflow.dynamics.flow import flow

    m = small(name, d=8)
    ds = gaussian(n=6, d=8, k=1, seed=1)
    ex = flow(m, ds, "exp", until="1e-2", method="exact")
    ad = flow(m, ds, "exp", until="1e-2", method="autodiff")
    assert ex.status == "ok" and ad.status == "ok"
    # two ODE solves at rtol 1e-10 through the same checkpoint
    np.testing.assert_allclose(ex.checkpoints[-1].predictor, ad.checkpoints[-1].predictor, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", [n for n in NAMES if has_decomposition(small(n))])
def test_decomposition_transforms_predictors(name):
    m = small(name)
    dec = m.decomposition()
    assert dec.depth == m.degree and dec.reason
    beta = np.asarray(m.predictor(generic_params(m)))
    if dec.decomposable:
        rho = dec.transform(beta)
        if dec.kind == "identity":
            np.testing.assert_array_equal(rho, beta)
        if dec.kind == "fourier":  # Parseval: ‖fft β‖² = d‖β‖²
            assert np.linalg.norm(rho) ** 2 == pytest.approx(D * np.linalg.norm(beta) ** 2, rel=1e-12)
    else:
        with pytest.raises(BiasflowError):
            dec.transform(beta)


@pytest.mark.parametrize("name", NAMES)
def test_every_option_is_documented_by_the_cli(name, cli):
    for command in ("flow", "descent", "predict", "interpolate", "lr-phases"):
        code, out, _ = cli(command, "--help")
        assert code == 0
        for f in options(name):
            assert f"--{f.name}" in out and f.metadata["help"].split()[0] in out


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_cli_builds_it(name, cli):
    """One gradient-descent step through the command line, with every option of the model given."""
    args = ["descent", "--data", "sparse", "--model", name, "--loss", "exp", "--lr", "0.01", "--steps", "2",
            "--json"]
    given = {"depth": "2", "width": "4", "alpha": "0.5", "shape": "0.5", "seed": "1", "widths": "4",
             "init": "gaussian:eps=0.1", "group": None, "gamma0": "1.5", "patches": "1", "center": None}
    if name == "shallow":  # its own law grammar; boolean switches (asymmetric, skip) left at their default
        given |= {"init": "gaussian:sw=1,sb=1", "activation": "abs", "train": "all", "asymmetric": None,
                  "skip": None}
    if name == "gcnn":  # full-width filters on the group of order d = 30: α = 0.5 starts at loss ≈ 1e2
        given["alpha"] = "0.1"
    for f in options(name):
        if given[f.name] is not None:
            args += [f"--{f.name}", given[f.name]]
    code, out, err = cli(*args)
    assert code == 0, err
    assert '"status": "ok"' in out


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_a_tiny_sweep_runs_it(name):
    from biasflow.sweep import expand, parse_config, run_batch

    text = f'name = "c"\n[run]\ndata = "sparse"\nmodel = "{name}"\nuntil = "1e-2"\nlevels = ["1e-2"]\n'
    text += "width = 4\n" if "width" in MODELS[name].options else ""
    specs = expand(parse_config(text))
    [(rid, rows)] = run_batch(specs)
    if is_linear(build_model(name, builtin("sparse").d, **({"width": 4} if "width" in MODELS[name].options
                                                          else {}))):
        assert [r["status"] for r in rows] == ["ok"], rows[0].get("message")
        assert rows[0]["model"] == name and math.isfinite(rows[0]["log10_loss"])
    else:  # gradient flow needs a linear model: one row, refused with a reason
        assert rows[0]["status"] == "invalid_input" and rows[0]["message"]


def test_registry_is_import_light():
    """models/__init__ and its leaf modules import no JAX: the registry loads model files on first use."""
    root = Path(inspect.getfile(build_model)).parent
    for f in ("__init__.py", "base.py", "options.py", "memory.py", "potentials.py", "decomposition.py"):
        tree = ast.parse((root / f).read_text())
        mods = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        mods += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0]
        assert not [m for m in mods if m.split(".")[0] == "jax"], f


def test_options_are_dataclass_fields_with_help():
    from biasflow.models.options import ModelOptions

    for f in dataclasses.fields(ModelOptions):
        assert f.metadata["help"] and "\n" not in f.metadata["help"]
    for name, entry in MODELS.items():
        assert set(entry.options) <= {f.name for f in dataclasses.fields(ModelOptions)}, name


def test_oversize_models_are_refused_before_allocating(monkeypatch):
    """memory_bytes(0) is checked by the constructor: a width-1e9 two-layer net is one clear error, at once."""
    monkeypatch.setenv("BIASFLOW_MEMORY_BUDGET", str(2 * 1024**3))
    for name in ("uv", "relu", "twolayer"):
        with pytest.raises(BiasflowError, match=r"needs an estimated .* over the budget"):
            build_model(name, 10, width=10**9)
    big = build_model("dense", 100, width=20000)  # 2 M parameters: fits (the invariants are checked apart)
    assert big.memory_bytes(10) < 2 * 1024**3
    with pytest.raises(BiasflowError, match="invariants"):
        big.invariants(big.init())
