"""Tensor networks under the generic gradient flow: limits, two independent paths, invariants, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biasflow.bias.margins import max_margin, normalized_margin
from biasflow.bias.transformed import fourier_l1, fourier_l1_max_margin
from biasflow.data import gaussian
from biasflow.dynamics.balance import invariant_drift, monitor
from biasflow.dynamics.flow import flow
from biasflow.levels import Level
from biasflow.models import Conv, Dense, Diagonal, TensorNetwork

DS = gaussian(n=6, d=8, k=1, seed=0)
LEVELS = [Level.from_log10(v) for v in (-5.0, -20.0, -100.0)]


def _decreasing(v):
    return all(b < a for a, b in zip(v, v[1:], strict=False))


def test_fc_small_init_flow_approaches_l2_svm_and_stays_balanced():
    net = Dense(d=8, depth=2, width=4, alpha=0.3, seed=0)
    traj = flow(net, DS, "exp", until=LEVELS[-1], checkpoints=LEVELS)
    assert traj.status == "ok"
    g2 = max_margin(DS, "l2").margin
    gaps = [1 - normalized_margin(c.predictor, DS, "l2") / g2 for c in traj.checkpoints]
    assert _decreasing(gaps) and 0 <= gaps[-1] < 0.02
    drift = monitor(net, traj, params0=net.init())
    assert np.all(drift < 1e-8)
    # Ji & Telgarsky 2019a alignment: W_1 tends to rank one and aligns with w_2 (from 0.57 / 0.46 at init)
    from biasflow.bias.transformed import alignment

    a0, a = alignment(net, net.init()), [alignment(net, c.params) for c in traj.checkpoints]
    assert a0["rank_one_ratio"][0] < 0.9 and a0["adjacent_alignment"][0] < 0.9
    ratios = [x["rank_one_ratio"][0] for x in a]
    assert _decreasing([1 - r for r in ratios]) and ratios[-1] > 0.999
    assert a[-1]["adjacent_alignment"][0] > 1 - 1e-6


def test_conv_l2_flow_approaches_fourier_l1_max_margin():
    net = Conv(d=8, depth=2, alpha=0.3, seed=0)
    traj = flow(net, DS, "exp", until=LEVELS[-1], checkpoints=LEVELS)
    assert traj.status == "ok"
    gF = fourier_l1_max_margin(DS).margin
    gaps = [1 - float(np.min(DS.A @ c.predictor)) / fourier_l1(c.predictor) / gF for c in traj.checkpoints]
    assert _decreasing(gaps) and 0 <= gaps[-1] < 0.02
    # per-frequency balancedness held along the flow
    assert max(invariant_drift(net, net.init(), c.params) for c in traj.checkpoints) < 1e-8


def test_tensor_conv_and_conv_flows_agree():
    """Two parametrizations of the same network (FFT conv model and the sparse tensor) give one trajectory."""
    conv = Conv(d=8, depth=2, alpha=0.3, seed=0)
    ten = TensorNetwork.convolution(8, 2).with_init(conv.init())
    a = flow(conv, DS, "exp", until="1e-20", checkpoints=["1e-5", "1e-20"])
    b = flow(ten, DS, "exp", until="1e-20", checkpoints=["1e-5", "1e-20"])
    assert a.status == b.status == "ok"
    for ca, cb in zip(a.checkpoints, b.checkpoints, strict=True):
        np.testing.assert_allclose(
            cb.predictor, ca.predictor, rtol=1e-6, atol=1e-8 * np.abs(ca.predictor).max()
        )


def test_tensor_diagonal_autodiff_matches_exact_dual_flow():
    """The diagonal tensor network (autodiff primal path) vs Diagonal's exact dual flow
    (docs/theory/diagonal.md §3.2)."""
    diag = Diagonal(d=8, depth=2, alpha=0.5)
    ten = TensorNetwork.diagonal(8, 2, branches=2, alpha=0.5)
    a = flow(diag, DS, "exp", until="1e-20", checkpoints=["1e-5", "1e-20"], method="exact")
    b = flow(ten, DS, "exp", until="1e-20", checkpoints=["1e-5", "1e-20"])
    assert a.status == b.status == "ok"
    for ca, cb in zip(a.checkpoints, b.checkpoints, strict=True):
        np.testing.assert_allclose(
            cb.predictor, ca.predictor, rtol=1e-6, atol=1e-8 * np.abs(ca.predictor).max()
        )


def test_cli_trains_and_predicts_tensor_models(cli):
    code, out, err = cli(
        "flow",
        "--data",
        "sparse",
        "--model",
        "conv",
        "--depth",
        "2",
        "--alpha",
        "0.3",
        "--until-loss",
        "1e-10",
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and res["model"]["model"] == "conv"
    code, out, err = cli(
        "descent",
        "--data",
        "sparse",
        "--model",
        "dense",
        "--width",
        "5",
        "--depth",
        "3",
        "--alpha",
        "0.5",
        "--lr",
        "0.1",
        "--steps",
        "50",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ok"
    code, out, err = cli("predict", "--data", "sparse", "--model", "conv", "--depth", "2", "--json")
    assert code == 0, err
    assert len(json.loads(out)["predictor"]) == 30


def test_cli_refuses_oversize_and_bad_kernel(cli):
    code, out, err = cli(
        "flow",
        "--data",
        "sparse",
        "--model",
        "dense",
        "--width",
        "100000",
        "--depth",
        "4",
        "--until-loss",
        "1e-5",
    )
    assert code != 0 and "estimated" in err and "GiB" in err and "Traceback" not in err
    code, out, err = cli(
        "flow", "--data", "sparse", "--model", "conv", "--width", "31", "--until-loss", "1e-5"
    )
    assert code != 0 and "length 31, but filters must have length 1..d=30" in err


@pytest.mark.slow
def test_yun2021_quick_reproduction(tmp_path):
    from biasflow.experiments import run_experiment

    r = run_experiment("yun2021", tmp_path, quick=True)
    assert all(c.holds for c in r.claims), [c.measured for c in r.claims if not c.holds]
    for f in r.figures:
        assert (tmp_path / f).exists() and (tmp_path / f.replace(".svg", ".png")).exists()


def test_sign_locked_diagonal_keeps_signs_along_flow():
    """docs/theory/tensor.md §4.3: L = 2 with |a_1(0)| = |a_2(0)| (the constant start) never changes the sign of ρ_j."""
    from biasflow.bias.transformed import degenerate_coordinates

    net = TensorNetwork.diagonal(8, 2, alpha=0.5, init="constant")
    assert degenerate_coordinates(net, net.init())["sign_locked"] == list(range(8))
    traj = flow(net, DS, "exp", until="1e-20", checkpoints=["1e-5", "1e-20"])
    assert traj.status == "ok"
    assert all(np.all(np.asarray(c.predictor) > 0) for c in traj.checkpoints)
    # whereas the ℓ1 max-margin needs negative coordinates on these data
    assert np.any(max_margin(DS, "l1").predictor < -1e-6)


def test_fc_regression_limit_is_min_l2_at_rate_alpha():
    """docs/theory/tensor.md §4.4: the FC square-loss limit tends to Xᵀ(XXᵀ)⁻¹y as α → 0, at distance O(α)."""
    from biasflow.bias.transformed import predict_regression

    reg = gaussian(n=6, d=16, k=2, task="regression", seed=0)
    b2 = predict_regression(Dense(d=16, depth=2, width=4), reg).predictor
    dist = []
    for a in (0.1, 0.05):
        traj = flow(Dense(d=16, depth=2, width=4, alpha=a, seed=0), reg, "square", until="1e-14")
        assert traj.status == "ok"
        dist.append(np.linalg.norm(traj.final.predictor - b2) / np.linalg.norm(b2))
    assert dist[1] < dist[0] < 0.2
    assert 1.6 < dist[0] / dist[1] < 2.4
