"""The loss -> log-reward map of a task, as a value (DESIGN.md section 5).

    log R = -beta * min(loss, cap) - alpha * log((min(loss, cap) + eps) / (cap + eps)) + log prior

for valid candidates; invalid ones (diverged, failed, non-finite, outside the prior's support)
get the **floor**, which is derived from the other settings,

    floor = -(beta * |cap| + power_span + margin),   power_span = alpha * log((|cap| + eps) / eps),

so it always lies ``margin`` (default 40 nats) below the lowest log-reward of a valid candidate's
loss term, whatever beta, cap, alpha or eps are changed to. (The margin leaves room for the
prior's log-density of a valid candidate's parameters.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..crn.errors import CRNError

#: nats between the lowest valid loss term and the invalid floor unless told otherwise
DEFAULT_MARGIN = 40.0


@dataclass(frozen=True)
class RewardMap:
    """``beta`` (reward temperature), ``cap`` (losses above it count as the cap), ``alpha`` and
    ``eps`` (the optional power term, off at alpha 0), ``margin`` (nats between the lowest
    valid loss term and the floor). Immutable: change one with :func:`dataclasses.replace` (or
    the task's ``beta``/``loss_cap``/... setters), and the floor follows."""

    beta: float = 30.0
    cap: float = 1.0
    alpha: float = 0.0
    eps: float = 1e-3
    margin: float = DEFAULT_MARGIN

    def __post_init__(self):
        for nm in ("beta", "cap", "alpha", "eps", "margin"):
            v = float(getattr(self, nm))
            if not math.isfinite(v):
                raise CRNError(f"{'loss_cap' if nm == 'cap' else nm} must be finite, got {v}")
            object.__setattr__(self, nm, v)
        if self.beta <= 0:
            raise CRNError(f"beta must be > 0, got {self.beta}")
        if self.alpha < 0:
            raise CRNError(f"reward_alpha must be >= 0, got {self.alpha}")
        if self.eps <= 0:
            raise CRNError(f"reward_eps must be > 0, got {self.eps}")
        if self.margin <= 0:
            raise CRNError(f"the invalid floor must lie below every valid candidate's log-reward "
                           f"(floor margin {self.margin:g} <= 0)")

    @classmethod
    def with_floor(cls, floor: float, **settings) -> "RewardMap":
        """The map whose floor is ``floor`` (it must lie below the lowest valid loss term)."""
        base = cls(**settings)
        floor = float(floor)
        if not math.isfinite(floor):
            raise CRNError(f"floor must be finite, got {floor}")
        lowest = base.beta * abs(base.cap) + base.power_span
        if -floor <= lowest:
            raise CRNError(f"floor {floor:g} must be below the lowest log-reward of a valid candidate "
                           f"({-lowest:g} at the loss cap)")
        return replace(base, margin=-floor - lowest)

    @property
    def power_span(self) -> float:
        """The largest value of the power term (0 when ``alpha`` is 0)."""
        if self.alpha == 0:
            return 0.0
        return self.alpha * math.log((abs(self.cap) + self.eps) / self.eps)

    @property
    def floor(self) -> float:
        """The log-reward of invalid candidates."""
        return float(-(self.beta * abs(self.cap) + self.margin + self.power_span))

    def loss_term(self, loss) -> np.ndarray:
        """The loss part of the log-reward (without the prior) for valid candidates."""
        capped = np.minimum(np.asarray(loss, dtype=float), self.cap)
        out = -self.beta * capped
        if self.alpha:
            cap = abs(self.cap)
            out = out - self.alpha * np.log((np.maximum(capped, 0.0) + self.eps) / (cap + self.eps))
        return out

    def log_reward(self, loss, log_prior, valid) -> np.ndarray:
        """The log-reward of a batch: the loss term plus the (finite) log prior where valid, the
        floor elsewhere."""
        lp = np.asarray(log_prior, dtype=float)
        return np.where(valid, self.loss_term(loss) + np.where(np.isfinite(lp), lp, 0.0), self.floor)


__all__ = ["RewardMap", "DEFAULT_MARGIN"]
