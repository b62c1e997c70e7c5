"""biasflow: a laboratory for the implicit bias of training linear networks.

Data flows one way: Dataset → Model → Dynamics (flow | descent) → Trajectory → Bias → Comparison →
Store/Report. JAX runs in float64 (set at import).
"""

from . import _jax  # noqa: F401  (float64 before anything else touches JAX)
from .bias import compare as compare
from .bias import interpolate as interpolate
from .bias import margin as margin
from .bias import predict as predict
from .data import Dataset as Dataset
from .data import builtin as builtin
from .data import gaussian as gaussian
from .data import load as load
from .data import make_dataset as make_dataset
from .dynamics.descent import descent as descent
from .dynamics.descent import descent_many as descent_many
from .dynamics.flow import flow as flow
from .dynamics.flow import flow_many as flow_many
from .errors import BiasflowError as BiasflowError
from .errors import Status as Status
from .estimators import GradientFlowClassifier as GradientFlowClassifier
from .estimators import GradientFlowRegressor as GradientFlowRegressor
from .levels import Level as Level
from .levels import parse_level as parse_level
from .losses import get_loss as get_loss
from .models import UV as UV
from .models import Conv as Conv
from .models import Dense as Dense
from .models import Diagonal as Diagonal
from .models import ReLU2 as ReLU2
from .models import TensorNetwork as TensorNetwork
from .models import UntiedDiagonal as UntiedDiagonal
from .models import build_model as build_model
from .trajectory import Checkpoint as Checkpoint
from .trajectory import DescentResult as DescentResult
from .trajectory import Trajectory as Trajectory

__version__ = "0.1.0"
