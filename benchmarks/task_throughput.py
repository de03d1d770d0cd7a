"""Task evaluation throughput (issue 3) and the reward-default calibration.

Throughput: for the presets ``rpa``, ``logic-4`` and ``oscillator``, a batch of random candidates
(the preset's template + 5 distinct random reactions of the mass-action library over its species,
rates log-uniform in [0.1, 50]) is evaluated with ``task.evaluate``; reported: seconds per
candidate, and the share of the time spent outside the simulator call (loss, reward, prior,
template checks). Single core.

Calibration (``--calibrate``): the loss / log-prior / log-reward distribution of random RPA
candidates (rates from the default prior, and log-uniform in [0.1, 50]) against the antithetic
design and the template alone: the numbers behind the defaults documented in
``gfn_crn/tasks/base.py``.

    python benchmarks/task_throughput.py [--n 256] [--quick] [--calibrate]

The last line is ``max_overhead_share=<fraction>``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import sys
from pathlib import Path
import time

import numpy as np

from gfn_crn.crn import Network, antithetic_example
from gfn_crn.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cands import random_networks  # noqa: E402


def throughput(name: str, n: int, repeats: int = 1) -> dict:
    task = load_task(name)
    nets = random_networks(task.template, n, seed=1)
    sim_time = [0.0]
    orig = task.simulate

    def timed(networks):
        t0 = time.perf_counter()
        r = orig(networks)
        sim_time[0] += time.perf_counter() - t0
        return r

    task.simulate = timed
    task.evaluate(nets[:4])  # warm-up (imports, caches)
    sim_time[0] = 0.0
    t0 = time.perf_counter()
    for _ in range(repeats):
        r = task.evaluate(nets)
    total = time.perf_counter() - t0
    return {"task": name, "n": n, "scenarios": task.n_scenarios, "s_per_candidate": total / (n * repeats),
            "overhead_share": (total - sim_time[0]) / total, "overhead_ms_per_candidate": 1e3 * (total - sim_time[0]) / (n * repeats),
            "valid": float(r.valid.mean()), "median_loss": float(np.median(r.loss[r.valid])) if r.valid.any() else float("nan")}


def calibrate(n: int):
    task = load_task("rpa")
    anti = task.evaluate([antithetic_example(), Network(task.template, ())])
    print(f"antithetic: loss {anti.loss[0]:.6f} log_prior {anti.log_prior[0]:.3f} log_reward {anti.log_reward[0]:.3f}")
    print(f"template alone: loss {anti.loss[1]:.6f} log_reward {anti.log_reward[1]:.3f}")
    for label, kw in (("rates from the prior", {"prior": task.prior}), ("rates log-uniform [0.1, 50]", {})):
        nets = random_networks(task.template, n, seed=0, **kw)
        r = task.evaluate(nets)
        v = r.valid
        raw = task.combine(np.nan_to_num(r.scenario_loss, nan=np.inf))
        q = lambda a: " ".join(f"{x:.3g}" for x in np.percentile(a, [1, 10, 50, 90, 99]))  # noqa: E731
        print(f"\n{label}: {n} candidates, valid {v.mean():.1%} (reasons: "
              + ", ".join(f"{k} {np.sum(r.reason == k)}" for k in np.unique(r.reason)) + ")")
        print(f"  loss (valid) p1 p10 p50 p90 p99: {q(r.loss[v])}")
        print(f"  share of valid losses above the cap {task.loss_cap}: {(raw[v] > task.loss_cap).mean():.1%}")
        print(f"  log prior (valid) p1 p10 p50 p90 p99: {q(r.log_prior[v])}")
        print(f"  log reward (valid) p1 p10 p50 p90 p99: {q(r.log_reward[v])}")
        med = np.median(r.log_reward[v])
        print(f"  antithetic log-reward - median random: {anti.log_reward[0] - med:.2f} nats "
              f"(beta {task.beta}); floor {task.floor} vs valid p1 {np.percentile(r.log_reward[v], 1):.2f}")
        print(f"  good (< {task.good_threshold}): {np.sum(v & (r.loss < task.good_threshold))}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=256, help="candidates per batch")
    ap.add_argument("--quick", action="store_true", help="64 candidates")
    ap.add_argument("--calibrate", action="store_true", help="print the reward-default calibration")
    args = ap.parse_args(argv)
    n = 64 if args.quick else args.n
    if args.calibrate:
        calibrate(n)
        return
    shares = []
    print(f"{'task':12s} {'scen':>4s} {'ms/cand':>8s} {'overhead':>9s} {'ovh ms/c':>8s} {'valid':>6s} {'med loss':>8s}")
    for name in ("rpa", "logic-4", "oscillator"):
        r = throughput(name, n)
        shares.append(r["overhead_share"])
        print(f"{name:12s} {r['scenarios']:4d} {1e3 * r['s_per_candidate']:8.2f} {r['overhead_share']:9.1%} "
              f"{r['overhead_ms_per_candidate']:8.3f} {r['valid']:6.1%} {r['median_loss']:8.4f}")
    print(f"max_overhead_share={max(shares):.4f}")


if __name__ == "__main__":
    main()
