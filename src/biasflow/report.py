"""``biasflow report DIR``: one self-contained HTML page for a sweep or a reproduction.

The page (``DIR/report.html``, rendered with jinja2 from ``templates/report.html``) holds:

- the claims checked (from ``DIR/experiment.json``), each with the number we measured and PASS/FAIL;
- the figures, embedded as base64 PNG, with the SVG embedded as a download (the files also sit under
  ``DIR/figures``, but the page never links to them, so it works copied alone); for a plain
  sweep they are drawn from the store by :func:`biasflow.plots.auto_figures`;
- a summary table (the last checkpoint of each run, key metrics) and the run statuses, from the store;
- the configuration (``sweep.toml`` or the experiment's config) and the package versions.

It needs no network and no other file: images are inlined, styles are inline.
"""

from __future__ import annotations

import base64
import datetime
import json
from importlib import resources
from pathlib import Path

import jinja2

from .errors import BiasflowError

_METRICS = [
    "gap_l1",
    "gap_l2",
    "gamma_l1",
    "gamma_l2",
    "log10_mu",
    "support_size",
    "recovery_error",
    "dist_l1",
    "dist_l2",
    "l1_ratio",
    "residual",
]
_CONFIG = ["data", "model", "depth", "alpha", "shape", "loss", "seed", "data_seed"]


def _fmt(v) -> str:
    from .fmt import num

    if v is None:
        return "—"
    if isinstance(v, (bool, int)):
        return str(v)
    if isinstance(v, float):
        return num(v, 4)
    return str(v)


def _figure(path: Path, root: Path) -> dict | None:
    png = path.with_suffix(".png")
    svg = path.with_suffix(".svg")
    if png.exists():
        src = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    elif svg.exists():
        src = "data:image/svg+xml;base64," + base64.b64encode(svg.read_bytes()).decode()
    else:
        return None
    # the SVG is offered as an embedded download too: a link relative to DIR would break when
    # report.html is copied alone
    return {
        "name": path.stem,
        "src": src,
        "svg": "data:image/svg+xml;base64," + base64.b64encode(svg.read_bytes()).decode()
        if svg.exists() and png.exists()
        else None,
    }


def gather(directory: str | Path) -> dict:
    """Everything the report shows, as a dict (also useful for tests and ``--json``)."""
    from . import __version__

    root = Path(directory)
    if not root.is_dir():
        raise BiasflowError(
            f"{str(root)!r} is not a directory; give the --out directory of a sweep or reproduction"
        )
    exp_path = root / "experiment.json"
    exp = None
    if exp_path.exists():
        try:
            exp = json.loads(exp_path.read_text())
        except ValueError as e:
            raise BiasflowError(f"{exp_path}: unreadable ({e}); re-run the reproduction") from None
    from .store import STAMP, Store

    rows: list[dict] = []
    store = None
    if (root / STAMP).exists():
        store = Store(root, create=False)
        if store.fragments():
            rows = store.query("SELECT * FROM results")
    if exp is None and store is None:
        raise BiasflowError(
            f"{root} holds neither a results store ({STAMP}) nor experiment.json; "
            "run `biasflow sweep` or `biasflow reproduce` into it first"
        )
    figures: list[dict] = []
    if exp is not None:
        for rel in exp.get("figures", []):
            f = _figure(root / rel, root)
            if f is not None and f["name"] not in {g["name"] for g in figures}:
                figures.append(f)
    elif rows:
        from .plots import auto_figures

        try:
            paths = auto_figures(rows, root / "figures")
        except BiasflowError:
            paths = []
        for p in paths:
            if p.endswith(".png"):
                f = _figure(Path(p), root)
                if f is not None:
                    figures.append(f)
    # summary table: the last checkpoint of each run
    last: dict = {}
    for r in rows:
        rid = r.get("run_id")
        lv = r.get("log10_loss")
        if rid not in last or (
            isinstance(lv, float) and (last[rid].get("log10_loss") is None or lv < last[rid]["log10_loss"])
        ):
            last[rid] = r
    table_rows = sorted(
        last.values(),
        key=lambda r: tuple(str(r.get(k)) for k in ("model", "depth", "data")) + (r.get("alpha") or 0.0,),
    )
    present = [c for c in _CONFIG if any(r.get(c) is not None for r in table_rows)]
    varying = [
        c for c in present if len({json.dumps(r.get(c), default=str) for r in table_rows}) > 1
    ] or present[:3]
    metrics = [m for m in _METRICS if any(isinstance(r.get(m), (int, float)) for r in table_rows)]
    columns = varying + ["log10_loss"] + metrics + ["status"]
    statuses: dict = {}
    for r in last.values():
        s = statuses.setdefault(r.get("status"), {"status": r.get("status"), "runs": 0, "message": None})
        s["runs"] += 1
        if r.get("status") != "ok" and not s["message"]:
            s["message"] = r.get("message")
    config, sweep_name = "", None
    if (root / "sweep.toml").exists():
        import tomllib

        config = (root / "sweep.toml").read_text()
        try:
            sweep_name = tomllib.loads(config).get("name")
        except tomllib.TOMLDecodeError:
            sweep_name = None
    elif exp is not None:
        config = json.dumps(exp.get("config", {}), indent=2, default=str)
    versions = {"biasflow": __version__}
    if store is not None and hasattr(store, "meta"):
        versions.update({k: v for k, v in store.meta.items() if k in ("jax", "pyarrow", "duckdb")})
    claims = (exp or {}).get("claims", [])
    return {
        "title": (exp or {}).get("title")
        or f"Sweep {sweep_name or (rows[0].get('sweep') if rows else None) or root.name}",
        "summary": (exp or {}).get("summary", ""),
        "seconds": (exp or {}).get("seconds"),
        "claims": claims,
        "n_hold": sum(bool(c.get("holds")) for c in claims),
        "figures": figures,
        "table_columns": columns,
        "glossary": _glossary(columns),
        "table_rows": table_rows[:200],
        "table_caption": f"last checkpoint of each of {len(last)} runs"
        + (" (first 200)" if len(last) > 200 else ""),
        "statuses": list(statuses.values()),
        "config": config,
        "versions": versions,
        "directory": str(root),
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _glossary(columns: list[str]) -> dict[str, str]:
    """Column → its definition and unit from the metrics registry (shown as tooltips and a glossary)."""
    from .metrics import METRICS

    return {c: f"{METRICS[c].definition} [{METRICS[c].unit}]" for c in columns if c in METRICS}


def render(context: dict) -> str:
    """Render the report template with a :func:`gather` context."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = _fmt
    text = resources.files("biasflow").joinpath("templates/report.html").read_text()
    return env.from_string(text).render(**context)


def build_report(directory: str | Path) -> Path:
    """Write ``DIR/report.html`` (atomically) and return its path."""
    from ._atomic import atomic_write_text

    ctx = gather(directory)
    path = Path(directory) / "report.html"
    atomic_write_text(path, render(ctx))
    return path
