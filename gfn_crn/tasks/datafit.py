"""Fitting data: observed time series (data fit) and a fixed target trace (DESIGN.md 5).

Data fit. Each *experiment* is a scenario (inputs, initial concentrations) with observed time
series of some species. Both the simulated trajectory (on the simulation grid) and the
observations (on their own times) are read as piecewise-linear functions; on the overlap
interval ``I = [max(0, first observation), min(t_f, last observation)]`` their difference
``e(t)`` is piecewise linear between the merged breakpoints, and the loss of a series is the
*exact* time average ``(1/|I|) * integral_I |e(t)|^p dt``:

* ``p = 1``: on a piece of length h from a to b, ``h (|a| + |b|) / 2`` if a and b have the same
  sign, else ``h (a^2 + b^2) / (2 (|a| + |b|))`` (the zero crossing is integrated exactly);
* ``p = 2``: ``h (a^2 + a b + b^2) / 3``.

``normalise = true`` divides each series' error by its largest |observation|. An experiment's
loss is the mean over its series; the task's loss the mean over experiments. Reward defaults are
the tracking ones (beta 30, loss_cap 1), which suit data of order 1 or ``normalise = true``;
set ``beta``/``loss_cap`` in data units otherwise.

Trace. One scenario and a target ``y_i`` at a few times ``t_i``; loss ``min over species s of
sum_i |x_s(t_i) - y_i|`` (the species that follows the trace best; restrict with ``species``).
Defaults: ``loss_cap = sum_i |y_i|`` (what a species stuck at 0 scores), ``beta = 30 / loss_cap``
(a perfect fit has e^30 the reward of doing nothing, as for tracking: 30 x cap 1),
``good_threshold = 0.05 * loss_cap``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Template
from ..sim import Scenario
from .base import Task
from .kinds import KindInput, Section, const_inputs, read_init, register


@dataclass
class Experiment:
    """Observations of some species under one scenario."""

    times: np.ndarray
    values: dict            # species -> (len(times),) array (NaN: missing)
    inputs: dict
    init: object = 0.01
    label: str | None = None

    def __post_init__(self):
        self.times = np.asarray(self.times, dtype=float)
        if self.times.ndim != 1 or self.times.size < 2:
            raise CRNError(f"experiment {self.label or ''}: needs at least 2 observation times")
        if np.any(~np.isfinite(self.times)) or np.any(np.diff(self.times) <= 0):
            raise CRNError(f"experiment {self.label or ''}: observation times must be finite and increase strictly")
        if not self.values:
            raise CRNError(f"experiment {self.label or ''}: no observed species")
        vals = {}
        for s, v in self.values.items():
            v = np.asarray(v, dtype=float)
            if v.shape != self.times.shape:
                raise CRNError(f"experiment {self.label or ''}: {s} has {v.size} values for {self.times.size} times")
            if np.any(np.isinf(v)):
                raise CRNError(f"experiment {self.label or ''}: {s} has infinite values")
            vals[s] = v
        self.values = vals


def read_csv(path, label: str | None = None) -> tuple[np.ndarray, dict]:
    """A CSV with a header ``t,<species>,...`` (empty cells: missing) -> (times, values)."""
    path = Path(path)
    import io

    from ..crn.limits import read_text

    try:
        rows = list(csv.reader(io.StringIO(read_text(path, "data file"), newline="")))
    except csv.Error as e:
        raise CRNError(f"data file {str(path)!r}: {e}") from None
    rows = [r for r in rows if r and not r[0].lstrip().startswith("#")]
    if len(rows) < 3:
        raise CRNError(f"data file {str(path)!r} needs a header and at least 2 rows")
    head = [h.strip() for h in rows[0]]
    if head[0] not in ("t", "time"):
        raise CRNError(f"data file {str(path)!r}: the first column must be 't', got {head[0]!r}")
    data = []
    for i, r in enumerate(rows[1:], 2):
        if len(r) != len(head):
            raise CRNError(f"data file {str(path)!r} line {i}: {len(r)} cells for {len(head)} columns")
        try:
            data.append([float(c) if c.strip() else np.nan for c in r])
        except ValueError:
            raise CRNError(f"data file {str(path)!r} line {i}: non-numeric cell in {r}") from None
    arr = np.asarray(data)
    return arr[:, 0], {h: arr[:, j] for j, h in enumerate(head[1:], 1)}


def _integrate_abs_pl(a: np.ndarray, b: np.ndarray, h: np.ndarray, norm: int) -> np.ndarray:
    """Exact integral of |e|^norm of linear pieces from a to b over lengths h; sums the last axis."""
    if norm == 2:
        return (h * (a * a + a * b + b * b) / 3.0).sum(axis=-1)
    same = a * b >= 0
    s = np.abs(a) + np.abs(b)
    cross = (a * a + b * b) / np.where(s > 0, 2 * s, 1.0)
    return (h * np.where(same, 0.5 * s, cross)).sum(axis=-1)


class _Series:
    """Precomputed interpolation of one observed species on the merged grid."""

    def __init__(self, t_sim: np.ndarray, times: np.ndarray, values: np.ndarray, species_idx: int, scale: float):
        ok = np.isfinite(values)
        times, values = times[ok], values[ok]
        if times.size < 2:
            raise CRNError("a series needs at least 2 finite observations")
        lo, hi = max(t_sim[0], times[0]), min(t_sim[-1], times[-1])
        if not hi > lo:
            raise CRNError(f"observations on [{times[0]}, {times[-1]}] do not overlap the simulation [0, {t_sim[-1]}]")
        g = np.union1d(t_sim[(t_sim > lo) & (t_sim < hi)], times[(times > lo) & (times < hi)])
        g = np.concatenate([[lo], g, [hi]])
        self.g = g
        self.h = np.diff(g)
        self.length = hi - lo
        self.obs = np.interp(g, times, values)
        i0 = np.clip(np.searchsorted(t_sim, g, side="right") - 1, 0, t_sim.size - 2)
        self.i0 = i0
        self.a = (g - t_sim[i0]) / (t_sim[i0 + 1] - t_sim[i0])
        self.species_idx = species_idx
        self.scale = scale

    def loss(self, y: np.ndarray, norm: int) -> np.ndarray:
        """y: (B, T) simulated species -> (B,) time-averaged error."""
        yg = (1 - self.a) * y[:, self.i0] + self.a * y[:, self.i0 + 1]
        e = (yg - self.obs) / self.scale
        return _integrate_abs_pl(e[:, :-1], e[:, 1:], self.h, norm) / self.length


class DataFitTask(Task):
    """Fit observed time series (see the module docstring).

    Args:
        template: see :class:`~gfn_crn.tasks.base.Task`; observed species may be any species.
        experiments: :class:`Experiment` objects. t: the simulation grid (default 0 .. last
            observation, 1000 points). norm: 1 or 2. normalise: divide by each series' max |obs|.

    Details (B, S): ``scenario_loss`` only; :meth:`series` lists (experiment, species).
    """

    kind = "data_fit"
    default_good_threshold = 0.01

    def __init__(self, template: Template, experiments: Sequence[Experiment], t=None, *, norm: int = 1,
                 normalise: bool = False, **kw):
        if not experiments:
            raise CRNError("data-fit task has no experiments")
        if norm not in (1, 2):
            raise CRNError(f"norm must be 1 or 2, got {norm!r}")
        self.experiments = list(experiments)
        if t is None:
            t = np.linspace(0.0, max(float(e.times[-1]) for e in self.experiments), 1000)
        scenarios = [Scenario(e.inputs, e.init, label=e.label or f"experiment {i}") for i, e in enumerate(self.experiments)]
        super().__init__(template, scenarios, t, **kw)
        self.norm, self.normalise = int(norm), bool(normalise)
        self._series: list[list[_Series]] = []
        for i, e in enumerate(self.experiments):
            row = []
            for s, v in e.values.items():
                if s not in template.species:
                    raise CRNError(f"experiment {e.label or i}: observed species {s!r} is not in the template "
                                   f"(species: {' '.join(template.species)})")
                scale = float(np.nanmax(np.abs(v))) if normalise else 1.0
                if not scale > 0:
                    raise CRNError(f"experiment {e.label or i}: {s} is all zero; cannot normalise")
                try:
                    row.append(_Series(self.t, e.times, v, template.species.index(s), scale))
                except CRNError as err:
                    raise CRNError(f"experiment {e.label or i}, species {s}: {err.reason}") from None
            self._series.append(row)

    def scenario_losses(self, sim):
        B = sim.y.shape[0]
        out = np.zeros((B, self.n_scenarios))
        for s, row in enumerate(self._series):
            out[:, s] = np.mean([ser.loss(sim.y[:, s, :, ser.species_idx], self.norm) for ser in row], axis=0)
        return out, {}

    def describe(self) -> str:
        if self.description:
            return self.description
        n = sum(len(r) for r in self._series)
        return f"fit of {n} observed series in {len(self.experiments)} experiment(s)"

    def figure(self, result, b: int = 0):
        """Simulated species against the observations, one panel per experiment."""
        from .plots import panel_grid

        fig, axes = panel_grid(self.n_scenarios)
        for s, ax in enumerate(axes):
            e = self.experiments[s]
            for i, (sp, v) in enumerate(e.values.items()):
                ax.plot(self.t, result.sim.output(sp)[b, s], color=f"C{i}", lw=1.2, label=f"{sp} model")
                ax.plot(e.times, v, "o", color=f"C{i}", ms=3, label=f"{sp} data")
            ax.set_title(f"{self.scenario_label(s)} (loss {result.scenario_loss[b, s]:.3g})", fontsize=8)
            ax.legend(fontsize=7)
            ax.tick_params(labelsize=7)
        return fig


class TraceTask(Task):
    """One species should pass through target values at given times (see the module docstring).

    Args:
        template: see :class:`~gfn_crn.tasks.base.Task` (outputs are not needed).
        times, values: the trace. species: the candidate species (default: all).
        inputs: constant input values. init: initial concentrations.
        n_t: simulation points (default: the trace times themselves, plus 0 if missing).

    Details (B, S): ``best_species`` (index into ``self.candidate_species``).
    """

    kind = "trace"
    needs_outputs = False

    def __init__(self, template: Template, times: Sequence[float], values: Sequence[float], *,
                 species: Sequence[str] | None = None, inputs=None, init=0.01, n_t: int | None = None, **kw):
        times = np.asarray(times, dtype=float)
        values = np.asarray(values, dtype=float)
        if times.ndim != 1 or times.shape != values.shape or times.size < 2:
            raise CRNError(f"trace needs equally many times and values (>= 2), got {times.size} and {values.size}")
        if not np.all(np.isfinite(times)) or not np.all(np.isfinite(values)):
            raise CRNError("trace times and values must be finite")
        if times[0] < 0 or np.any(np.diff(times) <= 0):
            raise CRNError(f"trace times must be >= 0 and increase strictly: {times.tolist()}")
        self.trace_times, self.trace_values = times, values
        if n_t is None:
            t = times if times[0] == 0 else np.concatenate([[0.0], times])
        else:
            t = np.union1d(np.linspace(0, times[-1], int(n_t)), times)
        self._idx = np.searchsorted(t, times)
        scale = float(np.abs(values).sum())
        kw.setdefault("loss_cap", scale if scale > 0 else 1.0)
        if kw["loss_cap"] is None:
            kw["loss_cap"] = scale if scale > 0 else 1.0
        if kw.get("beta") is None:
            kw["beta"] = 30.0 / kw["loss_cap"]
        if kw.get("good_threshold") is None:
            kw["good_threshold"] = 0.05 * kw["loss_cap"]
        super().__init__(template, [Scenario(dict(inputs or {}), init, label="trace")], t, **kw)
        species = list(species) if species is not None else list(template.species)
        for s in species:
            if s not in template.species:
                raise CRNError(f"trace species {s!r} is not in the template (species: {' '.join(template.species)})")
        self.candidate_species = species
        self._sidx = [template.species.index(s) for s in species]

    def scenario_losses(self, sim):
        x = sim.y[:, :, self._idx][..., self._sidx]                       # (B, S, n, C)
        err = np.abs(x - self.trace_values[None, None, :, None]).sum(axis=2)  # (B, S, C)
        best = np.argmin(np.where(np.isfinite(err), err, np.inf), axis=-1)
        return np.take_along_axis(err, best[..., None], -1)[..., 0], {"best_species": best}

    def describe(self) -> str:
        if self.description:
            return self.description
        return f"trace of {self.trace_times.size} points, best of {len(self.candidate_species)} species"

    def figure(self, result, b: int = 0):
        """The candidate species against the trace, the best one bold."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.8))
        best = int(result.details["best_species"][b, 0])
        for j, sp in enumerate(self.candidate_species):
            ax.plot(self.t, result.sim.output(sp)[b, 0], lw=2 if j == best else 0.8, alpha=1 if j == best else 0.4,
                    label=sp + (" (best)" if j == best else ""))
        ax.plot(self.trace_times, self.trace_values, "ks", ms=5, label="trace")
        ax.set_xlabel("t")
        ax.legend(fontsize=8)
        return fig


# ------------------------------------------------------------------ task files (gfn_crn.tasks.kinds)
@register("data_fit", keys={"experiments", "norm", "normalise"}, default_time=False, aliases=("data-fit", "datafit"))
def _data_fit_from_config(c: KindInput) -> DataFitTask:
    task = c.task
    exps = task.get("experiments")
    if not isinstance(exps, list) or not exps:
        raise task.err("needs experiments = [{ inputs, init, times, values } or { inputs, init, csv }, ...]")
    experiments = []
    for i, ex in enumerate(exps):
        e = Section(ex, f"task.experiments[{i}]", {"inputs", "init", "times", "values", "csv", "label"}, c.source)
        label = str(e.get("label", f"experiment {i}"))
        if "csv" in e:
            if "times" in e or "values" in e:
                raise e.err("give either csv or times/values")
            p = Path(e.get("csv"))
            times, values = read_csv(p if p.is_absolute() else c.base_dir / p)
        else:
            times = e.numbers("times")
            values = e.get("values")
            if times is None or not isinstance(values, Mapping):
                raise e.err("needs times = [...] and values = { X1 = [...] } (or csv = 'file.csv')")
        experiments.append(Experiment(times, dict(values), const_inputs(e.get("inputs"), f"{e.where}.inputs", c.source),
                                      read_init(e), label))
    return DataFitTask(c.template, experiments, c.t, norm=task.number("norm", 1, integer=True),
                       normalise=bool(task.get("normalise", False)), **c.common)


@register("trace", keys={"times", "values", "species", "inputs", "n_t"}, default_time=False)
def _trace_from_config(c: KindInput) -> TraceTask:
    task = c.task
    if "times" not in task or "values" not in task:
        raise task.err("needs times = [...] and values = [...]")
    return TraceTask(c.template, task.numbers("times"), task.numbers("values"), species=task.get("species"),
                     inputs=c.const_inputs("inputs"), init=c.init, n_t=task.number("n_t", integer=True), **c.common)

