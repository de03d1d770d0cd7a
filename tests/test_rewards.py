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


def test_env_reward_decides_what_the_env_gets():
    """EnvReward (the env's rewarder) on plain rows, no env: ineligible rows get the floor and
    are never scored, one scorer call per batch, invalid and non-finite results get the floor,
    the prior is added only when asked, and the cache answers repeated keys."""
    from gfn_crn.rewards.env_reward import DEFAULT_FLOOR, EnvReward

    calls = []

    def scorer(nets):
        calls.append(list(nets))
        lr = -np.asarray(nets, dtype=float)
        lr[np.asarray(nets) == 2] = np.nan
        return lr, np.asarray(nets) != 3

    rw = EnvReward(scorer, floor=-9.0)
    eligible = np.array([True, True, True, True, False])
    out = rw.log_rewards(eligible, lambda idx: [int(i) for i in idx])
    np.testing.assert_array_equal(out, [0.0, -1.0, -9.0, -9.0, -9.0])
    assert calls == [[0, 1, 2, 3]] and (rw.calls, rw.evaluated) == (1, 4)
    # the prior term, only for valid rows
    rw = EnvReward(scorer, floor=-9.0, add_prior=True)
    out = rw.log_rewards(eligible, lambda idx: [int(i) for i in idx], log_prior=lambda idx: np.full(len(idx), 0.5))
    np.testing.assert_array_equal(out, [0.5, -0.5, -9.0, -9.0, -9.0])
    # the cache: a repeated key costs no evaluation and gives the same value
    calls.clear()
    rw = EnvReward(scorer, floor=-9.0, cache_size=2)
    keys = lambda idx: [bytes([int(i)]) for i in idx]  # noqa: E731
    first = rw.log_rewards(np.ones(2, bool), lambda idx: [int(i) for i in idx], keys=keys)
    again = rw.log_rewards(np.ones(3, bool), lambda idx: [int(i) for i in idx], keys=keys)
    np.testing.assert_array_equal(again[:2], first)
    assert calls == [[0, 1], [2]] and rw.cache_hits == 2 and rw.evaluated == 3
    # the floor follows the scorer's task unless set; -50 without one
    task = load_task("rpa")
    rw = EnvReward(task)
    assert rw.floor == task.floor and rw.task is task
    assert EnvReward(scorer).floor == DEFAULT_FLOOR == -50.0
    with pytest.raises(CRNError, match="no scorer"):
        EnvReward().log_rewards(np.ones(1, bool), lambda idx: [0])


def test_the_env_keeps_no_reward_logic():
    """CRNEnv.log_reward hands the rows it may score to its rewarder and returns its answer."""
    from gfn_crn.crn import mass_action_library
    from gfn_crn.envs import CRNEnv

    task = load_task("rpa")
    env = CRNEnv(mass_action_library(task.template.species), task.template, task, order="free", min_reactions=0)
    seen = {}

    class Stub:
        def log_rewards(self, eligible, networks, keys=None, log_prior=None):
            seen["eligible"] = eligible.copy()
            seen["networks"] = networks(np.flatnonzero(eligible))
            return np.arange(len(eligible), dtype=float)

    env.rewarder = Stub()
    lr = env.log_reward(env.reset(3))
    np.testing.assert_array_equal(lr.numpy(), [0.0, 1.0, 2.0])
    assert seen["eligible"].tolist() == [True] * 3 and len(seen["networks"]) == 3
    src = (PACKAGE / "envs" / "crn_env.py").read_text()
    for word in ("OrderedDict", "np.where(", "reward_and_validity", "np.full("):
        assert word not in src, f"crn_env.py should leave {word!r} to the rewarder"
