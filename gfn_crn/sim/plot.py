"""Time-course plots of simulation results (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .scenarios import PiecewiseConstant
from .simulate import STATUS_NAMES, SimResult


def _shade_inputs(ax, scenario, t_final: float) -> None:
    """Shade the intervals where a piecewise input is above its minimum."""
    for name, v in scenario.inputs.items():
        if isinstance(v, PiecewiseConstant):
            lo = min(v.values)
            ends = list(v.times[1:]) + [t_final]
            for a, b, val in zip(v.times, ends, v.values):
                if val > lo:
                    ax.axvspan(a, min(b, t_final), color="0.85", zorder=0, lw=0)


def plot_time_courses(result: SimResult, path, networks: Sequence[int] | None = None,
                      species: Sequence[str] | None = None, titles: Sequence[str] | None = None,
                      max_scenarios: int = 9, outputs: Sequence[str] | None = None) -> Path:
    """Time courses, one panel per (network, scenario) (up to ``max_scenarios`` scenarios): a
    near-square grid for one network, one row per network otherwise. Every species is drawn,
    ``outputs`` thick; intervals where a piecewise input is high are shaded. Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = list(range(result.y.shape[0])) if networks is None else list(networks)
    scen = list(range(min(result.y.shape[1], max_scenarios)))
    species = list(species or result.species)
    outputs = set(outputs or ())
    if len(nets) == 1:  # one network: scenarios on a near-square grid
        ncols = int(np.ceil(np.sqrt(len(scen))))
        nrows = int(np.ceil(len(scen) / ncols))
        cells = [(0, s, divmod(i, ncols)) for i, s in enumerate(scen)]
    else:  # one row per network
        ncols, nrows = len(scen), len(nets)
        cells = [(b, s, (r, c)) for r, b in enumerate(nets) for c, s in enumerate(scen)]
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols + 0.5, 2.3 * nrows + 0.5),
                             squeeze=False, sharex=True)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(cells):
            ax.set_visible(False)
        elif i + ncols >= len(cells):  # nothing below: label this panel's time axis
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("time", fontsize=8)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for b, s, (row, col) in cells:
        ax = axes[row, col]
        sc = result.scenarios[s]
        _shade_inputs(ax, sc, float(result.t[-1]))
        for i, name in enumerate(species):
            k = result.species_index(name)
            lw = 2.2 if name in outputs else 1.0
            ax.plot(result.t, result.y[b, s, :, k], color=colors[i % len(colors)], lw=lw,
                    label=name + (" (output)" if name in outputs else ""))
        status = STATUS_NAMES[int(result.status[b, s])]
        head = sc.describe() + ("" if status == "ok" else f" [{status}]")
        if len(nets) > 1 and col == 0:
            head = (titles[row] if titles else f"network {b}") + ": " + head
        ax.set_title(head, fontsize=8)
        ax.tick_params(labelsize=7)
        if col == 0:
            ax.set_ylabel("concentration", fontsize=8)
        if row == nrows - 1:
            ax.set_xlabel("time", fontsize=8)
    if len(nets) == 1 and titles:
        fig.suptitle(titles[0], fontsize=10)
    axes[0, -1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def final_table(result: SimResult, b: int = 0) -> list[dict]:
    """Final concentrations and status per scenario for network ``b`` (for --json output)."""
    rows = []
    for s, sc in enumerate(result.scenarios):
        rows.append({
            "scenario": s,
            "inputs": {k: (v if not isinstance(v, PiecewiseConstant) else {"times": list(v.times), "values": list(v.values)})
                       for k, v in sc.inputs.items()},
            "status": STATUS_NAMES[int(result.status[b, s])],
            "final": {name: float(result.y[b, s, -1, i]) for i, name in enumerate(result.species)},
            "steps": int(np.asarray(result.stats.get("steps", np.zeros((b + 1, s + 1))))[b, s]),
        })
    return rows


def plot_mean_band(t, mean, std, species: Sequence[str], path=None, *, targets=None, scenarios=None,
                   panel_titles: Sequence[str] | None = None, title: str | None = None,
                   status: Sequence[str] | None = None, samples=None, outputs: Sequence[str] | None = None,
                   max_scenarios: int = 9):
    """Stochastic time courses: per scenario panel, the mean of each species (line) with a band of
    +-1 standard deviation, optional ``samples`` (S, K, T, N) drawn thin, ``targets`` (S, T, N)
    dashed, piecewise inputs shaded. ``mean``/``std`` have shape (S, T, N). Saves to ``path`` if
    given (returns the path), else returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean, std = np.asarray(mean), np.asarray(std)
    S = min(mean.shape[0], max_scenarios)
    ncols = int(np.ceil(np.sqrt(S)))
    nrows = int(np.ceil(S / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols + 0.5, 2.5 * nrows + 0.6), squeeze=False,
                             sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    outputs = set(outputs or ())
    t = np.asarray(t)
    for i, ax in enumerate(axes.ravel()):
        if i >= S:
            ax.set_visible(False)
            continue
        if scenarios is not None:
            _shade_inputs(ax, scenarios[i], float(t[-1]))
        for k, name in enumerate(species):
            c = colors[k % len(colors)]
            m, sd = mean[i, :, k], std[i, :, k]
            ax.fill_between(t, np.maximum(m - sd, 0.0), m + sd, color=c, alpha=0.25, lw=0)
            if samples is not None:
                for tr in np.asarray(samples)[i, :, :, k]:
                    ax.plot(t, tr, color=c, lw=0.5, alpha=0.6)
            ax.plot(t, m, color=c, lw=2.0 if name in outputs else 1.4, label=f"{name} mean +- std")
            if targets is not None:
                ax.plot(t, np.asarray(targets)[i, :, k], "--", color=c, lw=1, label=f"target {name}")
        head = panel_titles[i] if panel_titles else (scenarios[i].describe() if scenarios is not None else f"scenario {i}")
        if status is not None and status[i] != "ok":
            head += f" [{status[i]}]"
        ax.set_title(head, fontsize=8)
        ax.tick_params(labelsize=7)
        if i % ncols == 0:
            ax.set_ylabel("concentration", fontsize=8)
        if i + ncols >= S:
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("time", fontsize=8)
    axes[0, 0].legend(fontsize=6, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_stochastic(result, path, b: int = 0, title: str | None = None, outputs: Sequence[str] | None = None,
                    n_samples: int = 3) -> Path:
    """Mean and +-1 std band of network ``b`` of an :class:`~gfn_crn.sim.ssa.SSAResult`, with
    ``n_samples`` individual trajectories drawn thin when the result kept them."""
    samples = None
    if result.y is not None and n_samples > 0:
        samples = result.y[b, :, :n_samples]
    status = [result.status_name(b, s) for s in range(len(result.scenarios))]
    head = title or "stochastic simulation"
    head += f" ({result.n_trajectories} trajectories, volume {result.volume:g})"
    return plot_mean_band(result.t, result.mean[b], result.std[b], result.species, path, scenarios=result.scenarios,
                          title=head, status=status, samples=samples, outputs=outputs)
