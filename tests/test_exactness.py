"""Exactness (DESIGN.md 6.8): the trained sampler's exact terminal distribution against the
normalised reward, and the learned log Z against closed forms."""

import numpy as np
import pytest

from gfn_crn.envs import CRNEnv
from gfn_crn.training.config import plain_tb
from gfn_crn.training import (
    ProductDensityReward,
    TableReward,
    ON_POLICY,
    TrainConfig,
    enumerate_sets,
    exact_terminal_distribution,
    l1_distance,
    log_partition,
    small_library,
    target_distribution,
    train,
)


def table_env(order, M=5, max_r=3, seed=1):
    tmpl, lib = small_library(M)
    probe = CRNEnv(lib, tmpl, None, order=order, max_reactions=max_r, min_reactions=0, fixed_parameters=True)
    sets = enumerate_sets(probe)
    rng = np.random.default_rng(seed)
    table = {s: float(rng.normal(0.0, 1.0)) for s in sets}
    env = CRNEnv(lib, tmpl, TableReward(lib, table), order=order, max_reactions=max_r, min_reactions=0,
                 fixed_parameters=True)
    return env, sets, np.array([table[s] for s in sets])


@pytest.mark.slow
@pytest.mark.parametrize("order,iters,tol", [("canonical", 600, 0.02), ("free", 1000, 0.03)])
def test_exact_terminal_distribution_matches_normalised_reward(order, iters, tol):
    env, sets, lr = table_env(order)
    assert len(sets) == 26  # sets of <= 3 of 5 reactions
    res = train(env, plain_tb(n_iterations=iters, batch_size=64, hidden=64, lr=1e-3, lr_logZ=0.1, seed=0, **ON_POLICY))
    finals, p = exact_terminal_distribution(env, res.pf)
    assert finals == sets
    assert abs(p.sum() - 1) < 1e-6
    q = target_distribution(lr)
    L1 = l1_distance(p, q)
    assert L1 <= tol, f"L1={L1:.4f}"
    assert abs(res.logZ - log_partition(lr)) < 0.05


def test_untrained_policy_is_far_from_the_target():
    """The exactness check can fail: an untrained policy has a large L1."""
    env, sets, lr = table_env("canonical")
    res = train(env, plain_tb(n_iterations=1, batch_size=8, hidden=64, lr_logZ=0.05, **ON_POLICY))
    _, p = exact_terminal_distribution(env, res.pf)
    assert l1_distance(p, target_distribution(lr)) > 0.2


def product_density_env(order, seed=2):
    tmpl, lib = small_library(4)
    probe = CRNEnv(lib, tmpl, None, order=order, max_reactions=2, min_reactions=0, fixed_parameters=True)
    rng = np.random.default_rng(seed)
    base = {s: float(rng.normal(0.0, 0.5)) for s in enumerate_sets(probe)}
    R = ProductDensityReward(lib, base, rng.uniform(-1, 1, (4, 1)), rng.uniform(0.3, 0.8, (4, 1)))
    return CRNEnv(lib, tmpl, R, order=order, max_reactions=2, min_reactions=0), R


@pytest.mark.slow
def test_learned_logZ_matches_closed_form_with_continuous_parameters():
    env, R = product_density_env("canonical")
    res = train(env, plain_tb(n_iterations=400, batch_size=64, hidden=64, lr=1e-3, lr_logZ=0.1, seed=0, **ON_POLICY))
    logZ = np.mean([r["logZ"] for r in res.history[-50:]])
    assert abs(logZ - R.log_Z) < 0.05, (logZ, R.log_Z)


@pytest.mark.slow
def test_off_policy_training_reaches_the_same_logZ():
    env, R = product_density_env("free")
    explore = dict(temperature_start=2.0, temperature_end=2.0, epsilon_start=0.1, epsilon_end=0.1,
                   param_spread_start=1.5, param_spread_end=1.5)
    on = train(env, plain_tb(n_iterations=500, batch_size=64, hidden=64, lr_logZ=0.1, seed=0, **ON_POLICY))
    off = train(env, plain_tb(n_iterations=500, batch_size=64, hidden=64, lr_logZ=0.1, seed=0, **explore, anneal_fraction=0.0))
    z_on = np.mean([r["logZ"] for r in on.history[-100:]])
    z_off = np.mean([r["logZ"] for r in off.history[-100:]])
    assert abs(z_on - R.log_Z) < 0.05 and abs(z_off - R.log_Z) < 0.05, (z_on, z_off, R.log_Z)
    assert abs(z_on - z_off) < 0.05


@pytest.mark.slow
def test_free_order_with_learned_backward_policy_is_exact_too():
    env, sets, lr = table_env("free")
    res = train(env, plain_tb(n_iterations=900, batch_size=64, hidden=64, lr=1e-3, lr_logZ=0.1, seed=0,
                                 learned_pb=True, **ON_POLICY))
    assert res.pb.__class__.__name__ == "LearnedBackwardEstimator"
    _, p = exact_terminal_distribution(env, res.pf)
    assert l1_distance(p, target_distribution(lr)) <= 0.03
