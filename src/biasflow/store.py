"""The results store: one tidy table of runs × checkpoints, as Parquet fragments queried with DuckDB.

Layout of a results directory ``DIR``::

    DIR/biasflow-store.json      version stamp {"format": "biasflow-results", "version": 1, ...}
    DIR/runs/<run_id>.parquet    one fragment per finished run (one row per checkpoint)

- **Atomic.** Each fragment is written to a temporary file in ``runs/`` and renamed into place, so a
  crash or a kill mid-sweep loses at most the runs in flight; the store never holds a partial row or a
  half-written file (readers only look at ``*.parquet``).
- **Append-only, resumable.** A run is identified by ``run_id``, a content hash of its configuration
  (:func:`biasflow.sweep.run_id`); :meth:`Store.run_ids` lists the runs already stored.
- **Versioned.** A directory stamped by an incompatible store version, or a non-empty directory that is
  not a store, is refused with a message; it is never overwritten.
- **One writer.** :meth:`Store.lock` takes an exclusive lock on ``DIR/.biasflow.lock`` (``fcntl.flock``,
  released by the system when the process ends, so a killed sweep never leaves a stale lock); a second
  sweep into the same directory is refused with one line naming the process that holds it.
- **Queryable.** :meth:`Store.query` runs DuckDB SQL over all fragments as the table ``results``
  (columns are unified by name, so runs with different metrics can share a store).

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> st = Store(d)
>>> _ = st.append("run-a", [{"alpha": 0.1, "log10_loss": -10.0, "gap_l1": 0.5, "status": "ok"},
...                         {"alpha": 0.1, "log10_loss": -100.0, "gap_l1": 0.2, "status": "ok"}])
>>> _ = st.append("run-b", [{"alpha": 1.0, "log10_loss": -10.0, "gap_l1": 0.7, "status": "ok"}])
>>> st.query("SELECT alpha, min(gap_l1) AS best FROM results GROUP BY alpha ORDER BY alpha")
[{'alpha': 0.1, 'best': 0.2}, {'alpha': 1.0, 'best': 0.7}]
>>> sorted(st.run_ids())
['run-a', 'run-b']
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ._atomic import atomic_path, atomic_write_bytes
from .errors import BiasflowError

FORMAT = "biasflow-results"
STORE_VERSION = 1
"""Bump when the layout or the meaning of columns changes incompatibly; older stores are then refused."""
STAMP = "biasflow-store.json"
RUNS = "runs"
_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")

# Files a results directory may hold besides the store itself (written by sweeps, reports, reproductions).
LOCK = ".biasflow.lock"
_OWN = {
    STAMP, RUNS, LOCK, "figures", "report.html", "sweep.toml", "experiment.json", "sweep.json", "sweeps",
    "configs",
}
_HELD: dict[str, list] = {}  # lock path -> [file descriptor, depth]: re-entrant within one process


def _versions() -> dict[str, str]:
    import duckdb
    import jax

    from . import __version__

    return {
        "biasflow": __version__,
        "jax": jax.__version__,
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
    }


class Store:
    """A results directory (created on first use).

    Args:
        path: the directory.
        create: create the directory and its stamp if absent; with ``False`` a missing store is an error
            (``biasflow results`` on a wrong path).
    """

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        self.runs = self.path / RUNS
        stamp = self.path / STAMP
        if self.path.exists() and not self.path.is_dir():
            raise BiasflowError(
                f"results path {str(self.path)!r} is a file, not a directory; give a directory"
            )
        if stamp.exists():
            self._check_stamp(stamp)
        else:
            if not create:
                raise BiasflowError(
                    f"{str(self.path)!r} is not a biasflow results directory (no {STAMP}); "
                    "give the --out directory of a sweep or reproduction"
                )
            if self.path.exists():
                foreign = sorted(p.name for p in self.path.iterdir() if p.name not in _OWN)
                if foreign:
                    raise BiasflowError(
                        f"{str(self.path)!r} is not empty and is not a biasflow results directory "
                        f"(it holds {', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}); "
                        "choose a new or empty --out directory"
                    )
            self.path.mkdir(parents=True, exist_ok=True)
            meta = {"format": FORMAT, "version": STORE_VERSION, "created": time.time(), **_versions()}
            atomic_write_bytes(stamp, (json.dumps(meta, indent=1) + "\n").encode())
        self.runs.mkdir(exist_ok=True)

    def _check_stamp(self, stamp: Path) -> None:
        try:
            meta = json.loads(stamp.read_text())
        except (OSError, ValueError) as e:
            raise BiasflowError(
                f"{stamp}: unreadable store stamp ({e}); this directory was not written by "
                "this biasflow; choose another --out directory"
            ) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise BiasflowError(f"{stamp}: not a biasflow results stamp; choose another --out directory")
        if meta.get("version") != STORE_VERSION:
            raise BiasflowError(
                f"{self.path} holds a results store of version {meta.get('version')!r} (written by biasflow "
                f"{meta.get('biasflow', '?')}); this biasflow reads version {STORE_VERSION} only. It was "
                "left untouched: choose a new --out directory"
            )
        self.meta = meta

    # ------------------------------------------------------------------------------------------- lock
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's writer lock; refuse at once (one line) if another process holds it.

        Re-entrant within a process (a reproduction locks its directory, then runs sweeps into it).

        >>> import tempfile
        >>> st = Store(tempfile.mkdtemp())
        >>> with st.lock(), st.lock():
        ...     (st.path / LOCK).read_text().split()[0] == str(os.getpid())
        True
        """
        path = str((self.path / LOCK).resolve())
        if path in _HELD:
            _HELD[path][1] += 1
            try:
                yield
            finally:
                _HELD[path][1] -= 1
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _try_lock(fd, path)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        _HELD[path] = [fd, 1]
        try:
            yield
        finally:
            _HELD.pop(path, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the lock

    # ------------------------------------------------------------------------------------------ writes
    def append(self, run_id: str, rows: list[Mapping[str, Any]] | pa.Table) -> Path:
        """Store the rows of one finished run as one fragment, atomically. Returns the fragment path."""
        return self.append_runs({run_id: rows})

    def append_runs(self, runs: Mapping[str, list[Mapping[str, Any]] | pa.Table]) -> Path:
        """Store several runs that finished together (a batch) as ONE fragment, atomically.

        Each row gets its run's ``run_id`` column. Either every run of the batch is stored or none is.
        Batching keeps the number of files small for large sweeps (one fragment per finished batch).
        """
        if not runs:
            raise BiasflowError("nothing to store: no runs given")
        tables, flat, flat_ids = [], [], []
        for run_id, rows in runs.items():
            if not _RUN_ID.match(str(run_id)):
                raise BiasflowError(f"invalid run id {run_id!r}: use letters, digits, '.', '_' or '-'")
            n = rows.num_rows if isinstance(rows, pa.Table) else len(rows)
            if n == 0:
                raise BiasflowError(f"run {run_id}: no rows to store; a run stores at least its status")
            if isinstance(rows, pa.Table):
                t = rows.drop_columns(["run_id"]) if "run_id" in rows.column_names else rows
                tables.append(t.add_column(0, "run_id", pa.array([str(run_id)] * n, pa.string())))
            else:
                flat.extend(rows)
                flat_ids.extend([str(run_id)] * n)
        if flat:
            t = rows_to_table(flat, skip=("run_id",))
            tables.append(t.add_column(0, "run_id", pa.array(flat_ids, pa.string())))
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        ids = sorted(runs)
        tag = ids[0] if len(ids) == 1 else f"{ids[0]}+{len(ids) - 1}-{_digest(ids)}"
        dest = self.runs / f"{tag}.parquet"
        with atomic_path(dest) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return dest

    # ------------------------------------------------------------------------------------------- reads
    def fragments(self) -> list[Path]:
        return sorted(self.runs.glob("*.parquet"))

    def run_ids(self) -> set[str]:
        """Ids of the runs stored (complete fragments only)."""
        if not self.fragments():
            return set()
        return {r["run_id"] for r in self.query("SELECT DISTINCT run_id FROM results")}

    def __len__(self) -> int:
        """Number of runs stored."""
        return len(self.run_ids())

    def connect(self):
        """A DuckDB connection with the view ``results`` over all fragments (an empty table if none)."""
        import duckdb

        con = duckdb.connect(":memory:")
        con.execute("SET threads TO 2")
        if self.fragments():
            glob = str(self.runs / "*.parquet").replace("'", "''")
            try:
                con.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet('{glob}', union_by_name=true)")
            except duckdb.Error as e:
                con.close()
                raise self._unreadable(e) from None
        else:
            con.execute("CREATE VIEW results AS SELECT NULL::VARCHAR AS run_id WHERE false")
        return con

    def query_arrow(self, sql: str) -> pa.Table:
        """Run DuckDB SQL over the table ``results``; returns a pyarrow Table."""
        import duckdb

        con = self.connect()
        try:
            return con.sql(sql).fetch_arrow_table()
        except duckdb.Error as e:
            msg = " ".join(str(e).split())
            if isinstance(e, (duckdb.InvalidInputException, duckdb.IOException)) and ".parquet" in msg:
                raise self._unreadable(e) from None
            raise BiasflowError(
                f"SQL error: {msg}; the table is named 'results' "
                f"(columns: {', '.join(self.columns()) or 'none yet'})"
            ) from None
        finally:
            con.close()

    def query(self, sql: str) -> list[dict]:
        """Run DuckDB SQL over the table ``results``; returns a list of row dicts (JSON-friendly)."""
        return [_clean_row(r) for r in self.query_arrow(sql).to_pylist()]

    def columns(self) -> list[str]:
        frags = self.fragments()
        if not frags:
            return []
        names: dict[str, None] = {}
        for f in frags[:50]:
            try:
                schema = pq.read_schema(f)
            except (pa.ArrowException, OSError) as e:
                raise self._unreadable(e, f) from None
            for n in schema.names:
                names[n] = None
        return list(names)

    def _unreadable(self, err: Exception, fragment: Path | None = None) -> BiasflowError:
        """One line for a fragment that is not Parquet (biasflow writes fragments atomically, so such a
        file was put there by something else, or the disk is damaged)."""
        msg = " ".join(str(err).split()).split(" LINE ")[0][:200]
        named = re.search(r"'([^']+\.parquet)'", msg)
        if fragment is None and named and "*" not in named.group(1):
            fragment = Path(named.group(1))
        where = f"{fragment}" if fragment is not None else f"a file in {self.runs}"
        return BiasflowError(
            f"{where} is not a readable results fragment ({msg}); move it out of {self.runs} "
            "and run the command again"
        )

    def table(self) -> pa.Table:
        """All rows, as one pyarrow Table."""
        return self.query_arrow("SELECT * FROM results")

    def to_pandas(self):  # pragma: no cover - convenience when pandas is installed
        return self.table().to_pandas()


# -------------------------------------------------------------------------------------------- helpers
def _try_lock(fd: int, path: str) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, as before
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = Path(path).read_text().split()
        except OSError:
            holder = []
        who = f"process {holder[0]} on {holder[1]}" if len(holder) >= 2 else "another process"
        directory = str(Path(path).parent)
        raise BiasflowError(
            f"{directory!r} is in use by another biasflow run ({who}); wait for it to finish, or "
            "choose another --out directory"
        ) from None


def rows_to_table(rows: Iterable[Mapping[str, Any]], skip: tuple[str, ...] = ()) -> pa.Table:
    """Rows (dicts) → a pyarrow Table with stable column types.

    Floats stay float64 (missing values are null); ints int64 (float64 when mixed with floats); lists and
    arrays become ``list<double>``; dicts are stored as JSON text.

    >>> rows_to_table([{"a": 1.0, "b": "x"}, {"a": None, "c": [1, 2]}]).to_pylist()
    [{'a': 1.0, 'b': 'x', 'c': None}, {'a': None, 'b': None, 'c': [1.0, 2.0]}]
    """
    rows = list(rows)
    if not rows:
        return pa.table({})
    every = set().union(*(r.keys() for r in rows)) - set(skip)
    keys = [k for k in rows[0] if k in every]
    keys += sorted(every - set(keys), key=str)
    return pa.table({k: _array([r.get(k) for r in rows]) for k in keys})


_NONE = type(None)


def _array(vals: list) -> pa.Array:
    kinds = {type(v) for v in vals}
    kinds.discard(_NONE)
    if not kinds:
        return pa.array(vals, pa.float64())
    if kinds == {float}:
        return pa.array(vals, pa.float64())
    if kinds == {str}:
        return pa.array(vals, pa.string())
    if not kinds <= {float, int, bool, str, list}:
        vals = [_cell(v) for v in vals]
        kinds = {type(v) for v in vals}
        kinds.discard(_NONE)
    if kinds <= {bool}:
        return pa.array(vals, pa.bool_())
    if kinds <= {int}:
        return pa.array(vals, pa.int64())
    if kinds <= {int, float, bool}:
        return pa.array([None if v is None else float(v) for v in vals], pa.float64())
    if kinds <= {list}:
        return pa.array([None if v is None else [float(x) for x in v] for v in vals], pa.list_(pa.float64()))
    return pa.array(
        [None if v is None else (v if isinstance(v, str) else json.dumps(v, default=str)) for v in vals],
        pa.string(),
    )


def _cell(v):
    if isinstance(v, np.ndarray):
        return [float(x) for x in v.ravel()]
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def _clean_row(r: dict) -> dict:
    out = {}
    for k, v in r.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        out[k] = v
    return out


def _digest(ids: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
