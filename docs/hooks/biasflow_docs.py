"""MkDocs hook: pages generated at build time from the package itself, so they cannot drift.

A page asks for generated content with an HTML comment on a line of its own:

- ``<!-- biasflow:columns -->`` — the reference of result columns, from ``biasflow.metrics.METRICS``;
- ``<!-- biasflow:statuses -->`` — every run status with its message, from ``biasflow.errors.Status``;
- ``<!-- biasflow:cli -->`` — every command and option of the typer app;
- ``<!-- biasflow:reproduction NAME -->`` — a reproduction's title, description, claims (read from the
  module registered in ``biasflow.experiments.EXPERIMENTS``), run time and how to run it.

The same functions are used by ``tests/test_docs.py``. Unknown markers fail the build (strict), and so does
a column without a definition.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import importlib.util
import re
from pathlib import Path

MARKER = re.compile(r"^<!--[ \t]*biasflow:(\w+)(?:[ \t]+([\w-]+))?[ \t]*-->[ \t]*$", re.MULTILINE)

# Measured run times of the reproductions (2 cores, seconds): `biasflow reproduce NAME --quick` and
# `biasflow reproduce NAME`, as listed in the README's benchmark section. Update both together.
TIMINGS: dict[str, tuple[str, str]] = {
    "moroshko2020": ("28 s", "46 s"),
    "woodworth2020": ("18 s", "98 s"),
    "azulay2021": ("5 s", "59 s"),
    "yun2021": ("≈ 60 s", "34 s"),
    "huang2020": ("≈ 90 s", "121 s"),
    "menon2024": ("24–40 s", "≈ 230 s"),
    "arora2019": ("24–40 s", "72 s"),
    "lawrence2022": ("42 s", "275 s"),
    "cao2023": ("≈ 50 s", "46 s"),
    "jin2023": ("24–36 s", "not measured"),
    "liang2025": ("≈ 50 s", "not measured"),
}


# ------------------------------------------------------------------------------------------- helpers
def _md_escape_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_RST_ROLE = re.compile(r":(?:mod|func|class|meth|data|attr):`~?([^`]+)`")


def rst_to_md(text: str) -> str:
    """Docstring text (reST-ish) to Markdown: roles and double backticks become code spans."""
    text = _RST_ROLE.sub(r"`\1`", text)
    return text.replace("``", "`")


_THEORY_REF = re.compile(r"docs/theory/([\w-]+)\.md((?: §\d+(?:\.\d+)*(?:[–-]§?\d+(?:\.\d+)*)?(?:, §\d+(?:\.\d+)*)*)?)")


_DOCS_DIR = Path(__file__).resolve().parent.parent
_THEORY_DIR = _DOCS_DIR / "theory"


@functools.lru_cache(maxsize=1)
def _section_ids() -> dict[str, set[str]]:
    """Heading ids ``sec-N-M`` of every theory page, so links go to the section when it has one."""
    return {
        p.stem: set(re.findall(r"\{#(sec-[\d-]+)\}", p.read_text(encoding="utf-8")))
        for p in _THEORY_DIR.glob("*.md")
    }


def link_theory(text: str, prefix: str = "../") -> str:
    """Turn the plain references ``docs/theory/<page>.md §N.M`` used in docstrings into links (to the section)."""

    def link(m: re.Match) -> str:
        page, secs = m.group(1), m.group(2)
        first = re.match(r" §(\d+(?:\.\d+)?)", secs or "")
        anchor = f"sec-{first.group(1).replace('.', '-')}" if first else ""
        frag = f"#{anchor}" if anchor in _section_ids().get(page, set()) else ""
        return f"[{page}{secs}]({prefix}theory/{page}.md{frag})"

    return _THEORY_REF.sub(link, text)


# ------------------------------------------------------------------------------------------- columns
def metrics_registry() -> dict:
    """``biasflow.metrics.METRICS`` (name → Metric(name, definition, unit, source))."""
    from biasflow.metrics import METRICS

    return dict(METRICS)


def columns_markdown() -> str:
    metrics = metrics_registry()
    missing = [k for k, m in metrics.items() if not str(getattr(m, "definition", "")).strip()]
    if missing:
        raise ValueError(f"metrics without a definition: {', '.join(missing)}")
    lines = [
        f"{len(metrics)} entries, generated from `biasflow.metrics.METRICS` when this site was built. "
        "The same text is printed by `biasflow results --describe COLUMN`.",
        "",
        "| column | definition | unit / range | source |",
        "|---|---|---|---|",
    ]
    for name in sorted(metrics, key=str.lower):
        m = metrics[name]
        cell = f'<span id="{name}"></span>`{name}`'
        lines.append(
            "| "
            + " | ".join(
                [
                    cell,
                    _md_escape_cell(link_theory(getattr(m, "definition", ""))),
                    _md_escape_cell(getattr(m, "unit", "") or "—"),
                    _md_escape_cell(link_theory(getattr(m, "source", "") or "—")),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def statuses_markdown() -> str:
    """Every :class:`biasflow.errors.Status` with its one-line message."""
    from biasflow.errors import Status

    lines = ["| status | meaning |", "|---|---|"]
    lines += [f"| `{s.value}` | {_md_escape_cell(s.message)} |" for s in Status]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- CLI
def cli_commands():
    """(name, click command) pairs of the ``biasflow`` app, in registration order."""
    import typer

    from biasflow.cli import app

    group = typer.main.get_command(app)
    return group, list(group.commands.items())


def _param_row(p, ctx) -> str:
    """One table row: the option as the help prints it (with its metavar), and its help with the default."""
    rec = p.get_help_record(ctx)
    if rec is None:  # hidden
        return ""
    names, help_ = rec
    return f"| `{names}` | {_md_escape_cell(help_)} |"


def cli_markdown() -> str:
    group, commands = cli_commands()
    ctx0 = group.context_class(group, info_name="biasflow")
    out = [
        "Generated from the typer app (`biasflow.cli.app`) when this site was built: every command, "
        "every option. Every command takes `--json` (one JSON object on stdout; progress on stderr). "
        "Bad input prints one line on stderr and exits with status 2.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name, cmd in commands:
        short = (cmd.short_help or (cmd.help or "").strip().split("\n")[0]).strip()
        out.append(f"| [`{name}`](#{name}) | {_md_escape_cell(short)} |")
    for name, cmd in commands:
        ctx = cmd.context_class(cmd, info_name=name, parent=ctx0)
        usage = " ".join(cmd.collect_usage_pieces(ctx)).replace("{", "").replace("}", "").upper()
        out += ["", f"## {name}", "", "```text", f"biasflow {name} {usage}", "```", ""]
        if cmd.help:
            out += [re.sub(r"\s*\n\s*", " ", cmd.help.strip().split("\n\n")[0]), ""]
            rest = cmd.help.strip().split("\n\n")[1:]
            out += [r.strip() + "\n" for r in rest]
        rows = [r for r in (_param_row(p, ctx) for p in cmd.params if p.name != "help") if r]
        out += ["| option | meaning |", "|---|---|", *rows, "| `--help` | show the command's help and exit |"]
    return "\n".join(out)


# -------------------------------------------------------------------------------------- reproductions
def experiments() -> dict[str, str]:
    from biasflow.experiments import EXPERIMENTS

    return dict(EXPERIMENTS)


def _literal(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):  # f-string: keep the literal parts, show the holes as …
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _literal(node.left), _literal(node.right)
        return None if a is None or b is None else a + b
    return None


def _name_values(tree: ast.AST, var: str) -> list[str]:
    """Literal values a variable takes: ``var = "..."`` assignments, and ``for (.., var, ..) in TABLE`` over
    a list of tuples ``TABLE = [(...), ...]`` assigned in the same module."""
    out: list[str] = []
    tables: dict[str, ast.List] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == var and (text := _literal(node.value)):
                out.append(text)
            if isinstance(node.value, ast.List):
                tables[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Tuple) and isinstance(node.iter, ast.Name):
            names = [getattr(e, "id", None) for e in node.target.elts]
            if var in names and node.iter.id in tables:
                k = names.index(var)
                for row in tables[node.iter.id].elts:
                    if isinstance(row, ast.Tuple) and len(row.elts) == len(names) and (t := _literal(row.elts[k])):
                        out.append(t)
    return out


def experiment_info(name: str) -> dict:
    """Title, description and claim statements of a reproduction, read from its module's source.

    The module is parsed, not imported or run: claims are the first argument of every ``Claim(...)``.
    """
    modname = experiments()[name]
    spec = importlib.util.find_spec(modname)
    if spec is None or spec.origin is None:
        raise ValueError(f"reproduction {name!r}: module {modname} not found")
    with open(spec.origin, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    doc = ast.get_docstring(tree) or ""
    title = name
    claims: list[str] = []

    def add(text: str | None, similar: bool = True) -> None:
        # the same claim worded twice (one per branch of the code): keep the first
        same = (lambda c: difflib.SequenceMatcher(None, text, c).ratio() > 0.8) if similar else text.__eq__
        if text and not any(same(c) for c in claims):
            claims.append(text)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "TITLE" for t in node.targets):
            title = _literal(node.value) or title
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Claim" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Name):  # a variable: its literal assignments, or a loop over a table
                for text in _name_values(tree, arg.id):
                    add(text, similar=False)
            else:
                add(_literal(arg))
    return {"name": name, "title": title, "doc": doc, "claims": claims, "module": modname}


def reproduction_markdown(name: str) -> str:
    if name not in experiments():
        raise ValueError(f"unknown reproduction {name!r} in a docs page; registered: {', '.join(experiments())}")
    info = experiment_info(name)
    quick, full = TIMINGS.get(name, ("not measured", "not measured"))
    first, _, rest = info["doc"].partition("\n\n")
    out = [
        link_theory(rst_to_md(first.replace("\n", " "))),
        "",
        link_theory(rst_to_md(rest)),
        "",
        "## Run it",
        "",
        "```bash",
        f"biasflow reproduce {name} --quick --out out/{name}   # {quick} on 2 cores",
        f"biasflow reproduce {name} --out out/{name}           # full mode: {full}",
        f"biasflow report out/{name}                                 # out/{name}/report.html",
        "```",
        "",
        f"The output directory holds the figures (`figures/*.svg`, `*.png`), `experiment.json` (every claim "
        f"with the number measured and whether it holds) and, where the reproduction stores runs, a results "
        f"store that `biasflow results out/{name} --sql ...` queries.",
        "",
        "## Claims checked",
        "",
        "Each claim is checked on the numbers of the run; the report shows the measured value next to it and "
        "PASS or FAIL. Parts written `…` are filled in with the run's own values.",
        "",
    ]
    out += [f"{i}. {link_theory(rst_to_md(c))}" for i, c in enumerate(info["claims"], 1)]
    figs = sorted((_DOCS_DIR / "reproductions" / "figures" / name).glob("*.png"))
    if figs:
        out += [
            "",
            "## Figures",
            "",
            f"From a `--quick` run, kept with these pages (your run writes the same figures, as SVG and PNG, "
            f"under `out/{name}/figures/`).",
            "",
        ]
        out += [f"![{f.stem}](figures/{name}/{f.name})" for f in figs]
    out += ["", f"Source: `{info['module']}`."]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- hook
def render_marker(kind: str, arg: str | None) -> str:
    if kind == "columns":
        return columns_markdown()
    if kind == "cli":
        return cli_markdown()
    if kind == "statuses":
        return statuses_markdown()
    if kind == "reproduction" and arg:
        return reproduction_markdown(arg)
    raise ValueError(f"unknown docs marker biasflow:{kind} {arg or ''}")


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 - MkDocs hook signature
    return MARKER.sub(lambda m: render_marker(m.group(1), m.group(2)), markdown)


_RST_ROLE_HTML = re.compile(r":(?:mod|func|class|meth|data|attr|exc):<code>~?([^<]*)</code>")


def on_page_content(html, page, config, files):  # noqa: ARG001 - MkDocs hook signature
    """API pages: docstrings cite code with reST roles (``:func:`x```); show them as plain code."""
    return _RST_ROLE_HTML.sub(r"<code>\1</code>", html)
