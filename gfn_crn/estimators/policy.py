"""The forward policy: structure logits over M reactions + exit, then the chosen reaction's
parameters (DESIGN.md 6.4-6.5).

An FFNN trunk over the preprocessed state gives the structure logits (M + 1) and a hidden
vector ``h``. A parameter head, fed ``h`` and a learned embedding of the *chosen* reaction,
gives that reaction's continuous and discrete parameter distributions: sampling is two-stage
(index first, then parameters conditioned on it), and

    log PF(action) = log Cat(index) + log p(continuous | index) + log p(discrete | index)

counting only the live slots of the chosen reaction (exit has none).

Exploration (``policy_kwargs`` of :meth:`CRNPolicyEstimator.to_probability_distribution`):

* ``temperature``: structure logits / T;
* ``epsilon``: structure mixed with uniform over the valid actions; parameters mixed (with
  ``param_epsilon``, default ``epsilon``) with a broad proposal: the prior itself (its truncated
  normal on each live log-value) and uniform allowed discrete values;
* ``sf_bias``: subtracted from the exit logit (before the temperature);
* ``param_spread``: multiplies the scale (Cholesky factor) of the continuous distribution.

Each keeps full support and ``log_prob`` is exact for the behaviour policy.

Conditions (a conditional env, ``env.spec.conditions``; :mod:`gfn_crn.tasks.family`): a
condition encoder (:class:`~gfn_crn.estimators.modules.ConditionEncoder`, an FFNN over the
condition's features) maps ``states.conditions`` to ``condition_dim`` values that are appended to
the preprocessed state before the trunk, so the structure logits and the parameter head both
depend on the condition. An unconditional env's policy has no encoder and is unchanged.

Support: ``lognormal_1d`` and ``lognormal_independent`` are normals on ``y`` *truncated to the
prior support* ``[low, high]`` (exact normaliser), so the policy never proposes a parameter the
env would reject. The correlated family is not truncated (a box-truncated multivariate normal
has no closed-form normaliser): its rare out-of-support draws get the env's floor reward in
normal use and raise in debug mode. ``on_policy_log_prob``
gives the untempered policy's log-prob of the same actions; :meth:`CRNPolicyEstimator.log_probs`
saves *those* when a sampler asks to save log-probs (the torchgfn trap of DESIGN.md 6.6 cannot
happen: stored log-probs are on-policy whatever ``policy_kwargs`` the sampler used; the
behaviour ones go to ``ctx.extras["behaviour_log_probs"]``).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from gfn.estimators import Estimator, PolicyMixin
from gfn.states import States
from torch.distributions import Distribution

from .distributions import (
    CONTINUOUS_FAMILIES,
    LogNormal1D,
    MaskedLogNormal,
    MaskedLogNormalCorrelated,
    MaskedMultiCategorical,
    MaskedMultivariateNormal,
)
from ..crn.errors import CRNError
from ..envs.spec import action_spec
from .modules import FFNN, ConditionEncoder
from .preprocessor import CRNPreprocessor


def structure_log_probs(logits: torch.Tensor, masks: torch.Tensor, temperature: float = 1.0,
                        epsilon: float = 0.0, sf_bias: float = 0.0) -> torch.Tensor:
    """Normalised log-probabilities over M + 1 structure actions (exit last).

    Invalid actions get ``-inf``; a row without any valid action (never reached from s0) is put
    on exit so nothing is NaN. ``epsilon`` mixes with uniform over the valid actions.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    masks = masks.clone()
    empty = ~masks.any(-1)
    if empty.any():
        masks[empty, -1] = True
    x = torch.where(masks, logits, torch.zeros_like(logits))
    if sf_bias != 0.0:
        x = torch.cat([x[..., :-1], x[..., -1:] - sf_bias], dim=-1)
    if temperature != 1.0:
        x = x / temperature
    x = x.masked_fill(~masks, float("-inf"))
    lsm = torch.log_softmax(x, dim=-1)
    if epsilon > 0.0:
        n_valid = masks.sum(-1, keepdim=True).to(lsm.dtype)
        safe = torch.where(masks, lsm, torch.zeros_like(lsm))
        mixed = torch.logaddexp(safe + math.log1p(-epsilon) if epsilon < 1 else torch.full_like(safe, float("-inf")),
                                -torch.log(n_valid) + math.log(epsilon))
        lsm = mixed.masked_fill(~masks, float("-inf"))
    return lsm


class PolicyTrunk(nn.Module):
    """FFNN body; outputs ``[structure logits (M + 1) | h]``."""

    def __init__(self, body: FFNN, n_logits: int):
        super().__init__()
        self.body = body
        self.structure = nn.Linear(body.output_dim, n_logits)
        self.input_dim = body.input_dim
        self.hidden_dim = body.output_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        return torch.cat([self.structure(h), h], dim=-1)


class ParameterHead(nn.Module):
    """Raw parameter-distribution outputs for a chosen reaction: FFNN([h, embedding(j)])."""

    def __init__(self, M: int, trunk_dim: int, n_out: int, embed_dim: int = 32, hidden: int = 64,
                 n_layers: int = 1, activation: str = "relu"):
        super().__init__()
        self.embedding = nn.Embedding(max(M, 1), embed_dim)
        self.net = FFNN(trunk_dim + embed_dim, n_out, hidden, n_layers, activation)
        with torch.no_grad():  # start near the centre of the support with unit-ish spread
            last = self.net.net[-1]
            last.weight.mul_(0.1)
            last.bias.zero_()

    def forward(self, h: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([h, self.embedding(j)], dim=-1))


class CRNActionDistribution(Distribution):
    """The composite action distribution of one batch of states (see module docstring)."""

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, estimator: "CRNPolicyEstimator", logits: torch.Tensor, h: torch.Tensor,
                 masks: torch.Tensor, temperature: float = 1.0, epsilon: float = 0.0,
                 sf_bias: float = 0.0, param_spread: float = 1.0, param_epsilon: Optional[float] = None):
        self.est = estimator
        self.spec = estimator.spec
        self.h = h
        self.masks = masks
        self.logits = logits
        self.temperature, self.epsilon, self.sf_bias = float(temperature), float(epsilon), float(sf_bias)
        self.param_spread = float(param_spread)
        self.param_epsilon = self.epsilon if param_epsilon is None else float(param_epsilon)
        if self.param_spread <= 0:
            raise ValueError(f"param_spread must be > 0, got {param_spread}")
        if not 0.0 <= self.param_epsilon < 1.0:
            raise ValueError(f"param_epsilon must be in [0, 1), got {self.param_epsilon}")
        self.is_tempered = (self.temperature != 1.0 or self.epsilon != 0.0 or self.sf_bias != 0.0
                            or self.param_spread != 1.0 or self.param_epsilon != 0.0)
        self.struct_lp = structure_log_probs(logits, masks, self.temperature, self.epsilon, self.sf_bias)
        self._on_struct_lp = None if self.is_tempered else self.struct_lp
        super().__init__(batch_shape=torch.Size([logits.shape[0]]),
                         event_shape=torch.Size([self.spec.action_dim]), validate_args=False)

    # ---------------------------------------------------------------- structure
    @property
    def on_policy_structure_log_probs(self) -> torch.Tensor:
        if self._on_struct_lp is None:
            self._on_struct_lp = structure_log_probs(self.logits, self.masks)
        return self._on_struct_lp

    def structure_entropy(self) -> torch.Tensor:
        lp = self.struct_lp
        safe = torch.where(torch.isfinite(lp), lp, torch.zeros_like(lp))
        return -(lp.exp() * safe).sum(-1)

    # ---------------------------------------------------------------- parameters
    def _param_logprob(self, j: torch.Tensor, y: torch.Tensor, d: torch.Tensor, behaviour: bool) -> torch.Tensor:
        if self.spec.fixed_parameters or (self.spec.P_c == 0 and self.spec.P_d == 0):
            return torch.zeros(j.shape[0], dtype=self.h.dtype, device=self.h.device)
        spread = self.param_spread if behaviour else 1.0
        cont, disc = self.est.parameter_distributions(self.h, j, spread)
        yy = y.to(self.h.dtype)
        lp = torch.zeros(j.shape[0], dtype=self.h.dtype, device=self.h.device)
        if cont is not None:
            lp = lp + cont.log_prob(yy)
        if disc is not None:
            lp = lp + disc.log_prob(d)
        pe = self.param_epsilon if behaviour else 0.0
        if pe > 0:
            bc, bd = self.est.broad_distributions(j, dtype=self.h.dtype)
            lb = torch.zeros_like(lp)
            if bc is not None:
                lb = lb + bc.log_prob(yy)
            if bd is not None:
                lb = lb + bd.log_prob(d)
            lp = torch.logaddexp(lp + math.log1p(-pe), lb + math.log(pe))
        return lp

    def _log_prob(self, actions: torch.Tensor, behaviour: bool) -> torch.Tensor:
        spec = self.spec
        j, y, d = spec.split_actions(actions)
        struct = self.struct_lp if behaviour else self.on_policy_structure_log_probs
        in_range = (j >= 0) & (j <= spec.M)
        jc = j.clamp(0, spec.M)
        lp_s = struct.gather(-1, jc[:, None])[:, 0]
        lp_s = torch.where(in_range, lp_s, torch.full_like(lp_s, float("-inf")))
        return lp_s + self._param_logprob(j, y, d, behaviour)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Exact log-probability of ``actions`` under this (behaviour) distribution."""
        return self._log_prob(actions, behaviour=True)

    def on_policy_log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability under the untempered policy (what training must use)."""
        if not self.is_tempered:
            return self._log_prob(actions, behaviour=True)
        return self._log_prob(actions, behaviour=False)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        if len(sample_shape):
            raise NotImplementedError("CRNActionDistribution samples one action per state")
        spec = self.spec
        with torch.no_grad():
            j = torch.multinomial(self.struct_lp.exp(), 1)[:, 0]
            B = j.shape[0]
            if spec.fixed_parameters:
                y, d = spec.fixed_action_parameters(j)
                return spec.make_actions(j, y, d)
            y = torch.zeros(B, spec.P_c, dtype=self.h.dtype, device=j.device)
            d = torch.zeros(B, spec.P_d, dtype=torch.long, device=j.device)
            cont, disc = self.est.parameter_distributions(self.h, j, self.param_spread)
            if cont is not None:
                y = cont.sample()
            if disc is not None:
                d = disc.sample()
            if self.param_epsilon > 0:
                bc, bd = self.est.broad_distributions(j, dtype=self.h.dtype)
                use = torch.rand(B, device=j.device) < self.param_epsilon
                if bc is not None:
                    y = torch.where(use[:, None], bc.sample(), y)
                if bd is not None:
                    d = torch.where(use[:, None], bd.sample(), d)
            return spec.make_actions(j, y, d)

    def entropy(self) -> torch.Tensor:
        """H(index) + sum_j p(j) H(parameters | j) (exact; no parameter mixture)."""
        H = self.structure_entropy()
        spec = self.spec
        if spec.fixed_parameters or (spec.P_c == 0 and spec.P_d == 0):
            return H
        if self.param_epsilon > 0:
            raise NotImplementedError("entropy of the epsilon parameter mixture has no closed form")
        B, M = self.h.shape[0], spec.M
        j = torch.arange(M, device=self.h.device).repeat(B)
        hh = self.h.repeat_interleave(M, dim=0)
        cont, disc = self.est.parameter_distributions(hh, j, self.param_spread)
        Hp = torch.zeros(B * M, dtype=self.h.dtype, device=self.h.device)
        if cont is not None:
            Hp = Hp + cont.entropy()
        if disc is not None:
            Hp = Hp + disc.entropy()
        p = self.struct_lp[:, :M].exp()
        return H + (p * Hp.reshape(B, M)).sum(-1)


class CRNPolicyEstimator(PolicyMixin, Estimator):
    """Forward policy for :class:`~gfn_crn.envs.CRNEnv`.

    Args:
        env: the environment, or its action spec (``env.spec``: the policy reads nothing else).
        hidden, n_layers, activation: the trunk FFNN.
        family: continuous family, one of ``lognormal_1d`` (needs P_c == 1),
            ``lognormal_independent``, ``lognormal_correlated``; default ``lognormal_1d`` when
            the library has one continuous parameter per reaction, else ``lognormal_independent``.
        embed_dim, head_hidden, head_layers: the parameter head.
        sigma_min, sigma_max: bounds on the per-slot std (diagonal of the Cholesky factor) of
            the continuous distribution; the mean is bounded to the prior support
            (``centre + half_width * tanh(raw)``).
        offdiag_max: bound on the off-diagonal Cholesky entries (correlated families).
        allowed_discrete: optional bool tensor (K,) or (P_d, K) of allowed Hill coefficients.
        condition_dim, condition_hidden: the condition encoder's output width and hidden width
            (conditional envs only; see the module docstring).
    """

    def __init__(self, env, hidden: int = 128, n_layers: int = 2, activation: str = "relu",
                 family: str | None = None, embed_dim: int = 32, head_hidden: int = 64,
                 head_layers: int = 1, sigma_min: float = 0.05, sigma_max: float | None = None,
                 offdiag_max: float | None = None, allowed_discrete: torch.Tensor | None = None,
                 preprocessor: CRNPreprocessor | None = None, debug: bool = False,
                 condition_dim: int = 32, condition_hidden: int = 64):
        self.last_context = None  # the rollout context of the last rollout (init_context)
        spec = action_spec(env)
        preprocessor = preprocessor or CRNPreprocessor(spec)
        space = getattr(spec, "conditions", None)
        body = FFNN(preprocessor.output_dim + (int(condition_dim) if space is not None else 0), None, hidden,
                    n_layers, activation)
        trunk = PolicyTrunk(body, spec.M + 1)
        super().__init__(trunk, preprocessor, is_backward=False, debug=debug)
        self.spec = spec
        if family is None:
            family = "lognormal_1d" if spec.P_c == 1 else "lognormal_independent"
        if family not in CONTINUOUS_FAMILIES or family == "normal_correlated":
            raise ValueError(
                f"family must be one of lognormal_1d, lognormal_independent, lognormal_correlated; got {family!r} "
                "(normal_correlated is for parameters that may be negative: every CRN parameter is a log-rate)"
            )
        if family == "lognormal_1d" and spec.P_c > 1:
            raise ValueError(f"lognormal_1d needs one continuous parameter per reaction; this library has up to {spec.P_c}")
        self.family = family
        P = spec.P_c
        if family == "lognormal_correlated":
            self.n_cont = 2 * P + P * (P - 1) // 2
        else:
            self.n_cont = 2 * P
        self.n_disc = spec.P_d * spec.K
        self.trunk_dim = trunk.hidden_dim
        self.param_head = ParameterHead(spec.M, self.trunk_dim, max(self.n_cont + self.n_disc, 1), embed_dim,
                                        head_hidden, head_layers, activation)
        self.center = 0.5 * (spec.prior.low + spec.prior.high)
        self.half_width = 0.5 * (spec.prior.high - spec.prior.low)
        self.sigma_min = float(sigma_min)
        self.sigma_max = None if sigma_max is None else float(sigma_max)
        self.offdiag_max = offdiag_max
        if allowed_discrete is None:
            allowed_discrete = torch.ones(spec.K, dtype=torch.bool)
        allowed_discrete = torch.as_tensor(allowed_discrete, dtype=torch.bool)
        if allowed_discrete.dim() == 1:
            allowed_discrete = allowed_discrete.expand(max(spec.P_d, 1), spec.K)
        if not allowed_discrete.any(-1).all():
            raise ValueError("allowed_discrete must allow at least one value per slot")
        self.register_buffer("allowed_discrete", allowed_discrete[: max(spec.P_d, 1)].clone(), persistent=False)
        #: the condition encoder of a conditional env (None otherwise; built last, so an
        #: unconditional policy's initial weights are what they always were under a seed)
        self.condition_encoder = None
        if space is not None:
            self.condition_encoder = ConditionEncoder(space, int(condition_dim), condition_hidden, 1, activation)

    def forward(self, states: States, conditions: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``[structure logits (M + 1) | h]`` of the states; a conditional policy reads the
        condition (``conditions``, else ``states.conditions``) through its encoder."""
        x = self.preprocessor(states)
        c = conditions if conditions is not None else states.conditions
        if self.condition_encoder is not None:
            if c is None:
                raise CRNError(f"this policy is conditional ({self.spec.conditions.describe()}): "
                               "its states need conditions")
            x = torch.cat([x, self.condition_encoder(c).to(x.dtype)], dim=-1)
        elif c is not None:
            raise CRNError("conditions given to a policy built for an unconditional env")
        out = self.module(x)
        assert out.shape[-1] == self.expected_output_dim
        return out

    @property
    def expected_output_dim(self) -> int:
        return self.spec.M + 1 + self.trunk_dim

    # ---------------------------------------------------------------- parameter distributions
    def parameter_distributions(self, h: torch.Tensor, j: torch.Tensor, spread: float = 1.0):
        """(continuous, discrete) distributions of reaction ``j`` per row (either may be None).
        Rows with ``j`` outside [0, M) (exit) have every slot switched off."""
        spec = self.spec
        is_add = (j >= 0) & (j < spec.M)
        jj = j.clamp(0, spec.M - 1)
        raw = self.param_head(h, jj)
        cont = disc = None
        if spec.P_c:
            P = spec.P_c
            cm = spec.cmask[jj] & is_add[:, None]
            rc = raw[:, : self.n_cont]
            if self.family == "lognormal_correlated":
                cont = MaskedLogNormalCorrelated.from_raw(
                    rc[:, :P], rc[:, P : 2 * P], rc[:, 2 * P :], cm, mu_max=self.half_width,
                    mu_center=self.center, sigma_min=self.sigma_min, sigma_max=self.sigma_max,
                    offdiag_max=self.offdiag_max, spread=spread)
            else:
                loc = self.center + self.half_width * torch.tanh(rc[:, :P])
                scale = F.softplus(rc[:, P : 2 * P]) + self.sigma_min
                if self.sigma_max is not None:
                    scale = scale.clamp(max=self.sigma_max)
                cls = LogNormal1D if self.family == "lognormal_1d" else MaskedLogNormal
                cont = cls(loc, spread * scale, cm, spec.prior.low, spec.prior.high)
        if spec.P_d:
            dm = spec.dmask[jj] & is_add[:, None]
            rd = raw[:, self.n_cont : self.n_cont + self.n_disc].reshape(-1, spec.P_d, spec.K)
            disc = MaskedMultiCategorical(rd, self.allowed_discrete[: spec.P_d], dm)
        return cont, disc

    def broad_distributions(self, j: torch.Tensor, dtype=None):
        """The broad proposal for parameter exploration: the prior's (untruncated) normal on each
        live log-value and uniform over the allowed discrete values."""
        spec = self.spec
        dtype = dtype or torch.get_default_dtype()
        is_add = (j >= 0) & (j < spec.M)
        jj = j.clamp(0, spec.M - 1)
        B = j.shape[0]
        cont = disc = None
        if spec.P_c:
            cm = spec.cmask[jj] & is_add[:, None]
            loc = torch.full((B, spec.P_c), spec.prior.mean, dtype=dtype, device=j.device)
            cont = MaskedLogNormal(loc, torch.full_like(loc, spec.prior.std), cm, spec.prior.low, spec.prior.high)
        if spec.P_d:
            dm = spec.dmask[jj] & is_add[:, None]
            disc = MaskedMultiCategorical(torch.zeros(B, spec.P_d, spec.K, dtype=dtype, device=j.device),
                                          self.allowed_discrete[: spec.P_d], dm)
        return cont, disc

    # ---------------------------------------------------------------- torchgfn API
    def init_context(self, batch_size: int, device: torch.device, conditions: Optional[torch.Tensor] = None):
        """torchgfn's rollout context, also kept as :attr:`last_context` so that a sampler can
        read what :meth:`log_probs` recorded in it (the behaviour log-probs)."""
        ctx = super().init_context(batch_size, device, conditions)
        self.last_context = ctx
        return ctx

    def to_probability_distribution(self, states: States, module_output: torch.Tensor,
                                    temperature: float = 1.0, epsilon: float = 0.0, sf_bias: float = 0.0,
                                    param_spread: float = 1.0, param_epsilon: Optional[float] = None,
                                    **unknown: Any) -> CRNActionDistribution:
        if unknown:
            raise TypeError(f"unknown policy_kwargs {sorted(unknown)} (known: temperature, epsilon, "
                            "sf_bias, param_spread, param_epsilon)")
        M = self.spec.M
        logits = module_output[..., : M + 1]
        h = module_output[..., M + 1 :]
        masks = self.spec.forward_masks(states.tensor)
        return CRNActionDistribution(self, logits, h, masks, temperature, epsilon, sf_bias,
                                     param_spread, param_epsilon)

    def log_probs(self, actions_active: torch.Tensor, dist: CRNActionDistribution, ctx: Any,
                  step_mask: Optional[torch.Tensor] = None, vectorized: bool = False,
                  save_logprobs: bool = False) -> tuple[torch.Tensor, Any]:
        """Behaviour log-probs are returned; when ``save_logprobs`` the *on-policy* ones are
        stored in ``ctx.trajectory_log_probs`` (what torchgfn's losses reuse) and the behaviour
        ones in ``ctx.extras["behaviour_log_probs"]``."""
        lp = dist.log_prob(actions_active)
        on = dist.on_policy_log_prob(actions_active) if (save_logprobs and dist.is_tempered) else lp
        if vectorized:
            if save_logprobs:
                ctx.trajectory_log_probs.append(on)
                ctx.extras.setdefault("behaviour_log_probs", []).append(lp.detach())
            return lp, ctx
        if self.debug and torch.isinf(lp).any():
            raise RuntimeError("an action has log-probability -inf under the policy that sampled it")
        assert step_mask is not None, "step_mask is required when vectorized=False"

        def pad(x):
            out = torch.zeros(ctx.batch_size, device=ctx.device, dtype=x.dtype)
            out[step_mask] = x
            return out

        step_lp = pad(lp)
        if save_logprobs:
            ctx.trajectory_log_probs.append(pad(on))
            ctx.extras.setdefault("behaviour_log_probs", []).append(step_lp.detach())
        return step_lp, ctx
