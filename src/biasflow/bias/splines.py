"""The infinite-width bias of a wide shallow network: curvature-weighted splines (Jin & Montúfar 2023).

For f(x) = Σ_k a_k σ(w_k·x + b_k) + c in the standard parametrization, gradient flow of the square loss is
lazy as N → ∞ and ends at f₀ + h*, where h* is the minimum-norm interpolant of the residual r = y − f₀(X)
in the RKHS of the per-unit kernel K(x, x') = E_{w,b}[σ(w·x + b)σ(w·x' + b)]. For a law symmetric under
(w, b) → (−w, −b) in one dimension this norm is explicit (our derivation; it replaces the "adjusted data"
device of the paper):

    σ = relu:  ‖h‖²_K = ∫ h''(s)²/ζ(s) ds + 4 (u, v) G⁻¹ (u, v)ᵀ,   h(x) = ½∫ h''(s)|x − s| ds + u x + v,
    σ = abs:   ‖h‖²_K = ∫ h''(s)²/(4ζ(s)) ds                       (no free affine part),

with ζ(s) = ∫|w|³ p(w, −ws) dw (:meth:`InitLaw.zeta`) and G = E[(w, b)(w, b)ᵀ]. Equivalently
K_relu = ¼∫ζ(s)|x − s||x' − s| ds + ¼(x, 1)G(x', 1)ᵀ and K_abs = 4K_relu − (x, 1)G(x', 1)ᵀ. So h* is a
cubic spline between the data whose end curvature is set by the affine penalty: it is the natural cubic
spline only when the affine part is free (``skip=True``) or negligible (biases spread wide).

Two independent paths compute h*:

- :func:`predict_function` (the reference): the kernel solve with closed-form kernels (piecewise-polynomial
  integrals of ζ for the uniform laws, the degree-1 arc-cosine kernel for the Gaussian law, and for d > 1
  with unit-norm w and b ~ U[−a, a]: K = a²/6 + x·x'/(2d) + c_d|x − x'|³/(24a), c_d = E|w·e|³);
- :func:`discretized_function`: the variational problem itself, h'' piecewise constant on cells (a sinh
  grid out to R for heavy-tailed ζ), one KKT solve.

The trajectory of output-layer gradient flow is a family of smoothing splines: with the per-unit Gram
matrix K_X, the limit net at time T (= N × the net's own time) is h_T = K(·, X) K_X⁻¹(I − e^{−T K_X/n}) r,
i.e. argmin ‖h‖²_K + (r − h_X)ᵀ W_T (r − h_X) with W_T = K_X⁻¹(e^{T K_X/n} − I), evaluated spectrally.

>>> import numpy as np
>>> x = np.array([-1, -.6, -.1, .3, .7, 1.]); y = np.array([.2, -.5, .4, .9, -.3, .5])
>>> p = predict_function(x[:, None], y, "pm1-uniform:a=100", grid=np.linspace(-1, 1, 201)[:, None])
>>> p.status, bool(np.max(np.abs(p.f - natural_spline(x, y, p.x[:, 0]))) < 5e-5)
('ok', True)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.linalg

from ..errors import BiasflowError
from ..models.shallow import InitLaw, sphere_abs_moment

_ACTS = ("relu", "abs")


# --------------------------------------------------------------------------------------------- kernels

def _zeta_pieces(law: InitLaw) -> list[tuple[float, float, float, int]]:
    """ζ as pieces (lo, hi, coefficient, power m): ζ(s) = coef·s^m on [lo, hi] (uniform laws only)."""
    if law.kind == "pm1-uniform":
        return [(-law.a, law.a, 1.0 / (2 * law.a), 0)]
    if law.kind == "uniform":
        r = law.ab / law.aw
        tail = law.ab ** 3 / (8 * law.aw)
        return [(-math.inf, -r, tail, -4), (-r, r, law.aw ** 3 / (8 * law.ab), 0), (r, math.inf, tail, -4)]
    raise BiasflowError(f"no piecewise-power form of ζ for the {law.kind} law")


def zeta_abs_integral(law: InitLaw, x1, x2) -> np.ndarray:
    """I(x, x') = ∫ ζ(s)|x − s||x' − s| ds for all pairs (1-D points), exactly, for the uniform laws.

    |x − s||x' − s| = ±(s − x)(s − x') on the pieces cut at x, x' (+ outside [x, x'], − inside), so each
    piece of ζ = coef·s^m contributes coef·[−F(c₀) + 2F(c₁) − 2F(c₂) + F(c₃)] with F the antiderivative and
    c₀ ≤ c₁ ≤ c₂ ≤ c₃ the piece's ends and the two points clipped to it (an empty sub-interval adds 0).
    """
    x1 = np.asarray(x1, float).reshape(-1)[:, None]
    x2 = np.asarray(x2, float).reshape(-1)[None, :]
    lo_x, hi_x = np.minimum(x1, x2), np.maximum(x1, x2)
    pq, sm = x1 * x2, x1 + x2
    total = np.zeros(np.broadcast_shapes(x1.shape, x2.shape))
    for lo, hi, coef, m in _zeta_pieces(law):
        c1, c2 = np.clip(lo_x, lo, hi), np.clip(hi_x, lo, hi)
        F = (lambda s, m=m: _antider_pq(s, m, sm, pq))
        total += coef * (-F(lo) + 2 * F(c1) - 2 * F(c2) + F(hi))
    return total


def _antider_pq(s, m, sm, pq):
    """:func:`_antider` with p + q and pq precomputed; s may be a scalar end (±inf allowed for m = −4)."""
    if m == 0:
        return s * (s * s / 3 - sm * s / 2 + pq)
    if np.isscalar(s):
        if math.isinf(s):
            return 0.0
        t = 1.0 / s
        return t * (-1.0 + t * (sm / 2 - t * (pq / 3)))
    t = 1.0 / s
    return t * (-1.0 + t * (sm / 2 - t * (pq / 3)))


def _arccos_relu(U1, U2):
    """E[(uᵀz)₊(u'ᵀz)₊], z ~ N(0, I): ‖u‖‖u'‖(sin θ + (π − θ)cos θ)/(2π) (Cho & Saul 2009)."""
    n1 = np.linalg.norm(U1, axis=1)[:, None]
    n2 = np.linalg.norm(U2, axis=1)[None, :]
    dot = U1 @ U2.T
    cos = np.clip(dot / np.maximum(n1 * n2, 1e-300), -1.0, 1.0)
    theta = np.arccos(cos)
    return n1 * n2 * (np.sqrt(np.maximum(1 - cos * cos, 0.0)) + (np.pi - theta) * cos) / (2 * np.pi)


def _affine_gram(law: InitLaw, X1, X2) -> np.ndarray:
    """E[(w·x + b)(w·x' + b)] = (x, 1) G (x', 1)ᵀ."""
    d = X1.shape[1]
    G = law.second_moment(d)
    P1 = np.hstack([X1, np.ones((X1.shape[0], 1))])
    P2 = np.hstack([X2, np.ones((X2.shape[0], 1))])
    return P1 @ G @ P2.T


def kernel(law, X1, X2=None, activation: str = "relu") -> np.ndarray:
    """The per-unit kernel K(x, x') = E_{w,b}[σ(w·x + b)σ(w·x' + b)] in closed form, for all pairs.

    Args:
        law: an :class:`InitLaw` or its string (``pm1-uniform:a=2`` ...).
        X1, X2: (n1, d), (n2, d) points (X2 defaults to X1).
        activation: ``relu`` or ``abs``.

    >>> import numpy as np
    >>> X = np.array([[-0.5], [0.25], [1.0]])
    >>> K = kernel("pm1-uniform:a=2", X)
    >>> closed = 4 / 6 + X @ X.T / 2 + np.abs(X - X.T) ** 3 / 48    # a²/6 + xx'/2 + |x − x'|³/(24a)
    >>> float(np.max(np.abs(K - closed))) < 1e-13
    True
    """
    law = InitLaw.parse(law)
    if activation not in _ACTS:
        raise BiasflowError(f"unknown activation {activation!r}; use relu or abs")
    X1 = _as_points(X1, "points")
    X2 = X1 if X2 is None else _as_points(X2, "points")
    d = X1.shape[1]
    if X2.shape[1] != d:
        raise BiasflowError(f"points of dimension {X2.shape[1]} against points of dimension {d}")
    affine = _affine_gram(law, X1, X2)
    if law.kind == "gaussian":
        U1 = np.hstack([law.sw * X1, np.full((X1.shape[0], 1), law.sb)])
        U2 = np.hstack([law.sw * X2, np.full((X2.shape[0], 1), law.sb)])
        relu = _arccos_relu(U1, U2)
    elif d == 1:
        relu = 0.25 * zeta_abs_integral(law, X1[:, 0], X2[:, 0]) + 0.25 * affine
    elif law.kind == "pm1-uniform":
        rmax = max(np.max(np.linalg.norm(X1, axis=1)), np.max(np.linalg.norm(X2, axis=1)))
        if rmax > law.a:
            raise BiasflowError(f"the closed-form kernel of unit-norm w and b ~ U[−{law.a:g}, {law.a:g}] in d = {d} "
                                f"needs ‖x‖ ≤ {law.a:g} (a point has ‖x‖ = {rmax:.4g}); widen the law's a")
        dist = np.linalg.norm(X1[:, None, :] - X2[None, :, :], axis=2)
        relu = law.a ** 2 / 6 + (X1 @ X2.T) / (2 * d) + sphere_abs_moment(d) * dist ** 3 / (24 * law.a)
    else:
        raise BiasflowError(f"no closed-form kernel for the {law.kind} law in d = {d}; use pm1-uniform (unit-norm "
                            f"w) or gaussian for d > 1")
    return relu if activation == "relu" else 4.0 * relu - affine


# --------------------------------------------------------------------------------------------- results

@dataclasses.dataclass
class SplinePrediction:
    """The predicted function on evaluation points, with its certificate.

    Attributes:
        x: (m, d) evaluation points; f: predicted f₀ + h on them.
        coef: λ with h = K(·, X)λ (+ affine); affine: (u, v) of the free affine part (skip) or None.
        residual: max_i |h(x_i) − r_i| at T = ∞ (the interpolation certificate), or at finite T the
            residual of the smoothing-spline optimality condition.
        norm2: ‖h‖²_K.
        zeta: ζ on the evaluation points (1-D), else None.
        status: ``ok`` or ``ill_conditioned`` (residual above 1e-6 of the data scale).
    """

    x: np.ndarray
    f: np.ndarray
    coef: np.ndarray
    affine: np.ndarray | None
    residual: float
    norm2: float
    zeta: np.ndarray | None
    status: str = "ok"
    time: float = math.inf

    def to_json(self) -> dict:
        out = {"status": self.status, "function": {"x": _listify(self.x), "f": self.f.tolist()},
               "residual": float(self.residual), "norm2_K": float(self.norm2), "time": _finite_or_str(self.time)}
        if self.zeta is not None:
            out["zeta"] = self.zeta.tolist()
        if self.affine is not None:
            out["affine"] = self.affine.tolist()
        return out


def _finite_or_str(t):
    return float(t) if math.isfinite(t) else "inf"


def _listify(x):
    return x[:, 0].tolist() if x.ndim == 2 and x.shape[1] == 1 else x.tolist()


def _as_points(X, what: str) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise BiasflowError(f"{what} must be a non-empty (n, d) array (got shape {X.shape})")
    if not np.all(np.isfinite(X)):
        raise BiasflowError(f"{what} contain NaN or inf; remove them")
    return X


def _f0_values(f0, X):
    if f0 is None:
        return np.zeros(X.shape[0])
    v = np.asarray(f0(X) if callable(f0) else f0, float).reshape(-1)
    if v.shape[0] != X.shape[0]:
        raise BiasflowError(f"f0 gives {v.shape[0]} values for {X.shape[0]} points")
    return v


# --------------------------------------------------------------------------------------------- kernel path

def predict_function(X, y, law="pm1-uniform:a=2", *, grid=None, activation: str = "relu", skip: bool = False,
                     time: float = math.inf, f0=None) -> SplinePrediction:
    """The infinite-width prediction f₀ + h* on ``grid`` by the closed-form kernel (the reference path).

    Args:
        X, y: data (n, d) and targets (n,); law: the init law; activation: relu | abs.
        grid: (m, d) evaluation points (default: the data).
        skip: a free (unpenalized) affine part uᵀx + v, as with a skip connection.
        time: T = ∞ for the interpolant, finite T > 0 for the smoothing-spline point of output-layer flow
            at net time T/N (not with ``skip``).
        f0: the initial function (callable on points, or its values on ``X`` stacked over ``grid``);
            None means f₀ ≡ 0 (asymmetric initialization).
    """
    X = _as_points(X, "data inputs")
    y = np.asarray(y, float).reshape(-1)
    if y.shape[0] != X.shape[0] or not np.all(np.isfinite(y)):
        raise BiasflowError(f"targets must be {X.shape[0]} finite numbers (got shape {y.shape})")
    G_ = X if grid is None else _as_points(grid, "evaluation points")
    if G_.shape[1] != X.shape[1]:
        raise BiasflowError(f"evaluation points have dimension {G_.shape[1]} but the data have d = {X.shape[1]}")
    if not (time > 0):
        raise BiasflowError(f"time must be > 0 (got {time!r})")
    law = InitLaw.parse(law)
    n, d = X.shape
    if callable(f0) or f0 is None:
        r = y - _f0_values(f0, X)
        f0g = _f0_values(f0, G_)
    else:
        v = np.asarray(f0, float).reshape(-1)
        r, f0g = y - v[:n], v[n:]
    with _one_blas_thread():
        return _predict_kernel(law, X, r, G_, f0g, activation, skip, time)


def _one_blas_thread():
    """BLAS limited to one thread: the n×n factorizations here (n ≤ a few thousand data points) gain
    nothing from threads, and threaded OpenBLAS on a busy 2-core machine made the kernel path at n = 200
    with a 2000-point grid 3–6× slower (0.12–0.29 s against 0.04–0.05 s in one thread)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _predict_kernel(law, X, r, G_, f0g, activation, skip, time) -> SplinePrediction:
    """The linear algebra of :func:`predict_function` (inputs already checked)."""
    n, d = X.shape
    KX = kernel(law, X, activation=activation)
    Kg = kernel(law, G_, X, activation=activation)
    scale = max(1.0, float(np.max(np.abs(r))))
    affine = None
    if math.isfinite(time):
        if skip:
            raise BiasflowError("--at-time with --skip is not defined in the limit (the skip trains infinitely "
                                "fast); drop one of them")
        lam, V = np.linalg.eigh(KX)
        lam = np.maximum(lam, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(lam > 0, -np.expm1(-time * lam / n) / lam, time / n)
        coef = V @ (gain * (V.T @ r))
        # optimality of argmin ‖h‖² + (r − h_X)ᵀW_T(r − h_X): W_T (r − K_X λ) = λ, i.e. (r − K_Xλ) = W_T⁻¹λ
        xs = time * lam / n
        with np.errstate(divide="ignore", invalid="ignore"):
            winv = np.where(lam > 0, lam * np.exp(-xs) / -np.expm1(-xs), n / time)   # λ/(e^x − 1), no overflow
        resid = float(np.max(np.abs((r - KX @ coef) - V @ (winv * (V.T @ coef))))) if n else 0.0
        h = Kg @ coef
    elif skip:
        P = np.hstack([X, np.ones((n, 1))])
        A = np.block([[KX, P], [P.T, np.zeros((d + 1, d + 1))]])
        try:
            sol = scipy.linalg.solve(A, np.r_[r, np.zeros(d + 1)], assume_a="sym")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning) as e:
            raise BiasflowError(f"the interpolation system with a free affine part is singular ({e}); "
                                f"it needs at least {d + 1} data points in general position") from None
        coef, affine = sol[:n], sol[n:]
        resid = float(np.max(np.abs(KX @ coef + P @ affine - r)))
        Pg = np.hstack([G_, np.ones((G_.shape[0], 1))])
        h = Kg @ coef + Pg @ affine
    else:
        coef = _solve_psd(KX, r)
        resid = float(np.max(np.abs(KX @ coef - r)))
        h = Kg @ coef
    norm2 = float(coef @ KX @ coef)
    zeta = law.zeta(G_[:, 0]) if d == 1 else None
    status = "ok" if resid <= 1e-6 * scale else "ill_conditioned"
    return SplinePrediction(x=G_, f=f0g + h, coef=coef, affine=affine, residual=resid, norm2=norm2, zeta=zeta,
                            status=status, time=float(time))


def _solve_psd(K, r):
    """Solve Kλ = r for a symmetric positive (semi)definite K; one step of iterative refinement."""
    try:
        c = scipy.linalg.cho_factor(K)
        lam = scipy.linalg.cho_solve(c, r)
        lam += scipy.linalg.cho_solve(c, r - K @ lam)
        return lam
    except np.linalg.LinAlgError:
        lam, *_ = np.linalg.lstsq(K, r, rcond=None)
        return lam


# --------------------------------------------------------------------------------------------- discretized path

def _cells(law: InitLaw, xs: np.ndarray, cells: int, R: float) -> np.ndarray:
    """Cell edges for h'': uniform on the support of ζ when it is compact, else a sinh grid on [−R, R]
    (fine near the data and the kink region, geometric far out), with the edges ±ab/aw of the uniform law."""
    if law.kind == "pm1-uniform":
        return np.linspace(-law.a, law.a, cells + 1)
    core = max(1.0, float(np.max(np.abs(xs))) if xs.size else 1.0)
    if law.kind == "uniform":
        core = max(core, law.ab / law.aw)
    else:
        core = max(core, law.sb / law.sw)
    c = core / 4
    u = np.linspace(-np.arcsinh(R / c), np.arcsinh(R / c), cells + 1)
    edges = c * np.sinh(u)
    if law.kind == "uniform":
        r = law.ab / law.aw
        edges = np.unique(np.r_[edges, -r, r])
    return edges


def _cell_abs_integral(x, lo, hi):
    """∫_lo^hi |x − s| ds for all (x, cell) pairs."""
    x = x[:, None]
    lo, hi = lo[None, :], hi[None, :]

    def F(s):   # antiderivative of |x − s| in s
        t = s - x
        return 0.5 * t * np.abs(t)

    return F(hi) - F(lo)


def discretized_function(X, y, law="pm1-uniform:a=2", *, grid=None, activation: str = "relu",
                         skip: bool = False, cells: int = 8000, R: float = 1e4, f0=None) -> SplinePrediction:
    """The same prediction from the variational problem itself (1-D): h'' piecewise constant on cells.

    min Σ_j g_j² ∫_cell 1/ζ (+ 4(u, v)G⁻¹(u, v)ᵀ for relu) subject to h(x_i) = r_i, with
    h(x) = c_σ Σ_j g_j ∫_cell |x − s| ds (+ u x + v), c_relu = ½, c_abs = 1 (the abs norm is ∫h''²/(4ζ), i.e.
    ∫g²/ζ in g = h''/2). Cell integrals of |x − s| are exact; ∫1/ζ per cell by 3-point Gauss–Legendre, exact
    because 1/ζ is a polynomial of degree ≤ 4 on every cell. One KKT solve on the n data rows. Heavy-tailed
    ζ (Gaussian, uniform-w tails) is truncated to [−R, R], which costs O(1/R).
    """
    X = _as_points(X, "data inputs")
    if X.shape[1] != 1:
        raise BiasflowError("the discretized program is one-dimensional; use predict_function for d > 1")
    law = InitLaw.parse(law)
    if activation not in _ACTS:
        raise BiasflowError(f"unknown activation {activation!r}; use relu or abs")
    y = np.asarray(y, float).reshape(-1)
    G_ = X if grid is None else _as_points(grid, "evaluation points")
    x, xg = X[:, 0], G_[:, 0]
    r = y - _f0_values(f0, X)
    edges = _cells(law, x, int(cells), float(R))
    lo, hi = edges[:-1], edges[1:]
    nodes, weights = np.polynomial.legendre.leggauss(3)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    pts = mid[:, None] + half[:, None] * nodes[None, :]
    invz = np.sum(weights[None, :] / law.zeta(pts), axis=1) * half          # ∫_cell 1/ζ
    cs = 0.5 if activation == "relu" else 1.0
    B = cs * _cell_abs_integral(x, lo, hi)
    M = (B / invz) @ B.T
    n = x.size
    C = np.stack([x, np.ones(n)], axis=1)
    penalized_affine = activation == "relu" and not skip
    if penalized_affine:
        Gm = law.second_moment(1)
        M = M + C @ (Gm / 4) @ C.T            # (4G⁻¹)⁻¹ = G/4
    if skip:
        A = np.block([[M, C], [C.T, np.zeros((2, 2))]])
        sol = scipy.linalg.solve(A, np.r_[r, 0.0, 0.0], assume_a="sym")
        lam, theta = sol[:n], sol[n:]
    else:
        lam = _solve_psd(M, r)
        theta = (law.second_moment(1) / 4) @ C.T @ lam if penalized_affine else np.zeros(2)
    g = (B.T @ lam) / invz
    Bg = cs * _cell_abs_integral(xg, lo, hi)
    h = Bg @ g + theta[0] * xg + theta[1]
    hX = B @ g + C @ theta
    norm2 = float(np.sum(g * g * invz) + (4 * theta @ np.linalg.solve(law.second_moment(1), theta)
                                          if penalized_affine else 0.0))
    resid = float(np.max(np.abs(hX - r)))
    return SplinePrediction(x=G_, f=_f0_values(f0, G_) + h, coef=lam, affine=theta if skip else None,
                            residual=resid, norm2=norm2, zeta=law.zeta(xg), status="ok")


# --------------------------------------------------------------------------------------------- limits

def natural_spline(x, y, at) -> np.ndarray:
    """The natural cubic spline through (x, y) (SciPy ``CubicSpline(bc_type="natural")``) at ``at``; outside
    the data it continues linearly (its second derivative is 0 there), not as the end cubics.

    >>> bool(abs(natural_spline([0, 1, 2], [0, 1, 0], [3.0])[0] - (-1.5)) < 1e-12)
    True
    """
    from scipy.interpolate import CubicSpline

    x = np.asarray(x, float).reshape(-1)
    order = np.argsort(x)
    cs = CubicSpline(x[order], np.asarray(y, float).reshape(-1)[order], bc_type="natural")
    at = np.asarray(at, float)
    lo, hi = x[order][0], x[order][-1]
    inside = cs(np.clip(at, lo, hi))
    d1 = cs.derivative()
    return np.where(at < lo, cs(lo) + d1(lo) * (at - lo), np.where(at > hi, cs(hi) + d1(hi) * (at - hi), inside))


def polyharmonic_r3(X, y, at) -> np.ndarray:
    """The r³ polyharmonic interpolant Σ_j λ_j‖x − x_j‖³ + uᵀx + v with Σλ_j = 0 and Σλ_j x_j = 0
    (one (n + d + 1) saddle solve); in 1-D it is the natural cubic spline."""
    X = _as_points(X, "data inputs")
    Q = _as_points(at, "evaluation points")
    n, d = X.shape
    D = np.linalg.norm(X[:, None] - X[None], axis=2) ** 3
    P = np.hstack([X, np.ones((n, 1))])
    A = np.block([[D, P], [P.T, np.zeros((d + 1, d + 1))]])
    sol = scipy.linalg.solve(A, np.r_[np.asarray(y, float).reshape(-1), np.zeros(d + 1)])
    Dq = np.linalg.norm(Q[:, None] - X[None], axis=2) ** 3
    return Dq @ sol[:n] + np.hstack([Q, np.ones((Q.shape[0], 1))]) @ sol[n:]


def hull_grid(x, num: int = 2001) -> np.ndarray:
    """An evenly spaced grid on [min x, max x] (1-D data hull)."""
    x = np.asarray(x, float).reshape(-1)
    return np.linspace(x.min(), x.max(), num)


__all__ = ["SplinePrediction", "discretized_function", "hull_grid", "kernel", "natural_spline", "predict_for_model",
           "polyharmonic_r3", "predict_function", "zeta_abs_integral"]


def predict_for_model(model, data, points=None, *, time: float = math.inf, potential: str | None = None,
                      scale: str = "unscaled", width: int = 4000, seed: int = 0) -> dict:
    """The predicted function of a wide shallow model (capabilities ``law``, ``activation``, ``skip``) on
    ``points``, as a JSON-ready dict with its certificate.

    The prediction starts from the model's own initial function f₀ (identically 0 with ``asymmetric``):
    f₀ + h*, h* the minimum-‖·‖_K interpolant of y − f₀(X) (or its time-T smoothing spline). With a
    ``potential`` (cubic, quartic; mirror flow of the output layer) it solves the dual program on a
    ``width``-unit quadrature of the law instead (f₀ ≡ 0: output layer started at 0). In 1-D it reports
    ζ on the points and the sup distance to the natural cubic spline on the data hull.
    """
    import jax

    from .. import _jax  # noqa: F401

    X = np.asarray(data.X, float)
    y = np.asarray(data.y, float)
    P = X if points is None else np.asarray(points, float)
    if potential not in (None, "quadratic"):
        from .mirror_bias import predict_mirror

        if math.isfinite(time):
            raise BiasflowError("--at-time is for gradient flow; drop it with --potential")
        if getattr(model, "skip", False):
            raise BiasflowError("--potential with --skip is not supported; drop one of them")
        out = predict_mirror(X, y, model.law, grid=P, activation=model.activation, potential=potential,
                             scale=scale, width=int(getattr(model, "width", width)), seed=seed)
        f = np.asarray(out.pop("f"))
        out.pop("delta")
        res = {k: v for k, v in out.items()}
    else:
        p0 = model.init(jax.random.PRNGKey(int(seed)))
        f0 = np.concatenate([model.evaluate(p0, X), model.evaluate(p0, P)])
        pred = predict_function(X, y, model.law, grid=P, activation=model.activation,
                                skip=bool(getattr(model, "skip", False)), time=time, f0=f0)
        res = pred.to_json()
        res["interpolation_residual"] = res.pop("residual")
        f = pred.f
    if X.shape[1] == 1:
        inside = (P[:, 0] >= X.min()) & (P[:, 0] <= X.max())
        if np.any(inside):
            res["sup_to_natural_spline"] = float(np.max(np.abs(f[inside] - natural_spline(X[:, 0], y, P[inside, 0]))))
    res["law"] = model.law.spec()
    return res
