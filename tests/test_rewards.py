"""The reward layer: the reward map as a value (floor derived), explicit composable scorers."""

import ast
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gfn_crn.crn.errors import CRNError
from gfn_crn.rewards import BatchRecorder, RewardMap, Scorer, TaskResult, task_of
from gfn_crn.rewards.pool import TaskPool
from gfn_crn.tasks import load_task
from gfn_crn.rewards.evaluations import RecordingTask
from gfn_crn.rewards.topology import TopologyReward

PACKAGE = Path(__file__).resolve().parents[1] / "gfn_crn"


@pytest.fixture(scope="module")
def rpa():
    return load_task("rpa")


@pytest.mark.parametrize("beta,cap,alpha,eps", [(30, 1, 0, 1e-3), (100, 1, 0, 1e-3), (0.5, 2, 3, 1e-2),
                                                (1000, 0.1, 1, 1e-4), (30, -1, 0, 1e-3)])
def test_a_valid_candidate_always_scores_above_an_invalid_one(beta, cap, alpha, eps):
    m = RewardMap(beta=beta, cap=cap, alpha=alpha, eps=eps)
    losses = np.array([-5.0, 0.0, 1e-6, 0.3, abs(cap), 10 * abs(cap) + 7, 1e300])
    lr = m.log_reward(losses, np.zeros(losses.size), np.ones(losses.size, dtype=bool))
    assert np.all(lr > m.floor) and np.all(lr - m.margin >= m.floor - 1e-9)
    assert m.floor == pytest.approx(-(beta * abs(cap) + m.power_span + m.margin))


def test_the_floor_follows_beta_on_a_task(rpa):
    task = load_task("rpa")
    assert task.floor == -70
    task.beta = 100  # the case: the floor used to stay at -70
    assert task.floor == -140
    at_cap = task.reward.log_reward([task.loss_cap], [0.0], [True])[0]
    assert at_cap == -100 > task.floor
    task.reward_alpha = 3
    assert task.floor == pytest.approx(-140 - 3 * math.log(1.001 / 0.001))
    assert task.reward == RewardMap(beta=100, cap=1, alpha=3)


def test_explicit_floor_must_lie_below_valid_rewards():
    m = RewardMap.with_floor(-100.0, beta=30, cap=1)
    assert m.floor == pytest.approx(-100) and m.margin == pytest.approx(70)
    assert replace(m, beta=60).floor == pytest.approx(-130)  # the margin is kept
    with pytest.raises(CRNError, match="below the lowest"):
        RewardMap.with_floor(-20.0, beta=30, cap=1)
    for bad in (dict(beta=0), dict(eps=0), dict(alpha=-1), dict(cap=math.inf)):
        with pytest.raises(CRNError):
            RewardMap(**bad)


def test_scorers_compose_explicitly(rpa):
    from gfn_crn.crn import antithetic_example

    nets = [antithetic_example()]
    seen = []
    pool = TaskPool(rpa)
    rec = BatchRecorder(pool, on_batch=lambda n, r: seen.append(len(n)))
    log = RecordingTask(rec)
    topo = TopologyReward(log, rounds=0)
    for s in (rpa, pool, rec, log, topo, topo.uncounted()):
        assert isinstance(s, Scorer) and s.task is rpa and task_of(s) is rpa
    r = topo.evaluate(nets)
    assert isinstance(r, TaskResult) and seen == [1] and log.n_evaluations == 1
    assert r.loss[0] == log.losses[0]  # rounds=0: the loss at the prior's mode, simulated through the chain
    for s, missing in ((pool, "template"), (rec, "beta"), (log, "floor"), (topo, "good_threshold")):
        assert not hasattr(s, missing)  # nothing is forwarded implicitly


def test_no_attribute_forwarding_in_the_package():
    """No class forwards unknown attributes to a wrapped object (a module's PEP 562 ``__getattr__``
    for lazy imports is not forwarding)."""
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            names = {n.name for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            assert "__getattr__" not in names, \
                f"{path.relative_to(PACKAGE.parent)}: {cls.name} forwards attributes with __getattr__"


def test_env_floor_follows_the_scorer_task(rpa):
    from gfn_crn.crn import mass_action_library
    from gfn_crn.envs import CRNEnv

    task = load_task("rpa")
    env = CRNEnv(mass_action_library(task.template.species), task.template, RecordingTask(TaskPool(task)))
    assert env.log_reward_floor == task.floor
    task.beta = 60
    assert env.log_reward_floor == task.floor == -100
