"""Each task kind against a hand-computed or analytic value (issue 3)."""

from __future__ import annotations

import numpy as np
import pytest

from gfn_crn.crn import CRNError, Network, parse_network
from gfn_crn.sim import OK, Scenario, SimResult, scenario_grid, time_grid
from gfn_crn.tasks import (
    ClassificationTask,
    DataFitTask,
    DoseResponseTask,
    Experiment,
    HabituationTask,
    LogicTask,
    OscillatorTask,
    TraceTask,
    load_task,
    oscillation_metrics,
)


def _synthetic(task, y):
    st = np.full(y.shape[:2], OK, dtype=np.int8)
    return SimResult(y, st, task.t, task.template.species, task.scenarios)


def _on_template(task, text):
    head = "species: " + " ".join(task.template.species) + "\n"
    return task.adopt(parse_network(head + text))


# ------------------------------------------------------------------ logic
def _sensor():
    """Y produced at rate u1, degraded at rate 1: Y(T) = u1 (1 - e^-T) from Y(0) = 0."""
    tmpl = parse_network("species: Y\noutputs: Y\nfixed: 0 -> Y ; k=1 * u1\n").template
    return tmpl, Network(tmpl, parse_network("species: Y\nY -> 0 ; k=1\n").reactions)


def test_logic_exact():
    tmpl, net = _sensor()
    t = time_grid(5, 101)
    ident = LogicTask(tmpl, "u1", t, init=0.0, weights="steady_state", prior=None)
    neg = LogicTask(tmpl, "~u1", t, init=0.0, weights="steady_state", prior=None)
    ri, rn = ident.evaluate([net]), neg.evaluate([net])
    e5 = np.exp(-5.0)
    assert ri.loss[0] == pytest.approx(e5 / 2, abs=2e-6)          # rows u1=0: 0, u1=1: e^-5 (solver rtol 1e-6)
    assert rn.loss[0] == pytest.approx((1 + 1 - e5) / 2, abs=2e-6)
    assert ri.details["accuracy"][0] == 1.0 and rn.details["accuracy"][0] == 0.0


def test_logic_balanced_rows():
    task = load_task("logic-and3")
    plain = LogicTask(task.template, "u1 & u2 & u3", task.t, balanced=False)
    head = "species: X1 X2 X3 Y\n"
    gate = task.adopt(parse_network(head + "0 -> Y ; hill b=0.01 V=1 act X1 K=0.3 n=4 act X2 K=0.3 n=4 "
                                           "act X3 K=0.3 n=4\nY -> 0 ; k=1\n"))
    nothing = Network(task.template, ())
    rb, rp = task.evaluate([gate, nothing]), plain.evaluate([gate, nothing])
    # never switching on: plain mean 1/8 of the true row's error; balanced: half of it
    sl = rp.scenario_loss[1]                        # Y stays at 0.01: error 0.01 on false rows, 0.99 on the true one
    assert rp.loss[1] == pytest.approx(sl.mean()) == pytest.approx(0.139, abs=1e-3)
    assert rb.loss[1] == pytest.approx(sl[7] / 2 + sl[:7].mean() / 2) == pytest.approx(0.525, abs=1e-3)
    assert rb.loss[0] < task.good_threshold < rb.loss[1]
    assert rb.details["accuracy"][0] == 1.0 and rb.details["accuracy"][1] == 7 / 8


def test_logic_truth_table_order():
    tmpl = parse_network("species: Y\noutputs: Y\n").template
    task = LogicTask(tmpl, "(u1 & u2) | u3", time_grid(10, 11), high=2.0)
    assert task.truth_inputs == ["u1", "u2", "u3"]
    assert task.truth[:, 0].tolist() == [0, 1, 0, 1, 0, 1, 1, 1]
    assert [sc.inputs["u1"] for sc in task.scenarios] == [0.0] * 4 + [2.0] * 4
    assert task.scenarios[3].label == "u1=0 u2=1 u3=1"
    l4 = load_task("logic-4")
    assert l4.n_scenarios == 16 and l4.truth[:, 0].sum() == 8
    with pytest.raises(CRNError, match="may use inputs only"):
        LogicTask(tmpl, "u1 & init_Y", time_grid(10, 11))


# ------------------------------------------------------------------ dose response
def test_dose_response_closed_form():
    tmpl = parse_network("species: Y\noutputs: Y\nfixed: 0 -> Y ; k=1 * u1\n").template
    net = Network(tmpl, parse_network("species: Y\nY -> 0 ; k=2\n").reactions)    # Y(inf) = u1 / 2
    doses = [0.1, 0.5, 1.0, 4.0]
    t = time_grid(20, 201)
    half = DoseResponseTask(tmpl, doses, t, target="u1/2", prior=None)
    hill = DoseResponseTask(tmpl, doses, t, target={"vmax": 1.0, "K": 1.0, "n": 1}, prior=None)
    r1, r2 = half.evaluate([net]), hill.evaluate([net])
    assert r1.loss[0] < 1e-6
    expect = np.mean([abs(d / (1 + d) - d / 2) for d in doses])
    assert r2.loss[0] == pytest.approx(expect, rel=1e-5)
    np.testing.assert_allclose(r2.details["final_output"][0, :, 0], np.array(doses) / 2, rtol=1e-5)


# ------------------------------------------------------------------ classification
def test_classification_hand_design():
    task = load_task("classifier")
    good = _on_template(task, "0 -> Y2 ; hill b=0.01 V=1 act X3 K=1 n=4\nY2 -> 0 ; k=1\n"
                              "0 -> Y1 ; hill b=0.01 V=1 rep X3 K=1 n=4\nY1 -> 0 ; k=1\n")
    swapped = _on_template(task, "0 -> Y1 ; hill b=0.01 V=1 act X3 K=1 n=4\nY1 -> 0 ; k=1\n"
                                 "0 -> Y2 ; hill b=0.01 V=1 rep X3 K=1 n=4\nY2 -> 0 ; k=1\n")
    r = task.evaluate([good, swapped])
    assert r.details["accuracy"].tolist() == [1.0, 0.0]
    assert r.loss[0] < task.good_threshold < r.loss[1]
    # hand value: X3 is not consumed, so Y1(inf) = 0.01 + hillr(X3), Y2(inf) = 0.01 + hill(X3)
    x3 = np.array([0.1, 0.3, 0.6, 1.6, 3.0, 10.0])
    h = x3**4 / (1 + x3**4)
    cls = np.array([0, 0, 0, 1, 1, 1])
    y1, y2 = 0.01 + 1 - h, 0.01 + h
    expect = np.mean((np.abs(y1 - (cls == 0)) + np.abs(y2 - (cls == 1))) / 2)
    assert r.loss[0] == pytest.approx(expect, rel=1e-3)
    with pytest.raises(CRNError, match="class 'Z' is not an output"):
        ClassificationTask(task.template, [({"X3": 1.0}, "Z")], task.t)


# ------------------------------------------------------------------ oscillator
def test_pure_sine_metrics():
    t = np.linspace(0, 100, 1000)
    dt = t[1] - t[0]
    for f in (0.05, 0.1, 0.237):
        y = 3 + np.sin(2 * np.pi * f * t[200:] + 0.3)
        m = oscillation_metrics(y, dt)
        assert m["oscillating"]
        assert abs(m["frequency"] / f - 1) < 0.01
        assert abs(m["r1"] - 1) < 1e-3 and abs(m["damping"] - 1) < 1e-3
        assert m["mean"] == pytest.approx(3.0, abs=0.01)
    damped = 3 + np.exp(-0.03 * t[200:]) * np.sin(2 * np.pi * 0.1 * t[200:])
    assert oscillation_metrics(damped, dt)["damping"] < 0.2
    flat = oscillation_metrics(np.full(800, 2.0), dt)
    assert not flat["oscillating"] and flat["frequency"] == 0


def test_oscillator_loss_synthetic():
    tmpl = parse_network("species: X1\noutputs: X1\nfixed: X1 -> 0 ; k=1 * u1\n").template
    t = time_grid(100, 1000)
    sc = scenario_grid({"u1": [1.0, 2.0]})
    task = OscillatorTask(tmpl, sc, t, frequency="0.1*u1", t0=20, prior=None)
    zero = OscillatorTask(tmpl, sc, t, frequency=0, mean=2, prior=None)
    sine = lambda f: 2 + np.sin(2 * np.pi * f * t)  # noqa: E731
    y = np.stack([np.stack([sine(0.1), sine(0.2)]), np.stack([sine(0.2), sine(0.1)]), np.full((2, t.size), 2.0),
                  np.stack([sine(0.1), np.full(t.size, np.nan)])])[..., None]
    r = task.score(_synthetic(task, y))
    assert r.loss[0] < 3e-3                                   # both frequencies right
    # swapped: |0.2 - 0.1| / 0.1 = 1 (capped at 1) and |0.1 - 0.2| / 0.2 = 0.5 -> mean 0.75
    assert r.loss[1] == pytest.approx(0.75, abs=5e-3)
    assert r.loss[2] == pytest.approx(task.no_oscillation_loss) == pytest.approx(3.0)
    assert not r.valid[3] and r.reason[3] == "nonfinite" and r.log_reward[3] == task.floor
    rz = zero.score(_synthetic(zero, y))                      # f* = 0: oscillating costs w_f, flat costs 0
    assert np.isfinite(rz.loss).all() and np.isfinite(rz.log_reward).all()
    assert rz.loss[0] == pytest.approx(1.0, abs=0.02) and rz.loss[2] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(CRNError, match="fewer than 2 cycles"):
        OscillatorTask(tmpl, sc, t, frequency=0.01)


def test_oscillator_repressilator():
    task = load_task("oscillator")
    rep = _on_template(task, "0 -> X1 ; hill b=0.01 V=40 rep X3 K=1 n=4\n0 -> X2 ; hill b=0.01 V=40 rep X1 K=1 n=4\n"
                             "0 -> X3 ; hill b=0.01 V=40 rep X2 K=1 n=4\n")
    r = task.evaluate([rep, Network(task.template, ())])
    assert r.details["oscillating"][0].all() and not r.details["oscillating"][1].any()
    f = r.details["frequency"][0]
    assert f[1] > 2 * f[0] * 0.9                                # faster degradation, faster oscillation
    assert r.loss[0] < 0.2 and r.loss[1] == pytest.approx(3.0)
    # the loss part of the reward: beta * (3 - loss) nats (the prior adds its density on top)
    assert r.log_reward[0] - r.log_prior[0] > r.log_reward[1] + 25


# ------------------------------------------------------------------ habituation
def test_habituation_exact_vs_flat():
    tmpl = parse_network("species: X1\noutputs: X1\nfixed: 0 -> X1 ; k=1 * u1\n").template
    task = HabituationTask(tmpl, np.linspace(0, 110, 1101), n_pulses=4, start=10, width=5, gap=20, high=[1.0],
                           rest=15, recovery=0.8, prior=None)
    t = task.t

    def train(peaks):
        y = np.full(t.size, 0.2)
        for (a, b), p in zip(zip(task.t_on, task.t_off), peaks):
            win = (t >= a) & (t <= b)
            y[win] = 0.2 + p * (t[win] - a) / (b - a)            # rises to baseline + p at the pulse end
        return y

    r = 0.7
    habit = train([r**k for k in range(4)] + [0.9])
    flat = np.full(t.size, 0.2)
    grow = train([2.0**k for k in range(4)] + [2.0])
    no_recovery = train([r**k for k in range(4)] + [0.4])
    y = np.stack([habit, flat, grow, no_recovery])[:, None, :, None]
    res = task.score(_synthetic(task, y))
    assert res.loss[0] == pytest.approx(np.log(r), abs=1e-9)          # exact
    np.testing.assert_allclose(res.details["peaks"][0, 0], [1, r, r * r, r**3], atol=1e-12)
    assert res.loss[1] == pytest.approx(1.8)            # log 1 + w_floor * 1 + recovery (0.8 - 0)
    assert res.loss[2] == pytest.approx(np.log(2.0))
    assert res.loss[3] == pytest.approx(np.log(r) + 0.4)              # recovery 0.4 < 0.8
    assert res.loss[0] < task.good_threshold < res.loss[1]
    assert res.log_reward[0] > res.log_reward[2] > res.log_reward[1]


def test_habituation_network():
    task = load_task("habituation")
    design = _on_template(task, "X1 -> X1 + X2 ; k=0.2\nX1 + X2 -> X2 ; k=1\n")
    r = task.evaluate([design, Network(task.template, ())])
    assert r.loss[0] < task.good_threshold                             # peaks decrease
    assert abs(r.loss[1]) < 1e-2                                        # identical peaks: log 1
    assert (np.diff(r.details["peaks"][0], axis=-1) < 0).all()


# ------------------------------------------------------------------ data fit and trace
def test_data_fit_exact_integral():
    tmpl = parse_network("species: A B\noutputs: A\n").template
    t = np.linspace(0, 10, 11)
    rng = np.random.default_rng(3)
    obs_t = np.array([0.5, 2.3, 4.1, 4.15, 7.7, 12.0])               # extends past t_f: overlap [0.5, 10]
    obs_v = rng.uniform(0, 2, obs_t.size)
    for norm in (1, 2):
        task = DataFitTask(tmpl, [Experiment(obs_t, {"A": obs_v}, {}, 0.01)], t, norm=norm, prior=None)
        y = np.zeros((2, 1, t.size, 2))
        y[:, 0, :, 0] = rng.uniform(0, 2, (2, t.size))
        r = task.score(_synthetic(task, y))
        tt = np.linspace(0.5, 10.0, 2_000_001)
        for b in range(2):
            e = np.abs(np.interp(tt, t, y[b, 0, :, 0]) - np.interp(tt, obs_t, obs_v)) ** norm
            dense = np.trapz(e, tt) / (10.0 - 0.5)
            assert r.loss[b] == pytest.approx(dense, rel=1e-6)


def test_data_fit_network(tmp_path):
    tmpl = parse_network("species: A\noutputs: A\n").template
    net = Network(tmpl, parse_network("species: A\nA -> 0 ; k=0.5\n").reactions)
    times = np.linspace(0, 8, 81)
    exp = Experiment(times, {"A": np.exp(-0.5 * times)}, {}, {"A": 1.0})
    task = DataFitTask(tmpl, [exp], prior=None)
    wrong = Network(tmpl, parse_network("species: A\nA -> 0 ; k=1\n").reactions)
    r = task.evaluate([net, wrong])
    assert r.loss[0] < 1e-3 < r.loss[1]                                # only interpolation error left
    with pytest.raises(CRNError, match="observed species 'Q' is not in the template"):
        DataFitTask(tmpl, [Experiment(times, {"Q": times}, {}, 0.01)])


def test_trace_closed_form():
    tmpl = parse_network("species: X1 X2 X3\n").template
    k1, k2 = 0.08, 0.04
    times = np.arange(0, 101, 10.0)
    x2 = 2 * k1 / (k2 - k1) * (np.exp(-k1 * times) - np.exp(-k2 * times)) + 0.01 * np.exp(-k2 * times)
    task = TraceTask(tmpl, times, x2, init={"X1": 2.0}, prior=None)
    net = Network(tmpl, parse_network(f"species: X1 X2 X3\nX1 -> X2 ; k={k1}\nX2 -> 0 ; k={k2}\n").reactions)
    r = task.evaluate([net, Network(tmpl, ())])
    assert r.loss[0] < 1e-4 and r.details["best_species"][0, 0] == 1
    # doing nothing: the best constant species is X1 (stays at 2) or X2/X3 (0.01)
    expect = min(np.abs(2.0 - x2).sum(), np.abs(0.01 - x2).sum())
    assert r.loss[1] == pytest.approx(expect, rel=1e-6)
    preset = load_task("trace")
    assert preset.evaluate([_on_template(preset, f"X1 -> X2 ; k={k1}\nX2 -> 0 ; k={k2}\n")]).loss[0] < 0.05
