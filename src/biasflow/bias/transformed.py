"""Implicit bias of linear tensor networks in their transformed space (Yun, Krishnan, Mobahi 2021).

docs/theory/tensor.md §4. A linear tensor network is *orthogonally decomposable* (ODec) when

    M(x) = Σ_t [Sx]_t (U_1e_t) ⊗ ⋯ ⊗ (U_Le_t),    U_l with orthonormal (unitary) columns,

and then, with a_l = U_lᵀv_l and ρ = a_1 ⊙ ⋯ ⊙ a_L, the network is an untied diagonal network on the
transformed data Z = XSᵀ: f(x) = (Sx)ᵀρ. Gradient flow on separable data (exp or logistic loss) then
converges in direction to a stationary point of

    min ‖ρ‖_{2/L}  subject to  y_i (Sx_i)ᵀρ ≥ 1,

which is the ℓ_{2/L} max-margin on β for diagonal networks (S = I) and on the DFT of β for full-length
circular convolutions (S = F, the DFT; Gunasekar et al. 2018b). L = 2 gives a convex problem (ℓ1 max-margin;
the Fourier-ℓ1 max-margin, an SOCP solved here with cvxpy + Clarabel); L ≥ 3 only stationarity, certified
by the KKT residual of docs/theory/tensor.md §4.5. Fully connected networks are not ODec; their limit is the ℓ2 SVM
(Ji & Telgarsky 2019a). For networks that are neither, :func:`parameter_kkt` checks the KKT system of
min Σ‖v_l‖² s.t. margins ≥ 1 in parameter space and :func:`alignment` reports singular-vector alignment.

Main entry points:

- :func:`decompose` — is a model ODec, with which transform, or why not;
- :func:`fourier_l1_max_margin` — the SOCP min Σ_k |DFT(β)_k| s.t. X̃β ≥ 1, with a dual certificate;
- :func:`transformed_kkt` — the ℓ_{2/L} KKT residual in the identity or Fourier space;
- :func:`fourier_l2L_candidate` — best-effort stationary point for L ≥ 3 (reweighted Fourier-ℓ1);
- :func:`predict_classification` — routes a model to its predicted bias (FC → ℓ2 SVM, diagonal → ℓ_{2/L},
  full conv → Fourier ℓ_{2/L}) and refuses, with a clear message, when asked for a decomposable-only
  prediction on a non-ODec network;
- :func:`predict_regression` — the interpolants of docs/theory/tensor.md §4.4 where a closed form exists.

>>> from biasflow.models import Conv, Dense
>>> decompose(Conv(d=8, depth=2)).kind
'fourier'
>>> decompose(Dense(d=4, depth=2, width=3)).decomposable
False
"""

from __future__ import annotations

import dataclasses
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
from ..models.decomposition import FC_REASON as _FC_REASON  # noqa: F401
from ..models.decomposition import Decomposition
from .interpolate import min_l2_interpolant  # noqa: F401  (the FC small-init regression limit, docs/theory/tensor.md §4.4)

# ---------------------------------------------------------------------------------------- decomposition


def decompose(model, *, tol: float = 1e-10) -> Decomposition:
    """Orthogonal decomposability of a model (docs/theory/tensor.md §4.2), or why it fails: ``model.decomposition()``.

    Diagonal networks are ODec with S = I, full-length circular convolutions with S = DFT; fully
    connected nets (depth ≥ 2) and convolutions with a filter shorter than d are not. A general
    :class:`~biasflow.models.TensorNetwork` built from a dense tensor is tested numerically: in the
    identity, Fourier and layer-Gram eigenbases, the transformed tensor must be supported on a matching
    (every layer index used by exactly one rank-one term).
    """
    if not callable(getattr(model, "decomposition", None)):
        name = type(model).__name__
        raise BiasflowError(
            f"cannot test orthogonal decomposability of a {name}; it applies to diagonal, dense, "
            "conv and tensor models"
        )
    return model.decomposition()


# ------------------------------------------------------------------------------ Fourier-ℓ1 max-margin


@dataclasses.dataclass(frozen=True, eq=False)
class FourierMarginResult:
    """The Fourier-ℓ1 max-margin predictor with its dual certificate.

    γ* = max_{‖Fβ‖₁ ≤ 1} min_i (X̃β)_i = min_{λ∈Δ} ‖F X̃ᵀλ‖_∞ / d, F the unnormalized DFT. ``margin`` is the
    lower bound (the exact normalized margin of ``predictor``, which has ‖Fβ‖₁ = 1), ``upper`` the dual bound.
    """

    margin: float
    predictor: np.ndarray
    dual: np.ndarray
    upper: float
    solver: str = "clarabel"
    status: str = "ok"
    seconds: float = 0.0

    @property
    def rel_gap(self) -> float:
        return float((self.upper - self.margin) / abs(self.upper))

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "norm": "fourier-l1",
            "margin": self.margin,
            "predictor": np.asarray(self.predictor).tolist(),
            "certificate": {
                "dual": np.asarray(self.dual).tolist(),
                "upper_bound": self.upper,
                "relative_gap": self.rel_gap,
                "statement": "margin ≤ γ* ≤ ‖fft(Σ_i λ_i y_i x_i)‖_∞/d = upper_bound, λ ≥ 0, Σλ = 1",
            },
            "solver": self.solver,
            "seconds": self.seconds,
        }


def fourier_l1(beta) -> float:
    """‖fft(β)‖₁ = Σ_k |Σ_j β_j e^{−2πijk/d}| (unnormalized DFT, all d frequencies).

    >>> round(fourier_l1([1.0, 0.0, 0.0, 0.0]), 12)     # δ has a flat spectrum
    4.0
    """
    return float(np.abs(np.fft.fft(np.asarray(beta, dtype=float))).sum())


def fourier_lp(beta, p: float) -> float:
    """‖fft(β)‖_p over complex moduli (a quasi-norm for p < 1)."""
    z = np.abs(np.fft.fft(np.asarray(beta, dtype=float)))
    m = z.max()
    return 0.0 if m == 0 else float(m * np.sum((z / m) ** p) ** (1.0 / p))


def _rfft_parts(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real and imaginary parts of the rfft matrix (K × d, K = ⌊d/2⌋ + 1) and the Hermitian multiplicities."""
    R = np.fft.rfft(np.eye(d), axis=0)
    K = R.shape[0]
    mult = np.full(K, 2.0)
    mult[0] = 1.0
    if d % 2 == 0:
        mult[-1] = 1.0
    return R.real, R.imag, mult


def _require_separable_classification(data: Dataset, what: str) -> None:
    if data.task != "classification":
        raise BiasflowError(f"{what} needs classification data (labels ±1); got a regression data set")


def fourier_l1_max_margin(data: Dataset, *, weights=None) -> FourierMarginResult:
    """Solve min Σ_k w_k |fft(β)_k| s.t. X̃β ≥ 1 as an SOCP (cvxpy + Clarabel), using Hermitian symmetry.

    For real β, fft(β)_{d−k} = conj(fft(β)_k), so only ⌊d/2⌋ + 1 cones are needed, with multiplicity 2
    for 0 < k < d/2. ``weights`` (length ⌊d/2⌋ + 1, > 0) gives a weighted version (used by the L ≥ 3
    reweighting); the certificate is then for the unweighted problem only when weights are None.

    >>> from biasflow.data import gaussian
    >>> r = fourier_l1_max_margin(gaussian(n=6, d=8, k=1, seed=0))
    >>> r.status, r.rel_gap < 1e-6, abs(fourier_l1(r.predictor) - 1) < 1e-9
    ('ok', True, True)
    """
    import time

    import cvxpy as cp

    _require_separable_classification(data, "the Fourier-ℓ1 max-margin")
    t0 = time.perf_counter()
    A, d = data.A, data.d
    Re, Im, mult = _rfft_parts(d)
    w = mult if weights is None else mult * np.asarray(weights, dtype=float)
    beta = cp.Variable(d)
    t = cp.Variable(Re.shape[0])
    cons = [cp.SOC(t, cp.vstack([Re @ beta, Im @ beta]), axis=0), A @ beta >= 1]
    prob = cp.Problem(cp.Minimize(w @ t), cons)
    try:
        prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9, max_iter=400)
    except cp.error.SolverError as e:
        raise BiasflowError(f"Clarabel failed on the Fourier-ℓ1 max-margin SOCP ({e})") from None
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        raise BiasflowError(
            f"{data.name}: the data are not linearly separable, so no max-margin predictor "
            "exists; check with biasflow.dynamics.separability.check"
        )
    if prob.status not in ("optimal", "optimal_inaccurate") or beta.value is None:
        raise BiasflowError(f"Clarabel returned status {prob.status!r} on the Fourier-ℓ1 SOCP")
    b = np.asarray(beta.value, dtype=float)
    b = b / fourier_l1(b)
    lam = np.maximum(np.asarray(cons[1].dual_value, dtype=float).ravel(), 0.0)
    lam = lam / lam.sum() if lam.sum() > 0 else np.full(data.n, 1.0 / data.n)
    upper = float(np.abs(np.fft.fft(A.T @ lam)).max() / d)
    margin = float(np.min(A @ b))
    return FourierMarginResult(
        margin=margin,
        predictor=b,
        dual=lam,
        upper=upper,
        status="ok" if prob.status == "optimal" else "inaccurate",
        seconds=time.perf_counter() - t0,
    )


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


# ---------------------------------------------------------------------------------- predictions


@dataclasses.dataclass(frozen=True, eq=False)
class TransformedPrediction:
    """A predicted implicit bias for a tensor network, with its certificate.

    Attributes:
        problem: what was solved (``l2-svm``, ``l1-max-margin``, ``l2/L-kkt``, ``fourier-l1-max-margin``,
            ``fourier-l2/L-kkt``, ``min-l2-interpolant``, ``yun-interpolant``).
        predictor: β* (classification: minimum margin 1; regression: interpolating).
        decomposition: the :class:`Decomposition` used.
        certificate: duality gap or KKT residual (a dict).
        message: how the prediction was chosen, and any caveat.
    """

    problem: str
    predictor: np.ndarray
    decomposition: Decomposition
    certificate: dict
    message: str = ""

    def to_json(self) -> dict:
        return {
            "problem": self.problem,
            "predictor": np.asarray(self.predictor).tolist(),
            "decomposable": self.decomposition.decomposable,
            "transform": self.decomposition.kind,
            "certificate": self.certificate,
            "message": self.message,
        }


def predict_classification(
    model, data: Dataset, *, require_decomposable: bool = False, candidate=None
) -> TransformedPrediction:
    """The predicted limit direction of gradient flow on separable data for a linear tensor network.

    - diagonal (S = I): ℓ1 max-margin for L = 2 (HiGHS LP, :func:`biasflow.bias.margins.max_margin`);
      for L ≥ 3 the ℓ_{2/L} KKT residual of ``candidate`` (e.g. the flow's final predictor), since the
      problem is non-convex and its stationary point depends on the trajectory;
    - full-length conv (S = DFT): the Fourier-ℓ1 SOCP for L = 2; for L ≥ 3 a reweighted best-effort
      stationary point, or the Fourier KKT residual of ``candidate`` when one is given;
    - fully connected: the ℓ2 SVM (Clarabel QP). With ``require_decomposable=True`` this raises instead,
      since the ODec theorem does not cover FC nets;
    - other non-ODec networks: with ``require_decomposable=True`` a :class:`BiasflowError` says which
      assumption fails; otherwise the ℓ2 SVM is returned only for FC, and for the rest an error points
      to :func:`parameter_kkt`.
    """
    from .margins import max_margin

    _require_separable_classification(data, "a classification bias prediction")
    dec = decompose(model)
    L = dec.depth
    is_fc = dec.fully_connected
    if not dec.decomposable:
        if require_decomposable:
            instead = (
                "the ℓ2 max-margin (FC limit) is available with require_decomposable=False"
                if is_fc
                else "use parameter_kkt(model, params, data) for the KKT system of min Σ‖v_l‖² s.t. "
                "margins ≥ 1"
            )
            raise BiasflowError(
                f"the transformed-space ℓ_{{2/L}} prediction needs an orthogonally decomposable "
                f"network, but {dec.reason}; {instead}"
            )
        if is_fc:
            r = max_margin(data, "l2")
            return TransformedPrediction(
                "l2-svm",
                r.predictor / r.margin,
                dec,
                {"relative_gap": r.rel_gap, "margin": r.margin},
                "fully connected: β/‖β‖ → ℓ2 max-margin (Ji & Telgarsky 2019a)",
            )
        raise BiasflowError(
            f"no closed prediction for this network: {dec.reason}; use parameter_kkt(model, "
            "params, data) on a trained network to check the parameter-space KKT system"
        )
    if dec.kind == "identity":
        if L <= 2:
            r = max_margin(data, "l1" if L == 2 else "l2")
            prob = "l1-max-margin" if L == 2 else "l2-svm"
            return TransformedPrediction(
                prob,
                r.predictor / r.margin,
                dec,
                {"relative_gap": r.rel_gap, "margin": r.margin},
                f"diagonal, L = {L}: the {'ℓ1' if L == 2 else 'ℓ2'} max-margin (global, convex)",
            )
        if candidate is None:
            from .kkt import lp_max_margin_best_effort

            r = lp_max_margin_best_effort(data, L)
            return TransformedPrediction(
                "l2/L-kkt",
                r.predictor / r.margin,
                dec,
                r.kkt.to_json(),
                f"diagonal, L = {L}: best-effort stationary point of min ‖β‖_{{2/{L}}} "
                "(reweighted ℓ1); the flow's limit may be another stationary point",
            )
        b = np.asarray(candidate, dtype=float)
        kkt = transformed_kkt(b, data, L, space="identity")
        return TransformedPrediction(
            "l2/L-kkt",
            b / float(np.min(data.A @ b)),
            dec,
            kkt,
            f"diagonal, L = {L}: stationary point of min ‖β‖_{{2/{L}}} (KKT residual)",
        )
    if dec.kind == "fourier":
        if L == 1:
            r = max_margin(data, "l2")
            return TransformedPrediction(
                "l2-svm",
                r.predictor / r.margin,
                dec,
                {"relative_gap": r.rel_gap},
                "a one-layer conv is linear: ℓ2 max-margin",
            )
        if L == 2:
            r = fourier_l1_max_margin(data)
            return TransformedPrediction(
                "fourier-l1-max-margin",
                r.predictor / r.margin,
                dec,
                {"relative_gap": r.rel_gap, "margin": r.margin, "upper": r.upper},
                "full-length conv, L = 2: the Fourier-ℓ1 max-margin (convex, SOCP)",
            )
        if candidate is not None:
            b = np.asarray(candidate, dtype=float)
            kkt = transformed_kkt(b, data, L, space="fourier")
            return TransformedPrediction(
                "fourier-l2/L-kkt",
                b / float(np.min(data.A @ b)),
                dec,
                kkt,
                f"full-length conv, L = {L}: stationarity of min ‖DFT β‖_{{2/{L}}}",
            )
        c = fourier_l2L_candidate(data, L)
        return TransformedPrediction(
            "fourier-l2/L-kkt",
            c["predictor"],
            dec,
            c["kkt"],
            f"full-length conv, L = {L}: best-effort stationary point (reweighted "
            "Fourier-ℓ1); the flow's limit may be another stationary point",
        )
    if dec.kind == "tensor" and not np.iscomplexobj(dec.S):
        # an untied diagonal net on the transformed inputs z = Sx: solve there, map back by β = Sᵀρ
        from ..data import make_dataset

        zdata = make_dataset(data.X @ dec.S.T, data.y, task="classification", name=data.name + ":S")
        if L == 2:
            r = max_margin(zdata, "l1")
            rho, cert, prob = r.predictor / r.margin, {"relative_gap": r.rel_gap, "margin": r.margin}, "l1"
        else:
            from .kkt import lp_max_margin_best_effort

            r = lp_max_margin_best_effort(zdata, L)
            rho, cert, prob = r.predictor / r.margin, r.kkt.to_json(), "l2/L"
        beta = dec.S.T @ rho
        return TransformedPrediction(
            f"transformed-{prob}-max-margin" if L == 2 else "transformed-l2/L-kkt",
            beta,
            dec,
            cert,
            f"{dec.reason}: the ℓ_{{2/{L}}} max-margin of ρ on the transformed inputs Sx, β = Sᵀρ",
        )
    raise BiasflowError(
        f"predictions in a complex numerically found transform are not implemented ({dec.reason}); "
        "use transformed_kkt on Decomposition.transform(β)"
    )


def degenerate_coordinates(model, params) -> dict:
    """Coordinates of a diagonal tensor network whose fate is fixed by the initialization (docs/theory/tensor.md §4.3).

    - ``frozen``: two or more layers are 0 at coordinate j, so ρ_j ≡ 0 along the flow;
    - ``sign_locked`` (L = 2): |a_{1,j}| = |a_{2,j}| ≠ 0, so ρ_j keeps the sign of ρ_j(0) forever.

    The flow then solves the ℓ_{2/L} problem restricted to the free coordinates (and signs); compare with
    that restricted problem, not the full one.

    >>> from biasflow.models import TensorNetwork
    >>> net = TensorNetwork.diagonal(d=3, depth=2)
    >>> degenerate_coordinates(net, ([1.0, 0.0, 2.0], [1.0, 0.0, -3.0]))
    {'frozen': [1], 'sign_locked': [0]}
    """
    factors = getattr(model, "untied_factors", None)
    layers = factors(params) if callable(factors) else None
    if layers is None:
        raise BiasflowError(
            "degenerate_coordinates applies to untied diagonal networks (TensorNetwork.diagonal, diagonal-uv)"
        )
    vs = np.array([np.asarray(v, dtype=float) for v in layers])
    zero = np.sum(vs == 0.0, axis=0) >= 2
    locked = np.zeros(vs.shape[1], bool)
    if vs.shape[0] == 2:
        locked = (np.abs(vs[0]) == np.abs(vs[1])) & (vs[0] != 0.0)
    return {"frozen": np.flatnonzero(zero).tolist(), "sign_locked": np.flatnonzero(locked).tolist()}


# ------------------------------------------------------------------------------------- alignment


def alignment(model, params) -> dict:
    """Singular-vector alignment diagnostics for a fully connected net (Ji & Telgarsky 2019a).

    For each layer W_l: the rank-one ratio σ_1²/‖W_l‖_F² (→ 1 along GF on separable data), and for each
    adjacent pair the alignment |⟨v_1(W_l), u_1(W_{l+1})⟩| between the top right singular vector of W_l and
    the top left singular vector of W_{l+1} (→ 1); plus |cos(β, u_1(W_1))|.
    """
    if not callable(getattr(model, "weight_matrices", None)):
        raise BiasflowError("alignment diagnostics are defined for dense (fully connected) networks")
    Ws = model.weight_matrices(params)
    svd = [np.linalg.svd(W, full_matrices=False) for W in Ws]
    rank1 = [float(s[0] ** 2 / np.sum(s**2)) for _, s, _ in svd]
    pairs = [float(abs(svd[l][2][0] @ svd[l + 1][0][:, 0])) for l in range(len(Ws) - 1)]
    beta = np.asarray(model.predictor(params))
    nb = np.linalg.norm(beta)
    cos_beta = float(abs(beta @ svd[0][0][:, 0]) / nb) if nb > 0 else 0.0
    return {"rank_one_ratio": rank1, "adjacent_alignment": pairs, "beta_alignment": cos_beta}


# ------------------------------------------------------------------------------------- regression


def _G(z, L: int):
    """G_L(z) = ∫₀^z (1 + u²)^{−(L−1)/2} du (arcsinh, arctan, z/√(1+z²) for L = 2, 3, 4)."""
    if L == 2:
        return np.arcsinh(z)
    if L == 3:
        return np.arctan(z)
    if L == 4:
        return z / np.sqrt(1.0 + z * z)
    from scipy.special import hyp2f1

    return z * hyp2f1(0.5, (L - 1) / 2.0, 1.5, -z * z)


def _G_bound(L: int) -> float:
    """sup |G_L| = (√π/2)Γ((L−2)/2)/Γ((L−1)/2) for L ≥ 3 (π/2 for L = 3, 1 for L = 4)."""
    return 0.5 * math.sqrt(math.pi) * math.exp(math.lgamma((L - 2) / 2.0) - math.lgamma((L - 1) / 2.0))


def _G_inv(g, L: int):
    if L == 2:
        return np.sinh(g)
    if L == 3:
        return np.tan(g)
    if L == 4:
        return g / np.sqrt(1.0 - g * g)
    # safeguarded Newton on the increasing G_L, started from the L = 4-like guess
    c = _G_bound(L)
    z = np.tan(0.5 * math.pi * np.asarray(g) / c)
    for _ in range(100):
        step = (_G(z, L) - g) * (1.0 + z * z) ** ((L - 1) / 2.0)
        z = z - step
        if np.all(np.abs(step) <= 1e-15 * (1.0 + np.abs(z))):
            break
    return z


@dataclasses.dataclass(frozen=True)
class _CoordinateFlow:
    """ρ_j = φ_j(τ_j) for an untied diagonal network in the transformed space (docs/theory/tensor.md §4.4)."""

    L: int
    c0: np.ndarray | None = None  # L = 2: (a + b)(0)
    e0: np.ndarray | None = None  # L = 2: (a − b)(0)
    alpha: np.ndarray | None = None  # L ≥ 3, equal gaps: α_j
    g0: np.ndarray | None = None  # L ≥ 3: G_L(z_j(0))

    def phi(self, tau):
        if self.L == 2:
            return 0.25 * (self.c0**2 * np.exp(2 * tau) - self.e0**2 * np.exp(-2 * tau))
        z = _G_inv(self.g0 + self.alpha ** (self.L - 2) * tau, self.L)
        return self.alpha**self.L * z * (1.0 + z * z) ** ((self.L - 1) / 2.0)

    def dphi(self, tau):
        if self.L == 2:
            return 0.5 * (self.c0**2 * np.exp(2 * tau) + self.e0**2 * np.exp(-2 * tau))
        z = _G_inv(self.g0 + self.alpha ** (self.L - 2) * tau, self.L)
        return self.alpha ** (2 * self.L - 2) * (1.0 + z * z) ** (self.L - 2) * (1.0 + self.L * z * z)

    def inside(self, tau) -> bool:
        if self.L == 2:
            return bool(np.all(np.abs(tau) < 300))
        c = _G_bound(self.L)
        return bool(np.all(np.abs(self.g0 + self.alpha ** (self.L - 2) * tau) < c * (1 - 1e-15)))


def _coordinate_flow(layers: list[np.ndarray], rtol: float = 1e-9) -> _CoordinateFlow:
    L = len(layers)
    if L == 2:
        a, b = layers
        return _CoordinateFlow(2, c0=a + b, e0=a - b)
    aL = layers[-1]
    gaps = np.array([a * a - aL * aL for a in layers[:-1]])
    alpha2 = gaps[0]
    if not (np.all(np.abs(gaps - alpha2) <= rtol * np.maximum(1.0, np.abs(alpha2))) and np.all(alpha2 > 0)):
        raise BiasflowError(
            f"the closed form of docs/theory/tensor.md §4.4 for depth {L} needs equal positive gaps "
            "a_l(0)² − a_L(0)² = α_j² for every l < L and coordinate j (the 'equal-gap' initialization), "
            "which this initialization does "
            "not satisfy; compare with a trained network instead"
        )
    alpha = np.sqrt(alpha2)
    s = np.prod(np.sign(np.array(layers[:-1])), axis=0)
    z0 = s * aL / alpha
    return _CoordinateFlow(L, alpha=alpha, g0=_G(z0, L))


def yun_interpolant(X, y, layers, *, tol: float = 1e-12, max_iter: int = 200) -> np.ndarray:
    """The limit of gradient flow (square loss) of β = v_1 ⊙ ⋯ ⊙ v_L started at v_l(0) = ``layers[l]``.

    Solves X φ(Xᵀν) = y by damped Newton on the convex dual Ψ(ν) = Σ_j Φ_j((Xᵀν)_j) − yᵀν, where
    ρ_j = φ_j(τ_j) is the closed-form coordinate flow of docs/theory/tensor.md §4.4 (L = 2: any initialization,
    ρ = ¼[(a+b)(0)² e^{2τ} − (a−b)(0)² e^{−2τ}]; L ≥ 3: equal-gap initializations, through G_L).
    Returns β∞ = φ(Xᵀν*), the minimizer of the Bregman problem of §4.4 subject to Xβ = y.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    layers = [np.asarray(a, dtype=float) for a in layers]
    flow = _coordinate_flow(layers)
    n = X.shape[0]
    nu = np.zeros(n)
    scale = max(1.0, float(np.linalg.norm(y)))
    for _ in range(max_iter):
        tau = X.T @ nu
        r = X @ flow.phi(tau) - y
        rn = float(np.linalg.norm(r))
        if rn <= tol * scale:
            break
        H = (X * flow.dphi(tau)) @ X.T
        step = np.linalg.lstsq(H, r, rcond=None)[0]
        t = 1.0
        while t > 1e-12:
            cand = nu - t * step
            tc = X.T @ cand
            if flow.inside(tc):
                rc = float(np.linalg.norm(X @ flow.phi(tc) - y))
                if np.isfinite(rc) and rc < (1 - 1e-4 * t) * rn:
                    break
            t *= 0.5
        else:
            raise BiasflowError(
                "the interpolant's Newton iteration stalled; the data may not be interpolable "
                "by this network (need rank X = n)"
            )
        nu = cand
    beta = flow.phi(X.T @ nu)
    if float(np.linalg.norm(X @ beta - y)) > 1e-8 * scale:
        raise BiasflowError("the interpolant's Newton iteration did not converge (‖Xβ − y‖ > 1e-8‖y‖)")
    return beta


def predict_regression(model, data: Dataset, params0=None) -> TransformedPrediction:
    """The predicted interpolant of gradient flow with square loss (docs/theory/tensor.md §4.4), where closed.

    - fully connected: Xᵀ(XXᵀ)⁻¹y, the small-initialization limit (distance O(α) at scale α);
    - Yun's untied diagonal tensor network (``TensorNetwork.diagonal``, one branch) and the one-branch
      :class:`~biasflow.models.UntiedDiagonal`: :func:`yun_interpolant` from ``params0`` (default the
      model's init), for L = 2 at any initialization and for L ≥ 3 at equal-gap initializations.
    Other networks raise a :class:`BiasflowError` naming what is not covered.
    """
    if data.task != "regression":
        raise BiasflowError("a regression prediction needs regression data (square loss)")
    dec = decompose(model)
    if dec.fully_connected:
        b = min_l2_interpolant(data)
        return TransformedPrediction(
            "min-l2-interpolant",
            b,
            dec,
            {"residual": float(np.linalg.norm(data.X @ b - data.y))},
            "fully connected: the α → 0 limit Xᵀ(XXᵀ)⁻¹y (distance O(α) at scale α)",
        )
    p0 = model.init() if params0 is None else params0
    factors = getattr(model, "untied_factors", None)
    layers = factors(p0) if callable(factors) else None
    if layers is None:
        raise BiasflowError(
            f"no closed-form regression prediction for this {type(model).__name__} ({dec.reason}); "
            "closed forms cover fully connected nets (α → 0) and untied diagonal tensor networks; "
            "tied diagonal nets use biasflow.bias.potentials"
        )
    b = yun_interpolant(data.X, data.y, layers)
    return TransformedPrediction(
        "yun-interpolant",
        b,
        dec,
        {"residual": float(np.linalg.norm(data.X @ b - data.y))},
        f"untied diagonal, L = {len(layers)}: Bregman interpolant of docs/theory/tensor.md §4.4",
    )
