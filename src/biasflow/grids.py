"""Evaluation points for models whose result is a function (``--grid LO,HI,NUM`` or ``--eval FILE``).

A trained or predicted function is reported on points as ``{"x": [...], "f": [...]}``: for 1-D inputs ``x`` is
a list of numbers, for d > 1 a list of rows.

>>> parse_grid("-1,1,5")[:, 0].tolist()
[-1.0, -0.5, 0.0, 0.5, 1.0]
>>> parse_grid("1,1,5")
Traceback (most recent call last):
...
biasflow.errors.BiasflowError: --grid 1,1,5: LO must be < HI (got LO = 1, HI = 1); write e.g. --grid -1,1,201
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import BiasflowError

_EXAMPLE = "write e.g. --grid -1,1,201"


def parse_grid(text: str) -> np.ndarray:
    """``"LO,HI,NUM"`` → an (NUM, 1) array of evenly spaced points; one clear line on bad input."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3:
        raise BiasflowError(f"--grid {text}: expected three numbers LO,HI,NUM; {_EXAMPLE}")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise BiasflowError(f"--grid {text}: LO and HI must be numbers; {_EXAMPLE}") from None
    try:
        num = int(parts[2])
    except ValueError:
        raise BiasflowError(f"--grid {text}: NUM must be an integer ≥ 2; {_EXAMPLE}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise BiasflowError(f"--grid {text}: LO and HI must be finite; {_EXAMPLE}")
    if lo >= hi:
        raise BiasflowError(f"--grid {text}: LO must be < HI (got LO = {lo:g}, HI = {hi:g}); {_EXAMPLE}")
    if num < 2:
        raise BiasflowError(f"--grid {text}: NUM must be ≥ 2 (got {num}); {_EXAMPLE}")
    if num > 10_000_000:
        raise BiasflowError(f"--grid {text}: NUM = {num} points is more than 10⁷; use fewer points")
    return np.linspace(lo, hi, num)[:, None]


def load_points(path: str | Path, d: int | None = None) -> np.ndarray:
    """Points from ``.npz`` (array ``X``, n×d) or ``.csv`` (one point per row, no target column)."""
    p = Path(path)
    if not p.exists():
        raise BiasflowError(f"--eval {path}: no such file")
    if p.suffix == ".npz":
        with np.load(p) as z:
            if "X" not in z:
                raise BiasflowError(f"--eval {path}: the .npz file has no array 'X' (arrays: {', '.join(z.files)})")
            X = np.asarray(z["X"], float)
    elif p.suffix == ".csv":
        try:
            X = np.loadtxt(p, delimiter=",", ndmin=2)
        except ValueError as e:
            raise BiasflowError(f"--eval {path}: cannot read the CSV as numbers ({e})") from None
    else:
        raise BiasflowError(f"--eval {path}: use a .npz file with array X or a .csv file of points")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise BiasflowError(f"--eval {path}: expected an (n, d) array of points (got shape {X.shape})")
    if not np.all(np.isfinite(X)):
        raise BiasflowError(f"--eval {path}: the points contain NaN or inf")
    if d is not None and X.shape[1] != d:
        raise BiasflowError(f"--eval {path}: points have dimension {X.shape[1]} but the data have d = {d}")
    return X


def eval_points(grid: str | None, eval_file: str | None, d: int) -> np.ndarray | None:
    """The evaluation points from ``--grid`` (1-D data only) or ``--eval``; None when neither is given."""
    if grid is not None and eval_file is not None:
        raise BiasflowError("give either --grid or --eval, not both")
    if grid is not None:
        if d != 1:
            raise BiasflowError(f"--grid is for 1-D data but the data have d = {d}; pass the points with "
                                f"--eval FILE (.npz with X, or .csv)")
        return parse_grid(grid)
    if eval_file is not None:
        return load_points(eval_file, d)
    return None


def function_json(points: np.ndarray, values) -> dict:
    """``{"x": [...], "f": [...]}`` (x as numbers for 1-D points, as rows otherwise)."""
    P = np.asarray(points, float)
    x = P[:, 0].tolist() if P.ndim == 2 and P.shape[1] == 1 else P.tolist()
    return {"x": x, "f": np.asarray(values, float).reshape(-1).tolist()}


__all__ = ["eval_points", "function_json", "load_points", "parse_grid"]
