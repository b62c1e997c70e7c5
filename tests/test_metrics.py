"""One name, one definition: the metrics registry, typed loss levels and run statuses.

The integration oracle: one flow measured through ``predict --trajectory --json``, through a sweep read
back with ``results --sql``, and through ``bf.compare`` gives the same value for every shared column; the
stored gaps equal 1 − γ_p(β)/γ_p* recomputed here from the stored predictor and the certified optima.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import biasflow as bf
from biasflow.bias.compare import compare, compare_path, measure_model
from biasflow.bias.margins import max_margin
from biasflow.bias.predict import predict
from biasflow.data import builtin, fingerprint, save
from biasflow.errors import STATUSES, BiasflowError, Status
from biasflow.levels import LN10, Level, format_level
from biasflow.metrics import METRICS, Metric, describe, register
from biasflow.models import Diagonal
from biasflow.store import Store
from biasflow.sweep import parse_config, run_sweep

SPARSE = builtin("sparse")


# ------------------------------------------------------------------------------------------------ levels
@pytest.mark.parametrize(
    "x,log10",
    [
        ("1e-10000", -10000.0),
        ("10^-10000", -10000.0),
        ("1.5e-31", math.log10(1.5) - 31),
        ("2", math.log10(2.0)),
        (2.0, math.log10(2.0)),
        (1e-3, -3.0),
        (Level.from_log10(-7.0), -7.0),
        (np.float64(0.1), -1.0),
    ],
)
def test_level_parse_reads_values(x, log10):
    assert Level.parse(x).log10 == pytest.approx(log10, abs=1e-15)  # log10 of a decimal: ≤ 1 ulp apart


@pytest.mark.parametrize(
    "x,needle",
    [(0, "never reached"), (0.0, "underflow"), (1e-400, "underflow"), (-5, "positive"), (-1e-3, "positive"),
     (math.nan, "finite"), (math.inf, "finite"), ("-1e-3", "positive"), ("abc", "not a number"),
     (True, "boolean"), (None, "not a loss level")],
)
def test_level_refusals_are_one_line_and_say_how(x, needle):
    with pytest.raises(BiasflowError) as e:
        Level.parse(x)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and '"1e-100"' in msg


def test_level_text_and_order():
    assert str(Level.parse("1e-10000")) == "1e-10000" and str(Level.parse("1.5e-31")) == "1.5e-31"
    assert str(Level.parse("2")) == "2" and format_level(-2.3) == "5.01e-3"
    assert sorted([Level.parse("1e-3"), Level.parse("2"), Level.parse("1e-100")]) == [
        Level.parse("1e-100"), Level.parse("1e-3"), Level.parse("2")]
    assert LN10 == math.log(10.0)


@pytest.mark.parametrize("until", [1e-400, 0, -5, 0.0, -100.0])
def test_python_flow_refuses_what_cli_refuses(until):
    with pytest.raises(BiasflowError):
        bf.flow(Diagonal(d=30), SPARSE, "exp", until=until)


def test_until_value_means_the_same_in_python_and_sweep(tmp_path):
    # a float is a loss VALUE everywhere: 0.5 is the loss 0.5; 2 (above ℒ(0) = 1) is refused in both
    tr = bf.flow(Diagonal(d=30), SPARSE, "exp", until=0.5)
    assert tr.status == "ok" and tr.final.log10_loss == pytest.approx(math.log10(0.5), abs=1e-15)
    with pytest.raises(BiasflowError, match="not below the initial loss") as e:
        bf.flow(Diagonal(d=30), SPARSE, "exp", until=2.0)
    cases = (('"0.5"', "ok"), ("0.5", "ok"), ('"2"', "invalid_input"), ("2.0", "invalid_input"))
    for i, (until, want) in enumerate(cases):
        out = tmp_path / f"o{i}"
        cfg = parse_config(f'name = "u"\n[run]\ndata = "sparse"\nuntil = {until}\nlevels = [{until}]\n')
        run_sweep(cfg, out)
        (row,) = Store(out).query("SELECT * FROM results")
        assert row["status"] == want
        if want == "ok":
            assert row["until_log10"] == row["log10_loss"] == pytest.approx(math.log10(0.5), abs=1e-15)
        else:
            assert row["message"] == str(e.value)


# ---------------------------------------------------------------------------------------------- statuses
def test_status_enum_plain_strings_and_messages():
    assert STATUSES == tuple(s.value for s in Status)
    assert {"ok", "target_unreachable", "diverged", "max_steps", "invalid_input", "failed"} <= set(STATUSES)
    assert all(s.message and "\n" not in s.message for s in Status)
    assert Status.OK == "ok" and json.dumps({"s": Status.MAX_STEPS}) == '{"s": "max_steps"}'
    tr = bf.flow(Diagonal(d=30), SPARSE, "exp", until="1e-5")
    assert isinstance(tr.status, Status) and tr.to_json()["status"] == "ok"
    assert type(tr.to_json()["status"]) is str
    with pytest.raises(BiasflowError, match="unknown status"):
        Status.of("error")


def test_unexpected_failure_is_status_failed_not_error():
    from biasflow.sweep import failure_row

    spec = {"data": "sparse", "model": "diagonal", "alpha": 1.0, "loss": "exp", "until_log10": -5.0}
    assert failure_row(spec, RuntimeError("boom"))["status"] == "failed"
    assert failure_row(spec, BiasflowError("bad"))["status"] == "invalid_input"


# ---------------------------------------------------------------------------------------------- registry
def test_describe_and_register():
    assert "1 − γ₁(β)/γ₁*" in describe("gap_l1")
    with pytest.raises(BiasflowError, match="support_size"):
        describe("support")  # renamed
    with pytest.raises(BiasflowError, match="did you mean .*gap_l1"):
        describe("gap_ll")
    m = METRICS["gap_l1"]
    assert register(m) is m  # idempotent
    with pytest.raises(BiasflowError, match="already registered"):
        register(Metric("gap_l1", "something else", "", ""))


def test_results_describe_cli(cli):
    code, out, err = cli("results", "--describe", "gap_l1,log10_mu")
    assert code == 0 and "gap_l1: 1 − γ₁(β)/γ₁*" in out and "μ = α^D/γ" in out
    code, out, err = cli("results", "--describe", "support")
    assert code == 2 and "support_size" in err and len(err.strip().splitlines()) == 1
    # `margin` is what `biasflow margin` prints; its entry names the stored column `gamma`
    code, out, err = cli("results", "--describe", "margin")
    assert code == 0 and "gamma" in out


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """One flow (D = 2, α = 0.5, sparse), stored by a sweep, written as flow JSON."""
    tmp = tmp_path_factory.mktemp("one")
    levels = ["1e-1", "1e-10", "1e-100"]
    cfg = parse_config(
        f'name = "one"\n[run]\ndata = "sparse"\nalpha = 0.5\nuntil = "1e-100"\nlevels = {json.dumps(levels)}\n'
    )
    run_sweep(cfg, tmp / "store")
    tr = bf.flow(Diagonal(d=30, alpha=0.5), SPARSE, "exp", until="1e-100", checkpoints=levels)
    f = tmp / "flow.json"
    f.write_text(json.dumps(tr.to_json()))
    return tmp, tr, f


def _same(a, b, name):
    if isinstance(a, float) and isinstance(b, float):
        assert a == b or (math.isinf(a) and a == b), name
    else:
        assert a == b, name


def test_three_paths_give_identical_columns(one_run, cli):
    tmp, tr, f = one_run
    code, out, err = cli("results", str(tmp / "store"), "--sql", "SELECT * FROM results ORDER BY checkpoint",
                         "--json")
    assert code == 0, err
    stored = json.loads(out)
    code, out, err = cli("predict", "--data", "sparse", "--trajectory", str(f), "--json")
    assert code == 0, err
    printed = json.loads(out)["comparison"]
    api = compare(tr, predict(Diagonal(d=30, alpha=0.5), SPARSE))
    assert len(stored) == len(printed) == len(api) == 3
    shared = set(stored[0]) & set(printed[0]) & set(api[0]) - {"reasons"}
    # the metrics of all three kinds of column are shared: gaps, certificates, limit-prediction columns
    assert {"gap_l1", "gap_l2", "rho_nsv", "rho_nsv_pred", "support_precision", "support_recall",
            "log10_mu", "gamma", "support_size", "kkt_l2D"} <= shared
    for s, p, a in zip(stored, printed, api, strict=True):
        for name in shared:
            _same(s[name], a[name], name)
            _same(p[name], a[name], name)
        assert json.loads(s["reasons"]) == p["reasons"] | {} or set(json.loads(s["reasons"])) <= set(p["reasons"])
        # gaps recomputed from the stored predictor and the certified optima (LP; ℓ2 by NNLS)
        beta = np.asarray(s["predictor"])
        gam = float(np.min(SPARSE.A @ beta))
        g1, g2 = max_margin(SPARSE, "l1").margin, max_margin(SPARSE, "l2", solver="nnls").margin
        assert s["gap_l1"] == 1 - gam / np.abs(beta).sum() / g1  # same operations: equal to the bit
        assert s["gap_l2"] == pytest.approx(1 - gam / np.linalg.norm(beta) / g2, abs=1e-15)
        assert s["data_sha256"] == fingerprint(SPARSE)["sha256"]


def test_every_column_is_registered(one_run, cli):
    tmp, tr, f = one_run
    cols = set(Store(tmp / "store").columns())
    code, out, _ = cli("predict", "--data", "sparse", "--trajectory", str(f), "--json")
    printed = set(json.loads(out)["comparison"][0])
    path = set(compare_path(tr, Diagonal(d=30, alpha=0.5), SPARSE)[0])
    desc = bf.descent(Diagonal(d=30, alpha=0.5), SPARSE, "exp", lr=0.1, steps=20, sharpness_every=10)
    recs = measure_model(desc, Diagonal(d=30, alpha=0.5), SPARSE, limit=True)
    from biasflow.plots import LABELS
    from biasflow.report import _METRICS

    code, out, err = cli("descent", "--data", "sparse", "--alpha", "0.5", "--lr", "0.1", "--steps", "20",
                         "--sharpness-every", "10", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["data"]["sha256"] == fingerprint(SPARSE)["sha256"] and [r["step"] for r in d["records"]] == [0, 10, 20]
    printed |= set(d["records"][0])
    missing = (cols | printed | path | set(recs[0]) | set(_METRICS) | set(LABELS)) - set(METRICS)
    assert not missing, f"columns without a registry entry: {sorted(missing)}"


def test_compare_accepts_descent_results():
    m = Diagonal(d=30, alpha=0.5)
    res = bf.descent(m, SPARSE, "exp", lr=0.1, steps=20, sharpness_every=10)
    rows = compare(res, predict(m, SPARSE))
    assert [r["step"] for r in rows] == [0, 10, 20]
    final = rows[-1]
    beta = np.asarray(res.predictor)
    assert final["log10_loss"] == pytest.approx(res.history["log10_loss"][-1], abs=0)
    assert final["log10_time"] == pytest.approx(math.log10(float(np.sum(res.history["lr"]))), rel=1e-15)
    g1 = max_margin(SPARSE, "l1").margin
    assert final["gap_l1"] == 1 - float(np.min(SPARSE.A @ beta)) / np.abs(beta).sum() / g1


# ------------------------------------------------------------------------------ predict --trajectory edges
def test_predict_trajectory_uses_and_checks_its_identity(one_run, cli, tmp_path):
    _, tr, f = one_run
    # the model comes from the trajectory (α = 0.5), not the --alpha default of 1
    code, out, err = cli("predict", "--data", "sparse", "--trajectory", str(f), "--json")
    r = json.loads(out)
    assert code == 0 and r["model"]["alpha"] == 0.5 and r["data"] == tr.to_json()["data"]
    # default checkpoints include 1e-1, where Q_μ is undefined: reported per row, not fatal
    first = r["comparison"][0]
    assert first["log10_loss"] == -1.0 and first["dist_qmu"] is None and "not below" in first["reasons"]["dist_qmu"]
    assert r["comparison"][-1]["dist_qmu"] is not None
    for args, needle in [
        (("--alpha", "1.0"), "--alpha 1.0 contradicts"),
        (("--depth", "3"), "--depth 3 contradicts"),
        (("--model", "diagonal-untied"), "--model diagonal-untied contradicts"),
    ]:
        code, out, err = cli("predict", "--data", "sparse", "--trajectory", str(f), *args)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    other = SPARSE.__class__(**{**SPARSE.__dict__, "X": SPARSE.X[::-1].copy(), "y": SPARSE.y[::-1].copy()})
    p = tmp_path / "other.npz"
    save(other, p)
    code, out, err = cli("predict", "--data", str(p), "--trajectory", str(f))
    assert code == 2 and "other data" in err and len(err.strip().splitlines()) == 1


def test_multi_level_prediction_reports_undefined_levels_per_row(cli):
    code, out, err = cli("predict", "--data", "sparse", "--at-loss", "1e-1,1e-10", "--json")
    r = json.loads(out)
    assert [p["status"] for p in r["predictions"]] == ["invalid_input", "ok"]
    assert "not below" in r["predictions"][0]["message"]
