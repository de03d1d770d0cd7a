"""The parameter prior: part of every reward (DESIGN.md sections 5 and 6.2).

Continuous parameters are sampled and scored in log space, ``y = ln(value)``. The prior over
each live continuous slot is a normal on ``y`` truncated to ``[low, high]`` (the *support*; the
generator must never propose values outside it), and each Hill coefficient is uniform over
{1, 2, 3, 4}. Without a proper prior a parameter that the loss ignores would carry infinite mass
and the GFlowNet target would not be normalisable.

Defaults: ``mean = 0`` (rate 1), ``std = 2`` and support ``[ln 1e-3, ln 1e3]``: wide enough for
every rate in the published designs (0.95..3.1 for the antithetic controller, 0.1..50 in the
peer's search range) while keeping the log-density of a typical rate within a few nats of its
maximum, so the prior shapes but does not dominate ``-beta * loss``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..crn.errors import CRNError
from ..crn.reactions import HILL_COEFFICIENTS, ReactionInstance


def _log_ndtr_diff(a: float, b: float) -> float:
    """log(Phi(b) - Phi(a)) for a < b, stable enough for the bounds used here."""
    return math.log(0.5 * (math.erf(b / math.sqrt(2)) - math.erf(a / math.sqrt(2))))


@dataclass(frozen=True)
class LogParameterPrior:
    """Truncated normal on ``ln(value)`` per continuous parameter; uniform Hill coefficients."""

    mean: float = 0.0
    std: float = 2.0
    low: float = math.log(1e-3)
    high: float = math.log(1e3)

    def __post_init__(self):
        for name in ("mean", "std", "low", "high"):
            v = getattr(self, name)
            if not math.isfinite(v):
                raise CRNError(f"prior {name} must be finite, got {v}")
        if self.std <= 0:
            raise CRNError(f"prior std must be > 0, got {self.std}")
        if not self.low < self.high:
            raise CRNError(f"prior support needs low < high, got [{self.low}, {self.high}]")

    @property
    def log_norm(self) -> float:
        """log of the normal mass inside the support."""
        return _log_ndtr_diff((self.low - self.mean) / self.std, (self.high - self.mean) / self.std)

    def log_prob_y(self, y, mask=None) -> np.ndarray:
        """Sum over the last axis of the log-density of log-values ``y`` (live slots only).

        Values outside the support get ``-inf``. ``mask`` (same shape, bool) marks live slots.
        """
        y = np.asarray(y, dtype=float)
        live = np.ones_like(y, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        z = (y - self.mean) / self.std
        lp = -0.5 * z**2 - math.log(self.std) - 0.5 * math.log(2 * math.pi) - self.log_norm
        inside = (y >= self.low) & (y <= self.high)
        lp = np.where(inside, lp, -np.inf)
        return np.where(live, lp, 0.0).sum(axis=-1)

    def log_prob_discrete(self, n_live) -> np.ndarray:
        """Log-probability of the Hill coefficients: uniform over the allowed set per live slot."""
        return -np.asarray(n_live, dtype=float) * math.log(len(HILL_COEFFICIENTS))

    def contains(self, value: float) -> bool:
        return value > 0 and self.low <= math.log(value) <= self.high

    def log_prob_networks(self, networks) -> np.ndarray:
        """(B,) log-prior of the added reactions of each network, vectorised over the batch
        (equal to ``log_prob_reactions(net.reactions)`` for each)."""
        owner, vals, n_disc = [], [], np.zeros(len(networks))
        for b, net in enumerate(networks):
            for inst in net.reactions:
                vals.extend(inst.cparams)
                owner.extend([b] * len(inst.cparams))
                n_disc[b] += len(inst.dparams)
        v = np.asarray(vals, dtype=float)
        with np.errstate(divide="ignore"):
            y = np.log(v)
        z = (y - self.mean) / self.std
        lp = -0.5 * z**2 - math.log(self.std) - 0.5 * math.log(2 * math.pi) - self.log_norm
        lp = np.where((y >= self.low) & (y <= self.high), lp, -np.inf)
        out = np.zeros(len(networks))
        np.add.at(out, np.asarray(owner, dtype=int), lp)
        return out + self.log_prob_discrete(n_disc)

    def log_prob_reactions(self, reactions: Iterable[ReactionInstance]) -> float:
        """Log-prior of a set of added reactions (the Hill basal rate b = 0 is outside the log
        support, so it scores ``-inf``; library reactions are sampled with b > 0)."""
        total = 0.0
        for inst in reactions:
            with np.errstate(divide="ignore"):
                y = np.log(np.asarray(inst.cparams, dtype=float))
            total += float(self.log_prob_y(y)) + float(self.log_prob_discrete(len(inst.dparams)))
        return total
