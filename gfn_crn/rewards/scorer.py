"""Scorers: whatever turns a batch of networks into a :class:`~gfn_crn.rewards.TaskResult`.

A scorer has two members (the :class:`Scorer` protocol):

* ``evaluate(networks) -> TaskResult``;
* ``task``: the :class:`~gfn_crn.tasks.Task` whose candidates it scores (template, scenarios,
  prior, reward map, good threshold). A task is a scorer whose ``task`` is itself.

Scorers compose explicitly: each wrapper takes the scorer it wraps (``inner``) and states what
it adds; nothing is forwarded implicitly. The ones gfn_crn uses, innermost first:

* a :class:`~gfn_crn.tasks.Task` (simulates and scores);
* :class:`~gfn_crn.rewards.pool.TaskPool` (the same results, in chunks on worker processes);
* :class:`~gfn_crn.rewards.BatchRecorder` (hands every scored batch to a consumer, e.g. the
  run's archive) or :class:`~gfn_crn.rewards.evaluations.RecordingTask` (logs every evaluation
  for the diversity figures);
* :class:`~gfn_crn.rewards.topology.TopologyReward` (scores structures: the best loss of a
  short rate refinement, cached) and its :meth:`~gfn_crn.rewards.topology.TopologyReward.uncounted`
  view.

The environment takes a scorer (:class:`~gfn_crn.envs.CRNEnv`; its
:class:`~gfn_crn.rewards.env_reward.EnvReward` asks it), as do REINFORCE, random search and the
local searches. A plain callable ``f(networks) -> (log_reward, valid)`` still works as an
environment's reward (synthetic rewards in tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

import numpy as np

from .result import TaskResult

if TYPE_CHECKING:  # pragma: no cover
    from ..tasks.base import Task


@runtime_checkable
class Scorer(Protocol):
    """Scores batches of networks for a task (see the module doc)."""

    @property
    def task(self) -> "Task":  # pragma: no cover - protocol
        ...

    def evaluate(self, networks: Sequence) -> TaskResult:  # pragma: no cover - protocol
        ...


def task_of(scorer):
    """The task a scorer scores for (``scorer.task``; an object without one is its own task, as
    the duck-typed synthetic tasks of tests are)."""
    return getattr(scorer, "task", scorer)


def reward_and_validity(scorer, networks, conditions=None) -> tuple[np.ndarray, np.ndarray]:
    """``(log_reward, valid)`` of ``networks`` from a scorer, or from a plain reward callable.
    ``conditions`` (one per network, for a family of tasks: :mod:`gfn_crn.tasks.family`) is
    passed on as ``evaluate(networks, conditions=...)`` (``f(networks, conditions)``); without
    it the call is the unconditional one."""
    if conditions is not None:
        if hasattr(scorer, "evaluate"):
            r = scorer.evaluate(networks, conditions=conditions)
            return r.log_reward, r.valid
        return scorer(networks, conditions)
    if hasattr(scorer, "evaluate"):
        r = scorer.evaluate(networks)
        return r.log_reward, r.valid
    return scorer(networks)


class Wrapper:
    """Base of the scorers that wrap another: ``inner`` (the wrapped scorer) and ``task`` (its
    task), ``__call__`` giving ``(log_reward, valid)``; subclasses implement ``evaluate``."""

    def __init__(self, inner):
        if not hasattr(inner, "evaluate"):
            raise TypeError(f"{type(self).__name__} wraps a scorer (evaluate(networks)), got {type(inner).__name__}")
        self.inner = inner

    @property
    def task(self):
        """The task whose candidates are scored."""
        return task_of(self.inner)

    def evaluate(self, networks) -> TaskResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, networks):
        r = self.evaluate(networks)
        return r.log_reward, r.valid


class ConditionBound(Wrapper):
    """A conditional scorer seen at one condition: ``evaluate(networks)`` is
    ``inner.evaluate(networks, conditions=[condition] * len(networks))``. What scores at a
    condition with code that knows no conditions (a rate refinement of the topology reward) uses it."""

    def __init__(self, inner, condition):
        super().__init__(inner)
        self.condition = condition

    def evaluate(self, networks, conditions=None) -> TaskResult:
        if conditions is not None:
            raise TypeError("a ConditionBound scorer has its condition already")
        networks = list(networks)
        return self.inner.evaluate(networks, conditions=[self.condition] * len(networks))

    def __repr__(self) -> str:
        return f"ConditionBound({self.inner!r}, {self.condition!r})"


__all__ = ["Scorer", "Wrapper", "ConditionBound", "reward_and_validity", "task_of"]
