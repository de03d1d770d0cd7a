"""Backward policies for :class:`~gfn_crn.envs.CRNEnv` (DESIGN.md 6.3, 6.7).

A backward step removes one added reaction; its parameters are read back from the state, so
PB is a distribution over which reaction to remove only (the parameters contribute nothing).
Each estimator is built from the env's action spec (``env`` or ``env.spec``, :mod:`gfn_crn.envs.spec`).

* :class:`UniformBackwardEstimator` -- uniform over the removable reactions: ``1/n`` in free
  order, exactly 1 in canonical order (only the last reaction is removable);
* :class:`CanonicalBackwardEstimator` -- the exact ``PB = 1`` of canonical order, as an
  estimator whose log-prob is 0 (torchgfn's ``pb=None, constant_pb=True`` path crashes for
  actions wider than 1, DESIGN.md 6.7);
* :class:`LearnedBackwardEstimator` -- an FFNN over the state, logits masked to the removable
  reactions (free order).
"""

from __future__ import annotations

from typing import Any

import torch
from gfn.estimators import Estimator, PolicyMixin
from gfn.states import States
from torch.distributions import Distribution

from ..envs.spec import action_spec
from .modules import FFNN, ZeroModule
from .preprocessor import CRNPreprocessor


class CRNBackwardDistribution(Distribution):
    """Categorical over the reaction to remove; ``sample`` returns full actions (index and the
    parameters stored in the state), ``log_prob`` reads the index of an action."""

    arg_constraints: dict = {}

    def __init__(self, spec, states_tensor: torch.Tensor, log_probs: torch.Tensor):
        self.spec = spec
        self.states_tensor = states_tensor
        self.lp = log_probs
        super().__init__(batch_shape=torch.Size([log_probs.shape[0]]),
                         event_shape=torch.Size([spec.action_dim]), validate_args=False)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        spec = self.spec
        with torch.no_grad():
            j = torch.multinomial(self.lp.exp(), 1)[:, 0]
            y = spec.log_values(self.states_tensor)[torch.arange(len(j)), j]
            d = spec.discrete_indices(self.states_tensor)[torch.arange(len(j)), j]
            return spec.make_actions(j, y, d)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        j = actions[..., 0].round().long()
        ok = (j >= 0) & (j < self.spec.M)
        lp = self.lp.gather(-1, j.clamp(0, self.spec.M - 1)[:, None])[:, 0]
        return torch.where(ok, lp, torch.full_like(lp, float("-inf")))

    def entropy(self) -> torch.Tensor:
        safe = torch.where(torch.isfinite(self.lp), self.lp, torch.zeros_like(self.lp))
        return -(self.lp.exp() * safe).sum(-1)


def _masked_log_softmax(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    masks = masks.clone()
    empty = ~masks.any(-1)
    if empty.any():  # s0 has no parent; never evaluated by torchgfn, kept finite anyway
        masks[empty, 0] = True
    x = torch.where(masks, logits, torch.zeros_like(logits)).masked_fill(~masks, float("-inf"))
    return torch.log_softmax(x, dim=-1)


class _BackwardBase(PolicyMixin, Estimator):
    def forward(self, states: States, conditions: torch.Tensor | None = None) -> torch.Tensor:
        """The backward policy does not read the condition (any backward policy is a valid
        choice for trajectory balance, conditional or not); torchgfn passes it for conditional
        envs."""
        return super().forward(states)

    def __init__(self, env, module, preprocessor, debug: bool = False):
        super().__init__(module, preprocessor, is_backward=True, debug=debug)
        self.spec = action_spec(env)

    @property
    def expected_output_dim(self) -> int:
        return self.spec.M

    def to_probability_distribution(self, states: States, module_output: torch.Tensor,
                                    **policy_kwargs: Any) -> CRNBackwardDistribution:
        # exploration kwargs do not apply to PB; they are accepted and ignored
        lp = _masked_log_softmax(module_output, self.spec.backward_masks(states.tensor))
        return CRNBackwardDistribution(self.spec, states.tensor, lp)


class UniformBackwardEstimator(_BackwardBase):
    """Uniform over the removable reactions (no parameters)."""

    def __init__(self, env, preprocessor: CRNPreprocessor | None = None, debug: bool = False):
        spec = action_spec(env)
        preprocessor = preprocessor or CRNPreprocessor(spec)
        super().__init__(spec, ZeroModule(preprocessor.output_dim, spec.M), preprocessor, debug)


class CanonicalBackwardEstimator(UniformBackwardEstimator):
    """PB = 1 exactly (canonical order has one parent per state)."""

    def __init__(self, env, preprocessor: CRNPreprocessor | None = None, debug: bool = False):
        if action_spec(env).order != "canonical":
            raise ValueError("CanonicalBackwardEstimator needs an env with order='canonical'")
        super().__init__(env, preprocessor, debug)

    def to_probability_distribution(self, states: States, module_output: torch.Tensor,
                                    **policy_kwargs: Any) -> CRNBackwardDistribution:
        masks = self.spec.backward_masks(states.tensor)
        lp = torch.zeros(masks.shape, dtype=torch.get_default_dtype(), device=masks.device)
        lp = lp.masked_fill(~masks, float("-inf"))
        empty = ~masks.any(-1)
        if empty.any():
            lp[empty, 0] = 0.0
        return CRNBackwardDistribution(self.spec, states.tensor, lp)


class LearnedBackwardEstimator(_BackwardBase):
    """An FFNN over the state; logits masked to the removable reactions."""

    def __init__(self, env, hidden: int = 128, n_layers: int = 2, activation: str = "relu",
                 preprocessor: CRNPreprocessor | None = None, debug: bool = False):
        spec = action_spec(env)
        preprocessor = preprocessor or CRNPreprocessor(spec)
        module = FFNN(preprocessor.output_dim, spec.M, hidden, n_layers, activation)
        with torch.no_grad():  # start uniform
            module.net[-1].weight.zero_()
            module.net[-1].bias.zero_()
        super().__init__(spec, module, preprocessor, debug)


def default_backward_estimator(env, learned: bool = False, **kwargs) -> Estimator:
    """Canonical order: exact PB = 1. Free order: uniform, or learned if asked."""
    if action_spec(env).order == "canonical":
        return CanonicalBackwardEstimator(env)
    return LearnedBackwardEstimator(env, **kwargs) if learned else UniformBackwardEstimator(env)
