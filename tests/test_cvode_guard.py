"""The CVODE fallback gives up like the default engine on pathological candidates (issue 17).

Counts, not timings: steps (root-function evaluations) and right-hand-side calls of CVODE on
diverging candidates drawn with ``random_instances`` (through ``random_network``), against the
Rodas engine's step counts on the same candidates. Before the guard (BDF order 5, 50,000 steps
per output interval, no total budget) these four took 66,216 RHS calls (13,969 + 16,468 +
22,959 + 12,820) where Rodas took 102 + 133 + 94 + 153 steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from gfn_crn.crn import antithetic_example, degradation_library, hill_library, mass_action_library, random_network
from gfn_crn.sim import DIVERGED, FAILED, Scenario, simulate, time_grid
from gfn_crn.sim.kinetics import Kinetics

#: seeds whose candidate (4 mass-action + 1 Hill + 1 degradation reaction, rates log-uniform in
#: [0.01, 1000]) diverges and made the old CVODE path take 13k-23k RHS calls
PATHOLOGICAL_SEEDS = (31, 131, 553, 672)


def _candidate(seed):
    tmpl = antithetic_example().template
    sp = tmpl.species
    parts = [(mass_action_library(sp), 4), (hill_library(sp), 1), (degradation_library(sp), 1)]
    return random_network(np.random.default_rng(seed), tmpl, parts, low=0.01, high=1000.0)


@pytest.fixture
def rhs_calls(monkeypatch):
    """Counts single-system RHS evaluations (CVODE's; Rodas evaluates whole batches)."""
    calls = [0]
    orig = Kinetics.rhs

    def counting(self, y):
        if y.ndim == 2 and y.shape[1] == 1:
            calls[0] += 1
        return orig(self, y)

    monkeypatch.setattr(Kinetics, "rhs", counting)
    return calls


def test_cvode_gives_up_on_diverging_candidates_within_a_few_times_rodas_work(rhs_calls):
    nets = [_candidate(s) for s in PATHOLOGICAL_SEEDS]
    t = time_grid(100.0, 1000)
    sc = [Scenario({"u1": 1.0, "u2": 1.0}, 0.01)]
    ref = simulate(nets, sc, t)  # rodas
    assert (ref.status[:, 0] == DIVERGED).all()
    rodas_rhs = 6 * int(ref.stats["steps"].sum())  # Rodas4: 6 RHS evaluations per step
    counts = []
    for net in nets:
        before = rhs_calls[0]
        r = simulate([net], sc, t, engine="cvode")
        assert r.status[0, 0] == DIVERGED
        counts.append((int(r.stats["steps"][0, 0]), rhs_calls[0] - before))
    total_rhs = sum(c[1] for c in counts)
    print("cvode (steps, rhs) per candidate:", counts, "rodas steps:", ref.stats["steps"][:, 0].tolist())
    # old path: 66,216 RHS calls = 23x Rodas's ~2,900; now within 5x
    assert total_rhs <= 5 * rodas_rhs, (counts, rodas_rhs)


def test_cvode_stops_at_the_step_budget(rhs_calls):
    net = _candidate(31)
    t = time_grid(100.0, 1000)
    sc = [Scenario({"u1": 1.0, "u2": 1.0}, 0.01)]
    r = simulate([net], sc, t, engine="cvode", max_steps=150)
    assert r.status[0, 0] == FAILED
    assert r.stats["steps"][0, 0] <= 150 + 20  # root evaluations: one per step plus a few to locate the root
    assert rhs_calls[0] <= 8 * 150
    assert np.all(r.y[0, 0, -1] == 1e4)  # filled with the cap like every failed trajectory


def test_cvode_stops_a_finite_time_blow_up():
    # x' = x^2 from 1e3 blows up near t = 1e-3: stopped at the cap, not carried into overflow
    from gfn_crn.crn import parse_network

    net = parse_network("species: X\n2 X -> 3 X ; k=1")
    r = simulate(net, [Scenario({}, {"X": 1e3})], time_grid(1.0, 11), engine="cvode")
    assert r.status[0, 0] == DIVERGED
