"""Cao, Zou, Li, Gu 2023: the implicit bias of batch normalization in linear models and linear CNNs.

Gradient descent on a batch-normalized linear model f(x) = γ⟨w, x⟩/‖w‖_Σ converges to the uniform-margin
classifier (all training margins equal) at a super-polynomial rate, while plain gradient descent converges to
the max-margin classifier at rate O(1/log t). In a two-layer linear CNN with BN over patches the bias is
toward patch-wise uniform margins. We check, with :mod:`biasflow.models.batchnorm` and
:mod:`biasflow.bias.batchnorm`:

- B1: BN-GD on a small data set whose ℓ2-SVM has unequal margins (d = 6, n = 5, x₅ ≈ 2x₁): margin spread
  max/min − 1 after 1e3, 1e4, 1e5 steps, next to plain GD on f = ⟨w, x⟩ (which drifts toward the SVM);
- B2, B3: along gradient flow (an ODE solver) ‖w‖₂ is conserved and the null(X) component of w is frozen;
- B4: the CNN (P = 3 patches of length 100, n = 5): the patch-margin spread decreases;
- examples: a spurious feature whose strength varies across training examples (linear) or patches (CNN) and
  is label-independent at test time; the (patch-wise) uniform-margin classifier, the BN limit, ignores it,
  the max-margin classifier, the plain-GD limit, does not.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..plots import FigureWriter
from . import Claim, ExperimentResult

TITLE = "Cao, Zou, Li, Gu 2023 — the implicit bias of batch normalization (uniform margins)"
SOURCE = "Cao, Zou, Li, Gu 2023 (COLT; arXiv:2306.11680)"
LINEAR = {"alpha": 0.4, "lr": 0.5, "plain_lr": 0.1}
CNN = {"patches": 3, "patch_length": 100, "n": 5, "alpha": 0.15, "lr": 0.05, "seed": 0}


def linear_data():
    """d = 6, n = 5 Gaussian points with x₅ = 2x₁ + 0.5·noise and y₅ = y₁ (seed 3)."""
    from ..data import make_dataset

    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 6))
    X[4] = 2 * X[0] + 0.5 * rng.standard_normal(6)
    y = rng.choice([-1.0, 1.0], 5)
    y[4] = y[0]
    return make_dataset(X, y, name="cao-linear")


def cnn_data():
    from ..data import make_dataset

    rng = np.random.default_rng(CNN["seed"])
    y = rng.choice([-1.0, 1.0], CNN["n"])
    X = rng.standard_normal((CNN["n"], CNN["patches"] * CNN["patch_length"]))
    return make_dataset(X, y, name="cao-cnn")


def _gd_path(model, ds, lr, stops):
    """GD continued from one stop to the next (the same iterates as one long run); params at each stop."""
    from ..dynamics.descent import descent

    params, done, out = None, 0, []
    for k in stops:
        kw = {} if params is None else {"params0": params}
        r = descent(model, ds, "exp", lr=lr, steps=k - done, **kw)
        if r.status != "ok":
            return out, r.status
        params, done = r.params, k
        out.append((k, jax_tree_np(r.params)))
    return out, "ok"


def jax_tree_np(p):
    return tuple(np.asarray(a, dtype=float) for a in p)


def b1(quick: bool) -> dict:
    import jax

    from ..bias.batchnorm import margin_spread, margins, norm_drift, null_drift, uniform_margin
    from ..bias.margins import max_margin
    from ..models.batchnorm import BatchNorm
    from ..models.dense import Dense

    ds = linear_data()
    stops = [1000, 10_000, 100_000]
    net = BatchNorm(d=ds.d, alpha=LINEAR["alpha"]).bind(ds)
    w0 = np.asarray(net.init(jax.random.fold_in(jax.random.PRNGKey(0), 0))[0])
    path, status = _gd_path(net, ds, LINEAR["lr"], stops)
    bn = []
    for k, (w, g) in path:
        pred = uniform_margin(ds, w0, norm=float(np.linalg.norm(w)))
        bn.append({"steps": k, "spread": margin_spread(margins(w, ds), float(g)), "gamma": float(g),
                   "norm": float(np.linalg.norm(w)), "norm_drift": norm_drift(w, w0),
                   "null_drift": null_drift(w, w0, ds),
                   "to_prediction": float(np.linalg.norm(w - np.sign(g) * pred) / np.linalg.norm(w))})
    plain_path, plain_status = _gd_path(Dense(d=ds.d, depth=1, alpha=1e-4), ds, LINEAR["plain_lr"], stops)
    plain = [{"steps": k, "spread": margin_spread(ds.A @ p[0][:, 0])} for k, p in plain_path]
    svm = max_margin(ds, "l2").predictor
    return {"bn": bn, "bn_status": status, "plain": plain, "plain_status": plain_status,
            "svm_spread": margin_spread(ds.A @ np.asarray(svm)), "w0_norm": float(np.linalg.norm(w0))}


def b2_b3() -> dict:
    import jax

    from ..bias.batchnorm import norm_drift, null_drift
    from ..dynamics.flow import flow
    from ..models.batchnorm import BatchNorm

    ds = linear_data()
    net = BatchNorm(d=ds.d, alpha=LINEAR["alpha"]).bind(ds)
    tr = flow(net, ds, "exp", until="1e-10", seed=0)
    w0 = np.asarray(net.init(jax.random.PRNGKey(0))[0])
    pts = [{"log10_loss": float(c.log10_loss), "norm_drift": norm_drift(c.params[0], w0),
            "null_drift": null_drift(c.params[0], w0, ds), "gamma": float(c.params[1])}
           for c in tr.checkpoints]
    return {"status": tr.status, "message": tr.message, "points": pts}


def b4(quick: bool) -> dict:
    from ..bias.batchnorm import margin_spread, margins, patch_margins
    from ..models.batchnorm import BatchNorm

    ds = cnn_data()
    P = CNN["patches"]
    net = BatchNorm(d=ds.d, patches=P, alpha=CNN["alpha"]).bind(ds)
    stops = [1000, 10_000, 100_000] + ([] if quick else [200_000])
    path, status = _gd_path(net, ds, CNN["lr"], stops)
    pts = [{"steps": k, "patch_spread": margin_spread(patch_margins(w, ds, P).ravel(), float(g)),
            "sample_spread": margin_spread(margins(w, ds, P), float(g)), "gamma": float(g)}
           for k, (w, g) in path]
    return {"status": status, "points": pts}


def spurious_example(patches: int, seeds: int, n_test: int = 20_000) -> dict:
    """Test errors of the (patch-wise) uniform-margin and the max-margin classifiers on data with a
    spurious feature: every patch is yμ + y s v + 0.1·noise with s ~ U[0, 4] per example and patch in
    training, and the sign of the v term random at test time (μ = e₁, v = e₂ in patch coordinates)."""
    from ..bias.batchnorm import uniform_margin
    from ..bias.margins import max_margin
    from ..data import make_dataset

    k = 100 if patches == 1 else 50
    n = 30 if patches == 1 else 20
    mu, v = np.eye(k)[0], np.eye(k)[1]
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)

        def sample(m, test, rng=rng):
            y = rng.choice([-1.0, 1.0], m)
            s = rng.uniform(0.0, 4.0, (m, patches))
            sign = rng.choice([-1.0, 1.0], (m, patches)) if test else np.repeat(y[:, None], patches, 1)
            X = y[:, None, None] * mu + (sign * s)[:, :, None] * v + 0.1 * rng.standard_normal((m, patches, k))
            return X.reshape(m, patches * k), y

        X, y = sample(n, False)
        ds = make_dataset(X, y)
        pooled = make_dataset(X.reshape(n, patches, k).sum(axis=1), y)
        w_max = np.asarray(max_margin(pooled, "l2").predictor)     # the CNN's max margin (pooled patches)
        w_uni = uniform_margin(ds, patches=patches)
        Xt, yt = sample(n_test, True)
        pool_t = Xt.reshape(n_test, patches, k).sum(axis=1)
        rows.append({"seed": seed, "err_max": float(np.mean(np.sign(pool_t @ w_max) != yt)),
                     "err_uniform": float(np.mean(np.sign(pool_t @ w_uni) != yt)),
                     "v_weight_max": float(abs(w_max[1]) / np.linalg.norm(w_max)),
                     "v_weight_uniform": float(abs(w_uni[1]) / np.linalg.norm(w_uni))})
    return {"patches": patches, "rows": rows}


def _fmt_path(rows, key):
    return ", ".join(f"{r['steps']:.0e}: {r[key]:.2e}" for r in rows)


def check_claims(res: dict, quick: bool) -> list[Claim]:
    claims = []
    r1 = res["b1"]
    spreads = [r["spread"] for r in r1["bn"]]
    plain = [r["spread"] for r in r1["plain"]]
    ok = (r1["bn_status"] == "ok" and len(spreads) == 3 and spreads[-1] <= 1e-6 and min(plain) >= 0.5
          and r1["bn"][-1]["to_prediction"] <= 1e-5)
    claims.append(Claim(
        "B1: gradient descent on the BN linear model reaches uniform margins (spread max/min − 1 ≤ 1e-6 after "
        "1e5 steps), at the predicted point X⁺y-direction + the frozen null(X) part of w(0); plain GD stays "
        "near the max-margin spread (≥ 0.5)",
        f"BN-GD spread {_fmt_path(r1['bn'], 'spread')} (γ = "
        + ", ".join(f"{r['gamma']:.2f}" for r in r1["bn"])
        + f"; ‖w‖ = {r1['bn'][-1]['norm']:.4f}, distance to the prediction {r1['bn'][-1]['to_prediction']:.1e}); "
        f"plain GD {_fmt_path(r1['plain'], 'spread')}; ℓ2-SVM spread {r1['svm_spread']:.3f}",
        bool(ok), SOURCE + ", Thm. 3.3 (rate exp(−Ω(log² t)))"))
    r2 = res["b2_b3"]
    drift = max((abs(p["norm_drift"]) for p in r2["points"]), default=np.inf)
    null = max((p["null_drift"] for p in r2["points"]), default=np.inf)
    claims.append(Claim(
        "B2: along gradient flow (ODE solver, rtol 1e-10) ‖w‖₂ is conserved to 1e-6 relative (∇_w ℒ ⊥ w)",
        f"max |‖w‖/‖w(0)‖ − 1| = {drift:.1e} over {len(r2['points'])} checkpoints down to ℒ = 1e-10 "
        f"(status {r2['status']}); GD instead grows it: {r1['bn'][-1]['norm_drift']:.3f} after 1e5 steps",
        bool(r2["status"] == "ok" and drift <= 1e-6), SOURCE + "; scale invariance of BN"))
    gd_null = max(r["null_drift"] for r in r1["bn"])
    claims.append(Claim(
        "B3: the null(X) component of w never moves (to 1e-12 relative), under flow and under GD",
        f"flow {null:.1e}, GD {gd_null:.1e}", bool(null <= 1e-12 and gd_null <= 1e-12),
        SOURCE + " (Σw ∈ row(X))"))
    r4 = res["b4"]
    ps = [p["patch_spread"] for p in r4["points"]]
    ok = r4["status"] == "ok" and ps == sorted(ps, reverse=True) and ps[-1] <= 0.3
    claims.append(Claim(
        f"B4: in the linear CNN with BN over {CNN['patches']} patches the patch-margin spread decreases "
        "monotonically (toward patch-wise uniform margins) and is ≤ 0.3 at the last checkpoint",
        f"patch spread {_fmt_path(r4['points'], 'patch_spread')}; sample spread "
        f"{_fmt_path(r4['points'], 'sample_spread')}", bool(ok), SOURCE + ", Thm. 4.2"))
    for ex in res["examples"]:
        rows = ex["rows"]
        wins = sum(r["err_uniform"] < r["err_max"] for r in rows)
        mu = float(np.mean([r["err_uniform"] for r in rows]))
        mm = float(np.mean([r["err_max"] for r in rows]))
        kind = "linear model" if ex["patches"] == 1 else f"CNN with {ex['patches']} patches"
        claims.append(Claim(
            f"Example ({kind}): with a spurious feature of varying strength in training, the "
            f"{'patch-wise ' if ex['patches'] > 1 else ''}uniform-margin classifier (the BN limit) has a lower "
            "test error than the max-margin classifier (the plain-GD limit) on every seed",
            f"mean test error {mu:.3f} vs {mm:.3f}, lower on {wins}/{len(rows)} seeds; weight on the spurious "
            f"direction {np.mean([r['v_weight_uniform'] for r in rows]):.3f} vs "
            f"{np.mean([r['v_weight_max'] for r in rows]):.3f}",
            bool(wins == len(rows)), SOURCE + " (two examples; ours are constructed in the same spirit)"))
    return claims


def _figures(res: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    save = FigureWriter(out)

    fig, ax = plt.subplots(figsize=(6.6, 4.4))
    r1 = res["b1"]
    ax.plot([r["steps"] for r in r1["bn"]], [max(r["spread"], 1e-16) for r in r1["bn"]], marker="o",
            label="BN-GD (linear)")
    ax.plot([r["steps"] for r in r1["plain"]], [r["spread"] for r in r1["plain"]], marker="s", label="plain GD")
    ax.plot([p["steps"] for p in res["b4"]["points"]], [max(p["patch_spread"], 1e-16) for p in res["b4"]["points"]],
            marker="^", label=f"BN-GD CNN, patch margins (P = {CNN['patches']})")
    ax.axhline(r1["svm_spread"], color="k", ls=":", label="ℓ2 max-margin (linear)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("GD steps")
    ax.set_ylabel("margin spread  max/min − 1")
    ax.set_title("batch normalization drives the margins to be equal")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "cao2023_spread")

    fig, ax = plt.subplots(figsize=(6.6, 4.4))
    for i, ex in enumerate(res["examples"]):
        rows = ex["rows"]
        x = np.arange(len(rows)) + 0.2 * i
        lab = "linear" if ex["patches"] == 1 else f"CNN P={ex['patches']}"
        ax.scatter(x, [r["err_max"] for r in rows], marker="s", color=f"C{2 * i}", label=f"max margin ({lab})")
        ax.scatter(x, [r["err_uniform"] for r in rows], marker="o", color=f"C{2 * i + 1}",
                   label=f"uniform margin ({lab})")
    ax.set_xlabel("data seed")
    ax.set_ylabel("test error")
    ax.set_title("a spurious feature of varying strength: uniform margins ignore it")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "cao2023_examples")
    return save.paths


def run(out: Path, quick: bool = False) -> ExperimentResult:
    """Run the reproduction into ``out`` (figures under ``out/figures``, raw numbers in cao2023.json)."""
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = 5 if quick else 20
    res = {"b1": b1(quick), "b2_b3": b2_b3(), "b4": b4(quick),
           "examples": [spurious_example(1, seeds), spurious_example(2, seeds)]}
    figures = _figures(res, out)
    claims = check_claims(res, quick)
    tmp = out / ".cao2023.json.tmp"
    tmp.write_text(json.dumps(res, default=float, indent=1))
    tmp.replace(out / "cao2023.json")
    return ExperimentResult(
        name="cao2023",
        title=TITLE,
        claims=claims,
        figures=figures,
        config={"quick": quick, "linear": LINEAR, "cnn": CNN, "example_seeds": seeds},
        summary=(
            "Gradient descent (exp loss) on batch-normalized linear models and linear CNNs versus plain GD: "
            "margin spreads along the run, conservation of ‖w‖ and of the null-space component under gradient "
            "flow, patch-margin spreads of the CNN, and test errors of the uniform-margin and max-margin "
            "classifiers on data with a spurious feature."
        ),
        seconds=time.perf_counter() - t0,
    )
