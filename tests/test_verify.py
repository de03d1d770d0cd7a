"""Verification beyond the loss, minimal cores and mechanisms (gfn_crn.verify)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from gfn_crn.crn import CRNError
from gfn_crn.crn.examples import antithetic_example
from gfn_crn.crn.textio import parse_network
from gfn_crn.sim import Scenario, time_grid
from gfn_crn.tasks import OscillatorTask, load_task, parse_task
from gfn_crn.verify import (VerifySettings, group_mechanisms, mechanism_key, minimal_core, off_grid_values, verify,
                            verify_batch)

HEAD = """species: X1 Z1 Z2
outputs: X1
fixed: 0 -> Z1 ; k=1 * u1
fixed: X1 -> 0 ; k=1 * u2
"""
# seed 0's best design of the main rpa study: loss 0.0044, but Z2 grows without bound
UNBOUNDED = HEAD + """0 -> Z2 ; k=1.1796053195318217
0 -> X1 + Z2 ; k=0.721970936619103
Z1 -> X1 + Z2 ; k=1.1335955745229425
X1 + Z2 -> 2 Z2 ; k=1.3994401761532527
Z1 + Z2 -> X1 + Z1 ; k=1.583671058778163
"""
# a fast degradation drowns the disturbance: X1 = 101 u1 / (100 + u2), loss 0.006 but no integral action
APPROXIMATE = HEAD + """Z1 -> Z1 + X1 ; k=101
Z1 -> 0 ; k=1
X1 -> 0 ; k=100
"""
CORE3 = {("Z1 -> X1 + Z1"), ("X1 -> Z2"), ("Z1 + Z2 -> 0")}


@pytest.fixture(scope="module")
def rpa():
    return load_task("rpa")


def _lines(net):
    return {l.split(";")[0].strip() for l in net.to_text().splitlines() if "->" in l and not l.startswith("fixed")}


def test_antithetic_is_verified_and_its_core_is_three_reactions(rpa):
    v = verify(rpa, antithetic_example())
    assert v.verified, v.checks
    assert [c.name for c in v.checks] == ["bounded", "settled", "off_grid", "step"]
    core = minimal_core(rpa, antithetic_example(), v.loss)
    assert _lines(core.network) == CORE3
    assert core.loss == pytest.approx(0.0072, abs=2e-4)
    assert len(core.removed) == 2


def _anti_rhs(k, u1, u2):
    k1, k2, k3, k4, k5 = k

    def f(t, x):
        X1, Z1, Z2 = x
        a = k3 * Z1 * Z2
        return [k1 * Z1 - u2 * X1 - k2 * X1 + 2 * k4 - k5 * X1 * Z2, u1 - a, k2 * X1 - a]
    return f


@pytest.mark.slow
def test_checks_agree_with_an_independent_scipy_solve(rpa):
    """The off-grid value (largest relative error at t = 1000) and the bounded value (largest
    concentration) recomputed with a hand-written right-hand side and scipy's Radau."""
    net = antithetic_example()
    k = [i.cparams[0] for i in net.reactions]
    v = verify(rpa, net)
    checks = {c.name: c for c in v.checks}
    T = 10 * 100.0
    t_eval = np.linspace(0, T, 2001)          # verification's output points
    peak, errs = 0.0, []
    grid, off = [0.5, 1.0, 1.5], off_grid_values([0.5, 1.0, 1.5])
    for values, is_off in ((grid, False), (off, True)):
        for u1 in values:
            for u2 in values:
                sol = solve_ivp(_anti_rhs(k, u1, u2), (0, T), [0.01] * 3, method="Radau", rtol=1e-10, atol=1e-12,
                                t_eval=t_eval)
                peak = max(peak, sol.y.max())
                if is_off:
                    errs.append(abs(sol.y[0, -1] - u1) / max(u1, 0.15))
    assert checks["bounded"].value == pytest.approx(peak, rel=1e-4)
    assert checks["off_grid"].value == pytest.approx(max(errs), rel=1e-3)
    # the set point of antithetic feedback is u1 / theta with theta the sensing rate X1 -> Z2
    assert max(errs) == pytest.approx(1 - 1 / k[1], rel=1e-3)


def test_off_grid_values_are_half_midpoints_and_twice():
    assert off_grid_values([0.5, 1.0, 1.5]) == [0.25, 0.75, 1.25, 3.0]
    assert off_grid_values([0.0, 1.0]) == [0.5, 2.0]


def test_unbounded_species_fails_bounded_and_settled(rpa):
    net = parse_network(UNBOUNDED)
    v = verify(rpa, net)
    assert v.loss < rpa.good_threshold          # the training loss cannot see it
    assert not v.verified
    assert {"bounded", "settled"} <= set(v.failed)


def test_approximate_adaptation_fails_off_grid_or_step(rpa):
    v = verify(rpa, parse_network(APPROXIMATE))
    assert v.good and v.valid
    assert not v.verified
    assert {"off_grid", "step"} & set(v.failed)
    assert "bounded" not in v.failed and "settled" not in v.failed


def test_spectator_reaction_reduces_to_the_same_mechanism(rpa):
    base = antithetic_example()
    extra = parse_network(base.to_text() + "X1 + Z1 -> Z1 + Z2 ; k=0.001\n")
    assert len(extra.reactions) == 6
    cores = [minimal_core(rpa, n) for n in (base, extra)]
    k0, k1 = (mechanism_key(rpa, c.network.reactions) for c in cores)
    assert k0 == k1
    vs = verify_batch(rpa, [base, extra])
    mechs, keys = group_mechanisms(rpa, [base, extra], [v.loss for v in vs], vs)
    assert len(mechs) == 1 and mechs[0].n_designs == 2 and keys[0] == keys[1]
    # a different mechanism gets a different key
    other = parse_network(APPROXIMATE)
    assert mechanism_key(rpa, other.reactions) != k0


def test_mechanism_key_uses_template_symmetry():
    """Species the template leaves alike are interchangeable: a design and its image under
    Z2 <-> Z3 (both absent from the template) are one mechanism; once the scenarios give Z3
    another initial concentration they are not."""
    text = '''
kind = "tracking"
[template]
text = """
species: X1 Z1 Z2 Z3
outputs: X1
fixed: 0 -> Z1 ; k=1 * u1
fixed: X1 -> 0 ; k=1
"""
[scenarios]
inputs = { u1 = [0.5, 1.0] }
init = 0.01
'''
    task = parse_task(text)
    head = "species: X1 Z1 Z2 Z3\n"
    a = parse_network(head + "Z1 -> Z1 + Z2 ; k=1\nZ2 -> X1 ; k=2\n").reactions
    b = parse_network(head + "Z1 -> Z1 + Z3 ; k=1\nZ3 -> X1 ; k=2\n").reactions
    c = parse_network(head + "Z1 -> Z1 + X1 ; k=1\nZ2 -> X1 ; k=2\n").reactions
    assert mechanism_key(task, a) == mechanism_key(task, b)
    assert mechanism_key(task, a) != mechanism_key(task, c)
    asym = parse_task(text.replace("init = 0.01", "init = { Z3 = 1.0 }"))
    assert mechanism_key(asym, a) != mechanism_key(asym, b)


REPRESSILATOR = """species: X1 X2 X3
outputs: X1
fixed: X1 -> 0 ; k=1
fixed: X2 -> 0 ; k=1
fixed: X3 -> 0 ; k=1
0 -> X1 ; hill b=0.01 V=10 rep X3 K=1 n=4
0 -> X2 ; hill b=0.01 V=10 rep X1 K=1 n=4
0 -> X3 ; hill b=0.01 V=10 rep X2 K=1 n=4
"""


def _osc_task(freq):
    tpl = parse_network(REPRESSILATOR).template
    return OscillatorTask(tpl, [Scenario({}, {"X1": 1.0})], time_grid(100, 1001), frequency=freq, t0=20)


@pytest.mark.slow
def test_repressilator_passes_the_oscillator_checks():
    net = parse_network(REPRESSILATOR)
    probe = _osc_task(0.1)
    f = float(probe.evaluate([net]).details["frequency"][0, 0])
    assert 0.05 < f < 0.5
    task = _osc_task(f)
    quick = VerifySettings(horizon=4)             # 30 periods are plenty to see damping
    v = verify(task, net, quick)
    assert [c.name for c in v.checks] == ["bounded", "persists"]
    assert v.verified, v.checks
    # n = 1 repression damps to a fixed point: the oscillation does not persist
    damped = parse_network(REPRESSILATOR.replace("n=4", "n=2"))
    vd = verify(task, damped, quick)
    assert "persists" in vd.failed


def test_verify_settings_from_task_file_and_errors():
    text = '''
kind = "tracking"
[template]
example = "antithetic"
[scenarios]
inputs = { u1 = [0.5, 1.0, 1.5], u2 = [0.5, 1.0, 1.5] }
[verify]
horizon = 5
cap = 50
'''
    task = parse_task(text)
    assert task.verify_settings.horizon == 5 and task.verify_settings.cap == 50
    v = verify(task, antithetic_example())
    assert v.checks[0].tolerance == 50
    assert "t in [0, 500]" in v.checks[0].detail
    with pytest.raises(CRNError, match="unknown key.*'horizn'"):
        parse_task(text.replace("horizon = 5", "horizn = 5"))
    with pytest.raises(CRNError, match="cap must be > 0"):
        parse_task(text.replace("cap = 50", "cap = -1"))
    with pytest.raises(CRNError, match="horizon must be >= 1"):
        VerifySettings.from_dict({"horizon": 0.5})


def test_minimal_core_with_refinement_is_no_larger(rpa):
    net = antithetic_example()
    plain = minimal_core(rpa, net)
    refined = minimal_core(rpa, net, refine_evals=16)
    assert refined.n_reactions <= plain.n_reactions
    assert refined.loss < rpa.good_threshold
    assert refined.evaluations > plain.evaluations


@pytest.mark.slow
def test_run_writes_mechanisms_and_top_shows_them(tmp_path, capsys):
    """A run whose archive holds the antithetic design, the same plus a spectator, and an
    unbounded design: mechanisms.json, summary.json, report.md and `gfn-crn top` count 2 verified
    designs of 1 mechanism and flag the unbounded one."""
    import json

    from gfn_crn.cli import main
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.report import finish_run
    from gfn_crn.training.run import Run

    cfg = resolve_config(overrides=dict(task="rpa", iterations=1, batch_size=4, hidden=16, max_reactions=6,
                                        final_samples=0, plot_top=0, export_top=0))
    run = Run.create(cfg, tmp_path / "run")
    run.train(progress=False)
    anti = run.task.adopt(antithetic_example())
    spect = run.task.adopt(parse_network(anti.to_text() + "X1 + Z1 -> Z1 + Z2 ; k=0.001\n"))
    unb = run.task.adopt(parse_network(UNBOUNDED))
    res = run.task.evaluate([anti, spect, unb])
    run.archive.update([anti, spect, unb], res.loss, res.valid, res.log_reward, iteration=0, source="search")
    run.archive.save_json(run.dir / "archive.json")
    summary = finish_run(run, final_samples=0, plots=True, quiet=True)
    assert summary["verified_designs"] == 2 and summary["distinct_verified_mechanisms"] == 1
    assert summary["first_verified_evaluation"] == run.metrics()[0]["evaluations"] > 0
    m = json.loads((tmp_path / "run" / "mechanisms.json").read_text())
    assert m["mechanisms"][0]["n_designs"] == 2
    assert {l.split(";")[0].strip() for l in m["mechanisms"][0]["core"]} == CORE3
    assert m["mechanisms"][0]["first_source"] == "search"       # provenance of the mechanism's first design
    assert m["mechanisms"][0]["first_evaluation"] == summary["first_verified_evaluation"]
    assert summary["mechanism_sources"] == {"policy": 0, "search": 1, "archive_refine": 0, "final_refine": 0}
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Mechanisms" in report and "mechanism_1.png" in report
    assert "first found by the structure search" in report
    assert (tmp_path / "run" / "mechanism_1.png").exists()
    capsys.readouterr()
    assert main(["top", str(tmp_path / "run"), "-k", "5"]) == 0
    out = capsys.readouterr().out
    assert out.count("yes (M1)") == 2 and "no: bounded" in out


def test_cli_verify_json_and_plot(tmp_path, capsys):
    import json

    from gfn_crn.cli import main
    from gfn_crn.crn.examples import ANTITHETIC_TEXT

    f = tmp_path / "anti.crn"
    f.write_text(ANTITHETIC_TEXT)
    assert main(["verify", "--task", "rpa", str(f), "--json", "--plot", str(tmp_path / "v.png")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == {"loss", "valid", "verified", "checks", "core", "core_loss"}
    assert d["verified"] is True and [c["name"] for c in d["checks"]] == ["bounded", "settled", "off_grid", "step"]
    assert all(set(c) >= {"name", "value", "tolerance", "passed"} for c in d["checks"])
    assert _lines(parse_network(d["core"])) == CORE3 and d["core_loss"] == pytest.approx(0.00716, abs=1e-4)
    assert (tmp_path / "v.png").stat().st_size > 10_000
    g = tmp_path / "unb.crn"
    g.write_text(UNBOUNDED)
    assert main(["verify", "--task", "rpa", str(g)]) == 0
    out = capsys.readouterr().out
    assert "NOT verified (failed: bounded, settled" in out
    h = tmp_path / "blowup.crn"          # X1 -> 2 X1 diverges: invalid, no loss, its own core
    h.write_text(HEAD + "X1 -> 2 X1 ; k=5\n")
    assert main(["verify", "--task", "rpa", str(h), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["valid"] is False and d["loss"] is None and d["core_loss"] is None and not d["verified"]
    assert main(["verify", "--task", "rpa", str(tmp_path / "missing.crn")]) == 2
    assert "gfn-crn: error: cannot read network file" in capsys.readouterr().err


def test_settle_weight_charges_unbounded_designs_only(rpa):
    """The optional settling term of tracking losses: the unbounded design (its tracking loss 0.0044)
    pays ~settle_weight * 0.09 per scenario, the settled antithetic design pays nothing."""
    on = parse_task(load_task_text("rpa").replace("[task]\n", "[task]\nsettle_weight = 1\n"))
    nets = [on.adopt(antithetic_example()), on.adopt(parse_network(UNBOUNDED))]
    off_r, on_r = rpa.evaluate(nets), on.evaluate(nets)
    assert on_r.loss[0] == off_r.loss[0] == pytest.approx(0.002917, abs=1e-6)
    assert off_r.loss[1] < 0.01 < on_r.loss[1]
    drift = on_r.details["drift"][1]
    assert on_r.loss[1] == pytest.approx(off_r.loss[1] + np.maximum(drift - 0.01, 0).mean(), rel=1e-9)
    assert drift.min() > 0.05 and off_r.details["drift"][0].max() < 1e-3
    with pytest.raises(CRNError, match="settle_weight must be >= 0"):
        parse_task(load_task_text("rpa").replace("[task]\n", "[task]\nsettle_weight = -1\n"))


def load_task_text(name):
    from gfn_crn.tasks.presets import PRESETS

    return PRESETS[name]


def test_chemical_core_removes_what_only_tuned_rates_need(rpa):
    """The antithetic design with its Z2 production split over two reactions (X1 -> Z2 and
    X1 -> X1 + Z2, half the rate each): at the tuned rates neither can go (the setpoint would
    double), so the weak core keeps 4 reactions; with the remaining rate re-optimised one of
    them goes, and the chemical core is a 3-reaction antithetic core. Its minimality is checked
    independently: no single removal from it, re-optimised with twice the effort, stays good.
    The cache re-optimises a weak core once."""
    from gfn_crn.rewards.refine import refine
    from gfn_crn.verify import chemical_core

    net = rpa.adopt(parse_network(HEAD + "Z1 -> Z1 + X1 ; k=3.11312\nX1 -> Z2 ; k=0.5\nX1 -> X1 + Z2 ; k=0.50065\n"
                                         "Z1 + Z2 -> 0 ; k=1.03465\n"))
    loss = float(rpa.evaluate([net]).loss[0])
    assert loss < rpa.good_threshold
    weak = minimal_core(rpa, net, loss)
    assert weak.n_reactions == 4
    cache: dict = {}
    core = chemical_core(rpa, net, loss, refine_evals=128, cache=cache)
    assert core.n_reactions == 3 and core.loss < rpa.good_threshold
    lines = _lines(core.network)
    assert {"Z1 -> X1 + Z1", "Z1 + Z2 -> 0"} <= lines and len(lines & {"X1 -> Z2", "X1 -> X1 + Z2"}) == 1
    again = chemical_core(rpa, net, loss, refine_evals=128, cache=cache)
    assert _lines(again.network) == lines and again.evaluations == weak.evaluations   # cached: no second stage
    rs = core.network.reactions
    cands = [core.network.with_reactions(rs[:i] + rs[i + 1:]) for i in range(len(rs))]
    rr = refine(rpa, cands, 256 * len(cands), seed=list(range(len(cands))), max_rounds=32)
    assert np.all(rr.losses >= rpa.good_threshold)


def test_the_oscillator_preset_checks_off_grid_inputs_near_its_training_range():
    """The preset names its off-grid inputs (docs/verification.md): the midpoint and 20-25% beyond
    either training input, not the derived 0.25 and 2 (an 8x range from two training points)."""
    from gfn_crn.tasks import load_task

    task = load_task("oscillator")
    plan = task.verification_plan(task.verify_settings)
    (off,) = [c for c in plan.checks if c.name == "off_grid"]
    assert sorted(sc.inputs["u1"] for sc in off.scenarios) == [0.4, 0.75, 1.25]
