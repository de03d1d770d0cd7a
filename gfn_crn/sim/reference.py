"""A deliberately naive per-reaction right-hand side.

It loops over reaction objects in Python and follows DESIGN.md section 3's formulas literally.
It is slow on purpose: it is the independent check for the vectorised kinetics in the tests and
the "peer-style" baseline in ``benchmarks/sim_throughput.py``. Do not use it for real work.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..crn.network import Network
from ..crn.reactions import DEGRADATION, HILL, MASS_ACTION


def propensity(inst, x: Mapping[str, float], u: Mapping[str, float]) -> float:
    """Propensity of one reaction instance at concentrations ``x`` and inputs ``u``."""
    r = inst.reaction
    p = dict(inst.params)
    if r.input:
        p[r.input_factor] = p[r.input_factor] * u[r.input]
    if r.kind == MASS_ACTION:
        a = p["k"]
        for s, n in r.reactants:
            a *= max(x[s], 0.0) ** n
        return a
    if r.kind == DEGRADATION:
        (s, _), = r.reactants
        xs = max(x[s], 0.0)
        return p["c"] * max(x[r.enzyme], 0.0) * xs / (p["K"] + xs)
    assert r.kind == HILL
    prod = 1.0
    for a_ in r.activators:
        K, n = p[f"K_{a_}"], p[f"n_{a_}"]
        xa = max(x[a_], 0.0)
        prod *= xa**n / (K**n + xa**n)
    for q in r.repressors:
        K, n = p[f"K_{q}"], p[f"n_{q}"]
        xq = max(x[q], 0.0)
        prod *= K**n / (K**n + xq**n)
    return p["b"] + p["V"] * prod


def naive_rhs(net: Network, y: np.ndarray, u: Mapping[str, float]) -> np.ndarray:
    """dx/dt for one network at state ``y`` (N,), looping over reactions and species."""
    x = dict(zip(net.species, y))
    dx = dict.fromkeys(net.species, 0.0)
    for inst in net.all_reactions:
        a = propensity(inst, x, u)
        for s, n in inst.reaction.reactants:
            dx[s] -= n * a
        for s, n in inst.reaction.products:
            dx[s] += n * a
    return np.array([dx[s] for s in net.species])
