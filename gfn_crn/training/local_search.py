"""Local searches that feed trajectory balance: trainer callbacks that replay designs found
around the best ones so far (the local-search GFlowNet idea of Kim et al., 2024).

* :class:`LocalSearch` refines the rates of the best topologies found (with
  :func:`~gfn_crn.rewards.refine.refine`) and replays the refined designs;
* :class:`StructureLocalSearch` searches in structure space around the best structures of a
  :class:`~gfn_crn.rewards.topology.TopologyReward` (destroy and rebuild with the forward policy)
  and replays the neighbours;
* :func:`replay_networks` / :func:`trajectories_for` turn designs into trajectories for a replay
  buffer; :func:`due_buffer` is the schedule both callbacks share.

The scoring and the rate search themselves live in :mod:`gfn_crn.rewards`; what is here needs a
policy, a replay buffer and the environment, so it belongs to training.
"""

from __future__ import annotations

import heapq
from typing import Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Network
from ..rewards.refine import refine
from ..rewards.structure import structure_key
from ..rewards.topology import TopologyReward
from .config import StructureSearchConfig


def trajectories_for(env, pb, networks: Sequence[Network], conditions=None):
    """Forward trajectories that end in ``networks``: backward rollouts of the backward policy
    ``pb`` from their terminal states, reversed (in canonical order the unique trajectory; in free
    order one order drawn from PB). Their ``log_rewards`` are computed by ``env`` when first read
    (one task evaluation per network). ``conditions`` (a conditional env's: a (B, dim) tensor,
    ``env.condition_tensor``) is carried by every state of the trajectories."""
    from gfn.samplers import Sampler

    states = env.networks_to_states(list(networks))
    with torch_no_grad():
        bw = Sampler(pb).sample_trajectories(env, states=states,
                                             **({} if conditions is None else {"conditions": conditions}))
    return bw.reverse_backward_trajectories()


def replay_networks(env, pb, buffer, networks: Sequence[Network], conditions=None):
    """Add ``networks`` to a replay buffer as trajectories (:func:`trajectories_for`, with their
    ``conditions`` in a conditional env), scored first (through ``env``'s reward, so a recording
    task counts them) so that a prioritised buffer can rank them. Returns the trajectories."""
    traj = trajectories_for(env, pb, networks, conditions)
    _ = traj.log_rewards
    buffer.add(traj)
    return traj


def due_buffer(callback, it: int, result):
    """The replay buffer for a periodic local-search callback, or None when this iteration is not
    one of its (``(it + 1) % callback.every``); a missing buffer is an error naming the callback."""
    if (it + 1) % callback.every:
        return None
    if result.replay_buffer is None:
        raise CRNError(f"{type(callback).__name__} needs a replay buffer (TrainConfig.replay_capacity > 0)")
    return result.replay_buffer


def torch_no_grad():
    import torch

    return torch.no_grad()


class LocalSearch:
    """A :func:`~gfn_crn.training.tb.train` callback: every ``every`` iterations, refine the rates
    of the ``top_k`` best topologies not refined before (from ``best()``, a ``{topology: (loss,
    network)}`` dict such as :attr:`RecordingTask.networks_best`) with ``rounds`` rounds of
    ``popsize`` candidates each, then add the refined designs, as trajectories, to the trainer's
    replay buffer (needs ``replay_capacity > 0``; with ``prioritized_replay`` the buffer keeps the
    highest rewards, so refined designs stay in it). Trajectory balance is an off-policy objective,
    so training on these trajectories keeps the reward-proportional target; what changes is that
    the policy sees the reward a topology can reach with good rates, not only with the rates it
    happened to sample (the local-search GFlowNet idea of Kim et al., 2024, with rate refinement
    as the local search). Every evaluation goes through the task, so budgets count it.
    """

    def __init__(self, env, task, best, *, every: int = 25, top_k: int = 16, rounds: int = 6, popsize: int = 8,
                 sigma0: float = 1.0, seed: int = 0):
        self.env, self.task, self.best = env, task, best
        self.every, self.top_k, self.rounds, self.popsize, self.sigma0 = every, top_k, rounds, popsize, sigma0
        self.rng_seed = seed
        self.refined: set = set()
        self.calls = 0
        self.evaluations = 0
        self.injected = 0

    def __call__(self, it, rec, result):
        buffer = due_buffer(self, it, result)
        if buffer is None:
            return
        ranked = sorted(self.best().items(), key=lambda kv: kv[1][0])
        chosen = [(topo, l, n) for topo, (l, n) in ranked if topo not in self.refined][:self.top_k]
        if not chosen:
            return
        r = refine(self.task, [n for _, _, n in chosen], len(chosen) * self.popsize * self.rounds,
                   popsize=self.popsize, sigma0=self.sigma0, seed=self.rng_seed + self.calls,
                   initial_losses=[l for _, l, _ in chosen])
        self.refined.update(t for t, _, _ in chosen)
        self.calls += 1
        self.evaluations += r.evaluations
        replay_networks(self.env, result.pb, buffer, r.networks)  # len(chosen) more evaluations
        self.evaluations += len(r.networks)
        self.injected += len(r.networks)


class StructureLocalSearch:
    """A :func:`~gfn_crn.training.tb.train` callback: local search in structure space for a
    GFlowNet trained on a :class:`TopologyReward` (the destroy-and-rebuild move is the sampler's,
    :meth:`~gfn_crn.samplers.CRNSampler.destroy_and_rebuild`; this callback chooses the parents,
    schedules the searches and replays the finds).

    Every ``every`` iterations it takes the ``top_k`` best structures of the reward's cache (each
    at most ``max_visits`` times over the run), and for each makes ``neighbours`` neighbours:
    ``destroy`` of its added reactions, chosen at random, are removed, and the forward policy
    completes the design from that partial state (it may add any reactions, or exit). The
    neighbours are scored by the reward (a new structure costs its refinement's evaluations, a
    cached one nothing) and added, as trajectories (backward rollouts of PB, reversed), to the
    trainer's replay buffer. Trajectory balance is off-policy, so its target is unchanged; what
    changes is that the sampler is shown the structures next to the best ones found, where good
    structures cluster (a capable core with different other reactions).
    """

    def __init__(self, env, reward: TopologyReward, *, every: int = 10, top_k: int = StructureSearchConfig.top_k,
                 neighbours: int = StructureSearchConfig.neighbours, destroy: int = StructureSearchConfig.destroy,
                 max_visits: int = StructureSearchConfig.max_visits, seed: int = 0,
                 swap_every: int = 0, swap_replay: int = StructureSearchConfig.swap_replay, swap_pool: int = 1,
                 swap_max: int = StructureSearchConfig.swap_max):
        for name, v, lo in (("every", every, 0), ("top_k", top_k, 1), ("neighbours", neighbours, 1),
                            ("destroy", destroy, 1), ("max_visits", max_visits, 1), ("swap_every", swap_every, 0),
                            ("swap_replay", swap_replay, 1), ("swap_pool", swap_pool, 1), ("swap_max", swap_max, 1)):
            if int(v) != v or v < lo:
                raise CRNError(f"StructureLocalSearch {name} must be an integer >= {lo}, got {v!r}")
        if not every and not swap_every:
            raise CRNError("StructureLocalSearch needs every > 0 or swap_every > 0")
        self.env, self.reward = env, reward
        self.every, self.top_k, self.neighbours, self.destroy, self.max_visits = (
            int(every), int(top_k), int(neighbours), int(destroy), int(max_visits))
        self.swap_every, self.swap_replay, self.swap_pool = int(swap_every), int(swap_replay), int(swap_pool)
        self.swap_max = int(swap_max)
        self.seed = int(seed)
        self.visits: dict[frozenset, int] = {}
        self.expanded: set[frozenset] = set()   # structures whose swap neighbourhood was scored
        self.calls = 0
        self.proposed = 0
        self.swap_draws = 0   # conditions drawn by a family's swap search (its seeded stream)

    def state_dict(self) -> dict:
        return {"visits": dict(self.visits), "calls": self.calls, "proposed": self.proposed,
                "expanded": set(self.expanded), "swap_draws": self.swap_draws}

    def load_state_dict(self, state: dict) -> None:
        self.visits = dict(state["visits"])
        self.calls, self.proposed = int(state["calls"]), int(state["proposed"])
        self.expanded = set(state.get("expanded", ()))   # checkpoints before the swap search: none
        self.swap_draws = int(state.get("swap_draws", 0))

    def swap_neighbours(self, network: Network) -> list[Network]:
        """Every structure one move from ``network``: one added reaction replaced by another
        library reaction, one added where there is room (``env.max_reactions``), one removed where
        more than ``env.min_reactions`` remain. Kept reactions keep their parameters; a new one
        gets rate 1 and the first Hill coefficient (the topology reward restarts every rate from
        the prior's mode anyway). Library order, so the list is deterministic."""
        from ..crn.reactions import HILL_COEFFICIENTS, ReactionInstance

        lib = self.env.library
        own = list(network.reactions)
        present = {inst.reaction for inst in own}
        # the env never offers a library reaction that repeats a fixed one; nor does the search
        fixed = {inst.reaction.signature for inst in network.template.fixed}
        present |= {r for r in lib.reactions if r.signature in fixed}

        def fresh(r):
            return ReactionInstance(r, tuple(1.0 for _ in range(r.n_continuous)),
                                    tuple(HILL_COEFFICIENTS[0] for _ in range(r.n_discrete)))

        out = []
        for i in range(len(own)):
            rest = own[:i] + own[i + 1:]
            for r in lib.reactions:
                if r not in present:
                    out.append(network.with_reactions(tuple(rest) + (fresh(r),)))
        if len(own) < self.env.max_reactions:
            out += [network.with_reactions(tuple(own) + (fresh(r),)) for r in lib.reactions if r not in present]
        if len(own) > max(1, self.env.min_reactions):
            out += [network.with_reactions(tuple(own[:i] + own[i + 1:])) for i in range(len(own))]
        return out

    def swap_search(self, pb, buffer) -> int:
        """Score the whole swap neighbourhood (:meth:`swap_neighbours`) of one structure not
        expanded yet (the best with ``swap_pool = 1``; else one drawn uniformly from the
        ``swap_pool`` best, so the climb does not stay in one basin), and replay its
        ``swap_replay`` best neighbours to trajectory balance. Returns the neighbours scored.
        A family's env (conditional): :meth:`_swap_search_conditional`."""
        r = self.reward
        if getattr(self.env, "conditions", None) is not None:
            return self._swap_search_conditional(pb, buffer, self.env.conditions)
        # the swap_pool best by loss, ties in the cache's insertion order (deterministic under the
        # seed); a partial selection, since the cache holds every structure scored so far
        ranked = heapq.nsmallest(self.swap_pool, ((loss, i, k) for i, (k, (loss, ok)) in enumerate(r.cache.items())
                                                  if ok and k in r.best_networks and k not in self.expanded),
                                 key=lambda t: t[:2])
        if not ranked:
            return 0
        pick = 0 if self.swap_pool == 1 else int(np.random.default_rng([self.seed, 7, len(self.expanded)]).integers(
            min(self.swap_pool, len(ranked))))
        k = ranked[pick][2]
        self.expanded.add(k)
        return self._expand(r.best_networks[k], np.random.default_rng([self.seed, 11, len(self.expanded)]), pb, buffer)

    def _expand(self, parent: Network, rng, pb, buffer, cond=None) -> int:
        """Score the swap neighbourhood of ``parent`` (a seeded sample of ``swap_max`` when larger,
        drawn with ``rng``, in its order) through the reward, under ``cond`` for a family, and replay
        its ``swap_replay`` best neighbours (with their best rates) to trajectory balance. Returns
        the neighbours scored."""
        from ..rewards.topology import condition_key

        r = self.reward
        nets = self.swap_neighbours(parent)
        if not nets:
            return 0
        if len(nets) > self.swap_max:  # large libraries: a seeded sample of the neighbourhood
            keep = rng.choice(len(nets), self.swap_max, replace=False)
            nets = [nets[i] for i in np.sort(keep)]
        kw = {} if cond is None else {"conditions": [cond] * len(nets)}
        loss, ok = r.structure_losses(nets, count=False, **kw)   # new structures are scored (and counted) here
        order = np.argsort(np.where(ok, loss, np.inf), kind="stable")[:self.swap_replay]

        def key(n):
            return structure_key(n) if cond is None else (condition_key(cond), structure_key(n))

        best = [r.best_networks.get(key(nets[i]), nets[i]) for i in order if ok[i]]
        if best:
            replay_networks(self.env, pb, buffer, best,
                            conditions=None if cond is None else self.env.conditions.tensor(cond, len(best)))
        self.proposed += len(nets)
        return len(nets)

    def _swap_search_conditional(self, pb, buffer, space) -> int:
        """The swap search of a family (the reward's cache keys are (condition, structure)): each
        expansion draws one training condition (uniformly, from the search's seeded stream), takes
        its parent from the best structures found under that condition (drawn uniformly from the
        ``swap_pool`` best, as without conditions), scores the neighbourhood under that condition
        and replays the best neighbours with it. A condition with no structure yet (a continuous
        range without ``train`` values: nearly every draw) takes its parent from the best under any
        condition: the climb starts from what is good elsewhere in the family."""
        from ..rewards.topology import condition_key

        r = self.reward
        rng = np.random.default_rng([self.seed, 13, self.swap_draws])
        self.swap_draws += 1
        cond = space.check(space.draw(rng))
        ck = condition_key(cond)

        def pool(same: bool):
            return heapq.nsmallest(self.swap_pool, (
                (loss, i, k) for i, (k, (loss, ok)) in enumerate(r.cache.items())
                if ok and k in r.best_networks and (k[0] == ck if same else True)
                and (ck, k[1]) not in self.expanded), key=lambda t: t[:2])

        ranked = pool(True) or pool(False)
        if not ranked:
            return 0
        pick = 0 if self.swap_pool == 1 else int(rng.integers(min(self.swap_pool, len(ranked))))
        k = ranked[pick][2]
        self.expanded.add((ck, k[1]))
        return self._expand(r.best_networks[k], rng, pb, buffer, cond)

    def parents(self) -> list[Network]:
        """The best cached structures still open for a visit (best networks, best first)."""
        r = self.reward
        ranked = sorted((loss, k) for k, (loss, ok) in r.cache.items() if ok and k in r.best_networks
                        and self.visits.get(k, 0) < self.max_visits)
        return [r.best_networks[k] for _, k in ranked[:self.top_k]]

    def neighbours_of(self, parents: Sequence[Network], pf) -> list[Network]:
        """Destroy-and-rebuild neighbours of ``parents`` (``neighbours`` each, in order), by the
        sampler's structure local search (:meth:`~gfn_crn.samplers.CRNSampler.destroy_and_rebuild`)."""
        from ..samplers import CRNSampler

        rng = np.random.default_rng([self.seed, self.calls])
        traj = CRNSampler(pf).destroy_and_rebuild(self.env, parents, neighbours=self.neighbours, destroy=self.destroy,
                                                  rng=rng)
        return self.env.states_to_networks(traj.terminating_states)

    def __call__(self, it, rec, result):
        if self.swap_every and (it + 1) % self.swap_every == 0:
            if result.replay_buffer is None:
                raise CRNError("StructureLocalSearch needs a replay buffer (TrainConfig.replay_capacity > 0)")
            self.swap_search(result.pb, result.replay_buffer)
        if not self.every:
            return
        buffer = due_buffer(self, it, result)
        if buffer is None:
            return
        parents = self.parents()
        if not parents:
            return
        for p in parents:
            k = structure_key(p)
            self.visits[k] = self.visits.get(k, 0) + 1
        nets = self.neighbours_of(parents, result.pf)
        self.calls += 1
        replay_networks(self.env, result.pb, buffer, nets)  # new structures are refined on the way
        self.proposed += len(nets)


__all__ = ["LocalSearch", "StructureLocalSearch", "replay_networks", "trajectories_for", "due_buffer"]
