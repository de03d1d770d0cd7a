"""Rewards: the loss -> log-reward map and the scorers that turn networks into rewards.

* :class:`RewardMap` - ``beta``, ``cap``, ``alpha``, ``eps`` and the invalid floor derived from them;
* :class:`TaskResult` - what scoring a batch returns;
* :class:`Scorer` - the protocol (``evaluate(networks) -> TaskResult`` and ``task``), with
  :class:`Wrapper` the base of the composable scorers (:class:`BatchRecorder` here;
  :class:`~gfn_crn.rewards.pool.TaskPool`, :class:`~gfn_crn.rewards.evaluations.RecordingTask` and
  :class:`~gfn_crn.rewards.topology.TopologyReward` elsewhere).

This package depends on :mod:`gfn_crn.crn` and :mod:`gfn_crn.sim` only; tasks build on it.
"""

from .map import DEFAULT_MARGIN, RewardMap
from .recorder import BatchRecorder
from .result import TaskResult
from .scorer import Scorer, Wrapper, reward_and_validity, task_of

__all__ = ["RewardMap", "DEFAULT_MARGIN", "TaskResult", "Scorer", "Wrapper", "BatchRecorder", "reward_and_validity",
           "task_of"]
