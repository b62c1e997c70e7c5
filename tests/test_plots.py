"""Figures: each writes a valid SVG and a non-blank PNG; heat-map cells hold the stored values."""

from __future__ import annotations

import numpy as np
import pytest

from biasflow import plots
from biasflow.errors import BiasflowError

ALPHAS = [0.01, 0.1, 1.0, 10.0]
LEVELS = [-1.0, -10.0, -100.0, -1000.0]


def _rows():
    rows = []
    for a in ALPHAS:
        for lv in LEVELS:
            rows.append(
                {
                    "run_id": f"r{a}",
                    "alpha": a,
                    "depth": 2,
                    "log10_loss": lv,
                    "gap_l1": a / (1 - lv),
                    "gap_l2": 1 / (a * (1 - lv)),
                    "gamma_l1": 0.4 - a / (1 - lv) / 100,
                    "recovery_error": a / 20,
                    "status": "ok",
                    "predictor": [a, -lv, 1.0],
                }
            )
    return rows


def _check(paths):
    assert [p.rsplit(".", 1)[1] for p in paths] == ["svg", "png"]
    svg, png = paths
    assert open(svg).read().lstrip().startswith("<?xml")
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and float(np.std(img[..., :3])) > 0.02  # not blank


def test_phase_diagram_values(tmp_path, monkeypatch):
    captured = {}
    real = plots.plt.Axes.pcolormesh

    def spy(self, *a, **k):
        captured.setdefault("Z", np.asarray(a[2]))
        return real(self, *a, **k)

    monkeypatch.setattr(plots.plt.Axes, "pcolormesh", spy)
    _check(plots.phase_diagram(_rows(), tmp_path, value="gap_l1"))
    Z = captured["Z"]
    # rows: log10(1/ε) ascending; columns: α ascending
    assert Z.shape == (4, 4)
    assert Z[0, 0] == pytest.approx(0.01 / 2) and Z[3, 3] == pytest.approx(10.0 / 1001)


def test_other_figures(tmp_path):
    rows = _rows()
    _check(plots.gap_curves(rows, tmp_path, value="gap_l2"))
    _check(plots.margin_vs_loss(rows, tmp_path, reference=0.4))
    _check(plots.coefficient_paths([r for r in rows if r["alpha"] == 1.0], tmp_path))
    _check(plots.support_recovery(rows, tmp_path, value="recovery_error"))


def test_auto_figures(tmp_path):
    rows = [
        {k: v for k, v in r.items() if k not in ("gap_l2", "gamma_l1", "recovery_error")} for r in _rows()
    ]
    paths = plots.auto_figures(rows, tmp_path)
    names = {p.rsplit("/", 1)[1] for p in paths}
    assert names == {"phase_gap_l1.svg", "phase_gap_l1.png", "curves_gap_l1.svg", "curves_gap_l1.png"}


def test_no_finite_values_is_a_clear_error(tmp_path):
    rows = [{"alpha": 1.0, "log10_loss": None, "gap_l1": None, "status": "failed"}]
    with pytest.raises(BiasflowError, match="no rows with finite"):
        plots.phase_diagram(rows, tmp_path)
