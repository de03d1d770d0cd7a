"""Simulator throughput and accuracy (issue 2).

256 random candidates: the antithetic example's template plus 5 distinct random reactions from the
3-species mass-action library, rates log-uniform in [0.1, 50]; 9 scenarios (u1, u2 in
{0.5, 1, 1.5}); initial concentrations 0.01; t in [0, 100] with 1000 points. In one process,
single core:

(a) the default engine (vectorised Rodas4 over all systems),
(b) a peer-style baseline: one scenario at a time, scipy LSODA at rtol 1e-8, a right-hand side
    looping over reaction objects in Python, no Jacobian (run on a subsample),
(c) CVODE one system at a time (the fallback engine, subsample),

and the max relative trajectory error of (a) against a tight scipy LSODA reference (with the analytic Jacobian) (rtol 1e-10)
on the subsample, over trajectories that neither run flags as diverged. Relative error of a
trajectory: max over time and species of |y - y_ref| / (max_t |y_ref| + 1e-6).

    python benchmarks/sim_throughput.py [--quick] [--n 256] [--sub 16]

The last line is ``speedup_vs_peer_style=<ratio>``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cands import random_candidates  # noqa: E402

from gfn_crn.sim import OK, scenario_grid, simulate, time_grid  # noqa: E402
from gfn_crn.sim.reference import naive_rhs  # noqa: E402


def peer_style(nets, scenarios, t, cap=1e4):
    """One scenario at a time, LSODA rtol 1e-8, Python loop over reactions, no Jacobian."""
    from scipy.integrate import solve_ivp

    out = []
    for net in nets:
        for sc in scenarios:
            u = dict(sc.inputs)
            y0 = sc.init_vector(net.species)

            def f(_, y):
                return naive_rhs(net, y, u)

            def blow(_, y):
                return cap - np.max(np.abs(y))

            blow.terminal = True
            sol = solve_ivp(f, (t[0], t[-1]), y0, method="LSODA", t_eval=t, rtol=1e-8, atol=1e-10, events=blow)
            out.append(sol.status)
    return out


def rel_error(y, yref):
    scale = np.abs(yref).max(axis=-2, keepdims=True) + 1e-6  # per trajectory and species
    return (np.abs(y - yref) / scale).max(axis=(-1, -2))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small subsamples, under a minute")
    ap.add_argument("--n", type=int, default=256, help="candidates for the default engine")
    ap.add_argument("--sub", type=int, default=None, help="subsample for peer-style/CVODE/reference")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--atol", type=float, default=1e-9)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sub = args.sub or (8 if args.quick else 32)
    peer_sub = max(4, sub // 2) if args.quick else sub

    nets = random_candidates(args.n, seed=args.seed)
    scen = scenario_grid({"u1": [0.5, 1.0, 1.5], "u2": [0.5, 1.0, 1.5]})
    t = time_grid(100.0, 1000)
    print(f"{args.n} candidates x {len(scen)} scenarios, t 0..100 with {t.size} points, single core")

    simulate(nets[:4], scen, t)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    res = simulate(nets, scen, t, rtol=args.rtol, atol=args.atol)
    dt_a = time.perf_counter() - t0
    rate_a = args.n / dt_a
    st = np.bincount(res.status.ravel(), minlength=3)
    print(f"(a) rodas (rtol {args.rtol:g}): {dt_a:.2f} s, {rate_a:.1f} cand/s; status ok/diverged/failed = {st.tolist()}; "
          f"steps median {np.median(res.stats['steps']):.0f}, max {res.stats['steps'].max()}")

    t0 = time.perf_counter()
    peer_style(nets[:peer_sub], scen, t)
    dt_b = time.perf_counter() - t0
    rate_b = peer_sub / dt_b
    print(f"(b) peer-style LSODA 1e-8, Python RHS, {peer_sub} candidates: {dt_b:.2f} s, {rate_b:.2f} cand/s")

    t0 = time.perf_counter()
    res_c = simulate(nets[:sub], scen, t, engine="cvode", rtol=args.rtol, atol=args.atol)
    dt_c = time.perf_counter() - t0
    rate_c = sub / dt_c
    print(f"(c) CVODE one system at a time, {sub} candidates: {dt_c:.2f} s, {rate_c:.2f} cand/s")

    t0 = time.perf_counter()
    ref = simulate(nets[:sub], scen, t, engine="scipy", method="LSODA", rtol=1e-10, atol=1e-12)
    dt_r = time.perf_counter() - t0
    both = (res.status[:sub] == OK) & (ref.status == OK)
    err = rel_error(res.y[:sub], ref.y)[both]
    err_c = rel_error(res_c.y, ref.y)[(res_c.status == OK) & (ref.status == OK)]
    flag_mismatch = int(np.sum((res.status[:sub] == OK) != (ref.status == OK)))
    print(f"reference LSODA 1e-10 on {sub} candidates ({dt_r:.1f} s): rodas max rel error {err.max():.2e} "
          f"(median {np.median(err):.1e}, {both.sum()} trajectories), CVODE max rel error {err_c.max():.2e}; "
          f"divergence flags differing from the reference: {flag_mismatch}")
    print(f"ratios: rodas/peer-style = {rate_a / rate_b:.0f}x, CVODE/peer-style = {rate_c / rate_b:.1f}x, "
          f"rodas/CVODE = {rate_a / rate_c:.0f}x")
    print(f"speedup_vs_peer_style={rate_a / rate_b:.1f}")


if __name__ == "__main__":
    main()
