"""Exactness and speed of the GFlowNet (issue 4, DESIGN.md 6.8).

1. Exactness: a reward table over the sets of <= 3 of the first 5 mass-action reactions (fixed
   parameters), trained with TB in canonical and free order; the exact terminal distribution of
   the policy (subset-lattice dynamic programming) against the normalised reward, as
   L1 = sum |p - q|, and |log Z - log Z_true|, against training iterations.
2. log Z with continuous parameters: reward = table(set) * prod N(log k; m_j, s_j) on 4
   reactions, <= 2 added; |learned log Z - closed form|.
3. Speed: seconds per TB iteration at batch 64 on the 90-reaction mass-action library of the
   RPA template with a synthetic reward (no simulation), one torch thread.

``--quick`` runs a short canonical exactness check only and prints ``L1=<value>`` last.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gfn_crn.crn import antithetic_example, mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.training.config import plain_tb
from gfn_crn.training import (
    ProductDensityReward,
    RandomQuadraticReward,
    TableReward,
    ON_POLICY,
    TrainConfig,
    enumerate_sets,
    exact_terminal_distribution,
    l1_distance,
    log_partition,
    small_library,
    target_distribution,
    train,
)


def exactness(order: str, iterations: int, every: int, seed: int = 0):
    tmpl, lib = small_library(5)
    probe = CRNEnv(lib, tmpl, None, order=order, max_reactions=3, min_reactions=0, fixed_parameters=True)
    sets = enumerate_sets(probe)
    rng = np.random.default_rng(1)
    table = {s: float(rng.normal(0.0, 1.0)) for s in sets}
    lr = np.array([table[s] for s in sets])
    q, logZ_true = target_distribution(lr), log_partition(lr)
    env = CRNEnv(lib, tmpl, TableReward(lib, table), order=order, max_reactions=3, min_reactions=0,
                 fixed_parameters=True)
    rows = []
    t0 = time.perf_counter()

    def cb(it, rec, res):
        if (it + 1) % every == 0 or it == iterations - 1:
            _, p = exact_terminal_distribution(env, res.pf)
            rows.append((it + 1, l1_distance(p, q), abs(rec["logZ"] - logZ_true), time.perf_counter() - t0))

    train(env, plain_tb(n_iterations=iterations, batch_size=64, hidden=64, lr=1e-3, lr_logZ=0.1, seed=seed, **ON_POLICY),
          callback=cb)
    return rows, len(sets)


def logz_continuous(order: str, iterations: int, seed: int = 0):
    tmpl, lib = small_library(4)
    probe = CRNEnv(lib, tmpl, None, order=order, max_reactions=2, min_reactions=0, fixed_parameters=True)
    rng = np.random.default_rng(2)
    base = {s: float(rng.normal(0.0, 0.5)) for s in enumerate_sets(probe)}
    R = ProductDensityReward(lib, base, rng.uniform(-1, 1, (4, 1)), rng.uniform(0.3, 0.8, (4, 1)))
    env = CRNEnv(lib, tmpl, R, order=order, max_reactions=2, min_reactions=0)
    res = train(env, plain_tb(n_iterations=iterations, batch_size=64, hidden=64, lr_logZ=0.1, seed=seed, **ON_POLICY))
    z = np.mean([r["logZ"] for r in res.history[-50:]])
    return abs(z - R.log_Z)


def speed(order: str, iterations: int = 60, warmup: int = 10):
    tmpl = antithetic_example().template
    lib = mass_action_library(tmpl.species)
    env = CRNEnv(lib, tmpl, RandomQuadraticReward(lib), order=order, max_reactions=5, min_reactions=1)
    res = train(env, plain_tb(n_iterations=iterations, batch_size=64, seed=0, temperature_start=1.5,
                                 epsilon_start=0.05, num_threads=1, lr_logZ=0.05, anneal_fraction=0.0))
    h = res.history[warmup:]
    return (np.mean([r["seconds"] for r in h]), np.mean([r["sample_seconds"] for r in h]),
            np.mean([r["mean_length"] for r in h]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short canonical exactness run; prints L1=<value> last")
    ap.add_argument("--iterations", type=int, default=1500)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        rows, n_sets = exactness("canonical", 400, 100)
        for it, l1, dz, t in rows:
            print(f"canonical it={it:5d} L1={l1:.4f} |dlogZ|={dz:.4f} t={t:.1f}s")
        print(f"L1={rows[-1][1]:.4f}")
        return
    for order in ("canonical", "free"):
        rows, n_sets = exactness(order, args.iterations, 100)
        print(f"# {order} order, {n_sets} sets (<= 3 of 5 reactions), batch 64")
        print("iteration  L1      |logZ - logZ_true|  seconds")
        for it, l1, dz, t in rows:
            print(f"{it:9d}  {l1:.4f}  {dz:.4f}              {t:.1f}")
    for order in ("canonical", "free"):
        print(f"# continuous parameters, {order}: |learned logZ - closed form| = {logz_continuous(order, 600):.4f}")
    for order in ("canonical", "free"):
        s, ss, L = speed(order)
        print(f"# speed, {order}: {s * 1e3:.1f} ms per TB iteration at batch 64 (sampling + rewards "
              f"{ss * 1e3:.1f} ms), 90-reaction library, mean {L:.2f} reactions, 1 thread")
    rows, _ = exactness("canonical", 400, 400)
    print(f"L1={rows[-1][1]:.4f}")


if __name__ == "__main__":
    main()
