"""Shared candidate generator for the benchmarks (random RPA candidates)."""

from __future__ import annotations

import numpy as np

from gfn_crn.crn import Network, ReactionInstance, antithetic_example, mass_action_library


def random_candidates(n: int, seed: int = 0, n_added: int = 5, low: float = 0.1, high: float = 50.0) -> list[Network]:
    """The antithetic example's template plus ``n_added`` distinct random reactions from the
    3-species mass-action library, rates log-uniform in [low, high]."""
    template = antithetic_example().template
    lib = mass_action_library(template.species)
    fixed = {i.reaction.signature for i in template.fixed}
    choices = [r for r in lib if r.signature not in fixed]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        idx = rng.choice(len(choices), n_added, replace=False)
        ks = np.exp(rng.uniform(np.log(low), np.log(high), n_added))
        out.append(Network(template, tuple(ReactionInstance(choices[i], (float(k),)) for i, k in zip(idx, ks))))
    return out
