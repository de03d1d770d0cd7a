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

This module is the run itself (its training loop, state and outputs); its other jobs live beside
it: :mod:`~gfn_crn.training.wiring` (scorers, env, trainer, searches from the settings),
:mod:`~gfn_crn.training.checkpoint` (checkpoint files), :mod:`~gfn_crn.training.resume` (reading a
run directory back) and :mod:`~gfn_crn.training.metrics` (the rows of ``metrics.jsonl``).
"""

from __future__ import annotations

import json
import math
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
from .archive import Archive, format_table
from .checkpoint import (  # noqa: F401  (re-exported: the names this module had)
    CHECKPOINT,
    CHECKPOINT_VERSION,
    PREVIOUS,
    CheckpointError,
    check_world_size,
    load_checkpoint,
    save_checkpoint,
)
from .config import RunConfig, to_toml
from .distributed import SINGLE, DistContext
from .metrics import TIMING_KEYS, atomic_text, fmt, metrics_row, read_metrics  # noqa: F401
from .resume import read_run_dir
from .wiring import REINFORCE_NOT_DISTRIBUTED, load_task_spec, wire_run  # noqa: F401

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


# ---------------------------------------------------------------------------- the run
class Run:
    """A run directory with its task, environment, trainer and archive (see the module doc).

    Candidates are scored by a :class:`~gfn_crn.rewards.pool.TaskPool` (``config.workers`` processes,
    chunks of ``config.chunk_size``). With ``dist`` (one rank of a ``torchrun`` job, see
    :mod:`gfn_crn.training.distributed`) every rank trains on its own batches with averaged
    gradients; the archive merges all ranks' designs, and only rank 0 writes the directory.
    """

    def __init__(self, config: RunConfig, out, *, task=None, dist: DistContext = SINGLE):
        self.config = config.validate()
        self.dir = Path(out)
        self.dist = dist
        self._scored: list = []
        self._threads = torch.get_num_threads()
        scored = self._scored  # the recorder appends here (no reference back to the run: no cycle)
        phase = self._phase = {"now": "policy"}  # what is scoring now (archive provenance, archive.SOURCES)
        # a family's batches carry their conditions: the archive keeps them per (condition, topology)
        parts = wire_run(config, task, dist, on_batch=lambda nets, res, conditions=None: scored.append(
                             (nets, res, phase["now"], conditions)),
                         evaluations=lambda: self.evaluations)  # the schedule anneals over the budget
        self.task, self.pool, self.recorder, self.topology, self.scorer = (
            parts.task, parts.pool, parts.recorder, parts.topology, parts.scorer)
        self.library, self.env, self.trainer = parts.library, parts.env, parts.trainer
        self.local_search, self.archive, self.archive_refine = parts.local_search, parts.archive, parts.archive_refine
        self.final_refine_evaluations = 0
        self.final_updates_done = 0
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
            return read_run_dir(out, iterations=iterations, max_minutes=max_minutes, workers=workers, warn=warn,
                                dist=dist, max_evaluations=max_evaluations)

        config, state, path = on_main(dist, read)
        run = cls(config, out, task=task, dist=dist)
        run._restore(state)
        run.checkpoint_path = path
        return run

    def _restore(self, state: dict) -> None:
        check_world_size(self.dir, state, self.dist)
        self.trainer.load_state_dict(state["trainer"])
        topology, search = state.get("topology"), state.get("structure_search")
        if "ranks" in state:
            mine = state["ranks"][self.dist.rank]
            self.trainer.load_local_state(mine)
            topology, search = mine.get("topology"), mine.get("structure_search")
            # each rank's own count, refinements included (checkpoints of earlier versions: the scorer's)
            self._evaluations_all = sum(int(r["local_evaluations"]) if "local_evaluations" in r
                                        else int(r["topology"]["evaluations"]) if "topology" in r
                                        else int(r["env_counters"].get("n_evaluated", 0)) for r in state["ranks"])
        if self.topology is not None:
            if topology is None:
                raise CheckpointError(f"{self.dir}: the checkpoint has no topology-reward cache, but the run's "
                                      f"config sets topology_reward")
            self.topology.load_state_dict(topology)
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
        self.final_updates_done = int(state.get("final_updates_done", 0))
        self.elapsed = float(state.get("elapsed", 0.0))
        self.trainer.history = []
        if not self.dist.is_main:
            return
        # metrics rows written after this checkpoint are dropped: they will be written again
        mpath = self.dir / "metrics.jsonl"
        rows = read_metrics(mpath) if mpath.exists() else []
        keep = [r for r in rows if r["iteration"] < self.trainer.iteration]
        atomic_text(mpath, "".join(json.dumps(r) + "\n" for r in keep))

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
        if self.topology is not None:
            return int(self.topology.evaluations) + extra
        return int(self.env.n_evaluated) + extra

    def _local_state(self) -> dict:
        state = self.trainer.local_state()
        state.update(self._search_state())
        state["local_evaluations"] = self._local_evaluations()
        return state

    def _search_state(self) -> dict:
        out = {}
        if self.topology is not None:
            out["topology"] = self.topology.state_dict()
        if self.local_search is not None:
            out["structure_search"] = self.local_search.state_dict()
        return out

    def state_dict(self) -> dict:
        """The checkpoint. In a data-parallel job every rank must call it (it gathers the ranks'
        own RNG states, replay buffers and counters under ``ranks``)."""
        state = {"version": CHECKPOINT_VERSION, "trainer": self.trainer.state_dict(),
                 "archive": self.archive.state_dict(), "elapsed": self.elapsed,
                 "config": asdict(self.config), "final_refine_evaluations": self.final_refine_evaluations,
                 "final_updates_done": self.final_updates_done}
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
    def _take_scored(self) -> list:
        """The batches scored since the last call (networks, TaskResult), oldest first."""
        out = list(self._scored)
        self._scored.clear()
        return out

    def _record(self, rec: dict, t_iter: float) -> dict:
        mine = {"batches": [(nets, np.asarray(res.loss, dtype=float), np.asarray(res.valid, dtype=bool),
                             np.asarray(res.log_reward, dtype=float), src, conds)
                            for nets, res, src, conds in self._take_scored()],
                "evaluations": self._local_evaluations(),
                **{k: rec[k] for k in ("loss", "mean_log_reward", "max_log_reward", "valid_fraction", "mean_length")}}
        ranks = self.dist.all_gather(mine)  # every rank merges every rank's designs, in rank order
        self._evaluations_all = sum(g["evaluations"] for g in ranks)
        losses = []
        for r, g in enumerate(ranks):
            for nets, loss_, valid, log_reward, src, conds in g["batches"]:
                self.archive.update(nets, loss_, valid, log_reward, iteration=rec["iteration"], found_by=r,
                                    source=src, conditions=conds)
                losses.append(loss_)
        if len(ranks) > 1:
            rec = {**rec, **{k: float(np.mean([g[k] for g in ranks]))
                             for k in ("loss", "mean_log_reward", "valid_fraction", "mean_length")},
                   "max_log_reward": max(g["max_log_reward"] for g in ranks)}
        loss = np.concatenate(losses) if losses else np.array([np.nan])
        return metrics_row(rec, loss, evaluations=self._evaluations_all if self.dist.enabled else self.evaluations,
                           archive=self.archive, loss_cap=self.task.loss_cap, topology=self.topology, t_iter=t_iter,
                           elapsed=self.elapsed)

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
        search_budget = cfg.training_budget()
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
                # every rank holds the job's count (gathered each iteration): no collective needed
                if search_budget and self.evaluations >= search_budget:
                    break
                t0 = time.perf_counter()
                self._phase["now"] = "policy"
                rec = self.trainer.step()
                if self.local_search is not None:  # scored through the recorder: archived below
                    self._phase["now"] = "search"
                    self.local_search(self.trainer.iteration - 1, rec, self.trainer.result())
                if self.archive_refine is not None:  # likewise
                    self._phase["now"] = "archive_refine"
                    self.archive_refine(self.trainer.iteration - 1)
                self._phase["now"] = "policy"
                dt = time.perf_counter() - t0
                self.elapsed = elapsed0 + (time.perf_counter() - t_session)
                row = self._record(rec, dt)
                if mfile is not None:
                    mfile.write(json.dumps(row) + "\n")
                    mfile.flush()
                if bar is not None:
                    bar.update(min(self.evaluations, bar.total) - bar.n if by_evals else 1)
                    bar.set_postfix_str(
                        f"loss {row['mean_loss']:.3g} best {fmt(row['best_loss'])} logZ {fmt(row['logZ'])} "
                        f"evals {row['evaluations']} good {row['distinct_good']}", refresh=False)
                if self.iteration % cfg.checkpoint_every == 0:
                    self.save()
                    last_saved = self.iteration
            finished = not stop["flag"] and ((search_budget and self.evaluations >= search_budget)
                                             or self.iteration >= n_iterations)
            if finished and self.final_updates_done < self.final_updates_due():
                self._final_updates(bar)
                last_saved = -1
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

    def final_updates_due(self) -> int:
        """The policy updates of :meth:`_final_updates`: ``final_update_ratio`` per evaluation of the
        budget (``max_evaluations``; without one, of the evaluations spent), none for a run that is
        not trajectory balance or has no replay buffer."""
        if self.config.algorithm != "tb" or getattr(self.trainer, "buffer", None) is None:
            return 0
        return int(round(self.config.train.final_update_ratio * (self.config.max_evaluations or self.evaluations)))

    def buffer_log_reward_mass(self) -> float:
        """log of the summed reward of the replay buffer's distinct designs (terminal states); in a
        data-parallel job, of every rank's buffer (so every rank sets the same log Z)."""
        c = self.trainer.buffer.training_container
        term = c.terminating_states.tensor.detach().cpu().numpy()
        _, first = np.unique(term.reshape(len(term), -1), axis=0, return_index=True)
        mine = float(torch.logsumexp(c.log_rewards.detach().double()[torch.as_tensor(np.sort(first))], 0))
        return float(torch.logsumexp(torch.tensor(self.dist.all_gather(mine), dtype=torch.float64), 0))

    def _final_updates(self, bar=None) -> None:
        """:meth:`final_updates_due` trajectory-balance updates on the replay buffer once the search
        is over (no new simulations): each on ``batch_size`` trajectories drawn from the buffer,
        which (prioritised) holds the best designs sampled and replayed by the searches. Trajectory
        balance is off-policy, so this fits the policy to the reward on those designs: its own
        samples then propose them. log Z is set so that the fitted policy puts the share
        ``final_buffer_share`` of its probability on the buffer's designs, and held there.
        Recorded in the checkpoint, so a resumed run does not repeat it."""
        buffer = getattr(self.trainer, "buffer", None)
        n = self.final_updates_due() - self.final_updates_done
        # every rank of a data-parallel job takes the same decision (the updates average gradients)
        if self.dist.any(buffer is None or n <= 0 or len(buffer) < self.config.train.batch_size):
            return
        if bar is not None:
            bar.write(f"final policy updates on the replay buffer: {n}")
        t0 = time.perf_counter()
        self._phase["now"] = "policy"
        # log Z is set, then held: the buffer alone does not identify it (any log Z fits the buffer's
        # trajectories as well, with their probabilities scaled to match); left free it drifted up and
        # took probability from the buffer's designs, and the value training left (from -5 to +4 on
        # rpa) puts an arbitrary share on them. Set to log(sum of the buffer's distinct rewards / q),
        # the fitted policy puts the share q = final_buffer_share of its probability on the buffer's
        # designs, in proportion to their rewards, and leaves 1 - q to what it has not seen
        gfn = self.trainer.gflownet
        if isinstance(gfn.logZ, torch.Tensor):   # a conditional log Z (task families) is held as trained
            with torch.no_grad():
                gfn.logZ.fill_(self.buffer_log_reward_mass() - math.log(self.config.train.final_buffer_share))
        logz = {id(p) for p in gfn.logz_parameters()}
        frozen = [(g, g["lr"]) for g in self.trainer.optimizer.param_groups if any(id(p) in logz for p in g["params"])]
        try:
            for g, _ in frozen:
                g["lr"] = 0.0
            for _ in range(n):
                self.trainer._update(buffer.sample(self.config.train.batch_size))
        finally:
            for g, lr in frozen:
                g["lr"] = lr
        self.final_updates_done += n
        self.elapsed += time.perf_counter() - t0

    def _final_refinement(self, bar=None) -> None:
        """Spend what is left of ``max_evaluations`` on a successive-halving rate refinement of the
        best archived designs (:func:`~gfn_crn.rewards.refine.refine_archive`); its designs are
        archived with the iteration after the last one (``summary.json`` reports its evaluations)."""
        budget = self.config.max_evaluations - self.evaluations
        if budget <= 0 or not len(self.archive) or not self.dist.is_main:
            return
        if bar is not None:
            bar.write(f"final refinement of the best archived designs: {budget} evaluations")
        t0 = time.perf_counter()
        if getattr(self.env, "conditions", None) is not None:  # a family: per condition (family_refine.py)
            from .family_refine import refine_per_condition

            self._phase["now"] = "final_refine"
            try:
                r = refine_per_condition(self.recorder, self.archive, self.env.conditions, budget,
                                         seed=self.config.train.seed)
            finally:
                self._phase["now"] = "policy"
        else:
            r = self._refine_archive_top(budget)
        if r is None:
            self.elapsed += time.perf_counter() - t0
            return
        self.final_refine_evaluations = max(r.evaluations, 1)
        if self.dist.enabled:  # the job's count (rank 0 writes the summary) includes this rank's refinement
            self._evaluations_all += self.final_refine_evaluations
        batches = self._take_scored()
        for nets, res, src, conds in batches:
            self.archive.update(nets, res.loss, res.valid, res.log_reward, iteration=self.iteration, source=src,
                                conditions=conds)
        self.elapsed += time.perf_counter() - t0

    def _refine_archive_top(self, budget: int):
        """The final refinement of a single-target run: ``refine_archive`` over the 128 best
        archived designs (that pass the screen); None when nothing is left to refine."""
        from ..rewards.refine import refine_archive

        top = self.archive.top(128 if self.topology is None or not self.topology.screening else 256)
        if self.topology is not None and self.topology.screening:  # only structures that pass the screen
            ok = self.topology.passes([e.network for e in top], [e.loss for e in top])
            top = [e for e, p in zip(top, ok) if p][:128]
            budget = self.config.max_evaluations - self.evaluations
            if budget <= 0 or not top:  # nothing a refinement could make verifiable: the budget stays unspent
                return None
        best = {e.topology: (e.loss, e.network) for e in top}
        self._phase["now"] = "final_refine"
        try:
            return refine_archive(self.recorder, best, budget, seed=self.config.train.seed)
        finally:
            self._phase["now"] = "policy"

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, temperature: float = 1.0, batch: int = 256, **policy_kwargs):
        """Draw ``n`` designs from the current policy and evaluate them (a family's run:
        ``condition="g=1.3"`` or a mapping, else one condition drawn per design).

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
