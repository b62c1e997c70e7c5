"""Curvature along training: sharpness (top Hessian eigenvalue) and the top NTK eigenvalue
(docs/theory/large-steps.md §5.5).

Both are computed matrix-free with JAX and the Lanczos method (full reorthogonalization), so they compile
into the training loop and cost a few dozen Hessian-vector / Jacobian-vector products:

- **sharpness** S(θ) = λ_max(∇²ℒ(θ)), with Hessian-vector products by forward-over-reverse differentiation
  (``jax.jvp`` of ``jax.grad``);
- **NTK eigenvalue** λ(θ) = λ_max(Θ), with Θ = J Jᵀ/n the tangent kernel normalized like the (mean) loss,
  J = ∂f(X; θ)/∂θ; the operator u ↦ J(Jᵀu)/n uses one VJP and one JVP.

At a square-loss interpolating minimum S = λ; at the logistic optimum on non-separable data of a linear net
S = λ_max(D^{1/2}ΘD^{1/2}), D = diag(σ(m)σ(−m)) (docs/theory/large-steps.md §5.5). Elsewhere they differ.

Lanczos with k ≥ dim is exact (the Krylov space is the whole space); with k < dim the top Ritz value is a
lower bound that converges fast when λ_max is separated, and warm-starting from the previous Ritz vector
(as the training loop does) makes k = 20 ample in practice.

>>> import jax.numpy as jnp
>>> H = jnp.diag(jnp.array([3.0, 1.0, -2.0]))
>>> lam, vec = lanczos_top(lambda v: H @ v, jnp.ones(3), iters=3)
>>> round(float(lam), 12)
3.0
>>> top_eigenvalue(lambda p: 0.5 * p @ H @ p, jnp.zeros(3))    # Hessian of ½pᵀHp is H
3.0
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .. import _jax  # noqa: F401


def lanczos_top(matvec: Callable, v0: jax.Array, iters: int = 20) -> tuple[jax.Array, jax.Array]:
    """Largest (algebraic) eigenvalue of a symmetric operator and its Ritz vector, by Lanczos.

    Args:
        matvec: v ↦ Hv for a symmetric H on R^p (traceable).
        v0: start vector (nonzero; the previous Ritz vector is a good warm start).
        iters: Krylov dimension k; capped at p, where the result is exact.

    Returns:
        (λ, u): the top Ritz value and its unit Ritz vector. After a breakdown (invariant subspace found)
        the remaining iterations are neutralized, so λ stays a Ritz value of H.
    """
    p = v0.shape[0]
    k = int(min(iters, p))
    v0 = v0 / jnp.linalg.norm(v0)
    V = jnp.zeros((k, p), v0.dtype)
    alphas = jnp.zeros(k, v0.dtype)
    betas = jnp.zeros(k, v0.dtype)

    def body(j, carry):
        V, alphas, betas, v, v_prev, beta_prev, ok, nvalid = carry
        V = V.at[j].set(v)
        w = matvec(v)
        scale = jnp.linalg.norm(w)
        a = jnp.vdot(v, w)
        w = w - a * v - beta_prev * v_prev
        w = w - V.T @ (V @ w)           # full reorthogonalization (one classical Gram–Schmidt pass)
        b = jnp.linalg.norm(w)
        alive = ok & (b > 1e-13 * (scale + jnp.abs(a)) + 1e-300)
        alphas = alphas.at[j].set(jnp.where(ok, a, 0.0))
        betas = betas.at[j].set(jnp.where(alive, b, 0.0))
        v_next = jnp.where(alive, w / jnp.where(alive, b, 1.0), 0.0)
        return V, alphas, betas, v_next, v, jnp.where(alive, b, 0.0), alive, nvalid + ok.astype(jnp.int32)

    init = (V, alphas, betas, v0, jnp.zeros_like(v0), jnp.asarray(0.0, v0.dtype), jnp.asarray(True),
            jnp.asarray(0, jnp.int32))
    V, alphas, betas, _, _, _, _, nvalid = jax.lax.fori_loop(0, k, body, init)
    # Iterations after a breakdown carry no information: give them a diagonal entry strictly below every
    # eigenvalue of the valid block (a Gershgorin bound), so they can never be the top Ritz pair.
    lo = -(jnp.sum(jnp.abs(alphas)) + 2.0 * jnp.sum(jnp.abs(betas)) + 1.0)
    alphas = jnp.where(jnp.arange(k) < nvalid, alphas, lo)
    T = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    evals, evecs = jnp.linalg.eigh(T)
    u = V.T @ evecs[:, -1]
    nu = jnp.linalg.norm(u)
    u = jnp.where(nu > 0, u / jnp.where(nu > 0, nu, 1.0), v0)
    return evals[-1], u


def hvp(loss_fn: Callable, params, vec):
    """Hessian-vector product ∇²ℒ(θ)·v (forward-over-reverse), on pytrees."""
    return jax.jvp(jax.grad(loss_fn), (params,), (vec,))[1]


def sharpness(loss_fn: Callable, params, *, iters: int = 20, v0: jax.Array | None = None,
              key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Sharpness λ_max(∇²ℒ(θ)) by Lanczos on Hessian-vector products; returns (λ, flat Ritz vector).

    Args:
        loss_fn: θ ↦ ℒ(θ), a scalar (the mean training loss).
        params: θ (any pytree of float64 arrays).
        iters: Lanczos iterations (exact once ≥ the number of parameters).
        v0: flat warm-start vector; default a random Gaussian vector from ``key``.
    """
    flat, unravel = ravel_pytree(params)
    if v0 is None:
        v0 = jax.random.normal(jax.random.PRNGKey(0) if key is None else key, flat.shape, flat.dtype)
    mv = lambda v: ravel_pytree(hvp(loss_fn, params, unravel(v)))[0]
    return lanczos_top(mv, v0, iters)


def ntk_top(outputs_fn: Callable, params, *, iters: int = 20, v0: jax.Array | None = None,
            key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Top eigenvalue of the tangent kernel Θ = J Jᵀ/n, J = ∂f/∂θ, with f = outputs_fn(θ) ∈ Rⁿ.

    Matrix-free: u ↦ J(Jᵀu)/n by one VJP and one JVP; Lanczos in Rⁿ (exact once iters ≥ n).
    Returns (λ, unit eigenvector in Rⁿ).
    """
    f, vjp = jax.vjp(outputs_fn, params)
    n = f.shape[0]
    if v0 is None:
        v0 = jax.random.normal(jax.random.PRNGKey(1) if key is None else key, (n,), f.dtype)

    def mv(u):
        (jt,) = vjp(u)
        return jax.jvp(outputs_fn, (params,), (jt,))[1] / n

    return lanczos_top(mv, v0, iters)


# ------------------------------------------------------------------------------------- dense references
def hessian_dense(loss_fn: Callable, params) -> jax.Array:
    """The full Hessian of ℒ in the flattened parameters (for tests and small nets)."""
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda x: loss_fn(unravel(x)))(flat)


def ntk_dense(outputs_fn: Callable, params) -> jax.Array:
    """The tangent kernel Θ = J Jᵀ/n as a dense n×n matrix (for tests and small problems)."""
    flat, unravel = ravel_pytree(params)
    J = jax.jacrev(lambda x: outputs_fn(unravel(x)))(flat)
    return J @ J.T / J.shape[0]


def top_eigenvalue(loss_fn: Callable, params) -> float:
    """λ_max of the dense Hessian (NumPy-side reference; use :func:`sharpness` inside loops)."""
    return float(jnp.linalg.eigvalsh(hessian_dense(loss_fn, params))[-1])


__all__ = ["hessian_dense", "hvp", "lanczos_top", "ntk_dense", "ntk_top", "sharpness", "top_eigenvalue"]
