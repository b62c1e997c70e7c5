"""Matrix-valued tasks: matrix completion, matrix sensing, and vector regression as the 1-column case.

A task observes n linear measurements b_i = ⟨A_i, W*⟩ of an m×k matrix and the square loss is the MEAN
over the measurements (the convention of the rest of biasflow):

    ℒ(W) = (1/2n) Σ_i (⟨A_i, W⟩ − b_i)²,        ∇ℒ(W) = (1/n) Σ_i r_i A_i,   r_i = ⟨A_i, W⟩ − b_i.

- **completion**: A_i = e_a e_cᵀ for the observed entries (a, c) ∈ Ω, given by a boolean ``mask`` (m×k)
  and ``values`` (m×k, read only where the mask is true); ∇ℒ = mask ∘ (W − values)/n.
- **sensing**: dense ``A`` (n×m×k) and ``b`` (n).
- **vector**: a regression data set (X, y) is sensing with A_i = x_i as a d×1 matrix.

Files are ``.npz`` with ``mask`` + ``values`` (completion) or ``A`` + ``b`` (sensing); an optional
``truth`` (m×k) is the matrix to recover (for test errors on the unobserved entries).

(Menon 2024 writes E = ½Σ(W_ij − b_ij)², the sum; gradient descent with rate η on E is rate η·n here.)

>>> t = menon_2x2()
>>> t.kind, t.n, t.shape
('completion', 2, (2, 2))
>>> float(t.loss(np.array([[1.0, 5.0], [-3.0, 1.0]])))
0.0
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from .errors import BiasflowError

KINDS = ("completion", "sensing", "vector")


@dataclasses.dataclass(frozen=True, eq=False)
class MatrixTask:
    """A validated matrix task; build with :func:`completion`, :func:`sensing`, :func:`from_dataset`,
    :func:`load_task` or a generator.

    Attributes:
        kind: ``completion``, ``sensing`` or ``vector``.
        shape: (m, k) of the end-to-end matrix.
        mask, values: completion only (bool m×k, float m×k with zeros off the mask).
        A, b: the measurements (n×m×k, n); for completion A is None (the mask stands for it).
        truth: the matrix to recover, if known (test error on the unobserved entries).
        name: a label for reports.
    """

    kind: str
    shape: tuple[int, int]
    b: np.ndarray
    mask: np.ndarray | None = None
    values: np.ndarray | None = None
    A: np.ndarray | None = None
    truth: np.ndarray | None = None
    name: str = "task"

    @property
    def n(self) -> int:
        return int(self.b.shape[0])

    def measure(self, W) -> np.ndarray:
        """⟨A_i, W⟩ for each measurement (n,)."""
        W = np.asarray(W, dtype=np.float64).reshape(self.shape)
        if self.kind == "completion":
            return W[self.mask]
        return np.tensordot(self.A, W, axes=([1, 2], [0, 1]))

    def residual(self, W) -> np.ndarray:
        return self.measure(W) - self.b

    def loss(self, W) -> float:
        """ℒ(W) = (1/2n) Σ r_i²."""
        r = self.residual(W)
        return float(0.5 * np.dot(r, r) / self.n)

    def log10_loss(self, W) -> float:
        """log10 ℒ(W), −inf at an exact fit."""
        r = self.residual(W)
        big = float(np.max(np.abs(r))) if r.size else 0.0
        if big == 0.0:
            return -math.inf
        if not math.isfinite(big):
            return math.inf
        s = float(np.dot(r / big, r / big))           # scaled: no overflow or underflow
        return 2.0 * math.log10(big) + math.log10(0.5 * s / self.n)

    def grad(self, W) -> np.ndarray:
        """∇ℒ(W) = (1/n) Σ r_i A_i (m×k)."""
        W = np.asarray(W, dtype=np.float64).reshape(self.shape)
        if self.kind == "completion":
            return np.where(self.mask, W - self.values, 0.0) / self.n
        r = self.residual(W)
        return np.tensordot(r, self.A, axes=(0, 0)) / self.n

    def operator(self) -> np.ndarray:
        """The n×(mk) matrix of the measurement map on row-major vec(W)."""
        m, k = self.shape
        if self.kind == "completion":
            idx = np.flatnonzero(self.mask.ravel())
            M = np.zeros((idx.size, m * k))
            M[np.arange(idx.size), idx] = 1.0
            return M
        return self.A.reshape(self.n, m * k)

    def level0_log10(self) -> float:
        """log10 of ℒ(0) = (1/2n)‖b‖² (−inf when b = 0)."""
        s = float(np.dot(self.b, self.b))
        return math.log10(0.5 * s / self.n) if s > 0 else -math.inf

    def floor_log10(self) -> float | None:
        """log10 of the least-squares floor min_W ℒ(W) over ALL m×k matrices, or None when it is 0
        (relative to ‖b‖, below 1e-24 counts as 0)."""
        if self.kind == "completion":
            return None
        M = self.operator()
        x, *_ = np.linalg.lstsq(M, self.b, rcond=None)
        r = M @ x - self.b
        s = 0.5 * float(r @ r) / self.n
        ref = 0.5 * float(self.b @ self.b) / self.n
        if s <= 1e-24 * max(ref, 1e-300):
            return None
        return math.log10(s)

    def test_error(self, W) -> float | None:
        """Relative error on the unobserved entries ‖P_Ωᶜ(W − truth)‖/‖P_Ωᶜ(truth)‖ (completion with a
        known truth), or ‖W − truth‖/‖truth‖ for other tasks; None without a truth."""
        if self.truth is None:
            return None
        W = np.asarray(W, dtype=np.float64).reshape(self.shape)
        if self.kind == "completion":
            off = ~self.mask
            den = float(np.linalg.norm(self.truth[off]))
            num = float(np.linalg.norm((W - self.truth)[off]))
        else:
            den = float(np.linalg.norm(self.truth))
            num = float(np.linalg.norm(W - self.truth))
        return num / den if den > 0 else num

    def config(self) -> dict:
        return {"task": self.kind, "rows": int(self.shape[0]), "cols": int(self.shape[1]), "n_obs": self.n,
                "data": self.name}

    def save(self, path: str | Path) -> None:
        """Write the task as ``.npz`` (readable by :func:`load_task`)."""
        arrays = {}
        if self.kind == "completion":
            arrays.update(mask=self.mask, values=self.values)
        else:
            arrays.update(A=self.A, b=self.b)
        if self.truth is not None:
            arrays["truth"] = self.truth
        np.savez(path, **arrays)


# ------------------------------------------------------------------------------------------ constructors
def _finite(a: np.ndarray, what: str, where: str) -> None:
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        raise BiasflowError(f"{where}: {what} has a non-finite value at index {tuple(int(i) for i in bad[0])}; "
                            "remove or impute it")


def completion(mask, values, *, truth=None, name: str = "completion", where: str = "data") -> MatrixTask:
    """A completion task from a boolean ``mask`` and ``values`` of the same shape (read where mask is true).

    >>> completion([[True, False]], [[1.0, np.nan]]).b
    array([1.])
    >>> completion([[True, False]], [[1.0, 2.0, 3.0]])
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: data: the mask has shape (1, 2) but values has shape (1, 3); they must match
    """
    try:
        mask = np.asarray(mask)
        values = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise BiasflowError(f"{where}: mask and values must be numeric arrays ({e})") from None
    if mask.ndim == 1:
        mask, values = mask[:, None], (values[:, None] if values.ndim == 1 else values)
    if mask.shape != values.shape:
        raise BiasflowError(f"{where}: the mask has shape {mask.shape} but values has shape {values.shape}; "
                            "they must match")
    if mask.ndim != 2:
        raise BiasflowError(f"{where}: the mask must be an m×k matrix (got {mask.ndim} dimensions)")
    if mask.dtype != bool:
        if not np.all(np.isin(mask, (0, 1))):
            raise BiasflowError(f"{where}: the mask must be boolean (or 0/1)")
        mask = mask.astype(bool)
    if not mask.any():
        raise BiasflowError(f"{where}: the mask has no observed entries; mark at least one entry true")
    _finite(np.where(mask, values, 0.0), "values (where the mask is true)", where)
    values = np.where(mask, values, 0.0)
    if truth is not None:
        truth = np.array(truth, dtype=np.float64)
        if truth.shape != mask.shape:
            raise BiasflowError(f"{where}: truth has shape {truth.shape} but the mask is {mask.shape}")
        _finite(truth, "truth", where)
    mask.setflags(write=False)
    values.setflags(write=False)
    return MatrixTask(kind="completion", shape=tuple(int(s) for s in mask.shape), b=values[mask].copy(),
                      mask=mask, values=values, truth=truth, name=name)


def sensing(A, b, *, truth=None, name: str = "sensing", where: str = "data", kind: str = "sensing") -> MatrixTask:
    """A sensing task ⟨A_i, W⟩ = b_i from ``A`` (n×m×k) and ``b`` (n)."""
    try:
        A = np.array(A, dtype=np.float64)
        b = np.array(b, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise BiasflowError(f"{where}: A and b must be numeric arrays ({e})") from None
    if A.ndim != 3:
        raise BiasflowError(f"{where}: A must be an n×m×k array of measurement matrices (got shape {A.shape})")
    if A.shape[0] != b.shape[0]:
        raise BiasflowError(f"{where}: A has {A.shape[0]} measurements but b has {b.shape[0]}; they must match")
    if A.shape[0] == 0 or A.shape[1] == 0 or A.shape[2] == 0:
        raise BiasflowError(f"{where}: empty measurements (A has shape {A.shape})")
    _finite(A, "A", where)
    _finite(b, "b", where)
    if truth is not None:
        truth = np.array(truth, dtype=np.float64)
        if truth.shape != A.shape[1:]:
            raise BiasflowError(f"{where}: truth has shape {truth.shape} but A_i is {A.shape[1:]}")
    return MatrixTask(kind=kind, shape=(int(A.shape[1]), int(A.shape[2])), b=b, A=A, truth=truth, name=name)


def from_dataset(ds) -> MatrixTask:
    """A regression :class:`~biasflow.data.Dataset` as the 1-column case: A_i = x_i (d×1), b = y."""
    if getattr(ds, "task", None) != "regression":
        raise BiasflowError("the matrix model fits regression data (square loss); use --task regression")
    X = np.asarray(ds.X, dtype=np.float64)
    return sensing(X[:, :, None], ds.y, name=getattr(ds, "name", "data"), kind="vector")


def load_task(path: str | Path) -> MatrixTask:
    """Read a ``.npz`` with ``mask`` + ``values`` (completion) or ``A`` + ``b`` (sensing)."""
    p = Path(path)
    where = f"data file {str(p)!r}"
    if not p.exists():
        raise BiasflowError(f"{where} not found; give an .npz with mask+values or A+b")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 — any unreadable file is one line
        raise BiasflowError(f"{where} could not be read as .npz ({type(e).__name__}: {e})") from None
    truth = arrays.get("truth")
    if "mask" in arrays or "values" in arrays:
        if not ("mask" in arrays and "values" in arrays):
            raise BiasflowError(f"{where}: a completion file needs both 'mask' and 'values'")
        return completion(arrays["mask"], arrays["values"], truth=truth, name=p.stem, where=where)
    if "A" in arrays and "b" in arrays:
        return sensing(arrays["A"], arrays["b"], truth=truth, name=p.stem, where=where)
    raise BiasflowError(f"{where}: expected arrays 'mask' and 'values' (completion) or 'A' and 'b' (sensing); "
                        f"found {', '.join(sorted(arrays)) or 'none'}")


# ------------------------------------------------------------------------------------------- generators
def menon_2x2() -> MatrixTask:
    """2×2 completion observing W₁₁ = W₂₂ = 1 (Menon 2024; Cohen, Menon & Veraszto 2023): the zero-loss
    set is {[[1, a], [b, 1]]}, rank 1 on the hyperbola ab = 1."""
    mask = np.array([[True, False], [False, True]])
    return completion(mask, np.eye(2), name="menon-2x2")


def menon_3x3() -> MatrixTask:
    """3×3 completion with a unique rank-2 completion, the analogue of Cohen, Menon & Veraszto's rank-2
    example: the truth [[1, 0, 1], [0, 1, 1], [1, 1, 2]] (third row = first + second) observed everywhere
    but at (1, 3) and (3, 2). The completions [[1, 0, x], [0, 1, 1], [1, z, 2]] have det = 2 − x − z, so
    the rank-2 ones form the line x + z = 2 and the observed top-left block I₂ rules out rank 1."""
    truth = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.0]])
    mask = np.ones((3, 3), dtype=bool)
    mask[0, 2] = mask[2, 1] = False
    return completion(mask, truth, truth=truth, name="menon-3x3")


def low_rank_completion(m: int, k: int, rank: int, fraction: float, seed: int = 0,
                        frobenius: float | None = None) -> MatrixTask:
    """Completion of a random rank-``rank`` m×k matrix (Gaussian factors, scaled to Frobenius norm
    ``frobenius``, default √(mk) so entries are O(1)) from a uniformly random ``fraction`` of its entries
    (Arora et al. 2019)."""
    if not (1 <= rank <= min(m, k)):
        raise BiasflowError(f"rank must be in 1..{min(m, k)} (got {rank})")
    if not (0 < fraction <= 1):
        raise BiasflowError(f"fraction must be in (0, 1] (got {fraction})")
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, k))
    truth *= (math.sqrt(m * k) if frobenius is None else float(frobenius)) / np.linalg.norm(truth)
    n_obs = max(1, int(round(fraction * m * k)))
    idx = rng.choice(m * k, size=n_obs, replace=False)
    mask = np.zeros(m * k, dtype=bool)
    mask[idx] = True
    mask = mask.reshape(m, k)
    return completion(mask, np.where(mask, truth, 0.0), truth=truth,
                      name=f"lowrank-{m}x{k}-r{rank}-p{fraction:g}-s{seed}")


BUILTIN_TASKS = ("menon-2x2", "menon-3x3", "lowrank")


def _lowrank_spec(text: str) -> MatrixTask:
    """``lowrank:m=30,k=30,rank=3,fraction=0.35,seed=1`` (defaults 30, m, 3, 0.35, 0; Frobenius norm √rank)."""
    opts = {"m": 30, "k": None, "rank": 3, "fraction": 0.35, "seed": 0}
    body = text.split(":", 1)[1] if ":" in text else ""
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, _, val = part.partition("=")
        if key not in opts or not val:
            raise BiasflowError(f"--data {text}: unknown or empty option {part!r}; use m, k, rank, fraction, seed")
        try:
            opts[key] = float(val) if key == "fraction" else int(val)
        except ValueError:
            raise BiasflowError(f"--data {text}: {key} must be a number (got {val!r})") from None
    k = opts["k"] or opts["m"]
    return low_rank_completion(opts["m"], k, opts["rank"], opts["fraction"], seed=opts["seed"],
                               frobenius=math.sqrt(opts["rank"]))


def is_matrix_spec(spec) -> bool:
    """True when ``--data`` names a matrix task: a built-in matrix task or an ``.npz`` with mask/values or A/b
    (vector data sets are read by :func:`biasflow.data.resolve`)."""
    text = str(spec)
    if text in ("menon-2x2", "menon-3x3", "lowrank") or text.startswith("lowrank:"):
        return True
    p = Path(text)
    if p.suffix.lower() != ".npz" or not p.is_file():
        return False
    try:
        with np.load(p, allow_pickle=False) as z:
            return bool(set(z.files) & {"mask", "values", "A"})
    except Exception:  # noqa: BLE001 — unreadable files are reported by the loader that reads them
        return False


def resolve_task(spec: str) -> MatrixTask:
    """A matrix task from ``--data``: an ``.npz`` with mask+values or A+b, a built-in (``menon-2x2``,
    ``menon-3x3``, ``lowrank:m=30,rank=3,fraction=0.35,seed=1``), or any regression data set of
    :func:`biasflow.data.resolve` as the 1-column case.

    >>> resolve_task("menon-2x2").shape
    (2, 2)
    >>> resolve_task("lowrank:m=6,rank=2,fraction=0.5").n
    18
    """
    text = str(spec)
    if text == "menon-2x2":
        return menon_2x2()
    if text == "menon-3x3":
        return menon_3x3()
    if text == "lowrank" or text.startswith("lowrank:"):
        return _lowrank_spec(text)
    p = Path(text)
    if p.suffix.lower() == ".npz" and p.exists():
        with np.load(p, allow_pickle=False) as z:
            names = set(z.files)
        if names & {"mask", "values", "A", "b"}:
            return load_task(p)
    from .data import resolve

    return from_dataset(resolve(text, task="regression"))


__all__ = [
    "BUILTIN_TASKS", "KINDS", "MatrixTask", "completion", "from_dataset", "is_matrix_spec", "load_task",
    "low_rank_completion", "menon_2x2", "menon_3x3", "resolve_task", "sensing",
]
