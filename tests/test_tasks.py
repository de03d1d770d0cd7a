"""Tasks: RPA goldens, tracking against closed forms, reward map, degenerate outputs, expressions,
template checks (issue 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gfn_crn.crn import CRNError, Network, ReactionInstance, antithetic_example, parse_network
from gfn_crn.sim import DIVERGED, OK, Scenario, SimResult, scenario_grid, time_grid
from gfn_crn.tasks import (
    Expr,
    LogParameterPrior,
    TrackingTask,
    load_task,
    make_weights,
    transient_weights,
)


@pytest.fixture(scope="module")
def rpa():
    return load_task("rpa")


@pytest.fixture(scope="module")
def rpa_goldens(rpa):
    net = antithetic_example()
    rounded = net.with_reactions([ReactionInstance(i.reaction, tuple(round(v, 2) for v in i.cparams), i.dparams)
                                  for i in net.reactions])
    blowup = net.with_reactions(list(net.reactions[:4]) + [ReactionInstance(
        parse_network("species: X1 Z1 Z2\nX1 -> 2 X1 ; k=3").reactions[0].reaction, (3.0,))])
    return rpa.evaluate([net, rounded, Network(rpa.template, ()), blowup]), [net, rounded, blowup]


# ------------------------------------------------------------------ RPA goldens
def test_rpa_goldens(rpa_goldens):
    r, _ = rpa_goldens
    assert abs(r.loss[0] - 0.002917) < 2e-5
    assert abs(r.loss[1] - 0.002264) < 2e-5
    assert abs(r.loss[2] - 1.0500) < 1e-3
    assert r.valid[:3].all()


def test_rpa_settings(rpa):
    assert rpa.template == antithetic_example().template
    assert rpa.n_scenarios == 9 and rpa.t.size == 1000 and rpa.t[-1] == 100
    # last input fastest: (u1, u2) = (0.5, 0.5), (0.5, 1), ...
    assert [sc.inputs["u1"] for sc in rpa.scenarios[:3]] == [0.5, 0.5, 0.5]
    assert [sc.inputs["u2"] for sc in rpa.scenarios[:3]] == [0.5, 1.0, 1.5]
    np.testing.assert_allclose(rpa.R[:, 0, 0], [0.5] * 3 + [1.0] * 3 + [1.5] * 3)
    assert rpa.good_threshold == 0.01 and rpa.beta > 0


def test_transient_weight_convention():
    w = transient_weights(1000)
    assert (w == 0.25).sum() == 200 and (w == 2).sum() == 200 and (w == 1).sum() == 600
    assert w[199] == 0.25 and w[200] == 1 and w[799] == 1 and w[800] == 2
    assert (transient_weights(11) == 0.25).sum() == 2
    t = np.linspace(0, 10, 11)
    assert make_weights("steady_state", t).tolist() == [0] * 10 + [11]
    np.testing.assert_array_equal(make_weights([[0, 0.0], [5, 1.0]], t), [0] * 5 + [1] * 6)
    with pytest.raises(CRNError, match="unknown weight scheme 'transent'"):
        make_weights("transent", t)
    with pytest.raises(CRNError, match="11 values"):
        make_weights([1, 2, 3], t)


def test_reward_map(rpa, rpa_goldens):
    r, nets = rpa_goldens
    prior = LogParameterPrior()
    for b, net in enumerate(nets[:2]):
        lp = prior.log_prob_reactions(net.reactions)
        assert r.log_prior[b] == pytest.approx(lp)
        assert r.log_reward[b] == pytest.approx(-rpa.beta * min(r.loss[b], rpa.loss_cap) + lp)
    # the template alone: loss above the cap counts as the cap, no prior term
    assert r.loss[2] > rpa.loss_cap
    assert r.log_reward[2] == pytest.approx(-rpa.beta * rpa.loss_cap)
    # autocatalysis X1 -> 2 X1 diverges: invalid, at the floor, loss at the cap
    assert not r.valid[3] and r.reason[3] == "diverged"
    assert r.log_reward[3] == rpa.floor and r.loss[3] == rpa.loss_cap
    assert rpa.floor < r.log_reward[:3].min()
    # the antithetic design beats the template by about beta * (1 - 0.003) + prior difference
    assert r.log_reward[0] - r.log_reward[2] > 20
    lr, valid = rpa(nets[:1])
    assert lr.shape == (1,) and valid.dtype == bool and lr[0] == pytest.approx(r.log_reward[0])


def test_out_of_support_parameter_is_invalid(rpa):
    net = antithetic_example()
    bad = net.with_reactions([ReactionInstance(net.reactions[0].reaction, (5e3,))] + list(net.reactions[1:]))
    r = rpa.evaluate([bad])
    assert not r.valid[0] and r.reason[0] == "prior" and r.log_reward[0] == rpa.floor


# ------------------------------------------------------------------ tracking, closed form
def _first_order(a: float, init: float):
    tmpl = parse_network("species: X1\noutputs: X1\nfixed: 0 -> X1 ; k=1 * u1\n").template
    net = Network(tmpl, parse_network(f"species: X1\nX1 -> 0 ; k={a}\n").reactions)
    return tmpl, net


@pytest.mark.parametrize("weights,norm,relative", [("uniform", 1, False), ("transient", 2, False),
                                                   ("steady_state", 1, False), ("uniform", 1, True)])
def test_tracking_closed_form(weights, norm, relative):
    a, x0 = 2.0, 0.3
    tmpl, net = _first_order(a, x0)
    t = time_grid(5, 201)
    us = [0.5, 1.0, 2.0]
    task = TrackingTask(tmpl, scenario_grid({"u1": us}, x0), t, "u1/(1+u1)", weights=weights, norm=norm,
                        relative=relative, prior=None)
    r = task.evaluate([net])
    w = make_weights(weights, t)
    expect = []
    for u in us:
        x = u / a + (x0 - u / a) * np.exp(-a * t)      # closed-form solution
        target = u / (1 + u)
        e = np.abs(target - x) / (max(abs(target), 1e-6) if relative else 1.0)
        expect.append(np.mean(w * e**norm))
    np.testing.assert_allclose(r.scenario_loss[0], expect, rtol=1e-4, atol=2e-6)  # solver rtol 1e-6
    assert r.loss[0] == pytest.approx(np.mean(expect), rel=1e-4)
    assert r.log_reward[0] == pytest.approx(-task.beta * min(r.loss[0], task.loss_cap))


def test_tracking_target_per_output_and_time():
    tmpl = parse_network("species: X1 X2\noutputs: X1 X2\nfixed: 0 -> X1 ; k=1 * u1\n").template
    t = time_grid(10, 11)
    task = TrackingTask(tmpl, scenario_grid({"u1": [1.0, 3.0]}, {"X1": 0.5}), t,
                        {"X1": "2*u1", "X2": "t + init_X1"}, prior=None)
    np.testing.assert_allclose(task.R[:, 0, 0], [2.0, 6.0])
    np.testing.assert_allclose(task.R[1, :, 1], t + 0.5)
    with pytest.raises(CRNError, match=r"no target for output\(s\) \['X2'\]"):
        TrackingTask(tmpl, scenario_grid({"u1": [1.0]}), t, {"X1": "u1"})
    with pytest.raises(CRNError, match=r"uses \['u2'\]"):
        TrackingTask(tmpl, scenario_grid({"u1": [1.0]}), t, "u2")
    with pytest.raises(CRNError, match="not finite in scenario 0"):
        TrackingTask(tmpl, scenario_grid({"u1": [0.0]}), t, "1/u1")


# ------------------------------------------------------------------ degenerate outputs
def _synthetic(task, y, status=None):
    B = y.shape[0]
    st = np.full((B, task.n_scenarios), OK, dtype=np.int8) if status is None else status
    return SimResult(y, st, task.t, task.template.species, task.scenarios)


def test_degenerate_outputs_get_bad_rewards(rpa):
    S, T, N = rpa.n_scenarios, rpa.t.size, rpa.template.n_species
    good = np.broadcast_to(rpa.R[None, :, :, :1], (1, S, T, 1)) * np.ones((1, S, T, N))
    flat = np.full((1, S, T, N), 0.01)
    explode = np.full((1, S, T, N), 1e4)
    nan = good.copy()
    nan[0, 3, 500, 0] = np.nan
    inf = good.copy()
    inf[0, 0, 10, 2] = np.inf                         # a non-output species
    y = np.concatenate([good, flat, explode, nan, inf])
    status = np.full((5, S), OK, dtype=np.int8)
    status[2, 4] = DIVERGED
    r = rpa.score(_synthetic(rpa, y, status))
    assert r.loss[0] == pytest.approx(0.0, abs=1e-12) and r.valid[0]
    assert r.valid[1] and r.loss[1] > 0.9 and r.log_reward[1] == pytest.approx(-rpa.beta * rpa.loss_cap)
    assert r.reason.tolist() == ["ok", "ok", "diverged", "nonfinite", "nonfinite"]
    assert (r.log_reward[2:] == rpa.floor).all() and (r.loss[2:] == rpa.loss_cap).all()
    assert np.isfinite(r.loss).all() and np.isfinite(r.log_reward).all()
    assert r.log_reward[0] > r.log_reward[1] > r.log_reward[2]


def test_wrong_template_names_candidate(rpa):
    other = parse_network("species: X1 Z1 Z2\noutputs: X1\nfixed: 0 -> Z1 ; k=2 * u1\nfixed: X1 -> 0 ; k=1 * u2\n")
    with pytest.raises(CRNError, match=r"candidate 1 does not use task 'rpa'.*has parameters"):
        rpa.evaluate([antithetic_example(), other])
    # adopt: a file without fixed lines moves onto the template; differing fixed lines are named
    bare = parse_network("species: X1 Z1 Z2\nX1 -> Z2 ; k=1\n")
    assert rpa.adopt(bare).template == rpa.template
    wrong = parse_network("species: X1 Z1 Z2\noutputs: X1\nfixed: 0 -> Z1 ; k=1 * u1\nfixed: Z2 -> 0 ; k=1\n")
    with pytest.raises(CRNError, match=r"'Z2 -> 0' only in the network.*'X1 -> 0 \[k\*u2\]' only in the task"):
        rpa.adopt(wrong)
    with pytest.raises(CRNError, match=r"species \['W'\] are not in task 'rpa'"):
        rpa.adopt(parse_network("species: X1 W\nX1 -> W ; k=1\n"))


# ------------------------------------------------------------------ expressions
def test_expressions_values():
    env = {"u1": np.array([0.0, 1.0, 3.0]), "u2": np.array([1.0, 0.0, 1.0]), "u3": np.array([0.0, 0.0, 1.0])}
    np.testing.assert_allclose(Expr("u1/(1+u1)")(env), [0, 0.5, 0.75])
    np.testing.assert_allclose(Expr("2*u1 - -1")(env), [1, 3, 7])
    np.testing.assert_allclose(Expr("(u1 & u2) | u3")(env), [0, 0, 1])
    np.testing.assert_allclose(Expr("u1 and not u2")(env), [0, 1, 0])
    np.testing.assert_allclose(Expr("~u2 ^ u3")(env), [0, 1, 1])
    np.testing.assert_allclose(Expr("hill(u1, 1, 2)")(env), [0, 0.5, 0.9])
    np.testing.assert_allclose(Expr("min(u1, 2) + (u1 > 1)")(env), [0, 1, 3])
    assert Expr("u3 * init_X1 + t").names == {"u3", "init_X1", "t"}
    assert Expr(2).is_constant and float(Expr(2.5)({})) == 2.5
    assert math.isinf(float(Expr("9**9**9")({})))      # floats: overflows, does not hang


@pytest.mark.parametrize("text,why", [
    ("__import__('os').system('true')", "unknown function"),
    ("u1.real", "Attribute is not allowed"),
    ("[u1, u2]", "List is not allowed"),
    ("(lambda: 1)()", "unknown function"),
    ("'a'", "only numbers"),
    ("x + 1", "unknown name"),
    ("u1 if u2 else u3", "IfExp is not allowed"),
    ("exp(u1, u2)", "takes 1 argument"),
    ("u1 +", "not a valid expression"),
    ("u1 @ u2", "MatMult is not allowed"),
    ("", "is empty"),
])
def test_expressions_rejected(text, why):
    with pytest.raises(CRNError, match=why):
        Expr(text, "target")


def test_expression_missing_name():
    with pytest.raises(CRNError, match=r"uses \['u2'\].*available: u1"):
        Expr("u1 + u2")({"u1": 1.0})


def test_batch_prior_matches_per_network():
    nets = [antithetic_example(), Network(antithetic_example().template, ()),
            parse_network("species: X Y\n0 -> Y ; hill b=0.01 V=2 act X K=0.5 n=2\nX -> 0 ; deg c=1 K=2 by Y\n"),
            parse_network("species: X\nX -> 0 ; k=5000\n")]
    prior = LogParameterPrior()
    batch = prior.log_prob_networks(nets)
    single = [prior.log_prob_reactions(n.reactions) for n in nets]
    np.testing.assert_allclose(batch[:3], single[:3])
    assert batch[1] == 0 and np.isneginf(batch[3]) and np.isneginf(single[3])


def test_reward_power_term_from_a_task_file(tmp_path):
    """reward_alpha adds -alpha log((L + eps)/(cap + eps)) to the log-reward; the floor moves below it."""
    import math

    import numpy as np

    from gfn_crn.crn import antithetic_example
    from gfn_crn.tasks import load_task

    text = ('kind = "tracking"\n[template]\nexample = "antithetic"\n[scenarios]\ninputs = { u1 = [1.0], u2 = [0.5, 1.5] }\n'
            'init = 0.01\n[time]\nt_f = 20\nn_t = 50\n[task]\ntarget = "u1"\n[reward]\n')
    (tmp_path / "a.toml").write_text(text)
    (tmp_path / "b.toml").write_text(text + "reward_alpha = 3\nreward_eps = 0.01\n")
    a, b = load_task(str(tmp_path / "a.toml")), load_task(str(tmp_path / "b.toml"))
    net = a.adopt(antithetic_example())
    ra, rb = a.evaluate([net]), b.evaluate([net])
    L = float(ra.loss[0])
    assert rb.valid[0] and L < 1 and float(rb.loss[0]) == L
    assert float(rb.log_reward[0] - ra.log_reward[0]) == pytest.approx(-3 * math.log((L + 0.01) / 1.01))
    assert a.reward_alpha == 0 and a.floor == -70
    assert b.floor == pytest.approx(-70 - 3 * math.log(1.01 / 0.01)) and b.settings()["reward_alpha"] == 3
    assert np.all(b.loss_to_log_reward(np.array([0.0, 1.0, 5.0])) > b.floor)
