"""Wiring a run: the scorer chain, the environment, the trainer and the searches, from its settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch

from ..crn.errors import CRNError
from ..rewards.recorder import BatchRecorder
from ..rewards.scorer import task_of
from ..rewards.pool import TaskPool
from .archive import Archive
from .config import RunConfig, build_library
from .distributed import DistContext
from .tb import Trainer

REINFORCE_NOT_DISTRIBUTED = ("--algorithm reinforce runs in one process (the baseline has no data-parallel mode); "
                             "use --workers N to simulate on several cores")


def load_task_spec(spec: str):
    from ..tasks import load_task

    return load_task(spec)


@dataclass
class RunParts:
    """What :func:`wire_run` builds (a :class:`~gfn_crn.training.run.Run` keeps each as an attribute)."""

    task: Any                 # the task (facts: template, prior, reward map, threshold)
    pool: TaskPool            # simulates, in chunks on worker processes
    recorder: BatchRecorder   # hands every scored batch to on_batch
    topology: Optional[Any]   # the topology reward, or None
    scorer: Any               # what the env and the trainer score with (topology or recorder)
    library: Any
    env: Any
    trainer: Any              # Trainer (tb) or ReinforceTrainer
    local_search: Optional[Any]
    archive: Archive
    archive_refine: Optional[Any]


def cheap_screen(task) -> Callable:
    """The topology reward's screen: the task's verification checks that need no new scenario
    (bounded and settled, or persisting, over the long horizon; the off-grid and step checks
    stay for the final verification), as ``screen(networks, losses) -> passed``."""
    from dataclasses import replace

    from ..tasks.verification import VerifySettings
    from ..verify.checks import verify_batch

    settings = replace(getattr(task, "verify_settings", None) or VerifySettings(), off_grid=False, step=False)

    def screen(networks, losses=None):
        out = verify_batch(task, networks, settings=settings, losses=losses)
        return np.asarray([all(c.passed for c in v.checks) and v.valid for v in out], dtype=bool)

    return screen


def check_family_config(config: RunConfig, family) -> None:
    """A family run trains with trajectory balance on the conditional reward; what scores
    without a condition (the structure searches, the archive refinements, the screen) and the
    REINFORCE baseline are refused, naming the setting."""
    from .config import FAMILY_OFF

    if config.algorithm != "tb":
        raise CRNError(f"task {family.name} is a family of tasks ({family.conditions.describe()}): "
                       "only --algorithm tb trains one")
    on = [k for k in FAMILY_OFF if config.get(k)]
    if on:
        raise CRNError(f"task {family.name} is a family of tasks ({family.conditions.describe()}): "
                       f"{', '.join(f'{k} = {config.get(k)}' for k in on)} not available for families (set 0)")


def wire_run(config: RunConfig, task, dist: DistContext, on_batch: Callable,
             evaluations: Optional[Callable[[], int]] = None) -> RunParts:
    """Build a run's parts, in this order (it fixes the random streams): the scorers, innermost
    first (the pool simulates; the recorder hands every simulated batch - sampled designs,
    refinement and local-search candidates alike - to ``on_batch``; the topology reward, optional,
    scores structures), the library and env, the torch thread count, the trainer, the structure
    local search, the archive and its refinement. ``task``: a task, a scorer around one, or None
    (``config.task`` is loaded). ``evaluations``: the run's evaluation count so far, which the TB
    trainer's exploration schedule follows in a run with a budget (:meth:`RunConfig.exploration_schedule`)."""
    given = task if task is not None else load_task_spec(config.task)  # a task, or a scorer around one
    base = task_of(given)
    pool = TaskPool(given, workers=config.workers, chunk_size=config.chunk_size)
    recorder = BatchRecorder(pool, on_batch=on_batch)
    topology = None
    scorer = recorder
    if config.topology.enabled:
        from ..rewards.topology import TopologyReward

        topology = TopologyReward(recorder, rounds=config.topology.rounds, popsize=config.topology.popsize,
                                  sigma0=config.topology.sigma, seed=config.train.seed,
                                  screen=cheap_screen(base) if config.topology.screen_below > 0 else None,
                                  screen_below=config.topology.screen_below,
                                  promote_below=config.topology.promote_below,
                                  promote_rounds=config.topology.promote_rounds,
                                  promote_cap=config.topology.promote_cap)
        scorer = topology
    library = build_library(config.library, base.template.species)
    from ..envs import CRNEnv

    conditions = getattr(base, "conditions", None)  # a family of tasks (gfn_crn.tasks.family)
    if conditions is not None:
        check_family_config(config, base)
    env = CRNEnv(library, base.template, scorer, order=config.order, max_reactions=config.max_reactions,
                 min_reactions=config.min_reactions, prior=getattr(base, "prior", None), conditions=conditions)
    torch.set_num_threads(config.train.num_threads)
    if config.algorithm == "reinforce":
        if dist.enabled:
            raise CRNError(REINFORCE_NOT_DISTRIBUTED)
        from .reinforce import ReinforceTrainer

        trainer = ReinforceTrainer(env, config.reinforce_config(), task=scorer)
    else:
        trainer = Trainer(env, config.train_config(), dist=dist,
                          schedule=config.exploration_schedule(evaluations or (lambda: 0)))
    local_search = None
    if config.search.every or config.search.swap_every:
        from .local_search import StructureLocalSearch

        local_search = StructureLocalSearch(
            env, scorer, every=config.search.every, top_k=config.search.top_k,
            neighbours=config.search.neighbours, destroy=config.search.destroy,
            max_visits=config.search.max_visits, seed=dist.rank_seed(config.train.seed),
            swap_every=config.search.swap_every, swap_replay=config.search.swap_replay,
            swap_pool=config.search.swap_pool, swap_max=config.search.swap_max)
    archive = Archive(config.archive_capacity, base.good_threshold)
    archive_refine = None
    if config.refine.every and dist.is_main:  # rank 0 refines; every rank archives its finds
        from ..rewards.refine import ArchiveRefinement

        archive_refine = ArchiveRefinement(
            recorder, archive, every=config.refine.every, top_k=config.refine.top_k,
            rounds=config.refine.rounds, max_visits=config.refine.max_visits, seed=config.train.seed,
            admit=topology.passes if topology is not None and topology.screening else None)
    return RunParts(base, pool, recorder, topology, scorer, library, env, trainer, local_search, archive,
                    archive_refine)


__all__ = ["RunParts", "wire_run", "check_family_config", "load_task_spec", "REINFORCE_NOT_DISTRIBUTED"]
