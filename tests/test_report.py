"""The HTML report: self-contained, shows claims with pass/fail, figures, summary table, config; and the
CLI commands sweep/report/results on a toy store. The browser test renders it in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from biasflow.report import build_report, gather
from biasflow.store import Store
from biasflow.sweep import parse_config, run_sweep
from test_sweep import BASE, single_runner


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "o"
    cfg = parse_config(BASE)
    run_sweep(cfg, out, runner=single_runner, text=BASE)
    return out


@pytest.fixture(scope="module")
def experiment_dir(tmp_path_factory, sweep_dir):
    out = tmp_path_factory.mktemp("exp")
    shutil.copytree(sweep_dir, out, dirs_exist_ok=True)
    from biasflow.plots import phase_diagram

    rows = Store(out).query("SELECT * FROM results WHERE status = 'ok'")
    phase_diagram(rows, out / "figures", value="gap_l1", name="phase")
    exp = {
        "name": "toy",
        "title": "Toy paper 2099",
        "summary": "a summary line",
        "claims": [
            {"claim": "gaps shrink", "measured": "0.5 → 0.1", "holds": True, "source": "toy §1"},
            {"claim": "pigs fly", "measured": "no pig left the ground", "holds": False, "source": "toy §2"},
        ],
        "figures": ["figures/phase.svg"],
        "config": {"quick": True},
        "seconds": 1.5,
    }
    (out / "experiment.json").write_text(json.dumps(exp))
    build_report(out)
    return out


def test_report_self_contained_with_claims(experiment_dir):
    html = (experiment_dir / "report.html").read_text()
    assert "Toy paper 2099" in html and "1 of 2 claims hold" in html
    assert html.count('class="pass"') == 1 and html.count('class="fail"') == 1
    assert "no pig left the ground" in html
    assert re.search(r'<img alt="phase" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)
    # nothing is loaded from elsewhere (images are inline; links to the SVGs are optional extras)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert 'id="summary-table"' in html


def test_report_for_plain_sweep(sweep_dir):
    from biasflow.report import render

    ctx = gather(sweep_dir)
    html = render(ctx)
    assert ctx["title"] == "Sweep toy" and ctx["claims"] == []
    assert 'name = "toy"' in ctx["config"] and "name = &#34;toy&#34;" in html  # the config is shown
    assert len(ctx["table_rows"]) == 8  # one line per run
    assert {s["status"] for s in ctx["statuses"]} == {"ok", "failed"}
    assert {p.name for p in (sweep_dir / "figures").glob("phase_gap_l1*.svg")} == {
        "phase_gap_l1_D2.svg",
        "phase_gap_l1_D3.svg",
    }
    assert html.count("<img ") == len(ctx["figures"]) == 4


def test_report_refuses_empty_dir(tmp_path):
    from biasflow.errors import BiasflowError

    with pytest.raises(BiasflowError, match="neither a results store"):
        build_report(tmp_path)


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_results_sql_json(cli, sweep_dir):
    code, out, err = cli(
        "results",
        sweep_dir,
        "--sql",
        "SELECT depth, count(DISTINCT run_id) AS runs FROM results GROUP BY depth ORDER BY depth",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == [{"depth": 2, "runs": 4}, {"depth": 3, "runs": 4}]
    code, out, err = cli("results", sweep_dir)
    assert code == 0 and "run_id" in out


def test_cli_results_errors(cli, tmp_path, sweep_dir):
    code, out, err = cli("results", tmp_path / "nope", "--sql", "SELECT 1")
    assert code == 2 and err.count("\n") == 1 and "not a biasflow results directory" in err
    code, out, err = cli("results", sweep_dir, "--sql", "SELEC oops")
    assert code == 2 and "SQL error" in err and "Traceback" not in err


def test_cli_report(cli, sweep_dir):
    code, out, err = cli("report", sweep_dir, "--json")
    assert code == 0, err
    assert json.loads(out)["report"].endswith("report.html")


def test_cli_sweep_bad_config_names_line(cli, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('name = "x"\n\n[grid]\nalpha = []\n')
    code, out, err = cli("sweep", cfg, "--out", tmp_path / "o")
    assert code == 2
    assert err.strip() == f"biasflow: error: {cfg}, line 4: grid.alpha: empty grid: give at least one value"
    assert not (tmp_path / "o").exists()  # nothing ran, nothing written


def test_cli_sweep_refuses_foreign_and_incompatible(cli, tmp_path):
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[run]\nuntil = "1e-5"\n')
    foreign = tmp_path / "f"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, out, err = cli("sweep", cfg, "--out", foreign)
    assert code == 2 and "not a biasflow results directory" in err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    code, out, err = cli("reproduce", "moroshko2020", "--out", foreign, "--quick")
    assert code == 2 and "not a biasflow results directory" in err
    code, out, err = cli("reproduce", "nosuchpaper", "--out", tmp_path / "z")
    assert code == 2 and "unknown reproduction" in err


@pytest.mark.slow
def test_cli_sweep_unreachable_scheduler(cli, tmp_path):
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[run]\nuntil = "1e-5"\n')
    code, out, err = cli("sweep", cfg, "--out", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "cannot reach the Dask scheduler" in err


# -------------------------------------------------------------------------------------------- browser
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_report_renders_in_headless_chromium(experiment_dir, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium not found (Debian: apt-get install -y chromium); report not rendered")
    url = (experiment_dir / "report.html").resolve().as_uri()
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run([exe, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="claims-table"' in dom.stdout and "pigs fly" in dom.stdout and "FAIL" in dom.stdout
    shot = tmp_path / "shot.png"
    r = subprocess.run(
        [exe, *flags, f"--screenshot={shot}", "--window-size=1200,1600", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert float(np.std(img[..., :3])) > 0.05  # not a blank page
    assert float(np.mean(np.abs(np.diff(img[..., 0], axis=0)) > 0.1)) > 0.001  # has drawn content
