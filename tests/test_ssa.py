"""The stochastic simulator against closed forms: birth-death (Poisson), pure decay (binomial),
linear networks (mean = ODE), exact piecewise inputs, propensities against the ODE's kinetics,
seeds, divergence and budget flags, tau-leaping against the exact method."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gfn_crn.crn import CRNError, example, parse_network
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
    net = example("toggle")  # Hill with an input on V, Hill repression, active degradation

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


# ------------------------------------------------------------------ noise-aware tasks
from gfn_crn.crn import Network, antithetic_example  # noqa: E402
from gfn_crn.tasks import load_task, parse_task  # noqa: E402  (the ssa_* kinds are registered kinds)
from gfn_crn.tasks.stochastic import SSARobustTask, SSATrackingTask, weighted_mean_cv  # noqa: E402

BD_TASK = """
kind = "{kind}"
name = "bd"
[template]
text = '''
species: X
outputs: X
fixed: 0 -> X ; k=1 * u1
'''
[scenarios]
inputs = {{ u1 = [1.0, 4.0] }}
init = 0.0
[time]
t_f = 15
n_t = 31
[task]
target = "u1"
weights = "steady_state"
{extra}
[ssa]
trajectories = 800
volume = 25
seed = 3
cap = 50
"""


def _bd_candidates(template):
    from gfn_crn.crn import mass_action
    from gfn_crn.crn.reactions import ReactionInstance

    good = Network(template, (ReactionInstance(mass_action(["X"], []), (1.0,)),))
    boom = Network(template, (ReactionInstance(mass_action(["X"], ["X", "X"]), (3.0,)),))
    return good, boom


def test_weighted_mean_cv_closed_form():
    mean = np.full((1, 2, 4, 1), 2.0)
    std = np.full((1, 2, 4, 1), 0.5)
    w = np.array([0.0, 1.0, 1.0, 2.0])
    np.testing.assert_allclose(weighted_mean_cv(mean, std, w, 10.0), 0.25)
    mean[0, 1] = 0.0                       # below one molecule: divided by 1/volume
    np.testing.assert_allclose(weighted_mean_cv(mean, std, w, 10.0)[0, 1], 5.0)


def test_ssa_robust_loss_is_tracking_plus_weighted_cv_on_birth_death():
    """0 -> X at u1, X -> 0 at 1: at the end X ~ Poisson(u1 * volume) in counts, so the mean tracks
    u1 and CV = 1/sqrt(u1 * volume) (0.2 and 0.1 at volume 25); a diverging candidate gets the floor."""
    task = parse_task(BD_TASK.format(kind="ssa_robust", extra="cv_weight = 0.5"))
    assert isinstance(task, SSARobustTask) and task.volume == 25.0 and task.trajectories == 800
    good, boom = _bd_candidates(task.template)
    r = task.evaluate([good, boom])
    cv = r.details["cv"][0]
    expected = 1.0 / np.sqrt(np.array([1.0, 4.0]) * 25.0)
    assert np.all(np.abs(cv - expected) / expected < 0.15), cv     # std of a sample std ~ 1/sqrt(2M)
    np.testing.assert_allclose(r.scenario_loss[0], r.details["tracking"][0] + 0.5 * cv)
    # the mean tracks u1 within sampling error (1e-3 of a loss of 1e4 * weights would show a bias)
    assert np.all(r.details["tracking"][0] < 5 * expected * np.array([1.0, 4.0]) / np.sqrt(800))
    assert r.valid.tolist() == [True, False]
    assert r.reason[1] == "diverged" and r.log_reward[1] == task.floor and r.loss[1] == task.loss_cap
    # common random numbers: evaluating again gives the same losses
    np.testing.assert_array_equal(task.evaluate([good, boom]).loss, r.loss)
    # ssa_tracking: the same mean, no CV term
    tr = parse_task(BD_TASK.format(kind="ssa_tracking", extra=""))
    assert isinstance(tr, SSATrackingTask) and not isinstance(tr, SSARobustTask)
    r2 = tr.evaluate([good, boom])
    np.testing.assert_allclose(r2.scenario_loss[0], r2.details["tracking"][0])
    assert r2.log_reward[1] == tr.floor


def test_ssa_task_budget_failure_gets_floor_and_task_file_errors(tmp_path):
    text = BD_TASK.format(kind="ssa_tracking", extra="").replace("seed = 3", "seed = 3\nmax_events = 5")
    task = parse_task(text)
    good, _ = _bd_candidates(task.template)
    r = task.evaluate([good])
    assert r.reason[0] == "failed" and r.log_reward[0] == task.floor
    with pytest.raises(CRNError, match=r"unknown key\(s\) \['volumes'\] in \[ssa\]"):
        parse_task(BD_TASK.format(kind="ssa_tracking", extra="").replace("volume = 25", "volumes = 25"))
    with pytest.raises(CRNError, match="cv_weight is an ssa_robust setting"):
        parse_task(BD_TASK.format(kind="ssa_tracking", extra="cv_weight = 1"))
    with pytest.raises(CRNError, match="trajectories"):
        parse_task(BD_TASK.format(kind="ssa_tracking", extra="").replace("trajectories = 800", "trajectories = 1"))
    p = tmp_path / "mine.toml"
    p.write_text(BD_TASK.format(kind="ssa_robust", extra=""))
    t = load_task(p)
    assert isinstance(t, SSARobustTask) and t.name == "bd" and t.cv_weight == 0.1
    assert load_task("rpa").kind == "tracking"                 # everything else goes to the base loader


@pytest.mark.slow
def test_ssa_presets_antithetic_beats_template_and_plot(tmp_path):
    for name, cls in (("ssa_tracking", SSATrackingTask), ("ssa_robust", SSARobustTask)):
        task = load_task(name)
        assert type(task) is cls and task.n_scenarios == 9 and task.volume == 20.0
    task.trajectories, task.volume = 8, 5.0           # small and quick
    net = antithetic_example()
    r = task.evaluate([net, Network(task.template, ())])
    assert r.valid.all()
    assert r.details["tracking"][0].mean() < 0.5 < r.details["tracking"][1].mean()
    assert r.details["cv"][0].mean() > 0.1                   # volume 5: noisy
    out = task.plot(r, 0, tmp_path / "ssa.png")
    assert out.exists() and out.stat().st_size > 1000
    assert task.settings()["cv_weight"] == 0.1 and task.settings()["trajectories"] == 8


def test_stochastic_cli_branch(tmp_path, capsys):
    import argparse
    import json

    from gfn_crn.sim.ssa_cli import add_stochastic_arguments, run_stochastic

    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", default=None)
    add_stochastic_arguments(p)
    f = tmp_path / "bd.crn"
    f.write_text(BIRTH_DEATH)
    net = parse_network(BIRTH_DEATH)
    sc = [Scenario(init=0.0)]
    args = p.parse_args([str(f), "--stochastic", "--trajectories", "300", "--volume", "2", "--seed", "1", "--json"])
    assert run_stochastic(args, net, sc, time_grid(20.0, 21)) == 0
    out = json.loads(capsys.readouterr().out)
    row = out["scenarios"][0]
    assert row["trajectories"] == {"ok": 300, "diverged": 0, "failed": 0}
    # Poisson(k/g) counts at volume 2: concentration mean 10 / 2... the rate k is per concentration:
    # counts are Poisson(volume * k / g) = Poisson(20), concentration mean 10, std sqrt(20)/2
    assert abs(row["final_mean"]["X"] - 10.0) < 5 * math.sqrt(20) / 2 / math.sqrt(300)
    png = tmp_path / "bd.png"
    args = p.parse_args([str(f), "--stochastic", "--trajectories", "20", "--volume", "2", "--plot", str(png), "--tau"])
    assert run_stochastic(args, net, sc, time_grid(20.0, 21)) == 0
    assert "plot:" in capsys.readouterr().out and png.stat().st_size > 1000


def test_abort_network_stops_the_flagged_networks_other_trajectories():
    net = parse_network("species: X Y\noutputs: X\nfixed: X -> 2 X ; k=1 * u1\n0 -> Y ; k=5\nY -> 0 ; k=1\n")
    calm = parse_network("species: X Y\noutputs: X\n0 -> Y ; k=5\nY -> 0 ; k=1\n")
    sc = [Scenario({"u1": 1.0}, init=1.0), Scenario({"u1": 0.0}, init=1.0)]
    t = time_grid(20.0, 21)
    kw = dict(trajectories=4, volume=10.0, seed=0, cap=50.0)
    plain = ssa([net, calm], sc, t, **kw)
    assert (plain.status[0, 0] == DIVERGED).all() and (plain.status[0, 1] == OK).all()
    ab = ssa([net, calm], sc, t, abort_network=True, **kw)
    assert (ab.status[0] == DIVERGED).all()              # the calm scenario stopped with its network
    assert (ab.status[1] == OK).all()                    # other networks are not touched
    assert ab.events[0, 1].max() < plain.events[0, 1].min()
    np.testing.assert_array_equal(ab.y[0, 1, :, -1, 0], 50.0)


def test_screened_run_pools_moments_and_screens_out_failing_networks():
    from gfn_crn.sim.ssa import ssa_screened

    good = parse_network(LINEAR)
    busy = parse_network(LINEAR.replace("B -> C ; k=0.2", "B -> C ; k=100\nC -> B ; k=100"))
    sc = [Scenario({"u1": 1.0}), Scenario({"u1": 2.0})]
    t = time_grid(5.0, 11)
    r = ssa_screened([good, busy], sc, t, trajectories=40, pilot=3, volume=10.0, seed=2, max_events=3000,
                     record="trajectories")
    assert r.status.shape == (2, 2, 40) and r.stats["screened_out"] == 1
    assert (r.status[0] == OK).all() and (r.status[1] == FAILED).all()
    assert (r.events[1, :, 3:] == 0).all() and (r.events[0, :, 3:] > 0).all()
    # pooled moments over pilot + rest equal the moments of the 40 kept trajectories
    np.testing.assert_allclose(r.mean[0], r.y[0].mean(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.var[0], r.y[0].var(axis=1, ddof=1), rtol=1e-9, atol=1e-12)
    # the unscreened equivalent spends the budget on every trajectory of the busy network
    full = ssa([good, busy], sc, t, trajectories=40, volume=10.0, seed=2, max_events=3000, record="moments")
    assert (full.status[1] == FAILED).all() and full.events[1].sum() > 10 * r.events[1].sum()
