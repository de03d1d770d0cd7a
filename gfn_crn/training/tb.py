"""Trajectory-balance training (DESIGN.md 6.7).

:func:`train` builds (or takes) the forward policy, the backward policy and a
:class:`~gfn.gflownet.TBGFlowNet` with a learned log Z (created through ``init_logZ``: torchgfn
2.4.1 silently replaces ``logZ=nn.Parameter(torch.tensor(0.))``), and trains with Adam, log Z on
its own learning rate. Each iteration samples a batch with the exploration policy
(``policy_kwargs`` from annealed schedules), evaluates the rewards of the whole batch at once,
optionally mixes in trajectories from a replay buffer, and recomputes the on-policy log-probs of
every trajectory for the loss (``recalculate_all_logprobs=True``), so exploration and replay
never leak into the gradient.

Seeded runs are deterministic (torch, numpy and Python RNGs are seeded; one torch thread).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from gfn.containers import ReplayBuffer, Trajectories
from gfn.gflownet import TBGFlowNet

from ..estimators import CRNPolicyEstimator, default_backward_estimator
from ..samplers import CRNSampler
from .config import TrainConfig
from .distributed import SINGLE, DistContext


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    history: list[dict[str, float]]
    gflownet: TBGFlowNet
    pf: CRNPolicyEstimator
    pb: Any
    optimizer: torch.optim.Optimizer
    sampler: CRNSampler
    replay_buffer: Optional[ReplayBuffer] = None
    config: TrainConfig = field(default_factory=TrainConfig)

    @property
    def logZ(self) -> float:
        return logz_value(self.gflownet)


def logz_value(gflownet, conditions: Optional[torch.Tensor] = None) -> float:
    """log Z as a number: the parameter, or a conditional log Z's mean over ``conditions``
    (default: the reference condition, the middle of every range and the first choice)."""
    logZ = gflownet.logZ
    if isinstance(logZ, torch.Tensor):
        return float(logZ.detach())
    with torch.no_grad():
        if conditions is None:
            space = gflownet.pf.spec.conditions
            conditions = space.tensor(space.reference, 1)
        return float(logZ(conditions).mean())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_gflownet(env, config: TrainConfig, pf=None, pb=None) -> TBGFlowNet:
    """A TBGFlowNet for ``env``: the CRN policy, the order's backward policy, learned log Z."""
    pf = pf or CRNPolicyEstimator(env, hidden=config.hidden, n_layers=config.n_layers,
                                  activation=config.activation, family=config.family)
    if pb is None:
        pb = default_backward_estimator(env, learned=config.learned_pb, hidden=config.hidden,
                                        n_layers=config.n_layers, activation=config.activation)
    if getattr(env, "conditions", None) is not None:  # a family: log Z(condition) (ConditionalLogZEstimator)
        from gfn.estimators import ConditionalLogZEstimator

        from ..estimators.modules import ConditionEncoder

        enc = ConditionEncoder(env.conditions, 1, hidden=64, n_layers=1)
        with torch.no_grad():  # starts at init_logZ for every condition
            last = enc.net.net[-1]
            last.weight.zero_()
            last.bias.fill_(float(config.init_logZ))
        return TBGFlowNet(pf, pb, logZ=ConditionalLogZEstimator(enc)).to(env.device)
    return TBGFlowNet(pf, pb, init_logZ=float(config.init_logZ)).to(env.device)


def make_optimizer(gflownet: TBGFlowNet, config: TrainConfig) -> torch.optim.Optimizer:
    logz = gflownet.logz_parameters()
    logz_ids = {id(p) for p in logz}
    rest = [p for p in gflownet.parameters() if id(p) not in logz_ids and p.requires_grad]
    groups = [{"params": rest, "lr": config.lr}]
    if logz:
        groups.append({"params": logz, "lr": config.lr_logZ})
    return torch.optim.Adam(groups)


class Trainer:
    """The trajectory-balance loop as an object whose state can be saved and restored.

    ``Trainer(env, config)`` seeds the RNGs (when ``config.seed`` is set), builds the
    gflownet, optimizer, sampler and replay buffer; each :meth:`step` runs one iteration and
    returns its record. :meth:`state_dict` / :meth:`load_state_dict` capture everything the
    next iterations depend on (network and optimizer state, iteration counter, replay buffer,
    torch / numpy / Python RNG states, the env's evaluation counters), so a run restored from a
    checkpoint continues bit-for-bit as if it had never stopped.

    The caller owns the torch thread count (see :func:`train`); use one thread for
    reproducible floating-point results.

    With ``dist`` (a :class:`~gfn_crn.training.distributed.DistContext` of several processes)
    the trainer is one rank of a data-parallel job: it seeds its RNGs with the rank's own seed,
    takes rank 0's parameters at the start, and averages the gradients over the ranks before
    every optimizer step (see :mod:`gfn_crn.training.distributed`).
    """

    def __init__(self, env, config: TrainConfig | None = None, *, gflownet: TBGFlowNet | None = None,
                 optimizer: torch.optim.Optimizer | None = None, dist: DistContext = SINGLE,
                 schedule: Callable[[int], dict] | None = None):
        config = config or TrainConfig()
        self.env, self.config, self.dist = env, config, dist
        if config.seed is not None:
            seed_everything(dist.rank_seed(config.seed))
        if config.reward_cache_size is not None:
            env.reward_cache_size = int(config.reward_cache_size)
        self.gflownet = gflownet or build_gflownet(env, config)
        dist.broadcast_module(self.gflownet)
        self.optimizer = optimizer or make_optimizer(self.gflownet, config)
        self.sampler = CRNSampler(self.gflownet.pf)
        self.buffer = None
        if config.replay_updates and config.replay_capacity < config.batch_size:
            # the extra updates draw a full batch from the buffer: a smaller one would never allow them
            raise ValueError(f"replay_updates={config.replay_updates} needs a replay buffer of at least one batch "
                             f"(replay_capacity >= batch_size = {config.batch_size}), got {config.replay_capacity}")
        if config.replay_capacity > 0:
            self.buffer = ReplayBuffer(env, capacity=config.replay_capacity,
                                       prioritized_capacity=config.prioritized_replay)
        self.iteration = 0
        # iteration -> exploration policy_kwargs: over the iterations (config.policy_kwargs), or what
        # the caller passes (a run with an evaluation budget anneals over it: RunConfig.exploration_schedule)
        self.schedule = schedule if schedule is not None else config.policy_kwargs
        self.history: list[dict[str, float]] = []
        self.last_trajectories = None
        self._params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self._n_replay = (int(round(config.batch_size * config.replay_fraction))
                          if self.buffer is not None else 0)

    @property
    def logZ(self) -> float:
        return logz_value(self.gflownet)

    def step(self) -> dict[str, float]:
        """One TB iteration: sample a batch (exploration policy), one reward call, update."""
        config, env, gflownet = self.config, self.env, self.gflownet
        it = self.iteration
        t0 = time.perf_counter()
        kw = self.schedule(it)
        with torch.no_grad():
            trajectories = self.sampler.sample_trajectories(env, n=config.batch_size, **kw)
        log_rewards = trajectories.log_rewards  # one reward call for the whole batch
        t_sample = time.perf_counter() - t0
        training = trajectories
        buffer = self.buffer
        if buffer is not None:
            if len(buffer) >= self._n_replay > 0:
                replayed = buffer.sample(self._n_replay)
                training = trajectories[torch.arange(trajectories.batch_size)]
                training.extend(replayed)
            buffer.add(trajectories[torch.arange(trajectories.batch_size)])
        loss = self._update(training)
        if config.replay_updates and buffer is not None and len(buffer) >= config.batch_size:
            for _ in range(int(config.replay_updates)):
                self._update(buffer.sample(config.batch_size))
        lr_ = log_rewards.detach()
        rec = {
            "iteration": it,
            "loss": float(loss.detach()),
            "logZ": logz_value(gflownet, trajectories.states.conditions[0]
                               if trajectories.states.conditions is not None else None),
            "mean_log_reward": float(lr_.mean()),
            "max_log_reward": float(lr_.max()),
            "valid_fraction": float((lr_ > env.log_reward_floor).float().mean()),
            "mean_length": float((trajectories.terminating_idx - 1).float().mean()),
            "seconds": time.perf_counter() - t0,
            "sample_seconds": t_sample,
            **{k: float(v) for k, v in kw.items()},
        }
        self.history.append(rec)
        self.last_trajectories = trajectories
        self.iteration += 1
        if config.log_every and (it % config.log_every == 0 or it == config.n_iterations - 1):
            print(f"it {it:5d} loss {rec['loss']:.4f} logZ {rec['logZ']:.4f} "
                  f"mean logR {rec['mean_log_reward']:.3f} max logR {rec['max_log_reward']:.3f} "
                  f"{rec['seconds'] * 1e3:.1f} ms", flush=True)
        return rec

    def _update(self, training) -> torch.Tensor:
        """One optimizer step on the TB loss of ``training`` (on-policy log-probs recomputed)."""
        loss = self.gflownet.loss(self.env, training, recalculate_all_logprobs=True)
        self.optimizer.zero_grad()
        loss.backward()
        self.dist.average_gradients(self._params)
        if self.config.grad_clip and self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self._params, self.config.grad_clip)
        self.optimizer.step()
        return loss

    def result(self) -> "TrainResult":
        return TrainResult(self.history, self.gflownet, self.gflownet.pf, self.gflownet.pb, self.optimizer,
                           self.sampler, self.buffer, self.config)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything the following iterations depend on (tensors and plain Python objects)."""
        return {
            "iteration": self.iteration,
            "gflownet": self.gflownet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            **self.local_state(),
        }

    def local_state(self) -> dict:
        """The part of the state that differs between the ranks of a data-parallel job (RNG
        states, replay buffer, the env's evaluation counters)."""
        env = self.env
        return {
            "rng": rng_state(),
            "replay": _buffer_state(self.buffer),
            "env_counters": {k: int(getattr(env, k, 0)) for k in ("n_evaluated", "n_reward_calls",
                                                                 "reward_cache_hits")},
        }

    def load_state_dict(self, state: dict) -> None:
        self.gflownet.load_state_dict(state["gflownet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        self.load_local_state(state)

    def load_local_state(self, state: dict) -> None:
        _load_buffer_state(self.buffer, self.env, state.get("replay"))
        for k, v in state.get("env_counters", {}).items():
            setattr(self.env, k, int(v))
        set_rng_state(state["rng"])


def rng_state() -> dict:
    """The torch, numpy and Python RNG states."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def _buffer_state(buffer) -> Optional[dict]:
    if buffer is None or buffer.training_container is None:
        return None
    c = buffer.training_container
    if not isinstance(c, Trajectories):  # pragma: no cover - train() only stores trajectories
        raise TypeError(f"cannot checkpoint a replay buffer of {type(c).__name__}")
    return {
        "states": c.states.tensor.clone(),
        "actions": c.actions.tensor.clone(),
        "terminating_idx": c.terminating_idx.clone(),
        "log_rewards": None if c._log_rewards is None else c._log_rewards.clone(),
        "is_full": bool(getattr(buffer, "_is_full", False)),
        **({"conditions": c.states.conditions.clone()} if c.states.conditions is not None else {}),
    }


def _load_buffer_state(buffer, env, state: Optional[dict]) -> None:
    if buffer is None:
        return
    if state is None:
        buffer.training_container = None
        return
    buffer.training_container = Trajectories(
        env=env,
        states=env.States(state["states"], conditions=state.get("conditions")),  # a family's: with conditions
        actions=env.Actions(state["actions"]),
        terminating_idx=state["terminating_idx"],
        is_backward=False,
        log_rewards=state["log_rewards"],
    )
    buffer._is_full = state.get("is_full", False)


def train(env, config: TrainConfig | None = None, *, gflownet: TBGFlowNet | None = None,
          optimizer: torch.optim.Optimizer | None = None,
          callback: Callable[[int, dict, TrainResult], None] | None = None) -> TrainResult:
    """Train a GFlowNet on ``env`` with trajectory balance.

    Args:
        env: a :class:`~gfn_crn.envs.CRNEnv` with a task set.
        config: :class:`TrainConfig` (defaults if None).
        gflownet, optimizer: continue training these instead of building new ones.
        callback: called as ``callback(iteration, record, result)`` after each iteration.

    Returns:
        :class:`TrainResult` with the history (one dict per iteration: loss, logZ, mean and max
        log-reward, share of valid candidates, seconds, exploration settings) and the objects.
        For resumable runs (checkpoints, RNG states) use :class:`Trainer` or
        :func:`gfn_crn.training.run.run_training`.
    """
    config = config or TrainConfig()
    old_threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        trainer = Trainer(env, config, gflownet=gflownet, optimizer=optimizer)
        result = trainer.result()
        result.history = trainer.history
        for it in range(config.n_iterations):
            rec = trainer.step()
            if callback is not None:
                callback(it, rec, result)
        return result
    finally:
        torch.set_num_threads(old_threads)


def config_dict(config: TrainConfig) -> dict:
    return asdict(config)


__all__ = ["TrainConfig", "TrainResult", "Trainer", "train", "rng_state", "set_rng_state", "build_gflownet", "make_optimizer", "seed_everything",
           "config_dict"]
