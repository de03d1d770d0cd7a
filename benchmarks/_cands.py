"""Shared candidate generator for the benchmarks (random mass-action candidates on a template)."""

from __future__ import annotations

import numpy as np

from gfn_crn.crn import Network, ReactionInstance, antithetic_example, mass_action_library


def random_networks(template, n: int, seed: int = 0, n_added: int = 5, low: float = 0.1, high: float = 50.0,
                    prior=None) -> list[Network]:
    """``template`` + ``n_added`` distinct random mass-action reactions; rates log-uniform in
    [low, high], or drawn from ``prior`` (a LogParameterPrior, truncated normal on ln k)."""
    lib = mass_action_library(template.species)
    fixed = {i.reaction.signature for i in template.fixed}
    choices = [r for r in lib if r.signature not in fixed]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        idx = rng.choice(len(choices), n_added, replace=False)
        if prior is None:
            ks = np.exp(rng.uniform(np.log(low), np.log(high), n_added))
        else:
            y = rng.normal(prior.mean, prior.std, 4 * n_added)
            y = y[(y >= prior.low) & (y <= prior.high)][:n_added]
            ks = np.exp(y)
        out.append(Network(template, tuple(ReactionInstance(choices[i], (float(k),)) for i, k in zip(idx, ks))))
    return out


def random_candidates(n: int, seed: int = 0, n_added: int = 5, low: float = 0.1, high: float = 50.0) -> list[Network]:
    """The antithetic example's template plus ``n_added`` distinct random reactions from the
    3-species mass-action library, rates log-uniform in [low, high] (issue 2's benchmark set)."""
    return random_networks(antithetic_example().template, n, seed, n_added, low, high)
