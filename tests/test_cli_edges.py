"""The edges of the command line: every environment or input failure is one line, never a traceback.

Read-only, full and missing directories; empty, truncated and wrong-typed data files; interrupts; broken
pipes; --version; locks and configuration identity of sweeps; progress lines; file modes; self-contained
reports; help texts for every option.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from biasflow.store import Store
from test_sweep import single_runner

SRC = str(Path(__import__("biasflow").__file__).resolve().parents[1])  # the biasflow under test
TOY = """\
name = "toy"
batch = 2

[run]
data = "sparse"
until = "1e-100"
levels = ["1e-10", "1e-100"]

[grid]
alpha = [0.01, 0.1, 1.0]
"""


def one_line(code: int, err: str, expected_code: int = 2) -> str:
    """The contract: the exit status, exactly one non-empty line on stderr, no traceback."""
    assert code == expected_code, err
    assert "Traceback" not in err and err.strip(), err
    assert not err.startswith("\n"), "a blank first line on stderr"
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A sweep config and a fast deterministic runner (the flow is tested elsewhere)."""
    monkeypatch.setattr("biasflow.sweep.executors.run_batch", single_runner)
    cfg = tmp_path / "toy.toml"
    cfg.write_text(TOY)
    return cfg


# ---------------------------------------------------------------------------------------------- data
@pytest.mark.parametrize(
    "name, content, words",
    [
        ("empty.npz", b"", "the file is empty"),
        ("trunc.npz", b"PK\x03\x04\x14\x00\x00\x00", "cannot read data file"),
        ("garbage.csv", b"\x00\x01\x02,\xff\n", "cannot read|not a number|as a number"),
        ("empty.csv", b"", "empty CSV"),
        ("empty.parquet", b"", "the file is empty"),
    ],
)
def test_broken_data_files_are_one_line(cli, tmp_path, name, content, words):
    (tmp_path / name).write_bytes(content)
    line = one_line(*cli("margin", "--data", tmp_path / name)[::2])
    assert re.search(words, line) and name in line


def test_wrong_typed_npz_is_one_line(cli, tmp_path):
    np.savez(tmp_path / "text.npz", X=np.array([["a", "b"]]), y=np.array([1]))
    np.savez(tmp_path / "cplx.npz", X=np.ones((2, 2), complex), y=np.ones(2))
    assert "text values" in one_line(*cli("margin", "--data", tmp_path / "text.npz")[::2])
    assert "complex values" in one_line(*cli("margin", "--data", tmp_path / "cplx.npz")[::2])


def test_three_classes_said_as_such_and_lines_are_file_lines(cli, tmp_path):
    (tmp_path / "three.csv").write_text("x,y\n1,0\n2,1\n3,2\n")
    line = one_line(*cli("margin", "--data", tmp_path / "three.csv")[::2])
    assert "3 classes (0, 1, 2)" in line and "row 0" not in line
    (tmp_path / "nan.csv").write_text("x,y\n\n1,1\n2,nan\n")  # header, a blank line: y is on line 4
    assert "at line 4" in one_line(*cli("margin", "--data", tmp_path / "nan.csv")[::2])


# ----------------------------------------------------------------------------------- environment
def _refuse_writes_under(monkeypatch, root: Path, err: int):
    """Make every file creation under ``root`` fail like a read-only or full file system."""
    real_open, real_mkdir = os.open, Path.mkdir
    msg = os.strerror(err)

    def fake_open(path, flags, *a, **k):
        if str(path).startswith(str(root)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(err, msg, str(path))
        return real_open(path, flags, *a, **k)

    def fake_mkdir(self, *a, **k):
        if str(self).startswith(str(root)) and not self.exists():
            raise OSError(err, msg, str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(Path, "mkdir", fake_mkdir)


@pytest.mark.parametrize("err, words", [(errno.EROFS, "read-only"), (errno.ENOSPC, "no space")])
def test_unwritable_out_is_one_line_for_sweep_resume_and_report(cli, toy, tmp_path, monkeypatch, err, words):
    out = tmp_path / "out"
    assert cli("sweep", toy, "--out", out)[0] == 0
    _refuse_writes_under(monkeypatch, out, err)
    for args in (("sweep", toy, "--out", out, "--resume"), ("report", out)):
        line = one_line(*cli(*args)[::2], expected_code=1)
        assert words in line.lower() and str(out) in line
    fresh = tmp_path / "fresh"
    _refuse_writes_under(monkeypatch, fresh, err)
    assert words in one_line(*cli("sweep", toy, "--out", fresh)[::2], expected_code=1).lower()


def test_missing_paths_are_one_line(cli, tmp_path):
    assert "not" in one_line(*cli("sweep", tmp_path / "nope.toml", "--out", tmp_path / "o")[::2])
    assert "not a directory" in one_line(*cli("report", tmp_path / "nope")[::2])
    assert "not a biasflow results directory" in one_line(*cli("results", tmp_path)[::2])


def test_version(cli):
    from biasflow import __version__

    code, out, err = cli("--version")
    assert code == 0 and out.strip() == f"biasflow {__version__}" and err == ""


def test_sigint_during_sweep_says_what_was_stored(cli, toy, tmp_path, monkeypatch):
    calls = []

    def interrupted(batch):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return single_runner(batch)

    monkeypatch.setattr("biasflow.sweep.executors.run_batch", interrupted)
    out = tmp_path / "out"
    code, _, err = cli("sweep", toy, "--out", out)
    line = one_line(code, err, expected_code=130)
    assert "interrupted: 2 run(s) of the 3 to do were stored" in line
    assert f"biasflow sweep {toy} --out {out} --resume" in line
    assert len(Store(out).run_ids()) == 2  # the first batch (2 runs) is complete and stored


def test_sigint_really_delivered_exits_130(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(TOY.replace('until = "1e-100"', 'until = "1e-1000"'))
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("BIASFLOW_NO_PROGRESS", None)
    # the child installs Python's Ctrl-C handler itself (a background shell may start it with SIGINT ignored)
    child = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from biasflow.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", child, "sweep", str(cfg), "--out", str(tmp_path / "o")],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )
    first = p.stderr.readline()  # "sweep toy: 3 run(s) to do": the runs start (compiling) now
    assert "3 run(s) to do" in first
    p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    assert p.wait(timeout=60) == 130
    assert "Traceback" not in rest and "--resume" in rest and "interrupted" in rest


def test_broken_pipe_is_quiet_and_zero(tmp_path, toy):
    from biasflow.sweep import parse_config, run_sweep

    run_sweep(parse_config(TOY), tmp_path / "o", runner=single_runner, text=TOY)
    env = {**os.environ, "PYTHONPATH": SRC}
    sql = "SELECT range FROM range(200000)"  # far more than a pipe buffer
    p = subprocess.run(
        f"{sys.executable} -m biasflow results {tmp_path / 'o'} --sql '{sql}' | head -n 2",
        shell=True, capture_output=True, text=True, env=env, executable="/bin/bash",
    )
    assert p.stdout.splitlines() == ["range", "0"]
    assert "Traceback" not in p.stderr and "Broken pipe" not in p.stderr
    p = subprocess.run(
        f"{sys.executable} -m biasflow results {tmp_path / 'o'} --sql '{sql}' | head -c 10; "
        "echo \"status ${PIPESTATUS[0]}\"",
        shell=True, capture_output=True, text=True, env=env, executable="/bin/bash",
    )
    assert p.stdout.endswith("status 0\n") and p.stderr == ""


# -------------------------------------------------------------------------------------------- sweeps
def test_resume_with_changed_config_refused_unless_new_config(cli, toy, tmp_path):
    out = tmp_path / "out"
    assert cli("sweep", toy, "--out", out)[0] == 0
    changed = tmp_path / "changed.toml"
    changed.write_text(TOY.replace("1.0]", "1.0, 3.0]"))
    line = one_line(*cli("sweep", changed, "--out", out, "--resume")[::2])
    assert "another configuration" in line and "--new-config" in line
    assert Store(out).query("SELECT count(DISTINCT run_id) AS n FROM results")[0]["n"] == 3  # untouched
    assert (out / "sweep.toml").read_text() == TOY
    code, out_text, err = cli("sweep", changed, "--out", out, "--resume", "--new-config", "--json")
    assert code == 0, err
    ids = Store(out).query("SELECT config_id, count(DISTINCT run_id) AS n FROM results GROUP BY config_id")
    assert sorted(r["n"] for r in ids) == [1, 3] and all(re.fullmatch(r"[0-9a-f]{12}", r["config_id"]) for r in ids)
    assert (out / "sweep.toml").read_text() == TOY  # the first configuration is kept
    assert len(list((out / "configs").glob("*.toml"))) == 2
    # the same configuration again (a comment added) resumes without --new-config
    (tmp_path / "same.toml").write_text("# a comment\n" + TOY)
    assert cli("sweep", tmp_path / "same.toml", "--out", out, "--resume")[0] == 0


def test_second_sweep_into_locked_out_is_refused(cli, toy, tmp_path):
    out = tmp_path / "out"
    Store(out)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from biasflow.store import Store
            with Store({str(out)!r}).lock():
                print("locked", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_line(*cli("sweep", toy, "--out", out)[::2])
        assert "in use by another biasflow run" in line and f"process {holder.pid}" in line
        assert not Store(out).fragments()
    finally:
        holder.kill()
        holder.wait()
    assert cli("sweep", toy, "--out", out)[0] == 0  # the lock dies with its process


def test_progress_one_line_per_batch_when_not_a_terminal(cli, toy, tmp_path, monkeypatch):
    monkeypatch.delenv("BIASFLOW_NO_PROGRESS", raising=False)
    code, _, err = cli("sweep", toy, "--out", tmp_path / "o")
    assert code == 0
    lines = err.strip().splitlines()
    assert lines[0] == "sweep toy: 3 run(s) to do"
    assert re.match(r"sweep toy: 2/3 runs stored, .* elapsed, about .* left$", lines[1])
    assert re.match(r"sweep toy: 3/3 runs stored, .* elapsed$", lines[2]) and len(lines) == 3


# --------------------------------------------------------------------------------------------- files
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_honour_the_umask(cli, toy, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        out = tmp_path / "out"
        assert cli("sweep", toy, "--out", out, "--report")[0] == 0
    finally:
        os.umask(old)
    files = [out / "report.html", out / "sweep.toml", out / "biasflow-store.json", *Store(out).fragments()]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {mode}


def test_report_works_copied_alone(cli, toy, tmp_path):
    from biasflow.store import RUNS

    out = tmp_path / "out"
    assert cli("sweep", toy, "--out", out, "--report")[0] == 0
    html = (out / "report.html").read_text()
    # nothing in the page points at another file: every src/href is a data: URI or an in-page anchor
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), [r[:40] for r in refs]
    assert RUNS not in " ".join(refs)


# ---------------------------------------------------------------------------------------------- help
def _commands():
    import typer

    from biasflow.cli import app

    group = typer.main.get_command(app)
    return group, sorted(group.commands)


@pytest.mark.parametrize("name", _commands()[1])
def test_every_option_has_help(cli, name):
    group, _ = _commands()
    cmd = group.commands[name]
    bare = [p.opts[0] for p in cmd.params if not (getattr(p, "help", None) or "").strip()]
    assert not bare, f"{name}: options without help: {bare}"
    code, out, err = cli(name, "--help")
    assert code == 0 and "<bool>" not in out


def test_sweep_help_shows_brackets(cli):
    out = cli("sweep", "--help")[1]
    assert "[run]" in out and "[grid]" in out and "--new-config" in out


# ----------------------------------------------------------------------------------- audit findings
def test_foreign_file_in_store_is_one_line(cli, toy, tmp_path):
    out = tmp_path / "out"
    assert cli("sweep", toy, "--out", out)[0] == 0
    (out / "runs" / "zz.parquet").write_text("not parquet")
    for args in (("report", out), ("results", out), ("sweep", toy, "--out", out, "--resume")):
        line = one_line(*cli(*args)[::2])
        assert "zz.parquet is not a readable results fragment" in line and "move it out" in line


def test_empty_sweep_config_refused(cli, tmp_path):
    (tmp_path / "e.toml").write_text("# nothing yet\n\n")
    assert "config is empty" in one_line(*cli("sweep", tmp_path / "e.toml", "--out", tmp_path / "o")[::2])
    assert not (tmp_path / "o").exists()


def test_no_blank_line_on_stderr_without_a_terminal(cli, monkeypatch):
    monkeypatch.delenv("BIASFLOW_NO_PROGRESS", raising=False)  # progress on, but stderr is not a terminal
    code, out, err = cli("flow", "--data", "sparse", "--until-loss", "1e-3")
    assert code == 0 and err.startswith("status: ok") and err.count("\n") == 1


def test_predict_duplicate_points_with_opposite_labels_says_not_separable(cli, tmp_path):
    from biasflow.data import builtin, non_separable, save

    save(non_separable(builtin("sparse")), tmp_path / "dup.csv")
    dup = tmp_path / "dup.csv"
    for args in (("predict", "--data", dup, "--at-loss", "1e-10"), ("margin", "--data", dup)):
        line = one_line(*cli(*args)[::2])
        assert "not linearly separable" in line and "bracket" not in line


def test_messages_name_inputs_that_work(cli):
    line = one_line(*cli("descent", "--data", "sparse", "--lr", "0.1", "--steps", "3", "--schedule", "warmup")[::2])
    suggestion = line.split("e.g. --schedule ")[1].split()[0]
    assert suggestion != "warmup"
    code, _, err = cli("descent", "--data", "sparse", "--lr", "0.1", "--steps", "3", "--schedule", suggestion)
    assert code == 0, err
    from biasflow.dynamics import clock

    assert "--max-steps" in clock._RAISE
    flow_opts = {o for p in _commands()[0].commands["flow"].params for o in p.opts}
    assert "--max-steps" in flow_opts


def test_sigint_during_reproduction_says_what_was_stored(cli, tmp_path, monkeypatch):
    from biasflow.sweep import sweep_rows

    def fake_experiment(out, quick):
        sweep_rows(TOY, out, runner=single_runner)  # 3 runs stored, reported per batch
        raise KeyboardInterrupt

    monkeypatch.setattr("biasflow.experiments.get_experiment", lambda name: fake_experiment)
    monkeypatch.delenv("BIASFLOW_NO_PROGRESS", raising=False)
    out = tmp_path / "r"
    code, _, err = cli("reproduce", "moroshko2020", "--out", out, "--quick")
    lines = err.strip().splitlines()
    assert code == 130 and "Traceback" not in err
    assert lines[0] == "reproduce moroshko2020 (quick): toy: 3 run(s) to do"
    assert lines[-1] == (
        f"biasflow: interrupted: 3 run(s) are stored in {out} (runs in flight are lost); resume with: "
        f"biasflow reproduce moroshko2020 --out {out} --quick (stored runs are reused)"
    )


def test_warnings_are_one_line_each(cli, monkeypatch):
    import warnings

    from biasflow.errors import BiasflowError

    def noisy(*a, **k):
        warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
        raise BiasflowError("stop here")

    monkeypatch.setattr("biasflow.cli.bias.load_data", noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code, _, err = cli("margin", "--data", "sparse")
    assert code == 2 and err.splitlines() == [
        "biasflow: warning: overflow encountered in exp (RuntimeWarning at test_cli_edges.py:"
        + err.splitlines()[0].rsplit(":", 1)[1],
        "biasflow: error: stop here",
    ]


def test_accelerator_out_of_memory_is_one_line(cli, monkeypatch):
    def oom(*a, **k):  # what XLA raises (a RuntimeError subclass), not a MemoryError
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 16000000000016 bytes.")

    monkeypatch.setattr("biasflow.dynamics.phases.phase_map", oom)
    line = one_line(*cli("lr-phases", "--data", "sparse", "--num", "2", "--steps", "5")[::2], expected_code=1)
    assert line.startswith("biasflow: error: out of memory; reduce the problem size")


def test_status_lines_do_not_wrap_inside_numbers():
    from rich.console import Console

    from biasflow.cli._common import stderr

    line = "status: target_unreachable  (the exp loss has a floor: 0.181818; [1e-10, 1e-1] reached) 1.5e-31"
    narrow = Console(width=30, soft_wrap=stderr.soft_wrap, highlight=False, markup=stderr._markup, record=True)
    with narrow.capture() as cap:
        narrow.print(line)
    assert cap.get() == line + "\n"  # one line for the terminal to fold; brackets kept, nothing re-broken


@pytest.mark.parametrize(
    "args",
    [
        ("descent", "--data", "sparse", "--lr", "0.1", "--steps", "100000000000"),
        ("lr-phases", "--data", "sparse", "--steps", "1000000000000", "--num", "2"),
    ],
)
def test_huge_step_counts_refused_before_allocating(cli, args):
    line = one_line(*cli(*args)[::2])
    assert "GiB of memory, over the budget" in line and "reduce --steps" in line
