"""``biasflow lr-phases`` and the phase classification (docs/theory/large-steps.md §5.3): lazy / catapult /
divergent."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biasflow.data import make_dataset, save

WARM = make_dataset(np.ones((1, 1)), np.zeros(1), task="regression", name="warmup")


@pytest.fixture(scope="module")
def warm_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "warm.npz"
    save(WARM, p)
    return p


def test_cli_lr_phases_json_and_figure(cli, warm_file, tmp_path):
    code, out, err = cli("lr-phases", "--data", warm_file, "--model", "uv", "--width", "100",
                         "--loss", "square", "--eta-min", "0.75", "--eta-max", "2.5", "--num", "3",
                         "--steps", "200", "--out", tmp_path / "fig", "--json")
    assert code == 0, err
    res = json.loads(out)
    runs = res["runs"]
    assert [r["phase"] for r in runs] == ["lazy", "catapult", "divergent"]
    assert abs(res["eta_unit"] - 2.0 / res["lambda0"]) < 1e-12 * res["eta_unit"]
    lazy, cat, div = runs
    assert lazy["peak_loss_ratio"] == 1.0 and cat["peak_loss_ratio"] > 10
    assert cat["final_sharpness"] < cat["two_over_eta"] and div["status"] == "diverged"
    assert all(np.isfinite(r["final_sharpness"]) for r in runs)
    assert (tmp_path / "fig" / "lr_phases.svg").exists() and (tmp_path / "fig" / "lr_phases.png").exists()


@pytest.mark.parametrize(
    "args,match",
    [
        (["--eta-min", "0"], "--eta-min"),
        (["--eta-min", "2", "--eta-max", "1"], "--eta-max"),
        (["--num", "0"], "--num"),
        (["--steps", "0"], "--steps"),
        (["--model", "mlp"], "unknown model"),
        (["--width", "0"], "width"),
        (["--batching", "pmap"], "--batching"),
    ],
)
def test_cli_lr_phases_bad_inputs(cli, warm_file, tmp_path, args, match):
    code, out, err = cli("lr-phases", "--data", warm_file, "--loss", "square", "--out", tmp_path / "o", *args)
    assert code == 2 and out == "" and match in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
