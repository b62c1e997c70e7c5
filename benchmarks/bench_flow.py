"""Benchmark of gradient flow to extreme training accuracy (issue 3, speed and memory lines).

Problem: n = 100, d = 1000, Gaussian data with a 5-sparse teacher, diagonal net D = 2, α = 1e-2, exp loss,
flowed to ℒ = 1e-10000. Everything below is measured in this run (best of 3 where it says so):

1. biasflow ``flow`` warm (in-process, compiled paths loaded), against
   (a) a plain SciPy ``solve_ivp`` primal loss-clock flow written here (θ = (u₊, u₋), τ-clock, NumPy RHS),
   (b) fixed-step NumPy gradient descent given the same wall time (the loss level it reaches is printed).
2. A fresh ``biasflow flow`` process against a fresh process running a plain SciPy ``solve_ivp`` script of
   the same dual flow (LSODA, NumPy RHS, τ-clock, event at the target), best of 3 each; peak memory.
3. Direction error of the final β against that independent integration (target ≤ 1e-6).
4. Seconds to ℒ = 1e-30 vs fixed-step NumPy GD (target ≥ 100×; GD's time is extrapolated from its
   measured ℒ ∝ 1/k rate, since it cannot reach 1e-30 in any practical time).
5. A 16-value α sweep (``flow_many``) vs one run (target ≤ 4×).
6. Stretch: ℒ = 1e-1000000.
7. The autodiff primal path: a depth-3, width-100 dense network on n = 100, d = 50 to 1e-100 (≤ 30 s).
8. The sweep line: 32 α × 32 loss levels down to 1e-1000 at n = 50, d = 100 (≤ 60 s).

Prints seconds and ratios; exits 0. Timings on a shared machine are noisy: compare ratios.
"""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "src"))

from scipy.integrate import solve_ivp  # noqa: E402

from biasflow.data import gaussian, save  # noqa: E402
from biasflow.dynamics.flow import flow, flow_many  # noqa: E402
from biasflow.models import Diagonal  # noqa: E402

LN10 = math.log(10.0)
N, D_IN, ALPHA, TARGET = 100, 1000, 1e-2, -10000.0


def best_of(fn, repeats=3):
    out, best = None, math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def unit(v):
    return np.asarray(v) / np.linalg.norm(v)


# ------------------------------------------------------------------------------------------ baselines
def scipy_primal_loss_clock(A, alpha, target_log10, budget_s):
    """Baseline (a): θ = (u₊, u₋) on the τ-clock, dθ/dτ = −∇ log ℒ, plain SciPy LSODA, NumPy RHS."""
    n, d = A.shape
    t0 = time.perf_counter()
    reached = [0.0]

    class Budget(Exception):
        pass

    def logl_w(th):
        m = A @ (th[:d] ** 2 - th[d:] ** 2)
        mx = (-m).max()
        e = np.exp(-m - mx)
        return mx + math.log(e.sum()) - math.log(n), e / e.sum()

    def f(tau, th):
        if time.perf_counter() - t0 > budget_s:
            raise Budget
        lg, w = logl_w(th)
        reached[0] = min(reached[0], lg / LN10)
        q = A.T @ w
        return np.concatenate([2 * th[:d] * q, -2 * th[d:] * q])

    def ev(tau, th):
        return logl_w(th)[0] - target_log10 * LN10

    ev.terminal = True
    try:
        sol = solve_ivp(f, (0, 1e300), np.full(2 * d, alpha), method="LSODA", rtol=1e-10, atol=1e-14,
                        events=ev)
        done = sol.status == 1
    except Budget:
        done = False
    return done, time.perf_counter() - t0, reached[0]


def numpy_gd(A, alpha, seconds, lr=None):
    """Baseline (b): fixed-step GD on (u₊, u₋) in plain NumPy for a given wall time; returns the log10
    loss reached, the step count and the (step, log10 loss) history."""
    n, d = A.shape
    up, um = np.full(d, alpha), np.full(d, alpha)
    if lr is None:
        lr = 1.0 / (np.linalg.norm(A, 2) ** 2 / n)  # a stable step for this problem
    t0 = time.perf_counter()
    k, hist = 0, []
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            m = A @ (up**2 - um**2)
            e = np.exp(-m)
            q = A.T @ e / n
            up, um = up + lr * 2 * up * q, um - lr * 2 * um * q
            k += 1
        lg = math.log(np.mean(np.exp(-(A @ (up**2 - um**2))))) / LN10
        hist.append((k, lg))
    return hist[-1][1], k, hist


PLAIN_DUAL = textwrap.dedent('''
    import math, sys, time
    import numpy as np
    from scipy.integrate import solve_ivp
    z = np.load(sys.argv[1]); X, y = z["X"], z["y"]
    A = y[:, None] * X; At = A.T.copy(); n, d = A.shape
    alpha, target = float(sys.argv[2]), float(sys.argv[3]) * math.log(10)
    a2 = alpha ** 2
    def state(nu):
        zz = At @ nu
        m = A @ (2 * a2 * np.sinh(4 * zz))
        mx = (-m).max(); e = np.exp(-m - mx); S = e.sum()
        return mx + math.log(S) - math.log(n), e / S
    def f(tau, nu):
        return state(nu)[1]
    def ev(tau, nu):
        return state(nu)[0] - target
    ev.terminal = True
    sol = solve_ivp(f, (0, 1e300), np.zeros(n), method="LSODA", rtol=float(sys.argv[4]), atol=1e-14,
                    events=ev)
    nu = sol.y_events[0][0]
    beta = 2 * a2 * np.sinh(4 * (At @ nu))
    np.save(sys.argv[5], beta)
    print(sol.nfev)
''')


def run_process(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "BIASFLOW_NO_PROGRESS": "1",
                                                                 "PYTHONPATH": os.path.join(ROOT, "src")})
    el = time.perf_counter() - t
    if p.returncode != 0:
        print("  process failed:", p.stderr.strip()[-300:])
    return el, p


def main():
    from biasflow.levels import Level

    ds = gaussian(n=N, d=D_IN, k=5, seed=0)
    A = np.asarray(ds.A)
    model = Diagonal(d=D_IN, depth=2, alpha=ALPHA)
    print(f"problem: n={N}, d={D_IN}, 5-sparse teacher, D=2, alpha={ALPHA}, exp loss, target 1e{TARGET:.0f}")

    # 1. warm in-process
    flow(model, ds, "exp", until=Level.from_log10(TARGET))  # warm-up (imports, caches)
    tr, t_ours = best_of(lambda: flow(model, ds, "exp", until=Level.from_log10(TARGET)))
    print(f"[1] biasflow flow warm: {t_ours:.3f} s (best of 3), status {tr.status}, "
          f"{tr.stats['nfev']} RHS evaluations  [target <= 1 s]")
    budget = 60.0
    done, t_a, lvl_a = scipy_primal_loss_clock(A, ALPHA, TARGET, budget)
    if done:
        print(f"    (a) plain SciPy primal loss-clock flow: {t_a:.3f} s  -> ratio {t_a / t_ours:.1f}x")
    else:
        print(f"    (a) plain SciPy primal loss-clock flow: stopped after {t_a:.0f} s at loss 1e{lvl_a:.1f} "
              f"(target not reached)  -> ratio > {t_a / t_ours:.1f}x")
    lvl_b, k_b, _ = numpy_gd(A, ALPHA, t_ours)
    print(f"    (b) fixed-step NumPy GD in the same {t_ours:.3f} s: {k_b} steps, reached loss 1e{lvl_b:.2f}")

    # 2. fresh processes
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.npz")
        save(ds, data)
        script = os.path.join(tmp, "plain_dual.py")
        with open(script, "w") as fh:
            fh.write(PLAIN_DUAL)
        ref_out = os.path.join(tmp, "beta.npy")
        cli = [sys.executable, "-c", "import sys; from biasflow.cli import main; sys.exit(main())", "flow",
               "--data", data, "--alpha", str(ALPHA), "--until-loss", "1e-10000", "--checkpoints", "1e-10000",
               "--json"]
        plain = [sys.executable, script, data, str(ALPHA), str(TARGET), "1e-10", ref_out]
        t_cli = min(run_process(cli)[0] for _ in range(3))
        rss_cli = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        times = [run_process(plain) for _ in range(3)]
        t_plain = min(t for t, _ in times)
        nfev_plain = times[-1][1].stdout.strip()
        print(f"[2] fresh process: biasflow flow {t_cli:.3f} s vs plain SciPy dual script {t_plain:.3f} s "
              f"({nfev_plain} RHS evaluations) -> ratio {t_cli / t_plain:.2f}  [target <= 1]")
        print(f"    peak memory (largest child process): {rss_cli:.0f} MB  [target <= 1024 MB]")
        # 3. direction error against an independent tight integration
        run_process([sys.executable, script, data, str(ALPHA), str(TARGET), "1e-12", ref_out])
        ref = np.load(ref_out)
    err = np.linalg.norm(unit(tr.final.predictor) - unit(ref))
    print(f"[3] direction error vs independent SciPy dual integration (rtol 1e-12): {err:.2e}  "
          "[target <= 1e-6]")

    # 4. 1e-30 vs fixed-step GD
    _, t30 = best_of(lambda: flow(model, ds, "exp", until="1e-30"))
    gd_seconds = max(2.0, 20 * t30)
    lvl, k, hist = numpy_gd(A, ALPHA, gd_seconds)
    (k1, l1), (k2, l2) = hist[len(hist) // 2], hist[-1]
    slope = (l2 - l1) / (math.log10(k2) - math.log10(k1))  # log10 ℒ vs log10 k
    steps_needed = k2 * 10 ** ((-30.0 - l2) / slope) if slope < 0 else math.inf
    t_gd = gd_seconds * steps_needed / k2
    print(f"[4] to 1e-30: biasflow {t30:.3f} s; fixed-step GD reached 1e{lvl:.2f} in {k} steps "
          f"(slope {slope:.2f} in log-log), extrapolated {t_gd:.3g} s -> ratio {t_gd / t30:.3g}x  "
          "[target >= 100x]")

    # 5. 16-alpha batch
    alphas = np.logspace(-3, 1, 16)
    models = [Diagonal(d=D_IN, depth=2, alpha=float(a)) for a in alphas]
    _, t16 = best_of(lambda: flow_many(models, ds, "exp", until=Level.from_log10(TARGET)), repeats=1)
    print(f"[5] 16-alpha sweep (flow_many) to 1e-10000: {t16:.3f} s = {t16 / t_ours:.2f}x one run  "
          "[target <= 4x]")

    # 6. stretch
    trs, t_s = best_of(lambda: flow(model, ds, "exp", until="1e-1000000"), repeats=1)
    print(f"[6] stretch 1e-1000000: {t_s:.3f} s, status {trs.status}, {trs.stats['nfev']} RHS evaluations "
          "[stretch target <= 1 s]")

    # 7. autodiff primal path, dense net
    try:
        from biasflow.models.dense import Dense
    except ImportError:  # pragma: no cover
        Dense = None
    if Dense is not None:
        ds2 = gaussian(n=100, d=50, k=5, seed=0)
        net = Dense(d=50, depth=3, width=100, alpha=1.0)
        t = time.perf_counter()
        trd = flow(net, ds2, "exp", until="1e-100")
        print(f"[7] autodiff primal, dense depth 3 width 100 (n=100, d=50) to 1e-100: "
              f"{time.perf_counter() - t:.2f} s incl. compilation, status {trd.status}  [target <= 30 s]")

    # 8. sweep line
    ds3 = gaussian(n=50, d=100, k=5, seed=0)
    levels = list(-np.logspace(0, 3, 32))
    models3 = [Diagonal(d=100, depth=2, alpha=float(a)) for a in np.logspace(-4, 2, 32)]
    t = time.perf_counter()
    trs3 = flow_many(models3, ds3, "exp", until="1e-1000", checkpoints=[Level.from_log10(v) for v in levels])
    print(f"[8] 32 alpha x 32 levels to 1e-1000 (n=50, d=100): {time.perf_counter() - t:.2f} s, "
          f"statuses {sorted({tr.status for tr in trs3})}  [target <= 60 s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
