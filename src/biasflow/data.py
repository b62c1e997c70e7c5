"""Datasets: validated (X, y) pairs, file loaders, generators and built-in sets.

Conventions (docs/theory/conventions.md §1): ``X`` is n×d float64 with rows x_i; for classification
``y ∈ {±1}ⁿ`` and the signed data matrix is X̃ = diag(y) X; for regression ``y ∈ Rⁿ`` and A = X.
:attr:`Dataset.A` is that matrix, so that margins (classification) or predictions (regression) are ``A @ beta``.

>>> ds = gaussian(n=10, d=30, k=1, seed=0)
>>> ds.n, ds.d, ds.task
(10, 30, 'classification')
>>> bool(np.all(ds.A @ np.eye(30)[0] > 0))   # y = sign(x_1): the first coordinate separates
True
"""

from __future__ import annotations

import dataclasses
import io
import sys
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import BiasflowError

Task = Literal["classification", "regression"]
TASKS = ("classification", "regression")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A validated data set. Build with :func:`make_dataset`, a loader, a generator or :func:`builtin`.

    Attributes:
        X: (n, d) float64 inputs.
        y: (n,) float64 labels (±1 for classification) or targets.
        task: ``"classification"`` or ``"regression"``.
        name: a short label used in reports.
    """

    X: np.ndarray
    y: np.ndarray
    task: Task
    name: str = "data"

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, task={self.task!r}, n={self.n}, d={self.d})"

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def A(self) -> np.ndarray:
        """X̃ = diag(y)X for classification, X for regression (docs/theory/conventions.md §1)."""
        return self.y[:, None] * self.X if self.task == "classification" else self.X

    def split(self, n_train: int, seed: int = 0) -> tuple[Dataset, Dataset]:
        """A random train/test split (test error on held-out data)."""
        if not 0 < n_train < self.n:
            raise BiasflowError(f"n_train must be in 1..{self.n - 1} (got {n_train})")
        perm = np.random.default_rng(seed).permutation(self.n)
        a, b = perm[:n_train], perm[n_train:]
        return (
            Dataset(self.X[a], self.y[a], self.task, self.name + ":train"),
            Dataset(self.X[b], self.y[b], self.task, self.name + ":test"),
        )


def make_dataset(
    X, y, task: Task = "classification", name: str = "data", where: str = "data", lines=None
) -> Dataset:
    """Validate and build a :class:`Dataset`; every problem is one clear :class:`BiasflowError`.

    Labels {0, 1} are converted to {−1, +1} for classification, with a notice on stderr. Problems are
    located as Python indices (``X[i, j]``, ``y[i]``) for arrays, or as 1-based file lines when ``lines``
    (the file line of each row) is given by a loader.

    >>> make_dataset([[1.0, 2.0]], [0.5]).y
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: data: classification labels must be -1/+1 (or 0/1); found 0.5 at y[0]. ...
    >>> make_dataset([[1.0], [2.0], [3.0]], [0, 1, 2])
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: data: y has 3 classes (0, 1, 2); biasflow classifies two classes ...
    """
    if task not in TASKS:
        raise BiasflowError(f"{where}: unknown task {task!r}; use one of {', '.join(TASKS)}")

    def at(i: int, j: int | None = None) -> str:
        if lines is not None:
            return f"line {lines[i]}" + ("" if j is None else f", column {j + 1}")
        return f"y[{i}]" if j is None else f"X[{i}, {j}]"

    for arr_name, arr in (("X", X), ("y", y)):
        try:
            kind = np.asarray(arr).dtype.kind
        except (TypeError, ValueError):  # ragged: reported by the conversion below
            kind = "f"
        if kind not in "biufO":  # object arrays (e.g. from pandas) are fine when their entries are numbers
            what = {"c": "complex", "U": "text", "S": "bytes", "O": "object", "M": "date", "m": "time"}
            raise BiasflowError(
                f"{where}: {arr_name} holds {what.get(kind, kind)} values; it must hold real numbers"
            )
    try:
        X = np.array(X, dtype=np.float64)
        y = np.array(y, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise BiasflowError(f"{where}: X and y must hold real numbers ({e})") from None
    if X.ndim != 2:
        raise BiasflowError(f"{where}: X must be a 2-D array (n × d); got shape {X.shape}")
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise BiasflowError(f"{where}: y must be a 1-D array of length n; got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise BiasflowError(
            f"{where}: X has {X.shape[0]} rows but y has {y.shape[0]} entries; they must match"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise BiasflowError(f"{where}: empty data (X has shape {X.shape}); need n ≥ 1 and d ≥ 1")
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise BiasflowError(
            f"{where}: X has a non-finite value ({X[i, j]}) at {at(i, j)}; remove or impute it"
        )
    bad_y = np.flatnonzero(~np.isfinite(y))
    if bad_y.size:
        i = int(bad_y[0])
        raise BiasflowError(f"{where}: y has a non-finite value ({y[i]}) at {at(i)}; remove or impute it")
    if task == "classification":
        classes = np.unique(y)
        values = set(classes.tolist())
        if values <= {0.0, 1.0} and 0.0 in values:
            print(f"notice: {where}: labels 0/1 converted to -1/+1", file=sys.stderr)
            y = 2.0 * y - 1.0
        elif classes.size > 2:
            shown = ", ".join(f"{v:g}" for v in classes[:5]) + (", …" if classes.size > 5 else "")
            raise BiasflowError(
                f"{where}: y has {classes.size} classes ({shown}); biasflow classifies two classes "
                "(labels -1/+1 or 0/1): keep two of them (one-vs-one), or use the square loss for "
                "real-valued targets"
            )
        elif not values <= {-1.0, 1.0}:
            i = int(np.flatnonzero((y != 1.0) & (y != -1.0))[0])
            raise BiasflowError(
                f"{where}: classification labels must be -1/+1 (or 0/1); found {y[i]:g} at {at(i)}. "
                "For real-valued targets use the square loss (regression)"
            )
    X.setflags(write=False)
    y.setflags(write=False)
    return Dataset(X=X, y=y, task=task, name=name)


# ----------------------------------------------------------------------------------------------- loaders
def load(path: str | Path, task: Task = "classification") -> Dataset:
    """Load ``.npz`` (arrays ``X`` and ``y``), ``.csv`` (last column is y; a header row is allowed) or
    ``.parquet`` (last column is y)."""
    p = Path(path)
    if not p.exists():
        raise BiasflowError(
            f"data file {str(p)!r} not found; give an existing .npz/.csv/.parquet file or a built-in set "
            f"({', '.join(BUILTINS)})"
        )
    if p.is_dir():
        raise BiasflowError(f"data path {str(p)!r} is a directory; give a .npz, .csv or .parquet file")
    suffix = p.suffix.lower()
    lines = None
    try:
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                missing = [k for k in ("X", "y") if k not in z.files]
                if missing:
                    raise BiasflowError(
                        f"{p}: .npz file lacks array(s) {', '.join(missing)}; it must hold 'X' (n×d) and 'y' (n)"
                    )
                X, y = z["X"], z["y"]
        elif suffix == ".csv":
            X, y, lines = _read_csv(p)
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(p)
            if table.num_columns < 2:
                raise BiasflowError(f"{p}: need at least two columns (features…, y)")
            arr = np.column_stack([np.asarray(c.to_numpy(), dtype=np.float64) for c in table.columns])
            X, y = arr[:, :-1], arr[:, -1]
        else:
            raise BiasflowError(f"{p}: unknown data format {suffix!r}; use .npz, .csv or .parquet")
    except BiasflowError:
        raise
    except PermissionError:
        raise BiasflowError(f"{p}: permission denied; make the data file readable") from None
    except Exception as e:  # noqa: BLE001 - empty, truncated or foreign files raise many kinds of errors
        kind = {".npz": "a NumPy .npz archive with arrays X and y", ".csv": "a CSV file of numbers",
                ".parquet": "a Parquet table of numbers (last column y)"}[suffix]
        what = "the file is empty" if p.stat().st_size == 0 else f"{type(e).__name__}: {e}".splitlines()[0]
        raise BiasflowError(
            f"{p}: cannot read data file ({what}); it must be {kind}"
        ) from None
    return make_dataset(X, y, task=task, name=p.stem, where=str(p), lines=lines)


def _read_csv(p: Path) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Rows of a CSV file and the 1-based file line of each row (blank lines and a header skipped)."""
    text = p.read_text()
    numbered = [(k, ln) for k, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not numbered:
        raise BiasflowError(f"{p}: empty CSV file; it must hold rows of numbers (features…, y)")
    start = 0
    try:
        [float(v) for v in numbered[0][1].split(",")]
    except ValueError:
        start = 1  # header row
    rows = []
    width = None
    line_of = []
    for k, ln in numbered[start:]:
        line_of.append(k)
        cells = ln.split(",")
        if width is None:
            width = len(cells)
        if len(cells) != width:
            raise BiasflowError(f"{p}: line {k} has {len(cells)} columns, expected {width}")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            bad = next(c for c in cells if not _is_float(c))
            col = cells.index(bad) + 1
            raise BiasflowError(f"{p}: line {k}, column {col}: cannot read {bad.strip()!r} as a number") from None
    if width is None or width < 2:
        raise BiasflowError(f"{p}: need at least two columns (features…, y)")
    arr = np.array(rows, dtype=np.float64)
    return arr[:, :-1], arr[:, -1], line_of


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def save(ds: Dataset, path: str | Path) -> None:
    """Write a data set as ``.npz`` or ``.csv`` (last column y)."""
    p = Path(path)
    if p.suffix == ".npz":
        np.savez(p, X=ds.X, y=ds.y)
    elif p.suffix == ".csv":
        buf = io.StringIO()
        np.savetxt(buf, np.column_stack([ds.X, ds.y]), delimiter=",", fmt="%.17g")
        p.write_text(buf.getvalue())
    else:
        raise BiasflowError(f"{p}: unknown data format {p.suffix!r}; use .npz or .csv")


# -------------------------------------------------------------------------------------------- generators
def gaussian(
    n: int = 10,
    d: int = 30,
    k: int = 1,
    *,
    task: Task = "classification",
    noise: float = 0.0,
    flip: float = 0.0,
    seed: int = 0,
) -> Dataset:
    """Gaussian inputs X ~ N(0, I) with a k-sparse teacher β* (ones on the first k coordinates).

    - classification: y = sign(Xβ*), then a fraction ``flip`` of labels flipped (non-separable when
      n > d or flips conflict; use :func:`non_separable` for a guaranteed case);
    - regression: y = Xβ* + noise·N(0, 1).
    """
    if n < 1 or d < 1 or not 1 <= k <= d:
        raise BiasflowError(f"gaussian data needs n ≥ 1, d ≥ 1 and 1 ≤ k ≤ d (got n={n}, d={d}, k={k})")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    teacher = np.zeros(d)
    teacher[:k] = 1.0
    f = X @ teacher
    if task == "classification":
        y = np.where(f >= 0, 1.0, -1.0)
        if flip > 0:
            idx = rng.choice(n, size=int(round(flip * n)), replace=False)
            y[idx] *= -1
    else:
        y = f + noise * rng.standard_normal(n)
    return make_dataset(X, y, task=task, name=f"gaussian-n{n}-d{d}-k{k}")


def non_separable(ds: Dataset, index: int = 0) -> Dataset:
    """Append a copy of point ``index`` with its label flipped: never linearly separable
    (docs/theory/oracles.md §8.20)."""
    if ds.task != "classification":
        raise BiasflowError("non_separable needs a classification data set")
    X = np.vstack([ds.X, ds.X[index : index + 1]])
    y = np.concatenate([ds.y, -ds.y[index : index + 1]])
    return make_dataset(X, y, task="classification", name=ds.name + "+flipped")


def digits(classes: tuple[int, int] = (0, 1), n: int | None = None, seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (UCI), two classes, standardized per pixel (constant pixels
    dropped); label +1 for ``classes[0]``, −1 for ``classes[1]``. Ships with biasflow (1797 images)."""
    a, b = classes
    if a == b or not {a, b} <= set(range(10)):
        raise BiasflowError(f"digits classes must be two different digits 0..9 (got {classes})")
    with resources.files("biasflow.datasets").joinpath("digits.npz").open("rb") as fh:
        with np.load(fh) as z:
            X, t = z["X"].astype(np.float64), z["y"].astype(int)
    keep = (t == a) | (t == b)
    X, t = X[keep], t[keep]
    if n is not None:
        if not 1 <= n <= len(t):
            raise BiasflowError(f"digits {classes}: n must be in 1..{len(t)} (got {n})")
        idx = np.sort(np.random.default_rng(seed).choice(len(t), size=n, replace=False))
        X, t = X[idx], t[idx]
    sd = X.std(axis=0)
    X = (X[:, sd > 0] - X[:, sd > 0].mean(axis=0)) / sd[sd > 0]
    y = np.where(t == a, 1.0, -1.0)
    return make_dataset(X, y, task="classification", name=f"digits-{a}v{b}")


BUILTINS = {
    "sparse": lambda: gaussian(n=10, d=30, k=1, seed=0),
    "sparse-regression": lambda: gaussian(n=20, d=60, k=3, task="regression", seed=0),
    "digits": lambda: digits((0, 1), n=100, seed=0),
    "digits-3v8": lambda: digits((3, 8), n=100, seed=0),
}
"""Built-in data sets, by name: ``sparse`` (n=10, d=30, y =
sign(x₁), docs/theory/oracles.md §8.15), ``sparse-regression``
(n=20, d=60, 3-sparse teacher), ``digits`` (100 images of 0 vs 1) and ``digits-3v8``."""


def builtin(name: str) -> Dataset:
    """A built-in data set by name (see :data:`BUILTINS`)."""
    if name not in BUILTINS:
        raise BiasflowError(f"unknown built-in data set {name!r}; choose one of {', '.join(BUILTINS)}")
    return BUILTINS[name]()


def resolve(spec: str | Path, task: Task | None = None) -> Dataset:
    """A data set from a CLI ``--data`` value: a file path, or a built-in name (optionally ``builtin:NAME``).

    ``task`` overrides the file's default task (classification); built-ins carry their own task.
    """
    s = str(spec)
    name = s.removeprefix("builtin:")
    if s.startswith("builtin:") or (name in BUILTINS and not Path(s).exists()):
        ds = builtin(name)
        if task is not None and task != ds.task:
            ds = make_dataset(ds.X, ds.y, task=task, name=ds.name, where=s)
        return ds
    return load(s, task=task or "classification")


def fingerprint(data: Dataset) -> dict:
    """Identity of a data set: sha256 over X's and y's bytes (C order) with their shapes and dtypes.

    Stored in every result (flow/descent JSON, sweep rows) so that a result is never compared with other
    data by mistake.

    >>> a, b = gaussian(n=5, d=3, seed=0), gaussian(n=5, d=3, seed=1)
    >>> fingerprint(a) == fingerprint(a), fingerprint(a)["sha256"] == fingerprint(b)["sha256"]
    (True, False)
    """
    import hashlib

    X = np.ascontiguousarray(np.asarray(data.X))
    y = np.ascontiguousarray(np.asarray(data.y))
    h = hashlib.sha256()
    for arr in (X, y):
        h.update(f"{arr.shape}|{arr.dtype.str}|".encode())
        h.update(arr.tobytes())
    return {"sha256": h.hexdigest(), "shape": [int(s) for s in X.shape], "dtype": X.dtype.str, "task": data.task}
