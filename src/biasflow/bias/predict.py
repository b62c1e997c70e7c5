"""What theory predicts for a diagonal network: the Q_μ max-margin path, the limits, the interpolants.

**Classification at a finite loss (Moroshko et al. 2020; docs/theory/diagonal.md §3.5).** Along exp/logistic gradient
flow of a diagonal network, β(t) = Φ'(X̃ᵀν(t)) exactly, so the normalized predictor β̃ = β/γ (γ = min
margin) satisfies

    β̃ = Ψ'(X̃ᵀν),  Ψ = Φ/γ,   min_i (X̃β̃)_i = 1,

which is the KKT system of the strictly convex **Q_μ max-margin problem**

    min Ψ*(β)  s.t.  X̃β ≥ 1        (for uniform α: min μ Σ_j q_D(β_j/μ), μ = α^D/γ),

except for complementary slackness. The prediction at loss ℒ is that problem's solution, with γ fixed
self-consistently by the margin–loss relation ℒ = (1/n)Σ_i ℓ(γ·(X̃β̃_γ)_i) (for exp loss γ lies in
[log(1/ℒ) − log n, log(1/ℒ)], docs/theory/numerics.md §2.3). It is a *description to test*: the flow follows it iff its
dual ν puts no mass on points with margin > 1 (ρ_nsv = 0), which :func:`biasflow.bias.compare.compare`
measures on every checkpoint.

Measured on the built-in ``sparse`` set (n = 10, d = 30, exact dual flows; ``tests/test_bias_flow.py``):
for D = 2 the relative distance from the flow's β̃ to the Q_μ solution at the same loss falls with accuracy
and with α (α = 1: 0.07, 0.03, 0.014, 0.009 at ℒ = 1e-10, 1e-100, 1e-1000, 1e-10000; α = 10: 0.05 → 5e-4;
α = 0.01: 0.32 → 0.11), so Q_μ is a good description at large α or extreme accuracy and a poor one at small
α, where the saddle phase leaves dual mass on points that are not support vectors. For D = 3 at α = 0.01
it fails outright (distance ≈ 3.5, ρ_nsv ≈ 0.77): the flow stops at a sparse ℓ_{2/3} KKT point, as
docs/theory/diagonal.md §3.5 predicts. Limits of float64: for depth ≥ 4 with α^D/γ below about 1e-12 the dual cannot
resolve β̃ near the edge of its domain; the result then has status ``max_steps`` with the reached residuals.

The Q_μ problem is solved on its dual, max_{λ≥0} 1ᵀλ − Σ_j Ψ_j((X̃ᵀλ)_j), by projected Newton (Bertsekas
1982) with a scale homotopy for small μ. Certificate: primal feasibility max(0, 1 − min_i m̃_i), the duality
gap λᵀ(m̃ − 1) (= primal − dual objective), and the projected-gradient residual ‖min(λ, m̃ − 1)‖_∞.

The solvers live one per module: :mod:`biasflow.bias.qmu` (the Q_μ problem at a margin γ),
:mod:`biasflow.bias.margin_loss` (γ from a loss level), :mod:`biasflow.bias.transformed` (other linear
networks); this module dispatches.

**Limits.** ``at_loss=None`` gives the ℒ → 0 limit: the ℓ1 max-margin (D = 2, certified LP), or a
best-effort ℓ_{2/D} KKT point (D ≥ 3, non-convex). **Regression**: the minimum-Q interpolant
(:mod:`biasflow.bias.interpolate`), or with ``lr`` the interpolant gradient descent converges to
(:mod:`biasflow.bias.finite_step`).

>>> from biasflow.data import gaussian
>>> from biasflow.models import Diagonal
>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> p = predict(Diagonal(d=30, depth=2, alpha=1.0), ds, at_loss="1e-10")
>>> p.kind, p.status, p.certificate["duality_gap"] < 1e-9, p.certificate["infeasibility"] < 1e-12
('q_mu', 'ok', True, True)
>>> bool(abs(p.gamma - 23.03) < 3)           # γ ≈ log(1/ℒ) − O(log n)
True
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..data import Dataset
from ..errors import BiasflowError
from ..models.base import bind_data, has_dual
from .interpolate import interpolate
from .margin_loss import predict_at_loss
from .margins import max_margin
from .potentials import potential_of
from .prediction import Prediction
from .qmu import _with_scale, q_mu_margin, solve_qmu  # noqa: F401  (re-exported)


# ------------------------------------------------------------------------------------------ dispatcher
def _prediction(model, data: Dataset, t0: float, *, with_potential: bool = False, **fields) -> Prediction:
    """A :class:`Prediction` for ``model`` on ``data`` (its degree, config, the data and the seconds since
    ``t0``; its dual potential when ``with_potential``)."""
    return Prediction(depth=int(model.degree), model=model.config(), data=data,
                      potential=potential_of(model) if with_potential else None,
                      seconds=time.perf_counter() - t0, **fields)


def predict(
    model,
    data: Dataset,
    at_loss=None,
    *,
    loss: str | None = None,
    lr: float | None = None,
    steps: int | None = None,
    least_squares: bool = False,
) -> Prediction:
    """What theory predicts for ``model`` trained on ``data`` (see :func:`_dispatch`), with the model's
    μ scale recorded."""
    return _with_scale(model, _dispatch(model, data, at_loss, loss, lr, steps, least_squares))


def _dispatch(model, data: Dataset, at_loss, loss, lr, steps, least_squares) -> Prediction:
    """What theory predicts for ``model`` trained on ``data``, with a certificate.

    - classification, ``at_loss`` given: the Q_μ max-margin at that loss (diagonal models);
    - classification, ``at_loss=None``: the ℒ → 0 limit — ℓ1 max-margin for depth 2 (LP, certified),
      best-effort ℓ_{2/D} KKT point for depth ≥ 3; other linear networks go to
      :func:`biasflow.bias.transformed.predict_classification`;
    - regression: the minimum-Q interpolant (the end of square-loss flow), or with ``lr`` (and ``steps``)
      the interpolant gradient descent with step η converges to (Even et al. 2023).

    Args:
        model: a model from :mod:`biasflow.models`.
        data: the training set.
        at_loss: loss level, e.g. ``"1e-100"`` (classification only).
        loss: ``exp`` (default for classification) or ``logistic``; ``square`` for regression.
        lr, steps: gradient-descent step size and number of steps for the finite-step prediction.
        least_squares: for inconsistent regression systems, interpolate the least-squares fit.
    """
    t0 = time.perf_counter()
    if data.task == "classification":
        if lr is not None:
            raise BiasflowError("--lr (finite-step prediction) applies to regression (square loss) only")
        if loss is not None and loss not in ("exp", "logistic"):
            raise BiasflowError(f"loss {loss!r} is for regression; use exp or logistic for classification")
        own = _own_bias(model, data, at_loss)
        if own is not None:
            return own
        diagonal = _is_diagonal(model)
        if at_loss is not None:
            if not diagonal:
                raise BiasflowError(
                    "finite-loss (Q_mu) predictions exist for diagonal models only; "
                    "drop --at-loss for the limit prediction"
                )
            return predict_at_loss(model, data, at_loss, loss=loss or "exp")
        if not diagonal:
            from .transformed import predict_classification

            tp = predict_classification(model, data)
            return _prediction(model, data, t0,
                kind="transformed",
                task="classification",
                predictor=np.asarray(tp.predictor, float),
                status="ok",
                message=getattr(tp, "message", "") or getattr(tp, "kind", ""),
                certificate=_jsonable_cert(tp),
            )
        D = int(model.degree)
        if D <= 2:
            r = max_margin(data, "l1" if D == 2 else "l2")
            pr = _prediction(model, data, t0, with_potential=True,
                kind="l1" if D == 2 else "l2",
                task="classification",
                predictor=r.predictor / r.margin,
                status=r.status,
                message=f"{r.norm} max-margin (limit L -> 0), {r.solver}",
                certificate=r.to_json()["certificate"] | {"margin": r.margin},
            )
            return pr
        from .kkt import lp_max_margin_best_effort

        b = lp_max_margin_best_effort(data, D)
        pr = _prediction(model, data, t0, with_potential=True,
            kind="l2D",
            task="classification",
            predictor=b.predictor / b.margin,
            status=b.status,
            message=f"l_(2/{D}) max-margin, {b.message} (non-convex: best effort, not certified "
            "global; the flow reaches an alpha-dependent KKT point)",
            certificate={
                "kkt_residual": b.kkt.residual,
                "objective": b.objective,
                "candidates": b.candidates,
            },
        )
        return pr
    # regression
    if at_loss is not None:
        raise BiasflowError(
            "--at-loss applies to classification; square-loss flow converges to the interpolant"
        )
    if loss is not None and loss != "square":
        raise BiasflowError(f"loss {loss!r} is for classification; regression uses square loss")
    if lr is not None:
        from .finite_step import predict_descent

        return predict_descent(model, data, lr=lr, steps=steps)
    if not _is_diagonal(model):
        from .transformed import predict_regression

        tp = predict_regression(model, data)
        return _prediction(model, data, t0,
            kind="transformed",
            task="regression",
            predictor=np.asarray(tp.predictor, float),
            status="ok",
            message=getattr(tp, "message", ""),
            certificate=_jsonable_cert(tp),
        )
    r = interpolate(model, data, least_squares=least_squares)
    return _prediction(model, data, t0, with_potential=True,
        kind="interpolant",
        task="regression",
        predictor=r.predictor,
        status=r.status,
        message=r.message,
        certificate=r.to_json()["certificate"],
        dual=r.dual,
    )


def _own_bias(model, data: Dataset, at_loss):
    """Models whose bias is not a norm of β say so by a capability: ``finite_group`` (linear G-CNNs:
    the group Fourier Schatten problem) or ``uniform_margin_patches`` (batch normalization: uniform
    margins). None for every other model."""
    group = getattr(model, "finite_group", None)
    patches = getattr(model, "uniform_margin_patches", None)
    if group is None and patches is None:
        return None
    if at_loss is not None:
        raise BiasflowError("finite-loss (Q_mu) predictions exist for diagonal models only; "
                            "drop --at-loss for the limit prediction")
    if group is not None:
        from .groups import predict_group

        return predict_group(model, data)
    from .batchnorm import predict_uniform

    return predict_uniform(bind_data(model, data), data)


def _is_diagonal(model) -> bool:
    """True for mirror-flow models (they provide an exact dual potential: the diagonal networks)."""
    return has_dual(model)


def _jsonable_cert(tp) -> dict:
    out = {}
    for k, v in dataclasses.asdict(tp).items() if dataclasses.is_dataclass(tp) else {}:
        if k == "predictor":
            continue
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if isinstance(v, (int, float, str, bool, list, dict)) or v is None:
            out[k] = v
    return out
