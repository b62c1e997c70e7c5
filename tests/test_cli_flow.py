"""`biasflow flow` through the CLI: the JSON contract, statuses, and every bad input of issue 3."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from biasflow.data import gaussian, non_separable, save


def one_line_error(code, out, err):
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("notice:")]
    return code != 0 and len(lines) == 1 and "Traceback" not in err and out == ""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    ds = gaussian(n=10, d=30, k=1, seed=0)
    save(ds, d / "ok.npz")
    save(ds, d / "ok.csv")
    save(non_separable(ds), d / "nonsep.npz")
    X = np.asarray(ds.X).copy()
    X[3, 4] = np.nan
    np.savez(d / "nan.npz", X=X, y=ds.y)
    np.savez(d / "inf_y.npz", X=ds.X, y=np.where(np.arange(10) == 2, np.inf, ds.y))
    np.savez(d / "labels.npz", X=ds.X, y=np.arange(10) % 3)
    np.savez(d / "shape.npz", X=ds.X, y=ds.y[:7])
    np.savez(d / "noy.npz", X=ds.X)
    np.savez(d / "zeroone.npz", X=ds.X, y=(np.asarray(ds.y) > 0).astype(float))
    (d / "garbage.npz").write_bytes(b"not a zip file")
    return d


def test_flow_json_contract(cli, files):
    code, out, err = cli("flow", "--data", files / "ok.npz", "--alpha", "0.1", "--until-loss", "1e-10000",
                         "--checkpoints", "1e-10,1e-1000", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and res["method"] == "exact"
    levels = [c["log10_loss"] for c in res["checkpoints"]]
    assert levels == [-10.0, -1000.0, -10000.0]
    for c in res["checkpoints"]:
        assert len(c["predictor"]) == 30 and math.isfinite(c["log10_time"])
    # the margins reproduce the reported loss level
    ds = gaussian(n=10, d=30, k=1, seed=0)
    m = np.asarray(ds.A) @ np.array(res["checkpoints"][-1]["predictor"])
    logL = -m.min() + math.log(np.exp(-(m - m.min())).sum()) - math.log(10)
    # tol: log ℒ recomputed in the log domain from the JSON β (17 digits): margins ≈ 2.3e4 carry
    # u·2.3e4 ≈ 5e-12 absolute; the event is located to rtol 1e-10 relative in s
    assert abs(logL / math.log(10) + 10000) < 1e-8 * 10000


def test_flow_csv_and_autodiff_and_human_output(cli, files):
    code, out, err = cli("flow", "--data", files / "ok.csv", "--depth", "3", "--alpha", "0.5",
                         "--until-loss", "1e-20", "--method", "autodiff")
    assert code == 0, err
    assert "loss" in out and "1e-20" in out


def test_zero_one_labels_are_converted(cli, files):
    code, out, err = cli("flow", "--data", files / "zeroone.npz", "--until-loss", "1e-5", "--json")
    assert code == 0 and "converted" in err
    assert json.loads(out)["status"] == "ok"


def test_non_separable_stops_with_floor(cli, files):
    code, out, err = cli("flow", "--data", files / "nonsep.npz", "--until-loss", "1e-100", "--json")
    assert code != 0
    res = json.loads(out)
    assert res["status"] == "target_unreachable"
    # tol: floor 2ℓ(0)/n from the separability LP: HiGHS tolerance 1e-9 × 10
    assert abs(10 ** res["floor_log10"] - 2 / 11) < 1e-8
    # one line on stderr in --json mode too: not separable, the floor, what to do; and the last state
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "not linearly separable" in lines[0] and "floor" in lines[0]
    assert "above the floor" in lines[0]
    assert len(res["last"]["predictor"]) == 30 and res["last"]["log10_loss"] > res["floor_log10"]


def test_non_separable_human_mode_says_it_once(cli, files):
    code, out, err = cli("flow", "--data", files / "nonsep.npz", "--until-loss", "1e-100")
    assert code == 3
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "target_unreachable" in lines[0] and "not linearly separable" in lines[0]
    assert out.startswith("last ")


@pytest.mark.parametrize("args,needle", [
    (["--data", "nan.npz"], "non-finite"),
    (["--data", "inf_y.npz"], "non-finite"),
    (["--data", "labels.npz"], "labels"),
    (["--data", "shape.npz"], "rows"),
    (["--data", "noy.npz"], "lacks"),
    (["--data", "garbage.npz"], ""),
    (["--data", "missing.npz"], "not found"),
    (["--data", "ok.npz", "--alpha", "0"], "alpha"),
    (["--data", "ok.npz", "--alpha", "-1"], "alpha"),
    (["--data", "ok.npz", "--depth", "0"], "depth"),
    (["--data", "ok.npz", "--model", "mlp9"], "unknown model"),
    (["--data", "ok.npz", "--loss", "hinge"], "unknown loss"),
    (["--data", "ok.npz", "--until-loss", "tiny"], "cannot read loss level"),
    (["--data", "ok.npz", "--until-loss", "-1e-5"], "cannot read loss level"),
    (["--data", "ok.npz", "--checkpoints", "1e-3,x"], "cannot read loss level"),
    (["--data", "ok.npz", "--method", "magic"], "unknown method"),
])
def test_bad_inputs_one_line(cli, files, args, needle):
    args = [str(files / a) if a.endswith(".npz") else a for a in args]
    code, out, err = cli("flow", *args, "--until-loss", "1e-5") if "--until-loss" not in args else cli(
        "flow", *args)
    assert one_line_error(code, out, err), (code, out, err)
    assert needle.lower() in err.lower()
