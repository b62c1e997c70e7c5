"""CLI: ``biasflow margin``, ``interpolate``, ``predict`` (docs/reference/cli.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biasflow.bias.margins import max_margin
from biasflow.data import builtin, non_separable, save


def test_margin_json_contract(cli):
    code, out, err = cli("margin", "--data", "sparse", "--norm", "l1", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert {"margin", "predictor", "certificate", "status"} <= set(r)
    assert r["margin"] == pytest.approx(max_margin(builtin("sparse"), "l1").margin, rel=1e-12)
    assert np.abs(r["predictor"]).sum() == pytest.approx(1.0, rel=1e-12)
    assert r["certificate"]["relative_gap"] <= 1e-9


def test_margin_human_output(cli):
    code, out, _ = cli("margin", "--data", "sparse", "--norm", "l2")
    assert code == 0 and "l2 max-margin" in out


def test_interpolate_json(cli):
    code, out, err = cli(
        "interpolate", "--data", "sparse-regression", "--alpha", "0.01", "--depth", "3", "--json"
    )
    assert code == 0, err
    r = json.loads(out)
    ds = builtin("sparse-regression")
    assert r["status"] == "ok"
    assert np.linalg.norm(ds.X @ np.array(r["predictor"]) - ds.y) < 1e-10
    assert r["certificate"]["kkt_residual"] < 1e-9


def test_predict_levels_and_trajectory_comparison(cli, tmp_path):
    code, out, err = cli(
        "predict", "--data", "sparse", "--alpha", "0.5", "--at-loss", "1e-10,1e-100", "--json"
    )
    assert code == 0, err
    r = json.loads(out)
    preds = r["predictions"]
    assert [p["kind"] for p in preds] == ["q_mu", "q_mu"]
    assert [p["log10_loss"] for p in preds] == [-10.0, -100.0]
    # a flow result whose checkpoints are exactly the predictions: distance 0 at each level
    flow_json = {
        "status": "ok",
        "checkpoints": [
            {
                "log10_loss": p["log10_loss"],
                "log10_time": 0.0,
                "predictor": list(np.array(p["predictor"]) * p["gamma"]),
            }
            for p in preds
        ],
    }
    f = tmp_path / "flow.json"
    f.write_text(json.dumps(flow_json))
    code, out, err = cli("predict", "--data", "sparse", "--alpha", "0.5", "--trajectory", str(f), "--json")
    assert code == 0, err
    rows = json.loads(out)["comparison"]
    assert len(rows) == 2 and all(row["dist_qmu"] < 1e-9 for row in rows)
    code, out, _ = cli("predict", "--data", "sparse", "--alpha", "0.5", "--trajectory", str(f))
    assert code == 0 and "rho_nsv" in out


def test_predict_limit_and_regression(cli):
    code, out, _ = cli("predict", "--data", "sparse", "--json")
    assert code == 0 and json.loads(out)["kind"] == "l1"
    code, out, _ = cli(
        "predict", "--data", "sparse-regression", "--loss", "square", "--alpha", "0.1", "--json"
    )
    assert code == 0 and json.loads(out)["kind"] == "interpolant"


@pytest.mark.parametrize(
    "args,needle",
    [
        (("margin", "--data", "sparse", "--norm", "l3"), "unknown norm"),
        (("predict", "--data", "sparse", "--at-loss", "0.5"), "not below"),
        (("predict", "--data", "sparse", "--at-loss", "-1e-3"), "cannot read loss level"),
        (("predict", "--data", "sparse", "--trajectory", "nope.json"), "not found"),
        (("interpolate", "--data", "sparse-regression", "--alpha", "0"), "alpha"),
        (("predict", "--data", "sparse", "--lr", "0.1"), "diagonal-uv"),
        (("predict", "--data", "sparse", "--loss", "exp", "--lr", "0.1"), "regression"),
    ],
)
def test_bad_input_is_one_line(cli, args, needle):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_predict_finite_step(cli):
    code, out, err = cli(
        "predict",
        "--data",
        "sparse-regression",
        "--model",
        "diagonal-uv",
        "--alpha",
        "0.1",
        "--lr",
        "0.02",
        "--steps",
        "20000",
        "--json",
    )
    assert code == 0, err
    r = json.loads(out)
    assert r["kind"] == "finite_step" and r["certificate"]["gd_distance"] < 1e-6


def test_non_separable_file(cli, tmp_path):
    f = tmp_path / "bad.npz"
    save(non_separable(builtin("sparse")), f)
    code, _, err = cli("margin", "--data", str(f), "--norm", "l1")
    assert code == 2 and "not linearly separable" in err and "hinge" in err


def test_interpolate_inconsistent_regression(cli, tmp_path):
    ds = builtin("sparse-regression")
    X = np.vstack([ds.X, ds.X[:1]])
    y = np.concatenate([ds.y, ds.y[:1] + 1.0])
    f = tmp_path / "inconsistent.npz"
    np.savez(f, X=X, y=y)
    code, out, err = cli("interpolate", "--data", str(f), "--alpha", "0.1")
    assert code == 2 and "no interpolant exists" in err and "--least-squares" in err and out == ""
    code, out, err = cli("interpolate", "--data", str(f), "--alpha", "0.1", "--least-squares", "--json")
    assert code == 0, err
    r = json.loads(out)
    proj = X @ np.linalg.lstsq(X, y, rcond=None)[0]
    assert r["least_squares"] and np.linalg.norm(X @ np.array(r["predictor"]) - proj) < 1e-9
