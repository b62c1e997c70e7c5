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

This module routes a model to its prediction; the solvers live in one module per job:

- :func:`decompose` (here) — is a model ODec, with which transform, or why not;
- :mod:`biasflow.bias.fourier` — the SOCP min Σ_k |DFT(β)_k| s.t. X̃β ≥ 1 with a dual certificate;
- :mod:`biasflow.bias.stationarity` — the ℓ_{2/L} KKT residual in the identity or Fourier space, the
  parameter-space KKT check, and the best-effort Fourier ℓ_{2/L} stationary point for L ≥ 3;
- :mod:`biasflow.bias.yun` — the closed-form regression interpolants of untied diagonal networks;
- :func:`predict_classification` (here) — routes a model to its predicted bias (FC → ℓ2 SVM, diagonal →
  ℓ_{2/L}, full conv → Fourier ℓ_{2/L}) and refuses, with a clear message, when asked for a
  decomposable-only prediction on a non-ODec network;
- :func:`predict_regression` (here) — the interpolants of docs/theory/tensor.md §4.4 where a closed form exists.

>>> from biasflow.models import Conv, Dense
>>> decompose(Conv(d=8, depth=2)).kind
'fourier'
>>> decompose(Dense(d=4, depth=2, width=3)).decomposable
False
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import _jax  # noqa: F401
from ..data import Dataset
from ..errors import BiasflowError
from ..models.decomposition import FC_REASON as _FC_REASON  # noqa: F401
from ..models.decomposition import Decomposition
from .fourier import (  # noqa: F401  (re-exported)
    FourierMarginResult,
    _require_separable_classification,
    fourier_l1,
    fourier_l1_max_margin,
    fourier_lp,
)
from .interpolate import min_l2_interpolant  # noqa: F401  (the FC small-init regression limit, docs/theory/tensor.md §4.4)
from .stationarity import fourier_l2L_candidate, parameter_kkt, transformed_kkt  # noqa: F401  (re-exported)
from .yun import yun_interpolant

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
        return _candidate_prediction("l2/L-kkt", candidate, data, L, "identity", dec,
                                     f"diagonal, L = {L}: stationary point of min ‖β‖_{{2/{L}}} (KKT residual)")
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
            return _candidate_prediction("fourier-l2/L-kkt", candidate, data, L, "fourier", dec,
                                         f"full-length conv, L = {L}: stationarity of min ‖DFT β‖_{{2/{L}}}")
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


def _candidate_prediction(problem, candidate, data, L, space, dec, message) -> TransformedPrediction:
    """A given candidate β, normalized to minimum margin 1, certified by its ℓ_{2/L} KKT residual in
    ``space`` (identity or Fourier)."""
    b = np.asarray(candidate, dtype=float)
    kkt = transformed_kkt(b, data, L, space=space)
    return TransformedPrediction(problem, b / float(np.min(data.A @ b)), dec, kkt, message)


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
