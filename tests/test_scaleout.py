"""Scale-out (issue 7): the reward worker pool and data-parallel training on torch.distributed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gfn_crn.crn import CRNError, mass_action_library, random_network
from gfn_crn.rewards.pool import TaskPool, WorkerCrashError
from gfn_crn.tasks import load_task

sys.path.insert(0, str(Path(__file__).parent))
from _scaleout_workers import CrashingTask, FailingTask, UnloadableTask, ddp_worker, synthetic_env  # noqa: E402

#: worker pools, gloo ranks, torchrun: 8-82 s each
pytestmark = pytest.mark.slow

FIELDS = ("loss", "log_reward", "valid", "reason", "log_prior")


@pytest.fixture(scope="module")
def rpa():
    return load_task("rpa")


@pytest.fixture(scope="module")
def nets(rpa):
    rng = np.random.default_rng(11)
    lib = mass_action_library(rpa.template.species)
    return [random_network(rng, rpa.template, [(lib, 4)], low=0.1, high=20.0) for _ in range(40)]


def same(a, b):
    for k in FIELDS:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert np.array_equal(a.scenario_loss, b.scenario_loss, equal_nan=True)


# ---------------------------------------------------------------- the worker pool
def test_pool_returns_exactly_the_in_process_results(rpa, nets):
    ref = TaskPool(rpa, workers=1, chunk_size=16).evaluate(nets)
    with TaskPool(rpa, workers=2, chunk_size=16) as pool:
        got = pool.evaluate(nets)
        again = pool.evaluate(nets[:5])
    same(got, ref)
    assert got.sim is None and len(got) == 40 and pool.chunks(40) == [slice(0, 16), slice(16, 32), slice(32, 40)]
    # another batch is other chunks: exactly the in-process result of those chunks, and equal to
    # round-off only to the first batch's (the vectorised simulator's round-off depends on which
    # networks share a call, e.g. through numpy's SIMD loops on this CPU)
    same(again, TaskPool(rpa, workers=1, chunk_size=16).evaluate(nets[:5]))
    np.testing.assert_allclose(again.loss, ref.loss[:5], rtol=1e-9, atol=1e-12)
    # one simulator call for the whole batch agrees to round-off with the chunked path
    whole = rpa.evaluate(nets)
    assert np.array_equal(whole.valid, ref.valid)
    np.testing.assert_allclose(whole.loss, ref.loss, rtol=1e-9, atol=1e-12)
    lr, valid = TaskPool(rpa, workers=1, chunk_size=16)(nets[:3])
    ref3 = TaskPool(rpa, workers=1, chunk_size=16).evaluate(nets[:3])
    assert np.array_equal(lr, ref3.log_reward) and np.array_equal(valid, ref3.valid)
    np.testing.assert_allclose(lr, ref.log_reward[:3], rtol=1e-9, atol=1e-9)


def test_pool_retries_a_batch_after_a_worker_crash(rpa, nets, tmp_path):
    ref = rpa.evaluate(nets[:12])
    messages = []
    with TaskPool(CrashingTask(rpa, tmp_path, crashes=1), workers=2, chunk_size=4, warn=messages.append) as pool:
        got = pool.evaluate(nets[:12])
        assert pool.crashes == 1 and pool.retried_chunks >= 1
        assert len(messages) == 1 and "died" in messages[0] and "again" in messages[0]
        got2 = pool.evaluate(nets[:12])  # the restarted pool keeps working
        assert pool.crashes == 1
    for r in (got, got2):
        np.testing.assert_allclose(r.loss, ref.loss, rtol=1e-9)
        assert np.array_equal(r.valid, ref.valid)


def test_pool_gives_up_after_max_retries_and_raises_task_errors(rpa, nets, tmp_path):
    with TaskPool(CrashingTask(rpa, tmp_path, crashes=10), workers=2, chunk_size=8, max_retries=1,
                  warn=lambda m: None) as pool:
        with pytest.raises(WorkerCrashError, match="died 2 times.*max_retries=1"):
            pool.evaluate(nets[:16])
    with TaskPool(FailingTask(rpa, tmp_path), workers=2, chunk_size=8) as pool:
        with pytest.raises(ValueError, match="no such species 'Q'"):
            pool.evaluate(nets[:16])
        assert pool.crashes == 0


@pytest.mark.timeout(120)
def test_pool_reports_a_task_that_does_not_load_in_a_worker(rpa, nets):
    # the task (about 240 kB pickled) is more than a pipe holds: it must not block the start-up
    with TaskPool(UnloadableTask(rpa), workers=2, chunk_size=8, max_retries=1, warn=lambda m: None) as pool:
        with pytest.raises(WorkerCrashError, match="may not load in a fresh process"):
            pool.evaluate(nets[:16])
        assert pool.crashes == 2 and pool.retried_chunks == 2


def test_pool_rejects_bad_settings_and_bad_networks(rpa, nets):
    for kw, msg in (({"workers": 0}, "workers"), ({"chunk_size": 0}, "chunk_size"), ({"max_retries": -1}, "max_retries"),
                    ({"workers": 1.5}, "workers"), ({"start_method": "teleport"}, "teleport")):
        with pytest.raises(CRNError, match=msg):
            TaskPool(rpa, **kw)
    with pytest.raises(CRNError, match="evaluate"):
        TaskPool(object())
    with pytest.raises(CRNError, match="at least one"):
        TaskPool(rpa).evaluate([])
    with pytest.raises(CRNError, match="candidate 1 is not a Network"):
        TaskPool(rpa, workers=2).evaluate([nets[0], "A -> B"])
    with pytest.raises(TypeError, match="cannot be pickled"):
        import pickle

        pickle.dumps(TaskPool(rpa))
    assert TaskPool(rpa).task is rpa  # the task is explicit: pool.task, nothing forwarded
    assert not hasattr(TaskPool(rpa), "good_threshold")


# ---------------------------------------------------------------- data-parallel training
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_stay_identical_and_average_the_concatenated_gradient(tmp_path):
    from gfn.containers import Trajectories

    from gfn_crn.training import ON_POLICY, build_gflownet
    from gfn_crn.training.config import plain_tb

    torch.multiprocessing.spawn(ddp_worker, args=(2, _free_port(), str(tmp_path), 4), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    # rank 0's initial parameters were broadcast; after 4 steps both ranks still agree exactly
    for a, b in zip(r0["init"], r1["init"]):
        assert torch.equal(a, b)
    moved = any(not torch.equal(a, b) for a, b in zip(r0["init"], r0["params"]))
    assert moved
    for a, b in zip(r0["params"], r1["params"]):
        assert torch.equal(a, b)
    # the ranks sampled different batches (their own seeds) ...
    assert not torch.equal(r0["actions"], r1["actions"]) or not torch.equal(r0["states"], r1["states"])
    assert r0["evaluated"] == r1["evaluated"] == 5 * 8
    # ... and the averaged gradient is the single-process gradient of the concatenated batch
    env = synthetic_env()
    cfg = plain_tb(batch_size=8, hidden=16, lr_logZ=0.05, **ON_POLICY)
    gfn = build_gflownet(env, cfg)
    gfn.load_state_dict(r0["state"])
    parts = [Trajectories(env=env, states=env.States(r["states"]), actions=env.Actions(r["actions"]),
                          terminating_idx=r["terminating_idx"], is_backward=False, log_rewards=r["log_rewards"])
             for r in (r0, r1)]
    both = parts[0]
    both.extend(parts[1])
    assert both.batch_size == 16
    loss = gfn.loss(env, both, recalculate_all_logprobs=True)
    gfn.zero_grad()
    loss.backward()
    n_checked = 0
    for p, g0, g1, l0 in zip(gfn.parameters(), r0["avg_grad"], r1["avg_grad"], r0["local_grad"]):
        assert torch.equal(g0, g1)
        ref = p.grad if p.grad is not None else torch.zeros_like(p)
        torch.testing.assert_close(g0, ref, rtol=1e-4, atol=1e-6)
        n_checked += int(ref.abs().sum() > 0)
    assert n_checked >= 3
    # the local gradient alone is not the answer (so the comparison above can fail)
    assert any(not torch.allclose(l0, p.grad, rtol=1e-3, atol=1e-6) for l0, p in
               zip(r0["local_grad"], gfn.parameters()) if p.grad is not None)


def _torchrun(args, cwd, timeout=240):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "gfn_crn.cli",
           "train", *args]
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def _rows(d):
    keep = lambda r: {k: v for k, v in r.items() if k not in ("seconds", "sample_seconds", "elapsed")}  # noqa: E731
    return [keep(json.loads(x)) for x in (Path(d) / "metrics.jsonl").read_text().splitlines() if x.strip()]


def test_torchrun_training_merges_the_archive_and_resumes_bit_for_bit(tmp_path):
    # no exploration schedule, so that a run extended with --iterations follows the same settings
    from conftest import plain_args

    common = ["--task", "rpa", "--batch-size", "8", "--max-reactions", "3", "--no-finish", "--no-progress",
              *plain_args(), "--set", "hidden=16", "--set", "checkpoint_every=2", "--set", "anneal_fraction=0"]
    _torchrun([*common, "--iterations", "4", "--out", "straight"], tmp_path)
    _torchrun([*common, "--iterations", "2", "--out", "resumed"], tmp_path)
    p = _torchrun(["--resume", "resumed", "--iterations", "4", "--no-finish", "--no-progress"], tmp_path)
    assert p.stderr.count("resuming") == 1  # only rank 0 talks
    a, b = _rows(tmp_path / "straight"), _rows(tmp_path / "resumed")
    assert len(a) == 4 and a == b
    assert [r["evaluations"] for r in a] == [16, 32, 48, 64]  # both ranks' designs are counted
    arch = json.loads((tmp_path / "straight" / "archive.json").read_text())
    assert {e["found_by"] for e in arch["entries"]} == {0, 1}
    assert arch == json.loads((tmp_path / "resumed" / "archive.json").read_text())
    state = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    assert state["world_size"] == 2 and len(state["ranks"]) == 2
    assert not torch.equal(state["ranks"][0]["rng"]["torch"], state["ranks"][1]["rng"]["torch"])
    # resuming with another number of processes is refused with the reason
    p = subprocess.run([sys.executable, "-m", "gfn_crn.cli", "train", "--resume", "straight", "--iterations", "5",
                        "--no-finish", "--no-progress"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "trained by 2 process(es)" in p.stderr and "nproc_per_node=2" in p.stderr
    assert "iterations = 4" in (tmp_path / "straight" / "config.toml").read_text()  # nothing rewritten


def test_training_with_worker_processes_matches_one_process(tmp_path):
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run

    rows = {}
    for w in (1, 2):
        from gfn_crn.training.config import PLAIN_RUN

        cfg = resolve_config(overrides={**PLAIN_RUN, "task": "rpa", "iterations": 3, "batch_size": 12, "hidden": 16,
                                        "max_reactions": 3, "workers": w, "chunk_size": 4})
        run = Run.create(cfg, tmp_path / f"w{w}")
        try:
            run.train(progress=False)
        finally:
            run.close()
        rows[w] = _rows(tmp_path / f"w{w}")
    assert len(rows[1]) == 3 and rows[1] == rows[2]
