"""The log-reward of a batch of candidates as an environment needs it: one scorer call per batch,
the floor for what cannot be scored, an optional prior term and an optional cache.

:class:`EnvReward` is what :class:`~gfn_crn.envs.CRNEnv` asks for the log-rewards of its terminal
states (``env.reward``). The environment only reads its states (which rows are finite and inside
the prior's support, the networks they stand for, their log prior, their bytes as cache keys);
every decision about the reward is made here:

* rows that are not ``eligible`` (non-finite states, parameters outside the prior's support) get
  the floor and are never scored;
* eligible rows found in the cache (``cache_size > 0``; for deterministic scorers only) take the
  cached value; the others are scored in **one** call of the scorer (a
  :class:`~gfn_crn.rewards.Scorer`, or a plain callable ``f(networks) -> (log_reward, valid)``);
* invalid or non-finite results get the floor; with ``add_prior`` the log prior of the row is
  added to the valid ones (for scorers that do not include it; gfn_crn tasks do);
* the floor is ``floor`` if set, else the floor of the scorer's task's reward map (a plain
  callable's ``floor`` attribute), else -50.

Counters: ``calls`` (scorer calls), ``evaluated`` (networks scored), ``cache_hits``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Optional, Sequence

import numpy as np

from ..crn.errors import CRNError
from .scorer import reward_and_validity, task_of

#: the floor when neither the reward nor its scorer names one
DEFAULT_FLOOR = -50.0


class EnvReward:
    """An environment's reward (see the module doc).

    Args:
        scorer: a :class:`~gfn_crn.rewards.Scorer` or a callable ``f(networks) -> (log_reward,
            valid)``; may be set later (``reward.scorer = ...``).
        floor: log-reward of rows that are not eligible or not valid; None follows the scorer.
        add_prior: add the row's log prior to valid log-rewards.
        cache_size: remember this many (key -> log-reward) pairs, least recently used dropped
            first (0: no cache).
    """

    def __init__(self, scorer=None, *, floor: Optional[float] = None, add_prior: bool = False, cache_size: int = 0):
        self.scorer = scorer
        self.floor = floor
        self.add_prior = bool(add_prior)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[bytes, float] = OrderedDict()
        self.cache_hits = 0
        self.calls = 0
        self.evaluated = 0

    @property
    def floor(self) -> float:
        """The log-reward of what cannot be scored or is invalid."""
        if self._floor is not None:
            return self._floor
        floor = getattr(task_of(self.scorer), "floor", None) if self.scorer is not None else None
        return float(floor) if floor is not None else DEFAULT_FLOOR

    @floor.setter
    def floor(self, value: Optional[float]) -> None:
        self._floor = None if value is None else float(value)

    @property
    def task(self):
        """The scorer's task."""
        return task_of(self.scorer)

    def log_rewards(self, eligible: np.ndarray, networks: Callable[[np.ndarray], Sequence],
                    keys: Optional[Callable[[np.ndarray], Sequence[bytes]]] = None,
                    log_prior: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                    conditions: Optional[Callable[[np.ndarray], Sequence]] = None) -> np.ndarray:
        """(B,) float64 log-rewards of a batch of B rows.

        Args:
            eligible: (B,) bool, the rows that may be scored.
            networks: ``networks(rows)`` -> the networks of those rows (rows: int array).
            keys: ``keys(rows)`` -> a cache key (bytes) per row; needed when ``cache_size > 0``.
            log_prior: ``log_prior(rows)`` -> (len(rows),) log prior; needed with ``add_prior``.
            conditions: ``conditions(rows)`` -> one condition per row, for a family of tasks
                (:mod:`gfn_crn.tasks.family`): handed to the scorer with the networks; the keys
                must then tell conditions apart (the env's hold the condition's bytes).
        """
        if self.scorer is None:
            raise CRNError("this env has no scorer: set env.scorer = a task (or callable(networks) -> "
                           "(log_reward, valid))")
        eligible = np.asarray(eligible, dtype=bool).reshape(-1)
        floor = self.floor
        out = np.full(eligible.shape[0], floor, dtype=np.float64)
        todo = np.flatnonzero(eligible)
        cache_keys = None
        if self.cache_size and len(todo):
            cache_keys = dict(zip(todo.tolist(), keys(todo)))
            rest = []
            for b in todo:
                v = self._cache.get(cache_keys[b])
                if v is None:
                    rest.append(b)
                else:
                    out[b] = v
                    self._cache.move_to_end(cache_keys[b])
                    self.cache_hits += 1
            todo = np.asarray(rest, dtype=np.int64)
        if len(todo):
            lr, valid = reward_and_validity(self.scorer, networks(todo),
                                            None if conditions is None else conditions(todo))
            lr = np.asarray(lr, dtype=np.float64).reshape(-1)
            valid = np.asarray(valid, dtype=bool).reshape(-1)
            if lr.shape != (len(todo),) or valid.shape != (len(todo),):
                raise CRNError(
                    f"task returned log_reward of shape {lr.shape} and valid of shape {valid.shape} "
                    f"for {len(todo)} networks"
                )
            good = valid & np.isfinite(lr)
            vals = np.where(good, lr, floor)
            if self.add_prior:
                vals = np.where(good, vals + log_prior(todo), vals)
                vals = np.where(np.isfinite(vals), vals, floor)
            out[todo] = vals
            self.calls += 1
            self.evaluated += len(todo)
            if cache_keys is not None:
                for b, v in zip(todo, vals):
                    self._cache[cache_keys[b]] = float(v)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def __repr__(self) -> str:
        return (f"EnvReward({self.scorer!r}, floor={self.floor:g}, add_prior={self.add_prior}, "
                f"cache_size={self.cache_size})")


__all__ = ["EnvReward", "DEFAULT_FLOOR"]
