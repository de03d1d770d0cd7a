"""Baselines on the same environment and simulator: risk-seeking REINFORCE and random search.

REINFORCE in the nearest peer's form (issue 6; the facts, not the code): rewards are losses;
each batch keeps its best 5% (risk 0.95), the baseline is the loss at that cutoff, the
policy-gradient term ``(loss - baseline) * log p(trajectory)`` is averaged over the elite; an
entropy bonus (1e-3, score-function estimate ``-log p * grad log p``), Adam at 1e-4, gradient
clipping at 1.0. It uses the GFlowNet's own policy network, sampler and environment, so only the
objective differs. Invalid designs (diverged, failed) rank after every valid one, whatever the
valid ones' losses (:func:`rank_order`), and are never archived for replay.

Self-imitation replay (``ReinforceConfig(replay=True)``, off by default): an archive keeps the
``replay_capacity`` best distinct topologies seen so far, each with the trajectory that produced
its best loss (the design with its rates). Each iteration, the archived designs whose loss beats
the current batch's best (at most ``replay_batch``, best first) are scored again by the task
(these re-evaluations count as candidate evaluations, like any other) and join the elite: their
term is ``replay_weight * (loss - baseline) * log p(trajectory)`` under the current policy, in the
same average as the batch's elite. Their advantage is more negative than any batch member's, so
the update raises their log-probability most; ``replay_weight = 1`` treats a replayed design
exactly like an elite sample of the batch (no extra tuning knob in the default). The re-scored
loss (not the archived one) is used, so a task whose loss changed (e.g. a stochastic one) is
not imitated on stale numbers.

Random search: distinct random library reactions (their number uniform in
``min_reactions..max_reactions``) with rates log-uniform in [0.1, 50] (Hill coefficients
uniform), scored in batches by the same task.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

import numpy as np
import torch

from gfn.containers import Trajectories
from gfn.utils.prob_calculations import get_trajectory_pfs

from ..crn.network import Network
from ..crn.reactions import HILL_COEFFICIENTS, ReactionInstance
from ..estimators import CRNPolicyEstimator
from ..samplers import CRNSampler
from ..rewards.scorer import task_of
from .config import ReinforceConfig
from .tb import seed_everything


class ReplayArchive:
    """The best distinct topologies seen, each with the trajectory and network of its best loss."""

    def __init__(self, env, capacity: int):
        self.env, self.capacity = env, int(capacity)
        self.entries: dict[frozenset, tuple[float, object, Trajectories]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def _single(self, traj: Trajectories, i: int) -> Trajectories:
        """Trajectory ``i`` as a detached one-trajectory container (no saved log-probs)."""
        t = int(traj.terminating_idx[i])
        env = self.env
        return Trajectories(env=env, states=env.States(traj.states.tensor[:t + 1, i:i + 1].clone()),
                            actions=env.Actions(traj.actions.tensor[:t, i:i + 1].clone()),
                            terminating_idx=traj.terminating_idx[i:i + 1].clone(), is_backward=False)

    def add(self, traj: Trajectories, networks, loss: np.ndarray, valid=None) -> None:
        """Offer designs with their losses; invalid ones (``valid`` False) are never archived."""
        ok = np.ones(len(networks), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        for i, (net, l) in enumerate(zip(networks, loss)):
            if not ok[i]:
                continue
            l = float(l)
            topo = net.topology
            old = self.entries.get(topo)
            if old is not None and old[0] <= l:
                continue
            if old is None and len(self.entries) >= self.capacity:
                worst = max(self.entries, key=lambda k: self.entries[k][0])
                if self.entries[worst][0] <= l:
                    continue
                del self.entries[worst]
            self.entries[topo] = (l, net, self._single(traj, i))

    def better_than(self, loss: float, k: int) -> list[tuple[float, object, Trajectories]]:
        """At most ``k`` entries with a loss below ``loss``, best first."""
        ranked = sorted(self.entries.values(), key=lambda e: e[0])
        return [e for e in ranked if e[0] < loss][:k]


class ArchiveReplayBuffer:
    """A replay-buffer face for a :class:`ReplayArchive`: ``add(trajectories)`` scores the designs
    the trajectories end in (through ``task.evaluate``; free for a cached topology reward) and
    offers them to the archive. With it the local-search callbacks, which put what they find into
    a TB trainer's replay buffer, feed REINFORCE's self-imitation archive instead, so a REINFORCE
    run can be given the same local search as a GFlowNet (``benchmarks/diversity.py``,
    ``reinforce-topo-ls``)."""

    def __init__(self, archive: ReplayArchive, task):
        self.archive, self.task = archive, task

    def add(self, trajectories: Trajectories) -> None:
        nets = self.archive.env.states_to_networks(trajectories.terminating_states)
        loss, res = _scored(self.task, nets)
        self.archive.add(trajectories, nets, loss, res.valid)


def stack_trajectories(parts: list) -> Trajectories:
    out = parts[0][torch.arange(1)]
    for p in parts[1:]:
        out.extend(p)
    return out


def _trajectory_log_probs(trajectories) -> torch.Tensor:
    """Sum over steps of the on-policy log PF (saved with gradients; 0 on padding)."""
    return trajectories.log_probs.sum(dim=0)


def _losses(task, nets) -> np.ndarray:
    return _scored(task, nets)[0]


def ranking_losses(loss, valid, cap: float) -> np.ndarray:
    """Losses for ranking a batch: an invalid design (diverged, failed) ranks after every valid one,
    as everywhere else. It takes the larger of the loss cap and the batch's worst valid loss (a
    valid design may score above the cap, which only bounds the reward), so that an elite that
    has to include it sees no advantage for it over a valid design; ties go to the valid ones
    (:func:`rank_order`)."""
    loss = np.asarray(loss, dtype=float)
    valid = np.asarray(valid, dtype=bool)
    worst = max(float(cap), float(loss[valid].max())) if valid.any() else float(cap)
    return np.where(valid, loss, worst)


def rank_order(loss, valid) -> np.ndarray:
    """Indices best first: valid designs by loss, then the invalid ones (stable)."""
    return np.lexsort((np.asarray(loss, dtype=float), ~np.asarray(valid, dtype=bool)))


def _scored(task, nets):
    res = task.evaluate(nets)
    return ranking_losses(res.loss, res.valid, task_of(task).loss_cap), res


def reinforce_step(env, task, pf, opt, sampler, config: "ReinforceConfig", n_elite: int,
                   archive: Optional[ReplayArchive], it: int, replay_task=None) -> dict:
    """One REINFORCE iteration (sample, score, optional replay, update); returns its record.
    ``replay_task`` re-scores the replayed archive entries (default ``task``)."""
    t0 = time.perf_counter()
    traj = sampler.sample_trajectories(env, n=config.batch_size, save_logprobs=True)
    nets = env.states_to_networks(traj.terminating_states)
    t_sample = time.perf_counter() - t0
    loss, res = _scored(task, nets)
    valid = np.asarray(res.valid, dtype=bool)
    n_eval = len(nets)
    order = rank_order(loss, valid)  # invalid designs last, whatever their loss
    elite = order[:n_elite]
    baseline = float(loss[order[n_elite - 1]])
    batch_best = float(loss[order[0]])
    logp = _trajectory_log_probs(traj)
    adv = torch.as_tensor(loss[elite] - baseline, dtype=logp.dtype)
    terms = [adv * logp[elite]]
    n_replayed = 0
    replay_best = float("nan")
    if archive is not None:
        chosen = archive.better_than(batch_best, config.replay_batch)
        if chosen:
            rl = _losses(task if replay_task is None else replay_task, [e[1] for e in chosen])  # re-scored: counts as evaluations
            n_eval += len(chosen)
            n_replayed = len(chosen)
            replay_best = float(rl.min())
            rtraj = stack_trajectories([e[2] for e in chosen])
            rlogp = get_trajectory_pfs(pf, rtraj, recalculate_all_logprobs=True).sum(dim=0)
            radv = torch.as_tensor(rl - baseline, dtype=rlogp.dtype)
            terms.append(config.replay_weight * radv * rlogp)
        archive.add(traj, nets, loss, valid)
    pg = torch.cat(terms).mean()
    log_reward = np.asarray(res.log_reward, dtype=float)
    ent = -(logp.detach() * logp).mean()  # score-function estimate of grad H
    objective = pg - config.entropy_coef * ent
    opt.zero_grad()
    objective.backward()
    if config.grad_clip:
        torch.nn.utils.clip_grad_norm_(pf.parameters(), config.grad_clip)
    opt.step()
    return {"iteration": it, "mean_loss": float(loss.mean()), "best_loss": batch_best,
            "baseline": baseline, "n_elite": n_elite, "replayed": n_replayed, "replay_best_loss": replay_best,
            "evaluations": n_eval, "objective": float(objective.detach()),
            "mean_log_reward": float(log_reward.mean()), "max_log_reward": float(log_reward.max()),
            "valid_fraction": float(np.mean(res.valid)),
            "mean_length": float((traj.terminating_idx - 1).float().mean()),
            "sample_seconds": t_sample, "seconds": time.perf_counter() - t0}


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
        trainer = ReinforceTrainer(env, config, task=task)
        evaluations = 0
        for it in range(config.n_iterations):
            if config.max_evaluations is not None and evaluations >= config.max_evaluations:
                break
            rec = trainer.step()
            evaluations += rec["evaluations"]
            rec["total_evaluations"] = evaluations
            if callback is not None:
                callback(it, rec)
        return trainer.history, trainer.pf
    finally:
        torch.set_num_threads(old_threads)


class ReinforceTrainer:
    """REINFORCE as a resumable object with the interface a run directory uses (like
    :class:`~gfn_crn.training.tb.Trainer`): :meth:`step` returns a record with the keys of a TB
    record (``loss`` and ``logZ`` are None: there are none; ``objective`` is the REINFORCE one);
    :meth:`state_dict` / :meth:`load_state_dict` capture the policy, the optimizer, the replay
    archive, the iteration, the RNG states and the env's evaluation counters, so a resumed run
    continues bit-for-bit. Evaluations go through ``task.evaluate`` and are added to
    ``env.n_evaluated``."""

    def __init__(self, env, config: ReinforceConfig | None = None, task=None, replay_task=None):
        config = config or ReinforceConfig()
        self.env, self.config = env, config
        self.task = task if task is not None else env.task
        self.replay_task = replay_task  # re-scores replayed designs (default: task)
        if config.seed is not None:
            seed_everything(config.seed)
        self.pf = CRNPolicyEstimator(env, hidden=config.hidden, n_layers=config.n_layers, family=config.family)
        self.pf.to(env.device)
        self.optimizer = torch.optim.Adam(self.pf.parameters(), lr=config.lr)
        self.sampler = CRNSampler(self.pf)
        self.archive = ReplayArchive(env, config.replay_capacity) if config.replay else None
        self.n_elite = max(1, int(math.ceil((1.0 - config.risk) * config.batch_size)))
        self.iteration = 0
        self.history: list[dict] = []

    def step(self) -> dict:
        rec = reinforce_step(self.env, self.task, self.pf, self.optimizer, self.sampler, self.config, self.n_elite,
                             self.archive, self.iteration, replay_task=self.replay_task)
        if hasattr(self.env, "n_evaluated"):
            self.env.n_evaluated += rec["evaluations"]
            self.env.n_reward_calls += 1 + (1 if rec["replayed"] else 0)
        rec = {**rec, "loss": None, "logZ": None}  # no TB loss and no log Z: null in metrics.jsonl
        self.history.append(rec)
        self.iteration += 1
        return rec

    def state_dict(self) -> dict:
        from .tb import rng_state

        arch = None
        if self.archive is not None:
            arch = [{"loss": l, "network": net.to_json(), "states": t.states.tensor.clone(),
                     "actions": t.actions.tensor.clone(), "terminating_idx": t.terminating_idx.clone()}
                    for l, net, t in self.archive.entries.values()]
        return {"algorithm": "reinforce", "iteration": self.iteration, "pf": self.pf.state_dict(),
                "optimizer": self.optimizer.state_dict(), "rng": rng_state(), "replay_archive": arch,
                "env_counters": {k: int(getattr(self.env, k, 0)) for k in ("n_evaluated", "n_reward_calls",
                                                                          "reward_cache_hits")}}

    def load_state_dict(self, state: dict) -> None:
        from .tb import set_rng_state

        if state.get("algorithm") != "reinforce":
            raise ValueError("not a REINFORCE trainer state (this checkpoint is from another algorithm)")
        self.pf.load_state_dict(state["pf"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        if self.archive is not None:
            self.archive.entries = {}
            env = self.env
            for e in state.get("replay_archive") or []:
                net = Network.from_json(e["network"])
                t = Trajectories(env=env, states=env.States(e["states"]), actions=env.Actions(e["actions"]),
                                 terminating_idx=e["terminating_idx"], is_backward=False)
                self.archive.entries[net.topology] = (float(e["loss"]), net, t)
        for k, v in state.get("env_counters", {}).items():
            setattr(self.env, k, int(v))
        set_rng_state(state["rng"])


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
        loss = ranking_losses(res.loss, res.valid, task_of(task).loss_cap)
        done += len(nets)
        rec = {"evaluations": done, "mean_loss": float(loss.mean()), "best_loss": float(loss.min()),
               "seconds": time.perf_counter() - t0}
        history.append(rec)
        if callback is not None:
            callback(len(history) - 1, rec)
    return history
