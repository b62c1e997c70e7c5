"""Sharpness by Lanczos on Hessian-vector products vs dense Hessians (1e-8), NTK eigenvalues vs dense
kernels, breakdown handling, and the sharpness = λ identities of docs/theory/large-steps.md §5.5."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from biasflow.data import gaussian
from biasflow.dynamics.curvature import hessian_dense, lanczos_top, ntk_dense, ntk_top, sharpness
from biasflow.losses import EXP, LOGISTIC, SQUARE
from biasflow.models import Diagonal
from biasflow.models.uv import UV

CLS = gaussian(n=6, d=5, k=1, seed=1)
REG = gaussian(n=4, d=5, k=2, task="regression", seed=2)


def _loss_fn(model, ds, loss):
    A = jnp.asarray(ds.A)
    y = jnp.asarray(ds.y)
    return lambda p: jnp.mean(loss.value(A @ model.predictor(p), y))


def test_lanczos_matches_dense_symmetric_matrices():
    rng = np.random.default_rng(0)
    top = jax.jit(lambda H, v: lanczos_top(lambda x: H @ x, v, iters=v.shape[0]))
    for p in (1, 3, 30):
        B = rng.standard_normal((p, p))
        H = jnp.asarray(B + B.T)
        lam, u = top(H, jnp.asarray(rng.standard_normal(p)))
        ref = np.linalg.eigvalsh(np.asarray(H))[-1]
        assert abs(float(lam) - ref) <= 1e-10 * max(1.0, abs(ref))
        assert np.linalg.norm(np.asarray(H @ u) - float(lam) * np.asarray(u)) < 1e-8 * max(1.0, abs(ref))


def test_lanczos_breakdown_and_all_negative_spectrum():
    """A rank-one operator breaks the recurrence after one step; a negative-definite one has λ_max < 0."""
    a = jnp.array([1.0, 2.0, 2.0])
    lam, u = lanczos_top(lambda v: a * (a @ v), jnp.array([1.0, 0.0, 0.0]), iters=3)
    assert abs(float(lam) - 9.0) < 1e-12 and np.all(np.isfinite(np.asarray(u)))
    H = -jnp.diag(jnp.array([1.0, 2.0, 3.0]))
    lam, _ = lanczos_top(lambda v: H @ v, jnp.ones(3), iters=3)
    assert abs(float(lam) + 1.0) < 1e-12
    # an eigenvector as the start vector is an immediate breakdown
    lam, u = lanczos_top(lambda v: H @ v, jnp.array([0.0, 1.0, 0.0]), iters=3)
    assert abs(float(lam) + 2.0) < 1e-12 and abs(float(jnp.abs(u[1])) - 1.0) < 1e-12


def test_sharpness_vs_dense_hessian_small_nets():
    """Lanczos sharpness agrees with the dense Hessian's top eigenvalue to 1e-8 (relative)."""
    cases = [
        (Diagonal(d=5, depth=2, alpha=0.7), CLS, EXP),
        (Diagonal(d=5, depth=3, alpha=0.7), CLS, LOGISTIC),
        (UV(d=5, width=4, seed=1), REG, SQUARE),
    ]
    for model, ds, loss in cases:
        p = model.init(jax.random.PRNGKey(0))
        # move away from the symmetric init so the Hessian is generic
        p = jax.tree_util.tree_map(lambda a: a * (1.0 + 0.1 * jnp.arange(a.size).reshape(a.shape) / a.size),
                                   p)
        f = _loss_fn(model, ds, loss)
        H, (lam, _) = jax.jit(lambda q, f=f: (hessian_dense(f, q), sharpness(f, q, iters=30)))(p)
        ref = np.linalg.eigvalsh(np.asarray(H))[-1]
        assert abs(float(lam) - ref) <= 1e-8 * abs(ref), (model, float(lam), ref)


def test_ntk_top_vs_dense_and_uv_closed_form():
    m = UV(d=5, width=7, seed=3)
    p = m.init()
    X = jnp.asarray(REG.X)
    fn = lambda q: X @ m.predictor(q)
    K = jax.jit(lambda q: ntk_dense(fn, q))(p)
    np.testing.assert_allclose(K, m.ntk(p, X), rtol=1e-12)
    lam, _ = jax.jit(lambda q: ntk_top(fn, q, iters=4))(p)
    assert abs(float(lam) - float(np.linalg.eigvalsh(np.asarray(K))[-1])) < 1e-10 * float(lam)


def test_square_loss_sharpness_equals_ntk_at_interpolation():
    """docs/theory/large-steps.md §5.5: at an interpolating minimum of the square loss, λ_max(∇²ℒ) = λ_max(Θ)."""
    from biasflow.data import make_dataset
    from biasflow.dynamics.descent import descent

    ds = make_dataset(REG.X[:2], REG.y[:2], task="regression")
    m = UV(d=5, width=6, seed=0)
    p0 = m.init()
    r = descent(m, ds, "square", lr=1.0 / float(m.ntk_top(p0, ds.X)), steps=1000, sharpness_every=1000,
                ntk=True)
    assert r.status == "ok" and r.loss[-1] < 1e-25
    lam = float(m.ntk_top(r.params, ds.X))
    assert abs(r.sharpness[-1] - lam) < 1e-8 * lam
    assert abs(r.history["ntk"][-1] - lam) < 1e-8 * lam
