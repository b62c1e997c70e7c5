"""Reproduction: mirror flow on wide shallow networks, unscaled vs scaled potentials (Liang & Montúfar 2025).
``biasflow reproduce liang2025 --out DIR [--quick]``.

Mirror flow d/dt ∇Φ(θ) = −∇ℒ(θ) with a per-parameter potential Φ = κ⁻²Σφ(κ(θ − θ₀)),
φ ∈ {z²/2, z²/2 + |z|³/3, z²/2 + z⁴/4}, on a wide shallow network with absolute-value units and biases on an
N-point mid-point grid of U[−2, 2] (output weights starting at 0). In the lazy regime the output layer is a
linear model, so mirror flow ends at argmin D_Φ(θ, θ₀) subject to interpolation
(:mod:`biasflow.bias.mirror_bias`, dual Newton). We check:

- M1 unscaled potentials (κ = 1) give gradient flow's bias as N → ∞, at rate 1/N with a |z|³ term and 1/N²
  with a z⁴ term;
- M2 scaled potentials (κ = N) leave the kernel regime: the bias is non-linear in the targets (targets s·y:
  h_s/s → h_GF as s → 0, far from it at s = 1, and a homogeneous limit as s → ∞);
- M3 discrete mirror descent on the output layer reaches the dual program's solution, with ∇Φ(θ) − ∇Φ(θ₀) in
  the row space of the features;
- M4 (proxy; the paper's tolerance is not available to us) full-network mirror descent (ReLU, all layers
  trained, output layer started at 0, unscaled quartic potential) approaches the variational solution as the
  width grows.

Sup distances are taken over the support of the biases, [−2, 2]. Figures: ``figures/liang2025_scaled.svg``
(h_s/s for several s against h_GF, with the data), ``figures/liang2025_unscaled.svg`` (sup|MF − GF| vs N,
log-log, with 1/N and 1/N² lines).
"""

# ruff: noqa: E501  (claim texts and measured-value strings)
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..bias.mirror_bias import mirror_interpolant, predict_mirror
from ..bias.splines import predict_function
from ..data import make_dataset
from ..dynamics.mirror_descent import mirror_descent
from ..dynamics.mirror_maps import Potential
from ..models.shallow import Shallow
from . import Claim, ExperimentResult

TITLE = "Mirror flow on wide shallow networks: scaled potentials leave the kernel regime (Liang & Montúfar 2025)"
SRC = "Liang & Montúfar 2025"
X = np.array([-1, -.6, -.1, .3, .7, 1.])
Y = np.array([.2, -.5, .4, .9, -.3, .5])
LAW = "pm1-uniform:a=2"


def _gap(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def unscaled_gaps(widths, grid) -> dict:
    out = {}
    for pot in ("cubic", "quartic"):
        for N in widths:
            kw = dict(grid=grid, activation="abs", width=N)
            out[(pot, N)] = _gap(predict_mirror(X, Y, LAW, potential=pot, **kw)["f"], predict_mirror(X, Y, LAW, **kw)["f"])
    return out


def run(out: Path, quick: bool = False) -> ExperimentResult:
    import jax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import save_figure

    t0 = time.perf_counter()
    out = Path(out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    grid = np.linspace(-2, 2, 401)
    claims = []

    widths = [50, 200, 800, 3200]
    gaps = unscaled_gaps(widths, grid)
    c = [gaps[("cubic", N)] * N for N in (800, 3200)]
    q = [gaps[("quartic", N)] * N * N for N in (800, 3200)]
    claims.append(Claim("M1 Unscaled potentials: mirror flow has gradient flow's bias as N → ∞, at rate 1/N with a |z|³ term and 1/N² with a z⁴ term.",
                        "sup|MF − GF|: cubic " + ", ".join(f"{gaps[('cubic', N)]:.3g}" for N in widths)
                        + "; quartic " + ", ".join(f"{gaps[('quartic', N)]:.3g}" for N in widths)
                        + f" (N = {', '.join(map(str, widths))}); N·gap {c[0]:.3g} → {c[1]:.3g}, N²·gap {q[0]:.3g} → {q[1]:.3g}",
                        max(c) / min(c) < 2 and max(q) / min(q) < 2, f"{SRC}, Thm (unscaled potentials)"))

    Ns = 800 if quick else 3200
    kw = dict(grid=grid, activation="abs", scale="scaled", width=Ns)
    hgf = predict_mirror(X, Y, LAW, **kw)["f"]
    svals = [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1000.0]
    hs = {s: predict_mirror(X, s * Y, LAW, potential="quartic", **kw) for s in svals}
    dev = {s: _gap(hs[s]["f"] / s, hgf) for s in svals}
    homog = _gap(hs[100.0]["f"] / 100.0, hs[1000.0]["f"] / 1000.0)
    cubic1 = _gap(predict_mirror(X, Y, LAW, potential="cubic", **kw)["f"], hgf)
    quad_vs_kernel = _gap(hgf, predict_function(X, Y, LAW, grid=grid[:, None], activation="abs").f)
    claims.append(Claim("M2 Scaled potentials leave the kernel regime: with targets s·y the bias h_s/s depends on s (non-linear in the targets), tending to gradient flow's bias as s → 0 and to a homogeneous limit as s → ∞.",
                        "scaled quartic, sup|h_s/s − h_GF|: " + ", ".join(f"s = {s:g}: {d:.3g}" for s, d in dev.items())
                        + f"; s = 100 vs 1000: {homog:.1e}; scaled cubic at s = 1: {cubic1:.3f}; N = {Ns}; all dual solves "
                        + ("ok" if all(h["status"] == "ok" for h in hs.values()) else "NOT ok"),
                        dev[1e-3] <= 2e-3 and dev[1.0] >= 0.3 and homog <= 1e-5, f"{SRC}, abstract (scaled potentials)"))
    claims.append(Claim("M2' The quadratic potential reproduces the kernel (spline) bias.",
                        f"quadratic dual program on {Ns} grid units vs the closed-form kernel interpolant: {quad_vs_kernel:.1e} (mid-point rule, O(N⁻²))",
                        quad_vs_kernel <= 1e-3, f"{SRC}; Jin & Montúfar 2023"))

    # M3: discrete mirror descent on the output layer vs the dual program
    x3, y3 = np.array([-0.8, 0.1, 0.9]), 0.1 * np.array([0.4, -0.3, 0.6])
    ds3 = make_dataset(x3[:, None], y3, task="regression", name="liang2025-3pt")
    m3 = Shallow(d=1, width=500, train="output", activation="abs", asymmetric=True)
    p0 = m3.init(jax.random.fold_in(jax.random.PRNGKey(0), 0))
    F = m3.output_features(p0, ds3.X)
    lr = 1.0 / float(np.linalg.eigvalsh(F @ F.T / 3)[-1])
    steps = 20000
    md = mirror_descent(m3, ds3, "quartic", "scaled", lr=lr, steps=steps, params0=p0)
    pot = Potential("quartic", 500.0)
    sol = mirror_interpolant(F, y3 - F @ m3.output_params(p0), pot)
    g1 = np.linspace(-2, 2, 401)[:, None]
    m3err = _gap(m3.evaluate(md.params, g1), m3.output_features(p0, g1) @ (m3.output_params(p0) + sol.delta))
    z_out = np.r_[np.asarray(md.zeta["a"]), np.asarray(md.zeta["c"])]
    coef = np.linalg.lstsq(F.T, z_out, rcond=None)[0]
    rng_err = float(np.max(np.abs(F.T @ coef - z_out)))
    nl = float(np.max(np.abs(pot.hess(sol.delta)))) - 1.0
    claims.append(Claim("M3 Discrete mirror descent on the output layer ends at the solution of the dual program, and ∇Φ(θ) − ∇Φ(θ₀) stays in the row space of the features.",
                        f"N = 500, 3 points, scaled quartic (max φ'' − 1 = {nl:.2f}: non-quadratic), η = 1/λ_max = {lr:.3g}, {md.steps} steps to loss 1e{md.log10_loss[-1]:.1f}: "
                        f"sup distance {m3err:.1e}; range residual {rng_err:.1e}",
                        m3err <= 1e-8 and rng_err <= 1e-10, f"{SRC}; derived"))

    # M4 proxy: full-network mirror descent vs the variational (GF) solution, growing width
    ds = make_dataset(x3[:, None], 10 * y3, task="regression", name="liang2025-full")
    fw = [100, 400] if quick else [100, 400, 1600]
    m4 = {}
    ref = predict_function(x3, 10 * y3, LAW, grid=g1).f
    for N in fw:
        m = Shallow(d=1, width=N)
        p = m.init(jax.random.PRNGKey(1))
        p = {**p, "a": np.zeros(N), "c": np.zeros(())}
        Fm = m.output_features(p, ds.X)
        eta = 1.0 / float(np.linalg.eigvalsh(Fm @ Fm.T / 3)[-1])
        r = mirror_descent(m, ds, "quartic", "unscaled", lr=eta, steps=8000 if quick else 20000, params0=p)
        m4[N] = (_gap(m.evaluate(r.params, g1), ref), r.log10_loss[-1])
    claims.append(Claim("M4 (proxy) Full-network mirror flow approaches the variational solution as the width grows.",
                        "ReLU, all layers, output layer started at 0, unscaled quartic: sup|f_N − f_∞| " + ", ".join(f"N = {N}: {e:.3g} (loss 1e{l:.1f})" for N, (e, l) in m4.items())
                        + "; the paper's tolerance (its figure) is not available here, so we check that the distance falls with N",
                        m4[fw[-1]][0] < m4[fw[0]][0], f"{SRC}, Fig. (L∞ vs width)"))

    figures = []
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(grid, hgf, "k", lw=2, label="h_GF (quadratic)")
    for s in (0.01, 0.1, 1.0, 100.0):
        ax.plot(grid, hs[s]["f"] / s, label=f"scaled quartic, h_s/s, s = {s:g}")
    ax.scatter(X, Y, color="k", zorder=5, label="data")
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
    ax.set_title("scaled potentials: the bias depends on the size of the targets")
    figures += save_figure(fig, fig_dir / "liang2025_scaled")
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    W = np.array(widths, float)
    for pot_name, mark in (("cubic", "o-"), ("quartic", "s-")):
        ax.loglog(W, [gaps[(pot_name, N)] for N in widths], mark, label=f"unscaled {pot_name}")
    ax.loglog(W, gaps[("cubic", widths[0])] * widths[0] / W, "k--", label="1/N")
    ax.loglog(W, gaps[("quartic", widths[0])] * (widths[0] / W) ** 2, "k:", label="1/N²")
    ax.set_xlabel("width N")
    ax.set_ylabel("sup |MF − GF| on [−2, 2]")
    ax.legend()
    figures += save_figure(fig, fig_dir / "liang2025_unscaled")
    figures = [str(Path(p).relative_to(out)) for p in figures if str(p).endswith(".svg")]
    n_hold = sum(cl.holds for cl in claims)
    return ExperimentResult(
        name="liang2025", title=TITLE, claims=claims, figures=figures,
        config={"quick": quick, "unscaled_widths": widths, "scaled_width": Ns, "targets_scales": svals,
                "full_network_widths": fw, "law": LAW, "activation": "abs (M1–M3), relu (M4)"},
        summary=(f"{n_hold}/{len(claims)} claims hold. Absolute-value units with biases on a mid-point grid of U[−2, 2]; "
                 "the mirror-flow bias of the output layer by dual Newton; discrete mirror descent in JAX."),
        seconds=time.perf_counter() - t0)


__all__ = ["TITLE", "run", "unscaled_gaps"]
