"""Why good rpa designs are hard to find: topology and rates (issue 6 diagnosis).

Takes the integral-feedback core of the antithetic design (Z1 -> Z1 + X1, X1 -> Z2, Z1 + Z2 -> 0:
actuation, sensing, annihilation) plus 2 random other library reactions, and compares, at
the same random rates, its losses with those of random 5-reaction topologies; then refines the
rates of the core+2 topologies (gfn_crn.rewards.refine, 25 rounds of 8 candidates each) to
show how many of these capable topologies become good once their rates are tuned.

    python benchmarks/motif_probe.py        # ~2 minutes on one core
    python benchmarks/motif_probe.py --part 3

Part 3 estimates the GFlowNet target's marginal over topologies: with log R = -beta * min(L, 1) +
log prior, a topology's total reward is Z_topo * E_prior[exp(-beta * min(L, 1))] (Z_topo the
prior's mass, equal for every 5-reaction topology), so the target samples topologies in
proportion to the prior expectation of exp(-beta L) over their rates, not to their best loss.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

from gfn_crn.crn import Network, ReactionInstance, antithetic_example, mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.tasks import load_task
from gfn_crn.rewards.refine import refine
from gfn_crn.training.reinforce import random_candidates


def main(parts=(1, 2, 3)):
    base = load_task("rpa")
    a = base.adopt(antithetic_example())
    lib = mass_action_library(base.template.species)
    env = CRNEnv(lib, base.template, base, max_reactions=5, min_reactions=1)
    core = list(a.reactions[:3])
    fixed = {i.reaction.signature for i in base.template.fixed}
    core_sigs = {i.reaction.signature for i in core}
    others = [r for r in lib if r.signature not in fixed and r.signature not in core_sigs]
    q = [0, .1, .25, .5, .75]

    if 1 in parts:
        part1(base, env, core, others, q)
    if 2 in parts:
        part2(base, core, others, q)
    if 3 in parts:
        part3(base, core, others)


def part1(base, env, core, others, q):
    # (1) rates log-uniform in [0.1, 50] (random search's range)
    rng = np.random.default_rng(0)
    nets = []
    for _ in range(64):
        extra = rng.choice(len(others), 2, replace=False)
        insts = core + [ReactionInstance(others[j], (1.0,), ()) for j in extra]
        y = rng.uniform(np.log(0.1), np.log(50), 5)
        nets.append(Network(base.template, tuple(ReactionInstance(i.reaction, (float(np.exp(v)),), ())
                                                 for i, v in zip(insts, y))))
    res = base.evaluate(nets)
    loss = np.where(res.valid, res.loss, 1.0)
    print("rates log-uniform [0.1, 50]; loss quantiles", q)
    print("  core + 2 random reactions (64):", np.quantile(loss, q).round(3))
    rr = base.evaluate(random_candidates(env, 512, rng))
    print("  random 1-5 reactions (512):    ", np.quantile(np.where(rr.valid, rr.loss, 1.0), q).round(3))
    r = refine(base, nets, 64 * 9 * 25, popsize=8, sigma0=1.0)
    print(f"  core + 2 after refinement ({r.evaluations} evaluations, ~{r.evaluations // 64} each): "
          f"below 0.01 {np.mean(r.losses < .01):.1%}, below 0.02 {np.mean(r.losses < .02):.1%}, "
          f"quantiles {np.quantile(r.losses, [0, .25, .5, .75]).round(4)}")



def part2(base, core, others, q):
    # (2) rates near 1: ln k ~ N(0, std^2)
    rng = np.random.default_rng(1)
    for std in (0.0, 0.5, 1.0):
        nets, rnd = [], []
        for _ in range(128):
            extra = rng.choice(len(others), 2, replace=False)
            insts = core + [ReactionInstance(others[j], (1.0,), ()) for j in extra]
            nets.append(Network(base.template, tuple(ReactionInstance(i.reaction, (float(np.exp(std * rng.standard_normal())),), ())
                                                     for i in insts)))
            idx = rng.choice(len(others), 5, replace=False)
            rnd.append(Network(base.template, tuple(ReactionInstance(others[j], (float(np.exp(std * rng.standard_normal())),), ())
                                                    for j in idx)))
        l1 = base.evaluate(nets)
        l2 = base.evaluate(rnd)
        print(f"ln k ~ N(0, {std}^2): core+2 {np.quantile(np.where(l1.valid, l1.loss, 1), q[:4]).round(3)}   "
              f"random 5 {np.quantile(np.where(l2.valid, l2.loss, 1), q[:4]).round(3)}")


def part3(base, core, others, n_topologies=16, n_rates=64, beta=30.0):
    # (3) E_prior[exp(-beta min(L, 1))] per topology, rates from the task's prior (truncated normal)
    rng = np.random.default_rng(2)
    prior = base.prior

    def draw():
        y = rng.normal(prior.mean, prior.std, 64)
        y = y[(y >= prior.low) & (y <= prior.high)]
        return float(np.exp(y[0]))

    def marginal(insts):
        nets = [Network(base.template, tuple(ReactionInstance(i.reaction, (draw(),), ()) for i in insts))
                for _ in range(n_rates)]
        r = base.evaluate(nets)
        l = np.where(r.valid, np.minimum(r.loss, 1.0), np.inf)  # invalid: reward ~0
        return np.log(np.mean(np.exp(-beta * l))), np.min(l)

    out = {}
    for name in ("core + 2 random", "random 5"):
        vals = []
        for _ in range(n_topologies):
            if name == "random 5":
                insts = [ReactionInstance(others[j], (1.0,), ()) for j in rng.choice(len(others), 5, replace=False)]
            else:
                insts = core + [ReactionInstance(others[j], (1.0,), ()) for j in rng.choice(len(others), 2, replace=False)]
            vals.append(marginal(insts))
        v = np.array(vals)
        out[name] = v
        print(f"{name}: log E_prior[exp(-{beta:g} min(L,1))] over {n_topologies} topologies x {n_rates} prior rate "
              f"draws: median {np.median(v[:, 0]):.2f}, max {v[:, 0].max():.2f}; best loss among the draws: median "
              f"{np.median(v[:, 1]):.3f}")
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", type=int, nargs="+", default=[1, 2, 3])
    main(tuple(ap.parse_args().part))
