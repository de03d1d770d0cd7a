"""What scoring a batch of networks returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..sim import SimResult


@dataclass
class TaskResult:
    """What a scorer's ``evaluate`` returns for a batch of B networks x S scenarios.

    ``loss`` (B,) finite (invalid: ``loss_cap``); ``log_reward`` (B,) finite (invalid: the reward
    map's ``floor``); ``valid`` (B,) bool; ``reason`` (B,) one of ``ok``, ``diverged``,
    ``failed``, ``nonfinite``, ``prior`` (and ``refine`` from the topology reward);
    ``log_prior`` (B,) (``-inf`` outside the support); ``scenario_loss`` (B, S) (the
    per-scenario loss where defined, NaN for scenarios of invalid candidates); ``details``:
    kind-specific per-scenario arrays (documented by each task); ``sim``: the
    :class:`~gfn_crn.sim.SimResult` (None where no trajectories travel, e.g. from a pool).
    """

    loss: np.ndarray
    log_reward: np.ndarray
    valid: np.ndarray
    reason: np.ndarray
    log_prior: np.ndarray
    scenario_loss: np.ndarray
    sim: Optional[SimResult]
    details: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.loss)


__all__ = ["TaskResult"]
