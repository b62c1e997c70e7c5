"""``biasflow flow/descent/predict --model matrix`` on matrix tasks: JSON with W as rows and geometry per
checkpoint, predictions with certificates, distances of a run to each, one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_flow_json_has_matrix_predictor_and_geometry(cli):
    code, out, err = cli("flow", "--data", "menon-2x2", "--model", "matrix", "--depth", "3",
                         "--init", "balanced:eps=0.1", "--until-loss", "1e-12", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and res["model"]["model"] == "matrix"
    c = res["checkpoints"][-1]
    assert c["log10_loss"] == -12.0
    W = np.array(c["predictor"])
    assert W.shape == (2, 2) and abs(W[0, 0] - 1) < 1e-5 and abs(W[1, 1] - 1) < 1e-5
    for key in ("log_volume", "entropy", "effective_rank", "nuclear_norm", "singular_values", "balance_drift"):
        assert key in c
    assert c["balance_drift"] < 1e-9


def test_riemannian_method_and_descent(cli):
    code, out, err = cli("flow", "--data", "menon-2x2", "--model", "matrix", "--depth", "2",
                         "--init", "balanced:eps=0.2", "--method", "riemannian", "--until-loss", "1e-8", "--json")
    assert code == 0, err
    assert json.loads(out)["method"] == "flow:riemannian"
    code, out, err = cli("descent", "--data", "menon-2x2", "--model", "matrix", "--depth", "3", "--alpha", "0.03",
                         "--lr", "0.1", "--steps", "3000", "--json")
    assert code == 0, err
    res = json.loads(out)
    W = np.array(res["predictor"])
    assert abs(abs(W[0, 1]) - 1) < 0.1 and abs(abs(W[1, 0]) - 1) < 0.1     # a corner (L = 3, small ε)
    assert res["checkpoints"][0]["step"] == 0 and "effective_rank" in res["checkpoints"][-1]


def test_predict_and_compare_a_run(cli, tmp_path):
    code, out, err = cli("predict", "--data", "menon-2x2", "--model", "matrix", "--json")
    assert code == 0, err
    preds = {p["name"]: p for p in json.loads(out)["predictions"]}
    assert preds["min_nuclear"]["value"] == pytest.approx(2.0, abs=1e-8) and preds["min_nuclear"]["gap"] < 1e-8
    assert {"rank_1_0", "rank_1_1", "min_frobenius"} <= set(preds)
    code, out, _ = cli("flow", "--data", "menon-2x2", "--model", "matrix", "--depth", "3",
                       "--init", "balanced:eps=0.1", "--until-loss", "1e-10", "--json")
    f = tmp_path / "run.json"
    f.write_text(out)
    code, out, err = cli("predict", "--data", "menon-2x2", "--trajectory", str(f), "--json")
    assert code == 0, err
    rows = json.loads(out)["comparison"]
    assert len(rows) == 4 and rows[-1]["dist_low_rank"] < 0.01 and rows[-1]["dist_frobenius"] > 0.3


def test_completion_file_and_vector_data(cli, tmp_path):
    p = tmp_path / "c.npz"
    np.savez(p, mask=np.array([[True, False], [True, True]]), values=np.array([[1.0, 0.0], [2.0, 3.0]]))
    code, out, err = cli("flow", "--data", p, "--model", "matrix", "--depth", "2", "--init", "balanced:eps=0.3",
                         "--until-loss", "1e-10", "--json")
    assert code == 0, err
    # vector data: the 1-column case through the generic paths
    code, out, err = cli("flow", "--data", "sparse-regression", "--model", "matrix", "--depth", "2",
                         "--alpha", "0.1", "--loss", "square", "--until-loss", "1e-6", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "ok"


@pytest.mark.parametrize(("arrays", "args", "needle"), [
    ({"mask": np.ones((2, 2), bool), "values": np.ones((2, 3))}, (), "shape"),
    ({"mask": np.zeros((2, 2), bool), "values": np.ones((2, 2))}, (), "no observed entries"),
    ({"mask": np.ones((2, 2), bool), "values": np.array([[1.0, np.nan], [0.0, 1.0]])}, (), "non-finite"),
    ({"mask": np.ones((2, 2), bool), "values": np.eye(2)}, ("--init", "gaussian:eps=0"), "positive"),
    ({"mask": np.ones((2, 2), bool), "values": np.eye(2)}, ("--depth", "3", "--widths", "2,2,2"), "chain"),
    ({"mask": np.ones((2, 2), bool), "values": np.eye(2)}, ("--loss", "exp"), "square loss"),
])
def test_bad_input_is_one_line(cli, tmp_path, arrays, args, needle):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    code, out, err = cli("flow", "--data", p, "--model", "matrix", *args)
    assert code != 0 and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
