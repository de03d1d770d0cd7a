"""The torchgfn environment that builds networks reaction by reaction (DESIGN.md 6.1-6.3).

State (flat, fixed width, float64)::

    presence (M) | log-rates y (M x P_c) | discrete indices (M x P_d)

Absent reactions have all their entries 0; ``s0`` is all zeros and ``sf`` is all ``-inf``.
Discrete entries hold the *index* of the value in :data:`~gfn_crn.crn.HILL_COEFFICIENTS`
(0 -> n = 1).

Action (flat, width ``1 + P_c + P_d``, float64)::

    [reaction index | P_c log-values y | P_d discrete indices]

padded with 0 on the slots the reaction does not have. Exit is ``[M, 0, ..., 0]``; the dummy
(padding) action is all ``-1``.

Orders:

* ``canonical``: reactions are added in increasing library index, so each set has one
  trajectory and the backward policy is exactly 1;
* ``free``: any absent reaction may be added; the backward step removes one added reaction
  (its parameters are read back from the state), so a set of ``n`` reactions has ``n!``
  trajectories.

The reward comes from a **scorer** (:class:`~gfn_crn.rewards.Scorer`: a task, a pool, a
topology reward, ...: ``scorer.evaluate(networks)`` gives a result with ``log_reward`` and
``valid``), or from a plain callable ``f(networks) -> (log_reward, valid)`` (numpy arrays of shape
(B,)); the whole batch of terminal states is scored at once. The env keeps no reward logic of its
own: it reads its states (which are finite and inside the prior's support, their networks, their
log prior, their bytes) and asks its :class:`~gfn_crn.rewards.env_reward.EnvReward`
(``env.rewarder``; ``env.reward`` is torchgfn's method), which gives the floor to what cannot be
scored or is invalid, adds the prior if asked and keeps the reward cache. The env's reward
settings and counters (``scorer``, ``log_reward_floor``, ``add_prior``, ``reward_cache_size``,
``reward_cache_hits``, ``n_reward_calls``, ``n_evaluated``) are the rewarder's.

Conditions (a family of tasks, :mod:`gfn_crn.tasks.family`): with ``conditions`` (the family's
:class:`~gfn_crn.tasks.family.ConditionSpace`) the env is conditional (torchgfn's
``is_conditional``): every trajectory carries its condition on its states (``States.conditions``,
one column per variable), ``reset`` draws one per trajectory uniformly when none is given
(``sample_conditions``), and the reward of a terminal state is its condition's (the scorer is
called with the conditions; the reward cache is keyed by condition and state).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

from gfn.actions import Actions
from gfn.env import Env, NonValidActionsError
from gfn.states import States

from ..crn.errors import CRNError
from ..crn.library import ORDERS, ReactionLibrary
from ..crn.network import Network, Template
from ..crn.reactions import HILL_COEFFICIENTS, ReactionInstance
from ..rewards.env_reward import EnvReward
from ..tasks.prior import LogParameterPrior
from .spec import CRNActionSpec


#: A reward callable: a batch of networks -> (log_reward (B,), valid (B,)).
RewardFn = Callable[[list], tuple]


class CRNEnv(Env):
    """Build networks by adding library reactions with their parameters to a template.

    Args:
        library: the reactions to choose from (``M = len(library)``).
        template: the fixed part of every candidate; library reactions with the same signature
            as a fixed reaction are never offered.
        scorer: a :class:`~gfn_crn.rewards.Scorer` or a callable ``f(networks) -> (log_reward,
            valid)``; may be set later (``env.scorer = ...``).
        order: ``"canonical"`` or ``"free"``.
        max_reactions: at most this many added reactions.
        min_reactions: exit is allowed only once this many are present.
        prior: the parameter prior; its support bounds the log-values (default
            :class:`LogParameterPrior`).
        fixed_parameters: if True every parameter is fixed (log-value = the prior mean clipped to
            the support, Hill index 0 i.e. n = 1); the policy then chooses structure only.
        log_reward_floor: log-reward of invalid, non-finite or out-of-support candidates; None
            (default) follows the scorer's task's reward map (its ``floor``; a plain callable's
            ``floor`` attribute), else -50.
        add_prior: add the prior's log-density of the parameters to the task's log-reward
            (leave False when the task already includes it, as gfn_crn tasks do).
        reward_cache_size: remember this many (state -> log-reward) pairs (0: no cache). Only
            for deterministic tasks.
        debug: torchgfn debug mode: actions are validated and invalid ones raise
            :class:`~gfn.env.NonValidActionsError` with a message saying what is wrong.
    """

    def __init__(
        self,
        library: ReactionLibrary,
        template: Template,
        scorer: RewardFn | None = None,
        *,
        order: str = "canonical",
        max_reactions: int = 5,
        min_reactions: int = 1,
        prior: LogParameterPrior | None = None,
        fixed_parameters: bool = False,
        log_reward_floor: float | None = None,
        add_prior: bool = False,
        reward_cache_size: int = 0,
        device: str | torch.device = "cpu",
        debug: bool = False,
        conditions=None,
    ):
        if order not in ORDERS:
            raise CRNError(f"order must be one of {ORDERS}, got {order!r}")
        missing = set(library.species) - set(template.species)
        if missing:
            raise CRNError(f"library species {sorted(missing)} are not declared in the template")
        self.library = library
        self.template = template
        #: the reward: scorer, floor, prior term and cache (gfn_crn.rewards.env_reward)
        self.rewarder = EnvReward(scorer, floor=log_reward_floor, add_prior=add_prior, cache_size=reward_cache_size)
        self.order = order
        self.prior = prior or LogParameterPrior()
        self.fixed_parameters = bool(fixed_parameters)

        M = len(library)
        self.M, self.P_c, self.P_d = M, library.P_c, library.P_d
        self.K = len(HILL_COEFFICIENTS)
        self.dtype = torch.float64
        device = torch.device(device)
        fixed_sigs = {i.reaction.signature for i in template.fixed}
        allowed = np.array([r.signature not in fixed_sigs for r in library.reactions], dtype=bool)
        if not 0 <= min_reactions <= max_reactions:
            raise CRNError(f"need 0 <= min_reactions <= max_reactions, got {min_reactions}, {max_reactions}")
        if allowed.sum() < min_reactions:
            raise CRNError(
                f"min_reactions={min_reactions} but only {int(allowed.sum())} library reactions "
                f"can be added to this template"
            )
        self.max_reactions, self.min_reactions = int(max_reactions), int(min_reactions)

        self.allowed = torch.as_tensor(allowed, device=device)
        self.cmask = torch.as_tensor(library.continuous_mask, device=device).reshape(M, self.P_c)
        self.dmask = torch.as_tensor(library.discrete_mask, device=device).reshape(M, self.P_d)
        # number of allowed reactions strictly above each index (canonical dead-end guard)
        above = np.concatenate([np.cumsum(allowed[::-1])[::-1][1:], [0]]).astype(np.int64)
        self.allowed_above = torch.as_tensor(above, device=device)
        self.y_off = M
        self.d_off = M + M * self.P_c
        self.state_dim = M + M * self.P_c + M * self.P_d
        self.action_dim = 1 + self.P_c + self.P_d
        self.fixed_y = float(min(max(self.prior.mean, self.prior.low), self.prior.high))
        #: what policies need to know about states and actions (gfn_crn.envs.spec)
        self.spec = CRNActionSpec(M, self.P_c, self.P_d, self.K, self.order, self.max_reactions, self.min_reactions,
                                  self.allowed, self.allowed_above, self.cmask, self.dmask, self.prior,
                                  self.fixed_parameters, self.fixed_y, self.dtype, conditions)
        #: the condition variables (a ConditionSpace) of a conditional env, else None
        self.conditions = conditions
        self.is_conditional = conditions is not None  # torchgfn: reset() then draws conditions

        s0 = torch.zeros(self.state_dim, dtype=self.dtype, device=device)
        sf = torch.full((self.state_dim,), -math.inf, dtype=self.dtype, device=device)
        exit_action = torch.zeros(self.action_dim, dtype=self.dtype, device=device)
        exit_action[0] = M
        dummy_action = torch.full((self.action_dim,), -1.0, dtype=self.dtype, device=device)
        super().__init__(
            s0=s0,
            state_shape=(self.state_dim,),
            action_shape=(self.action_dim,),
            dummy_action=dummy_action,
            exit_action=exit_action,
            sf=sf,
            debug=debug,
        )

    # ------------------------------------------------------------------ conditions
    def sample_conditions(self, batch_shape) -> torch.Tensor:
        """(*batch_shape, dim) conditions drawn uniformly (torch's random stream)."""
        if self.conditions is None:
            raise CRNError("this env is not conditional (no condition variables)")
        shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        n = int(np.prod(shape)) if shape else 1
        return self.conditions.sample(n, device=self.device).reshape(*shape, self.conditions.dim)

    def condition_tensor(self, condition, n: int) -> torch.Tensor:
        """(n, dim): one condition (a mapping, or ``"g=1.3"`` text) for n trajectories (checked:
        an unknown variable, or a value out of range or not a choice, is a CRNError naming it)."""
        if self.conditions is None:
            raise CRNError("this env is not conditional: it takes no condition")
        c = self.conditions.parse(condition) if isinstance(condition, (str, list, tuple)) else condition
        return self.conditions.tensor(c, n, device=self.device)

    # ------------------------------------------------------------------ the rewarder's settings and counters
    @property
    def scorer(self):
        """The scorer (``env.rewarder.scorer``)."""
        return self.rewarder.scorer

    @scorer.setter
    def scorer(self, scorer) -> None:
        self.rewarder.scorer = scorer

    @property
    def task(self):
        """The scorer (the name it had before scorers were explicit)."""
        return self.rewarder.scorer

    @task.setter
    def task(self, scorer) -> None:
        self.rewarder.scorer = scorer

    @property
    def log_reward_floor(self) -> float:
        """``env.rewarder.floor``: set a number, or None to follow the scorer's task."""
        return self.rewarder.floor

    @log_reward_floor.setter
    def log_reward_floor(self, value: float | None) -> None:
        self.rewarder.floor = value

    @property
    def add_prior(self) -> bool:
        return self.rewarder.add_prior

    @add_prior.setter
    def add_prior(self, value: bool) -> None:
        self.rewarder.add_prior = bool(value)

    @property
    def reward_cache_size(self) -> int:
        return self.rewarder.cache_size

    @reward_cache_size.setter
    def reward_cache_size(self, value: int) -> None:
        self.rewarder.cache_size = int(value)

    @property
    def reward_cache_hits(self) -> int:
        """Rows answered by the reward cache (``env.rewarder.cache_hits``)."""
        return self.rewarder.cache_hits

    @reward_cache_hits.setter
    def reward_cache_hits(self, value: int) -> None:  # a checkpoint restores the counters
        self.rewarder.cache_hits = int(value)

    @property
    def n_reward_calls(self) -> int:
        """Scorer calls (``env.rewarder.calls``; REINFORCE adds its own)."""
        return self.rewarder.calls

    @n_reward_calls.setter
    def n_reward_calls(self, value: int) -> None:
        self.rewarder.calls = int(value)

    @property
    def n_evaluated(self) -> int:
        """Networks scored (``env.rewarder.evaluated``; REINFORCE adds its own)."""
        return self.rewarder.evaluated

    @n_evaluated.setter
    def n_evaluated(self, value: int) -> None:
        self.rewarder.evaluated = int(value)

    # ------------------------------------------------------------------ classes
    def make_states_class(self) -> type[States]:
        env = self

        class CRNStates(States):
            """States of a :class:`CRNEnv`; masks are computed from the tensor on demand."""

            state_shape = env.state_shape
            s0 = env.s0
            sf = env.sf

            @property
            def forward_masks(self) -> torch.Tensor:
                return env.forward_masks(self.tensor)

            @property
            def backward_masks(self) -> torch.Tensor:
                return env.backward_masks(self.tensor)

        return CRNStates

    # ------------------------------------------------------------------ layout (one implementation: the spec's)
    def presence(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M) bool: which reactions are present (:meth:`CRNActionSpec.presence`)."""
        return self.spec.presence(tensor)

    def log_values(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M, P_c) log-values (:meth:`CRNActionSpec.log_values`)."""
        return self.spec.log_values(tensor)

    def discrete_indices(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M, P_d) discrete value indices (:meth:`CRNActionSpec.discrete_indices`)."""
        return self.spec.discrete_indices(tensor)

    def n_present(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.spec.n_present(tensor)

    def last_present(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.spec.last_present(tensor)

    def forward_masks(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M + 1) bool: reactions that may be added, then exit (:meth:`CRNActionSpec.forward_masks`)."""
        return self.spec.forward_masks(tensor)

    def backward_masks(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M) bool: reactions whose removal is a valid backward step."""
        return self.spec.backward_masks(tensor)

    def split_actions(self, tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(index (...,) long, log-values (..., P_c), discrete indices (..., P_d) long)."""
        return self.spec.split_actions(tensor)

    def make_actions(self, index: torch.Tensor, y: torch.Tensor | None = None,
                     d: torch.Tensor | None = None) -> torch.Tensor:
        """Assemble action tensors, zeroing padded slots and the parameters of exit rows."""
        return self.spec.make_actions(index, y, d)

    def fixed_action_parameters(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters used when ``fixed_parameters`` is on: (y (B, P_c), d (B, P_d))."""
        return self.spec.fixed_action_parameters(index)

    # ------------------------------------------------------------------ transitions
    def _param_columns(self, j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.spec.param_columns(j)

    def step(self, states: States, actions: Actions) -> States:
        t = states.tensor.clone()
        j, y, d = self.split_actions(actions.tensor)
        rows = torch.arange(t.shape[0], device=t.device)
        t[rows, j] = 1.0
        yc, dc = self._param_columns(j)
        zero = torch.zeros((), dtype=t.dtype, device=t.device)
        if self.P_c:
            t[rows[:, None], yc] = torch.where(self.cmask[j], y.to(t.dtype), zero)
        if self.P_d:
            t[rows[:, None], dc] = torch.where(self.dmask[j], d.to(t.dtype), zero)
        return self.states_from_tensor(t)

    def backward_step(self, states: States, actions: Actions) -> States:
        t = states.tensor.clone()
        j = actions.tensor[:, 0].round().long()
        rows = torch.arange(t.shape[0], device=t.device)
        t[rows, j] = 0.0
        yc, dc = self._param_columns(j)
        if self.P_c:
            t[rows[:, None], yc] = 0.0
        if self.P_d:
            t[rows[:, None], dc] = 0.0
        return self.states_from_tensor(t)

    # ------------------------------------------------------------------ validity
    def check_actions(self, states_tensor: torch.Tensor, actions_tensor: torch.Tensor,
                      backward: bool = False) -> str | None:
        """What is wrong with these actions in these states (None if all are valid)."""
        if actions_tensor.shape[-1] != self.action_dim:
            return f"actions have width {actions_tensor.shape[-1]}, expected {self.action_dim}"
        if not torch.isfinite(actions_tensor).all():
            bad = (~torch.isfinite(actions_tensor).all(-1)).nonzero()[0, 0].item()
            return f"action {bad} contains NaN or inf: {actions_tensor[bad].tolist()}"
        raw = actions_tensor[:, 0]
        j = raw.round().long()
        if (raw != j.to(raw.dtype)).any():
            return "reaction indices must be integers"
        hi = self.M if backward else self.M + 1
        if ((j < 0) | (j >= hi)).any():
            b = ((j < 0) | (j >= hi)).nonzero()[0, 0].item()
            return f"action {b}: reaction index {j[b].item()} out of range [0, {hi - 1}]"
        masks = self.backward_masks(states_tensor) if backward else self.forward_masks(states_tensor)
        ok = masks.gather(1, j[:, None])[:, 0]
        if not ok.all():
            b = (~ok).nonzero()[0, 0].item()
            jb = j[b].item()
            pres = self.presence(states_tensor[b])
            if backward:
                why = "it is not present" if not pres[jb] else "canonical order only removes the last reaction"
            elif jb == self.M:
                why = f"only {int(pres.sum())} < min_reactions={self.min_reactions} reactions are present"
            elif pres[jb]:
                why = "it is already present"
            elif not self.allowed[jb]:
                why = "it duplicates a fixed reaction of the template"
            elif int(pres.sum()) >= self.max_reactions:
                why = f"max_reactions={self.max_reactions} are already present"
            else:
                why = "canonical order adds reactions in increasing library index"
            return f"action {b}: reaction {jb} cannot be {'removed' if backward else 'added'}: {why}"
        _, y, d = self.split_actions(actions_tensor)
        jj = j.clamp(max=self.M - 1)
        is_add = j < self.M
        cl = self.cmask[jj] & is_add[:, None]
        dl = self.dmask[jj] & is_add[:, None]
        if backward:
            yc, dc = self._param_columns(jj)
            rows = torch.arange(len(j), device=j.device)[:, None]
            if self.P_c and ((y != states_tensor[rows, yc]) & cl).any():
                return "backward actions must carry the parameters stored in the state"
            if self.P_d and ((d.to(self.dtype) != states_tensor[rows, dc]) & dl).any():
                return "backward actions must carry the discrete parameters stored in the state"
            return None
        if self.P_c and (y[~cl] != 0).any():
            return "padded continuous slots (and exit parameters) must be 0"
        if self.P_d and (d[~dl] != 0).any():
            return "padded discrete slots (and exit parameters) must be 0"
        if self.P_c:
            out = cl & ((y < self.prior.low) | (y > self.prior.high))
            if out.any():
                b, s = out.nonzero()[0].tolist()
                return (f"action {b}: log-parameter {s} of reaction {j[b].item()} is {y[b, s].item():.4g}, "
                        f"outside the prior support [{self.prior.low:.4g}, {self.prior.high:.4g}]")
        if self.P_d and (dl & ((d < 0) | (d >= self.K))).any():
            return f"discrete parameter indices must be in [0, {self.K - 1}]"
        if self.fixed_parameters:
            fy, fd = self.fixed_action_parameters(j)
            if (self.P_c and ((y != fy) & cl).any()) or (self.P_d and ((d != fd) & dl).any()):
                return "this env has fixed_parameters=True: actions must carry the fixed values"
        return None

    def is_action_valid(self, states: States, actions: Actions, backward: bool = False) -> bool:
        if not self.debug:
            return True
        problem = self.check_actions(states.tensor, actions.tensor, backward=backward)
        if problem is not None:
            raise NonValidActionsError(problem)
        return True

    # ------------------------------------------------------------------ networks
    def states_to_networks(self, states: States | torch.Tensor) -> list[Network]:
        """One :class:`Network` per state (added reactions in library order)."""
        t = states.tensor if isinstance(states, States) else states
        t = t.detach().cpu().reshape(-1, self.state_dim)
        if not torch.isfinite(t).all():
            raise CRNError("cannot convert the sink state to a network")
        pres = self.presence(t).numpy()
        y = self.log_values(t).numpy()
        d = self.discrete_indices(t).numpy()
        nc, nd = self.library.n_continuous, self.library.n_discrete
        out = []
        for b in range(t.shape[0]):
            insts = []
            for j in np.flatnonzero(pres[b]):
                r = self.library.reactions[j]
                cp = tuple(float(v) for v in np.exp(y[b, j, : nc[j]]))
                dp = tuple(HILL_COEFFICIENTS[int(v)] for v in d[b, j, : nd[j]])
                insts.append(ReactionInstance(r, cp, dp))
            out.append(Network(self.template, tuple(insts)))
        return out

    def networks_to_states(self, networks: Sequence[Network]) -> States:
        """States for networks built on this env's template from library reactions."""
        t = torch.zeros(len(networks), self.state_dim, dtype=self.dtype)
        for b, net in enumerate(networks):
            if net.template != self.template:
                raise CRNError("network's template differs from the env's: " + "; ".join(self.template.diff(net.template)))
            if len(net.reactions) > self.max_reactions:
                raise CRNError(f"network has {len(net.reactions)} added reactions > max_reactions={self.max_reactions}")
            for inst in net.reactions:
                j = self.library.index(inst.reaction)
                t[b, j] = 1.0
                nc = len(inst.cparams)
                if nc:
                    if min(inst.cparams) <= 0:
                        raise CRNError(f"parameter of '{inst.reaction.describe()}' is 0: log-value undefined")
                    t[b, self.y_off + j * self.P_c : self.y_off + j * self.P_c + nc] = torch.log(
                        torch.tensor(inst.cparams, dtype=self.dtype))
                for s, n in enumerate(inst.dparams):
                    t[b, self.d_off + j * self.P_d + s] = HILL_COEFFICIENTS.index(n)
        return self.states_from_tensor(t.to(self.device))

    # ------------------------------------------------------------------ reward
    def in_support(self, tensor: torch.Tensor) -> torch.Tensor:
        """(B,) bool: every live log-value of every present reaction lies in the prior support."""
        if self.P_c == 0:
            return torch.ones(tensor.shape[0], dtype=torch.bool, device=tensor.device)
        live = self.presence(tensor)[..., None] & self.cmask
        y = self.log_values(tensor)
        bad = live & ~((y >= self.prior.low) & (y <= self.prior.high))
        return ~bad.flatten(1).any(-1)

    def log_prior(self, tensor: torch.Tensor) -> np.ndarray:
        """(B,) log prior density of the parameters of the present reactions."""
        t = tensor.detach().cpu()
        pres = self.presence(t)
        live = (pres[..., None] & self.cmask.cpu()).numpy()
        lp = self.prior.log_prob_y(self.log_values(t).numpy(), live).sum(-1)
        n_disc = (pres[..., None] & self.dmask.cpu()).sum((-1, -2)).numpy()
        return lp + self.prior.log_prob_discrete(n_disc)

    def log_reward(self, states: States) -> torch.Tensor:
        """Log-rewards of a batch of terminal states: ``env.rewarder`` decides them (one scorer call
        for the whole batch); the env tells it which states may be scored (finite, inside the
        prior's support) and reads their networks, log priors and cache keys."""
        t = states.tensor.reshape(-1, self.state_dim)
        eligible = self.in_support(t).cpu().numpy() & torch.isfinite(t).all(-1).cpu().numpy()

        def rows(idx):
            return t[torch.as_tensor(idx, device=t.device)]

        cond = self._conditions_of(states)

        def keys(idx):
            tc = t.detach().cpu().numpy()
            if cond is not None:  # (condition, state): the same design scores differently per condition
                cc = cond.detach().cpu().numpy()
                return [cc[b].tobytes() + tc[b].tobytes() for b in idx]
            return [tc[b].tobytes() for b in idx]

        conditions = None
        if cond is not None:
            def conditions(idx):
                return self.conditions.decode(cond[torch.as_tensor(idx, device=cond.device)])

        out = self.rewarder.log_rewards(eligible, lambda idx: self.states_to_networks(rows(idx)), keys=keys,
                                        log_prior=lambda idx: self.log_prior(rows(idx)),
                                        **({} if conditions is None else {"conditions": conditions}))
        return torch.as_tensor(out, dtype=torch.get_default_dtype(), device=states.device).reshape(states.batch_shape)

    def _conditions_of(self, states: States):
        """(B, dim) conditions of states (None for an unconditional env); a conditional env's
        states without conditions, or an unconditional env's with them, are an error."""
        c = states.conditions
        if self.conditions is None:
            if c is not None:
                raise CRNError("these states carry conditions but the env is not conditional")
            return None
        if c is None:
            raise CRNError(f"this env is conditional ({self.conditions.describe()}): its states need conditions "
                           "(env.reset(n, conditions=...) or sample_trajectories(..., conditions=...))")
        return c.reshape(-1, self.conditions.dim)

    def __repr__(self) -> str:
        return (f"CRNEnv(M={self.M}, P_c={self.P_c}, P_d={self.P_d}, order={self.order!r}, "
                f"reactions {self.min_reactions}..{self.max_reactions})")
