"""TB training: a short run on a synthetic reward, determinism, log Z set-up, replay."""

import numpy as np
import pytest
import torch

from gfn_crn.crn import antithetic_example, mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.training import ON_POLICY, RandomQuadraticReward, build_gflownet, make_optimizer, train
from gfn_crn.training.config import plain_tb


def rpa_env(order="canonical", max_reactions=5, **kw):
    tmpl = antithetic_example().template
    lib = mass_action_library(tmpl.species)
    return CRNEnv(lib, tmpl, RandomQuadraticReward(lib, seed=3), order=order, max_reactions=max_reactions, **kw)


@pytest.mark.slow
def test_short_training_run_improves_the_reward():
    env = rpa_env()
    cfg = plain_tb(n_iterations=150, batch_size=32, hidden=64, lr=3e-3, lr_logZ=0.1, seed=1,
                      temperature_start=2.0, temperature_end=1.0, epsilon_start=0.1, anneal_fraction=100 / 150)
    res = train(env, cfg)
    h = res.history
    assert len(h) == 150 and all(np.isfinite(r["loss"]) for r in h)
    first = np.mean([r["mean_log_reward"] for r in h[:20]])
    last = np.mean([r["mean_log_reward"] for r in h[-20:]])
    assert last > first + 0.5, (first, last)
    assert np.mean([r["loss"] for r in h[-20:]]) < np.mean([r["loss"] for r in h[:20]])
    assert h[0]["temperature"] == 2.0 and "temperature" not in h[-1]
    assert torch.get_num_threads() >= 1


def test_seeded_runs_are_identical_and_different_seeds_differ():
    def run(seed):
        return train(rpa_env("free"), plain_tb(n_iterations=15, batch_size=16, hidden=32, seed=seed,
                                                  epsilon_start=0.2, temperature_start=1.5, lr_logZ=0.05, anneal_fraction=0.0))
    a, b, c = run(7), run(7), run(8)
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    for p, q in zip(a.gflownet.parameters(), b.gflownet.parameters()):
        assert torch.equal(p, q)
    assert [r["loss"] for r in a.history] != [r["loss"] for r in c.history]


def test_logZ_is_learned_from_init_logZ_with_its_own_learning_rate():
    env = rpa_env()
    cfg = plain_tb(init_logZ=0.0, lr=1e-4, lr_logZ=0.1, **ON_POLICY)
    gfn = build_gflownet(env, cfg)
    assert float(gfn.logZ) == 0.0 and gfn.logZ.requires_grad
    assert any(p is gfn.logZ for p in gfn.parameters())
    opt = make_optimizer(gfn, cfg)
    lrs = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert lrs[id(gfn.logZ)] == 0.1
    assert all(lr == 1e-4 for pid, lr in lrs.items() if pid != id(gfn.logZ))
    res = train(env, plain_tb(n_iterations=5, batch_size=8, hidden=16, lr_logZ=0.05, **ON_POLICY), gflownet=gfn, optimizer=opt)
    assert res.logZ != 0.0


def test_training_with_replay_buffer_and_reward_cache():
    env = rpa_env("free", max_reactions=1, fixed_parameters=True)
    res = train(env, plain_tb(n_iterations=20, batch_size=16, hidden=32, replay_capacity=64,
                                 replay_fraction=0.5, reward_cache_size=1000, lr_logZ=0.05, **ON_POLICY))
    assert len(res.replay_buffer) == 64
    assert env.reward_cache_hits > 0
    assert all(np.isfinite(r["loss"]) for r in res.history)


def test_replay_updates_add_optimizer_steps_without_reward_calls():
    def run(updates):
        env = rpa_env("canonical", max_reactions=2)
        res = train(env, plain_tb(n_iterations=6, batch_size=8, hidden=16, replay_capacity=64, seed=2,
                                     replay_updates=updates, lr_logZ=0.05, **ON_POLICY))
        steps = max(int(s["step"]) for s in res.optimizer.state.values())
        return env.n_evaluated, steps, res

    n0, s0, r0 = run(0)
    n2, s2, r2 = run(2)
    assert n0 == n2 == 6 * 8                  # the same reward calls
    assert s0 == 6 and s2 == 6 + 2 * 6        # the buffer holds a batch from the first iteration on
    p0 = torch.cat([p.detach().flatten() for p in r0.gflownet.parameters()])
    p2 = torch.cat([p.detach().flatten() for p in r2.gflownet.parameters()])
    assert not torch.equal(p0, p2)
    import pytest

    with pytest.raises(ValueError, match="replay buffer"):
        train(rpa_env(), plain_tb(n_iterations=1, batch_size=4, hidden=16, replay_updates=1, lr_logZ=0.05, **ON_POLICY))
    with pytest.raises(ValueError, match="at least one batch"):  # too small: the updates could never run
        train(rpa_env(), plain_tb(n_iterations=1, batch_size=8, hidden=16, replay_capacity=4, replay_updates=1, lr_logZ=0.05, **ON_POLICY))


def test_archive_records_what_found_each_design(tmp_path):
    """Every archived design names the phase whose evaluation produced it (policy sample,
    structure search, archive refinement, final refinement); a short default-recipe run uses
    all four, and an unknown source is refused."""
    import pytest

    from gfn_crn.crn.errors import CRNError
    from gfn_crn.training.archive import SOURCES, Archive
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run

    cfg = resolve_config(overrides=dict(task="rpa", max_evaluations=3000, batch_size=8, hidden=16,
                                        structure_search_every=2, refine_every=2, screen_below=0.0,
                                        structure_search_swap_every=0,
                                        final_samples=0, plot_top=0, export_top=0))
    run = Run.create(cfg, tmp_path / "run")
    try:
        run.train(progress=False)
    finally:
        run.close()
    sources = {e.source for e in run.archive.entries.values()}
    assert sources <= set(SOURCES) and "" not in sources
    assert {"policy", "search", "final_refine"} <= sources, sources
    e = run.archive.top(1)[0]
    assert Archive.from_dict(run.archive.to_dict()).top(1)[0].source == e.source   # saved and read back
    with pytest.raises(CRNError, match="unknown source 'magic'"):
        run.archive.update([e.network], [0.1], [True], source="magic")


def test_the_trainer_takes_its_schedule_as_an_argument():
    from gfn_crn.training import Trainer

    seen = []

    def schedule(it):
        seen.append(it)
        return {"temperature": 3.0}

    cfg = plain_tb(n_iterations=2, batch_size=4, hidden=16, seed=0)
    default = Trainer(rpa_env(), cfg)
    assert default.schedule(0) == cfg.policy_kwargs(0)
    t = Trainer(rpa_env(), cfg, schedule=schedule)
    t.step()
    t.step()
    assert seen == [0, 1] and t.history[0]["temperature"] == 3.0


def test_final_updates_fit_the_policy_to_the_replay_buffer_without_new_evaluations(tmp_path):
    """``final_update_ratio`` runs that many TB updates per evaluation of the budget on the replay
    buffer once it is spent:
    the buffer's TB loss falls with log Z set from the buffer's reward mass and held, no design is simulated (the evaluation count is the run's without
    them), the count is checkpointed (a resumed run does not repeat them), and settings that
    cannot run them are refused by name."""
    import math

    import pytest
    import torch

    from gfn_crn.crn.errors import CRNError
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run

    base = dict(task="rpa", max_evaluations=1200, batch_size=8, hidden=16, final_samples=0, plot_top=0,
                export_top=0, refine_final_share=0.0)

    def buffer_loss(run):
        torch.manual_seed(0)
        b = run.trainer.buffer
        with torch.no_grad():
            return float(run.trainer.gflownet.loss(run.env, b.training_container, recalculate_all_logprobs=True))

    runs = {}
    for n in (0, 300):
        run = Run.create(resolve_config(overrides=dict(base, final_update_ratio=n / 1200)), tmp_path / f"run{n}")
        try:
            run.train(progress=False)
        finally:
            run.close()
        runs[n] = run
    plain, fitted = runs[0], runs[300]
    assert fitted.evaluations == plain.evaluations and fitted.iteration == plain.iteration
    assert fitted.final_updates_done == 300 and plain.final_updates_done == 0
    # the same buffer (the runs are identical until the end), a better TB fit after the updates
    assert len(fitted.trainer.buffer) == len(plain.trainer.buffer)
    assert buffer_loss(fitted) < 0.5 * buffer_loss(plain)
    # log Z is set to log(the buffer's distinct designs' summed reward / final_buffer_share) and held
    c = fitted.trainer.buffer.training_container
    seen, mass = set(), []
    for row, lr in zip(c.terminating_states.tensor, c.log_rewards.tolist()):
        key = row.numpy().tobytes()
        if key not in seen:
            seen.add(key)
            mass.append(lr)
    expected = math.log(sum(math.exp(v) for v in mass)) - math.log(0.5)
    assert fitted.buffer_log_reward_mass() == pytest.approx(expected - math.log(2), abs=1e-9)
    assert fitted.trainer.logZ == pytest.approx(expected, abs=1e-5) and plain.trainer.logZ != pytest.approx(expected)
    assert [g["lr"] for g in fitted.trainer.optimizer.param_groups] == [g["lr"] for g in
                                                                      plain.trainer.optimizer.param_groups]
    # a run directory written before the setting existed resumes without the phase, as it was trained
    from gfn_crn.training.config import load_run_config
    old = tmp_path / "old.toml"
    old.write_text("\n".join(line for line in (tmp_path / "run300" / "config.toml").read_text().splitlines()
                             if not line.startswith("final_update_ratio")))
    assert load_run_config(old).train.final_update_ratio == 0.0
    again = Run.load(tmp_path / "run300")
    assert again.final_updates_done == 300
    before = [p.detach().clone() for p in again.trainer.gflownet.parameters()]
    again.train(progress=False)   # nothing left to do: no update repeated
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, again.trainer.gflownet.parameters()))
    again.close()
    with pytest.raises(CRNError, match="final_update_ratio = 0.1 needs a replay buffer"):
        resolve_config(overrides=dict(base, final_update_ratio=0.1, replay_capacity=0, replay_updates=0,
                                      structure_search_swap_every=0))
    # a REINFORCE run has no trajectory-balance policy to fit: the ratio does not apply
    assert resolve_config(overrides=dict(base, algorithm="reinforce")).train.final_update_ratio == 0.1
