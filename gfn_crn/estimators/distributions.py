"""Masked parameter distributions for the policy (DESIGN.md section 6.4).

Every family works on a padded batch: values have shape ``(B, P)`` and a boolean ``mask`` of the
same shape marks the live slots (a prefix per row: a reaction with ``P_c(j)`` continuous
parameters has its first ``P_c(j)`` slots live). Masked slots

* contribute exactly 0 to ``log_prob`` and ``entropy``,
* are sampled as exactly 0,
* never produce NaN, in values or in gradients, whatever is stored in them (the raw network
  outputs and the values of masked slots are replaced by harmless constants *before* any
  arithmetic, so no ``0 * inf`` appears in a backward pass).

Continuous families score values in log space: a "log-normal" rate ``k = exp(y)`` is a normal
on ``y``, and ``log_prob(y)`` is the density of ``y`` (DESIGN.md 6.2: the policy and the prior
live on the same reference measure, Lebesgue measure on ``y``). :meth:`to_values` turns
log-values into rates.

Families:

* :class:`LogNormal1D` -- one parameter per reaction (mass-action libraries);
* :class:`MaskedLogNormal` -- independent per-slot normals on ``y`` (``lognormal_independent``);
* :class:`MaskedMultivariateNormal` -- a correlated normal with a Cholesky factor over the live
  prefix (``normal_correlated``, for parameters that may be negative);
* :class:`MaskedLogNormalCorrelated` -- the same on ``y`` (``lognormal_correlated``);
* :class:`MaskedMultiCategorical` -- independent categoricals per slot with a ``logit_mask``
  (forbidden values) and a ``dimension_mask`` (switched-off slots).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2.0 * math.pi)

CONTINUOUS_FAMILIES = ("lognormal_1d", "lognormal_independent", "lognormal_correlated", "normal_correlated")


def lognormal_from_mean_std(mean: torch.Tensor, std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The peer's log-normal parameterisation: from the mean ``m`` and std ``s`` of ``k`` (both
    positive) to ``(mu, sigma)`` of ``y = log k``: ``sigma = sqrt(log(1 + s^2/m^2))``,
    ``mu = log m - sigma^2/2``."""
    sigma2 = torch.log1p((std / mean) ** 2)
    return torch.log(mean) - 0.5 * sigma2, torch.sqrt(sigma2)


def _as_mask(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(like, dtype=torch.bool)
    return mask.to(torch.bool).expand_as(like)


def _inner_bound(x: float, dtype: torch.dtype, direction: int) -> float:
    """The representable value of ``dtype`` nearest to ``x`` on the inner side (toward
    ``direction``), so values clamped to it stay inside ``[low, high]`` in float64 too."""
    if not math.isfinite(x):
        return x
    t = torch.tensor(x, dtype=dtype)
    if (float(t) - x) * direction < 0:
        t = torch.nextafter(t, torch.tensor(direction * math.inf, dtype=dtype))
    return float(t)


class _MaskedContinuous:
    """Shared helpers of the continuous families."""

    mask: torch.Tensor
    log_space: bool = True

    @property
    def n_live(self) -> torch.Tensor:
        return self.mask.sum(-1)

    def _clean_values(self, value: torch.Tensor) -> torch.Tensor:
        value = value.to(self.loc.dtype)
        return torch.where(self.mask, value, torch.zeros_like(value))

    def to_values(self, y: torch.Tensor) -> torch.Tensor:
        """Parameter values from sampled values (``exp`` for the log-space families); 0 on masked
        slots."""
        out = torch.exp(y) if self.log_space else y
        return torch.where(self.mask, out, torch.zeros_like(out))


class MaskedLogNormal(_MaskedContinuous):
    """Independent normals on ``y = log k`` per live slot (``lognormal_independent``),
    optionally truncated to ``[low, high]`` (the prior support).

    Args:
        loc, scale: ``(B, P)``; ``scale > 0`` on live slots (anything on masked slots).
        mask: ``(B, P)`` bool, live slots; ``None`` = all live.
        low, high: truncation bounds (floats) or None. When truncating, ``loc`` must lie in
            ``[low, high]`` (the policy bounds its mean there), which keeps the normaliser
            ``Phi(beta) - Phi(alpha) >= ~1/2`` and everything numerically tame.
    """

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, mask: torch.Tensor | None = None,
                 low: float | None = None, high: float | None = None):
        self.mask = _as_mask(mask, loc)
        self.loc = torch.where(self.mask, loc, torch.zeros_like(loc))
        self.scale = torch.where(self.mask, scale, torch.ones_like(scale))
        self.truncated = low is not None or high is not None
        self.low = -math.inf if low is None else float(low)
        self.high = math.inf if high is None else float(high)
        if self.truncated:
            self.alpha = (self.low - self.loc) / self.scale
            self.beta = (self.high - self.loc) / self.scale
            lb = torch.special.log_ndtr(self.beta)
            la = torch.special.log_ndtr(self.alpha)
            # log(Phi(beta) - Phi(alpha)), stable for alpha <= 0 <= beta (and fine nearby)
            self.log_Z = lb + torch.log1p(-torch.exp((la - lb).clamp(max=0.0)).clamp(max=1 - 1e-7))

    def sample(self) -> torch.Tensor:
        if not self.truncated:
            eps = torch.randn_like(self.loc)
            y = self.loc + self.scale * eps
        else:
            a = torch.special.ndtr(self.alpha.double())
            b = torch.special.ndtr(self.beta.double())
            u = a + (b - a) * torch.rand_like(a)
            u = u.clamp(1e-300, 1 - 1e-16)
            y = (self.loc.double() + self.scale.double() * torch.special.ndtri(u)).clamp(self.low, self.high)
            y = y.to(self.loc.dtype)
            lo, hi = _inner_bound(self.low, y.dtype, +1), _inner_bound(self.high, y.dtype, -1)
            y = y.clamp(lo, hi)  # rounding to float32 must not leave the support
        return torch.where(self.mask, y, torch.zeros_like(y))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        y = self._clean_values(value)
        z = (y - self.loc) / self.scale
        lp = -0.5 * z * z - torch.log(self.scale) - 0.5 * LOG_2PI
        if self.truncated:
            inside = (y >= self.low) & (y <= self.high)
            lp = torch.where(inside, lp - self.log_Z, torch.full_like(lp, -math.inf))
        return torch.where(self.mask, lp, torch.zeros_like(lp)).sum(-1)

    def entropy(self) -> torch.Tensor:
        h = 0.5 * (1.0 + LOG_2PI) + torch.log(self.scale)
        if self.truncated:
            Z = self.log_Z.exp()

            def phi_x(x):  # x * phi(x), 0 at +-inf
                xf = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
                return xf * torch.exp(-0.5 * xf * xf) / math.sqrt(2 * math.pi)

            h = h + self.log_Z + (phi_x(self.alpha) - phi_x(self.beta)) / (2 * Z)
        return torch.where(self.mask, h, torch.zeros_like(h)).sum(-1)


class LogNormal1D(MaskedLogNormal):
    """A single log-normal parameter per row (``lognormal_1d``): shapes ``(B, 1)``.

    A ``(B,)`` loc/scale is accepted and viewed as ``(B, 1)``; the mask switches the one slot off
    (e.g. for exit rows).
    """

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, mask: torch.Tensor | None = None,
                 low: float | None = None, high: float | None = None):
        if loc.dim() == 1:
            loc, scale = loc[:, None], scale[:, None]
            if mask is not None and mask.dim() == 1:
                mask = mask[:, None]
        if loc.shape[-1] != 1:
            raise ValueError(f"lognormal_1d needs exactly one parameter slot, got shape {tuple(loc.shape)}")
        super().__init__(loc, scale, mask, low, high)


class MaskedMultivariateNormal(_MaskedContinuous):
    """A correlated normal over the live prefix of each row (``normal_correlated``).

    ``scale_tril`` is a ``(B, P, P)`` lower-triangular factor; only its live block is used (masked
    rows and columns are replaced by the identity, so the live part is exactly the normal with
    Cholesky factor ``L[:n, :n]`` and the live dimension ``n`` may differ per row). The mask
    must be a prefix mask.
    """

    log_space = False

    def __init__(self, loc: torch.Tensor, scale_tril: torch.Tensor, mask: torch.Tensor | None = None):
        self.mask = _as_mask(mask, loc)
        P = loc.shape[-1]
        self.loc = torch.where(self.mask, loc, torch.zeros_like(loc))
        pair = self.mask[..., :, None] & self.mask[..., None, :]
        eye = torch.eye(P, dtype=loc.dtype, device=loc.device).expand_as(scale_tril)
        tril = torch.tril(torch.ones(P, P, dtype=torch.bool, device=loc.device))
        L = torch.where(pair & tril, scale_tril, torch.zeros_like(scale_tril))
        self.scale_tril = torch.where(pair, L, eye)

    @classmethod
    def from_raw(
        cls,
        raw_loc: torch.Tensor,
        raw_diag: torch.Tensor,
        raw_offdiag: torch.Tensor,
        mask: torch.Tensor | None = None,
        mu_max: float = 7.0,
        mu_center: float | torch.Tensor = 0.0,
        sigma_min: float = 0.05,
        sigma_max: float | None = None,
        offdiag_max: float | None = None,
        spread: float = 1.0,
    ) -> "MaskedMultivariateNormal":
        """Build from unconstrained network outputs: mean ``mu_center + mu_max * tanh(raw)``,
        diagonal ``softplus(raw) + sigma_min`` (capped at ``sigma_max`` if given), off-diagonals
        ``raw`` or ``offdiag_max * tanh(raw)``; ``raw_offdiag`` holds the ``P(P-1)/2`` strictly
        lower entries row by row. ``spread`` multiplies the whole factor."""
        P = raw_loc.shape[-1]
        loc = mu_center + mu_max * torch.tanh(raw_loc)
        diag = F.softplus(raw_diag) + sigma_min
        if sigma_max is not None:
            diag = diag.clamp(max=sigma_max)
        off = raw_offdiag if offdiag_max is None else offdiag_max * torch.tanh(raw_offdiag)
        L = torch.diag_embed(diag)
        if P > 1:
            rows, cols = torch.tril_indices(P, P, offset=-1, device=raw_loc.device)
            L = L.clone()
            L[..., rows, cols] = off
        return cls(loc, spread * L, mask)

    def sample(self) -> torch.Tensor:
        eps = torch.randn_like(self.loc)
        y = self.loc + (self.scale_tril @ eps[..., None])[..., 0]
        return torch.where(self.mask, y, torch.zeros_like(y))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        y = self._clean_values(value)
        diff = (y - self.loc)[..., None]
        z = torch.linalg.solve_triangular(self.scale_tril, diff, upper=False)[..., 0]
        logdiag = torch.log(torch.diagonal(self.scale_tril, dim1=-2, dim2=-1))
        lp = -0.5 * z * z - logdiag - 0.5 * LOG_2PI
        return torch.where(self.mask, lp, torch.zeros_like(lp)).sum(-1)

    def entropy(self) -> torch.Tensor:
        logdiag = torch.log(torch.diagonal(self.scale_tril, dim1=-2, dim2=-1))
        h = 0.5 * (1.0 + LOG_2PI) + logdiag
        return torch.where(self.mask, h, torch.zeros_like(h)).sum(-1)

    @property
    def covariance(self) -> torch.Tensor:
        return self.scale_tril @ self.scale_tril.transpose(-1, -2)


class MaskedLogNormalCorrelated(MaskedMultivariateNormal):
    """``lognormal_correlated``: :class:`MaskedMultivariateNormal` on ``y = log k``."""

    log_space = True


class MaskedMultiCategorical:
    """Independent categoricals per slot with forbidden values and switched-off slots.

    Args:
        logits: ``(B, P, K)``.
        logit_mask: bool, broadcastable to ``(B, P, K)``; False forbids a value. Every live slot
            must allow at least one value.
        dimension_mask: bool ``(B, P)``; False switches a slot off (it samples 0 and contributes 0
            to ``log_prob`` and ``entropy``).
    """

    def __init__(self, logits: torch.Tensor, logit_mask: torch.Tensor | None = None,
                 dimension_mask: torch.Tensor | None = None):
        B, P, K = logits.shape
        lm = torch.ones_like(logits, dtype=torch.bool) if logit_mask is None else logit_mask.to(torch.bool).expand(B, P, K)
        dm = torch.ones(B, P, dtype=torch.bool, device=logits.device) if dimension_mask is None else dimension_mask.to(torch.bool)
        self.dimension_mask = dm
        self.logit_mask = lm
        # switched-off slots: uniform over all values (harmless, finite); live slots: forbidden -> -inf
        live_lm = torch.where(dm[..., None], lm, torch.ones_like(lm))
        clean = torch.where(dm[..., None], logits, torch.zeros_like(logits))
        masked = clean.masked_fill(~live_lm, float("-inf"))
        self.log_probs = torch.log_softmax(masked, dim=-1)
        self._allowed = live_lm
        self.K = K

    @property
    def probs(self) -> torch.Tensor:
        return self.log_probs.exp()

    def sample(self) -> torch.Tensor:
        B, P, K = self.log_probs.shape
        idx = torch.multinomial(self.probs.reshape(B * P, K), 1).reshape(B, P)
        return torch.where(self.dimension_mask, idx, torch.zeros_like(idx))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        v = value.long().clamp(0, self.K - 1)
        v = torch.where(self.dimension_mask, v, torch.zeros_like(v))
        lp = self.log_probs.gather(-1, v[..., None])[..., 0]
        return torch.where(self.dimension_mask, lp, torch.zeros_like(lp)).sum(-1)

    def entropy(self) -> torch.Tensor:
        safe = torch.where(self._allowed, self.log_probs, torch.zeros_like(self.log_probs))
        h = -(self.log_probs.exp() * safe).sum(-1)
        return torch.where(self.dimension_mask, h, torch.zeros_like(h)).sum(-1)
