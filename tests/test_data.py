"""Data sets: loaders, generators, validation (every bad input is one clear BiasflowError)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow import data
from biasflow.errors import BiasflowError


def test_npz_csv_roundtrip(tmp_path):
    ds = data.gaussian(n=7, d=4, k=2, seed=3)
    for suffix in (".npz", ".csv"):
        p = tmp_path / f"d{suffix}"
        data.save(ds, p)
        back = data.load(p)
        np.testing.assert_array_equal(back.X, ds.X)
        np.testing.assert_array_equal(back.y, ds.y)
        assert back.task == "classification"


def test_parquet_last_column_is_y(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [0.5, -1.0], "y": [1.0, -1.0]}), tmp_path / "d.parquet")
    ds = data.load(tmp_path / "d.parquet")
    np.testing.assert_array_equal(ds.X, [[1.0, 0.5], [2.0, -1.0]])
    np.testing.assert_array_equal(ds.y, [1.0, -1.0])


def test_csv_header_and_zero_one_labels(tmp_path, capsys):
    p = tmp_path / "d.csv"
    p.write_text("x1,x2,label\n1,2,0\n3,4,1\n")
    ds = data.load(p)
    np.testing.assert_array_equal(ds.y, [-1.0, 1.0])
    assert "converted" in capsys.readouterr().err


@pytest.mark.parametrize(
    "X, y, fragment",
    [
        ([[1.0, np.nan]], [1.0], "X\\[0, 1\\]"),
        ([[1.0, 2.0]], [np.inf], "non-finite"),
        ([[1.0, 2.0], [3.0, 4.0]], [1.0], "2 rows but y has 1"),
        ([1.0, 2.0], [1.0, 1.0], "2-D"),
        ([[1.0, 2.0]], [2.0], "-1/+1"),
        (np.zeros((0, 3)), np.zeros(0), "empty"),
    ],
)
def test_bad_arrays(X, y, fragment):
    with pytest.raises(BiasflowError, match=fragment.replace("+", r"\+")):
        data.make_dataset(X, y)


def test_bad_files(tmp_path):
    with pytest.raises(BiasflowError, match="not found"):
        data.load(tmp_path / "missing.npz")
    (tmp_path / "x.txt").write_text("1,2")
    with pytest.raises(BiasflowError, match="unknown data format"):
        data.load(tmp_path / "x.txt")
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,1\n1,oops,1\n")
    with pytest.raises(BiasflowError, match="line 2, column 2"):
        data.load(bad)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,1\n1,1\n")
    with pytest.raises(BiasflowError, match="line 2 has 2 columns"):
        data.load(ragged)
    np.savez(tmp_path / "nox.npz", A=np.ones((2, 2)))
    with pytest.raises(BiasflowError, match="lacks array"):
        data.load(tmp_path / "nox.npz")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    with pytest.raises(BiasflowError, match="cannot read"):
        data.load(tmp_path / "garbage.npz")


def test_regression_targets_pass_through():
    ds = data.make_dataset([[1.0], [2.0]], [0.3, -7.0], task="regression")
    np.testing.assert_array_equal(ds.A, ds.X)


def test_signed_matrix():
    ds = data.make_dataset([[1.0, 2.0], [3.0, 4.0]], [1, -1])
    np.testing.assert_array_equal(ds.A, [[1.0, 2.0], [-3.0, -4.0]])


def test_non_separable_appends_flipped_copy():
    ds = data.gaussian(n=5, d=8, seed=1)
    ns = data.non_separable(ds)
    assert ns.n == 6
    np.testing.assert_array_equal(ns.X[-1], ds.X[0])
    assert ns.y[-1] == -ds.y[0]


def test_builtins_and_digits():
    for name in data.BUILTINS:
        ds = data.builtin(name)
        assert np.all(np.isfinite(ds.X)) and ds.n >= 10
    dg = data.digits((3, 8), n=50)
    assert dg.n == 50 and set(np.unique(dg.y)) == {-1.0, 1.0}
    np.testing.assert_allclose(data.digits((3, 8)).X.mean(axis=0), 0.0, atol=1e-12)
    with pytest.raises(BiasflowError, match="unknown built-in"):
        data.builtin("mnist")
    with pytest.raises(BiasflowError, match="two different digits"):
        data.digits((3, 3))


def test_resolve_prefers_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert data.resolve("sparse").name.startswith("gaussian")
    assert data.resolve("builtin:digits").name == "digits-0v1"
    with pytest.raises(BiasflowError, match="not found"):
        data.resolve("nope.csv")


@given(n=st.integers(1, 12), d=st.integers(1, 12), seed=st.integers(0, 10))
def test_gaussian_shapes_and_teacher(n, d, seed):
    ds = data.gaussian(n=n, d=d, k=1, seed=seed)
    assert ds.X.shape == (n, d) and ds.y.shape == (n,)
    assert np.all(ds.A[:, 0] >= 0)  # y = sign(x_1)


def test_split():
    tr, te = data.gaussian(n=10, d=3).split(7)
    assert (tr.n, te.n) == (7, 3)
    with pytest.raises(BiasflowError):
        data.gaussian(n=10, d=3).split(10)
