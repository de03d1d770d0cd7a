"""Code that runs in other processes for tests/test_scaleout.py (spawned workers import it)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch


class CrashingTask:
    """Wraps a task; the first ``crashes`` calls in any worker kill that worker (os._exit), using
    files in ``marker_dir`` to count across processes."""

    def __init__(self, task, marker_dir, crashes=1):
        self.task, self.marker_dir, self.crashes = task, str(marker_dir), crashes

    def __getattr__(self, name):
        if name.startswith("__") or name == "task":
            raise AttributeError(name)
        return getattr(self.task, name)

    def evaluate(self, networks):
        d = Path(self.marker_dir)
        n = len(list(d.glob("crash-*")))
        if n < self.crashes:
            (d / f"crash-{n}-{os.getpid()}").write_text("")
            os._exit(3)
        return self.task.evaluate(networks)


class FailingTask(CrashingTask):
    """Raises an ordinary exception (a bug in the task, not a crash)."""

    def evaluate(self, networks):
        raise ValueError("task bug: no such species 'Q'")


def synthetic_env(order="free"):
    from gfn_crn.crn import antithetic_example, mass_action_library
    from gfn_crn.envs import CRNEnv
    from gfn_crn.training import RandomQuadraticReward

    tmpl = antithetic_example().template
    lib = mass_action_library(tmpl.species)
    return CRNEnv(lib, tmpl, RandomQuadraticReward(lib, seed=3), order=order, max_reactions=3)


def ddp_worker(rank, world_size, port, out_dir, n_steps):
    """One rank: a few data-parallel TB steps; then one more batch whose averaged gradient is
    saved with the batch itself, so the test can recompute the gradient on the concatenation."""
    import torch.distributed as dist

    from gfn_crn.training import TrainConfig  # noqa: F401
    from gfn_crn.training.config import plain_tb
    from gfn_crn.training.distributed import DistContext
    from gfn_crn.training.tb import Trainer

    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size, init_method=f"tcp://127.0.0.1:{port}")
    try:
        ctx = DistContext(rank=rank, world_size=world_size, local_rank=rank, backend="gloo")
        env = synthetic_env()
        cfg = plain_tb(n_iterations=n_steps, batch_size=8, hidden=16, seed=5, lr=1e-2, grad_clip=0.0,
                          epsilon_start=0.1, epsilon_end=0.1, lr_logZ=0.05, temperature_start=1.0, anneal_fraction=0.0)
        trainer = Trainer(env, cfg, dist=ctx)
        init = [p.detach().clone() for p in trainer.gflownet.parameters()]
        for _ in range(n_steps):
            trainer.step()
        params = [p.detach().clone() for p in trainer.gflownet.parameters()]
        # one more batch: the DDP-averaged gradient, and the batch that produced it
        gfn = trainer.gflownet
        with torch.no_grad():
            traj = trainer.sampler.sample_trajectories(env, n=8)
        log_rewards = traj.log_rewards.clone()
        loss = gfn.loss(env, traj, recalculate_all_logprobs=True)
        gfn.zero_grad()
        loss.backward()
        local = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in gfn.parameters()]
        ctx.average_gradients(list(gfn.parameters()))
        avg = [p.grad.detach().clone() for p in gfn.parameters()]
        torch.save({"init": init, "params": params, "state": gfn.state_dict(), "local_grad": local, "avg_grad": avg,
                    "states": traj.states.tensor.clone(), "actions": traj.actions.tensor.clone(),
                    "terminating_idx": traj.terminating_idx.clone(), "log_rewards": log_rewards,
                    "evaluated": env.n_evaluated},
                   Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


class UnloadableTask(CrashingTask):
    """Pickles in its creator, fails to unpickle anywhere else (like a task class from __main__)."""

    def __init__(self, task):
        super().__init__(task, "", 0)
        self.creator = os.getpid()

    def __setstate__(self, state):
        if state["creator"] != os.getpid():
            raise AttributeError("Can't get attribute 'UnloadableTask' (simulated)")
        self.__dict__.update(state)
