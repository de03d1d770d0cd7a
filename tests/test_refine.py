"""Rate refinement's public API (gfn_crn.rewards.refine): the rate vector of a network and back,
losses that rank invalid candidates last, and the evolution strategy itself on a scorer that
simulates nothing (a quadratic bowl in ln k), so these tests take milliseconds."""

from dataclasses import fields

import numpy as np
import pytest

from gfn_crn.crn import Network, ReactionInstance, antithetic_example, hill_library
from gfn_crn.rewards import TaskResult, TopologyReward, log_rates, losses_or_inf, refine, with_log_rates
from gfn_crn.rewards import topology as topology_module
from gfn_crn.training.config import TopologyConfig


def _antithetic():
    return antithetic_example()


def test_log_rates_lists_every_continuous_parameter_in_order():
    net = _antithetic()
    k = [v for inst in net.reactions for v in inst.cparams]
    np.testing.assert_array_equal(log_rates(net), np.log(k))


def test_with_log_rates_keeps_everything_but_the_rates():
    net = _antithetic()
    y = log_rates(net) + 0.5
    other = with_log_rates(net, y)
    assert other.template == net.template and other.name == net.name
    assert [i.reaction for i in other.reactions] == [i.reaction for i in net.reactions]
    assert [i.dparams for i in other.reactions] == [i.dparams for i in net.reactions]
    np.testing.assert_allclose(log_rates(other), y, rtol=0, atol=1e-12)
    # the round trip is the identity up to round-off
    back = with_log_rates(net, log_rates(net))
    np.testing.assert_allclose([v for i in back.reactions for v in i.cparams],
                               [v for i in net.reactions for v in i.cparams], rtol=1e-15)


def test_with_log_rates_keeps_hill_coefficients():
    template = _antithetic().template
    r = hill_library(["X1", "Z1"]).reactions[0]  # 0 -> X1, activated by X1: 3 rates, 1 Hill coefficient
    net = Network(template, (ReactionInstance(r, (1.0,) * r.n_continuous, (2,) * r.n_discrete),))
    y = np.linspace(-1.0, 1.0, r.n_continuous)
    other = with_log_rates(net, y)
    assert other.reactions[0].dparams == (2,) * r.n_discrete
    np.testing.assert_allclose(other.reactions[0].cparams, np.exp(y))


class _Bowl:
    """A duck-typed scorer: loss = mean((ln k - target)^2), invalid where the first ln k > 2."""

    def __init__(self, target=0.7):
        self.target = target
        self.calls = 0
        self.evaluated = 0
        self.task = self  # its own task; no prior: refine bounds ln k to ln 1e-3 .. ln 1e3
        self.loss_cap = 1.0

    def evaluate(self, networks):
        self.calls += 1
        self.evaluated += len(networks)
        y = [log_rates(n) for n in networks]
        loss = np.asarray([float(np.mean((v - self.target) ** 2)) for v in y])
        valid = np.asarray([v[0] <= 2.0 for v in y])
        loss = np.where(valid, loss, self.loss_cap)
        B = len(networks)
        return TaskResult(loss, -loss, valid, np.where(valid, "ok", "failed"), np.zeros(B), loss[:, None], None)


def test_losses_or_inf_ranks_invalid_candidates_last():
    net = _antithetic()
    n = log_rates(net).size
    bowl = _Bowl()
    nets = [with_log_rates(net, np.full(n, 0.7)), with_log_rates(net, np.full(n, 3.0)),
            with_log_rates(net, np.full(n, -5.0))]
    out = losses_or_inf(bowl, nets)
    assert bowl.calls == 1 and bowl.evaluated == 3  # one call: every network is counted
    assert out[0] == pytest.approx(0.0, abs=1e-20) and out[1] == np.inf and out[2] == pytest.approx(5.7 ** 2)


def test_refine_improves_within_its_budget_and_is_seeded():
    net = _antithetic()
    n = log_rates(net).size
    start = [with_log_rates(net, np.full(n, -2.0)), with_log_rates(net, np.full(n, 1.5))]
    bowl = _Bowl()
    r = refine(bowl, start, 2 * (1 + 10 * 8), popsize=8, seed=[1, 2], max_rounds=10)
    assert r.evaluations == bowl.evaluated <= 2 * (1 + 10 * 8)
    assert np.all(r.losses <= r.initial_losses) and np.all(r.losses < 0.5 * r.initial_losses)
    # per-network seeds: a network's result does not depend on its batch-mate
    alone = refine(_Bowl(), start[:1], 1 + 10 * 8, popsize=8, seed=[1], max_rounds=10)
    assert alone.losses[0] == r.losses[0]
    assert log_rates(alone.networks[0]).tolist() == log_rates(r.networks[0]).tolist()
    # and the same call gives the same result
    again = refine(_Bowl(), start, 2 * (1 + 10 * 8), popsize=8, seed=[1, 2], max_rounds=10)
    np.testing.assert_array_equal(again.losses, r.losses)


def test_topology_reward_defaults_are_the_run_settings_defaults():
    """rewards may not import training (the package order), so TopologyReward declares its own
    defaults; they must be those of a run's topology_* settings."""
    defaults = {f.name: f.default for f in fields(TopologyConfig)}
    assert topology_module.DEFAULT_ROUNDS == defaults["rounds"]
    assert topology_module.DEFAULT_POPSIZE == defaults["popsize"]
    assert topology_module.DEFAULT_SIGMA == defaults["sigma"]
    tr = TopologyReward(_Bowl())
    assert (tr.rounds, tr.popsize, tr.sigma0) == (defaults["rounds"], defaults["popsize"], defaults["sigma"])
