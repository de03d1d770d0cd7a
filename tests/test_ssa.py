"""The stochastic simulator against closed forms: birth-death (Poisson), pure decay (binomial),
linear networks (mean = ODE), exact piecewise inputs, propensities against the ODE's kinetics,
seeds, divergence and budget flags, tau-leaping against the exact method."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gfn_crn.crn import CRNError, parse_network
from gfn_crn.sim import DIVERGED, FAILED, OK, PiecewiseConstant, Scenario, compile_networks, simulate, time_grid
from gfn_crn.sim.reference import naive_rhs
from gfn_crn.sim.ssa import SSAResult, _Lanes, falling_offsets, ssa

Z = 5.0  # tolerance in standard errors

BIRTH_DEATH = "species: X\noutputs: X\n0 -> X ; k=5\nX -> 0 ; k=0.5\n"
LINEAR = """\
species: A B C
outputs: B
fixed: 0 -> A ; k=2 * u1
A -> B ; k=1
B -> 0 ; k=0.5
A -> 0 ; k=0.3
B -> C ; k=0.2
"""


def _z_mean(sample_mean, mu, var, m):
    return abs(sample_mean - mu) / math.sqrt(var / m)


def test_birth_death_stationary_poisson():
    k, g = 5.0, 0.5
    lam = k / g
    net = parse_network(BIRTH_DEATH)
    M = 4000
    r = ssa(net, Scenario(init=0.0), np.array([0.0, 30.0, 40.0]), trajectories=M, volume=1.0, seed=11)
    assert (r.status == OK).all()
    x = r.y[0, 0, :, -1, 0]                 # counts at t=40 (volume 1), ~20 relaxation times
    assert np.all(x == np.round(x))
    assert _z_mean(x.mean(), lam, lam, M) < Z
    # sample variance of a Poisson: Var(s^2) ~ (mu4 - sigma^4)/M with mu4 = lam(1 + 3 lam)
    assert abs(x.var(ddof=1) - lam) / math.sqrt((lam + 2 * lam**2) / M) < Z
    # the whole distribution: chi-square against Poisson(10) on bins 0..4, 5, ..., 16, 17+
    edges = np.r_[0, np.arange(5, 18)]
    obs = np.array([np.sum((x >= lo) & (x < hi)) for lo, hi in zip(edges, np.r_[edges[1:], np.inf])])
    cdf = stats.poisson.cdf(np.r_[edges[1:], np.inf] - 1, lam) - stats.poisson.cdf(edges - 1, lam)
    chi2 = np.sum((obs - M * cdf) ** 2 / (M * cdf))
    assert stats.chi2.sf(chi2, len(obs) - 1) > 1e-4
    # mean/var record mode agrees with the trajectories
    np.testing.assert_allclose(r.mean[0, 0, -1, 0], x.mean())
    np.testing.assert_allclose(r.var[0, 0, -1, 0], x.var(ddof=1))


def test_pure_decay_binomial_survival():
    net = parse_network("species: A\noutputs: A\nA -> 0 ; k=0.3\n")
    M, n0, tt = 3000, 50, 2.0
    r = ssa(net, Scenario(init=5.0), np.array([0.0, 1.0, tt]), trajectories=M, volume=10.0, seed=3)
    counts = np.rint(r.y[0, 0, :, :, 0] * 10.0)
    assert np.all(counts[:, 0] == n0)
    assert np.all(np.diff(counts, axis=1) <= 0)                 # only decay
    p = math.exp(-0.3 * tt)
    x = counts[:, -1]
    assert _z_mean(x.mean(), n0 * p, n0 * p * (1 - p), M) < Z
    # binomial distribution: chi-square on the central bins
    lo, hi = stats.binom.ppf(0.005, n0, p), stats.binom.ppf(0.995, n0, p)
    bins = np.arange(lo, hi + 1)
    obs = np.array([np.sum(x < lo)] + [np.sum(x == b) for b in bins] + [np.sum(x > hi)])
    pr = np.r_[stats.binom.cdf(lo - 1, n0, p), stats.binom.pmf(bins, n0, p), stats.binom.sf(hi, n0, p)]
    chi2 = np.sum((obs - M * pr) ** 2 / (M * pr))
    assert stats.chi2.sf(chi2, len(obs) - 1) > 1e-4


def test_linear_network_mean_matches_ode():
    net = parse_network(LINEAR)
    sc = [Scenario({"u1": 1.0}, init={"A": 0.5, "B": 0.0, "C": 0.2}), Scenario({"u1": 2.0}, init=0.0)]
    t = time_grid(10.0, 21)
    M = 1000
    r = ssa(net, sc, t, trajectories=M, volume=20.0, seed=5, record="moments")
    d = simulate(net, sc, t, rtol=1e-8, atol=1e-12)
    assert (r.status == OK).all()
    se = np.sqrt(np.maximum(r.var, 1e-12) / M)
    z = np.abs(r.mean - d.y) / se
    z[se < 1e-9] = np.abs(r.mean - d.y)[se < 1e-9] * 1e9            # deterministic points must agree
    assert z.max() < Z, z.max()
    # the SSA is noisy: the spread is real (not a deterministic copy)
    assert r.std[0, 0, -1, 1] > 0.05


def test_propensities_mean_field_equals_ode_kinetics():
    """At large counts volume * a(n/volume) / volume -> the ODE rate, for all three kinds."""
    text = """\
species: A B C
outputs: A
fixed: 0 -> A ; k=1 * u1
2 A -> B ; k=0.7
A + B -> C ; k=1.3
0 -> B ; hill b=0.1 V=2 act A K=0.5 n=2 rep C K=1.5 n=3
0 -> C ; hill b=0 V=1.5 * u1 act B K=0.8 n=1
C -> 0 ; deg c=0.9 K=0.4 by B
C -> A + B ; k=0.25
"""
    net = parse_network(text)
    cb = compile_networks([net], inputs=("u1",))
    vol = 1e7
    x = np.array([0.8, 1.7, 0.6])
    u = 1.4
    coef = cb.coef * np.where(cb.chan >= 0, u, 1.0)
    lanes = _Lanes(cb, np.array([0]), coef, vol)
    a = lanes.propensities(np.rint(x * vol)[:, None])[:, 0]
    rate = cb.S[0] @ a / vol
    np.testing.assert_allclose(rate, naive_rhs(net, np.rint(x * vol) / vol, {"u1": u}), rtol=1e-6)
    # the combinatorial factor for 2 A: k n (n - 1) / volume, exactly
    off = falling_offsets(cb)
    assert off.sum() == 1
    lanes = _Lanes(cb, np.array([0]), coef, 10.0)
    n = np.array([[3.0], [2.0], [1.0]])
    a = lanes.propensities(n)[:, 0]
    r_dim = [i for i in range(cb.coef.shape[1]) if cb.S[0, 0, i] == -2][0]
    assert a[r_dim] == pytest.approx(0.7 * 3 * 2 / 10.0, rel=1e-14)
    n[0] = 1.0
    assert lanes.propensities(n)[r_dim, 0] == 0.0            # a single A cannot dimerise


def test_same_seed_same_trajectories_and_different_seed_differs():
    net = parse_network(LINEAR)
    sc = [Scenario({"u1": 1.0}), Scenario({"u1": 0.5})]
    t = time_grid(5.0, 11)
    a = ssa(net, sc, t, trajectories=8, volume=30.0, seed=42)
    b = ssa(net, sc, t, trajectories=8, volume=30.0, seed=42)
    c = ssa(net, sc, t, trajectories=8, volume=30.0, seed=43)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.events, b.events)
    assert not np.array_equal(a.y, c.y)
    # a Generator works too and advances
    rng = np.random.default_rng(42)
    d = ssa(net, sc, t, trajectories=8, volume=30.0, seed=rng)
    np.testing.assert_array_equal(a.y, d.y)
    e = ssa(net, sc, t, trajectories=8, volume=30.0, seed=rng)
    assert not np.array_equal(d.y, e.y)
    # trajectories differ from one another
    assert not np.array_equal(a.y[0, 0, 0], a.y[0, 0, 1])


def test_exploding_network_flagged_and_budget_failed():
    boom = parse_network("species: X\noutputs: X\nX -> 2 X ; k=1\n")
    calm = parse_network("species: X\noutputs: X\nX -> 0 ; k=1\n")
    t = time_grid(20.0, 41)
    r = ssa([boom, calm], Scenario(init=1.0), t, trajectories=5, volume=10.0, seed=0, cap=100.0)
    assert (r.status[0] == DIVERGED).all()
    assert (r.status[1] == OK).all()
    assert r.scenario_status.tolist() == [[DIVERGED], [OK]]
    assert r.network_ok.tolist() == [False, True]
    # after divergence the trajectory holds the cap; before it, it grows from 10 molecules
    y = r.y[0, 0, :, :, 0]
    assert np.all(y[:, -1] == 100.0)
    assert np.all(y[:, 0] == 1.0)
    assert (r.events[0] < 2000).all()       # stopped at ~1000 molecules, not run to the end
    # the mean of the calm network is fine and the diverged network's mean is capped
    sim = r.as_sim_result()
    assert sim.status.tolist() == [[DIVERGED], [OK]]
    assert sim.y.shape == (2, 1, 41, 1)
    # event budget: exhausted -> FAILED, filled with the cap
    f = ssa(calm, Scenario(init=10.0), t, trajectories=3, volume=10.0, seed=0, max_events=20)
    assert (f.status == FAILED).all()
    assert (f.events == 20).all()
    assert np.all(f.y[0, 0, :, -1, 0] == 1e4)


def test_piecewise_input_is_exact_at_boundaries():
    net = parse_network("species: X\noutputs: X\nfixed: 0 -> X ; k=1 * u1\n")
    t = np.linspace(0.0, 10.0, 11)
    off_on = Scenario({"u1": PiecewiseConstant((0.0, 5.0), (0.0, 10.0))}, init=0.0)
    on_off = Scenario({"u1": PiecewiseConstant((0.0, 5.0), (10.0, 0.0))}, init=0.0)
    M = 2000
    r = ssa(net, [off_on, on_off], t, trajectories=M, volume=1.0, seed=9)
    y = r.y[0, :, :, :, 0]                                   # (S, M, T) counts (volume 1)
    # off then on: nothing before t=5 (the value at the grid time 5 is the state before any jump)
    assert np.all(y[0, :, :6] == 0)
    assert _z_mean(y[0, :, -1].mean(), 50.0, 50.0, M) < Z
    assert abs(y[0, :, -1].var(ddof=1) - 50.0) / math.sqrt((50 + 2 * 2500) / M) < Z
    # on then off: Poisson(50) at t=5, then frozen
    assert _z_mean(y[1, :, 5].mean(), 50.0, 50.0, M) < Z
    np.testing.assert_array_equal(y[1, :, 5:], np.repeat(y[1, :, 5:6], 6, axis=1))
    # mid-segment grid points: Poisson(10 t) on the way
    assert _z_mean(y[1, :, 2].mean(), 20.0, 20.0, M) < Z


def test_tau_leaping_matches_exact_within_sampling_error():
    """Dimerisation 0 -> X (k=10), 2 X -> 0 (k=0.1): tau-leaping at epsilon 0.03 against the exact
    method at volume 100 (~700 molecules), from high counts and from zero: means and standard deviations agree within sampling error
    while the tau run takes far fewer passes."""
    net = parse_network("species: X Y\noutputs: X\n0 -> X ; k=10\n2 X -> Y ; k=0.1\nY -> 0 ; k=1\n")
    t = time_grid(2.0, 5)
    M = 600
    sc = [Scenario(init={"X": 4.0, "Y": 8.0}), Scenario(init=0.0)]     # relaxing from above / from zero
    ex = ssa(net, sc, t, trajectories=M, volume=100.0, seed=1, record="moments")
    tl = ssa(net, sc, t, trajectories=M, volume=100.0, seed=2, record="moments", method="tau")
    assert (ex.status == OK).all() and (tl.status == OK).all()
    se = np.sqrt((ex.var + tl.var) / M) + 1e-12
    assert (np.abs(ex.mean - tl.mean) / se).max() < Z
    # standard deviations: the sample std has SE ~ sigma / sqrt(2M) (near-normal counts)
    sd_se = np.sqrt((ex.var + tl.var) / (2 * M)) + 1e-12
    assert (np.abs(ex.std - tl.std)[:, :, 1:] / sd_se[:, :, 1:]).max() < Z
    # far fewer passes where counts are high (scenario 0); from zero the start is exact steps
    assert tl.events[0, 0].mean() * 5 < ex.events[0, 0].mean()
    assert tl.stats["passes"] < ex.stats["passes"]


def test_hill_network_runs_counts_nonnegative_and_result_views():
    net = parse_network("""\
species: X1 X2 E
outputs: X1
fixed: 0 -> X1 ; hill b=0.05 V=2 * u1 rep X2 K=0.5 n=2
fixed: 0 -> X2 ; hill b=0.05 V=2 rep X1 K=0.5 n=2
X1 -> 0 ; k=0.5
X2 -> 0 ; k=0.5
0 -> E ; k=0.1
X2 -> 0 ; deg c=1 K=0.5 by E
""")
    t = time_grid(20.0, 41)
    r = ssa(net, [Scenario({"u1": 1.0}), Scenario({"u1": 3.0})], t, trajectories=16, volume=25.0, seed=4,
            species=["X1", "X2"])
    assert isinstance(r, SSAResult)
    assert r.y.shape == (1, 2, 16, 41, 2) and r.species == ("X1", "X2")
    assert (r.status == OK).all() and (r.events > 0).all()
    counts = r.y * 25.0
    assert np.all(counts >= 0) and np.allclose(counts, np.round(counts))
    assert r.mean_output("X1").shape == (1, 2, 41)
    assert r.status_name(0, 1) == "ok"
    with pytest.raises(CRNError, match="not recorded"):
        r.species_index("E")


def test_bad_arguments_raise():
    net = parse_network(BIRTH_DEATH)
    t = time_grid(1.0, 3)
    for kw, msg in ((dict(method="x"), "method"), (dict(volume=0.0), "volume"), (dict(trajectories=0), "trajectories"),
                    (dict(max_events=0), "max_events"), (dict(record="all"), "record"), (dict(species=["Q"]), "Q")):
        with pytest.raises(CRNError, match=msg):
            ssa(net, Scenario(), t, **kw)
