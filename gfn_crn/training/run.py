"""A training run with its directory: config, metrics, checkpoints, archive, plots, report.

Layout of a run directory::

    config.toml          resolved settings (gfn-crn train --config config.toml reruns them)
    metrics.jsonl        one JSON row per iteration
    checkpoint.pt        latest checkpoint (written to a temporary file, then os.replace)
    checkpoint.prev.pt   the one before (kept so that a damaged latest one is never fatal)
    archive.json         best distinct topologies, one entry each (lossless networks)
    archive.txt          the same designs in the text format, best first
    samples.jsonl        designs drawn on-policy after training, with their losses
    designs/             the top designs as .crn, .json, .antimony and .xml (SBML)
    *.png                training curves, loss histogram, top designs, network diagram
    summary.json         the final figures (best loss, distinct good designs, diversity, timing)
    report.md            a readable summary with the top designs and the plots

Python::

    from gfn_crn.training.run import Run
    from gfn_crn.training.config import resolve_config
    run = Run.create(resolve_config("quick", overrides={"task": "rpa"}), "runs/rpa")
    run.train()            # progress bar; Ctrl-C stops after the current iteration and saves
    run.finish()           # final samples, plots, exports, report
    run = Run.load("runs/rpa", iterations=2000)   # resume (bit-for-bit under the same seed)
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..crn.errors import CRNError
from ..tasks.pool import TaskPool
from .archive import Archive, format_table
from .config import RunConfig, apply_overrides, build_library, load_config_file, to_toml
from .distributed import SINGLE, DistContext
from .tb import Trainer

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"
CHECKPOINT_VERSION = 1
#: metrics that depend on wall-clock time (everything else is reproducible bit-for-bit)
TIMING_KEYS = ("seconds", "sample_seconds", "elapsed")


REINFORCE_NOT_DISTRIBUTED = ("--algorithm reinforce runs in one process (the baseline has no data-parallel mode); "
                             "use --workers N to simulate on several cores")


class CheckpointError(CRNError):
    """A checkpoint is missing, unreadable or from another run."""


class _BatchRecorder:
    """Wraps a task: keeps each evaluated batch (networks and TaskResult) until collected."""

    def __init__(self, task):
        self.task = task
        self.batches: list = []

    def __getstate__(self):  # pragma: no cover - only the env's reward callable
        raise TypeError("the training run's reward recorder cannot be pickled")

    def __getattr__(self, name):
        return getattr(self.task, name)

    def __call__(self, networks):
        res = self.evaluate(networks)
        return res.log_reward, res.valid

    def evaluate(self, networks):
        res = self.task.evaluate(networks)
        self.batches.append((networks, res))
        return res

    def collect(self) -> list:
        out, self.batches = self.batches, []
        return out


def load_task_spec(spec: str):
    from ..tasks import load_task

    return load_task(spec)


def on_main(dist: DistContext, fn):
    """``fn()`` on rank 0 only, its value on every rank; an exception on rank 0 is raised (as a
    :class:`CRNError` naming it) on every rank, so no rank is left waiting in a collective."""
    if not dist.enabled:
        return fn()
    value, error = None, None
    if dist.is_main:
        try:
            value = fn()
        except Exception as e:  # noqa: BLE001 - re-raised on every rank just below
            error = (str(e) if isinstance(e, CRNError) else f"{type(e).__name__}: {e}") or type(e).__name__
    dist.agree(error)
    return dist.broadcast(value)


# ---------------------------------------------------------------------------- checkpoints
def save_checkpoint(path_dir: Path, state: dict) -> Path:
    """Write ``checkpoint.pt`` atomically; the previous one becomes ``checkpoint.prev.pt``."""
    path_dir = Path(path_dir)
    tmp = path_dir / (CHECKPOINT + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    cur = path_dir / CHECKPOINT
    if cur.exists():
        os.replace(cur, path_dir / PREVIOUS)
    os.replace(tmp, cur)
    return cur


def _read_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any failure to unpickle means a damaged file
        raise CheckpointError(f"{path} is unreadable ({type(e).__name__}: {_brief(e)})") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION or "trainer" not in state:
        raise CheckpointError(f"{path} is not a gfn-crn checkpoint (version {CHECKPOINT_VERSION})")
    return state


def _brief(e: BaseException, most: int = 160) -> str:
    """The first line of an exception's message, shortened at a sentence or word end (never
    mid-word) with "..." when it is longer than ``most`` characters."""
    lines = str(e).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if len(text) <= most:
        return text + (" ..." if len(lines) > 1 else "")
    cut = text[:most]
    end = cut.rfind(". ")
    if end >= most // 3:
        return cut[:end + 1] + " ..."
    return cut[:cut.rfind(" ")].rstrip(",;:") + " ..." if " " in cut else cut + "..."


def load_checkpoint(run_dir, warn=print) -> tuple[dict, Path]:
    """The latest usable checkpoint of ``run_dir`` and its path.

    ``checkpoint.pt`` is tried first; if it is missing or damaged, ``checkpoint.prev.pt`` is used
    and ``warn`` is called with a message saying why. If neither is usable a
    :class:`CheckpointError` names both problems.
    """
    run_dir = Path(run_dir)
    problems = []
    for name in (CHECKPOINT, PREVIOUS):
        p = run_dir / name
        if not p.exists():
            problems.append(f"{p} is missing")
            continue
        try:
            state = _read_checkpoint(p)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        if problems and warn is not None:
            warn(f"warning: {problems[0]}; resuming from the previous checkpoint {p} "
                 f"(iteration {state['trainer']['iteration']})")
        return state, p
    raise CheckpointError("no usable checkpoint: " + "; ".join(problems))


# ---------------------------------------------------------------------------- the run
class Run:
    """A run directory with its task, environment, trainer and archive (see the module doc).

    Candidates are scored by a :class:`~gfn_crn.tasks.TaskPool` (``config.workers`` processes,
    chunks of ``config.chunk_size``). With ``dist`` (one rank of a ``torchrun`` job, see
    :mod:`gfn_crn.training.distributed`) every rank trains on its own batches with averaged
    gradients; the archive merges all ranks' designs, and only rank 0 writes the directory.
    """

    def __init__(self, config: RunConfig, out, *, task=None, dist: DistContext = SINGLE):
        self.config = config.validate()
        self.dir = Path(out)
        self.dist = dist
        base = task if task is not None else load_task_spec(config.task)
        self.task = base
        self.pool = TaskPool(base, workers=config.workers, chunk_size=config.chunk_size)
        self.recorder = _BatchRecorder(self.pool)
        # what the sampler is scored by: every simulated candidate goes through the recorder
        # (the archive and the evaluation count see refinement candidates too)
        self.scorer = self.recorder
        if config.topology.enabled:
            from .topology import TopologyReward

            self.scorer = TopologyReward(self.recorder, rounds=config.topology.rounds,
                                         popsize=config.topology.popsize, sigma0=config.topology.sigma,
                                         seed=config.train.seed)
        self.library = build_library(config.library, base.template.species)
        from ..envs import CRNEnv

        self.env = CRNEnv(self.library, base.template, self.scorer, order=config.order,
                          max_reactions=config.max_reactions, min_reactions=config.min_reactions,
                          prior=getattr(base, "prior", None))
        self._threads = torch.get_num_threads()
        torch.set_num_threads(config.train.num_threads)
        if config.algorithm == "reinforce":
            if dist.enabled:
                raise CRNError(REINFORCE_NOT_DISTRIBUTED)
            from .reinforce import ReinforceTrainer

            self.trainer = ReinforceTrainer(self.env, config.reinforce_config(), task=self.scorer)
        else:
            self.trainer = Trainer(self.env, config.train_config(), dist=dist)
            if config.max_evaluations:  # anneal exploration over a share of the evaluation budget
                span = config.train.anneal_fraction * config.max_evaluations * (1 - config.refine.final_share)
                self.trainer.schedule = lambda it: config.train.policy_kwargs_at(
                    1.0 if span <= 0 else self.evaluations / span)
        self.local_search = None
        if config.search.every:
            from .topology import StructureLocalSearch

            self.local_search = StructureLocalSearch(
                self.env, self.scorer, every=config.search.every, top_k=config.search.top_k,
                neighbours=config.search.neighbours, destroy=config.search.destroy,
                max_visits=config.search.max_visits, seed=dist.rank_seed(config.train.seed))
        self.archive = Archive(config.archive_capacity, base.good_threshold)
        self.archive_refine = None
        if config.refine.every and dist.is_main:  # rank 0 refines; every rank archives its finds
            from .refine import ArchiveRefinement

            self.archive_refine = ArchiveRefinement(
                self.recorder, self.archive, every=config.refine.every, top_k=config.refine.top_k,
                rounds=config.refine.rounds, max_visits=config.refine.max_visits, seed=config.train.seed)
        self.final_refine_evaluations = 0
        self.elapsed = 0.0          # training seconds over all sessions of this run
        self.stopped_by_user = False
        self.paths: dict[str, Path] = {}
        self._evaluations_all = 0   # data-parallel jobs: the sum over the ranks at the last iteration

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, config: RunConfig, out, *, overwrite: bool = False, allow_nonempty: bool = False, task=None,
               dist: DistContext = SINGLE) -> "Run":
        """A new run in directory ``out``: new, empty, or a previous run (replaced only with
        ``overwrite``); a directory of other files only with ``allow_nonempty`` and never when
        one of them has the name of a file the run writes (:func:`gfn_crn.outputs.check_run_dir`)."""
        from ..outputs import check_run_dir, is_run_dir

        out = Path(out)
        if config.algorithm == "reinforce" and dist.enabled:
            raise CRNError(REINFORCE_NOT_DISTRIBUTED)

        def check():
            check_run_dir(out, overwrite=overwrite, allow_nonempty=allow_nonempty)

        def prepare():  # only once the run is built: bad settings leave no directory behind
            if is_run_dir(out):  # a previous run, and overwrite is set
                for name in (CHECKPOINT, PREVIOUS, "metrics.jsonl"):
                    (out / name).unlink(missing_ok=True)
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.toml").write_text(to_toml(config))
            (out / "metrics.jsonl").write_text("")

        on_main(dist, check)
        run = cls(config, out, task=task, dist=dist)
        try:
            on_main(dist, prepare)
        except BaseException:
            run.close()
            raise
        return run

    @classmethod
    def load(cls, out, *, iterations: Optional[int] = None, max_minutes: Optional[float] = None,
             workers: Optional[int] = None, warn=print, task=None, dist: DistContext = SINGLE,
             max_evaluations: Optional[int] = None) -> "Run":
        """Reopen a run from its directory (latest usable checkpoint); ``iterations`` extends it.

        ``workers`` changes the number of scoring processes (results do not depend on it). In a
        data-parallel job rank 0 reads the directory and sends the state to the other ranks."""
        out = Path(out)

        def read():
            if not out.is_dir():
                raise CRNError(f"run directory {out} does not exist" if not out.exists()
                               else f"{out} is a file, not a run directory")
            cfg_path = out / "config.toml"
            if not cfg_path.exists():
                raise CRNError(f"{out} is not a run directory (no config.toml)")
            config = load_config_file(cfg_path)
            state, path = load_checkpoint(out, warn=warn)
            _check_world_size(out, state, dist)  # before anything is rewritten
            if iterations is not None or max_minutes is not None or workers is not None or max_evaluations is not None:
                upd = {}
                if max_evaluations is not None:
                    upd["max_evaluations"] = int(max_evaluations)
                if iterations is not None:
                    upd["iterations"] = int(iterations)
                if max_minutes is not None:
                    upd["max_minutes"] = float(max_minutes)
                if workers is not None:
                    upd["workers"] = int(workers)
                config = apply_overrides(config, upd, "resume").validate()
                # the exploration schedule is part of the saved run: keep its length
                old = load_config_file(cfg_path)
                if max_evaluations is not None and old.max_evaluations and config.max_evaluations:
                    # annealing spans a share of the evaluation budget: keep its length in evaluations
                    span = old.train.anneal_fraction * old.max_evaluations * (1 - old.refine.final_share)
                    frac = span / (config.max_evaluations * (1 - config.refine.final_share))
                    config = apply_overrides(config, {"anneal_fraction": min(frac, 1.0)}, "resume")
                elif iterations is not None:
                    config = apply_overrides(config, {"anneal_fraction": _same_anneal(
                        old, config.train.n_iterations)}, "resume")
                (out / "config.toml").write_text(to_toml(config))
            return config, state, path

        config, state, path = on_main(dist, read)
        run = cls(config, out, task=task, dist=dist)
        run._restore(state)
        run.checkpoint_path = path
        return run

    def _restore(self, state: dict) -> None:
        _check_world_size(self.dir, state, self.dist)
        self.trainer.load_state_dict(state["trainer"])
        topology, search = state.get("topology"), state.get("structure_search")
        if "ranks" in state:
            mine = state["ranks"][self.dist.rank]
            self.trainer.load_local_state(mine)
            topology, search = mine.get("topology"), mine.get("structure_search")
            self._evaluations_all = sum(int(r["topology"]["evaluations"]) if "topology" in r
                                        else int(r["env_counters"].get("n_evaluated", 0)) for r in state["ranks"])
        if self.scorer is not self.recorder:
            if topology is None:
                raise CheckpointError(f"{self.dir}: the checkpoint has no topology-reward cache, but the run's "
                                      f"config sets topology_reward")
            self.scorer.load_state_dict(topology)
        if self.local_search is not None:
            if search is None:
                raise CheckpointError(f"{self.dir}: the checkpoint has no structure-search state, but the run's "
                                      f"config sets structure_search_every")
            self.local_search.load_state_dict(search)
        self.archive = Archive.from_state_dict(state["archive"])
        if self.archive_refine is not None:
            if "archive_refine" not in state:
                raise CheckpointError(f"{self.dir}: the checkpoint has no archive-refinement state, but the run's "
                                      f"config sets refine_every")
            self.archive_refine.archive = self.archive
            self.archive_refine.load_state_dict(state["archive_refine"])
        self.final_refine_evaluations = int(state.get("final_refine_evaluations", 0))
        self.elapsed = float(state.get("elapsed", 0.0))
        self.trainer.history = []
        if not self.dist.is_main:
            return
        # metrics rows written after this checkpoint are dropped: they will be written again
        mpath = self.dir / "metrics.jsonl"
        rows = read_metrics(mpath) if mpath.exists() else []
        keep = [r for r in rows if r["iteration"] < self.trainer.iteration]
        _atomic_text(mpath, "".join(json.dumps(r) + "\n" for r in keep))

    # ------------------------------------------------------------------ state
    @property
    def iteration(self) -> int:
        return self.trainer.iteration

    @property
    def evaluations(self) -> int:
        """Candidates scored during training (by all ranks of a data-parallel job)."""
        if self.dist.enabled:
            return self._evaluations_all
        return self._local_evaluations()

    def _local_evaluations(self) -> int:
        """Candidates this process has had simulated (with the topology reward: the refinement's)."""
        extra = self.final_refine_evaluations + (self.archive_refine.evaluations if self.archive_refine else 0)
        if self.scorer is not self.recorder:
            return int(self.scorer.evaluations) + extra
        return int(self.env.n_evaluated) + extra

    def _local_state(self) -> dict:
        state = self.trainer.local_state()
        state.update(self._search_state())
        return state

    def _search_state(self) -> dict:
        out = {}
        if self.scorer is not self.recorder:
            out["topology"] = self.scorer.state_dict()
        if self.local_search is not None:
            out["structure_search"] = self.local_search.state_dict()
        return out

    def state_dict(self) -> dict:
        """The checkpoint. In a data-parallel job every rank must call it (it gathers the ranks'
        own RNG states, replay buffers and counters under ``ranks``)."""
        state = {"version": CHECKPOINT_VERSION, "trainer": self.trainer.state_dict(),
                 "archive": self.archive.state_dict(), "elapsed": self.elapsed,
                 "config": asdict(self.config), "final_refine_evaluations": self.final_refine_evaluations}
        if self.archive_refine is not None:
            state["archive_refine"] = self.archive_refine.state_dict()
        state.update(self._search_state())
        if self.dist.enabled:
            state["world_size"] = self.dist.world_size
            state["ranks"] = self.dist.all_gather(self._local_state())
        return state

    def save(self) -> Optional[Path]:
        """Checkpoint plus the archive files (written by rank 0; every rank must call it)."""
        state = self.state_dict()
        if not self.dist.is_main:
            return None
        p = save_checkpoint(self.dir, state)
        self.archive.save_json(self.dir / "archive.json")
        self.archive.save_text(self.dir / "archive.txt")
        return p

    # ------------------------------------------------------------------ training
    def _record(self, rec: dict, t_iter: float) -> dict:
        mine = {"batches": [(nets, np.asarray(res.loss, dtype=float), np.asarray(res.valid, dtype=bool),
                             np.asarray(res.log_reward, dtype=float)) for nets, res in self.recorder.collect()],
                "evaluations": self._local_evaluations(),
                **{k: rec[k] for k in ("loss", "mean_log_reward", "max_log_reward", "valid_fraction", "mean_length")}}
        ranks = self.dist.all_gather(mine)  # every rank merges every rank's designs, in rank order
        self._evaluations_all = sum(g["evaluations"] for g in ranks)
        losses = []
        for r, g in enumerate(ranks):
            for nets, loss_, valid, log_reward in g["batches"]:
                self.archive.update(nets, loss_, valid, log_reward, iteration=rec["iteration"], found_by=r)
                losses.append(loss_)
        if len(ranks) > 1:
            rec = {**rec, **{k: float(np.mean([g[k] for g in ranks]))
                             for k in ("loss", "mean_log_reward", "valid_fraction", "mean_length")},
                   "max_log_reward": max(g["max_log_reward"] for g in ranks)}
        loss = np.concatenate(losses) if losses else np.array([np.nan])
        cap = getattr(self.task, "loss_cap", None)
        capped = np.minimum(loss, cap) if cap is not None else loss
        row = {
            "iteration": rec["iteration"],
            "evaluations": self._evaluations_all if self.dist.enabled else self.evaluations,
            "mean_loss": float(np.mean(capped)),  # losses above the task's loss_cap count as the cap
            "median_loss": float(np.median(loss)),
            "batch_best_loss": float(np.min(loss)),
            "best_loss": self.archive.best_loss if math.isfinite(self.archive.best_loss) else None,
            "distinct_good": self.archive.n_good,
            "archived": len(self.archive),
            "tb_loss": rec["loss"],
            "logZ": rec["logZ"],
            "mean_log_reward": rec["mean_log_reward"],
            "max_log_reward": rec["max_log_reward"],
            "valid_fraction": rec["valid_fraction"],
            "mean_length": rec["mean_length"],
        }
        if self.scorer is not self.recorder:  # this process's cache (each rank keeps its own)
            row["structures"] = len(self.scorer.cache)
            row["structure_repeats"] = self.scorer.hits / max(self.scorer.requests, 1)
        for k in ("temperature", "epsilon", "param_spread", "sf_bias", "param_epsilon"):
            if k in rec:
                row[k] = rec[k]
        row["seconds"] = t_iter
        row["sample_seconds"] = rec["sample_seconds"]
        row["elapsed"] = self.elapsed
        return row

    def train(self, progress: bool = True, handle_sigint: bool = True, stop_after: Optional[int] = None) -> "Run":
        """Train until ``config.iterations`` (or ``max_minutes``, or Ctrl-C, or ``stop_after``
        iterations of this call), checkpointing every ``checkpoint_every`` iterations and at the end."""
        cfg = self.config
        n_iterations = cfg.train.n_iterations
        target = n_iterations if stop_after is None else min(n_iterations, self.iteration + int(stop_after))
        stop = {"flag": False}
        old_handler = None
        if handle_sigint and threading.current_thread() is threading.main_thread():
            def on_sigint(signum, frame):
                if stop["flag"]:  # second Ctrl-C: give up at once
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    raise KeyboardInterrupt
                stop["flag"] = True
                if bar is not None:
                    bar.write("Ctrl-C: stopping after this iteration and saving (Ctrl-C again to abort)")

            old_handler = signal.signal(signal.SIGINT, on_sigint)
        bar = None
        main = self.dist.is_main
        if progress and main:
            from tqdm.auto import tqdm

            ws = f" x{self.dist.world_size} processes" if self.dist.enabled else ""
            by_evals = bool(cfg.max_evaluations)
            total = cfg.max_evaluations if by_evals else n_iterations
            bar = tqdm(total=total, initial=min(self.evaluations if by_evals else self.iteration, total),
                       desc=f"train {Path(cfg.task).stem}{ws}", unit="eval" if by_evals else "it", dynamic_ncols=True,
                       mininterval=0.1 if sys.stderr.isatty() else 30.0)  # logs: a line per 30 s, not per step
        torch.set_num_threads(cfg.train.num_threads)
        search_budget = int(round(cfg.max_evaluations * (1 - cfg.refine.final_share)))
        t_session = time.perf_counter()
        elapsed0 = self.elapsed
        mfile = open(self.dir / "metrics.jsonl", "a") if main else None
        try:
            last_saved = self.iteration
            while self.iteration < target:
                # every rank stops at the same iteration (a Ctrl-C or the clock on any rank)
                stop["flag"] = self.dist.any(stop["flag"])
                if stop["flag"]:
                    break
                if self.dist.any(bool(cfg.max_minutes and self.elapsed >= cfg.max_minutes * 60)):
                    if bar is not None:
                        bar.write(f"max_minutes={cfg.max_minutes:g} reached: stopping")
                    break
                if self.dist.any(bool(search_budget and self.evaluations >= search_budget)):
                    break
                t0 = time.perf_counter()
                rec = self.trainer.step()
                if self.local_search is not None:  # scored through the recorder: archived below
                    self.local_search(self.trainer.iteration - 1, rec, self.trainer.result())
                if self.archive_refine is not None:  # likewise
                    self.archive_refine(self.trainer.iteration - 1)
                dt = time.perf_counter() - t0
                self.elapsed = elapsed0 + (time.perf_counter() - t_session)
                row = self._record(rec, dt)
                if mfile is not None:
                    mfile.write(json.dumps(row) + "\n")
                    mfile.flush()
                if bar is not None:
                    bar.update(min(self.evaluations, bar.total) - bar.n if by_evals else 1)
                    bar.set_postfix_str(
                        f"loss {row['mean_loss']:.3g} best {_fmt(row['best_loss'])} logZ {_fmt(row['logZ'])} "
                        f"evals {row['evaluations']} good {row['distinct_good']}", refresh=False)
                if self.iteration % cfg.checkpoint_every == 0:
                    self.save()
                    last_saved = self.iteration
            if (cfg.refine.final_share > 0 and not stop["flag"] and self.final_refine_evaluations == 0
                    and self.evaluations >= search_budget):
                self._final_refinement(bar)
                last_saved = -1
            if self.dist.broadcast(self.iteration != last_saved or not (self.dir / CHECKPOINT).exists()):
                self.save()
            self.stopped_by_user = stop["flag"]
            if stop["flag"] and bar is not None:
                bar.write(f"stopped at iteration {self.iteration}; saved {self.dir / CHECKPOINT} "
                          f"(continue with: gfn-crn train --resume {self.dir})")
        finally:
            if mfile is not None:
                mfile.close()
            if bar is not None:
                bar.close()
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        return self

    def _final_refinement(self, bar=None) -> None:
        """Spend what is left of ``max_evaluations`` on a successive-halving rate refinement of the
        best archived designs (:func:`~gfn_crn.training.refine.refine_archive`); its designs are
        archived with the iteration after the last one (``summary.json`` reports its evaluations)."""
        from .refine import refine_archive

        budget = self.config.max_evaluations - self.evaluations
        if budget <= 0 or not len(self.archive) or not self.dist.is_main:
            return
        if bar is not None:
            bar.write(f"final refinement of the best archived designs: {budget} evaluations")
        t0 = time.perf_counter()
        best = {e.topology: (e.loss, e.network) for e in self.archive.top(128)}
        r = refine_archive(self.recorder, best, budget, seed=self.config.train.seed)
        self.final_refine_evaluations = max(r.evaluations, 1)
        batches = self.recorder.collect()
        for nets, res in batches:
            self.archive.update(nets, res.loss, res.valid, res.log_reward, iteration=self.iteration)
        self.elapsed += time.perf_counter() - t0

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, temperature: float = 1.0, batch: int = 256, **policy_kwargs):
        """Draw ``n`` designs from the current policy and evaluate them.

        Returns ``(networks, TaskResult)`` (the results of all batches concatenated). The
        training RNG state is left untouched (sampling uses a forked RNG), so sampling from a
        run does not change how it would continue.
        """
        from .sampling import sample_designs

        return sample_designs(self, n, temperature=temperature, batch=batch, **policy_kwargs)

    # ------------------------------------------------------------------ outputs
    def metrics(self) -> list[dict]:
        return read_metrics(self.dir / "metrics.jsonl")

    def finish(self, final_samples: Optional[int] = None, plots: bool = True, quiet: bool = False) -> dict:
        """Final on-policy samples, plots, exports of the top designs, summary.json, report.md."""
        from .report import finish_run

        return finish_run(self, final_samples=final_samples, plots=plots, quiet=quiet)

    def top_table(self, k: int = 10) -> str:
        return format_table(self.archive.top(k))

    def close(self) -> None:
        """Stop the scoring workers and restore the torch thread count."""
        self.pool.close()
        torch.set_num_threads(self._threads)


def _check_world_size(out, state: dict, dist: DistContext) -> None:
    saved = int(state.get("world_size", 1))
    if saved != dist.world_size:
        raise CheckpointError(
            f"{out} was trained by {saved} process(es) and is being resumed by {dist.world_size}: resume it "
            f"with the same number (torchrun --nproc_per_node={saved} ... or no torchrun for 1), so that every "
            f"process continues its own random stream")


def _same_anneal(old: RunConfig, new_iterations: int) -> float:
    """anneal_fraction for ``new_iterations`` that keeps the old run's annealing length."""
    if new_iterations <= 0:
        return old.train.anneal_fraction
    n_old = old.train.anneal_iterations
    return min(1.0, n_old / new_iterations) if n_old else 0.0


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_metrics(path) -> list[dict]:
    """Rows of a metrics.jsonl file (a torn last line from a crash is skipped)."""
    rows = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def run_training(config: RunConfig, out, *, progress: bool = True, finish: bool = True, quiet: bool = False,
                 overwrite: bool = False) -> Run:
    """Create a run in ``out``, train it, and (by default) write the final outputs."""
    run = Run.create(config, out, overwrite=overwrite)
    run.train(progress=progress)
    if finish:
        run.finish(quiet=quiet)
    return run


__all__ = ["Run", "run_training", "load_checkpoint", "save_checkpoint", "CheckpointError", "read_metrics",
           "TIMING_KEYS"]
