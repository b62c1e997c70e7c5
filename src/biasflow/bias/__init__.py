"""Predicted implicit biases, solved and certified (docs/theory/diagonal.md §3, tensor.md §4.5, certificates.md §7).

- :mod:`~biasflow.bias.margins` — ℓ1/ℓ2/ℓ∞ max-margin with duality certificates; normalized margins.
- :mod:`~biasflow.bias.kkt` — the non-convex ℓ_{2/L} problem: KKT residual, best-effort solver.
- :mod:`~biasflow.bias.potentials` — Q-potentials of diagonal networks and their duals.
- :mod:`~biasflow.bias.interpolate` — minimum-Q interpolants (the end of square-loss flow) by dual Newton.
- :mod:`~biasflow.bias.predict` — the Q_μ max-margin at a finite loss; the ``predict`` dispatcher.
- :mod:`~biasflow.bias.finite_step` — Even et al.'s effective initialization of GD.
- :mod:`~biasflow.bias.compare` — per-checkpoint metrics of a trajectory against a prediction.
"""

from .compare import COLUMNS as COLUMNS
from .compare import compare as compare
from .compare import compare_path as compare_path
from .compare import compare_predictor as compare_predictor
from .interpolate import InterpolationResult as InterpolationResult
from .interpolate import interpolate as interpolate
from .interpolate import min_l1_interpolant as min_l1_interpolant
from .interpolate import min_l2_interpolant as min_l2_interpolant
from .kkt import kkt_residual as kkt_residual
from .kkt import lp_max_margin_best_effort as lp_max_margin_best_effort
from .margins import MarginResult as MarginResult
from .margins import margin as margin
from .margins import max_margin as max_margin
from .margins import normalized_margin as normalized_margin
from .potentials import Q as Q
from .potentials import potential_of as potential_of
from .predict import Prediction as Prediction
from .predict import predict as predict
from .predict import q_mu_margin as q_mu_margin
