"""Sampling trajectories with behaviour and on-policy log-probs kept apart (DESIGN.md 6.6)."""

from .crn_sampler import CRNSampler

__all__ = ["CRNSampler"]
