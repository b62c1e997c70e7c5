"""The CLI for G-CNNs and batch normalization: options, predictions with comparisons, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biasflow.data import save
from biasflow.experiments.cao2023 import linear_data
from biasflow.experiments.lawrence2022 import group_data


@pytest.fixture
def d4_file(tmp_path):
    p = tmp_path / "d4.npz"
    save(group_data("dihedral:n=4", 0), p)
    return p


@pytest.fixture
def cao_file(tmp_path):
    p = tmp_path / "cao.npz"
    save(linear_data(), p)
    return p


def test_gcnn_flow_and_predict_with_trajectory(cli, d4_file, tmp_path):
    code, out, err = cli("flow", "--data", d4_file, "--model", "gcnn", "--group", "dihedral:n=4", "--alpha", "0.1",
                         "--until-loss", "1e-10", "--json")
    assert code == 0, err
    traj = tmp_path / "t.json"
    traj.write_text(out)
    res = json.loads(out)
    assert res["model"]["group"] == "dihedral:n=4" and len(res["checkpoints"][-1]["predictor"]) == 8
    code, out, err = cli("predict", "--data", d4_file, "--model", "gcnn", "--group", "dihedral:n=4", "--alpha",
                         "0.1", "--trajectory", traj, "--json")
    assert code == 0, err
    pred = json.loads(out)
    assert pred["kind"] == "group" and pred["certificate"]["relative_gap"] <= 1e-6
    rows = pred["comparison"]
    gaps = [r["gap_group"] for r in rows]
    assert all(g >= 0 for g in gaps) and gaps[-1] < gaps[0]
    assert rows[-1]["gap_group"] < rows[-1]["gap_group_svm"]      # below the ℓ2-SVM's by 1e-10


def test_batchnorm_descent_and_predict(cli, cao_file):
    code, out, err = cli("descent", "--data", cao_file, "--model", "batchnorm", "--alpha", "0.4", "--gamma0", "1",
                         "--lr", "0.5", "--steps", "2000", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and len(res["predictor"]) == 6
    code, out, err = cli("predict", "--data", cao_file, "--model", "batchnorm", "--alpha", "0.4", "--json")
    assert code == 0, err
    pred = json.loads(out)
    assert pred["kind"] == "uniform" and pred["certificate"]["margin_spread"] <= 1e-12
    m = linear_data().A @ np.asarray(pred["predictor"])
    assert np.allclose(m, 1.0, atol=1e-12)                    # β̃ has all margins exactly 1


@pytest.mark.parametrize("args,message", [
    (["--model", "gcnn", "--group", "icosahedral"], "unknown group 'icosahedral'"),
    (["--model", "gcnn", "--group", "dihedral:n=4"], "has order 8 but the signals have length d = 30"),
    (["--model", "batchnorm", "--patches", "4"], "--patches 4 does not divide d = 30"),
    (["--model", "batchnorm", "--gamma0", "0"], "gamma0 must be a finite non-zero"),
    (["--model", "dense", "--group", "D4"], "--group is not an option of model 'dense'"),
])
def test_bad_input_is_one_line(cli, args, message):
    code, out, err = cli("flow", "--data", "sparse", "--loss", "exp", "--until-loss", "1e-3", *args)
    assert code != 0 and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_irreps_file_names_group_and_sum(cli, tmp_path):
    p = tmp_path / "bad.json"
    c, s = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
    p.write_text(json.dumps({"name": "half of D3", "generators": [[[[c, -s], [s, c]], [[1.0, 0.0], [0.0, -1.0]]]]}))
    code, out, err = cli("flow", "--data", "sparse", "--loss", "exp", "--until-loss", "1e-3", "--model", "gcnn",
                         "--group", f"file:{p}")
    assert code != 0 and "'half of D3' has order 6 but its irreps give Σ d_ρ² = 4" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_sweep_stores_group_and_batchnorm_columns(cli, tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('name = "m"\n[run]\ndata = "sparse"\nuntil = "1e-5"\nlevels = ["1e-2", "1e-5"]\nalpha = 0.3\n'
                   '[grid]\nmodel = ["dense", "gcnn", "batchnorm"]\n')
    out = tmp_path / "o"
    code, _, err = cli("sweep", cfg, "--out", out)
    assert code == 0, err
    code, stdout, err = cli("results", out, "--sql", "SELECT model, patches, gap_group, margin_spread FROM results "
                            "WHERE log10_loss = -5 ORDER BY model", "--json")
    assert code == 0, err
    rows = {r["model"]: r for r in json.loads(stdout)}
    assert rows["dense"]["patches"] is None and rows["dense"]["gap_group"] is None
    assert rows["gcnn"]["gap_group"] > 0 and rows["gcnn"]["margin_spread"] is None
    assert rows["batchnorm"]["patches"] == 1 and rows["batchnorm"]["margin_spread"] < 1e-12
