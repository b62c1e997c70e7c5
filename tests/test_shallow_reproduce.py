"""The two shallow-network reproductions: every claim holds in quick mode, figures and store rows exist."""

import pytest

from biasflow.experiments import run_experiment


@pytest.mark.slow
@pytest.mark.parametrize("name, figures", [("jin2023", 3), ("liang2025", 2)])
def test_shallow_reproductions_quick_all_claims_hold(tmp_path, name, figures):
    res = run_experiment(name, tmp_path, quick=True)
    assert len(res.claims) >= 5
    assert all(c.holds for c in res.claims), [c.measured for c in res.claims if not c.holds]
    assert len(res.figures) == figures
    for f in res.figures:
        assert (tmp_path / f).exists() and (tmp_path / f).with_suffix(".png").exists()


def test_claim_checks_can_fail():
    """M1's check rejects gaps that do not fall like 1/N (a flat series)."""

    gaps = {("cubic", N): 0.1 for N in (800, 3200)}
    c = [gaps[("cubic", N)] * N for N in (800, 3200)]
    assert not (max(c) / min(c) < 2)
