"""Riemannian geometry of the deep linear network W = W_L⋯W₁ (Menon 2024; Cohen, Menon & Veraszto 2023;
Menon & Yu 2025).

Gradient flow on the factors, started on the balanced variety W_{p+1}ᵀW_{p+1} = W_pW_pᵀ, moves the
end-to-end matrix W (m×k) by Ẇ = −L·A_W(∇E) with the positive operator

    A_W(P) = (1/L) Σ_{p=1}^{L} (WWᵀ)^{(L−p)/L} P (WᵀW)^{(p−1)/L},

so W follows the Riemannian gradient flow of E for the metric g_L(W)(Z, Z) = tr(Zᵀ A_W⁻¹(Z)) (the factor
L is a time change). With the full SVD W = U diag(σ) Vᵀ (σ padded with zeros to m and k) the operator is
diagonal in the basis u_i v_lᵀ with eigenvalues

    λ_il = (1/L) Σ_p a_i^{L−p} a_l^{p−1} = (σ_i² − σ_l²) / (L (σ_i^{2/L} − σ_l^{2/L})),   a = σ^{2/L},

λ_ii = σ_i^{2(L−1)/L}; as L → ∞ λ_il tends to the logarithmic mean (σ_i² − σ_l²)/log(σ_i²/σ_l²) and
λ_ii to σ_i² (:func:`metric_eigenvalues`, ``L=None``).

**Volume.** The Riemannian volume of g_L has density √det g_L = Π_il λ_il^{−1/2} with respect to the
Lebesgue measure dW (:func:`log_volume_density`). For square W this is Cohen, Menon & Veraszto's
(2023, Thm 1.1) volume form divided by the SVD Jacobian dW = van(σ²) dσ dU dV:

    dvol_{g_L} = L^{d(d−1)/2} Π_i σ_i^{(1−L)/L} van(σ^{2/L}) dσ dU dV,    van(x) = Π_{i<j} |x_i − x_j|,

(:func:`log_volume_form`), and at infinite depth dvol_{g_∞} = van(log σ²)/Π_i σ_i dσ dU dV. The density
blows up like σ_min^{1/L − 1} near rank deficiency: high volume sits near low rank.

**Orbit entropy.** The balanced factorizations of a full-rank square X form one orbit of O_d^{L−1}
(W_p ↦ Q_p W_p Q_{p−1}ᵀ). Its volume in the Frobenius metric of the factors is (Menon & Yu 2025)

    vol(O_X) = c_d^{L−1} √(van(σ²)/van(σ^{2/L})),

with c_d = vol(O_d) in the Frobenius metric (:func:`orthogonal_group_volume`), and the entropy is
S(X) = log vol(O_X) (:func:`orbit_entropy`). S stays finite at coincident nonzero σ and at rank d − 1,
tends to −∞ once two singular values vanish, and grows with the spread of the σ_i.

All functions take NumPy arrays (float64) and work in the log domain where products of many small
numbers appear.

>>> import numpy as np
>>> W = np.diag([3.0, 1.0])
>>> metric_eigenvalues(W, 2)                  # λ_12 = (9 − 1)/(2(3 − 1)) = 2, λ_ii = σ_i
array([[3., 2.],
       [2., 1.]])
>>> float(log_volume_density(W, 1))            # L = 1: the Euclidean metric
0.0
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from .errors import BiasflowError

__all__ = [
    "effective_rank", "log_metric_eigenvalues", "log_vandermonde", "log_volume_density", "log_volume_density_many",
    "log_volume_form",
    "metric_apply", "metric_eigenvalues", "metric_operator_matrix", "nuclear_norm", "orbit_entropy",
    "orbit_gram_log_volume", "orthogonal_group_volume", "riemannian_gradient", "singular_values",
    "summary",
]


# ------------------------------------------------------------------------------------------------ inputs
def _matrix(W, where: str = "W") -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    if W.ndim == 1:
        W = W[:, None]
    if W.ndim != 2 or W.size == 0:
        raise BiasflowError(f"{where} must be a non-empty matrix (got shape {W.shape})")
    if not np.all(np.isfinite(W)):
        raise BiasflowError(f"{where} has non-finite entries; geometry needs a finite matrix")
    return W


def _depth(L) -> float | None:
    if L is None:
        return None
    if isinstance(L, bool) or not isinstance(L, (int, float, np.integer, np.floating)):
        raise BiasflowError(f"depth L must be a number ≥ 1 or None for the infinite-depth limit (got {L!r})")
    Lf = float(L)
    if not (math.isfinite(Lf) and Lf >= 1):
        raise BiasflowError(f"depth L must be ≥ 1 (got {L!r}); use L=None for the infinite-depth limit")
    return Lf


def singular_values(W) -> np.ndarray:
    """Singular values of W in decreasing order (min(m, k) of them)."""
    return np.linalg.svd(_matrix(W), compute_uv=False)


def nuclear_norm(W) -> float:
    """‖W‖_* = Σ σ_i."""
    return float(np.sum(singular_values(W)))


def effective_rank(W) -> float:
    """Roy & Vetterli's (2007) effective rank exp(H(p)), p_i = σ_i/Σσ, H the Shannon entropy (nats).

    Arora et al. (2019) use it to measure how low-rank a learned matrix is; it equals r for r equal
    nonzero singular values.

    >>> round(effective_rank(np.diag([1.0, 1.0, 0.0])), 12)
    2.0
    """
    s = singular_values(W)
    tot = float(np.sum(s))
    if tot == 0.0:
        return 0.0
    p = s[s > 0] / tot
    return float(np.exp(-np.sum(p * np.log(p))))


# ------------------------------------------------------------------------------------ pairwise log forms
def _padded_log_sigma(W) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full SVD (U, log σ padded to m, log σ padded to k, V) with log 0 = −inf."""
    W = _matrix(W)
    U, s, Vt = np.linalg.svd(W, full_matrices=True)
    m, k = W.shape
    with np.errstate(divide="ignore"):
        ls = np.log(s)
    lm = np.full(m, -np.inf)
    lk = np.full(k, -np.inf)
    lm[: s.size] = ls
    lk[: s.size] = ls
    return U, lm, lk, Vt.T


def _log_pair_mean(x: np.ndarray, y: np.ndarray, L: float | None) -> np.ndarray:
    """log λ for log σ_i = x, log σ_l = y (broadcast), finite depth L or L = None.

    Finite L: λ = (a^L − b^L)/(L(a − b)) with log a = 2x/L, log b = 2y/L; with h = max, δ = |log a − log b|:
    log λ = (L−1)h + log(expm1(−Lδ)/(L expm1(−δ))) — no cancellation at δ → 0 and exact at b = 0.
    L = None: the logarithmic mean of σ_i², σ_l²: log λ = h + log(−expm1(−δ)/δ), h = 2 max, δ = 2|x − y|.
    """
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    out = np.empty(x.shape)
    if L is not None and L == 1.0:
        out[...] = 0.0
        return out
    if L is None:
        hi, lo = 2 * np.maximum(x, y), 2 * np.minimum(x, y)
    else:
        hi, lo = (2 / L) * np.maximum(x, y), (2 / L) * np.minimum(x, y)
    dead = hi == -np.inf
    out[dead] = -np.inf
    live = ~dead
    h, d = hi[live], hi[live] - lo[live]
    with np.errstate(divide="ignore", invalid="ignore"):
        if L is None:
            tail = np.where(d == 0, 0.0, np.log(-np.expm1(-d) / np.where(d == 0, 1.0, d)))
            out[live] = h + tail
        else:
            ratio = np.where(d == 0, L, np.expm1(-L * d) / np.where(d == 0, 1.0, np.expm1(-d)))
            out[live] = (L - 1) * h + np.log(ratio / L)
    return out


def log_metric_eigenvalues(W, L) -> np.ndarray:
    """log λ_il (m×k) of A_W in the basis u_i v_lᵀ of the full SVD (σ decreasing, padded with zeros)."""
    Lf = _depth(L)
    _, lm, lk, _ = _padded_log_sigma(W)
    return _log_pair_mean(lm[:, None], lk[None, :], Lf)


def metric_eigenvalues(W, L) -> np.ndarray:
    """Eigenvalues λ_il (an m×k array) of A_W, i.e. of the inverse metric g_L⁻¹, at W (Menon 2024).

    Entry (i, l) belongs to the eigenvector u_i v_lᵀ of the full SVD W = U diag(σ) Vᵀ with σ decreasing
    and padded with zeros. ``L=None`` gives the infinite-depth limit (logarithmic means; λ_ii = σ_i²).

    >>> np.round(metric_eigenvalues(np.diag([np.e, 1.0]), None), 12)   # (e² − 1)/log e² and σ_i²
    array([[7.3890561 , 3.19452805],
           [3.19452805, 1.        ]])
    """
    return np.exp(log_metric_eigenvalues(W, L))


def metric_apply(W, L, P) -> np.ndarray:
    """A_W(P) = U (Λ ∘ UᵀPV) Vᵀ with Λ = :func:`metric_eigenvalues`."""
    Lf = _depth(L)
    U, lm, lk, V = _padded_log_sigma(W)
    P = np.asarray(P, dtype=np.float64)
    if P.shape != (U.shape[0], V.shape[0]):
        raise BiasflowError(f"P has shape {P.shape} but W is {U.shape[0]}×{V.shape[0]}")
    lam = np.exp(_log_pair_mean(lm[:, None], lk[None, :], Lf))
    return U @ (lam * (U.T @ P @ V)) @ V.T


def riemannian_gradient(W, L, grad) -> np.ndarray:
    """The Riemannian gradient A_W(∇E) of E for the metric g_L, from the Euclidean gradient ∇E at W.

    Gradient flow on balanced factors moves W by Ẇ = −L·A_W(∇E) (the factor L is a time change).
    """
    return metric_apply(W, L, grad)


def metric_operator_matrix(W, L: int) -> np.ndarray:
    """A_W assembled as an (mk)×(mk) matrix acting on row-major vec(P), from matrix powers.

    An independent path to :func:`metric_eigenvalues`: the fractional powers (WWᵀ)^{q} are taken with
    :func:`scipy.linalg.fractional_matrix_power` (Schur–Padé), not from the SVD of W — for a singular Gram
    matrix (rectangular W), where Schur–Padé loses accuracy, from its own symmetric eigendecomposition —
    and A_W is the sum of Kronecker products (1/L) Σ_p (WWᵀ)^{(L−p)/L} ⊗ ((WᵀW)^{(p−1)/L})ᵀ. Integer
    depth only.
    """
    from scipy.linalg import fractional_matrix_power

    W = _matrix(W)
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
        raise BiasflowError(f"metric_operator_matrix needs an integer depth L ≥ 1 (got {L!r})")
    m, k = W.shape
    G, H = W @ W.T, W.T @ W

    def power(M, q):
        if q == 0:
            return np.eye(M.shape[0])
        ev, vecs = np.linalg.eigh(M)
        if ev[0] > 1e-8 * ev[-1]:
            return np.real(fractional_matrix_power(M, q))
        ev = np.where(ev > 64 * np.finfo(float).eps * ev[-1], ev, 0.0)  # round-off zeros are zeros
        return (vecs * ev ** q) @ vecs.T

    A = np.zeros((m * k, m * k))
    for p in range(1, L + 1):
        A += np.kron(power(G, (L - p) / L), power(H, (p - 1) / L).T)
    return A / L


# ---------------------------------------------------------------------------------------------- volume
def log_volume_density(W, L) -> float:
    """log √det g_L(W) = −½ Σ_il log λ_il: the log density of the Riemannian volume w.r.t. Lebesgue dW.

    ``L=None`` is the infinite-depth limit. +inf on rank-deficient W for L ≥ 2 (the density diverges like
    σ_min^{1/L−1}); 0 at L = 1 (the Euclidean metric).

    >>> W = np.array([[1.0, 1.0], [1.0 - 1e-3, 1.0]])       # near the corner a = b = 1 of 2×2 completion
    >>> round(log_volume_density(W, 2) - log_volume_density(np.array([[1.0, 3.0], [(1 - 1e-3) / 3, 1.0]]), 2), 3)
    0.511
    """
    return float(-0.5 * np.sum(log_metric_eigenvalues(W, L))) + 0.0


def log_volume_density_many(Ws, L) -> np.ndarray:
    """:func:`log_volume_density` of a stack of matrices (…, m, k) at once (one batched SVD).

    >>> Ws = np.stack([np.diag([2.0, 1.0]), np.diag([3.0, 0.5])])
    >>> bool(np.allclose(log_volume_density_many(Ws, 3), [log_volume_density(W, 3) for W in Ws]))
    True
    """
    Ws = np.asarray(Ws, dtype=np.float64)
    if Ws.ndim < 2 or not np.all(np.isfinite(Ws)):
        raise BiasflowError("log_volume_density_many needs a finite stack of matrices (…, m, k)")
    Lf = _depth(L)
    m, k = Ws.shape[-2:]
    s = np.linalg.svd(Ws, compute_uv=False)
    with np.errstate(divide="ignore"):
        ls = np.log(s)
    r = s.shape[-1]
    lm = np.full(Ws.shape[:-2] + (m,), -np.inf)
    lk = np.full(Ws.shape[:-2] + (k,), -np.inf)
    lm[..., :r] = ls
    lk[..., :r] = ls
    lam = _log_pair_mean(lm[..., :, None], lk[..., None, :], Lf)
    return -0.5 * np.sum(lam, axis=(-2, -1)) + 0.0


def log_vandermonde(x) -> float:
    """log van(x) = Σ_{i<j} log|x_i − x_j| (−inf at coincident entries)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    iu = np.triu_indices(x.size, 1)
    with np.errstate(divide="ignore"):
        return float(np.sum(np.log(np.abs(x[iu[0]] - x[iu[1]]))))


def log_volume_form(sigma, L) -> float:
    """log of CMV's volume form density w.r.t. dσ dU dV for square W with singular values ``sigma``.

    Finite L: log(L^{d(d−1)/2} Π σ_i^{(1−L)/L} van(σ^{2/L})); L = None: log(van(log σ²)/Π σ_i)
    (Cohen, Menon & Veraszto 2023, Thm 1.1 and its L → ∞ limit). Dividing by van(σ²) (the SVD Jacobian
    of dW) gives :func:`log_volume_density`; the tests check the two paths against each other.
    """
    s = np.asarray(sigma, dtype=np.float64).ravel()
    if np.any(~np.isfinite(s)) or np.any(s <= 0):
        raise BiasflowError("log_volume_form needs positive finite singular values")
    d = s.size
    Lf = _depth(L)
    if Lf is None:
        return log_vandermonde(np.log(s * s)) - float(np.sum(np.log(s)))
    return (d * (d - 1) / 2) * math.log(Lf) + ((1 - Lf) / Lf) * float(np.sum(np.log(s))) + log_vandermonde(
        s ** (2 / Lf))


# ----------------------------------------------------------------------------------------------- orbit
def orthogonal_group_volume(d: int) -> float:
    """log vol(O_d) in the Frobenius metric ⟨X, Y⟩ = tr(XᵀY) on d×d matrices.

    vol(SO_n) = vol(SO_{n−1})·(√2)^{n−1}·vol(S^{n−1}) (the rotation E_in − E_ni has Frobenius norm √2 and
    moves e_n at unit speed), vol(S^{k}) = 2π^{(k+1)/2}/Γ((k+1)/2), vol(O_d) = 2 vol(SO_d).

    >>> round(math.exp(orthogonal_group_volume(2)) / (4 * math.pi * math.sqrt(2)), 12)   # two circles of length 2π√2
    1.0
    """
    if not (isinstance(d, (int, np.integer)) and d >= 1):
        raise BiasflowError(f"d must be a positive integer (got {d!r})")
    out = math.log(2.0)
    for n in range(2, d + 1):
        k = n - 1  # sphere S^{n-1}
        out += 0.5 * (n - 1) * math.log(2.0) + math.log(2.0) + 0.5 * (k + 1) * math.log(math.pi) - gammaln(
            0.5 * (k + 1))
    return float(out)


def _log_orbit_ratio(s: np.ndarray, L: float | None) -> float:
    """½ log(van(σ²)/van(σ^{2/L})) pairwise without cancellation; L = None divides by van(log σ²).

    Per pair (h = log of the larger σ, δ = log-ratio ≥ 0): log(σ_i² − σ_j²) = 2h + log(−expm1(−2δ)) and
    log(σ_i^{2/L} − σ_j^{2/L}) = (2/L)h + log(−expm1(−2δ/L)); their difference tends to (2 − 2/L)h + log L
    at δ → 0 and is −inf once both σ vanish."""
    d = s.size
    if d < 2:
        return 0.0
    with np.errstate(divide="ignore"):
        ls = np.log(s)
    i, j = np.triu_indices(d, 1)
    hi, lo = np.maximum(ls[i], ls[j]), np.minimum(ls[i], ls[j])
    if np.any(hi == -np.inf):
        return -math.inf
    delta = hi - lo
    pos = delta > 0
    dd = np.where(pos, delta, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if L is None:
            tail = np.where(pos, np.log(-np.expm1(-2 * dd)) - np.log(2 * dd), 0.0)
            terms = np.where(np.isinf(delta), np.inf, 2 * hi + tail)
        else:
            ratio = np.where(np.isinf(delta), 1.0, np.expm1(-2 * dd) / np.expm1(-2 * dd / L))
            terms = (2 - 2 / L) * hi + np.where(pos, np.log(ratio), math.log(L))
    return float(0.5 * np.sum(terms))


def orbit_entropy(W, L, *, constant: bool = True) -> float:
    """S(W) = log vol(O_W) = (L−1) log c_d + ½ log(van(σ²)/van(σ^{2/L})) (Menon & Yu 2025), square W.

    ``constant=False`` drops (L−1) log c_d (c_d = vol(O_d), :func:`orthogonal_group_volume`). ``L=None``
    gives the renormalized infinite-depth limit ½ log(van(σ²)/van(log σ²)) (the divergent
    (L−1) log c_d + (d(d−1)/4) log L removed). −inf once two singular values vanish.

    >>> round(orbit_entropy(np.eye(2), 2, constant=False), 12)       # coincident σ: ½ log L
    0.34657359028
    """
    W = _matrix(W)
    if W.shape[0] != W.shape[1]:
        raise BiasflowError(f"the orbit entropy is defined for square W (got {W.shape[0]}×{W.shape[1]})")
    Lf = _depth(L)
    s = np.linalg.svd(W, compute_uv=False)
    base = _log_orbit_ratio(s, Lf)
    if Lf is None or not constant:
        return float(base)
    return float(base + (Lf - 1) * orthogonal_group_volume(W.shape[0]))


def balanced_factors(W, L: int) -> list[np.ndarray]:
    """The balanced factorization W_p = Q_p Σ^{1/L} Q_{p−1}ᵀ with Q_L = U, Q_0 = V, Q_p = U otherwise
    (so W_L⋯W₁ = W and W_{p+1}ᵀW_{p+1} = W_pW_pᵀ), for square W; ``[W₁, …, W_L]``."""
    W = _matrix(W)
    if W.shape[0] != W.shape[1]:
        raise BiasflowError("balanced_factors needs a square W")
    U, s, Vt = np.linalg.svd(W)
    root = np.diag(s ** (1.0 / L))
    facs = [U @ root @ Vt] + [U @ root @ U.T for _ in range(L - 1)]
    return facs


def orbit_gram_log_volume(factors, *, orthonormal: bool = True) -> float:
    """½ log det of the Gram matrix of the O_d^{L−1} orbit's tangent vectors at ``factors`` [W₁, …, W_L].

    The tangent vector of the gauge Ω_p (skew, p = 1, …, L−1) is δW_p = Ω_p W_p, δW_{p+1} = −W_{p+1}Ω_p;
    the Gram matrix is taken in the Frobenius metric of (W₁, …, W_L), over the basis E_ij − E_ji (i < j) of
    the skew matrices, normalized to Frobenius norm 1 when ``orthonormal``. An independent, assembled path
    to :func:`orbit_entropy`: vol(O_W) = c_d^{L−1}·exp(this) at a balanced point.
    """
    facs = [np.asarray(f, dtype=np.float64) for f in factors]
    L = len(facs)
    d = facs[0].shape[0]
    if L < 2:
        return 0.0
    basis = []
    for i in range(d):
        for j in range(i + 1, d):
            E = np.zeros((d, d))
            E[i, j], E[j, i] = 1.0, -1.0
            basis.append(E / math.sqrt(2.0) if orthonormal else E)
    vecs = []
    for p in range(L - 1):  # gauge between factor p (0-based, W_{p+1}) and p + 1
        for Om in basis:
            v = [np.zeros_like(f) for f in facs]
            v[p] = Om @ facs[p]
            v[p + 1] = -facs[p + 1] @ Om
            vecs.append(np.concatenate([x.ravel() for x in v]))
    V = np.array(vecs)
    sign, logdet = np.linalg.slogdet(V @ V.T)
    if sign <= 0:
        return -math.inf
    return 0.5 * float(logdet)


def summary(W, L) -> dict:
    """The geometry fields recorded at each checkpoint of a matrix run, from one SVD of W.

    ``log_volume`` (:func:`log_volume_density`), ``entropy`` (:func:`orbit_entropy`; None for rectangular
    W), ``effective_rank``, ``nuclear_norm`` and ``singular_values`` (decreasing).
    """
    W = _matrix(W)
    Lf = _depth(L)
    m, k = W.shape
    s = np.linalg.svd(W, compute_uv=False)
    with np.errstate(divide="ignore"):
        ls = np.log(s)
    lm = np.full(m, -np.inf)
    lk = np.full(k, -np.inf)
    lm[: s.size] = ls
    lk[: s.size] = ls
    log_volume = float(-0.5 * np.sum(_log_pair_mean(lm[:, None], lk[None, :], Lf))) + 0.0
    ent = None
    if m == k:
        ent = _log_orbit_ratio(s, Lf)
        if Lf is not None:
            ent += (Lf - 1) * orthogonal_group_volume(m)
    tot = float(np.sum(s))
    p = s[s > 0] / tot if tot > 0 else np.zeros(0)
    return {
        "log_volume": log_volume,
        "entropy": float(ent) if ent is not None else None,
        "effective_rank": float(np.exp(-np.sum(p * np.log(p)))) if tot > 0 else 0.0,
        "nuclear_norm": tot,
        "singular_values": s.tolist(),
    }
