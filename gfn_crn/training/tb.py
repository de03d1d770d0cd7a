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
from gfn.containers import ReplayBuffer
from gfn.gflownet import TBGFlowNet

from ..estimators import CRNPolicyEstimator, default_backward_estimator
from ..samplers import CRNSampler


@dataclass
class TrainConfig:
    """Settings of :func:`train` (all have defaults)."""

    n_iterations: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    lr_logZ: float = 0.05
    init_logZ: float = 0.0
    grad_clip: float = 10.0
    # policy network
    hidden: int = 128
    n_layers: int = 2
    activation: str = "relu"
    family: Optional[str] = None
    learned_pb: bool = False
    # exploration schedules: linear from *_start to *_end over anneal_iterations
    temperature_start: float = 1.0
    temperature_end: float = 1.0
    epsilon_start: float = 0.0
    epsilon_end: float = 0.0
    param_spread_start: float = 1.0
    param_spread_end: float = 1.0
    param_epsilon: Optional[float] = None
    sf_bias: float = 0.0
    anneal_iterations: int = 0
    # replay
    replay_capacity: int = 0
    replay_fraction: float = 0.5
    prioritized_replay: bool = False
    # misc
    reward_cache_size: Optional[int] = None
    seed: Optional[int] = 0
    num_threads: Optional[int] = 1
    log_every: int = 0

    def policy_kwargs(self, iteration: int) -> dict[str, float]:
        """The exploration ``policy_kwargs`` at ``iteration`` (empty when on-policy)."""
        f = 1.0 if self.anneal_iterations <= 0 else min(iteration / self.anneal_iterations, 1.0)

        def lerp(a, b):
            return a + (b - a) * f

        kw: dict[str, float] = {}
        t = lerp(self.temperature_start, self.temperature_end)
        e = lerp(self.epsilon_start, self.epsilon_end)
        s = lerp(self.param_spread_start, self.param_spread_end)
        if t != 1.0:
            kw["temperature"] = t
        if e != 0.0:
            kw["epsilon"] = e
        if s != 1.0:
            kw["param_spread"] = s
        if self.sf_bias != 0.0:
            kw["sf_bias"] = self.sf_bias
        if self.param_epsilon is not None:
            kw["param_epsilon"] = self.param_epsilon
        return kw


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
        return float(self.gflownet.logZ.detach())


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
    return TBGFlowNet(pf, pb, init_logZ=float(config.init_logZ)).to(env.device)


def make_optimizer(gflownet: TBGFlowNet, config: TrainConfig) -> torch.optim.Optimizer:
    logz = gflownet.logz_parameters()
    logz_ids = {id(p) for p in logz}
    rest = [p for p in gflownet.parameters() if id(p) not in logz_ids and p.requires_grad]
    groups = [{"params": rest, "lr": config.lr}]
    if logz:
        groups.append({"params": logz, "lr": config.lr_logZ})
    return torch.optim.Adam(groups)


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
    """
    config = config or TrainConfig()
    old_threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        if config.seed is not None:
            seed_everything(config.seed)
        if config.reward_cache_size is not None:
            env.reward_cache_size = int(config.reward_cache_size)
        gflownet = gflownet or build_gflownet(env, config)
        optimizer = optimizer or make_optimizer(gflownet, config)
        sampler = CRNSampler(gflownet.pf)
        buffer = None
        if config.replay_capacity > 0:
            buffer = ReplayBuffer(env, capacity=config.replay_capacity,
                                  prioritized_capacity=config.prioritized_replay)
        result = TrainResult([], gflownet, gflownet.pf, gflownet.pb, optimizer, sampler, buffer, config)
        params = [p for g in optimizer.param_groups for p in g["params"]]
        n_replay = int(round(config.batch_size * config.replay_fraction)) if buffer is not None else 0
        for it in range(config.n_iterations):
            t0 = time.perf_counter()
            kw = config.policy_kwargs(it)
            with torch.no_grad():
                trajectories = sampler.sample_trajectories(env, n=config.batch_size, **kw)
            log_rewards = trajectories.log_rewards  # one reward call for the whole batch
            t_sample = time.perf_counter() - t0
            training = trajectories
            if buffer is not None:
                if len(buffer) >= n_replay > 0:
                    replayed = buffer.sample(n_replay)
                    training = trajectories[torch.arange(trajectories.batch_size)]
                    training.extend(replayed)
                buffer.add(trajectories[torch.arange(trajectories.batch_size)])
            loss = gflownet.loss(env, training, recalculate_all_logprobs=True)
            optimizer.zero_grad()
            loss.backward()
            if config.grad_clip and config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            lr_ = log_rewards.detach()
            rec = {
                "iteration": it,
                "loss": float(loss.detach()),
                "logZ": float(gflownet.logZ.detach()),
                "mean_log_reward": float(lr_.mean()),
                "max_log_reward": float(lr_.max()),
                "valid_fraction": float((lr_ > env.log_reward_floor).float().mean()),
                "mean_length": float((trajectories.terminating_idx - 1).float().mean()),
                "seconds": time.perf_counter() - t0,
                "sample_seconds": t_sample,
                **{k: float(v) for k, v in kw.items()},
            }
            result.history.append(rec)
            if config.log_every and (it % config.log_every == 0 or it == config.n_iterations - 1):
                print(f"it {it:5d} loss {rec['loss']:.4f} logZ {rec['logZ']:.4f} "
                      f"mean logR {rec['mean_log_reward']:.3f} max logR {rec['max_log_reward']:.3f} "
                      f"{rec['seconds'] * 1e3:.1f} ms", flush=True)
            if callback is not None:
                callback(it, rec, result)
        return result
    finally:
        torch.set_num_threads(old_threads)


def config_dict(config: TrainConfig) -> dict:
    return asdict(config)


__all__ = ["TrainConfig", "TrainResult", "train", "build_gflownet", "make_optimizer", "seed_everything",
           "config_dict"]
