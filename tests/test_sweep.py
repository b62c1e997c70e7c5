"""Sweeps: config validation (key + line), grid expansion, hashing, batching, executors, resume, failures.

The package's runner needs the flow solver; these tests use a tiny deterministic runner of their own so
that the sweep machinery is tested on its own (the real runner is exercised in test_reproduce*.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.errors import BiasflowError
from biasflow.store import Store
from biasflow.sweep import (
    expand,
    make_batches,
    parse_config,
    run_id,
    run_sweep,
)

BASE = """\
name = "toy"
batch = 4

[run]
data = "sparse"
until = "1e-100"
levels = ["1e-10", "1e-50", "1e-100"]

[grid]
alpha = [0.01, 0.1, 1.0, 13.0]
depth = [2, 3]
"""


def toy_runner(batch):
    """A deterministic stand-in for the flow: gap = α/(1 + log10(1/ε)); α = 13 fails."""
    out = []
    for s in batch:
        if s["alpha"] == 13.0:
            raise_here = s["depth"] == 3
            if raise_here:
                raise ValueError("boom: alpha 13 at depth 3")
        rows = []
        for lv in s["levels_log10"]:
            rows.append(
                {
                    "alpha": s["alpha"],
                    "depth": s["depth"],
                    "log10_loss": lv,
                    "gap_l1": s["alpha"] / (1.0 - lv),
                    "status": "ok",
                    "message": "",
                    "predictor": [s["alpha"], -lv],
                }
            )
        out.append((s["run_id"], rows))
    return out


def single_runner(batch):
    """Runs one spec at a time (so a failure only fails its run)."""
    res = []
    for s in batch:
        try:
            res += toy_runner([s])
        except ValueError as e:
            from biasflow.sweep import failure_row

            res.append((s["run_id"], [failure_row(s, e)]))
    return res


# ------------------------------------------------------------------------------------------- config
def test_expand_product_and_hash():
    cfg = parse_config(BASE)
    runs = expand(cfg)
    assert len(runs) == 8
    assert [(r["alpha"], r["depth"]) for r in runs[:3]] == [(0.01, 2), (0.01, 3), (0.1, 2)]
    assert runs[0]["levels_log10"] == [-10.0, -50.0, -100.0]
    assert runs[0]["until_log10"] == -100.0
    ids = [r["run_id"] for r in runs]
    assert len(set(ids)) == 8
    # the hash ignores the sweep name but not the options
    cfg2 = parse_config(BASE.replace('name = "toy"', 'name = "other"'))
    assert [r["run_id"] for r in expand(cfg2)] == ids
    cfg3 = parse_config(BASE.replace('"1e-50"', '"1e-60"'))
    assert not set(r["run_id"] for r in expand(cfg3)) & set(ids)


def test_level_range_and_geomspace():
    cfg = parse_config("""
[run]
until = "1e-1000"
levels = {start = "1e-1", stop = "1e-1000", num = 4}
[grid]
alpha = {geomspace = [1e-2, 1.0, 3]}
""")
    runs = expand(cfg)
    assert [r["alpha"] for r in runs] == pytest.approx([1e-2, 1e-1, 1.0])
    assert runs[0]["levels_log10"] == pytest.approx([-1.0, -10.0, -100.0, -1000.0])


BAD = [
    ("[run]\nalpah = 1.0\n", 2, "run.alpah", "unknown key"),
    ('name = "x"\n\n[run]\ndata = "sparse"\nalpha = "big"\n', 5, "run.alpha", "valid number"),
    ('[run]\nuntil = "1e-10"\n[grid]\nalpha = []\n', 4, "grid.alpha", "empty grid"),
    ("[run]\nuntil = 1e-1000\n", 2, "run.until", "string"),
    ('[run]\ntask = "classification"\nloss = "square"\n', 3, "run.loss", "regression"),
    ('[run]\nmodel = "diagonal-untied"\n\n[grid]\ndepth = [2, 3]\n', 5, "grid.depth", "depth"),
    ("[grid]\nalhpa = [1, 2]\n", 2, "grid.alhpa", "unknown key"),
    ('nmae = "x"\n', 1, "nmae", "unknown key"),
    ("[grid]\nalpha = [1.0, -1.0]\n", 2, "grid.alpha", "greater than 0"),
    ('[run]\nuntil = "1e-10"\nlevels = ["1e-5", "1e-100"]\n', 3, "run.levels", "below the target"),
    ('[run]\ndata = "sparse"\n[grid.data]\nseed = [0, 1]\n', 4, "grid.data.seed", "generated data"),
    ("[grid]\nalpha = {geomspace = [0, 1, 3]}\n", 2, "grid.alpha", "positive"),
    ('[run]\ndata = {generator = "gaussian", n = 0}\n', 2, "run.data.n", "greater than or equal to 1"),
    ('[run]\ndata = {generator = "gaussian", nn = 3}\n', 2, "run.data.nn", "unknown key"),
    ("[run]\nlevels = []\n", 2, "run.levels", "empty"),
    ("[grid]\nalpha = [1.0, 1.0]\n", 2, "grid.alpha", "repeated"),
    ('[grid]\nlevels = [["1e-2"]]\n', 2, "grid.levels", "not a grid axis"),
    ("batch = 0\n", 1, "batch", "greater than or equal to 1"),
]


@pytest.mark.parametrize("text,line,key,words", BAD)
def test_bad_config_names_key_and_line(text, line, key, words):
    with pytest.raises(BiasflowError) as e:
        parse_config(text, where="cfg.toml")
    msg = str(e.value)
    assert msg.startswith(f"cfg.toml, line {line}: {key}:"), msg
    assert words in msg
    assert "\n" not in msg


def test_toml_syntax_error_has_line():
    with pytest.raises(BiasflowError, match=r"not valid TOML.*line 1"):
        parse_config("[run\nalpha = 1\n")


@given(st.dictionaries(st.sampled_from(["alpha", "depth", "seed", "method"]), st.integers(1, 3), min_size=1))
def test_grid_size_is_product(sizes):
    vals = {
        "alpha": [0.1, 0.2, 0.3],
        "depth": [2, 3, 4],
        "seed": [0, 1, 2],
        "method": ["auto", "exact", "autodiff"],
    }
    lines = ["[run]", 'until = "1e-10"', "[grid]"]
    for k, n in sizes.items():
        lines.append(f"{k} = {vals[k][:n]!r}".replace("'", '"'))
    runs = expand(parse_config("\n".join(lines) + "\n"))
    assert len(runs) == int(np.prod(list(sizes.values())))
    assert len({r["run_id"] for r in runs}) == len(runs)


def test_batches_group_by_everything_but_init():
    runs = expand(parse_config(BASE))
    batches = make_batches(runs, 3)
    # depth 2 and depth 3 never share a batch; α values do, up to the batch size
    for b in batches:
        assert len({r["depth"] for r in b}) == 1 and len(b) <= 3
    assert sorted(len(b) for b in batches) == [1, 1, 3, 3]
    assert sum(len(b) for b in batches) == len(runs)


def test_run_id_stable():
    assert run_id({"a": 1, "b": [1, 2]}) == run_id({"b": [1, 2], "a": 1})


# ---------------------------------------------------------------------------------------- executors
def test_in_process_sweep_stores_all_and_failures(tmp_path):
    cfg = parse_config(BASE)
    seen = []
    s = run_sweep(
        cfg, tmp_path / "out", runner=toy_runner, text=BASE, on_progress=lambda d, t, i: seen.append((d, t))
    )
    assert s.runs == 8 and s.executed == 8 and s.skipped == 0
    # the batch holding α = 13, depth 3 raised: each of its runs is stored with status "failed"
    st_ = Store(tmp_path / "out")
    rows = st_.query(
        "SELECT status, count(DISTINCT run_id) AS n FROM results GROUP BY status ORDER BY status"
    )
    bad = [r for r in rows if r["status"] == "failed"]
    assert (
        bad
        and "boom" in st_.query("SELECT message FROM results WHERE status = 'failed' LIMIT 1")[0]["message"]
    )
    assert sum(r["n"] for r in rows) == 8
    assert seen[0] == (0, 8) and seen[-1] == (8, 8)
    assert (tmp_path / "out" / "sweep.toml").read_text() == BASE


def test_failing_run_alone_does_not_stop_sweep(tmp_path):
    cfg = parse_config(BASE)
    s = run_sweep(cfg, tmp_path / "o", runner=single_runner)
    assert s.failed == 1 and s.executed == 8
    st_ = Store(tmp_path / "o")
    n_ok = st_.query("SELECT count(*) AS n FROM results WHERE status = 'ok'")[0]["n"]
    assert n_ok == 7 * 3


def test_resume_skips_stored_and_refuses_without(tmp_path):
    cfg = parse_config(BASE)
    small = parse_config(BASE.replace("alpha = [0.01, 0.1, 1.0, 13.0]", "alpha = [0.01, 0.1]"))
    s1 = run_sweep(small, tmp_path / "o", runner=single_runner)
    assert s1.executed == 4
    with pytest.raises(BiasflowError, match="--resume"):
        run_sweep(cfg, tmp_path / "o", runner=single_runner)
    calls = []

    def counting(batch):
        calls.extend(s["run_id"] for s in batch)
        return single_runner(batch)

    with pytest.raises(BiasflowError, match="another configuration.*--new-config"):  # a grown grid
        run_sweep(cfg, tmp_path / "o", runner=counting, resume=True)
    s2 = run_sweep(cfg, tmp_path / "o", runner=counting, resume=True, new_config=True)
    assert s2.skipped == 4 and s2.executed == 4 and len(calls) == 4
    assert len(Store(tmp_path / "o").run_ids()) == 8
    s3 = run_sweep(cfg, tmp_path / "o", runner=counting, resume=True)
    assert s3.executed == 0 and len(calls) == 4


def test_dask_threads_same_rows_as_in_process(tmp_path):
    """One small cluster test in the fast suite (threads; the process cluster is in the slow tests)."""
    cfg = parse_config(BASE)
    run_sweep(cfg, tmp_path / "a", runner=single_runner)
    run_sweep(cfg, tmp_path / "b", runner=single_runner, scheduler="local-threads")
    q = "SELECT * FROM results ORDER BY run_id, log10_loss"
    assert Store(tmp_path / "a").query(q) == Store(tmp_path / "b").query(q)


def test_unreachable_scheduler_fails_fast(tmp_path):
    cfg = parse_config(BASE)
    t0 = time.perf_counter()
    with pytest.raises(BiasflowError, match="cannot reach the Dask scheduler"):
        run_sweep(cfg, tmp_path / "o", runner=toy_runner, scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - t0 < 10.0
    assert not (tmp_path / "o").exists()  # nothing was written


def test_bad_scheduler_text(tmp_path):
    with pytest.raises(BiasflowError, match="scheduler"):
        run_sweep(parse_config(BASE), tmp_path / "o", runner=toy_runner, scheduler="nonsense")


def test_kill_mid_sweep_leaves_no_partial_rows(tmp_path):
    """SIGKILL a sweep in flight: the store holds only whole runs, and --resume completes it."""
    out = tmp_path / "o"
    script = textwrap.dedent(f"""
        import time, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from biasflow.sweep import parse_config, run_sweep
        from test_sweep import BASE, single_runner
        cfg = parse_config(BASE.replace("batch = 4", "batch = 1"))
        def slow(batch):
            time.sleep(0.4)
            return single_runner(batch)
        run_sweep(cfg, {str(out)!r}, runner=slow,
                  on_progress=lambda d, t, i: print(d, flush=True))
    """)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        if int(line) >= 3:
            break
    proc.kill()
    proc.wait()
    st_ = Store(out)
    counts = st_.query("SELECT run_id, count(*) AS n, max(status) AS s FROM results GROUP BY run_id")
    assert 3 <= len(counts) < 8
    for c in counts:  # whole runs only: 3 checkpoints each (1 row for the failed run)
        assert c["n"] == (3 if c["s"] == "ok" else 1)
    s = run_sweep(parse_config(BASE), out, runner=single_runner, resume=True)
    assert s.skipped == len(counts) and len(st_.run_ids()) == 8


@pytest.mark.parametrize("name", ["phase_diagram", "depth_seeds", "regression", "shape"])
def test_example_configs_are_valid(name):
    from biasflow.sweep import load_config

    cfg, text = load_config(Path(__file__).parents[1] / "examples" / f"{name}.toml")
    runs = expand(cfg, text)
    assert runs and len({r["run_id"] for r in runs}) == len(runs)


@given(st.lists(st.sampled_from(["alpha = 1.0", "depth = 2", "seed = 3", "# a comment", "", 'loss = "exp"']),
                max_size=6),
       st.integers(0, 3))
def test_unknown_key_line_is_exact(lines, blank):
    """Wherever a misspelled key sits in [run], the error names its line."""
    seen, body = set(), []
    for ln in lines:
        key = ln.split("=")[0].strip()
        if "=" in ln and key in seen:
            continue
        seen.add(key)
        body.append(ln)
    text_lines = ["name = \"x\"", *[""] * blank, "[run]", *body, "alhpa = 2.0", "until = \"1e-5\""]
    text = "\n".join(text_lines) + "\n"
    with pytest.raises(BiasflowError) as e:
        parse_config(text, where="c.toml")
    line = text_lines.index("alhpa = 2.0") + 1
    assert str(e.value).startswith(f"c.toml, line {line}: run.alhpa: unknown key")


def test_data_file_relative_to_config(tmp_path):
    from biasflow.data import gaussian, save
    from biasflow.sweep import load_config

    sub = tmp_path / "cfg"
    sub.mkdir()
    save(gaussian(n=5, d=8, k=1, seed=1), sub / "d.npz")
    (sub / "s.toml").write_text('[run]\ndata = "d.npz"\nuntil = "1e-5"\n[grid]\nalpha = [0.1, 1.0]\n')
    cfg, _ = load_config(sub / "s.toml")
    assert cfg.run.data == str((sub / "d.npz").resolve())
    (sub / "bad.toml").write_text('name = "b"\n[run]\ndata = "missing.npz"\n')
    with pytest.raises(BiasflowError, match=r"bad.toml, line 3: run.data: data file .*missing.npz.* not found"):
        load_config(sub / "bad.toml")
