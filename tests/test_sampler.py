"""CRNSampler: behaviour vs on-policy log-probs (the torchgfn trap), and torchgfn losses/buffers."""

import numpy as np
import pytest
import torch
from gfn.containers import ReplayBuffer
from gfn.estimators import ScalarEstimator
from gfn.gflownet import DBGFlowNet, SubTBGFlowNet, TBGFlowNet
from gfn.samplers import Sampler
from gfn.utils.prob_calculations import get_trajectory_pfs

from gfn_crn.crn import antithetic_example, hill_library, mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.estimators import (
    FFNN,
    CRNPolicyEstimator,
    CRNPreprocessor,
    LearnedBackwardEstimator,
    default_backward_estimator,
)
from gfn_crn.samplers import CRNSampler
from gfn_crn.training import RandomQuadraticReward

EXPLORE = dict(temperature=3.0, epsilon=0.3, sf_bias=1.0, param_spread=2.0)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def setup(order="free", hill=False):
    tmpl = antithetic_example().template
    lib = mass_action_library(tmpl.species)
    if hill:
        lib = lib + hill_library(tmpl.species, 1)
    env = CRNEnv(lib, tmpl, RandomQuadraticReward(lib), order=order, max_reactions=4, debug=True)
    pf = CRNPolicyEstimator(env, hidden=32)
    with torch.no_grad():
        for p in pf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    pb = default_backward_estimator(env)
    return env, pf, pb


@pytest.mark.parametrize("order", ["canonical", "free"])
def test_saved_log_probs_are_on_policy_whatever_the_exploration(order):
    env, pf, pb = setup(order, hill=True)
    tr = CRNSampler(pf).sample_trajectories(env, n=32, save_logprobs=True, **EXPLORE)
    on = get_trajectory_pfs(pf, tr, recalculate_all_logprobs=True)
    torch.testing.assert_close(tr.log_probs.detach(), on.detach(), rtol=1e-4, atol=1e-4)
    # the behaviour log-probs are the tempered ones, and they differ
    beh = get_trajectory_pfs(pf, tr, recalculate_all_logprobs=True, **EXPLORE)
    torch.testing.assert_close(tr.behaviour_log_probs, beh.detach(), rtol=1e-4, atol=1e-4)
    assert (tr.behaviour_log_probs - on.detach()).abs().max() > 0.1
    # so the TB loss is the same with or without recomputation, and has gradients
    gfn = TBGFlowNet(pf, pb, init_logZ=0.0)
    l_cached = gfn.loss(env, tr, recalculate_all_logprobs=False)
    l_fresh = gfn.loss(env, tr, recalculate_all_logprobs=True)
    torch.testing.assert_close(l_cached, l_fresh, rtol=1e-4, atol=1e-4)
    l_cached.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in pf.parameters())


def test_the_stock_torchgfn_sampler_also_stores_on_policy_log_probs():
    env, pf, pb = setup()
    gfn = TBGFlowNet(pf, pb, init_logZ=0.0)
    tr = gfn.sample_trajectories(env, n=32, save_logprobs=True, **EXPLORE)  # torchgfn's own Sampler
    assert type(Sampler(pf)) is Sampler
    on = get_trajectory_pfs(pf, tr, recalculate_all_logprobs=True)
    torch.testing.assert_close(tr.log_probs.detach(), on.detach(), rtol=1e-4, atol=1e-4)


def test_saved_estimator_outputs_reproduce_on_policy_log_probs():
    env, pf, pb = setup(hill=True)
    tr = CRNSampler(pf).sample_trajectories(env, n=16, save_estimator_outputs=True, **EXPLORE)
    assert tr.log_probs is None
    cached = get_trajectory_pfs(pf, tr, recalculate_all_logprobs=False)
    fresh = get_trajectory_pfs(pf, tr, recalculate_all_logprobs=True)
    torch.testing.assert_close(cached, fresh, rtol=1e-4, atol=1e-4)


def test_behaviour_log_probs_without_saving_gradients():
    env, pf, _ = setup()
    with torch.no_grad():
        tr = CRNSampler(pf).sample_trajectories(env, n=16, save_behaviour_logprobs=True, temperature=2.0)
    assert tr.log_probs is None and tr.behaviour_log_probs is not None
    ref = get_trajectory_pfs(pf, tr, recalculate_all_logprobs=True, temperature=2.0)
    torch.testing.assert_close(tr.behaviour_log_probs, ref.detach(), rtol=1e-4, atol=1e-4)
    # padding and terminating shape conventions of torchgfn
    assert tr.actions.tensor.shape[0] == tr.states.tensor.shape[0] - 1
    assert (tr.actions.is_dummy == tr.states.is_sink_state[:-1]).all()


def test_db_subtb_and_replay_buffer_work_on_crn_trajectories():
    env, pf, _ = setup("free")
    pb = LearnedBackwardEstimator(env, hidden=16)
    prep = CRNPreprocessor(env)
    logF = ScalarEstimator(FFNN(prep.output_dim, 1, 16, 1), prep)
    tr = CRNSampler(pf).sample_trajectories(env, n=16, **EXPLORE)
    db = DBGFlowNet(pf, pb, logF)
    loss_db = db.loss(env, db.to_training_samples(tr))
    sub = SubTBGFlowNet(pf, pb, logF, lamda=0.9)
    loss_sub = sub.loss(env, tr)
    tb = TBGFlowNet(pf, pb, init_logZ=1.5)
    assert abs(float(tb.logZ) - 1.5) < 1e-7 and tb.logZ.requires_grad
    loss_tb = tb.loss(env, tr)
    for loss in (loss_db, loss_sub, loss_tb):
        assert torch.isfinite(loss)
        loss.backward()
    for p in list(pf.parameters()) + list(pb.parameters()) + list(logF.parameters()):
        assert p.grad is None or torch.isfinite(p.grad).all()
    buf = ReplayBuffer(env, capacity=20)
    buf.add(tr)
    buf.add(CRNSampler(pf).sample_trajectories(env, n=16))
    assert len(buf) == 20
    replayed = buf.sample(8)
    assert torch.isfinite(tb.loss(env, replayed, recalculate_all_logprobs=True))
    np.testing.assert_allclose(replayed.log_rewards.numpy(), env.log_reward(replayed.terminating_states).numpy(),
                               rtol=1e-6)


def test_sampler_is_torchgfns_rollout_plus_behaviour_log_probs():
    """The rollout is the stock Sampler's: same seed, same trajectories."""
    env, pf, _ = setup()
    torch.manual_seed(5)
    with torch.no_grad():
        a = CRNSampler(pf).sample_trajectories(env, n=16, **EXPLORE)
    torch.manual_seed(5)
    with torch.no_grad():
        b = Sampler(pf).sample_trajectories(env, n=16, **EXPLORE)
    assert torch.equal(a.states.tensor, b.states.tensor) and torch.equal(a.actions.tensor, b.actions.tensor)


def test_destroy_and_rebuild_keeps_the_rest_of_each_parent():
    env, pf, _ = setup()
    with torch.no_grad():
        parents = env.states_to_networks(CRNSampler(pf).sample_trajectories(env, n=6).terminating_states)
    parents = [p for p in parents if len(p.reactions) >= 2][:3]
    assert parents
    traj = CRNSampler(pf).destroy_and_rebuild(env, parents, neighbours=2, destroy=1, rng=np.random.default_rng(0))
    nets = env.states_to_networks(traj.terminating_states)
    assert len(nets) == 2 * len(parents)
    for i, p in enumerate(parents):
        for n in nets[2 * i: 2 * i + 2]:
            assert len(p.topology & n.topology) >= len(p.reactions) - 1  # at most the destroyed one is missing
