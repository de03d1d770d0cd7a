"""The simulator: kinetics against a naive implementation, trajectories against scipy and closed
forms, divergence, piecewise inputs, engines, errors and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gfn_crn.cli import main as cli_main
from gfn_crn.crn import (
    ANTITHETIC_TEXT,
    CRNError,
    Network,
    ReactionInstance,
    Template,
    antithetic_example,
    degradation_library,
    hill_library,
    mass_action,
    mass_action_library,
    parse_network,
    random_network as draw_network,
)
from gfn_crn.sim import (
    DIVERGED,
    OK,
    PiecewiseConstant,
    Scenario,
    compile_networks,
    scenario_grid,
    simulate,
    time_grid,
)
from gfn_crn.sim.kinetics import Kinetics
from gfn_crn.sim.reference import naive_rhs

SP = ("A", "B", "C")


def random_network(rng, n_mass=3, n_hill=1, n_deg=1, lo=0.05, hi=5.0, with_input=True) -> Network:
    """A random network over A, B, C mixing all three kinds; one fixed input-driven production."""
    fixed = (ReactionInstance(mass_action([], ["A"], input="u1"), (1.0,)),) if with_input else ()
    t = Template(SP, ("A",), fixed, ("u1",) if with_input else ())
    parts = [(mass_action_library(SP), n_mass), (hill_library(SP, 2), n_hill), (degradation_library(SP), n_deg)]
    return draw_network(rng, t, parts, low=lo, high=hi)


def _kin_for(net: Network, u: float = 0.7) -> Kinetics:
    cb = compile_networks([net])
    coef = cb.coef * np.where(cb.chan >= 0, u, 1.0)
    return Kinetics(cb, np.array([0]), coef)


@pytest.mark.parametrize("seed", range(12))
def test_rhs_and_jacobian_against_naive_and_finite_differences(seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, n_mass=3, n_hill=2, n_deg=2)
    kin = _kin_for(net, u=0.7)
    for _ in range(3):
        x = rng.uniform(0.05, 3.0, 3)
        f = kin.rhs(x[:, None])[:, 0]
        np.testing.assert_allclose(f, naive_rhs(net, x, {"u1": 0.7}), rtol=1e-12, atol=1e-12)
        J = kin.jac(x[:, None])[:, :, 0]
        eps = 1e-6
        fd = np.empty((3, 3))
        for j in range(3):
            e = np.zeros(3)
            e[j] = eps
            fd[:, j] = (naive_rhs(net, x + e, {"u1": 0.7}) - naive_rhs(net, x - e, {"u1": 0.7})) / (2 * eps)
        np.testing.assert_allclose(J, fd, rtol=1e-5, atol=1e-7)


def test_batched_kinetics_equal_one_at_a_time():
    rng = np.random.default_rng(7)
    nets = [random_network(rng) for _ in range(5)]
    cb = compile_networks(nets)
    x = rng.uniform(0.1, 2.0, (3, 5))
    kin = Kinetics(cb, np.arange(5), cb.coef * np.where(cb.chan >= 0, 1.3, 1.0))
    F, JJ = kin.rhs(x), kin.jac(x)
    for b, net in enumerate(nets):
        np.testing.assert_allclose(F[:, b], naive_rhs(net, x[:, b], {"u1": 1.3}), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(JJ[:, :, b], _kin_for(net, 1.3).jac(x[:, b:b + 1])[:, :, 0], rtol=1e-12)


def _rel_err(y, yref):
    scale = np.abs(yref).max(axis=-2, keepdims=True) + 1e-6
    return (np.abs(y - yref) / scale).max(axis=(-1, -2))


@pytest.mark.slow
def test_trajectories_against_tight_scipy_reference():
    """24 random networks (all kinds; 8 of them stiff with rates up to 1e3), 2 scenarios each."""
    rng = np.random.default_rng(2024)
    nets = [random_network(rng) for _ in range(16)]
    nets += [random_network(rng, n_mass=4, lo=0.01, hi=1e3) for _ in range(8)]
    scen = scenario_grid({"u1": [0.5, 2.0]}, init=0.1)
    t = time_grid(20.0, 201)
    res = simulate(nets, scen, t)
    ref = simulate(nets, scen, t, engine="scipy", method="LSODA", rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(res.status == DIVERGED, ref.status == DIVERGED)
    both = res.ok & ref.ok
    assert both.sum() >= 30
    err = _rel_err(res.y, ref.y)[both]
    assert err.max() < 1e-4, err.max()
    assert res.stats["steps"].max() > 0 and res.stats["min_raw"] > -1e-6


@pytest.mark.parametrize("rtol,promise", [(1e-5, 5e-5), (1e-7, 5e-7), (1e-9, 5e-9)])
def test_exponential_decay_closed_form_converges_with_tolerance(rtol, promise):
    net = parse_network("species: A\nA -> 0 ; k=0.7")
    t = time_grid(10.0, 101)
    res = simulate(net, [Scenario(init=2.0)], t, rtol=rtol, atol=1e-14)
    exact = 2.0 * np.exp(-0.7 * t)
    np.testing.assert_allclose(res.y[0, 0, :, 0], exact, rtol=promise, atol=0)


def test_sensor_settles_at_k1_over_k2_u():
    """0 -> Y (k1), U + Y -> U (k2) with U conserved: Y(t) relaxes to k1/(k2 U) exponentially."""
    net = parse_network("species: U Y\n0 -> Y ; k=1.5\nU + Y -> U ; k=0.4")
    t = time_grid(30.0, 301)
    for U in (0.5, 2.0):
        res = simulate(net, [Scenario(init={"U": U, "Y": 0.0})], t)
        yss = 1.5 / (0.4 * U)
        exact = yss * (1 - np.exp(-0.4 * U * t))
        np.testing.assert_allclose(res.y[0, 0, :, 1], exact, rtol=5e-5, atol=1e-8)
        np.testing.assert_allclose(res.y[0, 0, :, 0], U, rtol=1e-12)


def test_antithetic_settles_near_setpoint():
    net = antithetic_example()
    theta = 1.00065  # sensing rate X1 -> Z2
    scen = scenario_grid({"u1": [0.5, 1.0, 1.5], "u2": [0.5, 1.0, 1.5]})
    res = simulate(net, scen, time_grid())
    assert res.ok.all()
    final = res.output("X1")[0, :, -1]
    target = np.array([sc.inputs["u1"] for sc in scen]) / theta
    np.testing.assert_allclose(final, target, rtol=1e-4)


def test_hill_and_degradation_steady_states():
    hill_net = parse_network("species: A X\n0 -> X ; hill b=0.1 V=2 act A K=0.5 n=3\nX -> 0 ; k=0.8")
    deg_net = parse_network("species: E S\n0 -> S ; k=0.3\nS -> 0 ; deg c=1.2 K=0.5 by E")
    t = time_grid(60.0, 61)
    A = 0.8
    r = simulate(hill_net, [Scenario(init={"A": A, "X": 0.0})], t)
    x_ss = (0.1 + 2 * A**3 / (0.5**3 + A**3)) / 0.8
    np.testing.assert_allclose(r.y[0, 0, -1, 1], x_ss, rtol=1e-6)
    E = 0.5
    r = simulate(deg_net, [Scenario(init={"E": E, "S": 0.0})], t)
    s_ss = 0.3 * 0.5 / (1.2 * E - 0.3)  # p = c E S / (K + S)
    np.testing.assert_allclose(r.y[0, 0, -1, 1], s_ss, rtol=1e-5)


def test_autocatalysis_diverges_and_is_flagged():
    net = parse_network("species: X\nX -> 2 X ; k=0.5")
    t = time_grid(100.0, 1001)
    res = simulate(net, [Scenario(init=0.01)], t, cap=1e4)
    assert res.status[0, 0] == DIVERGED and not res.ok.any()
    y = res.y[0, 0, :, 0]
    t_cross = np.log(1e4 / 0.01) / 0.5  # ~27.6
    before = t < t_cross - 0.2
    np.testing.assert_allclose(y[before], 0.01 * np.exp(0.5 * t[before]), rtol=5e-5)
    assert np.all(y[t > t_cross + 0.2] == 1e4)
    # finite-time blow-up and absurd stiffness: flagged, never raised
    nasty = parse_network("species: X Y\n2 X -> 3 X ; k=5\n0 -> Y ; k=1e6\nY -> 0 ; k=1e-6\nX + Y -> X ; k=1e6")
    res = simulate([nasty], [Scenario(init=1.0)], t)
    assert res.status[0, 0] != OK and np.all(np.isfinite(res.y))


def test_piecewise_input_matches_closed_form_and_is_continuous():
    """0 -> X at rate k*u1(t), X -> 0 at rate g: piecewise exponential relaxation."""
    net = parse_network("species: X\nfixed: 0 -> X ; k=2 * u1\nX -> 0 ; k=0.5")
    u = PiecewiseConstant.pulses([5.0, 15.0], [10.0, 22.5], high=1.5, low=0.2)
    t = time_grid(30.0, 601)
    res = simulate(net, [Scenario({"u1": u}, init=0.0)], t)
    y = res.y[0, 0, :, 0]
    # exact solution segment by segment
    exact = np.empty_like(t)
    x, t_prev = 0.0, 0.0
    bps = list(u.times[1:]) + [30.0]
    seg_start = 0.0
    for val, end in zip(u.values, bps):
        m = (t >= seg_start) & (t <= end)
        ss = 2 * val / 0.5
        exact[m] = ss + (x - ss) * np.exp(-0.5 * (t[m] - seg_start))
        x = ss + (x - ss) * np.exp(-0.5 * (end - seg_start))
        seg_start = end
    np.testing.assert_allclose(y, exact, rtol=5e-5, atol=1e-8)
    dt = t[1] - t[0]
    for b in u.times[1:]:
        i = int(round(b / dt))
        assert abs(y[i + 1] - y[i - 1]) < 2 * dt * 2 * 1.5 + 1e-9  # no jump across the switch


@pytest.mark.parametrize("engine", ["cvode", "scipy"])
def test_fallback_engines_agree(engine):
    net = antithetic_example()
    scen = scenario_grid({"u1": [0.5, 1.5], "u2": [1.0]})
    t = time_grid(50.0, 251)
    a = simulate(net, scen, t)
    b = simulate(net, scen, t, engine=engine, rtol=1e-8, atol=1e-10)
    assert b.ok.all()
    assert _rel_err(a.y, b.y).max() < 1e-4
    div = simulate(parse_network("species: X\nX -> 2 X ; k=1"), [Scenario()], t, engine=engine)
    assert div.status[0, 0] == DIVERGED


def test_scipy_engine_has_a_step_budget():
    """solve_ivp has no step limit: an oscillator at rtol 1e-8 over a long horizon took 140,000
    steps. The scipy engine stops after max_steps like the others: status step_budget (a failure),
    the points it reached kept, the rest at the cap."""
    import time

    from gfn_crn.sim.status import STATUS_NAMES, SolverStatus, is_failure

    lv = parse_network("species: X Y\nX -> 2 X ; k=1\nX + Y -> 2 Y ; k=1\nY -> 0 ; k=1")
    scen = [Scenario({}, {"X": 1.0, "Y": 0.5})]
    t = time_grid(1000.0, 1001)
    t0 = time.perf_counter()
    r = simulate(lv, scen, t, engine="scipy", rtol=1e-8, atol=1e-12, max_steps=300)
    assert time.perf_counter() - t0 < 5.0
    assert r.status[0, 0] == SolverStatus.STEP_BUDGET and STATUS_NAMES[int(r.status[0, 0])] == "step_budget"
    assert is_failure(r.status).all() and not r.ok.any()
    y = r.y[0, 0]
    reached = int(np.sum(y[:, 0] < 1e4))
    assert 1 < reached < t.size and np.all(y[reached:] == 1e4)
    # the points it reached are those of an integration with room to spare
    full = simulate(lv, scen, t[:reached], engine="scipy", rtol=1e-8, atol=1e-12, max_steps=10**6)
    assert full.ok.all()
    np.testing.assert_allclose(y[:reached], full.y[0, 0], rtol=1e-6, atol=1e-9)
    # the budget counts the steps of all segments of a system (inputs that switch make segments)
    sw = simulate(antithetic_example(), [Scenario({"u1": PiecewiseConstant((0.0, 10.0), (1.0, 2.0)), "u2": 1.0})],
                  time_grid(20.0, 201), engine="scipy", rtol=1e-8, atol=1e-10, max_steps=30)
    assert sw.status[0, 0] == SolverStatus.STEP_BUDGET


def test_workers_give_the_same_results():
    rng = np.random.default_rng(3)
    nets = [random_network(rng) for _ in range(6)]
    scen = scenario_grid({"u1": [0.5, 1.0]})
    t = time_grid(10.0, 51)
    a = simulate(nets, scen, t)
    b = simulate(nets, scen, t, workers=2)
    # equal to round-off: chunks pad reactions differently, which can reorder a sum
    np.testing.assert_allclose(a.y, b.y, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(a.status, b.status)


def test_bad_simulation_input_raises_clear_errors():
    net = antithetic_example()
    t = time_grid(10.0, 11)
    with pytest.raises(CRNError, match=r"input\(s\) \['u2'\] that scenario 0 \(u1=1\) does not define"):
        simulate(net, [Scenario({"u1": 1.0})], t)
    other = parse_network("species: A\nA -> 0 ; k=1")
    with pytest.raises(CRNError, match="share one species list"):
        simulate([net, other], [Scenario({"u1": 1.0, "u2": 1.0})], t)
    with pytest.raises(CRNError, match="must increase"):
        simulate(other, [Scenario()], [0.0, 2.0, 1.0])
    with pytest.raises(CRNError, match="start at 0"):
        simulate(other, [Scenario()], [1.0, 2.0])
    with pytest.raises(CRNError, match="unknown species"):
        simulate(other, [Scenario(init={"Q": 1.0})], t)
    with pytest.raises(CRNError, match="rtol"):
        simulate(other, [Scenario()], t, rtol=float("nan"))
    with pytest.raises(CRNError, match="input u1 must be finite"):
        Scenario({"u1": -1.0})
    with pytest.raises(CRNError, match="unknown engine"):
        simulate(other, [Scenario()], t, engine="euler")


def test_cli_simulate_json_plot_and_errors(tmp_path, capsys):
    f = tmp_path / "anti.crn"
    f.write_text(ANTITHETIC_TEXT)
    png = tmp_path / "tc.png"
    assert cli_main(["simulate", str(f), "--inputs", "u1=1,u2=0.5", "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenarios"][0]["status"] == "ok"
    assert abs(out["scenarios"][0]["final"]["X1"] - 1 / 1.00065) < 1e-3
    assert png.exists() and png.stat().st_size > 10_000
    assert cli_main(["simulate", str(f), "--inputs", "u1=1"]) == 2
    assert "u2" in capsys.readouterr().err
    bad = tmp_path / "bad.crn"
    bad.write_text("species: A\nA -> B ; k=1\n")
    assert cli_main(["simulate", str(bad)]) == 2
    assert "line 2: unknown species 'B'" in capsys.readouterr().err


def test_solver_status_names_the_cause_of_a_failure():
    """A spent step budget is its own status (not lumped with step underflow); tasks still call
    every solver failure 'failed'."""
    from gfn_crn.sim import FAILURES, STATUS_NAMES, SolverStatus, is_failure
    from gfn_crn.tasks import load_task

    assert [int(s) for s in SolverStatus] == [0, 1, 2, 3, 4] and SolverStatus.FAILED == 2
    assert STATUS_NAMES[3] == "step_underflow" and STATUS_NAMES[4] == "step_budget"
    assert is_failure([0, 1, 2, 3, 4]).tolist() == [False, False, True, True, True]
    assert set(FAILURES) == {SolverStatus.FAILED, SolverStatus.STEP_UNDERFLOW, SolverStatus.STEP_BUDGET}
    net = antithetic_example()
    t = time_grid(100.0, 50)
    r = simulate(net, Scenario({"u1": 1.0, "u2": 1.0}), t, max_steps=3)
    assert r.status[0, 0] == SolverStatus.STEP_BUDGET and r.status_name(0, 0) == "step_budget"
    ok = simulate(net, Scenario({"u1": 1.0, "u2": 1.0}), t)
    assert ok.status[0, 0] == OK
    task = load_task("rpa")
    task.sim_options = {**task.sim_options, "max_steps": 3}
    res = task.evaluate([net])
    assert res.reason[0] == "failed" and not res.valid[0]
