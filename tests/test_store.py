"""The results store: atomic fragments, DuckDB queries, versioning, refusal of foreign directories."""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.errors import BiasflowError
from biasflow.store import STAMP, Store, rows_to_table


def _rows(alpha, n=3):
    return [
        {
            "alpha": alpha,
            "log10_loss": -10.0 * (k + 1),
            "gap_l1": alpha / (k + 1),
            "status": "ok",
            "predictor": [alpha, float(k)],
        }
        for k in range(n)
    ]


def test_append_query_groupby(tmp_path):
    st_ = Store(tmp_path / "s")
    st_.append("a", _rows(0.5))
    st_.append_runs({"b": _rows(1.0), "c": _rows(2.0, n=2)})
    assert st_.run_ids() == {"a", "b", "c"} and len(st_) == 3
    res = st_.query(
        "SELECT run_id, count(*) AS n, sum(gap_l1) AS s FROM results GROUP BY run_id ORDER BY run_id"
    )
    assert [(r["run_id"], r["n"]) for r in res] == [("a", 3), ("b", 3), ("c", 2)]
    assert res[1]["s"] == pytest.approx(1.0 + 0.5 + 1 / 3)
    pred = st_.query("SELECT predictor FROM results WHERE run_id = 'a' ORDER BY log10_loss DESC")
    assert pred[1]["predictor"] == [0.5, 1.0]


def test_columns_unified_by_name(tmp_path):
    st_ = Store(tmp_path)
    st_.append("a", [{"alpha": 1.0, "gap_l1": 0.1}])
    st_.append("b", [{"alpha": 2.0, "recovery_error": 0.3, "status": "ok"}])
    rows = st_.query("SELECT alpha, gap_l1, recovery_error FROM results ORDER BY alpha")
    assert rows == [
        {"alpha": 1.0, "gap_l1": 0.1, "recovery_error": None},
        {"alpha": 2.0, "gap_l1": None, "recovery_error": 0.3},
    ]


def test_empty_store_queries(tmp_path):
    st_ = Store(tmp_path)
    assert st_.run_ids() == set()
    assert st_.query("SELECT count(*) AS n FROM results") == [{"n": 0}]


def test_sql_error_is_one_line(tmp_path):
    st_ = Store(tmp_path)
    st_.append("a", _rows(1.0))
    with pytest.raises(BiasflowError, match="SQL error.*'results'") as e:
        st_.query("SELECT nope FROM results")
    assert "\n" not in str(e.value)


def test_incompatible_version_refused_untouched(tmp_path):
    st_ = Store(tmp_path)
    st_.append("a", _rows(1.0))
    meta = json.loads((tmp_path / STAMP).read_text())
    meta["version"] = 999
    (tmp_path / STAMP).write_text(json.dumps(meta))
    before = sorted((p.name, p.stat().st_size) for p in (tmp_path / "runs").iterdir())
    with pytest.raises(BiasflowError, match="version 999"):
        Store(tmp_path)
    assert sorted((p.name, p.stat().st_size) for p in (tmp_path / "runs").iterdir()) == before
    assert json.loads((tmp_path / STAMP).read_text())["version"] == 999


def test_foreign_directory_refused(tmp_path):
    (tmp_path / "thesis.tex").write_text("do not touch")
    with pytest.raises(BiasflowError, match="not a biasflow results directory"):
        Store(tmp_path)
    assert not (tmp_path / STAMP).exists()
    with pytest.raises(BiasflowError, match="no biasflow-store.json"):
        Store(tmp_path / "missing", create=False)
    (tmp_path / "f").write_text("x")
    with pytest.raises(BiasflowError, match="is a file"):
        Store(tmp_path / "f")


def test_garbage_stamp_refused(tmp_path):
    (tmp_path / STAMP).write_text("{not json")
    with pytest.raises(BiasflowError, match="unreadable store stamp"):
        Store(tmp_path)


def test_temp_files_are_ignored(tmp_path):
    """A fragment being written (temp name) is invisible: the store never shows a partial run."""
    st_ = Store(tmp_path)
    st_.append("a", _rows(1.0))
    (tmp_path / "runs" / ".b.x.tmp").write_bytes(b"PAR1 half a file")
    assert st_.run_ids() == {"a"}
    assert st_.query("SELECT count(*) AS n FROM results")[0]["n"] == 3


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    st_ = Store(tmp_path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError):
        st_.append("a", _rows(1.0))
    assert list((tmp_path / "runs").iterdir()) == []


def test_bad_run_id_and_empty_rows(tmp_path):
    st_ = Store(tmp_path)
    with pytest.raises(BiasflowError, match="invalid run id"):
        st_.append("../evil", _rows(1.0))
    with pytest.raises(BiasflowError, match="no rows"):
        st_.append("a", [])


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-5, 5)), min_size=1, max_size=6))
def test_rows_to_table_keeps_values(vals):
    t = rows_to_table([{"v": v} for v in vals])
    got = t.column("v").to_pylist()
    for a, b in zip(vals, got, strict=True):
        if a is None:
            assert b is None
        else:
            assert b == a or (math.isinf(a) and b == a)


def test_stamp_records_versions(tmp_path):
    Store(tmp_path)
    meta = json.loads((tmp_path / STAMP).read_text())
    assert meta["format"] == "biasflow-results" and meta["version"] == 1
    assert {"biasflow", "jax", "pyarrow", "duckdb"} <= set(meta)
