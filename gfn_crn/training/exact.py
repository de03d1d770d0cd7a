"""Exact terminal distributions of a trained policy on small settings (DESIGN.md 6.8).

With fixed parameters (``CRNEnv(fixed_parameters=True)``) a state is determined by its set of
present reactions, so the probability that the policy terminates at a set is computable
exactly by dynamic programming over the subset lattice:

    reach(s0) = 1,   reach(s + j) += reach(s) * PF(j | s),   P(x) = reach(x) * PF(exit | x).

In canonical order each set has a single path (the product along it); in free order this sums
over all ``n!`` orderings. :func:`count_trajectories` runs the same recursion with the masks
only, counting paths.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import numpy as np
import torch


def small_library(M: int):
    """The antithetic template and the first ``M`` reactions of its 3-species mass-action
    library: the small setting the exactness tests and benchmark enumerate."""
    from ..crn import ReactionLibrary, antithetic_example, mass_action_library

    tmpl = antithetic_example().template
    full = mass_action_library(tmpl.species)
    return tmpl, ReactionLibrary(full.species, full.reactions[:M], name=f"first{M}")


def enumerate_sets(env) -> list[tuple[int, ...]]:
    """Every set of addable library reactions with size in [min_reactions, max_reactions],
    sorted by size then index."""
    allowed = [j for j in range(env.M) if bool(env.allowed[j])]
    out = []
    for n in range(env.min_reactions, env.max_reactions + 1):
        out += list(itertools.combinations(allowed, n))
    return out


def _all_subsets(env) -> list[tuple[int, ...]]:
    allowed = [j for j in range(env.M) if bool(env.allowed[j])]
    out = []
    for n in range(0, env.max_reactions + 1):
        out += list(itertools.combinations(allowed, n))
    return out


def sets_to_states(env, sets: Sequence[Sequence[int]]):
    """States holding exactly these sets, with the env's fixed parameters."""
    if not env.fixed_parameters:
        raise ValueError("exact enumeration needs an env with fixed_parameters=True")
    t = env.s0.repeat(len(sets), 1)
    for b, s in enumerate(sets):
        for j in s:
            j_t = torch.tensor([j], device=env.device)
            y, d = env.fixed_action_parameters(j_t)
            a = env.make_actions(j_t, y, d)
            t[b : b + 1] = env.step(env.states_from_tensor(t[b : b + 1]), env.actions_from_tensor(a)).tensor
    return env.states_from_tensor(t)


@torch.no_grad()
def structure_probabilities(env, pf, sets: Sequence[Sequence[int]], condition=None, **policy_kwargs) -> torch.Tensor:
    """(len(sets), M + 1) on-policy structure probabilities at the states of ``sets`` (under
    ``condition``, for a conditional env: a mapping or ``"g=1.3"``)."""
    states = sets_to_states(env, sets)
    if condition is not None:
        states.conditions = env.condition_tensor(condition, len(sets))
    dist = pf.to_probability_distribution(states, pf(states), **policy_kwargs)
    lp = dist.struct_lp if policy_kwargs else dist.on_policy_structure_log_probs
    return lp.exp().double()


def _dp(env, sets, step_prob: Callable[[int, int], float], exit_prob: Callable[[int], float]):
    index = {s: i for i, s in enumerate(sets)}
    reach = np.zeros(len(sets))
    reach[index[()]] = 1.0
    term = np.zeros(len(sets))
    for i, s in enumerate(sets):  # sets are sorted by size: parents come first
        if reach[i] == 0.0:
            continue
        term[i] = reach[i] * exit_prob(i)
        if len(s) >= env.max_reactions:
            continue
        for j in range(env.M):
            if j in s:
                continue
            child = tuple(sorted(s + (j,)))
            if child not in index:
                continue
            p = step_prob(i, j)
            if p:
                reach[index[child]] += reach[i] * p
    return term


def exact_terminal_distribution(env, pf, condition=None, **policy_kwargs) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """The exact probability that ``pf`` terminates at each set of :func:`enumerate_sets` (under
    ``condition`` for a conditional env: the sampler's terminal distribution for that condition)."""
    subsets = _all_subsets(env)
    probs = structure_probabilities(env, pf, subsets, condition, **policy_kwargs).cpu().numpy()
    term = _dp(env, subsets, lambda i, j: probs[i, j], lambda i: probs[i, env.M])
    finals = enumerate_sets(env)
    idx = {s: i for i, s in enumerate(subsets)}
    return finals, np.array([term[idx[s]] for s in finals])


def count_trajectories(env, target: Sequence[int]) -> int:
    """Number of complete trajectories s0 -> ... -> target -> sf allowed by the env's masks."""
    target = tuple(sorted(target))
    subsets = [s for s in _all_subsets(env) if set(s) <= set(target)]
    states = sets_to_states(env, subsets) if env.fixed_parameters else _presence_states(env, subsets)
    masks = env.forward_masks(states.tensor).cpu().numpy()
    term = _dp(env, subsets, lambda i, j: float(masks[i, j]), lambda i: float(masks[i, env.M]))
    return int(round(term[subsets.index(target)]))


def _presence_states(env, sets):
    t = env.s0.repeat(len(sets), 1)
    for b, s in enumerate(sets):
        for j in s:
            t[b, j] = 1.0
    return env.states_from_tensor(t)


def target_distribution(log_rewards: np.ndarray) -> np.ndarray:
    """Normalised rewards from log-rewards."""
    lr = np.asarray(log_rewards, dtype=float)
    w = np.exp(lr - lr.max())
    return w / w.sum()


def l1_distance(p: np.ndarray, q: np.ndarray) -> float:
    """sum |p - q| (never a mean)."""
    return float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def log_partition(log_rewards: np.ndarray) -> float:
    lr = np.asarray(log_rewards, dtype=float)
    m = lr.max()
    return float(m + math.log(np.exp(lr - m).sum()))
