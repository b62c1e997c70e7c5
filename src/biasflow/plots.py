"""Figures from a results store (matplotlib, Agg backend): SVG + PNG of each.

- :func:`phase_diagram` — heat map over initialization scale α × training accuracy ε (colour: a gap, e.g.
  the normalized-margin gap to the ℓ1 or ℓ2 max-margin; Moroshko et al. 2020).
- :func:`gap_curves` — a gap against log10(1/ε), one curve per α.
- :func:`coefficient_paths` — the normalized predictor β/‖β‖₁ against log10(1/ε) for one run.
- :func:`support_recovery` — a regression metric (recovery error, support size) against α, one curve per
  depth (Woodworth et al. 2020).
- :func:`margin_vs_loss` — the normalized margin γ₁ = min_i(X̃β)_i/‖β‖₁ against log10(1/ε), per α.

Each takes rows (dicts, as returned by :meth:`biasflow.store.Store.query`) and an output directory and
returns the paths written (``name.svg``, ``name.png``).

>>> import tempfile
>>> rows = [{"alpha": a, "log10_loss": l, "gap_l1": 0.1 * a / -l} for a in (0.1, 1.0) for l in (-1.0, -10.0)]
>>> [p.rsplit(".", 1)[1] for p in phase_diagram(rows, tempfile.mkdtemp(), value="gap_l1")]
['svg', 'png']
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

from .errors import BiasflowError  # noqa: E402

XLABELS = {
    "alpha": "initialization scale α",
    "alpha_D": "α^D (scale of β at initialization)",
    "alpha_eff": "α_eff = √(α_A(1+s²)/(1−s²))",
}
_SYM = {"alpha": "α", "depth": "D", "shape": "s"}

LABELS = {
    "gap_l1": "normalized-margin gap to ℓ1 max-margin, 1 − γ₁/γ₁*",
    "gap_l2": "normalized-margin gap to ℓ2 max-margin, 1 − γ₂/γ₂*",
    "gamma_l1": "ℓ1-normalized margin γ₁",
    "gamma_l2": "ℓ2-normalized margin γ₂",
    "recovery_error": "recovery error ‖β − β*‖/‖β*‖",
    "dist_l1": "distance to min-ℓ1 interpolant (relative)",
    "dist_l2": "distance to min-ℓ2 interpolant (relative)",
    "l1_ratio": "‖β‖₁/‖β_ℓ1‖₁",
    "gap_obj_l1": "‖β‖₁/‖β_ℓ1‖₁ − 1",
    "support_size": "support size",
}


def save_figure(fig, stem: str | Path, dpi: int = 110) -> list[Path]:
    """Save ``fig`` as ``stem.svg`` and ``stem.png`` (each written atomically), then close it."""
    from ._atomic import atomic_path

    stem = Path(stem)
    paths = []
    for ext in ("svg", "png"):
        target = stem.with_name(f"{stem.name}.{ext}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")
        paths.append(target)
    plt.close(fig)
    return paths


class FigureWriter:
    """The figures of a reproduction: ``save(fig, name)`` writes ``OUT/figures/name.svg`` and ``.png`` and
    records ``"figures/name.svg"`` (relative to OUT, as the report links it) in ``save.paths``."""

    def __init__(self, out: str | Path):
        self.dir = Path(out) / "figures"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.paths: list[str] = []

    def __call__(self, fig, name: str) -> None:
        save_figure(fig, self.dir / name)
        self.paths.append(f"figures/{name}.svg")


def _save(fig, out: str | Path, name: str) -> list[str]:
    return [str(p) for p in save_figure(fig, Path(out) / name)]


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _rows(rows: Iterable[dict], *keys: str) -> list[dict]:
    rows = [r for r in rows if all(_finite(r.get(k)) for k in keys)]
    if not rows:
        raise BiasflowError(f"no rows with finite {', '.join(keys)} to plot; did the runs succeed?")
    return rows


def phase_diagram(
    rows,
    out,
    *,
    value: str = "gap_l1",
    name: str | None = None,
    title: str | None = None,
    x: str = "alpha",
    log_color: bool = True,
) -> list[str]:
    """Heat map of ``value`` over α (x, log scale) × log10(1/ε) (y, log scale).

    Cells are the stored checkpoints; the colour scale is logarithmic for positive gaps.
    """
    rows = _rows(rows, x, "log10_loss", value)
    xs = sorted({r[x] for r in rows})
    ys = sorted({-r["log10_loss"] for r in rows})
    Z = np.full((len(ys), len(xs)), np.nan)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for r in rows:
        Z[yi[-r["log10_loss"]], xi[r[x]]] = r[value]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    pos = Z[np.isfinite(Z) & (Z > 0)]
    if log_color and pos.size and np.nanmin(Z) > 0:
        norm = LogNorm(vmin=max(pos.min(), 1e-12), vmax=pos.max())
    else:
        norm = Normalize(vmin=np.nanmin(Z), vmax=np.nanmax(Z))
    xe, ye = _edges(xs, log=True), _edges(ys, log=True)
    mesh = ax.pcolormesh(xe, ye, Z, norm=norm, cmap="viridis", shading="flat")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("initialization scale α" if x == "alpha" else x)
    ax.set_ylabel("log10(1/ε), training loss ε")
    fig.colorbar(mesh, ax=ax, label=LABELS.get(value, value))
    ax.set_title(title or f"phase diagram: {value}")
    return _save(fig, out, name or f"phase_{value}")


def _edges(vals: list[float], log: bool) -> np.ndarray:
    v = np.asarray(vals, dtype=float)
    if log and np.all(v > 0):
        lv = np.log(v)
        if len(lv) == 1:
            return np.exp(np.array([lv[0] - 0.5, lv[0] + 0.5]))
        mid = (lv[1:] + lv[:-1]) / 2
        return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])


def _series(rows, group: str, xkey: str, ykey: str):
    by = defaultdict(list)
    for r in rows:
        by[r[group]].append((r[xkey], r[ykey]))
    return {k: sorted(v) for k, v in sorted(by.items(), key=lambda kv: (kv[0] is None, kv[0]))}


def gap_curves(
    rows,
    out,
    *,
    value: str = "gap_l1",
    name: str | None = None,
    title: str | None = None,
    group: str = "alpha",
    max_curves: int = 8,
) -> list[str]:
    """``value`` against log10(1/ε) (log scale), one curve per ``group`` value (α by default)."""
    rows = _rows(rows, group, "log10_loss", value)
    series = _series([{**r, "_x": -r["log10_loss"]} for r in rows], group, "_x", value)
    keys = list(series)
    if len(keys) > max_curves:
        keys = [keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, max_curves).round().astype(int))]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    cmap = plt.get_cmap("plasma")
    for i, k in enumerate(keys):
        xs, ys = zip(*series[k], strict=True)
        ax.plot(
            xs,
            ys,
            marker="o",
            ms=3,
            color=cmap(i / max(len(keys) - 1, 1)),
            label=f"{_SYM.get(group, group)} = {k:.3g}",
        )
    ax.set_xscale("log")
    if all(v > 0 for k in keys for _, v in series[k]):
        ax.set_yscale("log")
    ax.set_xlabel("log10(1/ε)")
    ax.set_ylabel(LABELS.get(value, value))
    ax.legend(fontsize=7)
    ax.set_title(title or f"{value} vs training accuracy")
    ax.grid(alpha=0.3)
    return _save(fig, out, name or f"curves_{value}")


def coefficient_paths(
    rows, out, *, name: str = "coefficient_paths", title: str | None = None, top: int = 8
) -> list[str]:
    """Coordinates of β/‖β‖₁ against log10(1/ε), for the rows of one run (the ``top`` largest at the end)."""
    rows = sorted(_rows(rows, "log10_loss"), key=lambda r: -r["log10_loss"])
    rows = [r for r in rows if r.get("predictor") is not None]
    if not rows:
        raise BiasflowError("no stored predictors to plot coefficient paths")
    B = np.array([np.asarray(r["predictor"], dtype=float) for r in rows])
    B = B / np.maximum(np.abs(B).sum(axis=1, keepdims=True), 1e-300)
    order = np.argsort(-np.abs(B[-1]))[:top]
    xs = [-r["log10_loss"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for j in order:
        ax.plot(xs, B[:, j], marker=".", label=f"β{j + 1}")
    ax.set_xscale("log")
    ax.set_xlabel("log10(1/ε)")
    ax.set_ylabel("β_j / ‖β‖₁")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    ax.set_title(title or "coefficient paths")
    return _save(fig, out, name)


def support_recovery(
    rows,
    out,
    *,
    value: str = "recovery_error",
    group: str = "depth",
    x: str = "alpha",
    name: str | None = None,
    title: str | None = None,
) -> list[str]:
    """``value`` against α (log scale), one curve per ``group`` (depth), e.g. sparse recovery error."""
    rows = _rows(rows, x, value)
    series = _series(rows, group, x, value)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for k, pts in series.items():
        xs, ys = zip(*pts, strict=True)
        ax.plot(xs, ys, marker="o", ms=3, label=f"{_SYM.get(group, group)} = {k}")
    ax.set_xscale("log")
    if all(v > 0 for pts in series.values() for _, v in pts):
        ax.set_yscale("log")
    ax.set_xlabel(XLABELS.get(x, x))
    ax.set_ylabel(LABELS.get(value, value))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title or f"{value} vs {x}")
    return _save(fig, out, name or f"recovery_{value}")


def margin_vs_loss(
    rows,
    out,
    *,
    value: str = "gamma_l1",
    reference: float | None = None,
    name: str | None = None,
    title: str | None = None,
    max_curves: int = 8,
) -> list[str]:
    """Normalized margin against log10(1/ε) per α, with the max-margin value as a dashed line."""
    paths_rows = _rows(rows, "alpha", "log10_loss", value)
    series = _series([{**r, "_x": -r["log10_loss"]} for r in paths_rows], "alpha", "_x", value)
    keys = list(series)
    if len(keys) > max_curves:
        keys = [keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, max_curves).round().astype(int))]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    cmap = plt.get_cmap("viridis")
    for i, k in enumerate(keys):
        xs, ys = zip(*series[k], strict=True)
        ax.plot(xs, ys, marker="o", ms=3, color=cmap(i / max(len(keys) - 1, 1)), label=f"α = {k:.3g}")
    if reference is not None:
        ax.axhline(reference, ls="--", color="k", lw=1, label="max-margin")
    ax.set_xscale("log")
    ax.set_xlabel("log10(1/ε)")
    ax.set_ylabel(LABELS.get(value, value))
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax.set_title(title or "margin vs training loss")
    return _save(fig, out, name or f"margin_{value}")


def auto_figures(rows: list[dict], out: str | Path) -> list[str]:
    """The figures that the stored columns allow (used by ``biasflow report`` on a plain sweep)."""
    written: list[str] = []
    ok = [r for r in rows if r.get("status") == "ok"] or rows
    alphas = {r.get("alpha") for r in ok}
    levels = {r.get("log10_loss") for r in ok if _finite(r.get("log10_loss"))}
    depths = {r.get("depth") for r in ok}
    for depth in sorted(d for d in depths if d is not None) or [None]:
        sub = [r for r in ok if r.get("depth") == depth] if depth is not None else ok
        tag = f"_D{depth}" if depth is not None and len(depths) > 1 else ""
        for value in ("gap_l1", "gap_l2"):
            if any(_finite(r.get(value)) for r in sub):
                if len(alphas) > 1 and len(levels) > 1:
                    written += phase_diagram(
                        sub,
                        out,
                        value=value,
                        name=f"phase_{value}{tag}",
                        title=f"{value}, depth {depth}" if depth else None,
                    )
                if len(levels) > 1:
                    written += gap_curves(sub, out, value=value, name=f"curves_{value}{tag}")
        if any(_finite(r.get("gamma_l1")) for r in sub) and len(levels) > 1:
            written += margin_vs_loss(sub, out, name=f"margin_gamma_l1{tag}")
    for value in ("recovery_error", "dist_l1"):
        if any(_finite(r.get(value)) for r in ok) and len(alphas) > 1:
            last = _last_checkpoints(ok)
            written += support_recovery(last, out, value=value)
    return written


def _last_checkpoints(rows: list[dict]) -> list[dict]:
    best: dict = {}
    for r in rows:
        rid = r.get("run_id")
        if _finite(r.get("log10_loss")) and (rid not in best or r["log10_loss"] < best[rid]["log10_loss"]):
            best[rid] = r
    return list(best.values())


# ------------------------------------------------------------------- learning-rate phase maps
_PHASE_COLORS = {"lazy": "tab:blue", "catapult": "tab:orange", "unstable": "tab:purple", "divergent": "tab:red"}


def plot_phase_maps(maps: list, path: str | Path, labels: list[str] | None = None,
                    title: str | None = None) -> list[Path]:
    """One figure: final sharpness × η against 2/η (top) and peak loss ratio (bottom), for one or more maps
    (e.g. separable vs non-separable, MSE vs logistic). Files are written atomically; returns their paths."""
    from matplotlib.ticker import NullFormatter

    from .dynamics.phases import PHASES

    labels = labels or [m.data for m in maps]
    fig, axes = plt.subplots(2, len(maps), figsize=(4.2 * len(maps), 6.0), squeeze=False, sharex="col")
    for j, (m, lab) in enumerate(zip(maps, labels, strict=True)):
        ax, bx = axes[0, j], axes[1, j]
        u = m.units
        fs = m.final_sharpness
        conv = np.array([p != "divergent" for p in m.phases])
        ref = np.concatenate([2.0 / m.etas, [m.sharpness0], fs[conv & (fs > 0)]])
        lo, hi = ref[ref > 0].min() / 2.0, ref.max() * 2.0
        ax.plot(u, 2.0 / m.etas, "k--", lw=1, label="2/η")
        ax.axhline(m.sharpness0, color="0.6", lw=0.8, label="S at init")
        for ph in PHASES:
            sel = np.array([i for i, p in enumerate(m.phases) if p == ph], dtype=int)
            if sel.size == 0:
                continue
            if ph == "divergent":   # no meaningful final sharpness: mark at the top edge
                ax.scatter(u[sel], np.full(sel.size, hi / 1.5), c=_PHASE_COLORS[ph], marker="x", s=22, label=ph)
            else:
                ax.scatter(u[sel], np.clip(fs[sel], lo, hi), c=_PHASE_COLORS[ph], s=18, label=ph, zorder=3)
            bx.scatter(u[sel], m.peak_ratio[sel], c=_PHASE_COLORS[ph], s=18, zorder=3,
                       marker="x" if ph == "divergent" else "o")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ax.set_ylabel("final sharpness S")
        ax.set_title(f"{lab} ({m.loss})", fontsize=9)
        ax.legend(fontsize=7)
        bx.set_xscale("log")
        bx.set_yscale("log")
        bx.axhline(1.0, color="0.6", lw=0.8)
        bx.set_xlabel("η · λ0 / 2")
        bx.set_ylabel("max loss / initial loss")
        for a in (ax, bx):
            a.xaxis.set_minor_formatter(NullFormatter())
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, Path(path).with_suffix(""), dpi=120)
