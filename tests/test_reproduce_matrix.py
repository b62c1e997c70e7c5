"""The matrix reproductions (menon2024, arora2019): quick modes run and every claim holds; the claim checks
can fail on synthetic outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from biasflow.experiments import run_experiment


@pytest.mark.slow
@pytest.mark.parametrize("name", ["menon2024", "arora2019"])
def test_quick_reproduction_claims_hold(tmp_path, name):
    res = run_experiment(name, tmp_path, quick=True)
    assert len(res.claims) >= 3 and all(c.holds for c in res.claims), [c.measured for c in res.claims]
    assert len(res.figures) >= 2
    for f in res.figures:
        assert (tmp_path / f).exists() and (tmp_path / f).with_suffix(".png").exists()
    from biasflow.store import Store

    assert Store(tmp_path).run_ids()


def test_corner_statistics_can_fail():
    from biasflow.experiments.menon2024 import corner_stats

    a = np.linspace(0.3, 3.0, 50)
    on_hyperbola_far = np.stack([np.ones_like(a), 3 * np.ones_like(a), np.ones_like(a) / 3, np.ones_like(a)], 1)
    st = corner_stats(on_hyperbola_far.reshape(-1, 2, 2))
    assert st["corner"] == 0.0 and st["rank1"] == 1.0 and st["on_segment"] == 0.0
    corners = np.tile(np.array([[1.0, 1.0], [1.0, 1.0]]), (10, 1, 1))
    assert corner_stats(corners)["corner"] == 1.0


def test_arora_claims_can_fail():
    from biasflow.experiments.arora2019 import check_claims

    rows = [{"seed": 1, "depth": L, "status": "ok", "effective_rank": 3.0, "test_error": 0.5, "half_rise": [10, 10, 10]}
            for L in (1, 2, 3)]
    claims = check_claims(rows, {1: {"test_error": 0.4, "gap": 0.0}}, [1, 2, 3])
    assert not any(c.holds for c in claims)
