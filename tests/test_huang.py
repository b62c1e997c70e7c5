"""huang2020 reproduction: its data constructions, its claim checks (which must be able to fail), and the
whole quick run (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biasflow.dynamics.separability import check
from biasflow.experiments import huang2020
from biasflow.models.uv import binary_entropy


def test_degenerate_data_fraction_and_separability():
    for p in (0.5, 0.8, 1.0):
        ds = huang2020.degenerate(p)
        s = ds.X @ huang2020.XBAR            # x_α = s_α x̄, κ = 1
        assert np.allclose(np.abs(s), 1.0)
        assert np.mean(ds.y * s > 0) == p
        assert check(ds, "logistic", margin=False).separable == (p == 1.0)
    # tol: the same closed form (two logs): ≤ 2 ulps
    assert abs(binary_entropy(0.8) - (-(0.8 * np.log(0.8) + 0.2 * np.log(0.2)))) < 1e-15


def test_digits_split_standardized_and_disjoint():
    tr, te = huang2020.digits_split(((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)), 400, 300)
    assert tr.n == 400 and te.n == 300 and tr.d == te.d
    # tol: standardization by float64 mean/std over n ≤ 1e3 rows: γ_n·max|X| ≈ 1e-13
    np.testing.assert_allclose(tr.X.mean(0), 0.0, atol=1e-12)
    # tol: as above
    np.testing.assert_allclose(tr.X.std(0), 1.0, atol=1e-12)
    assert set(np.unique(tr.y)) == {-1.0, 1.0}
    assert not check(tr, "logistic", margin=False).separable
    small, rest = huang2020.digits_split(((0,), (1,)), 200, 10_000)   # test set clipped to what exists
    assert small.n == 200 and rest.n > 0 and check(small, "logistic", margin=False).separable


def _row(c, **kw):
    base = dict(seed=0, c=c, status="ok", steps=100, rise=0.0, peak=1.0, final=1e-20, initial=0.1,
                lam_ratio=0.99, eta_lam=c * 0.99, blew_by_50=False)
    base.update(kw)
    return base


def test_claims_a_detect_violations():
    good = [_row(1.0), _row(3.0, rise=1.0, peak=100.0, lam_ratio=0.5, eta_lam=1.5),
            _row(5.0, status="diverged", blew_by_50=True)]
    assert [c.holds for c in huang2020.claims_a(good, 100)] == [True, True, True]
    bad = [_row(1.0, rise=1e-3), _row(3.0, rise=1.0, peak=100.0, lam_ratio=0.7, eta_lam=2.1),
           _row(5.0, status="ok", blew_by_50=False)]
    assert [c.holds for c in huang2020.claims_a(bad, 100)] == [False, False, False]


@pytest.mark.slow
def test_quick_reproduction_runs_and_uv_claims_hold(tmp_path):
    res = huang2020.run(tmp_path, quick=True)
    assert res.name == "huang2020" and len(res.claims) >= 9
    uv_claims = [c for c in res.claims if "digits" not in c.source]
    assert all(c.holds for c in uv_claims), [c.claim for c in uv_claims if not c.holds]
    for f in res.figures:
        assert (tmp_path / f).exists()
    json.dumps(res.to_json(), default=str)
