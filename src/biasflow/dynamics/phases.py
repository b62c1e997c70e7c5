"""Learning-rate phase maps: lazy / catapult / divergent (Lewkowycz et al. 2020; Huang et al. 2020).

A phase map runs gradient descent for a log grid of learning rates η, in units of 2/λ0 where λ0 is the top
eigenvalue of the tangent kernel Θ = JJᵀ/n at initialization (docs/theory/large-steps.md §5.1), all in one
``vmap``-batched compiled loop (:func:`biasflow.dynamics.descent.descent_many`) from the same initialization, and
classifies each run from its measured loss history and final sharpness S (docs/theory/large-steps.md §5.3, §5.4):

- ``divergent``: the run diverged (status ``diverged``: non-finite values or a loss blow-up);
- ``lazy``: the loss never rose above its previous value (up to a relative 1e-9), i.e. no catapult;
- ``catapult``: the loss rose at some step, and the run settled at a flatter point, S_final < 2/η;
- ``unstable``: the loss rose and the run did not settle (S_final ≥ 2/η at the end of the budget).

For the square loss λ0 = S0 at an interpolating init; for logistic loss the two differ
(docs/theory/large-steps.md §5.5), and both are reported. Which of the two Huang et al. use as "λ0" is
uncertain (docs/theory/large-steps.md §5.4); the unit here is the NTK one, and ``sharpness0`` lets a reader convert.

>>> import numpy as np
>>> from biasflow.trajectory import DescentResult
>>> loss = np.array([1.0, 5.0, 0.1, 1e-9])
>>> run = DescentResult("ok", 3, loss, None, np.zeros(1), sharpness=np.array([3.0, 1.0]))
>>> classify(run, eta=1.0)           # the loss rose, then settled where S·η < 2
'catapult'

``biasflow lr-phases --data F --model uv --loss square`` runs :func:`phase_map` and draws the figure.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _jax  # noqa: F401
from ..errors import BiasflowError
from ..losses import get_loss
from ..trajectory import DescentResult
from .curvature import ntk_top, sharpness
from .descent import _outputs, descent_many

PHASES = ("lazy", "catapult", "unstable", "divergent")


@dataclasses.dataclass(eq=False)
class PhaseMap:
    """The result of :func:`phase_map`: one entry per learning rate, in increasing order."""

    lambda0: float
    sharpness0: float
    units: np.ndarray            # η in units of 2/λ0
    etas: np.ndarray
    phases: list[str]
    results: list[DescentResult]
    loss: str = ""
    model: dict = dataclasses.field(default_factory=dict)
    data: str = ""

    @property
    def peak_ratio(self) -> np.ndarray:
        """max_t ℒ_t/ℒ_0 of each run (over its finite history)."""
        return np.array([float(np.max(r.loss) / r.loss[0]) if r.loss[0] > 0 else np.inf
                         for r in self.results])

    @property
    def final_sharpness(self) -> np.ndarray:
        return np.array([float(r.sharpness[-1]) for r in self.results])

    @property
    def final_loss(self) -> np.ndarray:
        return np.array([float(r.loss[-1]) for r in self.results])

    def to_json(self) -> dict:
        runs = []
        for u, eta, ph, r, pk in zip(self.units, self.etas, self.phases, self.results, self.peak_ratio,
                                     strict=True):
            runs.append({
                "eta": float(eta), "eta_units": float(u), "phase": ph, "status": r.status, "steps": r.steps,
                "peak_loss_ratio": float(pk), "initial_loss": float(r.loss[0]),
                "final_loss": float(r.loss[-1]),
                "final_log10_loss": float(r.history["log10_loss"][-1]),
                "final_sharpness": float(r.sharpness[-1]), "two_over_eta": 2.0 / float(eta),
                "final_ntk": float(r.history["ntk"][-1]) if "ntk" in r.history else None,
            })
        return {"lambda0": self.lambda0, "sharpness0": self.sharpness0, "eta_unit": 2.0 / self.lambda0,
                "loss": self.loss, "model": self.model, "data": self.data, "runs": runs}


def classify(result: DescentResult, eta: float, rtol: float = 1e-9) -> str:
    """The phase of one run (see the module docstring)."""
    if result.status == "diverged":
        return "divergent"
    loss = np.asarray(result.loss)
    rose = np.any(np.diff(loss) > rtol * np.maximum(loss[:-1], loss[0]))
    if not rose:
        return "lazy"
    return "catapult" if float(result.sharpness[-1]) * eta < 2.0 else "unstable"


@functools.lru_cache(maxsize=32)
def _curvature_fn(model, loss, cls: bool, iters: int):
    """Jitted (λ0, S0) for one model and loss, cached so repeated phase maps do not recompile."""

    def both(p, X, y):
        def lossfn(q):
            f = _outputs(model, q, X)
            return jnp.mean(loss.value(y * f if cls else f, y))

        lam, _ = ntk_top(lambda q: _outputs(model, q, X), p, iters=iters)
        s, _ = sharpness(lossfn, p, iters=iters)
        return lam, s

    return jax.jit(both)


def initial_curvature(model, data, loss, params0, iters: int = 40) -> tuple[float, float]:
    """(λ0, S0): the top NTK eigenvalue and the sharpness at ``params0``."""
    fn = _curvature_fn(model, get_loss(loss), data.task == "classification", int(iters))
    lam, s = fn(params0, jnp.asarray(data.X), jnp.asarray(data.y))
    return float(lam), float(s)


def phase_map(model, data, loss, *, units=None, steps: int = 1000, seed: int = 0, params0=None,
              **options) -> PhaseMap:
    """Run GD for a grid of learning rates η = u·2/λ0 and classify each run.

    Args:
        model, data, loss: as for :func:`~biasflow.dynamics.descent.descent`.
        units: learning rates in units of 2/λ0 (default: 24 values log-spaced over [0.25, 8]).
        steps: GD steps per run.
        seed: initialization seed (all runs start from the same parameters).
        params0: explicit initial parameters (overrides ``seed``).
        **options: passed on to :func:`~biasflow.dynamics.descent.descent_many` (``divergence_decades``…).
    """
    units = np.geomspace(0.25, 8.0, 24) if units is None else np.sort(np.asarray(units, dtype=float))
    if units.size == 0 or not np.all(np.isfinite(units) & (units > 0)):
        raise BiasflowError("learning-rate units must be positive finite numbers (multiples of 2/λ0)")
    if params0 is None:
        params0 = model.init(jax.random.fold_in(jax.random.PRNGKey(int(seed)), 0))
    lam0, s0 = initial_curvature(model, data, loss, params0)
    if not (np.isfinite(lam0) and lam0 > 0):
        raise BiasflowError(f"the tangent kernel at initialization is degenerate (λ0 = {lam0:g}); "
                            "use another seed or initialization scale")
    etas = units * 2.0 / lam0
    res = descent_many(model, data, loss, lrs=etas, steps=steps, sharpness_every=steps, seed=seed,
                       params0=params0, ntk=True, **options)
    phases = [classify(r, float(e)) for r, e in zip(res, etas, strict=True)]
    cfg = model.config() if hasattr(model, "config") else {}
    return PhaseMap(lambda0=lam0, sharpness0=s0, units=units, etas=etas, phases=phases, results=res,
                    loss=get_loss(loss).name, model=cfg, data=getattr(data, "name", ""))


__all__ = ["PHASES", "PhaseMap", "classify", "initial_curvature", "phase_map"]
