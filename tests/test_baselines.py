"""Baselines (REINFORCE, random search) and the diversity figures they are compared by."""

from __future__ import annotations

import numpy as np
import pytest

from gfn_crn.crn import antithetic_example, mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.rewards.evaluations import (
    RecordingTask,
    distinct_good_curve,
    diversity_figures,
    mean_pairwise_hamming,
    spread_count,
)
from gfn_crn.training.reinforce import ReinforceConfig, random_candidates, random_search, train_reinforce


def test_diversity_figures_by_hand():
    A, B, C = frozenset({1}), frozenset({1, 2}), frozenset({3, 4, 5})
    topo = [A, B, A, C, B, C]
    loss = [0.5, 0.005, 0.002, 0.015, 0.001, 0.3]
    valid = [True, True, True, True, True, False]
    f = diversity_figures(topo, loss, valid, threshold=0.01)
    assert f["best_loss"] == 0.001
    assert f["first_good_evaluation"] == 2
    assert f["distinct_good"] == 2          # A (0.002) and B (0.001)
    assert f["distinct_good_2x"] == 3       # C at 0.015 counts below 0.02
    assert f["distinct_topologies"] == 3
    # pairs: |A^B| = 1, |A^C| = 4, |B^C| = 5
    assert f["mean_hamming_top"] == pytest.approx(10 / 3)
    assert f["repeat_share"] == pytest.approx(1 - 3 / 6)
    # B (best) is kept; A is 1 away from it; with the threshold at 0.02, C (5 away) is kept too
    assert f["distinct_good_spread"] == 1 and f["mean_hamming_good"] == 1.0
    f2 = diversity_figures(topo, loss, valid, threshold=0.02)
    assert f2["distinct_good"] == 3 and f2["distinct_good_spread"] == 2
    assert diversity_figures(topo, loss, valid, threshold=0.02, min_distance=1)["distinct_good_spread"] == 3
    assert spread_count([B, A, C], 6) == 1 and spread_count([], 4) == 0
    assert distinct_good_curve(topo, loss, valid, 0.01).tolist() == [0, 1, 2, 2, 2, 2]
    assert np.isnan(mean_pairwise_hamming([A]))


class _PresenceTask:
    """Synthetic task: loss 0.001 if library reaction ``good`` is present, else 1 (no simulation)."""

    loss_cap = 1.0
    good_threshold = 0.01
    floor = -100.0

    def __init__(self, template, good):
        self.template = template
        self.good = good.signature

    def evaluate(self, networks):
        class R:
            pass

        r = R()
        r.loss = np.array([0.001 if self.good in n.topology else 1.0 for n in networks])
        r.valid = np.ones(len(networks), dtype=bool)
        r.log_reward = -30 * r.loss
        return r

    def __call__(self, networks):
        r = self.evaluate(networks)
        return r.log_reward, r.valid


def _env(task=None, max_reactions=2):
    t = antithetic_example().template
    lib = mass_action_library(t.species)
    return CRNEnv(lib, t, task, max_reactions=max_reactions, min_reactions=1), lib


def _presence_env():
    """The 2-reaction env scored by a recorded :class:`_PresenceTask` rewarding library reaction 40."""
    env, lib = _env()
    good = lib[40]
    task = RecordingTask(_PresenceTask(env.template, good))
    env.task = task
    return env, lib, good, task


def test_reinforce_learns_to_favour_the_rewarded_reaction():
    env, lib, good, task = _presence_env()
    n = 100
    hist, pf = train_reinforce(env, task, ReinforceConfig(n_iterations=n, batch_size=32, lr=1e-2, seed=0,
                                                          hidden=32, n_layers=1))
    share = np.array([l < 0.01 for l in task.losses]).reshape(n, 32).mean(axis=1)
    assert share[:20].mean() < 0.05          # a random 1-2 reaction network rarely has it
    assert share[-30:].mean() > 2 * share[:20].mean() + 0.05
    assert all(h["n_elite"] == 2 for h in hist)  # best 5% of 32, rounded up
    assert task.n_evaluations == n * 32


def test_random_candidates_are_distinct_in_range_and_avoid_the_template():
    env, lib = _env(max_reactions=5)
    nets = random_candidates(env, 200, np.random.default_rng(1))
    fixed = {i.reaction.signature for i in env.template.fixed}
    sizes = [len(n.reactions) for n in nets]
    assert min(sizes) == 1 and max(sizes) == 5
    for n in nets:
        sigs = [i.reaction.signature for i in n.reactions]
        assert len(set(sigs)) == len(sigs) and not (set(sigs) & fixed)
        ks = [i.cparams[0] for i in n.reactions]
        assert all(0.1 <= k <= 50 for k in ks)
    task = RecordingTask(_PresenceTask(env.template, lib[3]))
    hist = random_search(env, task, 100, batch_size=32, seed=0)
    assert task.n_evaluations == 100 and hist[-1]["evaluations"] == 100


def test_reinforce_replay_raises_log_prob_of_archived_design_and_counts_evaluations():
    import torch
    from gfn.utils.prob_calculations import get_trajectory_pfs

    from gfn_crn.estimators import CRNPolicyEstimator
    from gfn_crn.samplers import CRNSampler
    from gfn_crn.training.reinforce import ReplayArchive, reinforce_step
    from gfn_crn.training.tb import seed_everything

    env, lib, good, task = _presence_env()
    # an archived design containing the good reaction (it beats every batch without it)
    seed_everything(3)
    pf0 = CRNPolicyEstimator(env, hidden=32, n_layers=1)
    sampler = CRNSampler(pf0)
    archive = ReplayArchive(env, capacity=8)
    for _ in range(50):
        tr = sampler.sample_trajectories(env, n=32)
        nets = env.states_to_networks(tr.terminating_states)
        loss = np.array([0.001 if good.signature in n.topology else 1.0 for n in nets])
        archive.add(tr, nets, loss)
        if archive.better_than(1.0, 1):
            break
    n_good = len(archive.better_than(1.0, 8))
    (l0, net0, tr0), = archive.better_than(1.0, 1)
    assert l0 == 0.001 and 1 <= n_good and len(archive) <= 8
    state = {k: v.clone() for k, v in pf0.state_dict().items()}

    def after_one_step(replay):
        seed_everything(7)
        pf = CRNPolicyEstimator(env, hidden=32, n_layers=1)
        pf.load_state_dict(state)
        opt = torch.optim.Adam(pf.parameters(), lr=1e-2)
        cfg = ReinforceConfig(batch_size=16, entropy_coef=0.0, replay=replay)
        n_before = task.n_evaluations
        rec = reinforce_step(env, task, pf, opt, CRNSampler(pf), cfg, 1, archive if replay else None, 0)
        assert task.n_evaluations - n_before == rec["evaluations"]
        with torch.no_grad():
            lp = float(get_trajectory_pfs(pf, tr0, recalculate_all_logprobs=True).sum())
        return rec, lp

    rec_plain, lp_plain = after_one_step(False)
    rec_replay, lp_replay = after_one_step(True)
    assert rec_replay["best_loss"] > l0          # the batch holds no good design (seeded)
    assert rec_replay["replayed"] == n_good and rec_replay["evaluations"] == 16 + n_good  # re-scored
    assert rec_plain["evaluations"] == 16 and rec_plain["replayed"] == 0
    assert lp_replay > lp_plain + 0.05


def test_reinforce_replay_respects_the_evaluation_budget():
    env, _, _, task = _presence_env()
    hist, _ = train_reinforce(env, task, ReinforceConfig(n_iterations=1000, batch_size=16, lr=1e-2, seed=0, hidden=32,
                                                         n_layers=1, replay=True, max_evaluations=400))
    assert sum(h["replayed"] for h in hist) > 0
    assert task.n_evaluations == hist[-1]["total_evaluations"] == sum(h["evaluations"] for h in hist)
    assert 400 <= task.n_evaluations < 400 + 16 + 8


@pytest.mark.slow
def test_reinforce_run_directory_cli_and_bit_for_bit_resume(tmp_path, capsys):
    """``gfn-crn train --algorithm reinforce`` writes the same run directory as a TB run, and a
    reinforce run (with replay) resumed from its checkpoint continues bit-for-bit."""
    import json

    from gfn_crn.cli import main
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import TIMING_KEYS, Run, read_metrics

    task = tmp_path / "tiny.toml"
    task.write_text('kind = "tracking"\nname = "tiny"\n[template]\nexample = "antithetic"\n[scenarios]\n'
                    'inputs = { u1 = [1.0], u2 = [0.5, 1.5] }\ninit = 0.01\n[time]\nt_f = 20\nn_t = 50\n'
                    '[task]\ntarget = "u1"\n[reward]\ngood_threshold = 0.3\n')
    out = tmp_path / "run"
    from conftest import plain_args
    from gfn_crn.training.config import PLAIN_RUN

    assert main(["train", "--task", str(task), "--algorithm", "reinforce", "--iterations", "4", "--batch-size", "8",
                 *plain_args(),
                 "--max-reactions", "3", "--set", "hidden=16", "--set", "final_samples=8", "--set", "plot_top=1",
                 "--set", "export_top=1", "--set", "reinforce_replay=true", "--out", str(out), "--no-progress"]) == 0
    for name in ("config.toml", "metrics.jsonl", "checkpoint.pt", "archive.json", "summary.json", "report.md",
                 "training_curves.png", "designs/rank01.crn"):
        assert (out / name).exists(), name
    rows = read_metrics(out / "metrics.jsonl")
    assert len(rows) == 4 and rows[-1]["logZ"] is None and rows[-1]["tb_loss"] is None
    assert rows[-1]["evaluations"] >= 32
    assert json.loads((out / "summary.json").read_text())["evaluations"] == rows[-1]["evaluations"]
    assert 'algorithm = "reinforce"' in (out / "config.toml").read_text()
    assert main(["train", "--resume", str(out), "--algorithm", "tb"]) == 2
    assert "cannot be changed" in capsys.readouterr().err

    cfg = resolve_config(overrides=dict(PLAIN_RUN, task=str(task), algorithm="reinforce", reinforce_replay=True, iterations=8,
                                        batch_size=8, hidden=16, max_reactions=3, checkpoint_every=3))

    def strip(rs):
        return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rs]

    a = Run.create(cfg, tmp_path / "a")
    a.train(progress=False)
    a_rows = read_metrics(tmp_path / "a" / "metrics.jsonl")
    a.close()
    b = Run.create(cfg, tmp_path / "b")
    b.train(progress=False, stop_after=5)
    b.close()
    b = Run.load(tmp_path / "b")
    assert b.iteration == 5 and len(b.trainer.archive) > 0
    b.train(progress=True)
    assert strip(read_metrics(tmp_path / "b" / "metrics.jsonl")) == strip(a_rows)
    assert [e.loss for e in b.archive.top()] == [e.loss for e in a.archive.top()]
    b.close()
    with pytest.raises(Exception, match="algorithm must be"):
        resolve_config(overrides={"algorithm": "ppo"})


class _RateTask:
    """Synthetic task: loss = mean over rates of (ln k - ln 2)^2 (no simulation), counted evaluations."""

    loss_cap = 1e9
    good_threshold = 0.01
    floor = -100.0
    prior = None

    def __init__(self, template):
        self.template = template
        self.n = 0

    def evaluate(self, networks):
        class R:
            pass

        r = R()
        r.loss = np.array([np.mean([(np.log(k) - np.log(2.0)) ** 2 for i in n.reactions for k in i.cparams])
                           for n in networks])
        r.valid = np.ones(len(networks), dtype=bool)
        r.log_reward = -r.loss
        self.n += len(networks)
        return r

    def __call__(self, networks):
        r = self.evaluate(networks)
        return r.log_reward, r.valid


def test_refine_lowers_the_loss_within_budget_and_bounds():
    from gfn_crn.rewards.refine import refine, refine_archive

    env, lib = _env(max_reactions=5)
    task = _RateTask(env.template)
    nets = random_candidates(env, 6, np.random.default_rng(0))
    r = refine(task, nets, 6 * 9 * 20, popsize=8, seed=0, low=np.log(0.1), high=np.log(50))
    assert task.n == r.evaluations <= 6 * 9 * 20
    assert np.all(r.losses <= r.initial_losses) and np.median(r.losses) < 0.05 * np.median(r.initial_losses)
    for a, b in zip(nets, r.networks):
        assert a.topology == b.topology
        assert all(0.1 - 1e-12 <= k <= 50 + 1e-12 for i in b.reactions for k in i.cparams)
    task.n = 0
    best = {n.topology: (float(l), n) for n, l in zip(nets, task.evaluate(nets).loss)}
    task.n = 0
    ra = refine_archive(task, best, 400, n_networks=4, stages=2, low=np.log(0.1), high=np.log(50))
    assert task.n == ra.evaluations <= 400 and np.all(ra.losses <= ra.initial_losses)


def test_local_search_refines_and_replays_into_the_buffer():
    from gfn_crn.training import ON_POLICY, train
    from gfn_crn.training.config import plain_tb
    from gfn_crn.training.local_search import LocalSearch

    env, lib = _env(max_reactions=2)
    task = RecordingTask(_RateTask(env.template))
    env.task = task
    local = LocalSearch(env, task, lambda: task.networks_best, every=2, top_k=3, rounds=2, popsize=4)
    res = train(env, plain_tb(n_iterations=4, batch_size=8, hidden=16, replay_capacity=50,
                                 prioritized_replay=True, seed=0, lr_logZ=0.05, **ON_POLICY), callback=local)
    assert local.calls == 2 and local.injected == 6 and len(local.refined) == 6
    assert task.n_evaluations == 4 * 8 + local.evaluations
    assert len(res.replay_buffer) >= 6


def test_archive_replay_buffer_feeds_local_search_finds_to_reinforce_replay():
    """The path of ``reinforce-topo-ls``: designs a local search puts into a "replay buffer" as
    trajectories (backward rollouts, reversed) land in REINFORCE's archive with their task losses,
    and the next REINFORCE step replays them and raises their log-probability."""
    import torch
    from gfn.utils.prob_calculations import get_trajectory_pfs

    from gfn_crn.crn import Network, ReactionInstance
    from gfn_crn.estimators import CRNPolicyEstimator
    from gfn_crn.estimators.backward import default_backward_estimator
    from gfn_crn.samplers import CRNSampler
    from gfn_crn.training.local_search import replay_networks
    from gfn_crn.training.reinforce import ArchiveReplayBuffer, ReplayArchive, reinforce_step
    from gfn_crn.training.tb import seed_everything

    env, lib, good, task = _presence_env()
    seed_everything(7)
    pf = CRNPolicyEstimator(env, hidden=32, n_layers=1)
    archive = ReplayArchive(env, capacity=8)
    buffer = ArchiveReplayBuffer(archive, task)
    found = [Network(env.template, (ReactionInstance(good, (1.5,), ()),)),
             Network(env.template, (ReactionInstance(lib[3], (0.7,), ()), ReactionInstance(good, (2.0,), ())))]
    n0 = task.n_evaluations
    replay_networks(env, default_backward_estimator(env), buffer, found)
    assert task.n_evaluations > n0                        # scored through the task
    assert {n.topology for n in found} == set(archive.entries)
    for net in found:
        loss, stored, tr = archive.entries[net.topology]
        assert loss == 0.001 and stored == net         # rates kept exactly
        assert env.states_to_networks(tr.terminating_states)[0] == net
    trs = [archive.entries[n.topology][2] for n in found]

    def replayed_log_prob():  # what the replay term raises: the sum over the replayed designs
        with torch.no_grad():
            return sum(float(get_trajectory_pfs(pf, t, recalculate_all_logprobs=True).sum()) for t in trs)

    lp0 = replayed_log_prob()
    assert np.isfinite(lp0)
    opt = torch.optim.Adam(pf.parameters(), lr=1e-3)
    rec = reinforce_step(env, task, pf, opt, CRNSampler(pf), ReinforceConfig(batch_size=16, entropy_coef=0.0),
                         1, archive, 0)
    assert rec["best_loss"] > 0.001 and rec["replayed"] == 2   # the batch holds no good design (seeded)
    assert replayed_log_prob() > lp0 + 0.05


def _even(net) -> bool:
    import zlib

    return zlib.crc32(repr(sorted(str(i.reaction.signature) for i in net.reactions)).encode()) % 2 == 0


class _AboveCapTask(_PresenceTask):
    """Designs of an even checksum are valid with a loss far above the cap (5); the others
    are invalid (their stored loss is the cap, 1, as the tasks store it)."""

    def evaluate(self, networks):
        r = super().evaluate(networks)
        r.valid = np.array([_even(n) for n in networks])
        r.loss = np.where(r.valid, 5.0 + 0.01 * np.arange(len(networks)), self.loss_cap)
        r.log_reward = np.where(r.valid, -30.0, self.floor)
        return r


def test_reinforce_elites_rank_invalid_designs_last():
    """An invalid design stored at the loss cap must not beat a valid one whose loss is above the
    cap: the elite, its baseline and the replay archive see valid designs first."""
    import torch

    from gfn_crn.estimators import CRNPolicyEstimator
    from gfn_crn.samplers import CRNSampler
    from gfn_crn.training.reinforce import ReplayArchive, rank_order, ranking_losses, reinforce_step
    from gfn_crn.training.tb import seed_everything

    loss = ranking_losses([5.0, 1.0, 7.0, 1.0], [True, False, True, False], cap=1.0)
    assert loss.tolist() == [5.0, 7.0, 7.0, 7.0]
    assert rank_order(loss, [True, False, True, False]).tolist() == [0, 2, 1, 3]

    env, lib = _env()
    task = _AboveCapTask(env.template, lib[40])
    env.task = task
    seed_everything(0)
    pf = CRNPolicyEstimator(env, hidden=16, n_layers=1)
    archive = ReplayArchive(env, capacity=64)
    rec = reinforce_step(env, task, pf, torch.optim.Adam(pf.parameters(), lr=1e-3), CRNSampler(pf),
                         ReinforceConfig(batch_size=16, replay=True), 4, archive, 0)
    assert 0 < rec["valid_fraction"] < 1          # the batch holds both kinds
    assert rec["best_loss"] >= 5.0 and rec["baseline"] >= 5.0
    assert len(archive) > 0 and all(_even(e[1]) for e in archive.entries.values())
