"""Shared candidate generator for the benchmarks (random mass-action candidates on a template)."""

from __future__ import annotations

import numpy as np

from gfn_crn.crn import Network, antithetic_example, mass_action_library, random_network


def random_networks(template, n: int, seed: int = 0, n_added: int = 5, low: float = 0.1, high: float = 50.0,
                   prior=None) -> list[Network]:
    """``template`` + ``n_added`` distinct random mass-action reactions; rates log-uniform in
    [low, high], or drawn from ``prior`` (a LogParameterPrior, truncated normal on ln k)."""
    lib = mass_action_library(template.species)
    rng = np.random.default_rng(seed)
    return [random_network(rng, template, [(lib, n_added)], low=low, high=high, prior=prior) for _ in range(n)]


def random_candidates(n: int, seed: int = 0, n_added: int = 5, low: float = 0.1, high: float = 50.0) -> list[Network]:
    """The antithetic example's template plus ``n_added`` distinct random reactions from the
    3-species mass-action library, rates log-uniform in [low, high] (issue 2's benchmark set)."""
    return random_networks(antithetic_example().template, n, seed, n_added, low, high)
