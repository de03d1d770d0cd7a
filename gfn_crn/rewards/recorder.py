"""A scorer that hands every batch it scores to a consumer."""

from __future__ import annotations

from typing import Callable

from .result import TaskResult
from .scorer import Wrapper


class BatchRecorder(Wrapper):
    """Scores through ``inner`` and calls ``on_batch(networks, result)`` for every batch, whoever
    asked for it (the sampler's reward, a topology refinement, a local search). A training run
    feeds its archive this way: every simulated candidate is archived and counted."""

    def __init__(self, inner, on_batch: Callable[[list, TaskResult], None]):
        super().__init__(inner)
        self.on_batch = on_batch

    def __getstate__(self):  # pragma: no cover - only the env's reward callable
        raise TypeError("a BatchRecorder (a run's archive feed) cannot be pickled")

    def evaluate(self, networks, conditions=None) -> TaskResult:
        if conditions is not None:  # a family's batch (gfn_crn.tasks.family): on_batch gets the conditions too
            res = self.inner.evaluate(networks, conditions=conditions)
            self.on_batch(networks, res, conditions=conditions)
            return res
        res = self.inner.evaluate(networks)
        self.on_batch(networks, res)
        return res

    def __repr__(self) -> str:
        return f"BatchRecorder({self.inner!r})"


__all__ = ["BatchRecorder"]
