"""Masked parameter distributions against torch's own distributions on the live slots."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Categorical, MultivariateNormal, Normal

from gfn_crn.estimators import (
    LogNormal1D,
    MaskedLogNormal,
    MaskedLogNormalCorrelated,
    MaskedMultiCategorical,
    MaskedMultivariateNormal,
    lognormal_from_mean_std,
)


def prefix_mask(n_live, P):
    return torch.arange(P)[None, :] < torch.as_tensor(n_live)[:, None]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_independent_log_prob_and_entropy_match_torch_on_live_slots():
    B, P = 50, 4
    n_live = torch.randint(0, P + 1, (B,))
    mask = prefix_mask(n_live, P)
    loc, scale = torch.randn(B, P), torch.rand(B, P) + 0.1
    y = torch.randn(B, P) * 2
    y_garbage = torch.where(mask, y, torch.full_like(y, float("nan")))  # padded slots hold NaN
    d = MaskedLogNormal(loc, scale, mask)
    lp = d.log_prob(y_garbage)
    ref = torch.stack([Normal(loc[b, : n_live[b]], scale[b, : n_live[b]]).log_prob(y[b, : n_live[b]]).sum()
                       for b in range(B)])
    torch.testing.assert_close(lp, ref)
    ref_h = torch.stack([Normal(loc[b, : n_live[b]], scale[b, : n_live[b]]).entropy().sum() for b in range(B)])
    torch.testing.assert_close(d.entropy(), ref_h)
    zero = n_live == 0
    assert (lp[zero] == 0).all() and (d.entropy()[zero] == 0).all()
    s = d.sample()
    assert (s[~mask] == 0).all()


def test_lognormal_1d_matches_torch_and_masks_whole_row():
    loc, scale = torch.randn(10), torch.rand(10) + 0.2
    mask = torch.tensor([True] * 7 + [False] * 3)
    d = LogNormal1D(loc, scale, mask)
    y = torch.randn(10, 1)
    ref = torch.where(mask, Normal(loc, scale).log_prob(y[:, 0]), torch.zeros(10))
    torch.testing.assert_close(d.log_prob(y), ref)
    assert (d.sample()[~mask] == 0).all()
    with pytest.raises(ValueError):
        LogNormal1D(torch.zeros(3, 2), torch.ones(3, 2))


def test_independent_samples_match_distribution_ks():
    n = 20000
    loc, scale = torch.tensor([[0.3, -1.0]]).repeat(n, 1), torch.tensor([[0.5, 2.0]]).repeat(n, 1)
    mask = torch.tensor([[True, False]]).repeat(n, 1)
    s = MaskedLogNormal(loc, scale, mask).sample()
    assert stats.kstest(s[:, 0].numpy(), "norm", args=(0.3, 0.5)).pvalue > 1e-3
    assert (s[:, 1] == 0).all()


def _random_correlated(B, P, n_live):
    mask = prefix_mask(n_live, P)
    d = MaskedMultivariateNormal.from_raw(torch.randn(B, P), torch.randn(B, P), torch.randn(B, P * (P - 1) // 2),
                                         mask, mu_max=3.0, sigma_min=0.1)
    return d, mask


def test_correlated_log_prob_and_entropy_match_torch_with_variable_live_dimension():
    B, P = 40, 4
    n_live = torch.randint(0, P + 1, (B,))
    d, mask = _random_correlated(B, P, n_live)
    y = torch.randn(B, P)
    y_in = torch.where(mask, y, torch.full_like(y, 1e30))
    lp, H = d.log_prob(y_in), d.entropy()
    for b in range(B):
        k = int(n_live[b])
        if k == 0:
            assert lp[b] == 0 and H[b] == 0
            continue
        ref = MultivariateNormal(d.loc[b, :k], scale_tril=d.scale_tril[b, :k, :k])
        torch.testing.assert_close(lp[b], ref.log_prob(y[b, :k]), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(H[b], ref.entropy(), rtol=1e-5, atol=1e-5)
    assert (d.sample()[~mask] == 0).all()


def test_correlated_samples_match_mean_and_covariance():
    n, P = 40000, 3
    raw = (torch.tensor([0.2, -0.3, 0.5]), torch.tensor([0.1, -0.5, 0.3]), torch.tensor([0.4, -0.6, 0.2]))
    mask = prefix_mask(torch.full((n,), 2), P)
    d = MaskedLogNormalCorrelated.from_raw(*(r.repeat(n, 1) for r in raw), mask, mu_max=2.0, sigma_min=0.05)
    s = d.sample()
    assert (s[:, 2] == 0).all()
    cov = d.covariance[0, :2, :2]
    emp_cov = torch.cov(s[:, :2].T)
    torch.testing.assert_close(s[:, :2].mean(0), d.loc[0, :2], atol=0.03, rtol=0)
    torch.testing.assert_close(emp_cov, cov, atol=0.04, rtol=0.05)
    # the lognormal values are exp of the samples, 0 on padded slots
    v = d.to_values(s)
    assert (v[:, 2] == 0).all() and torch.allclose(v[:, :2], s[:, :2].exp())


def test_correlated_bounds_on_mean_diagonal_and_offdiagonal():
    B, P = 5, 3
    big = torch.full((B, P), 1e4)
    d = MaskedMultivariateNormal.from_raw(big, -big, torch.full((B, 3), 1e4), None, mu_max=2.0, sigma_min=0.1,
                                          sigma_max=3.0, offdiag_max=0.5)
    assert (d.loc <= 2.0 + 1e-6).all()
    diag = torch.diagonal(d.scale_tril, dim1=-2, dim2=-1)
    assert torch.allclose(diag, torch.full_like(diag, 0.1))
    assert (d.scale_tril.tril(-1).abs() <= 0.5 + 1e-6).all()


def test_multicategorical_log_prob_entropy_and_samples():
    B, P, K = 30, 3, 4
    logits = torch.randn(B, P, K) * 2
    logit_mask = torch.rand(B, P, K) > 0.3
    logit_mask[..., 0] = True
    n_live = torch.randint(0, P + 1, (B,))
    dim_mask = prefix_mask(n_live, P)
    d = MaskedMultiCategorical(logits, logit_mask, dim_mask)
    v = d.sample()
    assert (v[~dim_mask] == 0).all()
    assert logit_mask.gather(-1, v[..., None])[..., 0][dim_mask].all(), "sampled a forbidden value"
    lp, H = d.log_prob(v), d.entropy()
    for b in range(B):
        ref_lp, ref_h = 0.0, 0.0
        for s in range(int(n_live[b])):
            c = Categorical(logits=logits[b, s].masked_fill(~logit_mask[b, s], float("-inf")))
            ref_lp = ref_lp + c.log_prob(v[b, s])
            ref_h = ref_h + c.entropy()
        torch.testing.assert_close(lp[b], torch.as_tensor(ref_lp, dtype=lp.dtype), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(H[b], torch.as_tensor(ref_h, dtype=H.dtype), rtol=1e-5, atol=1e-6)


def test_multicategorical_frequencies():
    n = 40000
    logits = torch.tensor([[[0.0, 1.0, -1.0, 0.5]]]).repeat(n, 1, 1)
    lm = torch.tensor([True, True, False, True])
    d = MaskedMultiCategorical(logits, lm)
    v = d.sample()[:, 0]
    freq = torch.bincount(v, minlength=4).double() / n
    p = torch.softmax(torch.tensor([0.0, 1.0, -float("inf"), 0.5]), -1).double()
    assert freq[2] == 0
    assert (freq - p).abs().max() < 0.015


@pytest.mark.parametrize("extreme", [1e4, -1e4, 80.0, -80.0])
def test_gradients_finite_at_extreme_inputs(extreme):
    B, P, K = 6, 3, 4
    mask = prefix_mask(torch.tensor([0, 1, 2, 3, 3, 1]), P)
    raw = torch.full((B, P), extreme, requires_grad=True)
    raw_off = torch.full((B, 3), extreme, requires_grad=True)
    y = torch.where(mask, torch.full((B, P), extreme / 10), torch.full((B, P), float("nan")))
    d = MaskedLogNormalCorrelated.from_raw(raw, raw, raw_off, mask, mu_max=7.0, sigma_min=0.05)
    di = MaskedLogNormal(7 * torch.tanh(raw), torch.nn.functional.softplus(raw) + 0.05, mask)
    logits = torch.full((B, P, K), extreme, requires_grad=True)
    lm = torch.tensor([True, False, True, True])
    dc = MaskedMultiCategorical(logits * torch.tensor([1.0, 0.0, -1.0, 0.5]), lm, mask)
    total = d.log_prob(y).sum() + d.entropy().sum() + di.log_prob(y).sum() + di.entropy().sum()
    total = total + dc.log_prob(torch.zeros(B, P)).sum() + dc.entropy().sum()
    assert torch.isfinite(total)
    total.backward()
    for g in (raw.grad, raw_off.grad, logits.grad):
        assert torch.isfinite(g).all()
    # masked slots of a fully-masked row contribute exactly 0
    assert d.log_prob(y)[0] == 0 and di.log_prob(y)[0] == 0 and dc.log_prob(torch.zeros(B, P))[0] == 0


def test_lognormal_from_mean_std_matches_moments():
    m, s = torch.tensor([2.0, 0.5]), torch.tensor([1.0, 0.1])
    mu, sigma = lognormal_from_mean_std(m, s)
    mean = torch.exp(mu + sigma**2 / 2)
    var = (torch.exp(sigma**2) - 1) * torch.exp(2 * mu + sigma**2)
    torch.testing.assert_close(mean, m)
    torch.testing.assert_close(var.sqrt(), s)
    assert math.isfinite(float(np.asarray(mu).sum()))


def test_truncated_lognormal_matches_scipy_truncnorm():
    low, high = -6.9, 6.9
    loc = torch.tensor([[0.0, 6.9, -6.9, 3.0]], dtype=torch.float64)
    scale = torch.tensor([[1.0, 2.0, 0.05, 5.0]], dtype=torch.float64)
    d = MaskedLogNormal(loc, scale, None, low, high)
    y = torch.tensor([[0.3, 6.0, -6.88, -6.0]], dtype=torch.float64)
    ref_lp = sum(stats.truncnorm((low - m) / s, (high - m) / s, loc=m, scale=s).logpdf(v)
                 for m, s, v in zip(loc[0].tolist(), scale[0].tolist(), y[0].tolist()))
    ref_h = sum(stats.truncnorm((low - m) / s, (high - m) / s, loc=m, scale=s).entropy()
                for m, s in zip(loc[0].tolist(), scale[0].tolist()))
    assert abs(float(d.log_prob(y)) - ref_lp) < 1e-6
    assert abs(float(d.entropy()) - ref_h) < 1e-6
    # outside the support: zero density; samples never leave it, even in float32
    assert d.log_prob(torch.tensor([[0.0, 7.0, 0.0, 0.0]], dtype=torch.float64)) == -math.inf
    big = MaskedLogNormal(torch.full((20000, 1), 6.9), torch.full((20000, 1), 3.0), None, low, high)
    s = big.sample()
    assert s.dtype == torch.float32 and (s.double() <= high).all() and (s.double() >= low).all()
    tn = stats.truncnorm((low - 6.9) / 3.0, (high - 6.9) / 3.0, loc=6.9, scale=3.0)
    assert stats.kstest(s[:, 0].numpy(), tn.cdf).pvalue > 1e-3
