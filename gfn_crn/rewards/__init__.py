"""Rewards: scoring and search. Everything that turns networks into losses and log-rewards, and
the searches over rates that scoring uses.

* :class:`RewardMap` (``map.py``) - ``beta``, ``cap``, ``alpha``, ``eps`` and the invalid floor
  derived from them;
* :class:`TaskResult` (``result.py``) - what scoring a batch returns;
* :class:`Scorer` (``scorer.py``) - the protocol (``evaluate(networks) -> TaskResult`` and
  ``task``), with :class:`Wrapper` the base of the composable scorers:

  - :class:`TaskPool` (``pool.py``) - a task's candidates scored in fixed chunks on worker
    processes;
  - :class:`BatchRecorder` (``recorder.py``) - hands every scored batch to a consumer (a run's
    archive);
  - :class:`RecordingTask` (``evaluations.py``) - logs every evaluation for the diversity
    figures (also there: :func:`rank_order`, the one ranking of designs);
  - :class:`TopologyReward` and its :class:`UncountedView` (``topology.py``) - scores
    structures by the best loss of a short rate refinement (cached);

* :class:`EnvReward` (``env_reward.py``) - what an environment asks for the log-rewards of its
  terminal states: the floor, the optional prior term, the reward cache;

* rate refinement (``refine.py``): :func:`refine`, :func:`refine_archive`,
  :class:`ArchiveRefinement`, and the helpers :func:`log_rates`, :func:`with_log_rates`,
  :func:`losses_or_inf`; a network's structure key and seed (``structure.py``).

This package depends on :mod:`gfn_crn.crn` and :mod:`gfn_crn.sim` only (``tests/test_imports.py``
checks the package order). A task is what a scorer wraps: it is passed in as an object (duck
typing: ``evaluate``, ``task``, ``prior``, ``reward``, ...), never imported from
:mod:`gfn_crn.tasks`, which builds on this package.
"""

from .env_reward import EnvReward
from .evaluations import RecordingTask, rank_order
from .map import DEFAULT_MARGIN, RewardMap
from .pool import TaskPool, WorkerCrashError
from .recorder import BatchRecorder
from .refine import ArchiveRefinement, RefineResult, log_rates, losses_or_inf, refine, refine_archive, with_log_rates
from .result import TaskResult
from .scorer import Scorer, Wrapper, reward_and_validity, task_of
from .structure import structure_key, structure_seed
from .topology import TopologyReward, UncountedView

__all__ = ["RewardMap", "DEFAULT_MARGIN", "TaskResult", "Scorer", "Wrapper", "BatchRecorder", "reward_and_validity",
           "task_of", "TaskPool", "WorkerCrashError", "RecordingTask", "rank_order", "TopologyReward", "UncountedView",
           "refine", "refine_archive", "RefineResult", "ArchiveRefinement", "log_rates", "with_log_rates",
           "losses_or_inf", "structure_key", "structure_seed", "EnvReward"]
