"""The documentation is checked like code: every result column and printed quantity has a definition, every
reproduction and command is documented, every citation points inside the repository.

The site itself is built (tutorials executed, strict links) by ``make docs``; the browser check is in
``test_docs_browser.py``. These tests are fast: they use the generators of ``docs/hooks/biasflow_docs.py``
without building anything.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "hooks"))
import biasflow_docs as gen  # noqa: E402

sys.path.pop(0)

# Built by concatenation so that this file does not itself match.
FORBIDDEN = ["THEORY" + ".md", "DESIGN" + ".md", "../" + "shared/", "THEORY" + " §"]


def _mkdocs_nav_files() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:", 1)[1]
    return set(re.findall(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w/.-]+\.(?:md|py))\s*$", text, re.MULTILINE))


# ------------------------------------------------------------------------------------- self-contained
def test_no_reference_to_files_outside_the_repository():
    hits = []
    for base in ("src", "tests", "docs", "benchmarks", "examples"):
        for p in (ROOT / base).rglob("*"):
            suffixes = (".py", ".md", ".toml", ".html", ".txt", ".yml")
            if p.is_file() and p.suffix in suffixes and p.name != "test_docs.py":
                text = p.read_text(encoding="utf-8", errors="replace")
                hits += [f"{p.relative_to(ROOT)}: {f}" for f in FORBIDDEN if f in text]
    for name in ("README.md", "CHANGELOG.md", "mkdocs.yml"):
        text = (ROOT / name).read_text(encoding="utf-8")
        hits += [f"{name}: {f}" for f in FORBIDDEN if f in text]
    assert not hits, "references to files outside the repository:\n" + "\n".join(hits)


_REF = re.compile(r"docs/theory/([\w-]+)\.md((?: §\d+(?:\.\d+)*)?)((?:, (?:([\w-]+)\.md )?§\d+(?:\.\d+)*)*)")


def _sections(page: str) -> set[str]:
    """Section numbers a theory page defines: its headings ``## N.M ...`` and, for the oracles, the items."""
    text = (DOCS / "theory" / f"{page}.md").read_text(encoding="utf-8")
    secs = set(re.findall(r"^#{1,3} (\d+(?:\.\d+)*)\s", text, re.MULTILINE))
    if page == "oracles":
        secs |= {f"8.{i}" for i in re.findall(r"^(\d+)\. ", text, re.MULTILINE)}
    secs |= {s.split(".")[0] for s in secs}
    return secs


def test_theory_citations_point_to_existing_pages_and_sections():
    bad = []
    for base in ("src", "tests", "docs"):
        for p in (ROOT / base).rglob("*.py"):
            for m in _REF.finditer(p.read_text(encoding="utf-8")):
                page = m.group(1)
                if not (DOCS / "theory" / f"{page}.md").exists():
                    bad.append(f"{p.relative_to(ROOT)}: no page {page}.md")
                    continue
                for sec in re.findall(r"§(\d+(?:\.\d+)*)", m.group(2) or ""):
                    if sec not in _sections(page):
                        bad.append(f"{p.relative_to(ROOT)}: {page}.md has no §{sec}")
    assert not bad, "\n".join(bad)


def test_every_docs_page_is_in_the_nav():
    nav = _mkdocs_nav_files()
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")} | {
        str(p.relative_to(DOCS)) for p in (DOCS / "tutorials").glob("*.py")
    }
    assert pages - nav == set(), f"pages not in mkdocs.yml nav: {sorted(pages - nav)}"
    assert {p for p in nav if not (DOCS / p).exists()} == set()


# ------------------------------------------------------------------------------------------ columns
def test_every_metric_has_a_definition():
    metrics = gen.metrics_registry()
    assert len(metrics) >= 20
    for name, m in metrics.items():
        assert str(getattr(m, "definition", "")).strip(), f"{name} has no definition"
    page = gen.columns_markdown()
    for name in metrics:
        assert f'<span id="{name}"></span>`{name}`' in page


def _sweep_columns(tmp_path, text: str) -> set[str]:
    from biasflow.store import Store
    from biasflow.sweep import parse_config, run_sweep

    out = tmp_path / "store"
    summary = run_sweep(parse_config(text), out)
    assert summary.failed == 0
    return set(Store(out, create=False).columns())


def test_regression_store_columns_have_entries(tmp_path):
    """Every column a regression sweep stores is documented (the classification store, ``compare`` and
    ``descent`` records are checked by ``tests/test_metrics.py::test_every_column_is_registered``)."""
    stored = _sweep_columns(
        tmp_path, '[run]\ndata = "sparse-regression"\nloss = "square"\nuntil = "1e-6"\n[grid]\nalpha = [1.0]\n'
    )
    assert {"residual", "dist_l2", "log10_loss", "status"} <= stored        # the sweep really ran
    missing = sorted(stored - set(gen.metrics_registry()))
    assert not missing, f"stored columns without an entry in biasflow.metrics: {missing}"


def _cli_json(args: list[str]) -> dict:
    import contextlib
    import io

    from biasflow.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([*args, "--json"]) == 0
    return json.loads(buf.getvalue())


def _scalar_keys(obj, prefix="") -> set[str]:
    keys = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.add(k)
            elif isinstance(v, (dict, list)):
                keys |= _scalar_keys(v)
    elif isinstance(obj, list):
        for v in obj[:3]:
            keys |= _scalar_keys(v)
    return keys


def test_every_printed_quantity_has_an_entry():
    """The numbers ``predict``, ``flow`` and ``margin`` print (``--json``) are defined in the registry."""
    printed = set()
    printed |= _scalar_keys(_cli_json(["predict", "--data", "sparse", "--alpha", "1", "--at-loss", "1e-10"]))
    printed |= _scalar_keys(_cli_json(["flow", "--data", "sparse", "--until-loss", "1e-5"]))
    printed |= _scalar_keys(_cli_json(["margin", "--data", "sparse", "--norm", "l1"]))
    assert {"gamma", "mu", "log10_loss"} <= printed                 # the commands really ran
    missing = sorted(printed - set(gen.metrics_registry()))
    assert not missing, f"printed quantities without an entry in biasflow.metrics: {missing}"


# ------------------------------------------------------------------------------- CLI, reproductions
def test_cli_reference_lists_every_command_and_option():
    page = gen.cli_markdown()
    group, commands = gen.cli_commands()
    assert len(commands) >= 10
    for name, cmd in commands:
        assert f"\n## {name}\n" in page, name
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                if opt.startswith("-"):
                    assert opt in page, f"{name} {opt}"


@pytest.mark.parametrize("name", list(gen.experiments()))
def test_every_reproduction_has_a_page_with_claims_and_timing(name):
    page = DOCS / "reproductions" / f"{name}.md"
    assert page.exists(), f"add docs/reproductions/{name}.md with the marker"
    assert f"<!-- biasflow:reproduction {name} -->" in page.read_text(encoding="utf-8")
    assert f"reproductions/{name}.md" in _mkdocs_nav_files()
    assert name in gen.TIMINGS, "add its measured run time to TIMINGS in docs/hooks/biasflow_docs.py"
    info = gen.experiment_info(name)
    assert len(info["claims"]) >= 2 and info["title"] != name
    md = gen.reproduction_markdown(name)
    assert f"biasflow reproduce {name}" in md and "## Claims checked" in md


def test_reproduction_figures_belong_to_registered_reproductions():
    figs = DOCS / "reproductions" / "figures"
    stale = {p.name for p in figs.iterdir() if p.is_dir()} - set(gen.experiments()) if figs.exists() else set()
    assert not stale, f"figures of unregistered reproductions: {sorted(stale)}"


def test_unknown_marker_fails_the_build():
    with pytest.raises(ValueError, match="unknown"):
        gen.on_page_markdown("<!-- biasflow:nonsense -->\n", None, None, None)
    with pytest.raises(ValueError, match="unknown reproduction"):
        gen.on_page_markdown("<!-- biasflow:reproduction nope2099 -->\n", None, None, None)


def test_theory_links_resolve_to_sections():
    md = gen.link_theory("see docs/theory/diagonal.md §3.5, and docs/theory/oracles.md §8.15.")
    assert "[diagonal §3.5](../theory/diagonal.md#sec-3-5)" in md
    assert "[oracles §8.15](../theory/oracles.md)" in md      # list items have no anchors


# ------------------------------------------------------------------------------------------ tutorials
def test_at_least_five_tutorials_in_the_nav_and_executed():
    tutorials = sorted((DOCS / "tutorials").glob("*.py"))
    assert len(tutorials) >= 5
    nav = _mkdocs_nav_files()
    for t in tutorials:
        assert f"tutorials/{t.name}" in nav
        assert "# %%" in t.read_text(encoding="utf-8")
    cfg = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"execute:\s*true", cfg) and re.search(r"allow_errors:\s*false", cfg)
    assert re.search(r"^strict:\s*true", cfg, re.MULTILINE)


# --------------------------------------------------------------------------------------------- report
def test_report_shows_the_registry_definitions(tmp_path):
    """The HTML report's summary table carries each column's registry definition (tooltip + glossary)."""
    import html as _html

    from biasflow.metrics import METRICS
    from biasflow.report import build_report, gather
    from biasflow.sweep import parse_config, run_sweep

    out = tmp_path / "store"
    run_sweep(parse_config('[run]\ndata = "sparse"\nuntil = "1e-5"\n[grid]\nalpha = [0.1, 1.0]\n'), out)
    ctx = gather(out)
    assert "gap_l1" in ctx["table_columns"]
    assert ctx["glossary"]["gap_l1"].startswith(METRICS["gap_l1"].definition)
    page = _html.unescape(build_report(out).read_text(encoding="utf-8"))
    for col in ctx["glossary"]:
        assert f'<th title="{ctx["glossary"][col]}">{col}</th>' in page
        assert f"<dt><code>{col}</code></dt><dd>{ctx['glossary'][col]}</dd>" in page


def test_markers_keep_the_blank_lines_around_them():
    md = gen.on_page_markdown("<!-- biasflow:statuses -->\n\n## Next\n", None, None, None)
    assert md.endswith("|\n\n## Next\n")
