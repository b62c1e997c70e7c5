"""KKT residuals of the transformed-space ℓ_{2/L} max-margin problems (Yun, Krishnan, Mobahi 2021) and of
min Σ‖v_l‖² s.t. margins ≥ 1 in parameter space, and the best-effort Fourier ℓ_{2/L} stationary point
(reweighted Fourier-ℓ1) for L ≥ 3, where only stationarity can be certified.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy.optimize import nnls

from .. import _jax  # noqa: F401
from ..data import Dataset
from ..errors import BiasflowError
from .fourier import _require_separable_classification, fourier_l1_max_margin, fourier_lp

# ------------------------------------------------------------------------------ KKT residuals (§4.5)


def transformed_kkt(
    beta,
    data: Dataset,
    depth: int,
    *,
    space: str = "identity",
    tol_margin: float = 1e-3,
    tol_support: float = 1e-3,
) -> dict:
    """KKT residual of min ‖Sβ‖_{2/L} s.t. X̃β ≥ 1 at β (docs/theory/tensor.md §4.5), with S = I or S = DFT.

    β is first normalized to minimum margin 1. Active points A = {i : m_i ≤ 1 + tol_margin}; support S =
    coordinates (frequencies) with modulus > tol_support·max. With p = 2/L and g = ∇‖Sβ‖_p^p on the
    support, λ = NNLS(P X̃_Aᵀ, g), P the projection onto the supported coordinates, and the residual is
    ‖P X̃_Aᵀλ − g‖/‖g‖. For L = 2 the off-support condition max_{k∉S} |(S X̃_Aᵀλ)_k|/scale − 1 ≤ 0 is also
    reported as ``off_support`` (scale = 1 for identity, d for Fourier).

    Returns a dict with ``residual``, ``off_support`` (L = 2) , ``active``, ``support``, ``lambda``.
    """
    _require_separable_classification(data, "the ℓ_{2/L} KKT residual")
    if space not in ("identity", "fourier"):
        raise BiasflowError(f"unknown space {space!r}; use identity or fourier")
    L = int(depth)
    if L < 1:
        raise BiasflowError(f"depth must be ≥ 1 (got {depth})")
    b = np.asarray(beta, dtype=float)
    A = data.A
    m = A @ b
    gamma = float(m.min())
    if not gamma > 0:
        raise BiasflowError(
            "the predictor does not separate the data (minimum margin ≤ 0); the KKT residual "
            "is defined for separating predictors only"
        )
    b = b / gamma
    m = m / gamma
    p = 2.0 / L
    active = np.flatnonzero(m <= 1.0 + tol_margin)
    d = data.d
    if space == "identity":  # the β-space problem: biasflow.bias.kkt owns it
        from .kkt import kkt_residual

        r = kkt_residual(b, data, L, tol_active=tol_margin, tol_support=tol_support)
        out = {
            "residual": float(r.residual),
            "active": np.asarray(r.active).tolist(),
            "support": np.asarray(r.support).tolist(),
            "lambda": np.asarray(r.dual).tolist(),
            "p": p,
            "space": space,
        }
        if L == 2:
            out["off_support"] = float(r.offsupport)
        return out
    z = np.fft.fft(b)
    mod = np.abs(z)
    supp = mod > tol_support * mod.max()
    u = np.zeros(d, complex)
    u[supp] = p * mod[supp] ** (p - 2.0) * z[supp]
    g = np.real(d * np.fft.ifft(u))  # Re(Fᴴu)
    FA = np.fft.fft(A[active].T, axis=0)  # spectra of the active rows
    cols = np.real(np.fft.ifft(FA * supp[:, None], axis=0))
    scale = float(d)
    off = FA[~supp]
    gn = float(np.linalg.norm(g))
    lam, _ = nnls(cols, g, maxiter=50 * max(1, cols.shape[1]))
    res = float(np.linalg.norm(cols @ lam - g) / gn) if gn > 0 else math.inf
    out = {
        "residual": res,
        "active": active.tolist(),
        "support": np.flatnonzero(supp).tolist(),
        "lambda": lam.tolist(),
        "p": p,
        "space": space,
    }
    if L == 2:
        out["off_support"] = float(np.abs(off @ lam).max() / scale - 1.0) if off.size else -1.0
    return out


def parameter_kkt(model, params, data: Dataset, *, tol_margin: float = 1e-3) -> dict:
    """KKT residual of min ½Σ‖v_l‖² s.t. y_i f(x_i) ≥ 1 in parameter space (docs/theory/tensor.md §4.3, §4.5).

    With θ̄ = θ/γ^{1/L} (so the minimum margin is 1), active set A and λ = NNLS(J_Aᵀ, θ̄), J_A the
    Jacobian of the active margins at θ̄: residual = ‖θ̄ − J_Aᵀλ‖/‖θ̄‖. Works for any homogeneous model
    (FC, short-filter conv, general tensor networks).
    """
    _require_separable_classification(data, "the parameter-space KKT residual")
    flat, unravel = ravel_pytree(params)
    A = jnp.asarray(data.A)
    L = model.degree

    def margins(th):
        return A @ model.predictor(unravel(th))

    m = np.asarray(margins(flat))
    gamma = float(m.min())
    if not gamma > 0:
        raise BiasflowError("the network does not separate the data (minimum margin ≤ 0); no KKT residual")
    th = flat / gamma ** (1.0 / L)
    mb = m / gamma
    active = np.flatnonzero(mb <= 1.0 + tol_margin)
    J = np.asarray(jax.jacrev(margins)(th))[active]
    thn = np.asarray(th)
    lam, _ = nnls(J.T, thn, maxiter=50 * max(1, len(active)))
    res = float(np.linalg.norm(J.T @ lam - thn) / np.linalg.norm(thn))
    return {"residual": res, "active": active.tolist(), "lambda": lam.tolist()}


def fourier_l2L_candidate(data: Dataset, depth: int, *, iters: int = 20, eps: float = 1e-6) -> dict:
    """Best-effort stationary point of min ‖fft(β)‖_{2/L} s.t. X̃β ≥ 1 for L ≥ 3 (a non-convex problem).

    Reweighted Fourier-ℓ1 (a majorize–minimize scheme for the concave |·|^p): start from the Fourier-ℓ1
    max-margin, then solve the weighted SOCP with w_k = (|ẑ_k| + ε·max|ẑ|)^{p−1}, p = 2/L, until the
    objective stalls. Only stationarity can be certified: the result carries its KKT residual.
    """
    L = int(depth)
    if L < 2:
        raise BiasflowError(f"depth must be ≥ 2 for the Fourier ℓ_{{2/L}} problem (got {depth})")
    p = 2.0 / L
    r = fourier_l1_max_margin(data)
    b = r.predictor / r.margin
    best = fourier_lp(b, p)
    for _ in range(iters if L >= 3 else 0):
        z = np.abs(np.fft.rfft(b))
        w = (z + eps * z.max()) ** (p - 1.0)
        with warnings.catch_warnings():  # strongly reweighted SOCPs may end "optimal_inaccurate"
            warnings.simplefilter("ignore", UserWarning)
            nb = fourier_l1_max_margin(data, weights=w / w.max()).predictor
        nb = nb / float(np.min(data.A @ nb))
        val = fourier_lp(nb, p)
        if val > best * (1 - 1e-9):
            break
        b, best = nb, val
    kkt = transformed_kkt(b, data, L, space="fourier")
    return {"predictor": b, "objective": best, "kkt": kkt}
