"""Reproductions lawrence2022 and cao2023: quick modes hold every claim; the claim checks can fail."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lawrence2022", "cao2023"])
def test_quick_reproduction_all_claims_hold(cli, tmp_path, name):
    out = tmp_path / name
    code, stdout, err = cli("reproduce", name, "--quick", "--out", out, "--json")
    assert code == 0, err
    res = json.loads(stdout)
    assert res["claims_total"] >= 5 and res["claims_hold"] == res["claims_total"], res["claims"]
    for f in res["figures"]:
        assert (out / f).exists() and (out / f).with_suffix(".png").exists()


def _lawrence_result(d4_gaps, fc_gaps, svm=0.2):
    pts = [{"log10_loss": lv, "gap": g, "sigma": [[1.0], [1.0, r]]}
           for lv, g, r in zip([-1.5, -3.7, -10.0, -25.0], d4_gaps, [0.5, 0.5, 0.5, 0.5], strict=True)]
    run = {"status": "ok", "svm_gap": svm, "R2_star": 10.0, "R2_dual": 10.0, "points": pts,
           "optimum_sigma": [[1.0], [1.0, 0.0]], "svm_sigma": [[1.0], [1.0, 0.3]]}
    fc = {"status": "ok", "points": [{"log10_loss": p["log10_loss"], "gap": g} for p, g in zip(pts, fc_gaps,
                                                                                               strict=True)]}
    return {"g1": {"D4": 1e-15}, "d4": run, "fc": fc, "product": run}


def test_lawrence_claims_fail_on_bad_numbers():
    from biasflow.experiments.lawrence2022 import check_claims

    good = check_claims(_lawrence_result([0.2, 0.1, 0.05, 0.02], [0.4, 0.3, 0.25, 0.21]), quick=True)
    assert [c.holds for c in good[1:3]] == [True, True]
    # a G-CNN gap that stalls above 0.03 and above the SVM's; an FC gap that goes to 0
    bad = check_claims(_lawrence_result([0.3, 0.3, 0.3, 0.3], [0.3, 0.1, 0.02, 0.001]), quick=True)
    assert not bad[1].holds and not bad[2].holds and not bad[3].holds
    assert not bad[4].holds          # σ₂/σ₁ stays at 0.5: not low rank


def test_cao_claims_fail_on_bad_numbers():
    from biasflow.experiments.cao2023 import check_claims

    bn = [{"steps": k, "spread": s, "gamma": 1.0, "norm": 1.0, "norm_drift": 0.1, "null_drift": 0.0,
           "to_prediction": 0.5} for k, s in ((1000, 1.0), (10_000, 0.9), (100_000, 0.8))]
    res = {"b1": {"bn": bn, "bn_status": "ok", "plain": [{"steps": 1000, "spread": 0.6}], "plain_status": "ok",
                  "svm_spread": 0.8},
           "b2_b3": {"status": "ok", "points": [{"norm_drift": 1e-3, "null_drift": 1e-3}]},
           "b4": {"status": "ok", "points": [{"steps": 1, "patch_spread": 1.0, "sample_spread": 1.0},
                                             {"steps": 2, "patch_spread": 2.0, "sample_spread": 1.0}]},
           "examples": [{"patches": 1, "rows": [{"err_max": 0.1, "err_uniform": 0.2, "v_weight_max": 0.1,
                                                 "v_weight_uniform": 0.1}]}]}
    assert not any(c.holds for c in check_claims(res, quick=True))
