"""The state and action layout of a :class:`~gfn_crn.envs.CRNEnv`: what a policy needs to know.

torchgfn's estimators are built from an action spec, not from the environment; gfn_crn's
(:mod:`gfn_crn.estimators`) are built from a :class:`CRNActionSpec` (``env.spec``). It holds the
sizes (``M`` library reactions, ``P_c`` continuous and ``P_d`` discrete parameter slots, ``K``
Hill coefficients), the masks (which slots each reaction uses, which reactions a template allows),
the order and length rules, the prior (its support bounds the log-values) and the tensor views
and masks of the flat layout (DESIGN.md 6.3)::

    state:  presence (M) | log-values (M x P_c) | discrete indices (M x P_d)
    action: [reaction index | P_c log-values | P_d discrete indices]; exit = M, dummy = -1

The environment's own methods of the same names delegate here, so there is one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..tasks.prior import LogParameterPrior


@dataclass(eq=False)
class CRNActionSpec:
    """Sizes, masks, rules and tensor views of a CRN environment's states and actions."""

    M: int
    P_c: int
    P_d: int
    K: int
    order: str
    max_reactions: int
    min_reactions: int
    allowed: torch.Tensor         # (M,) bool: reactions the template allows
    allowed_above: torch.Tensor   # (M,) allowed reactions strictly above each index
    cmask: torch.Tensor           # (M, P_c) live continuous slots
    dmask: torch.Tensor           # (M, P_d) live discrete slots
    prior: LogParameterPrior
    fixed_parameters: bool
    fixed_y: float                # the log-value every parameter takes when fixed_parameters
    dtype: torch.dtype = torch.float64
    #: the condition variables of a family of tasks (a :class:`~gfn_crn.tasks.family.ConditionSpace`:
    #: ``dim``, ``n_features``, ``features(tensor)``), None for an unconditional env
    conditions: object = None

    @property
    def y_off(self) -> int:
        return self.M

    @property
    def d_off(self) -> int:
        return self.M + self.M * self.P_c

    @property
    def state_dim(self) -> int:
        return self.M + self.M * self.P_c + self.M * self.P_d

    @property
    def action_dim(self) -> int:
        return 1 + self.P_c + self.P_d

    # ------------------------------------------------------------------ views of a state tensor
    def presence(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M) bool: which reactions are present."""
        return tensor[..., : self.M] > 0.5

    def log_values(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M, P_c) log-values (0 where absent or padded)."""
        return tensor[..., self.y_off : self.d_off].reshape(*tensor.shape[:-1], self.M, self.P_c)

    def discrete_indices(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M, P_d) discrete value indices (0 where absent or padded)."""
        return tensor[..., self.d_off :].reshape(*tensor.shape[:-1], self.M, self.P_d).round().long()

    def n_present(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.presence(tensor).sum(-1)

    def last_present(self, tensor: torch.Tensor) -> torch.Tensor:
        """(...,) largest present index, -1 when none."""
        idx = torch.arange(self.M, device=tensor.device)
        return torch.where(self.presence(tensor), idx, torch.full_like(idx, -1)).max(-1).values

    # ------------------------------------------------------------------ masks
    def forward_masks(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M + 1) bool: reactions that may be added, then exit."""
        pres = self.presence(tensor)
        n = pres.sum(-1)
        can_add = ~pres & self.allowed & (n < self.max_reactions)[..., None]
        if self.order == "canonical":
            idx = torch.arange(self.M, device=tensor.device)
            can_add = can_add & (idx > self.last_present(tensor)[..., None])
            # never enter a state from which min_reactions cannot be reached
            can_add = can_add & ((n[..., None] + 1 + self.allowed_above) >= self.min_reactions)
        exit_ok = n >= self.min_reactions
        return torch.cat([can_add, exit_ok[..., None]], dim=-1)

    def backward_masks(self, tensor: torch.Tensor) -> torch.Tensor:
        """(..., M) bool: reactions whose removal is a valid backward step."""
        pres = self.presence(tensor)
        if self.order == "canonical":
            idx = torch.arange(self.M, device=tensor.device)
            return pres & (idx == self.last_present(tensor)[..., None])
        return pres

    # ------------------------------------------------------------------ actions
    def split_actions(self, tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(index (...,) long, log-values (..., P_c), discrete indices (..., P_d) long)."""
        j = tensor[..., 0].round().long()
        y = tensor[..., 1 : 1 + self.P_c]
        d = tensor[..., 1 + self.P_c :].round().long()
        return j, y, d

    def make_actions(self, index: torch.Tensor, y: torch.Tensor | None = None,
                     d: torch.Tensor | None = None) -> torch.Tensor:
        """Assemble action tensors, zeroing padded slots and the parameters of exit rows."""
        B = index.shape[0]
        out = torch.zeros(B, self.action_dim, dtype=self.dtype, device=index.device)
        out[:, 0] = index.to(self.dtype)
        jj = index.clamp(0, self.M - 1)
        is_add = (index >= 0) & (index < self.M)
        if self.P_c and y is not None:
            live = self.cmask[jj] & is_add[:, None]
            out[:, 1 : 1 + self.P_c] = torch.where(live, y.to(self.dtype), torch.zeros((), dtype=self.dtype, device=index.device))
        if self.P_d and d is not None:
            live = self.dmask[jj] & is_add[:, None]
            out[:, 1 + self.P_c :] = torch.where(live, d.to(self.dtype), torch.zeros((), dtype=self.dtype, device=index.device))
        return out

    def fixed_action_parameters(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters used when ``fixed_parameters`` is on: (y (B, P_c), d (B, P_d))."""
        B = index.shape[0]
        y = torch.full((B, self.P_c), self.fixed_y, dtype=self.dtype, device=index.device)
        d = torch.zeros(B, self.P_d, dtype=torch.long, device=index.device)
        return y, d

    def param_columns(self, j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The state columns of reaction ``j``'s continuous and discrete parameters."""
        yc = self.y_off + j[:, None] * self.P_c + torch.arange(self.P_c, device=j.device)
        dc = self.d_off + j[:, None] * self.P_d + torch.arange(self.P_d, device=j.device)
        return yc, dc


def action_spec(env_or_spec) -> CRNActionSpec:
    """The action spec of an environment (``env.spec``), or the spec itself."""
    if isinstance(env_or_spec, CRNActionSpec):
        return env_or_spec
    spec = getattr(env_or_spec, "spec", None)
    if not isinstance(spec, CRNActionSpec):
        raise TypeError(f"expected a CRNEnv or a CRNActionSpec, got {type(env_or_spec).__name__}")
    return spec


__all__ = ["CRNActionSpec", "action_spec"]
