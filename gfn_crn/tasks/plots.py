"""Plots of one candidate against its task (matplotlib, Agg backend).

:func:`plot_result` titles and saves the figure a task draws with its ``figure(result, b)``
method; each kind draws its own view in its module (the base view, :func:`outputs_figure`, is the
outputs over time, one panel per scenario, against the targets where the task has them). The
helpers here (:func:`panel_grid`, :func:`shade_inputs`, :func:`status_suffix`,
:func:`final_bars`) are shared by the kinds' views. This module names no kind.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..sim import PiecewiseConstant  # noqa: E402


def panel_grid(n: int, max_panels: int = 12):
    """A figure of ``min(n, max_panels)`` panels, three to a row; returns (figure, axes)."""
    n = min(n, max_panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes[:n]


def shade_inputs(ax, sc, t_f):
    """Shade the intervals where a piecewise-constant input of scenario ``sc`` is at its high value."""
    for v in sc.inputs.values():
        if isinstance(v, PiecewiseConstant):
            hi = max(v.values)
            for i, (a, val) in enumerate(zip(v.times, v.values)):
                if val == hi and hi > min(v.values):
                    b = v.times[i + 1] if i + 1 < len(v.times) else t_f
                    ax.axvspan(a, b, color="orange", alpha=0.15, lw=0)


def _title(task, result, b):
    r = result
    s = f"{task.name}: loss {r.loss[b]:.4g}, log R {r.log_reward[b]:.3g}"
    if not r.valid[b]:
        s += f" [invalid: {r.reason[b]}]"
    return s


def status_suffix(result, b, s):
    """`` [status]`` of candidate ``b`` in scenario ``s`` unless it is ok."""
    st = result.sim.status_name(b, s)
    return "" if st == "ok" else f" [{st}]"


def plot_result(task, result, b: int = 0, path=None):
    """Draw candidate ``b`` of ``result`` against ``task`` (``task.figure``); save to ``path`` if
    given; return the figure."""
    fig = task.figure(result, b)
    fig.suptitle(_title(task, result, b), fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def outputs_figure(task, result, b, targets=None):
    """Each output over time, one panel per scenario (inputs in the title, pulse inputs shaded),
    against ``targets`` (S, T, O) as dashed lines where given."""
    fig, axes = panel_grid(task.n_scenarios)
    t = task.t
    for s, ax in enumerate(axes):
        for o, name in enumerate(task.outputs):
            line, = ax.plot(t, result.sim.output(name)[b, s], lw=1.4, label=name)
            if targets is not None:
                ax.plot(t, targets[s, :, o], "--", color=line.get_color(), lw=1, label=f"target {name}")
        shade_inputs(ax, task.scenarios[s], t[-1])
        sl = result.scenario_loss[b, s]
        ax.set_title(f"{task.scenario_label(s)}  (loss {sl:.3g}){status_suffix(result, b, s)}", fontsize=8)
        ax.set_xlabel("t", fontsize=8)
        ax.tick_params(labelsize=7)
    if task.outputs:
        axes[0].legend(fontsize=7)
    return fig


def final_bars(ax, x, task, fin, labels, size):
    """One bar per scenario and output (final values ``fin`` (S, O)), the target as a black tick."""
    wd = 0.8 / len(task.outputs)
    for o, label in enumerate(labels):
        ax.bar(x + o * wd - 0.4 + wd / 2, fin[:, o], wd, label=label)
        ax.scatter(x + o * wd - 0.4 + wd / 2, task.R[:, -1, o], marker="_", s=size, color="k", zorder=3,
                   label="target" if o == 0 else None)
