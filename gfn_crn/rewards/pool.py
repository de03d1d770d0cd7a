"""Parallel reward evaluation: a task's candidates scored in fixed chunks on worker processes.

Simulation dominates the cost of a training step. :class:`TaskPool` wraps a task and scores a
batch of networks in chunks of ``chunk_size`` networks, on ``workers`` processes that each
received the task once, at start-up (batches travel as lists of networks, not environments).

* **Same results for any number of workers.** A batch is always cut into the same chunks, and
  ``workers=1`` scores those chunks one after the other in this process, so ``workers=N`` returns
  exactly (bit for bit) what ``workers=1`` returns. A different ``chunk_size`` is a different
  computation: for ODE tasks the vectorised simulator's round-off depends slightly on which
  networks share a call (losses agree to about 1e-12), and stochastic (SSA) tasks seed their
  random numbers per call, so their draws, and losses, change with the chunking.
* **Crashes are retried, never dropped.** When a worker process dies (killed, out of memory, a
  segfault in a native library), the pool reports it through ``warn``, starts fresh workers and
  scores again every chunk whose result had not come back; after ``max_retries`` consecutive
  failures of the same batch it raises :class:`WorkerCrashError`. An ordinary exception raised by
  the task inside a worker is not a crash: it is raised here, with the worker's traceback.
  Workers exit by themselves when this process dies (even by SIGKILL), so none is left behind.

``pool.evaluate(networks)`` returns a :class:`~gfn_crn.tasks.TaskResult` without trajectories
(``sim`` is None and ``details`` empty: only losses, rewards and validity travel back);
A pool is a :class:`~gfn_crn.rewards.Scorer`: it stands wherever a task scores candidates (an
environment's reward, REINFORCE, the topology reward); ``pool.task`` is the task (template,
prior, reward map, ...); nothing else is forwarded.

    with TaskPool(load_task("rpa"), workers=2) as pool:
        env = CRNEnv(library, pool.task.template, pool)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Optional, Sequence

import numpy as np

from ..crn.errors import CRNError
from .result import TaskResult
from .scorer import Wrapper

#: networks per chunk unless told otherwise: with the default batch of 64, two workers can share a
#: batch. The price in one process: on ``rpa``, 32 networks per simulator call cost 0-10% more per
#: network than 64 (two measurements on the shared 2-core box), 16 cost 20-45% more.
DEFAULT_CHUNK_SIZE = 32

_FIELDS = ("loss", "log_reward", "valid", "reason", "log_prior", "scenario_loss")


class WorkerCrashError(CRNError):
    """Worker processes kept dying while scoring the same batch."""


# ------------------------------------------------------------------ worker side
_WORKER_TASK = None


def _watch_parent() -> None:
    parent = mp.parent_process()
    if parent is not None:
        from multiprocessing.connection import wait

        wait([parent.sentinel])
        os._exit(1)


def _init_worker(task_bytes: bytes) -> None:
    global _WORKER_TASK
    # the task arrives pickled as bytes: spawn's start-up message then always unpickles, and a
    # task that cannot be loaded here fails in this initializer (a broken pool, reported) instead
    # of leaving the parent blocked on a half-read pipe
    _WORKER_TASK = pickle.loads(task_bytes)
    threading.Thread(target=_watch_parent, daemon=True).start()
    # Ctrl-C is the parent's business (a training run finishes its batch, then saves); SIGTERM
    # must stop a worker even if the parent had it blocked or ignored
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:  # the simulator is numpy; keep any torch import in the worker to one thread
        import torch

        torch.set_num_threads(1)
    except Exception:  # pragma: no cover - torch is a dependency
        pass


def _score(task, networks, conditions=None) -> dict:
    r = task.evaluate(networks) if conditions is None else task.evaluate(networks, conditions=conditions)
    return {k: np.asarray(getattr(r, k)) for k in _FIELDS}


def _score_in_worker(networks, conditions=None) -> dict:
    return _score(_WORKER_TASK, networks, conditions)


def _stderr_warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _discard(ex: ProcessPoolExecutor) -> None:
    """Shut a broken pool down for good. Its surviving workers are killed first (SIGKILL):
    Python 3.11 joins them without terminating them, and a worker that inherited a blocked
    SIGTERM would keep that join, and this process, waiting forever."""
    for p in list((getattr(ex, "_processes", None) or {}).values()):
        try:
            p.kill()
        except Exception:  # pragma: no cover - already gone
            pass
    try:
        ex.shutdown(wait=True, cancel_futures=True)
    except Exception:  # pragma: no cover - a broken pool may refuse politely
        pass


# ------------------------------------------------------------------ the pool
class TaskPool(Wrapper):
    """Score a task's candidates in fixed chunks on ``workers`` processes (see the module doc).

    Args:
        task: a :class:`~gfn_crn.tasks.Task` (a scorer that pickles: ``evaluate(networks) ->
            TaskResult`` and ``task``); kept as ``inner``.
        workers: processes (1: score the chunks in this process, no pool).
        chunk_size: networks per chunk (fixes the result bit for bit, whatever ``workers`` is).
        max_retries: fresh starts of the workers allowed for one batch after crashes.
        start_method: ``spawn`` (default, safe with torch's threads), ``forkserver`` or ``fork``.
        warn: called with a message for every crash (default: print to stderr).
    """

    def __init__(self, task, workers: int = 1, chunk_size: int = DEFAULT_CHUNK_SIZE, max_retries: int = 2,
                 start_method: str = "spawn", warn: Optional[Callable[[str], None]] = None):
        if isinstance(task, TaskPool):
            raise CRNError("TaskPool: the task is already a TaskPool")
        if not hasattr(task, "evaluate"):
            raise CRNError(f"TaskPool needs a task with evaluate(networks), got {type(task).__name__}")
        for name, v, lo in (("workers", workers, 1), ("chunk_size", chunk_size, 1), ("max_retries", max_retries, 0)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise CRNError(f"TaskPool: {name} must be an integer >= {lo}, got {v!r}")
        if start_method not in mp.get_all_start_methods():
            raise CRNError(f"TaskPool: start_method {start_method!r} is not available here "
                           f"(available: {', '.join(mp.get_all_start_methods())})")
        super().__init__(task)
        self.workers = int(workers)
        self.chunk_size = int(chunk_size)
        self.max_retries = int(max_retries)
        self.start_method = start_method
        self.warn = warn or _stderr_warn
        self.crashes = 0          # worker-pool failures seen so far
        self.retried_chunks = 0   # chunks scored again after a failure
        self._executor: Optional[ProcessPoolExecutor] = None

    # -------------------------------------------------------------- lifecycle
    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context(self.start_method),
                                                 initializer=_init_worker, initargs=(pickle.dumps(self.inner),))
        return self._executor

    def close(self) -> None:
        """Stop the worker processes (a later call starts new ones)."""
        ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "TaskPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort at interpreter exit
        try:
            ex = self._executor
            if ex is not None:
                ex.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass

    def __getstate__(self):
        raise TypeError("a TaskPool holds worker processes and cannot be pickled; pickle its .inner")

    def __repr__(self) -> str:
        return f"TaskPool({self.inner!r}, workers={self.workers}, chunk_size={self.chunk_size})"

    # -------------------------------------------------------------- scoring
    def chunks(self, n: int) -> list[slice]:
        """The chunks a batch of ``n`` networks is cut into (independent of ``workers``)."""
        return [slice(i, min(i + self.chunk_size, n)) for i in range(0, n, self.chunk_size)]

    def evaluate(self, networks: Sequence, conditions=None) -> TaskResult:
        """Losses, log-rewards and validity of a batch (``sim`` None, ``details`` empty);
        ``conditions``: one per network, for a family of tasks (cut into the same chunks)."""
        networks = list(networks)
        if not networks:
            raise CRNError("evaluate needs at least one network")
        networks = self.task.check_networks(networks)  # bad input is reported here, not from a worker
        parts = [networks[s] for s in self.chunks(len(networks))]
        cparts = [None] * len(parts) if conditions is None else [list(conditions)[s] for s in self.chunks(len(networks))]
        if self.workers == 1:
            results = [_score(self.inner, p, c) for p, c in zip(parts, cparts)]
        else:
            results = self._score_parallel(parts, cparts)
        out = {k: np.concatenate([r[k] for r in results]) for k in _FIELDS}
        return TaskResult(out["loss"], out["log_reward"], out["valid"], out["reason"], out["log_prior"],
                          out["scenario_loss"], None, {})

    def _score_parallel(self, parts: list[list], cparts: Optional[list] = None) -> list[dict]:
        cparts = cparts or [None] * len(parts)
        results: list[Optional[dict]] = [None] * len(parts)
        failures = 0
        while True:
            todo = [i for i, r in enumerate(results) if r is None]
            if not todo:
                return results  # type: ignore[return-value]
            ex = self._start()
            futures = {}
            try:
                for i in todo:
                    futures[i] = (ex.submit(_score_in_worker, parts[i]) if cparts[i] is None
                                  else ex.submit(_score_in_worker, parts[i], cparts[i]))
            except BrokenProcessPool:
                pass
            broken = None
            try:
                for i, fut in futures.items():
                    try:
                        results[i] = fut.result()
                    except BrokenProcessPool as e:
                        broken = e
            except BaseException:  # the task raised (or Ctrl-C): drop the chunks not yet started
                for fut in futures.values():
                    fut.cancel()
                raise
            if len(futures) < len(todo) and broken is None:
                broken = BrokenProcessPool("the pool broke while chunks were being submitted")
            if broken is None:
                continue
            failures += 1
            self.crashes += 1
            lost = [i for i in todo if results[i] is None]
            self._executor = None
            _discard(ex)
            sizes = sum(len(parts[i]) for i in lost)
            if failures > self.max_retries:
                raise WorkerCrashError(
                    f"worker processes died {failures} times while scoring one batch ({sizes} networks in "
                    f"{len(lost)} chunks not scored; last error: {broken}); giving up after max_retries="
                    f"{self.max_retries}. If they die at start-up, the task may not load in a fresh "
                    f"process (e.g. a task class defined in __main__): see the workers' messages above") from broken
            self.retried_chunks += len(lost)
            self.warn(f"a reward worker process died ({broken}); restarting {self.workers} workers and "
                      f"scoring {sizes} networks in {len(lost)} chunks again (attempt {failures + 1} of "
                      f"{self.max_retries + 1}, pid {os.getpid()})")


__all__ = ["TaskPool", "WorkerCrashError", "DEFAULT_CHUNK_SIZE"]
