"""Drawing fresh designs from a trained generator (``gfn-crn sample``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..crn.errors import CRNError
from ..crn.network import Network
from ..rewards.evaluations import mean_pairwise_hamming, rank_order
from .tb import rng_state, set_rng_state


@dataclass
class Samples:
    """Designs drawn from a policy, with their evaluation (arrays of shape (n,))."""

    networks: list
    loss: np.ndarray
    log_reward: np.ndarray
    valid: np.ndarray
    reason: np.ndarray
    conditions: Optional[list] = None   # a family's run: the condition of each design (dicts)

    def __len__(self) -> int:
        return len(self.networks)

    def figures(self, threshold: float, n_hamming: int = 200) -> dict:
        """Valid share, distinct topologies, good designs (and distinct good topologies), best
        loss, mean pairwise Hamming distance between the distinct good topologies."""
        ok = self.valid & np.isfinite(self.loss)
        good = ok & (self.loss < threshold)
        best: dict = {}
        for net, l, g in zip(self.networks, self.loss, ok):
            if g:
                t = net.topology
                if l < best.get(t, math.inf):
                    best[t] = float(l)
        good_topos = sorted((t for t, l in best.items() if l < threshold), key=best.get)
        ham = mean_pairwise_hamming(good_topos[:n_hamming])
        return {
            "n": len(self),
            "valid_fraction": float(ok.mean()) if len(self) else 0.0,
            "n_valid": int(ok.sum()),
            "distinct_topologies": len({n.topology for n in self.networks}),
            "good_fraction": float(good.mean()) if len(self) else 0.0,
            "distinct_good": len(good_topos),
            "best_loss": float(self.loss[ok].min()) if ok.any() else None,
            "median_loss": float(np.median(self.loss[ok])) if ok.any() else None,
            "mean_hamming_good": None if math.isnan(ham) else ham,
        }

    def ranked(self) -> np.ndarray:
        """Indices best first: valid designs by increasing loss, then every invalid one (a
        diverged design's stored loss is the task's loss_cap, a stand-in for its reward, which
        would otherwise rank it ahead of valid designs worse than the cap). Stable."""
        return rank_order(self.loss, self.valid)

    def write_jsonl(self, path) -> Path:
        """One JSON row per design, best first (:meth:`ranked`): ``rank``, ``draw`` (the order
        drawn), ``loss`` (``null`` for an invalid design: it has none), ``log_reward``, ``valid``,
        ``reason``, ``n_reactions``, ``network``."""
        path = Path(path)
        ok = self.valid & np.isfinite(self.loss)
        with open(path, "w") as fh:
            for rank, i in enumerate(self.ranked(), 1):
                net = self.networks[i]
                fh.write(json.dumps({"rank": rank, "draw": int(i), "loss": float(self.loss[i]) if ok[i] else None,
                                     "log_reward": float(self.log_reward[i]), "valid": bool(self.valid[i]),
                                     "reason": str(self.reason[i]), "n_reactions": len(net.reactions),
                                     **({"condition": self.conditions[i]} if self.conditions else {}),
                                     "network": json.loads(net.to_json())}) + "\n")
        return path


def sample_designs(run, n: int, temperature: float = 1.0, batch: int = 256, seed: Optional[int] = 0,
                   condition=None, **policy_kwargs) -> Samples:
    """``n`` designs from ``run``'s policy (structure temperature ``temperature``), evaluated by
    the task. The RNG states are saved and restored, so the run's own sequence is untouched.

    A run with the topology reward samples structures (its rates are prior draws): each sample is
    returned as its structure with the best rates the refinement found, and its loss is that of
    the structure (new structures are refined on a copy of the run's cache, which stays as it was).

    A run of a family of tasks (a conditional env) samples under ``condition`` (``"g=1.3"`` or a
    mapping; checked: an unknown variable or a value out of range is a CRNError naming it), or
    under one condition drawn uniformly per design when None; ``Samples.conditions`` holds them.
    """
    from ..rewards.topology import TopologyReward

    scorer = getattr(run, "scorer", None)
    topology = scorer.fork(getattr(run, "pool", run.task)) if isinstance(scorer, TopologyReward) else None
    kw = dict(policy_kwargs)
    if temperature != 1.0:
        kw["temperature"] = float(temperature)
    saved = rng_state()
    env = run.env
    if condition is not None and getattr(env, "conditions", None) is None:
        raise CRNError("--condition is for a run of a family of tasks; this run's task has no conditions")
    nets: list[Network] = []
    conds: list = []
    parts = {"loss": [], "log_reward": [], "valid": [], "reason": []}
    try:
        if seed is not None:
            torch.manual_seed(seed)
            np.random.seed(seed)
        sampler = run.trainer.sampler
        while len(nets) < n:
            b = min(batch, n - len(nets))
            if getattr(env, "conditions", None) is not None:
                c = env.condition_tensor(condition, b) if condition is not None else env.sample_conditions(b)
                with torch.no_grad():
                    traj = sampler.sample_trajectories(env, n=b, conditions=c, **kw)
                batch_nets = env.states_to_networks(traj.terminating_states)
                # the given condition itself (the tensor holds float32); drawn ones as drawn
                bc = [env.conditions.check(condition if isinstance(condition, dict) else env.conditions.parse(condition))] * b \
                    if condition is not None else env.conditions.decode(c)
                if topology is not None:
                    topology.structure_losses(batch_nets, conditions=bc)
                    batch_nets = topology.refined(batch_nets, conditions=bc)
                    res = topology.evaluate(batch_nets, conditions=bc)
                else:
                    res = getattr(run, "pool", run.task).evaluate(batch_nets, conditions=bc)
                nets += batch_nets
                conds += bc
                for k in parts:
                    parts[k].append(np.asarray(getattr(res, k)))
                continue
            with torch.no_grad():
                traj = sampler.sample_trajectories(run.env, n=b, **kw)
            batch_nets = run.env.states_to_networks(traj.terminating_states)
            if topology is not None:
                topology.structure_losses(batch_nets)  # refines the structures not seen before (on a copy)
                batch_nets = topology.refined(batch_nets)
                # the figures of the designs returned: L* and the prior of the refined rates (cached)
                res = topology.evaluate(batch_nets)
            else:
                res = getattr(run, "pool", run.task).evaluate(batch_nets)  # the run's scoring workers
            nets += batch_nets
            for k in parts:
                parts[k].append(np.asarray(getattr(res, k)))
    finally:
        set_rng_state(saved)
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}
    return Samples(nets, cat["loss"].astype(float), cat["log_reward"].astype(float), cat["valid"].astype(bool),
                   cat["reason"].astype(str), conds or None)


__all__ = ["Samples", "sample_designs"]
