"""Baselines on the same environment and simulator: risk-seeking REINFORCE and random search.

REINFORCE in the nearest peer's form (issue 6; the facts, not the code): rewards are losses;
each batch keeps its best 5% (risk 0.95), the baseline is the loss at that cutoff, the
policy-gradient term ``(loss - baseline) * log p(trajectory)`` is averaged over the elite; an
entropy bonus (1e-3, score-function estimate ``-log p * grad log p``), Adam at 1e-4, gradient
clipping at 1.0. (The peer's optional self-imitation replay of its archive is not implemented.)
It uses the GFlowNet's own policy network,
sampler and environment, so only the objective differs.

Random search: distinct random library reactions (their number uniform in
``min_reactions..max_reactions``) with rates log-uniform in [0.1, 50] (Hill coefficients
uniform), scored in batches by the same task.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from ..crn.network import Network
from ..crn.reactions import HILL_COEFFICIENTS, ReactionInstance
from ..estimators import CRNPolicyEstimator
from ..samplers import CRNSampler
from .tb import seed_everything


@dataclass
class ReinforceConfig:
    n_iterations: int = 1000
    batch_size: int = 64
    lr: float = 1e-4
    risk: float = 0.95            # keep the best (1 - risk) share of each batch
    entropy_coef: float = 1e-3
    grad_clip: float = 1.0
    hidden: int = 128
    n_layers: int = 2
    family: Optional[str] = None
    seed: Optional[int] = 0
    num_threads: Optional[int] = 1


def _trajectory_log_probs(trajectories) -> torch.Tensor:
    """Sum over steps of the on-policy log PF (saved with gradients; 0 on padding)."""
    return trajectories.log_probs.sum(dim=0)


def train_reinforce(env, task, config: ReinforceConfig | None = None,
                    callback: Callable[[int, dict], None] | None = None):
    """Risk-seeking REINFORCE on ``env`` with losses from ``task.evaluate``.

    Returns ``(history, pf)``: one dict per iteration (mean and best loss of the batch, the
    baseline, the elite size) and the trained policy.
    """
    config = config or ReinforceConfig()
    old_threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        if config.seed is not None:
            seed_everything(config.seed)
        pf = CRNPolicyEstimator(env, hidden=config.hidden, n_layers=config.n_layers, family=config.family)
        pf.to(env.device)
        opt = torch.optim.Adam(pf.parameters(), lr=config.lr)
        sampler = CRNSampler(pf)
        history = []
        n_elite = max(1, int(math.ceil((1.0 - config.risk) * config.batch_size)))
        for it in range(config.n_iterations):
            t0 = time.perf_counter()
            traj = sampler.sample_trajectories(env, n=config.batch_size, save_logprobs=True)
            states = traj.terminating_states
            nets = env.states_to_networks(states)
            res = task.evaluate(nets)
            loss = np.where(np.asarray(res.valid), np.asarray(res.loss), task.loss_cap)
            order = np.argsort(loss, kind="stable")
            elite = order[:n_elite]
            baseline = float(loss[order[n_elite - 1]])
            logp = _trajectory_log_probs(traj)
            adv = torch.as_tensor(loss[elite] - baseline, dtype=logp.dtype)
            pg = (adv * logp[elite]).mean()
            ent = -(logp.detach() * logp).mean()  # score-function estimate of grad H
            objective = pg - config.entropy_coef * ent
            batch_best = float(loss[order[0]])
            opt.zero_grad()
            objective.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(pf.parameters(), config.grad_clip)
            opt.step()
            rec = {"iteration": it, "mean_loss": float(loss.mean()), "best_loss": batch_best,
                   "baseline": baseline, "n_elite": n_elite, "seconds": time.perf_counter() - t0}
            history.append(rec)
            if callback is not None:
                callback(it, rec)
        return history, pf
    finally:
        torch.set_num_threads(old_threads)


def random_candidates(env, n: int, rng: np.random.Generator, low: float = 0.1, high: float = 50.0) -> list[Network]:
    """``n`` random networks: distinct library reactions offered by ``env`` (their number uniform
    in ``min_reactions..max_reactions``), rates log-uniform in ``[low, high]``."""
    lib = env.library
    fixed = {i.reaction.signature for i in env.template.fixed}
    choices = [j for j, r in enumerate(lib) if r.signature not in fixed]
    out = []
    for _ in range(n):
        k = int(rng.integers(env.min_reactions, env.max_reactions + 1))
        idx = sorted(rng.choice(len(choices), size=k, replace=False))
        insts = []
        for i in idx:
            r = lib[choices[i]]
            c = tuple(float(v) for v in np.exp(rng.uniform(math.log(low), math.log(high), r.n_continuous)))
            d = tuple(int(rng.choice(HILL_COEFFICIENTS)) for _ in range(r.n_discrete))
            insts.append(ReactionInstance(r, c, d))
        out.append(Network(env.template, tuple(insts)))
    return out


def random_search(env, task, n_evaluations: int, batch_size: int = 64, seed: int = 0,
                  callback: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Score random candidates in batches until ``n_evaluations``; returns per-batch records."""
    rng = np.random.default_rng(seed)
    history = []
    done = 0
    while done < n_evaluations:
        t0 = time.perf_counter()
        nets = random_candidates(env, min(batch_size, n_evaluations - done), rng)
        res = task.evaluate(nets)
        loss = np.where(np.asarray(res.valid), np.asarray(res.loss), task.loss_cap)
        done += len(nets)
        rec = {"evaluations": done, "mean_loss": float(loss.mean()), "best_loss": float(loss.min()),
               "seconds": time.perf_counter() - t0}
        history.append(rec)
        if callback is not None:
            callback(len(history) - 1, rec)
    return history
