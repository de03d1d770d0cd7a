"""The product: gfn-crn train / sample / top / export, run directories, resume, archive."""

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from gfn_crn.cli import main
from gfn_crn.crn import Network, ReactionInstance, antithetic_example, mass_action_library, parse_network
from gfn_crn.training.archive import Archive, format_table
from gfn_crn.training.config import PLAIN_RUN, RunConfig, resolve_config, to_toml, load_config_file
from conftest import plain_args
from gfn_crn.training.run import TIMING_KEYS, CheckpointError, Run, load_checkpoint, read_metrics

TINY_TASK = '''
kind = "tracking"
name = "tiny"
description = "antithetic template, 2 scenarios, short horizon"
[template]
example = "antithetic"
[scenarios]
inputs = { u1 = [1.0], u2 = [0.5, 1.5] }
init = 0.01
[time]
t_f = 20
n_t = 50
[task]
target = "u1"
weights = "transient"
[reward]
good_threshold = 0.3
'''


@pytest.fixture()
def tiny_task(tmp_path):
    p = tmp_path / "tiny.toml"
    p.write_text(TINY_TASK)
    return str(p)


def tiny_config(task, **kw):
    base = dict(PLAIN_RUN, task=task, iterations=8, batch_size=8, hidden=16, max_reactions=3, checkpoint_every=3,
                final_samples=16, plot_top=1, export_top=2, archive_capacity=20)
    base.update(kw)
    return resolve_config(overrides=base)


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


# ---------------------------------------------------------------------------- CLI end to end
@pytest.mark.slow
def test_cli_train_top_sample_export_resume(tiny_task, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    # every file a run writes, temporary ones included (they are renamed into place)
    real_replace, renamed = os.replace, []
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.extend([Path(src), Path(dst)]),
                                                         real_replace(src, dst))[1])
    rc = main(["train", "--task", tiny_task, "--iterations", "5", "--batch-size", "8", "--max-reactions", "3", *plain_args(),
               "--set", "hidden=16", "--set", "final_samples=16", "--set", "plot_top=1", "--set", "export_top=2",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "top designs" in text and "plots:" in text and "training_curves.png" in text
    for name in ("config.toml", "metrics.jsonl", "checkpoint.pt", "archive.json", "archive.txt", "samples.jsonl",
                 "summary.json", "report.md", "training_curves.png", "loss_histogram.png", "top_1.png",
                 "network_best.png", "designs/rank01.crn", "designs/rank01.xml", "designs/rank02.antimony"):
        assert (out / name).exists(), name
    assert len(read_metrics(out / "metrics.jsonl")) == 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluations"] == 40 and summary["iterations"] == 5
    assert load_config_file(out / "config.toml").max_reactions == 3

    assert main(["top", str(out), "-k", "3"]) == 0
    text = capsys.readouterr().out
    # summary line, the verification line (the run wrote mechanisms.json), header, 3 designs
    assert "rank" in text and "distinct verified mechanisms" in text and len(text.strip().splitlines()) == 6

    assert main(["sample", str(out), "-n", "20", "--temperature", "2"]) == 0
    text = capsys.readouterr().out
    assert "20 designs" in text
    rows = [json.loads(l) for l in (out / "sampled_n20_T2.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and all({"loss", "valid", "network"} <= set(r) for r in rows)

    exp = tmp_path / "exp"
    assert main(["export", str(out), "-k", "1", "--out", str(exp)]) == 0
    from gfn_crn.crn.export import from_sbml

    net = from_sbml((exp / "rank01.xml").read_text())
    best = Archive.load_json(out / "archive.json").top(1)[0]
    assert net.topology == best.network.topology

    # resume to 7 iterations; changing settings on resume is refused
    assert main(["train", "--resume", str(out), "--iterations", "7", "--no-progress", "--no-finish"]) == 0
    assert [r["iteration"] for r in read_metrics(out / "metrics.jsonl")] == list(range(7))
    assert main(["train", "--resume", str(out), "--batch-size", "4"]) == 2
    assert "cannot be changed" in capsys.readouterr().err

    # RUN_FILES (the names --allow-nonempty never lets a run replace) lists what a run writes:
    # every name now in the directory and every temporary name it used, and nothing else
    from fnmatch import fnmatchcase

    from gfn_crn.outputs import RUN_FILES, clashes

    written = set(os.listdir(out)) | {p.name for p in renamed if p.parent == out}
    assert all(p.parent in (out, out / "designs") for p in renamed), renamed
    assert {n for n in written if not any(fnmatchcase(n, pat) for pat in RUN_FILES)} == set()
    assert sorted(os.listdir(out)) == clashes(out)
    assert [pat for pat in RUN_FILES if not any(fnmatchcase(n, pat) for n in written)] == []
    # a second run into the same directory is refused
    assert main(["train", "--task", tiny_task, "--out", str(out), "--iterations", "1"]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_config_precedence_and_errors(tiny_task, tmp_path):
    c = resolve_config("quick", None, {"iterations": 7})
    assert c.train.n_iterations == 7 and c.max_evaluations == 20480
    f = tmp_path / "c.toml"
    f.write_text('iterations = 11\nlr = 0.002\nmax_evaluations = 999\n')
    c = resolve_config("quick", f, {"batch_size": 5})
    assert (c.train.n_iterations, c.train.lr, c.train.batch_size, c.max_evaluations) == (11, 0.002, 5, 999)
    assert load_config_file_roundtrip(c) == c
    f.write_text("itrations = 3\n")
    with pytest.raises(Exception, match="unknown setting.*itrations"):
        resolve_config(None, f)
    with pytest.raises(Exception, match="order must be"):
        resolve_config(overrides={"order": "random"})
    with pytest.raises(Exception, match="unknown library part"):
        resolve_config(overrides={"library": "mass_action,foo"})


def load_config_file_roundtrip(c, tmp=Path("/tmp")):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "config.toml"
        p.write_text(to_toml(c))
        return load_config_file(p)


# ---------------------------------------------------------------------------- resume
@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(), dict(order="free", replay_capacity=16, replay_fraction=0.5),
                                dict(topology_reward=True, topology_rounds=1, topology_popsize=3, replay_capacity=16,
                                     prioritized_replay=True, replay_updates=1, order="free",
                                     structure_search_every=2, structure_search_top_k=2,
                                     structure_search_neighbours=2)])
def test_resume_is_bit_for_bit(tiny_task, tmp_path, kw):
    cfg = tiny_config(tiny_task, **kw)
    a = Run.create(cfg, tmp_path / "a")
    a.train(progress=False)
    a_rows = read_metrics(tmp_path / "a" / "metrics.jsonl")
    a_params = [p.detach().clone() for p in a.trainer.gflownet.parameters()]
    a.close()

    b = Run.create(cfg, tmp_path / "b")
    b.train(progress=False, stop_after=5)   # checkpoints at 3 and (stop) 5
    b.close()
    assert len(read_metrics(tmp_path / "b" / "metrics.jsonl")) == 5
    # lose the latest checkpoint: the run falls back on the previous one (iteration 3)
    os.remove(tmp_path / "b" / "checkpoint.pt")
    msgs = []
    b = Run.load(tmp_path / "b", warn=msgs.append)
    assert b.iteration == 3 and "missing" in msgs[0] and "checkpoint.prev.pt" in msgs[0]
    assert len(read_metrics(tmp_path / "b" / "metrics.jsonl")) == 3
    b.train(progress=False)
    b_rows = read_metrics(tmp_path / "b" / "metrics.jsonl")
    assert _strip(b_rows) == _strip(a_rows)
    for p, q in zip(a_params, b.trainer.gflownet.parameters()):
        assert torch.equal(p, q)
    assert [e.loss for e in b.archive.top()] == [e.loss for e in a.archive.top()]
    b.close()


def test_corrupt_checkpoint_gives_a_clear_error_and_keeps_the_older_one(tiny_task, tmp_path, capsys):
    cfg = tiny_config(tiny_task, iterations=6)
    run = Run.create(cfg, tmp_path / "r")
    run.train(progress=False)
    run.close()
    d = tmp_path / "r"
    (d / "checkpoint.pt").write_bytes(b"not a checkpoint at all")
    msgs = []
    state, path = load_checkpoint(d, warn=msgs.append)
    assert path.name == "checkpoint.prev.pt" and state["trainer"]["iteration"] == 3
    assert "checkpoint.pt is unreadable" in msgs[0]
    # resuming works from the older one and writes a fresh latest checkpoint
    assert main(["train", "--resume", str(d), "--no-progress", "--no-finish"]) == 0
    assert "resuming from the previous checkpoint" in capsys.readouterr().err
    assert load_checkpoint(d)[0]["trainer"]["iteration"] == 6
    # both damaged: one clear error naming both, exit status 2
    (d / "checkpoint.pt").write_bytes(b"x")
    (d / "checkpoint.prev.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="no usable checkpoint.*checkpoint.pt.*checkpoint.prev.pt"):
        load_checkpoint(d)
    assert main(["train", "--resume", str(d)]) == 2
    assert "no usable checkpoint" in capsys.readouterr().err
    # a temporary file left by a crash mid-write is ignored
    assert not (d / "checkpoint.pt.tmp").exists()


def test_ctrl_c_stops_after_the_iteration_and_saves(tiny_task, tmp_path):
    from gfn_crn.tasks import load_task

    task = load_task(tiny_task)

    class Interrupting:  # a scorer around the task
        calls = 0

        def __init__(self):
            self.task = task

        def evaluate(self, nets):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return task.evaluate(nets)

    run = Run.create(tiny_config(tiny_task, iterations=50), tmp_path / "r", task=Interrupting())
    run.train(progress=False)
    assert run.stopped_by_user and run.iteration == 3
    assert load_checkpoint(tmp_path / "r")[0]["trainer"]["iteration"] == 3
    assert len(read_metrics(tmp_path / "r" / "metrics.jsonl")) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    run.close()


# ---------------------------------------------------------------------------- archive
def _random_networks(n, seed=0, max_k=3):
    rng = np.random.default_rng(seed)
    tmpl = antithetic_example().template
    lib = mass_action_library(tmpl.species)
    fixed = {i.reaction.signature for i in tmpl.fixed}
    pool = [r for r in lib.reactions if r.signature not in fixed][:6]   # few reactions: topologies repeat
    nets = []
    for _ in range(n):
        k = rng.integers(1, max_k + 1)
        idx = rng.choice(len(pool), size=k, replace=False)
        nets.append(Network(tmpl, tuple(ReactionInstance(pool[j], (float(rng.uniform(0.1, 5)),), ()) for j in sorted(idx))))
    return nets


def test_archive_invariants():
    nets = _random_networks(300)
    rng = np.random.default_rng(1)
    loss = rng.uniform(0, 1, len(nets))
    valid = rng.uniform(size=len(nets)) > 0.1
    a = Archive(capacity=10, good_threshold=0.05)
    for s in range(0, 300, 32):
        a.update(nets[s:s + 32], loss[s:s + 32], valid[s:s + 32], -loss[s:s + 32], iteration=s // 32)
    # reference: the best valid loss per topology
    best = {}
    for n, l, v in zip(nets, loss, valid):
        if v and l < best.get(n.topology, np.inf):
            best[n.topology] = l
    assert len(best) > 10
    top = a.top()
    assert len(a) == 10 and len({e.topology for e in top}) == 10           # bound, one entry per topology
    assert [e.loss for e in top] == sorted(best.values())[:10]               # the best kept, best per topology
    for e in top:
        assert e.loss == best[e.topology] and e.network.topology == e.topology
    assert a.n_good == sum(1 for l in best.values() if l < 0.05)
    assert a.n_offered == 300 and a.n_valid == int(valid.sum())
    # round trips: JSON (lossless networks), checkpoint state, text format
    b = Archive.from_dict(json.loads(json.dumps(a.to_dict())))
    assert [(e.topology, e.loss, e.network) for e in b.top()] == [(e.topology, e.loss, e.network) for e in top]
    c = Archive.from_state_dict(a.state_dict())
    assert c.good == a.good and c.best_loss == a.best_loss
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = a.save_text(Path(d) / "archive.txt")
        blocks = [b for b in p.read_text().split("\n\n") if b.strip()]
        assert len(blocks) == 10
        assert parse_network(blocks[0]).topology == top[0].topology
    assert "rank" in format_table(top)
    div = a.diversity()
    assert div["archived"] == 10 and div["mean_hamming"] is not None


def test_archive_keeps_the_better_parameters_and_ignores_invalid():
    n1, = _random_networks(1, seed=3)
    inst = n1.reactions[0]
    worse = n1.with_reactions([ReactionInstance(inst.reaction, (9.0,), ())] + list(n1.reactions[1:]))
    a = Archive(capacity=5, good_threshold=0.1)
    a.update([n1], [0.5], [True])
    a.update([worse], [0.7], [True])
    a.update([worse], [0.01], [False])            # invalid: counted, never archived
    assert len(a) == 1 and a.top()[0].loss == 0.5 and a.top()[0].network == n1
    assert a.top()[0].count == 3 and a.n_good == 0
    a.update([worse], [0.05], [True], iteration=4)
    assert a.top()[0].network == worse and a.top()[0].iteration == 4 and a.n_good == 1


def test_topology_reward_run_counts_archives_and_samples_refined_designs(tiny_task, tmp_path):
    from gfn_crn.tasks import load_task

    cfg = tiny_config(tiny_task, iterations=3, topology_reward=True, topology_rounds=1, topology_popsize=3)
    run = Run.create(cfg, tmp_path / "t")
    run.train(progress=False)
    tr = run.scorer
    rows = read_metrics(tmp_path / "t" / "metrics.jsonl")
    # every simulated candidate is a refinement candidate: 1 + 1 x 3 per new structure
    assert rows[-1]["evaluations"] == run.evaluations == tr.evaluations == 4 * len(tr.cache)
    assert rows[-1]["structures"] == len(tr.cache) > 0
    assert 0 <= rows[-1]["structure_repeats"] < 1 and tr.requests == 3 * 8
    # the archive holds refined designs, scored by the plain task at their archived loss
    task = load_task(tiny_task)
    top = run.archive.top(5)
    res = task.evaluate([e.network for e in top])
    np.testing.assert_allclose(res.loss, [e.loss for e in top], rtol=1e-9)
    # samples come back as structures with their refined rates, at the structure's loss
    cached = len(tr.cache)
    s = run.sample(24)
    assert len(tr.cache) == cached  # sampling refined new structures on a copy
    ok = s.valid
    res = task.evaluate([n for n, v in zip(s.networks, ok) if v])
    np.testing.assert_allclose(res.loss, s.loss[ok], rtol=1e-9)
    # ... and their log-rewards are those of the designs returned (the prior of the refined rates)
    returned = [n for n, v in zip(s.networks, ok) if v]
    np.testing.assert_allclose(s.log_reward[ok], task.loss_to_log_reward(s.loss[ok]) + task.log_priors(returned),
                               rtol=1e-12)
    run.close()
    with pytest.raises(Exception, match="topology_rounds"):
        tiny_config(tiny_task, topology_reward=True, topology_rounds=-1).validate()
    with pytest.raises(Exception, match="replay buffer"):
        tiny_config(tiny_task, replay_updates=2).validate()
    with pytest.raises(Exception, match="replay_capacity >= batch_size"):
        tiny_config(tiny_task, replay_updates=2, replay_capacity=1).validate()
    with pytest.raises(Exception, match="needs topology_reward"):
        tiny_config(tiny_task, structure_search_every=2, replay_capacity=8).validate()
    with pytest.raises(Exception, match="structure_search_every needs a replay buffer"):
        tiny_config(tiny_task, structure_search_every=2, topology_reward=True).validate()


def test_structure_search_in_a_run_is_counted_and_archived(tiny_task, tmp_path):
    cfg = tiny_config(tiny_task, iterations=4, topology_reward=True, topology_rounds=0, replay_capacity=32,
                      order="free", structure_search_every=2, structure_search_top_k=3, structure_search_neighbours=2)
    run = Run.create(cfg, tmp_path / "s")
    run.train(progress=False)
    ls, tr = run.local_search, run.scorer
    assert ls.calls == 2 and ls.proposed == 2 * 3 * 2
    assert tr.requests == 4 * 8 + ls.proposed        # sampled plus proposed, all through the reward
    assert run.evaluations == tr.evaluations == len(tr.cache)   # rounds 0: one evaluation per new structure
    # every evaluated structure reached the archive (capacity 20 permitting)
    assert len(run.archive) == min(20, sum(1 for _, ok in tr.cache.values() if ok))
    run.close()


def test_cli_topology_reward_flag(tiny_task, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--task", tiny_task, "--iterations", "1", "--batch-size", "4", "--max-reactions", "2",
                 *plain_args("topology_reward"), "--topology-reward", "--set", "topology_rounds=0", "--set", "hidden=16",
                 "--out", str(out),
                 "--no-progress", "--no-finish"]) == 0
    cfg = load_config_file(out / "config.toml")
    assert cfg.topology.enabled is True and cfg.topology.rounds == 0
    rows = read_metrics(out / "metrics.jsonl")
    assert rows[0]["evaluations"] == rows[0]["structures"]  # rounds 0: one evaluation per structure
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--topology-reward"]) != 0
    assert "--topology-reward cannot be changed" in capsys.readouterr().err


def test_a_run_written_before_the_budget_settings_resumes_as_it_was_trained(tiny_task, tmp_path):
    """config.toml files of earlier versions have no max_evaluations / refine_* keys: resuming such
    a run must not switch on today's defaults (archive refinement would find no state to restore)."""
    d = tmp_path / "old"
    run = Run.create(tiny_config(tiny_task, iterations=2), d)
    run.train(progress=False)
    run.close()
    cfg = d / "config.toml"
    lines = [l for l in cfg.read_text().splitlines()
             if not l.startswith(("max_evaluations", "refine_every", "refine_final_share"))]
    cfg.write_text("\n".join(lines) + "\n")
    run = Run.load(d, iterations=3)
    assert run.config.max_evaluations == 0 and run.config.refine.every == 0 and run.config.refine.final_share == 0
    run.train(progress=False)
    assert run.iteration == 3
    run.close()
    assert RunConfig().refine.every > 0   # today's default differs: the file's absence decided
