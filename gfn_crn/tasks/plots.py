"""Plots of one candidate against its task (matplotlib, Agg backend): the right view per kind.

* tracking: output vs target over time, one panel per scenario (inputs in the title, pulse
  inputs shaded);
* dose response: final output vs dose against the target curve, plus the time courses;
* logic: final output per truth-table row against the target (bars);
* classification: final outputs per example (grouped bars), the target class marked;
* oscillator: the output per scenario, the analysis window, f / f* / r1 / d in the title;
* habituation: the output with the ON windows shaded and the per-pulse peaks marked;
* data fit: simulated species against the observations; trace: the best species vs the trace.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..sim import PiecewiseConstant  # noqa: E402


def _grid(n: int, max_panels: int = 12):
    n = min(n, max_panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes[:n]


def _shade_inputs(ax, sc, t_f):
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


def _status(result, b, s):
    st = result.sim.status_name(b, s)
    return "" if st == "ok" else f" [{st}]"


def plot_result(task, result, b: int = 0, path=None):
    """Draw candidate ``b`` of ``result`` against ``task``; save to ``path`` if given; return the figure."""
    kind = task.kind
    fn = {"dose_response": _dose, "logic": _logic, "classification": _classes, "oscillator": _osc,
          "habituation": _habit, "data_fit": _datafit, "trace": _trace}.get(kind, _tracking)
    fig = fn(task, result, b)
    fig.suptitle(_title(task, result, b), fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _tracking(task, result, b):
    fig, axes = _grid(task.n_scenarios)
    t = task.t
    for s, ax in enumerate(axes):
        for o, name in enumerate(task.outputs):
            line, = ax.plot(t, result.sim.output(name)[b, s], lw=1.4, label=name)
            ax.plot(t, task.R[s, :, o], "--", color=line.get_color(), lw=1, label=f"target {name}")
        _shade_inputs(ax, task.scenarios[s], t[-1])
        sl = result.scenario_loss[b, s]
        ax.set_title(f"{task.scenario_label(s)}  (loss {sl:.3g}){_status(result, b, s)}", fontsize=8)
        ax.set_xlabel("t", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    return fig


def _dose(task, result, b):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    fin = result.details["final_output"][b]
    for o, name in enumerate(task.outputs):
        a1.plot(task.doses, fin[:, o], "o-", label=f"{name} at t={task.t[-1]:g}")
        a1.plot(task.doses, task.R[:, -1, o], "k--", label="target")
    if task.doses.min() > 0 and task.doses.max() / task.doses.min() > 20:
        a1.set_xscale("log")
    a1.set_xlabel(f"dose {task.input}")
    a1.set_ylabel("output")
    a1.legend(fontsize=8)
    cmap = plt.get_cmap("viridis")
    for s in range(task.n_scenarios):
        a2.plot(task.t, result.sim.output(task.outputs[0])[b, s], color=cmap(s / max(task.n_scenarios - 1, 1)), lw=1)
    a2.set_xlabel("t")
    a2.set_title(f"{task.outputs[0]} over time (dark: low dose)", fontsize=9)
    return fig


def _final_bars(ax, x, task, fin, labels, size):
    """One bar per scenario and output (final values ``fin`` (S, O)), the target as a black tick."""
    wd = 0.8 / len(task.outputs)
    for o, label in enumerate(labels):
        ax.bar(x + o * wd - 0.4 + wd / 2, fin[:, o], wd, label=label)
        ax.scatter(x + o * wd - 0.4 + wd / 2, task.R[:, -1, o], marker="_", s=size, color="k", zorder=3,
                   label="target" if o == 0 else None)


def _logic(task, result, b):
    fig, ax = plt.subplots(figsize=(max(5, 0.55 * task.n_scenarios + 2), 3.8))
    x = np.arange(task.n_scenarios)
    _final_bars(ax, x, task, result.details["final_output"][b], [f"{n} at t={task.t[-1]:g}" for n in task.outputs], 300)
    ax.set_xticks(x)
    ax.set_xticklabels(["".join(str(int(v)) for v in row) for row in task.bits], fontsize=8)
    ax.set_xlabel("inputs " + " ".join(task.truth_inputs) + " (bits)")
    acc = result.details["accuracy"][b]
    ax.set_title(" ; ".join(f"{o} = {e}" for o, e in task.expression_text.items()) + f"   accuracy {acc:.0%}",
                 fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _classes(task, result, b):
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * task.n_scenarios + 2), 3.8))
    x = np.arange(task.n_scenarios)
    _final_bars(ax, x, task, result.details["final_output"][b], list(task.outputs), 200)
    labels = []
    for sc, c in zip(task.scenarios, task.classes):
        init = sc.init if not isinstance(sc.init, dict) else {k: v for k, v in sc.init.items() if v != 0.01}
        lab = ", ".join(f"{k}={v:g}" for k, v in init.items()) if isinstance(init, dict) else f"{init:g}"
        labels.append(f"{lab}\n-> {task.outputs[c]}")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_title(f"final outputs per example; accuracy {result.details['accuracy'][b]:.0%}", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _osc(task, result, b):
    fig, axes = _grid(task.n_scenarios)
    d = result.details
    for s, ax in enumerate(axes):
        ax.plot(task.t, result.sim.output(task.output)[b, s], lw=1.2)
        ax.axvspan(task.t[0], task.t0, color="grey", alpha=0.15, lw=0)
        ft = "-" if task.target_frequency is None else f"{task.target_frequency[s]:.3g}"
        txt = (f"f {d['frequency'][b, s]:.3g} (f* {ft}), r1 {d['r1'][b, s]:.3f}, d {d['damping'][b, s]:.3f}"
               if d["oscillating"][b, s] else f"no oscillation (f* {ft})")
        ax.set_title(f"{task.scenario_label(s)}: {txt}{_status(result, b, s)}", fontsize=8)
        if task.target_mean is not None:
            ax.axhline(task.target_mean[s], color="k", ls="--", lw=0.8)
        ax.set_xlabel("t", fontsize=8)
        ax.tick_params(labelsize=7)
    return fig


def _habit(task, result, b):
    fig, axes = _grid(task.n_scenarios)
    peaks, base = result.details["peaks"][b], result.details["baselines"][b]
    for s, ax in enumerate(axes):
        y = result.sim.output(task.output)[b, s]
        ax.plot(task.t, y, lw=1.2, color="C0")
        for a, c in zip(task.t_on, task.t_off):
            ax.axvspan(a, c, color="orange", alpha=0.2, lw=0)
        for k in range(task.n_pulses):
            m = task._masks[k]
            i = np.flatnonzero(m)[np.argmax(y[m])]
            ax.plot(task.t[i], base[s, k] + peaks[s, k], "rv", ms=5)
        ax.set_title(f"{task.scenario_label(s)}: max ratio {result.details['max_ratio'][b, s]:.3f}"
                     f" (loss {result.scenario_loss[b, s]:.3g}){_status(result, b, s)}", fontsize=8)
        ax.set_xlabel("t", fontsize=8)
        ax.tick_params(labelsize=7)
    return fig


def _datafit(task, result, b):
    fig, axes = _grid(task.n_scenarios)
    for s, ax in enumerate(axes):
        e = task.experiments[s]
        for i, (sp, v) in enumerate(e.values.items()):
            ax.plot(task.t, result.sim.output(sp)[b, s], color=f"C{i}", lw=1.2, label=f"{sp} model")
            ax.plot(e.times, v, "o", color=f"C{i}", ms=3, label=f"{sp} data")
        ax.set_title(f"{task.scenario_label(s)} (loss {result.scenario_loss[b, s]:.3g})", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    return fig


def _trace(task, result, b):
    fig, ax = plt.subplots(figsize=(6, 3.8))
    best = int(result.details["best_species"][b, 0])
    for j, sp in enumerate(task.candidate_species):
        ax.plot(task.t, result.sim.output(sp)[b, 0], lw=2 if j == best else 0.8, alpha=1 if j == best else 0.4,
                label=sp + (" (best)" if j == best else ""))
    ax.plot(task.trace_times, task.trace_values, "ks", ms=5, label="trace")
    ax.set_xlabel("t")
    ax.legend(fontsize=8)
    return fig
