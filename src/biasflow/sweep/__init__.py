"""Sweeps: a base run × the product of option grids, executed in-process (batched) or on Dask.

A sweep is a TOML file validated by pydantic before anything runs::

    name = "phase-diagram"

    [run]                              # the base run (every option of `biasflow flow`)
    data = "sparse"                    # built-in name, a file (relative to this TOML), or a generator table
    model = "diagonal"
    depth = 2
    loss = "exp"
    until = "1e-1000"                  # loss levels are strings: 1e-1000 is not a float64
    levels = {start = "1e-1", stop = "1e-1000", num = 16}   # checkpoints, geometric in log(1/L)

    [grid]                             # the product of these lists
    alpha = {geomspace = [1e-2, 10.0, 8]}
    depth = [2, 3]

    [grid.data]                        # grids over generator options: data.seed
    seed = [0, 1]

Each point of the grid is one *run*, identified by :func:`run_id`, a content hash of its resolved
configuration (used by ``--resume``). Runs that differ only in the initialization (``alpha``, ``shape``)
share data, loss and checkpoints and are executed together as one batch through
:func:`biasflow.dynamics.flow.flow_many`; batches are the unit of work for both executors, so the
in-process and the Dask executors run the same computations and store identical numbers.

The package is split by concept; everything below is re-exported here (``from biasflow.sweep import ...``):

- :mod:`biasflow.sweep.config`: the TOML config models (pydantic), schema validation with line-numbered
  errors, grid axes and value expansion;
- :mod:`biasflow.sweep.plan`: :func:`parse_config` / :func:`load_config` (schema, then every run built),
  :func:`expand` into run specs, :func:`run_id`, building and batching runs;
- :mod:`biasflow.sweep.runs`: the batch runner :func:`run_batch`, rows, and the metrics / references
  helpers (with their caches);
- :mod:`biasflow.sweep.executors`: :func:`run_sweep` in-process or on Dask, scheduler connection,
  :func:`use_scheduler` and :func:`sweep_rows`.

Every run stores one row per checkpoint (:mod:`biasflow.store`) with its configuration, the loss level,
log10 of the flow time, margins and gaps to the predicted biases (classification), or distances to the
interpolants (regression), its ``status`` and ``message``. A run that fails is stored with its status and
the error message, and the sweep goes on.

>>> cfg = parse_config('''
... [run]
... data = "sparse"
... until = "1e-20"
... [grid]
... alpha = [0.1, 1.0]
... depth = [2, 3]
... ''')
>>> [(s["alpha"], s["depth"]) for s in expand(cfg)]
[(0.1, 2), (0.1, 3), (1.0, 2), (1.0, 3)]
>>> parse_config('[run]\\nalpah = 1.0\\n')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
biasflow.errors.BiasflowError: sweep config, line 2: run.alpah: unknown key; allowed keys: data, task, ...
"""

from __future__ import annotations

from .config import DATA_KEYS as DATA_KEYS
from .config import RUN_KEYS as RUN_KEYS
from .config import Generated as Generated
from .config import LevelRange as LevelRange
from .config import RunConfig as RunConfig
from .config import Space as Space
from .config import SweepConfig as SweepConfig
from .config import locate as locate
from .executors import _SCHEME as _SCHEME
from .executors import SweepSummary as SweepSummary
from .executors import _close as _close
from .executors import _connect as _connect
from .executors import prepare as prepare
from .executors import run_sweep as run_sweep
from .executors import sweep_rows as sweep_rows
from .executors import use_progress as use_progress
from .executors import use_scheduler as use_scheduler
from .plan import batch_key as batch_key
from .plan import build_run as build_run
from .plan import config_id as config_id
from .plan import dataset_of as dataset_of
from .plan import expand as expand
from .plan import load_config as load_config
from .plan import make_batches as make_batches
from .plan import parse_config as parse_config
from .plan import run_id as run_id
from .runs import Rows as Rows
from .runs import Runner as Runner
from .runs import checkpoint_metrics as checkpoint_metrics
from .runs import config_columns as config_columns
from .runs import failure_row as failure_row
from .runs import limit_prediction as limit_prediction
from .runs import references as references
from .runs import run_batch as run_batch
from .runs import run_metrics as run_metrics
from .runs import trajectory_rows as trajectory_rows
