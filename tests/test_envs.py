"""The CRN environment: masks, step/backward_step, networks, rewards, validity errors."""

import math

import numpy as np
import pytest
import torch
from gfn.env import NonValidActionsError

from gfn_crn.crn import (
    CRNError,
    ReactionInstance,
    ReactionLibrary,
    Template,
    antithetic_example,
    hill_library,
    mass_action,
    mass_action_library,
)
from gfn_crn.envs import CRNEnv
from gfn_crn.training import count_trajectories


@pytest.fixture(scope="module")
def rpa():
    net = antithetic_example()
    return net, net.template, mass_action_library(net.template.species)


def random_actions(env, states, gen):
    """Uniformly random valid actions (random structure, random in-support parameters)."""
    masks = env.forward_masks(states.tensor)
    j = torch.multinomial(masks.double(), 1, generator=gen)[:, 0]
    y = env.prior.low + (env.prior.high - env.prior.low) * torch.rand(len(j), env.P_c, generator=gen, dtype=torch.float64)
    d = torch.randint(0, env.K, (len(j), env.P_d), generator=gen)
    if env.fixed_parameters:
        y, d = env.fixed_action_parameters(j)
    return env.actions_from_tensor(env.make_actions(j, y, d))


def rollout(env, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    states = env.reset(n)
    seq = [states]
    acts = []
    while not states.is_sink_state.all():
        live = ~states.is_sink_state
        a = env.actions_from_tensor(env.dummy_action.repeat(n, 1))
        a.tensor[live] = random_actions(env, states[live], gen).tensor
        acts.append(a)
        states = env._step(states, a)
        seq.append(states)
    return seq, acts


def small_hill_env(order, **kw):
    tmpl = antithetic_example().template
    lib = mass_action_library(tmpl.species) + hill_library(tmpl.species, 2)
    return CRNEnv(lib, tmpl, None, order=order, debug=True, **kw)


@pytest.mark.parametrize("order", ["canonical", "free"])
@pytest.mark.parametrize("min_r,max_r", [(0, 3), (2, 4), (3, 3)])
def test_masks_over_random_trajectories(order, min_r, max_r):
    env = small_hill_env(order, min_reactions=min_r, max_reactions=max_r)
    seq, acts = rollout(env, 200, seed=min_r * 10 + max_r)
    for s, a in zip(seq[:-1], acts):
        live = ~s.is_sink_state
        t, j = s.tensor[live], a.tensor[live, 0].long()
        pres = env.presence(t)
        n = pres.sum(-1)
        is_exit = j == env.M
        assert not pres[torch.arange(len(j))[~is_exit], j[~is_exit]].any(), "re-added a present reaction"
        assert (n[~is_exit] < max_r).all(), "more than max_reactions"
        assert (n[is_exit] >= min_r).all(), "exit before min_reactions"
        if order == "canonical":
            assert (j[~is_exit] > env.last_present(t)[~is_exit]).all()
        m = env.forward_masks(t)
        assert m.any(-1).all(), "dead end: no valid action"
    # every trajectory ends (exit) with a size in range
    final = [s for s in seq]
    assert seq[-1].is_sink_state.all()
    lengths = torch.stack([~x.is_sink_state for x in final]).sum(0) - 1
    assert ((lengths >= min_r) & (lengths <= max_r)).all()


@pytest.mark.parametrize("order", ["canonical", "free"])
def test_backward_step_inverts_step(order):
    env = small_hill_env(order, min_reactions=0, max_reactions=4)
    seq, acts = rollout(env, 100, seed=3)
    for s, a, s2 in zip(seq[:-1], acts, seq[1:]):
        keep = ~s.is_sink_state & ~a.is_exit
        if not keep.any():
            continue
        back = env._backward_step(s2[keep], a[keep])
        assert torch.equal(back.tensor, s[keep].tensor)
        assert env.is_action_valid(s2[keep], a[keep], backward=True)


def test_state_network_round_trip(rpa):
    net, tmpl, lib = rpa
    env = CRNEnv(lib, tmpl, None, max_reactions=5)
    st = env.networks_to_states([net])
    assert int(env.n_present(st.tensor)) == 5
    back = env.states_to_networks(st)[0]
    assert back.topology == net.topology
    orig = {i.reaction.signature: i.cparams for i in net.reactions}
    for inst in back.reactions:
        np.testing.assert_allclose(inst.cparams, orig[inst.reaction.signature], rtol=1e-13)
    # state -> network -> state is exact up to exp/log rounding, on random hill states too
    henv = small_hill_env("free", min_reactions=0, max_reactions=4)
    seq, _ = rollout(henv, 50, seed=5)
    s = seq[-2] if not seq[-2].is_sink_state.any() else seq[1]
    s = s[~s.is_sink_state]
    again = henv.networks_to_states(henv.states_to_networks(s))
    torch.testing.assert_close(again.tensor, s.tensor, rtol=1e-12, atol=1e-12)
    with pytest.raises(CRNError):
        env.states_to_networks(env.reset(1, sink=True))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_number_of_trajectories_per_set(n):
    tmpl = antithetic_example().template
    lib = ReactionLibrary(tmpl.species, mass_action_library(tmpl.species).reactions[:6])
    target = (0, 2, 3, 5)[:n]
    for order, expected in (("canonical", 1), ("free", math.factorial(n))):
        env = CRNEnv(lib, tmpl, None, order=order, max_reactions=4, min_reactions=0, fixed_parameters=True)
        assert count_trajectories(env, target) == expected


def test_fixed_reactions_of_the_template_are_never_offered():
    tmpl = Template(("A", "B"), ("A",), (ReactionInstance(mass_action(["A"], []), (1.0,)),))
    lib = mass_action_library(["A", "B"])
    env = CRNEnv(lib, tmpl, None, order="free", max_reactions=3, debug=True)
    j = lib.index(mass_action(["A"], []))
    assert not env.forward_masks(env.reset(1).tensor)[0, j]
    seq, acts = rollout(env, 100, seed=1)
    for a in acts:
        assert not (a.tensor[:, 0] == j).any()


def test_invalid_actions_raise_clear_errors_in_debug_mode(rpa):
    _, tmpl, lib = rpa
    env = CRNEnv(lib, tmpl, None, order="canonical", max_reactions=2, min_reactions=1, debug=True)
    s0 = env.reset(1)
    one = env._step(s0, env.actions_from_tensor(env.make_actions(torch.tensor([4]), torch.tensor([[0.1]]))))

    def act(j, y=0.0):
        return env.actions_from_tensor(env.make_actions(torch.tensor([j]), torch.tensor([[y]], dtype=torch.float64)))

    cases = [
        (s0, env.actions_from_tensor(torch.tensor([[float(env.M + 3), 0.0]], dtype=torch.float64)), "out of range"),
        (one, act(4), "already present"),
        (one, act(2), "increasing library index"),
        (s0, env.actions_from_tensor(env.exit_action[None].clone()), "min_reactions"),
        (s0, act(3, float("nan")), "NaN"),
        (s0, act(3, 50.0), "outside the prior support"),
    ]
    for states, actions, words in cases:
        with pytest.raises(NonValidActionsError, match=words):
            env._step(states, actions)
    two = env._step(one, act(10, 0.2))
    with pytest.raises(NonValidActionsError, match="max_reactions"):
        env._step(two, act(20))
    with pytest.raises(NonValidActionsError, match="not present|last reaction"):
        env._backward_step(two, act(4, 0.1))
    # normal (non-debug) use: no check, and the policy's masks keep invalid structure away
    quiet = CRNEnv(lib, tmpl, None, order="canonical", max_reactions=2)
    assert quiet.is_action_valid(s0, act(3, 50.0))


class CountingTask:
    def __init__(self, fn):
        self.fn, self.calls, self.sizes = fn, 0, []

    def __call__(self, nets):
        self.calls += 1
        self.sizes.append(len(nets))
        return self.fn(nets)


def test_log_reward_batches_floors_and_support(rpa):
    _, tmpl, lib = rpa

    def fn(nets):
        n = np.array([len(x.reactions) for x in nets], dtype=float)
        lr = -n
        lr[n == 2] = np.nan  # non-finite
        valid = n != 3  # invalid
        return lr, valid

    task = CountingTask(fn)
    env = CRNEnv(lib, tmpl, task, order="free", max_reactions=4, min_reactions=0, log_reward_floor=-77.0)
    t = env.s0.repeat(6, 1)
    for b, js in enumerate([(), (1,), (1, 2), (1, 2, 3), (4,), (5,)]):
        t[b, list(js)] = 1.0
        for j in js:
            t[b, env.y_off + j] = 0.5
    t[4, env.y_off + 4] = 20.0  # outside the prior support
    lr = env.log_reward(env.states_from_tensor(t))
    assert task.calls == 1 and task.sizes == [5], "one task call for the whole batch, out-of-support skipped"
    np.testing.assert_allclose(lr.numpy(), [0.0, -1.0, -77.0, -77.0, -77.0, -1.0])
    # add_prior: the prior's log-density of the live log-values is added
    env2 = CRNEnv(lib, tmpl, lambda nets: (np.zeros(len(nets)), np.ones(len(nets), bool)), add_prior=True,
                  order="free", max_reactions=4, min_reactions=0)
    lr2 = env2.log_reward(env2.states_from_tensor(t[[1]]))
    np.testing.assert_allclose(lr2.numpy(), env2.prior.log_prob_y(np.array([0.5])), rtol=1e-6)
    # a malformed task answer is a clear error
    env3 = CRNEnv(lib, tmpl, lambda nets: (np.zeros(2), np.ones(2, bool)), order="free")
    with pytest.raises(CRNError, match="shape"):
        env3.log_reward(env3.states_from_tensor(t[:3]))


def test_reward_cache_hits(rpa):
    _, tmpl, lib = rpa
    task = CountingTask(lambda nets: (np.ones(len(nets)), np.ones(len(nets), bool)))
    env = CRNEnv(lib, tmpl, task, order="free", reward_cache_size=10, min_reactions=0)
    st = env.reset(4)
    env.log_reward(st)
    env.log_reward(st)
    assert task.sizes == [4] and env.reward_cache_hits == 4


def test_constructor_errors(rpa):
    _, tmpl, lib = rpa
    with pytest.raises(CRNError):
        CRNEnv(lib, tmpl, None, order="sideways")
    with pytest.raises(CRNError):
        CRNEnv(mass_action_library(["Q"]), tmpl, None)
    with pytest.raises(CRNError):
        CRNEnv(lib, tmpl, None, min_reactions=4, max_reactions=3)


def test_floor_follows_the_task_unless_given(rpa):
    _, tmpl, lib = rpa

    class T:
        floor = -12.5

        def __call__(self, nets):
            return np.zeros(len(nets)), np.zeros(len(nets), bool)

    env = CRNEnv(lib, tmpl, T(), order="free", min_reactions=0)
    assert env.log_reward_floor == -12.5
    assert float(env.log_reward(env.reset(1))) == -12.5
    assert CRNEnv(lib, tmpl, T(), log_reward_floor=-3.0).log_reward_floor == -3.0
    assert CRNEnv(lib, tmpl, None).log_reward_floor == -50.0
