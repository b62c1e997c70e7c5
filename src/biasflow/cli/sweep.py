"""``biasflow sweep``, ``reproduce``, ``report`` and ``results``: grids of runs, papers, pages, queries."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from ..errors import BiasflowError
from . import app
from ._common import emit, runs_progress, stderr


@app.command()
def sweep(
    config: Path = typer.Argument(..., help="sweep config (.toml): a [run] table and a [grid] table; see examples/"),
    out: Path = typer.Option(
        ..., "--out", help="results directory (created if absent; a store of Parquet fragments, "
        "locked while the sweep runs)"
    ),
    scheduler: str = typer.Option(
        None, "--scheduler", help="'local' (a Dask LocalCluster of --workers processes) or a Dask address "
        "tcp://host:port; default: run in this process"
    ),
    workers: int = typer.Option(2, "--workers", help="worker processes for --scheduler local (default 2)"),
    resume: bool = typer.Option(
        False, "--resume", help="skip runs already stored in --out (matched by content hash); off by default"
    ),
    new_config: bool = typer.Option(
        False, "--new-config", help="with --resume: accept a configuration other than the one stored in --out "
        "(rows keep their config_id); off by default"
    ),
    report: bool = typer.Option(False, "--report", help="also write DIR/report.html when done; off by default"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as one JSON object on stdout"),
):
    """Run a base run × the product of option grids; every finished run is stored at once."""
    from ..sweep import load_config, run_sweep

    cfg, text = load_config(config)  # every config error is raised here, before anything runs
    if workers < 1:
        raise BiasflowError(f"--workers must be ≥ 1 (got {workers})")
    if new_config and not resume:
        raise BiasflowError("--new-config only applies with --resume; add --resume or drop --new-config")
    seen = {"done": 0, "total": None}
    try:
        with runs_progress(f"sweep {cfg.name}") as update:

            def on_progress(done, total, info):
                seen.update(done=done, total=total)
                update(done, total, info)

            summary = run_sweep(
                cfg, out, scheduler=scheduler, resume=resume, text=text, on_progress=on_progress,
                workers=workers, new_config=new_config,
            )
    except KeyboardInterrupt:
        todo = f" of the {seen['total']} to do" if seen["total"] is not None else ""
        stderr.print(
            f"biasflow: interrupted: {seen['done']} run(s){todo} were stored in {out} (runs in flight are "
            f"lost, stored ones are complete); resume with: biasflow sweep {config} --out {out} --resume",
        )
        raise typer.Exit(130) from None
    res = summary.to_json()
    if report:
        from ..report import build_report

        res["report"] = str(build_report(out))

    def human(r):
        from ..fmt import duration

        print(
            f"{r['executed']} runs executed, {r['skipped']} skipped (stored), {r['failed']} failed, "
            f"{r['rows']} rows in {duration(r['seconds'])} ({r['scheduler']}) → {r['out']}"
        )
        if r.get("report"):
            print(f"report: {r['report']}")

    emit(res, as_json, human)
    return 0


@app.command()
def reproduce(
    name: str = typer.Argument(..., help="moroshko2020 | woodworth2020 | azulay2021 | yun2021 | huang2020"),
    out: Path = typer.Option(
        ..., "--out", help="output directory: figures, results store, report.html (re-running reuses stored runs)"
    ),
    quick: bool = typer.Option(False, "--quick", help="smaller grids (about a minute on 2 cores); off by default"),
    scheduler: str = typer.Option(
        None, "--scheduler", help="run its sweeps on Dask: 'local' or tcp://host:port; default: in this process"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the claims and paths as one JSON object on stdout"),
):
    """Reproduce a paper's main figures and check its claims on built-in data; writes DIR/report.html."""
    from .._atomic import atomic_write_text
    from ..experiments import EXPERIMENTS, get_experiment
    from ..report import build_report
    from ..store import Store
    from ..sweep import _SCHEME, use_progress, use_scheduler

    if scheduler is not None and scheduler not in ("local", "local-threads") and not _SCHEME.match(scheduler):
        raise BiasflowError(
            f"--scheduler {scheduler!r}: give 'local' or a Dask scheduler address such as tcp://host:8786"
        )
    if name not in EXPERIMENTS:
        raise BiasflowError(f"unknown reproduction {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    store = Store(out)  # refuse an incompatible or foreign directory before running anything
    run = get_experiment(name)
    t0 = time.perf_counter()
    try:
        with store.lock(), runs_progress(f"reproduce {name}{' (quick)' if quick else ''}") as update:

            def on_progress(label, done, total, info):
                update(done, total, info, label=label)

            with use_scheduler(scheduler), use_progress(on_progress):
                result = run(Path(out), quick)
            if not result.seconds:
                result.seconds = time.perf_counter() - t0
            atomic_write_text(Path(out) / "experiment.json", json.dumps(result.to_json(), indent=1, default=str))
            path = build_report(out)
    except KeyboardInterrupt:
        try:
            stored = f"{len(Store(out).run_ids())} run(s) are stored in {out}"
        except Exception:  # noqa: BLE001 - say what we can
            stored = f"the runs finished so far are stored in {out}"
        quick_flag = " --quick" if quick else ""
        stderr.print(
            f"biasflow: interrupted: {stored} (runs in flight are lost); resume with: biasflow reproduce "
            f"{name} --out {out}{quick_flag} (stored runs are reused)",
        )
        raise typer.Exit(130) from None
    res = {
        "name": result.name,
        "title": result.title,
        "seconds": result.seconds,
        "claims": [c.__dict__ if hasattr(c, "__dict__") else c for c in result.claims],
        "claims_hold": sum(bool(c.holds) for c in result.claims),
        "claims_total": len(result.claims),
        "figures": result.figures,
        "report": str(path),
    }

    def human(r):
        for c in r["claims"]:
            mark = "PASS" if c["holds"] else "FAIL"
            from rich.markup import escape

            stderr.print(
                f"[{'green' if c['holds'] else 'red'}]{mark}[/] {escape(c['claim'])} — {escape(str(c['measured']))}",
                markup=True,
            )
        from ..fmt import duration

        print(
            f"{r['claims_hold']}/{r['claims_total']} claims hold ({duration(r['seconds'])}); "
            f"report: {r['report']}"
        )

    emit(res, as_json, human)
    return 0


@app.command(name="report")
def report_cmd(
    directory: Path = typer.Argument(..., help="a sweep or reproduction output directory"),
    as_json: bool = typer.Option(False, "--json", help="print the report path as one JSON object on stdout"),
):
    """Write DIR/report.html: figures, claims with pass/fail, summary table, config (self-contained)."""
    from ..report import build_report

    path = build_report(directory)
    emit({"report": str(path)}, as_json, lambda r: print(f"report: {r['report']}"))
    return 0


@app.command()
def results(
    directory: Path = typer.Argument(None, help="a results directory"),
    describe: str = typer.Option(
        None,
        "--describe",
        help="print the definition, unit and source of COLUMN (comma-separated names, or 'all') and exit",
    ),
    sql: str = typer.Option(
        "SELECT * EXCLUDE (predictor) FROM results LIMIT 20",
        "--sql",
        help="DuckDB SQL over the table 'results' (default: the first 20 rows without the predictor column)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print a JSON list of row objects on stdout"),
):
    """Query the results store with SQL (DuckDB; the table is named 'results')."""
    from ..store import Store

    if describe is not None:
        from ..metrics import METRICS
        from ..metrics import describe as describe_column

        names = list(METRICS) if describe.strip() == "all" else [n.strip() for n in describe.split(",") if n.strip()]
        texts = [describe_column(n) for n in names]
        if as_json:
            out = [{"name": m.name, "definition": m.definition, "unit": m.unit, "source": m.source}
                   for m in (METRICS[n] for n in names)]
            print(json.dumps(out, ensure_ascii=False))
        else:
            print("\n".join(texts))
        return 0
    if directory is None:
        raise BiasflowError("give a results directory (biasflow results DIR) or --describe COLUMN")

    st = Store(directory, create=False)
    if sql.strip().upper().startswith("SELECT * EXCLUDE (PREDICTOR)") and "predictor" not in st.columns():
        sql = sql.replace("EXCLUDE (predictor) ", "")
    rows = st.query(sql)
    if as_json:
        import sys

        from ._common import _jsonable

        sys.stdout.write(json.dumps(_jsonable(rows)) + "\n")
        return 0
    import sys

    cols = list(rows[0]) if rows else []
    if not sys.stdout.isatty():  # piped: tab-separated text with a header line
        print("\t".join(cols))
        for r in rows:
            print("\t".join(_short(r[c]) for c in cols))
        stderr.print(f"{len(rows)} row(s)")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*[_short(r[c]) for c in cols])
    Console().print(table)
    stderr.print(f"{len(rows)} row(s)")
    return 0


def _short(v) -> str:
    if isinstance(v, float):
        from ..fmt import num

        return num(v, 6)
    if isinstance(v, list):
        return f"[{len(v)} values]"
    s = "" if v is None else str(v)
    return s if len(s) <= 40 else s[:37] + "..."
