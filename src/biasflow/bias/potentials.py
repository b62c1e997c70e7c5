"""Q-potentials of diagonal networks and their convex conjugates, evaluated without overflow.

Every diagonal network's gradient flow is a mirror flow (Woodworth et al. 2020; Azulay et al. 2021;
docs/theory/diagonal.md §3.2–3.4): with the integrated residual ν(t) and z = Aᵀν,

    β_j(t) = Φ_j'(z_j(t)),

for a convex, separable *dual potential* Φ = Σ_j Φ_j. Its conjugate Q = Φ* (Q_j' = (Φ_j')⁻¹) is the
*Q-potential*: square-loss flow ends at argmin Q(β) s.t. Xβ = y, and the normalized classification path
solves a Q_μ max-margin problem (docs/theory/diagonal.md §3.5). This module holds the three families that occur, each as
a small immutable object with vectorized NumPy methods:

- :class:`ExpPotential` — Φ_j'(w) = P_j e^{k w} − M_j e^{−k w} (every depth-2 diagonal model: tied D = 2 with
  P = M = α², k = 4; two-branch untied with P = M = (u0² + v0²)/2, k = 2; one-branch u⊙v with
  P = (u0 + v0)²/4, M = (u0 − v0)²/4, k = 2). P and M are stored as logarithms, so α from 1e-300 to 1e300
  is fine; values follow docs/theory/certificates.md §7 (``2ϱ cosh z = exp(log ϱ + |z| + log1p(e^{−2|z|}))``).
- :class:`PowerPotential` — Φ_j'(w) = a_j h_D(κ_j w), h_D(v) = (1 − v)^{−D/(D−2)} − (1 + v)^{−D/(D−2)} on
  |v| < 1 (tied depth D ≥ 3: a = α^D, κ = c_D α^{D−2}, c_D = D(D − 2)).
- :class:`QuadPotential` — Φ_j'(w) = K_j w (depth 1 and the kernel limit: Q = Σ β_j²/(2K_j)).

Methods (all elementwise, w and β of length d): ``beta(w)`` = Φ'(w); ``curvature(w)`` = Φ''(w);
``value(w)`` = Φ(w) − Φ(0); ``inverse(beta)`` = (Φ')⁻¹(β) = ∇Q(β); ``Q(beta)`` = Σ_j Q_j(β_j) with
Q(Φ'(0)) = 0; ``bound`` = the open box |w_j| < bound_j of the domain (inf when unbounded);
``scaled(c)`` the potential c·Φ (whose β is c times larger: used for μ = α^D/γ).

The closed forms of docs/theory/diagonal.md §3.4 are recovered: for D = 2 and unit α, Q is the hypentropy
α² q(β/α²)/4 with q(z) = 2 − √(4 + z²) + z·arcsinh(z/2) (the ¼ is the time constant c_2 = 4 of the
flow's clock; it does not change argmins).

>>> import numpy as np
>>> from biasflow.models import Diagonal
>>> pot = potential_of(Diagonal(d=3, depth=2, alpha=0.5))
>>> w = np.array([0.1, -0.2, 0.0])
>>> bool(np.allclose(pot.beta(w), 2 * 0.25 * np.sinh(4 * w)))
True
>>> bool(np.allclose(pot.inverse(pot.beta(w)), w, rtol=1e-14, atol=0))
True
>>> pot.Q(np.zeros(3))
0.0
"""

from __future__ import annotations

from ..errors import BiasflowError
from ..models.potentials import (  # noqa: F401  (re-exported: the potential families live with the models)
    ExpPotential,
    Potential,
    PowerPotential,
    QuadPotential,
    h_depth,
    h_depth_inverse,
    q_hypentropy,
)


def potential_of(model) -> Potential:
    """The dual potential Φ of a mirror-flow model (β = Φ'(Aᵀν), docs/theory/diagonal.md §3.2, §3.7), for the Q-solvers.

    Asks the model for ``potential()`` (the diagonal models provide it) and refuses, with one line, a
    model without one or a potential that is unusable in float64 (its ``unusable`` reason).

    >>> from biasflow.models import Diagonal
    >>> m = Diagonal(d=2, depth=3, alpha=0.1)
    >>> import numpy as np
    >>> z = np.array([0.5, -1.0])
    >>> bool(np.allclose(potential_of(m).beta(z), np.asarray(m.beta_of_z(z)), rtol=1e-13))
    True
    """
    make = getattr(model, "potential", None)
    if not callable(make):
        raise BiasflowError(
            f"model {getattr(model, 'name', type(model).__name__)!r} has no Q-potential in biasflow; "
            "interpolate and predict support the diagonal models (diagonal, diagonal-untied, diagonal-uv)"
        )
    pot = make()
    if pot.unusable:
        raise BiasflowError(pot.unusable)
    return pot


def Q(model, beta) -> float:
    """The model's Q-potential at β (docs/theory/diagonal.md §3.4): Q(β) = Φ*(β), 0 at the initial predictor.

    >>> import numpy as np
    >>> from biasflow.models import Diagonal
    >>> m = Diagonal(d=1, depth=2, alpha=1.0)
    >>> b = np.array([2.0])
    >>> abs(Q(m, b) - float(q_hypentropy(b / 1.0)[0]) / 4) < 1e-15
    True
    """
    return potential_of(model).Q(beta)
