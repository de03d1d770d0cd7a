"""State preprocessing for the networks: presence, scaled log-rates, discrete indices, size."""

from __future__ import annotations

import torch
from gfn.preprocessors import Preprocessor
from gfn.states import States

from ..envs.spec import action_spec


class CRNPreprocessor(Preprocessor):
    """Maps a :class:`~gfn_crn.envs.CRNEnv` state to a float vector for the FFNN.

    Output: presence (M) | log-rates scaled to [-1, 1] over the prior support, 0 where absent
    or padded (M x P_c) | discrete index / (K - 1) (M x P_d) | number of reactions /
    max_reactions (1). Non-finite entries (the sink state) map to 0.
    """

    def __init__(self, env):
        self.spec = spec = action_spec(env)
        M, P_c, P_d = spec.M, spec.P_c, spec.P_d
        super().__init__(output_dim=M + M * P_c + M * P_d + 1, target_dtype=torch.get_default_dtype())
        self.center = 0.5 * (spec.prior.low + spec.prior.high)
        self.half_width = 0.5 * (spec.prior.high - spec.prior.low)

    def preprocess(self, states: States) -> torch.Tensor:
        spec = self.spec
        t = states.tensor
        t = torch.where(torch.isfinite(t), t, torch.zeros((), dtype=t.dtype, device=t.device))
        pres = spec.presence(t)
        dtype = torch.get_default_dtype()
        parts = [pres.to(dtype)]
        if spec.P_c:
            live = pres[..., None] & spec.cmask
            y = (spec.log_values(t) - self.center) / self.half_width
            parts.append(torch.where(live, y, torch.zeros_like(y)).flatten(-2).to(dtype))
        if spec.P_d:
            d = t[..., spec.d_off:] / max(spec.K - 1, 1)
            parts.append(d.to(dtype))
        parts.append((pres.sum(-1, keepdim=True).to(dtype) / max(spec.max_reactions, 1)))
        return torch.cat(parts, dim=-1)
