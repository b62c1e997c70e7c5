"""The shallow model on the command line: functions as results, predictions, mirror options, bad input."""

import json

import numpy as np
import pytest

X6 = np.array([-1, -.6, -.1, .3, .7, 1.])
Y6 = np.array([.2, -.5, .4, .9, -.3, .5])


@pytest.fixture
def d6(tmp_path):
    f = tmp_path / "d6.npz"
    np.savez(f, X=X6[:, None], y=Y6)
    return f


def test_flow_output_layer_reports_functions_per_checkpoint(cli, d6):
    code, out, err = cli("flow", "--data", d6, "--model", "shallow", "--loss", "square", "--train", "output",
                         "--width", "400", "--asymmetric", "--until-loss", "1e-30", "--grid", "-1,1,11", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["status"] == "ok" and round(r["checkpoints"][-1]["log10_loss"], 6) == -30.0
    f = r["checkpoints"][-1]["function"]
    assert len(f["x"]) == len(f["f"]) == 11
    # at loss 1e-30 the net interpolates (residual ≤ √(2n·1e-30) ≈ 3e-15 on the data); the grid values
    # f₀ − K(grid, X)c carry the rounding of |c|·‖K‖ ≈ 1e3, i.e. ~1e-13
    assert abs(f["f"][0] - 0.2) < 1e-11 and abs(f["f"][-1] - 0.5) < 1e-11


def test_predict_matches_library_and_reports_certificates(cli, d6):
    from biasflow.bias.splines import predict_function

    code, out, err = cli("predict", "--data", d6, "--loss", "square", "--model", "shallow", "--asymmetric",
                         "--init", "pm1-uniform:a=2", "--grid", "-1,1,21", "--json")
    assert code == 0, err
    r = json.loads(out)
    ref = predict_function(X6, Y6, "pm1-uniform:a=2", grid=np.linspace(-1, 1, 21)[:, None])
    assert np.max(np.abs(np.array(r["function"]["f"]) - ref.f)) < 1e-12
    assert r["interpolation_residual"] < 1e-10 and r["zeta"][0] == 0.25
    assert 2e-3 <= r["sup_to_natural_spline"] and abs(r["norm2_K"] - 1291.2102) < 1e-3


def test_descent_records_the_function(cli, d6):
    code, out, err = cli("descent", "--data", d6, "--model", "shallow", "--loss", "square", "--width", "50",
                         "--lr", "1e-3", "--steps", "20", "--grid", "-1,1,3", "--record-every", "10", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert [g["step"] for g in r["functions"]] == [0, 10, 20]
    assert r["functions"][-1]["f"] == r["function"]["f"]


def test_mirror_descent_and_mirror_prediction(cli, d6):
    code, out, err = cli("descent", "--data", d6, "--model", "shallow", "--loss", "square", "--width", "50",
                         "--train", "output", "--lr", "1e-3", "--steps", "20", "--potential", "quartic",
                         "--potential-scale", "scaled", "--grid", "-1,1,3", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "ok"
    code, out, err = cli("predict", "--data", d6, "--loss", "square", "--model", "shallow", "--activation", "abs",
                         "--width", "400", "--potential", "cubic", "--grid", "-2,2,5", "--json")
    assert code == 0, err
    assert json.loads(out)["residual"] < 1e-9


@pytest.mark.parametrize("args, needle", [
    (["flow", "--grid", "1,0,5", "--train", "output"], "LO must be < HI"),
    (["flow", "--grid", "0,1,1", "--train", "output"], "NUM must be ≥ 2"),
    (["flow", "--init", "uniform:aw=1"], "needs ab (form uniform:aw=AW,ab=AB)"),
    (["flow", "--init", "cauchy:s=1"], "unknown init law 'cauchy'"),
    (["flow"], "non-smooth ODE"),
    (["predict", "--potential", "sextic"], "unknown potential"),
    (["flow", "--width", "1000000000"], "over the budget"),
])
def test_bad_input_is_one_line(cli, d6, args, needle):
    code, out, err = cli(*args[:1], "--data", d6, "--model", "shallow", "--loss", "square", *args[1:])
    assert code != 0 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_grid_with_2d_data_says_use_eval(cli, tmp_path):
    f = tmp_path / "d2.npz"
    np.savez(f, X=np.zeros((3, 2)) + np.arange(3)[:, None] * [0.1, 0.2], y=np.arange(3.0))
    code, _, err = cli("predict", "--data", f, "--loss", "square", "--model", "shallow", "--grid", "0,1,3")
    assert code != 0 and "--eval" in err


def test_potential_on_a_model_without_function_results_is_refused(cli, d6):
    code, _, err = cli("predict", "--data", d6, "--loss", "square", "--model", "diagonal", "--potential", "cubic")
    assert code != 0 and "models that learn functions" in err


def test_flow_reports_distance_to_prediction_falling_with_width(cli, d6):
    """sup|f − f_∞| at the final checkpoint: O(N^{-1/2}), so 16× the width shrinks it (measured ~3×)."""
    sups = []
    for width in ("1000", "16000"):
        code, out, err = cli("flow", "--data", d6, "--model", "shallow", "--loss", "square", "--train", "output",
                             "--width", width, "--asymmetric", "--until-loss", "1e-20", "--grid", "-1,1,101",
                             "--json")
        assert code == 0, err
        sups.append(json.loads(out)["checkpoints"][-1]["sup_to_prediction"])
    assert sups[1] < sups[0] / 2


def test_sgd_runs_on_the_shallow_model(cli, d6):
    code, out, err = cli("descent", "--data", d6, "--model", "shallow", "--loss", "square", "--width", "50",
                         "--lr", "1e-3", "--steps", "50", "--batch-size", "2", "--grid", "-1,1,3", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["status"] == "ok" and r["loss"][-1] < r["loss"][0]


def test_sweep_over_width_and_init_stores_function_metrics(cli, d6, tmp_path):
    cfg = tmp_path / "sw.toml"
    cfg.write_text(f'name = "s"\n[run]\ndata = "{d6}"\nmodel = "shallow"\nloss = "square"\ntrain = "output"\n'
                   'asymmetric = true\nuntil = "1e-20"\nlevels = ["1e-20"]\n[grid]\nwidth = [500, 4000]\n'
                   'init = ["pm1-uniform:a=2", "gaussian:sw=1,sb=1"]\n')
    code, _, err = cli("sweep", cfg, "--out", tmp_path / "out")
    assert code == 0, err
    code, out, err = cli("results", tmp_path / "out", "--sql",
                         "SELECT width, init, sup_to_prediction, status FROM results", "--json")
    rows = json.loads(out)
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    assert {r["init"] for r in rows} == {"pm1-uniform:a=2", "gaussian:sw=1,sb=1"}
    # the distance to the prediction is O(N^{-1/2}): smaller at the larger width for the uniform law
    u = {r["width"]: r["sup_to_prediction"] for r in rows if r["init"] == "pm1-uniform:a=2"}
    assert u[4000] < u[500]
