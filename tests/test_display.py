"""Results in a notebook: short reprs (no dump of X) and HTML tables; numbers written as a person would."""

from __future__ import annotations

import pytest

import biasflow as bf
from biasflow.bias.compare import compare
from biasflow.bias.predict import predict_at_loss
from biasflow.fmt import log10_text


@pytest.fixture(scope="module")
def run():
    ds = bf.gaussian(n=40, d=200, k=1, seed=0)
    net = bf.Diagonal(d=200, alpha=0.1)
    return ds, net, bf.flow(net, ds, "exp", until="1e-50")


def test_reprs_fit_a_cell(run):
    ds, net, tr = run
    for obj in (ds, tr, tr.final, predict_at_loss(net, ds, "1e-50"), bf.margin(ds, "l1"),
                bf.descent(net, ds, "exp", lr=0.1, steps=5)):
        text = repr(obj)
        assert len(text) < 600 and "\n" not in text, text  # a few lines of a notebook cell at most
        assert "array(" not in text  # no NumPy dump of X, y or β
    assert repr(ds) == "Dataset(name='gaussian-n40-d200-k1', task='classification', n=40, d=200)"
    assert "loss 1e-1 → 1e-50" in repr(tr) and "status='ok'" in repr(tr)


def test_html_tables(run):
    ds, net, tr = run
    page = tr._repr_html_()
    assert page.count("<tr>") == len(tr.checkpoints) + 1 and "<th>loss</th>" in page and ">1e-50<" in page
    rows = compare(tr, predict_at_loss(net, ds, "1e-50"), data=ds)
    assert isinstance(rows, list) and len(rows) == len(tr.checkpoints)  # still a list of dicts
    assert rows._repr_html_().count("<tr>") == len(rows) + 1
    p = predict_at_loss(net, ds, "1e-50")
    assert "<table>" in p._repr_html_() and "certificate" in p._repr_html_()
    assert "<table>" in bf.descent(net, ds, "exp", lr=0.1, steps=5)._repr_html_()


@pytest.mark.parametrize(
    "log10, text",
    [(-30.82, "1.51e-31"), (-1e9, "10^-1000000000"), (-10000.0, "1e-10000"), (-0.0, "1"), (-2.5, "3.16e-3")],
)
def test_levels_written_as_a_person_would(log10, text):
    assert log10_text(log10) == text


def test_floor_message_has_no_fractional_exponent():
    ds = bf.data.non_separable(bf.builtin("sparse"))
    tr = bf.flow(bf.Diagonal(d=30), ds, "exp", until="1e-5")
    assert tr.status == "target_unreachable"
    assert "1e-0." not in tr.message and "e+" not in tr.message
    assert log10_text(tr.floor_log10, 6) in tr.message  # the floor written as a number, e.g. 1.81818e-1
