"""The policy estimator (log-probs by hand, exploration kwargs, full support) and backward policies."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Normal

from gfn_crn.crn import ReactionLibrary, antithetic_example, hill_library, mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.estimators import (
    CanonicalBackwardEstimator,
    CRNPolicyEstimator,
    LearnedBackwardEstimator,
    UniformBackwardEstimator,
)
from gfn_crn.samplers import CRNSampler


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def make_env(order="free", hill=False, **kw):
    tmpl = antithetic_example().template
    lib = mass_action_library(tmpl.species)
    if hill:
        lib = lib + hill_library(tmpl.species, 2)
    kw.setdefault("max_reactions", 4)
    return CRNEnv(lib, tmpl, None, order=order, debug=True, **kw)


def some_states(env, pf, n=64, **kw):
    """Non-sink states from policy rollouts (all depths)."""
    tr = CRNSampler(pf).sample_trajectories(env, n=n, **kw)
    st = tr.states.flatten()
    keep = ~st.is_sink_state
    return st[keep]


def perturb(pf, scale=1.0):
    with torch.no_grad():
        for p in pf.parameters():
            p.add_(scale * torch.randn_like(p))


def hand_log_prob(pf, states, actions, temperature=1.0, epsilon=0.0, sf_bias=0.0, spread=1.0, param_eps=0.0):
    """Independent computation with torch.distributions on the chosen reaction's live slots."""
    env = pf.spec  # the action spec the policy was built from
    out = pf(states)
    logits, h = out[:, : env.M + 1], out[:, env.M + 1 :]
    masks = env.forward_masks(states.tensor)
    res = []
    for b in range(len(actions)):
        j = int(actions[b, 0])
        x = logits[b].clone()
        x[-1] = x[-1] - sf_bias
        x = (x / temperature).masked_fill(~masks[b], float("-inf"))
        p = torch.softmax(x, -1)
        p = (1 - epsilon) * p + epsilon * masks[b].double().to(p.dtype) / masks[b].sum()
        lp = torch.log(p[j])
        if j < env.M:
            raw = pf.param_head(h[b : b + 1], torch.tensor([j]))[0]
            nc = int(env.cmask[j].sum())  # the library's continuous parameter count (prefix mask)
            P = env.P_c
            loc = pf.center + pf.half_width * torch.tanh(raw[:P])
            scale = (torch.nn.functional.softplus(raw[P : 2 * P]) + pf.sigma_min) * spread
            y = actions[b, 1 : 1 + nc].float()
            N = Normal(loc[:nc], scale[:nc])  # truncated to the prior support
            lpc = (N.log_prob(y) - torch.log(N.cdf(torch.tensor(env.prior.high)) - N.cdf(torch.tensor(env.prior.low)))).sum()
            nd = int(env.dmask[j].sum())
            if nd:
                rd = raw[pf.n_cont : pf.n_cont + env.P_d * env.K].reshape(env.P_d, env.K)
                dv = actions[b, 1 + P : 1 + P + nd].long()
                lpc = lpc + torch.log_softmax(rd[:nd], -1).gather(-1, dv[:, None]).sum()
            if param_eps > 0:
                lpb = torch.tensor(float(env.prior.log_prob_y(y.detach().numpy())) - nd * math.log(env.K))
                lpc = torch.logaddexp(lpc + math.log(1 - param_eps), lpb + math.log(param_eps))
            lp = lp + lpc
        res.append(lp)
    return torch.stack(res)


@pytest.mark.parametrize("kw", [
    {},
    {"temperature": 2.5},
    {"epsilon": 0.3},
    {"sf_bias": 1.5, "temperature": 0.7},
    {"param_spread": 3.0},
    {"param_epsilon": 0.4},
    {"temperature": 1.7, "epsilon": 0.2, "sf_bias": -0.5, "param_spread": 0.5, "param_epsilon": 0.25},
])
def test_log_prob_equals_hand_computation(kw):
    env = make_env(hill=True)
    pf = CRNPolicyEstimator(env, hidden=32)
    perturb(pf, 0.3)
    states = some_states(env, pf, 24)
    dist = pf.to_probability_distribution(states, pf(states), **kw)
    actions = dist.sample()
    got = dist.log_prob(actions)
    ref = hand_log_prob(pf, states, actions, kw.get("temperature", 1.0), kw.get("epsilon", 0.0),
                        kw.get("sf_bias", 0.0), kw.get("param_spread", 1.0),
                        kw.get("param_epsilon", kw.get("epsilon", 0.0)))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    # the on-policy log-prob of the same actions is the untempered hand computation
    torch.testing.assert_close(dist.on_policy_log_prob(actions), hand_log_prob(pf, states, actions),
                               rtol=1e-4, atol=1e-4)
    assert torch.isfinite(got).all()


def test_temperature_raises_structure_entropy():
    env = make_env()
    pf = CRNPolicyEstimator(env, hidden=32)
    perturb(pf, 0.5)
    states = some_states(env, pf, 32)
    out = pf(states)
    H = [pf.to_probability_distribution(states, out, temperature=t).structure_entropy() for t in (0.5, 1.0, 2.0, 4.0)]
    for lo, hi in zip(H, H[1:]):
        assert (hi > lo - 1e-6).all() and (hi > lo).any()


@pytest.mark.parametrize("eps", [0.05, 0.5])
def test_epsilon_gives_every_valid_action_at_least_eps_over_n(eps):
    env = make_env()
    pf = CRNPolicyEstimator(env, hidden=32)
    perturb(pf, 3.0)  # very peaked logits
    states = some_states(env, pf, 32)
    dist = pf.to_probability_distribution(states, pf(states), epsilon=eps)
    p = dist.struct_lp.exp()
    masks = env.forward_masks(states.tensor)
    n_valid = masks.sum(-1, keepdim=True)
    assert (p[masks] >= (eps / n_valid.expand_as(p))[masks] * (1 - 1e-5)).all()
    assert (p[~masks] == 0).all()
    torch.testing.assert_close(p.sum(-1), torch.ones(len(p)))


@pytest.mark.parametrize("family", ["lognormal_independent", "lognormal_correlated"])
def test_full_support_under_exploration_and_entropy(family):
    env = make_env(hill=True)
    env.debug = family != "lognormal_correlated"  # correlated draws may leave the support (floor reward)
    pf = CRNPolicyEstimator(env, hidden=32, family=family)
    perturb(pf, 0.3)
    states = some_states(env, pf, 32, temperature=3.0, epsilon=0.5, param_spread=4.0, param_epsilon=0.5)
    out = pf(states)
    behaviour = pf.to_probability_distribution(states, out, temperature=3.0, epsilon=0.5, param_spread=4.0,
                                               param_epsilon=0.5)
    on = pf.to_probability_distribution(states, out)
    a = behaviour.sample()
    assert torch.isfinite(on.log_prob(a)).all(), "on-policy has zero density where exploration samples"
    a2 = on.sample()
    assert torch.isfinite(behaviour.log_prob(a2)).all()
    H = on.entropy()
    assert torch.isfinite(H).all() and (H >= on.structure_entropy() - 10).all()


def test_structure_and_parameter_samples_match_the_distribution():
    tmpl = antithetic_example().template
    lib = ReactionLibrary(tmpl.species, mass_action_library(tmpl.species).reactions[:4])
    env = CRNEnv(lib, tmpl, None, order="free", max_reactions=2, min_reactions=0)
    pf = CRNPolicyEstimator(env, hidden=16)
    perturb(pf, 1.0)
    n = 20000
    states = env.reset(n)
    dist = pf.to_probability_distribution(states, pf(states))
    a = dist.sample()
    freq = torch.bincount(a[:, 0].long(), minlength=env.M + 1).double() / n
    p = dist.struct_lp[0].exp().double()
    assert (freq - p).abs().max() < 0.015
    j = int(torch.argmax(p[: env.M]))
    cont, _ = pf.parameter_distributions(pf(states[:1])[:, env.M + 1 :], torch.tensor([j]))
    y = a[a[:, 0] == j, 1].numpy()
    m, s = float(cont.loc[0, 0]), float(cont.scale[0, 0])
    tn = stats.truncnorm((env.prior.low - m) / s, (env.prior.high - m) / s, loc=m, scale=s)
    assert y.min() >= env.prior.low and y.max() <= env.prior.high
    assert stats.kstest(y, tn.cdf).pvalue > 1e-3


def test_unknown_policy_kwargs_are_an_error():
    env = make_env()
    pf = CRNPolicyEstimator(env, hidden=8)
    s = env.reset(2)
    with pytest.raises(TypeError, match="temprature"):
        pf.to_probability_distribution(s, pf(s), temprature=2.0)


def test_fixed_parameters_policy_is_structure_only():
    env = make_env(fixed_parameters=True)
    pf = CRNPolicyEstimator(env, hidden=8)
    s = env.reset(16)
    d = pf.to_probability_distribution(s, pf(s))
    a = d.sample()
    live = a[:, 0] < env.M
    assert (a[live, 1] == env.fixed_y).all()
    torch.testing.assert_close(d.log_prob(a), d.struct_lp.gather(1, a[:, :1].long())[:, 0])


def test_backward_estimators():
    env_f = make_env("free", min_reactions=0)
    env_c = make_env("canonical", min_reactions=0)
    pf = CRNPolicyEstimator(env_f, hidden=16)
    states = some_states(env_f, pf, 64)
    states = states[env_f.n_present(states.tensor) > 0]
    n = env_f.n_present(states.tensor)
    ub = UniformBackwardEstimator(env_f)
    d = ub.to_probability_distribution(states, ub(states))
    a = d.sample()
    torch.testing.assert_close(d.log_prob(a), -torch.log(n.float()))
    # sampled backward actions carry the stored parameters and undo a step exactly
    prev = env_f._backward_step(states, env_f.actions_from_tensor(a))
    again = env_f._step(prev, env_f.actions_from_tensor(a))
    assert torch.equal(again.tensor, states.tensor)
    lb = LearnedBackwardEstimator(env_f, hidden=16)
    perturb(lb, 1.0)
    dl = lb.to_probability_distribution(states, lb(states))
    p = dl.lp.exp()
    torch.testing.assert_close(p.sum(-1), torch.ones(len(p)))
    assert (p[~env_f.backward_masks(states.tensor)] == 0).all()
    # canonical: exactly PB = 1 for the last reaction, impossible otherwise
    cstates = env_c.states_from_tensor(states.tensor)
    cb = CanonicalBackwardEstimator(env_c)
    dc = cb.to_probability_distribution(cstates, cb(cstates))
    last = env_c.last_present(cstates.tensor)
    act = env_c.make_actions(last, torch.zeros(len(last), env_c.P_c))
    assert (dc.log_prob(act) == 0).all()
    uc = UniformBackwardEstimator(env_c)
    assert (uc.to_probability_distribution(cstates, uc(cstates)).log_prob(act) == 0).all()
    with pytest.raises(ValueError):
        CanonicalBackwardEstimator(env_f)


def test_family_choices():
    env = make_env(hill=True)
    with pytest.raises(ValueError):
        CRNPolicyEstimator(env, family="lognormal_1d")
    with pytest.raises(ValueError):
        CRNPolicyEstimator(env, family="normal_correlated")
    assert CRNPolicyEstimator(make_env()).family == "lognormal_1d"
    assert CRNPolicyEstimator(env).family == "lognormal_independent"
    # restricting Hill coefficients: forbidden values are never sampled
    allowed = torch.tensor([False, True, False, True])
    pf = CRNPolicyEstimator(env, hidden=16, allowed_discrete=allowed)
    tr = CRNSampler(pf).sample_trajectories(env, n=64, epsilon=0.5)
    a = tr.actions.tensor.reshape(-1, env.action_dim)
    a = a[(a[:, 0] >= 0) & (a[:, 0] < env.M)]
    nd = torch.as_tensor(env.library.n_discrete)[a[:, 0].long()]
    dvals = a[:, 1 + env.P_c :].long()
    live = torch.arange(env.P_d)[None] < nd[:, None]
    assert live.any()
    assert allowed[dvals[live]].all()


def test_estimators_are_built_from_the_action_spec():
    """A policy reads the env's action spec only: built from env.spec it is the same policy."""
    from gfn_crn.envs import CRNActionSpec

    env = make_env("free", hill=True)
    torch.manual_seed(1)
    a = CRNPolicyEstimator(env, hidden=16)
    torch.manual_seed(1)
    b = CRNPolicyEstimator(env.spec, hidden=16)
    assert isinstance(a.spec, CRNActionSpec) and a.spec is env.spec and not hasattr(a, "env")
    states = env.reset(batch_shape=(3,))
    torch.testing.assert_close(a(states), b(states))
    pb = UniformBackwardEstimator(env.spec)
    assert pb.spec is env.spec and LearnedBackwardEstimator(env).spec is env.spec
