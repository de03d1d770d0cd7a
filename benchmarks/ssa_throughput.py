"""Stochastic simulation throughput (issue 8), single core.

1. Trajectories per second of the exact SSA (and tau-leaping) for the antithetic example under the
   rpa task's 9 scenarios (u1, u2 in {0.5, 1, 1.5}; t 0..100, 1000 points) at a few volumes:
   trajectories/s, reaction events/s, events per trajectory, passes of the vectorised loop.
   Tau-leaping at volume 1000 (where it pays off): steps per trajectory, and its mean against the
   ODE in standard errors.
2. One ``ssa_robust`` evaluation (``task.evaluate``) of a batch of 64 candidates (the antithetic
   design + 63 random candidates: template + 5 distinct random mass-action reactions, rates
   log-uniform in [0.1, 50]) with 256 trajectories each (9 scenarios: 147,456 trajectories),
   at the preset's volume 20.

    python benchmarks/ssa_throughput.py [--quick] [--volumes 5 20 100] [--trajectories 256]

``--quick``: 32 trajectories, volumes 5 and 20, a batch of 16 candidates x 32 trajectories;
``--only-batch`` / ``--skip-batch``: one part only.
The last line is ``ssa_robust_batch_seconds=<seconds>``.
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

from gfn_crn.crn import antithetic_example
from gfn_crn.sim import scenario_grid, time_grid
from gfn_crn.sim.ssa import ssa
from gfn_crn.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cands import random_candidates  # noqa: E402


def antithetic_throughput(volume: float, M: int, method: str = "exact", seed: int = 0):
    net = antithetic_example()
    sc = scenario_grid({"u1": [0.5, 1.0, 1.5], "u2": [0.5, 1.0, 1.5]})
    t = time_grid(100.0, 1000)
    t0 = time.perf_counter()
    r = ssa(net, sc, t, trajectories=M, volume=volume, seed=seed, method=method, record="moments", species=["X1"])
    dt = time.perf_counter() - t0
    n = len(sc) * M
    return r, {"volume": volume, "method": method, "trajectories": n, "seconds": dt, "traj_per_s": n / dt,
               "events_per_s": r.stats["events_total"] / dt, "events_per_traj": r.events.mean(),
               "passes": r.stats["passes"], "ok": float((r.status == 0).mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--volumes", type=float, nargs="*", default=None)
    ap.add_argument("--trajectories", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--batch-trajectories", type=int, default=None)
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--only-batch", action="store_true")
    ap.add_argument("--tau-volume", type=float, default=None, help="volume of the tau-leaping run (1000)")
    a = ap.parse_args(argv)
    vols = a.volumes or ([5.0, 20.0] if a.quick else [5.0, 20.0, 100.0])
    M = a.trajectories or (32 if a.quick else 256)
    if a.only_batch:
        vols = []
    print(f"# antithetic example, 9 scenarios, t 0..100 (1000 points), {M} trajectories per scenario, single core")
    print(f"{'volume':>7} {'method':>6} {'traj':>6} {'seconds':>8} {'traj/s':>8} {'events/s':>10} "
          f"{'events/traj':>11} {'passes':>7}")
    for v in vols:
        r, d = antithetic_throughput(v, M)
        print(f"{v:>7g} {'exact':>6} {d['trajectories']:>6} {d['seconds']:>8.2f} {d['traj_per_s']:>8.1f} "
              f"{d['events_per_s']:>10.3g} {d['events_per_traj']:>11.0f} {d['passes']:>7}")
    # tau-leaping pays off only at large counts (at volume 100 the antithetic design's leaps would
    # cover < 10 events, so every step falls back to an exact one): run it at volume 1000, where
    # the exact method would need ~1.1e6 events per trajectory, and compare its mean with the ODE
    # (the SSA mean of this nonlinear network differs from the ODE by O(1/volume))
    tv = a.tau_volume or 1000.0
    if vols:
        r_tau, d = antithetic_throughput(tv, M, "tau", seed=1)
        from gfn_crn.sim import simulate

        sc = scenario_grid({"u1": [0.5, 1.0, 1.5], "u2": [0.5, 1.0, 1.5]})
        ode = simulate(antithetic_example(), sc, time_grid(100.0, 1000)).y[0, :, :, :1]
        se = np.sqrt(r_tau.var[0] / M)
        sl = slice(200, None)
        z = (np.abs(r_tau.mean[0] - ode)[:, sl] / np.maximum(se[:, sl], 1e-12))
        rel = np.abs(r_tau.mean[0] - ode)[:, sl].max() / ode[:, sl].max()
        print(f"{tv:>7g} {'tau':>6} {d['trajectories']:>6} {d['seconds']:>8.2f} {d['traj_per_s']:>8.1f} "
              f"{d['events_per_s']:>10.3g} {d['events_per_traj']:>11.0f} {d['passes']:>7}"
              f"  (steps; mean vs ODE on t >= 20: median {np.median(z):.2f} SE, max {z.max():.2f} SE, "
              f"max rel {rel:.3f})")

    if a.skip_batch:
        return 0
    B = a.batch or (16 if a.quick else 64)
    MB = a.batch_trajectories or (32 if a.quick else 256)
    task = load_task("ssa_robust")
    task.trajectories = MB
    nets = [antithetic_example()] + random_candidates(B - 1, seed=0)
    t0 = time.perf_counter()
    res = task.evaluate(nets)
    dt = time.perf_counter() - t0
    st = task.last_ssa.stats
    reasons = {k: int(np.sum(res.reason == k)) for k in sorted(set(res.reason.tolist()))}
    ev = task.last_ssa.events.max(axis=2)
    print(f"\n# ssa_robust evaluate: {B} candidates x 9 scenarios x {MB} trajectories (volume {task.volume:g}, "
          f"max_events {task.max_events}, cap {task.cap:g})")
    print(f"seconds {dt:.1f}  ({dt / B:.2f} s/candidate, {B * 9 * MB / dt:.0f} traj/s)  passes {st['passes']}  "
          f"events {st['events_total']:.3g}  reasons {reasons}  screened out by the pilot: "
          f"{st.get('screened_out', 0)} (pilot {st.get('pilot_seconds', 0):.1f} s)")
    print(f"antithetic loss {res.loss[0]:.4f} (tracking {res.details['tracking'][0].mean():.4f}, "
          f"cv {res.details['cv'][0].mean():.3f}); valid random: {int(res.valid[1:].sum())}/{B - 1}; "
          f"median max-events per candidate {np.median(ev.max(axis=1)):.0f}")
    print(f"ssa_robust_batch_seconds={dt:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
