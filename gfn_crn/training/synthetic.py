"""Synthetic rewards for tests and benchmarks: callables ``(networks) -> (log_reward, valid)``
that need no simulation, with known normalising constants."""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def network_indices(library, network) -> tuple[int, ...]:
    """Sorted library indices of a network's added reactions."""
    return tuple(sorted(library.index(i.reaction) for i in network.reactions))


class TableReward:
    """Log-reward looked up by the set of added reactions (library indices); sets not in the
    table get ``default`` (None: invalid)."""

    def __init__(self, library, table: Mapping[Sequence[int], float], default: float | None = None):
        self.library = library
        self.table = {tuple(sorted(k)): float(v) for k, v in table.items()}
        self.default = default

    def __call__(self, networks):
        lr = np.empty(len(networks))
        valid = np.ones(len(networks), dtype=bool)
        for b, net in enumerate(networks):
            v = self.table.get(network_indices(self.library, net), self.default)
            if v is None:
                valid[b], lr[b] = False, np.nan
            else:
                lr[b] = v
        return lr, valid


class ConditionalTableReward:
    """A conditional reward for a family's exact checks: ``log_reward(set, condition)`` (a
    function of the set of added reactions, as sorted library indices, and of the condition, a
    dict name -> value), called as ``reward(networks, conditions)``."""

    def __init__(self, library, log_reward: Callable[[tuple, dict], float]):
        self.library = library
        self.log_reward = log_reward

    def __call__(self, networks, conditions=None):
        if conditions is None:
            raise ValueError("a ConditionalTableReward needs one condition per network")
        lr = np.array([float(self.log_reward(network_indices(self.library, n), dict(c)))
                       for n, c in zip(networks, conditions)])
        return lr, np.isfinite(lr)


class ProductDensityReward:
    """``log R(x, y) = base(x) + sum_{live slots} log N(y; mean[j, s], std[j, s])`` with
    ``y = log k``. Each density integrates to 1 over ``y``, so ``Z = sum_x exp(base(x))``.

    ``base`` maps sets to log-rewards (missing sets are invalid); ``means``/``stds`` are arrays
    of shape (M, P_c).
    """

    def __init__(self, library, base: Mapping[Sequence[int], float], means, stds):
        self.library = library
        self.table = TableReward(library, base)
        self.means = np.asarray(means, dtype=float).reshape(len(library), -1)
        self.stds = np.asarray(stds, dtype=float).reshape(len(library), -1)

    @property
    def log_Z(self) -> float:
        v = np.array(list(self.table.table.values()))
        m = v.max()
        return float(m + np.log(np.exp(v - m).sum()))

    def __call__(self, networks):
        lr, valid = self.table(networks)
        for b, net in enumerate(networks):
            if not valid[b]:
                continue
            for inst in net.reactions:
                j = self.library.index(inst.reaction)
                y = np.log(np.asarray(inst.cparams, dtype=float))
                m, s = self.means[j, : len(y)], self.stds[j, : len(y)]
                lr[b] += float((-0.5 * ((y - m) / s) ** 2 - np.log(s) - LOG_SQRT_2PI).sum())
        return lr, valid


class RandomQuadraticReward:
    """A cheap reward on any library (benchmarks): each reaction has a random structure score
    and a random target log-rate; ``log R = sum_j score_j - sum (y - target_j)^2 / 2`` over the
    added reactions' live slots."""

    def __init__(self, library, seed: int = 0, scale: float = 1.0):
        rng = np.random.default_rng(seed)
        self.library = library
        self.score = rng.normal(0.0, scale, len(library))
        self.target = rng.normal(0.0, 1.0, (len(library), max(library.P_c, 1)))

    def __call__(self, networks):
        lr = np.zeros(len(networks))
        for b, net in enumerate(networks):
            for inst in net.reactions:
                j = self.library.index(inst.reaction)
                y = np.log(np.asarray(inst.cparams, dtype=float))
                lr[b] += self.score[j] - 0.5 * float(((y - self.target[j, : len(y)]) ** 2).sum())
        return lr, np.ones(len(networks), dtype=bool)
