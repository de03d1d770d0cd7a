"""Figures of a run: training curves, loss histogram, reaction frequencies (matplotlib, PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


class _Figures:
    """Figures without pyplot: no global backend switch, nothing left open (safe in notebooks)."""

    @staticmethod
    def subplots(nrows=1, ncols=1, figsize=None, **kw):
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        return fig, fig.subplots(nrows, ncols, **kw)

    @staticmethod
    def close(fig):
        pass


def _plt():
    return _Figures


def plot_training_curves(metrics: Sequence[dict], path, threshold: float, title: str = "") -> Path:
    """Four panels against candidate evaluations: batch mean/median loss with the best so far
    (log scale, the good threshold dashed), log Z and the mean log-reward, distinct good
    topologies found, and the share of valid candidates."""
    plt = _plt()
    ev = np.array([m["evaluations"] for m in metrics], dtype=float)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    ax = axes[0, 0]
    mean = np.array([m["mean_loss"] for m in metrics], dtype=float)
    med = np.array([m.get("median_loss", np.nan) for m in metrics], dtype=float)
    best = np.array([np.nan if m["best_loss"] is None else m["best_loss"] for m in metrics], dtype=float)
    bbest = np.array([m["batch_best_loss"] for m in metrics], dtype=float)
    ax.plot(ev, mean, lw=0.8, alpha=0.8, label="batch mean (capped)")
    ax.plot(ev, med, lw=0.8, alpha=0.8, label="batch median")
    ax.plot(ev, bbest, lw=0.6, alpha=0.6, label="batch best")
    ax.plot(ev, best, lw=1.8, color="k", label="best so far")
    ax.axhline(threshold, ls="--", color="tab:red", lw=1, label=f"good < {threshold:g}")
    ax.set_yscale("log")
    ax.set_ylabel("task loss")
    ax.legend(fontsize=8)
    ax.set_title("task loss (lower is better)", fontsize=10)

    ax = axes[0, 1]
    ax.plot(ev, np.array([m["logZ"] for m in metrics], dtype=float), color="tab:purple", label="log Z")
    ax.plot(ev, [m["mean_log_reward"] for m in metrics], lw=0.8, alpha=0.7, color="tab:green",
            label="batch mean log-reward")
    ax.plot(ev, [m["max_log_reward"] for m in metrics], lw=0.6, alpha=0.6, color="tab:olive",
            label="batch max log-reward")
    ax.set_ylabel("nats")
    ax.legend(fontsize=8)
    ax.set_title("log Z and log-rewards", fontsize=10)

    ax = axes[1, 0]
    ax.plot(ev, [m["distinct_good"] for m in metrics], color="tab:red")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0, top=max(1, max(m["distinct_good"] for m in metrics)) * 1.05)
    if metrics and metrics[-1]["distinct_good"] == 0:
        ax.text(0.5, 0.5, "none below the threshold yet", transform=ax.transAxes, ha="center", color="gray")
    ax.set_ylabel("distinct topologies")
    ax.set_xlabel("candidate evaluations")
    ax.set_title(f"distinct good topologies (loss < {threshold:g})", fontsize=10)

    ax = axes[1, 1]
    tb = np.array([m["tb_loss"] for m in metrics], dtype=float)
    ax.plot(ev, tb, lw=0.8, color="tab:gray", label="TB loss")
    ax.set_yscale("log")
    ax.set_ylabel("trajectory-balance loss")
    ax2 = ax.twinx()
    ax2.plot(ev, [m["valid_fraction"] for m in metrics], lw=0.8, color="tab:blue", label="valid share")
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("valid share", color="tab:blue")
    ax.set_xlabel("candidate evaluations")
    ax.set_title("TB loss and share of valid candidates", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_loss_histogram(loss, valid, threshold: float, path, title: str = "", loss_cap: float | None = None) -> Path:
    """Histogram of the losses of sampled designs (log-spaced bins; invalid ones counted apart)."""
    plt = _plt()
    loss = np.asarray(loss, dtype=float)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(loss)
    fig, ax = plt.subplots(figsize=(7, 4))
    v = loss[valid]
    if v.size:
        lo = max(min(v.min(), threshold) / 1.5, 1e-6)
        hi = max(v.max(), threshold) * 1.5
        bins = np.logspace(np.log10(lo), np.log10(hi), 40)
        ax.hist(v, bins=bins, color="tab:blue", alpha=0.8, label=f"valid ({v.size})")
        ax.set_xscale("log")
    ax.axvline(threshold, ls="--", color="tab:red", label=f"good < {threshold:g} ({int((v < threshold).sum())})")
    if loss_cap is not None:
        ax.axvline(loss_cap, ls=":", color="tab:gray", label=f"loss cap {loss_cap:g}")
    n_bad = int((~valid).sum())
    ax.set_xlabel("task loss")
    ax.set_ylabel("designs")
    # the same words as the report (training/report.py valid_share), so the two never disagree
    ax.set_title((title + "\n" if title else "") + f"{loss.size} sampled designs: {loss.size - n_bad} valid, "
                 f"{n_bad} invalid (diverged/failed, not drawn)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_reaction_frequencies(freqs: Sequence[tuple[str, float, int]], path, title: str, top: int = 25) -> Path:
    """Horizontal bars: share of designs that contain each reaction."""
    plt = _plt()
    freqs = list(freqs)[:top]
    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(freqs), 3) + 1.2))
    names = [f[0] for f in freqs][::-1]
    shares = [f[1] for f in freqs][::-1]
    ax.barh(range(len(names)), shares, color="tab:green")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of designs containing the reaction")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


__all__ = ["plot_training_curves", "plot_loss_histogram", "plot_reaction_frequencies"]
