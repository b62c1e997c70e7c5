"""Executing sweeps: :func:`run_sweep` in-process or on Dask, scheduler connection, :func:`sweep_rows`."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import re
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import BiasflowError
from .config import SweepConfig
from .plan import config_id, expand, make_batches, parse_config
from .runs import Rows, Runner, failure_row, run_batch


# ------------------------------------------------------------------------------------------- executors
@dataclasses.dataclass
class SweepSummary:
    """What a sweep did."""

    out: str
    runs: int
    executed: int
    skipped: int
    failed: int
    rows: int
    seconds: float
    scheduler: str
    statuses: dict

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def prepare(
    cfg: SweepConfig,
    out: str | Path,
    *,
    resume: bool = False,
    text: str | None = None,
    new_config: bool = False,
):
    """Open the store and decide which runs remain.

    Refuses a non-empty store without ``resume``, and (with ``resume``) a configuration whose identity
    (:func:`~biasflow.sweep.plan.config_id`) the store has not seen, unless ``new_config``.
    """
    from ..store import Store

    specs = expand(cfg, text)
    store = Store(out)
    done = store.run_ids()
    if done and not resume:
        mine = sum(s["run_id"] in done for s in specs)
        raise BiasflowError(
            f"{out} already holds {len(done)} stored run(s) ({mine} of this sweep's {len(specs)}); "
            "pass --resume to skip stored runs, or choose a new --out directory"
        )
    if done and not new_config and "config_id" in store.columns():
        ident = config_id(cfg)
        seen = [
            r["config_id"]
            for r in store.query("SELECT DISTINCT config_id FROM results WHERE config_id IS NOT NULL")
        ]
        if seen and ident not in seen:
            names = store.query("SELECT DISTINCT sweep FROM results") if "sweep" in store.columns() else []
            called = ", ".join(repr(r["sweep"]) for r in names if r.get("sweep")) or "another sweep"
            raise BiasflowError(
                f"{out} holds the runs of {called} with another configuration (config {', '.join(seen)}; "
                f"this one is {ident}): pass --new-config to add this configuration to the same store, "
                "or choose a new --out directory"
            )
    todo = [s for s in specs if s["run_id"] not in done]
    return store, specs, todo


def run_sweep(
    cfg: SweepConfig,
    out: str | Path,
    *,
    scheduler: str | None = None,
    resume: bool = False,
    text: str | None = None,
    runner: Runner | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    workers: int = 2,
    client=None,
    new_config: bool = False,
) -> SweepSummary:
    """Run a sweep into results directory ``out``.

    Args:
        cfg: the validated config (:func:`load_config` / :func:`parse_config`).
        out: the results directory (a :class:`biasflow.store.Store`).
        scheduler: ``None`` (in-process), ``"local"`` (a Dask ``LocalCluster`` of ``workers`` processes)
            or ``"tcp://host:port"`` (an existing Dask scheduler).
        resume: skip runs whose ``run_id`` is already stored.
        runner: the batch function (default :func:`run_batch`); each returns ``[(run_id, rows), ...]``.
        on_progress: called as ``on_progress(done, total, info)`` after each stored batch.
        workers: worker processes for ``scheduler="local"``.
        client: an existing ``distributed.Client`` to use instead of ``scheduler`` (left open).
        new_config: with ``resume``, accept a configuration the store has not seen (its rows carry
            their own ``config_id``); without it such a resume is refused.

    The results directory is locked for the whole sweep (:meth:`biasflow.store.Store.lock`): a second
    sweep into it is refused while this one runs.
    """

    t0 = time.perf_counter()
    runner = runner or run_batch
    own = client is None
    if client is None:
        client = _connect(scheduler, workers) if scheduler else None  # fail fast, before any run
    try:
        from ..store import Store

        with Store(out).lock():
            store, specs, todo, stats = _execute(
                cfg, out, runner, client, resume=resume, text=text, on_progress=on_progress,
                new_config=new_config,
            )
    finally:
        if client is not None and own:
            _close(client)
    return SweepSummary(
        out=str(out),
        runs=len(specs),
        executed=len(todo),
        skipped=len(specs) - len(todo),
        failed=stats["failed"],
        rows=stats["rows"],
        seconds=time.perf_counter() - t0,
        scheduler=scheduler or ("dask" if client is not None else "in-process"),
        statuses=stats["statuses"],
    )


def _execute(cfg, out, runner, client, *, resume, text, on_progress, new_config):
    store, specs, todo = prepare(cfg, out, resume=resume, text=text, new_config=new_config)
    if text is not None:
        from .._atomic import atomic_write_text

        atomic_write_text(Path(out) / "configs" / f"{config_id(cfg)}.toml", text)
        if not (Path(out) / "sweep.toml").exists():  # the first configuration; never overwritten
            atomic_write_text(Path(out) / "sweep.toml", text)
    batches = make_batches(todo, cfg.batch)
    total = len(todo)
    stats = {"done": 0, "failed": 0, "rows": 0, "statuses": {}}

    ident = config_id(cfg)

    def store_results(results):
        if not results:
            return
        for _, rows in results:  # every row carries its configuration's identity, whatever the runner
            for r in rows if isinstance(rows, list) else ():
                r.setdefault("config_id", ident)
        store.append_runs({rid: rows for rid, rows in results})
        for _, rows in results:
            st = rows[-1].get("status", "ok")
            stats["statuses"][st] = stats["statuses"].get(st, 0) + 1
            stats["failed"] += st != "ok"
            stats["rows"] += len(rows)
        stats["done"] += len(results)
        if on_progress:
            on_progress(stats["done"], total, f"{stats['failed']} failed" if stats["failed"] else "")

    if on_progress:
        on_progress(0, total, "")
    if client is None:
        for b in batches:
            store_results(_safe(runner, b))
    else:
        from distributed import as_completed

        futures = client.map(_safe, [runner] * len(batches), batches, pure=False)
        for fut in as_completed(futures):
            store_results(fut.result())
    return store, specs, todo, stats


def _safe(runner: Runner, batch: list[dict]) -> list[tuple[str, Rows]]:
    """Run a batch; if the runner itself raises, store every run of the batch as failed."""

    t0 = time.perf_counter()
    try:
        res = runner(batch)
    except Exception as e:  # noqa: BLE001
        return [(s["run_id"], [failure_row(s, e, time.perf_counter() - t0)]) for s in batch]
    got = {rid for rid, _ in res}
    for s in batch:  # a runner that forgot a run: record it
        if s["run_id"] not in got:
            res.append((s["run_id"], [failure_row(s, RuntimeError("the runner returned no result"), 0.0)]))
    return res


_SCHEME = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s]+$")


def _connect(scheduler: str, workers: int = 2):
    """A Dask client: ``local`` starts a LocalCluster of worker processes; an address connects (≤ 10 s)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover
        raise BiasflowError("--scheduler needs dask[distributed]; install it or drop --scheduler") from None
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler in ("local", "local-threads"):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=scheduler == "local",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return Client(cluster)
    if not _SCHEME.match(scheduler):
        raise BiasflowError(
            f"--scheduler {scheduler!r}: give 'local' or a Dask scheduler address such as tcp://host:8786"
        )
    try:
        return Client(scheduler, timeout="6s")
    except Exception as e:  # noqa: BLE001 - refused, timed out, or something that is not a Dask scheduler
        raise BiasflowError(
            f"cannot reach the Dask scheduler at {scheduler} ({type(e).__name__}); start it "
            "with `dask scheduler` or use --scheduler local"
        ) from None


def _close(client) -> None:
    cluster = getattr(client, "cluster", None)
    try:
        client.close()
    finally:
        if cluster is not None:
            cluster.close()


_SCHEDULER: contextvars.ContextVar[str | None] = contextvars.ContextVar("biasflow_scheduler", default=None)
_PROGRESS: contextvars.ContextVar[Callable | None] = contextvars.ContextVar("biasflow_progress", default=None)


@contextlib.contextmanager
def use_progress(on_progress: Callable[[str, int, int, str], None] | None):
    """Report the sweeps of a reproduction (:func:`sweep_rows`) as ``on_progress(name, done, total, info)``
    after each stored batch (``reproduce`` shows them as a progress bar or one line per batch)."""
    token = _PROGRESS.set(on_progress)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


@contextlib.contextmanager
def use_scheduler(scheduler: str | None):
    """Run the sweeps of a reproduction (:func:`sweep_rows`) on ``scheduler`` (``reproduce --scheduler``)."""
    token = _SCHEDULER.set(scheduler)
    try:
        yield
    finally:
        _SCHEDULER.reset(token)


def sweep_rows(
    text: str, out: str | Path, *, where: str = "sweep config", runner: Runner | None = None, on_progress=None
) -> list[dict]:
    """Run (or resume) the sweep given as TOML ``text`` into ``out`` and return all of its stored rows.

    Used by the reproductions: re-running one into the same directory reuses the stored runs. The config
    is saved as ``out/sweeps/<name>.toml``, so the same sweep can be re-run with ``biasflow sweep`` (e.g.
    on a Dask cluster). The scheduler is the one set by :func:`use_scheduler` (in-process by default).
    """
    from .._atomic import atomic_write_text
    from ..store import Store

    cfg = parse_config(text, where=where)
    if on_progress is None and _PROGRESS.get() is not None:
        report = _PROGRESS.get()

        def on_progress(done, total, info):
            report(cfg.name, done, total, info)

    run_sweep(
        cfg, out, resume=True, runner=runner, on_progress=on_progress, scheduler=_SCHEDULER.get(),
        new_config=True,  # a reproduction stores several sweeps in one directory, each with its config_id
    )
    atomic_write_text(Path(out) / "sweeps" / f"{cfg.name}.toml", text)
    ids = [s["run_id"] for s in expand(cfg)]
    quoted = ", ".join(f"'{i}'" for i in ids)
    return Store(out).query(
        f"SELECT * FROM results WHERE run_id IN ({quoted}) ORDER BY alpha, log10_loss DESC"
    )
