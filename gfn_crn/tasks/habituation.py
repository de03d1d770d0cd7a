"""Habituation: the response to a train of identical input pulses decreases (DESIGN.md 5).

The input is ``low`` except on ``n_pulses`` ON windows ``[start + k (width + gap), ... + width)``;
with ``rest`` set, one more (recovery) pulse starts ``rest`` after the end of the train. The
peak of pulse k is ``p_k = max(y on [on_k, off_k]) - y(on_k)`` (relative to the pre-pulse
level). Loss per scenario (one scenario per ``high`` level)::

    log(max_k pc_{k+1} / pc_k)                             # < 0: every peak below the previous
    + w_floor * (fraction of peaks below peak_floor)       # flat outputs do not score well
    + w_ceiling * (fraction of peaks above peak_ceiling)   # exploding ones score badly
    + w_recovery * min(max(0, recovery - p_rec / p_1), 1)  # only with ``rest``

with ``pc = max(p, peak_floor)`` (so ratios stay finite and a flat output gives log 1 = 0 plus the
floor penalty ``w_floor``). The loss is bounded: below by ``log(peak_floor / peak_ceiling)`` and
above by ``log(peak_ceiling / peak_floor) + w_floor + w_ceiling + w_recovery``.

Defaults: ``peak_floor = 0.05`` (5% of the default pulse height 1), ``peak_ceiling = 100``,
``w_floor = w_ceiling = w_recovery = 1``, ``recovery = 0.8``; ``good_threshold = -0.1`` (every peak
at most e^-0.1 = 90% of the previous, no penalty); ``loss_cap = 2`` and ``beta = 10`` (the span from a
good design near -1 to the cap is ~30 nats, as for tracking): a flat output (loss 1) has e^10
less reward than a non-habituating constant response (loss 0) and e^11 less than a good design;
``floor = -(10 * 2 + 40) = -60``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Template
from ..sim import PiecewiseConstant, Scenario
from .base import Task
from .kinds import KindInput, register


class HabituationTask(Task):
    """Decreasing responses to repeated pulses of one input.

    Args:
        template: see :class:`~gfn_crn.tasks.base.Task`; ``output`` (default the first output)
            is the response.
        t: the time grid (default: 0 .. end of the last pulse + gap, 1000 points).
        input: the pulsed input. n_pulses, start, width, gap: the train. high: pulse heights (one
            scenario each). low: the OFF level. other_inputs: constant values of other inputs.
        rest: gap before a recovery pulse (None: no recovery check). recovery: the fraction of the
            first peak the recovery peak must reach.
        peak_floor, peak_ceiling, w_floor, w_ceiling, w_recovery: see the module docstring.

    Details (B, S, K): ``peaks`` (K = n_pulses), ``baselines``; (B, S): ``max_ratio``,
    ``recovery_peak`` (NaN without ``rest``).
    """

    kind = "habituation"
    default_good_threshold = -0.1
    default_beta = 10.0
    default_loss_cap = 2.0

    def __init__(self, template: Template, t=None, *, input: str = "u1", n_pulses: int = 5, start: float = 10.0,
                 width: float = 5.0, gap: float = 15.0, high: Sequence[float] | float = (1.0,), low: float = 0.0,
                 other_inputs=None, init=0.01, rest: float | None = None, recovery: float = 0.8,
                 peak_floor: float = 0.05, peak_ceiling: float = 100.0, w_floor: float = 1.0, w_ceiling: float = 1.0,
                 w_recovery: float = 1.0, output: str | None = None, **kw):
        if int(n_pulses) != n_pulses or n_pulses < 2:
            raise CRNError(f"habituation needs n_pulses >= 2, got {n_pulses}")
        for nm, v in (("width", width), ("gap", gap), ("peak_floor", peak_floor)):
            if not v > 0:
                raise CRNError(f"habituation {nm} must be > 0, got {v}")
        if start < 0:
            raise CRNError(f"habituation start must be >= 0, got {start}")
        if not peak_ceiling > peak_floor:
            raise CRNError(f"peak_ceiling ({peak_ceiling}) must exceed peak_floor ({peak_floor})")
        if rest is not None and not rest > 0:
            raise CRNError(f"rest must be > 0, got {rest}")
        self.n_pulses = int(n_pulses)
        on = [start + k * (width + gap) for k in range(self.n_pulses)]
        off = [a + width for a in on]
        if rest is not None:
            on.append(off[-1] + rest)
            off.append(on[-1] + width)
        self.t_on, self.t_off = np.asarray(on, float), np.asarray(off, float)
        if t is None:
            t = np.linspace(0.0, off[-1] + gap, 1000)
        t = np.asarray(t, dtype=float)
        if off[-1] > t[-1]:
            raise CRNError(f"the last pulse ends at {off[-1]}, after the final time {t[-1]}")
        highs = [float(h) for h in (high if np.ndim(high) else [high])]
        if not highs or any(h <= low for h in highs):
            raise CRNError(f"pulse heights {highs} must exceed the OFF level {low}")
        self.highs, self.low = highs, float(low)
        self.input = input
        other = dict(other_inputs or {})
        if input in other:
            raise CRNError(f"{input} is the pulsed input and cannot also be in other_inputs")
        scenarios = [Scenario({input: PiecewiseConstant.pulses(on, off, h, low), **other}, init,
                              label=f"{input} pulses of {h:g}") for h in highs]
        super().__init__(template, scenarios, t, **kw)
        self.output = output or self.outputs[0]
        self._out = template.species.index(self.output)
        self.rest, self.recovery = rest, float(recovery)
        self.peak_floor, self.peak_ceiling = float(peak_floor), float(peak_ceiling)
        self.w_floor, self.w_ceiling, self.w_recovery = float(w_floor), float(w_ceiling), float(w_recovery)
        # index windows per pulse (on_k .. off_k inclusive) and the pre-pulse point
        self._base_idx = np.maximum(np.searchsorted(self.t, self.t_on, side="right") - 1, 0)
        masks = [(self.t >= a - 1e-12) & (self.t <= b + 1e-12) for a, b in zip(self.t_on, self.t_off)]
        for k, msk in enumerate(masks):
            if msk.sum() < 2:
                raise CRNError(f"pulse {k} ({self.t_on[k]}..{self.t_off[k]}) covers fewer than 2 time points: "
                               "use a finer grid")
        self._masks = np.stack(masks)                                       # (K', T)

    def peaks_from_outputs(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Peaks and baselines (..., K') of output trajectories ``y`` (..., T)."""
        base = y[..., self._base_idx]
        masked = np.where(self._masks, y[..., None, :], -np.inf)            # (..., K', T)
        return masked.max(axis=-1) - base, base

    def loss_from_peaks(self, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-scenario loss and max ratio from peaks (..., K') (the recovery peak last if ``rest``)."""
        K = self.n_pulses
        p = peaks[..., :K]
        pc = np.maximum(p, self.peak_floor)
        ratio = np.max(pc[..., 1:] / pc[..., :-1], axis=-1)
        loss = np.log(ratio)
        loss = loss + self.w_floor * (p < self.peak_floor).mean(axis=-1)
        loss = loss + self.w_ceiling * (p > self.peak_ceiling).mean(axis=-1)
        if self.rest is not None:
            rec = peaks[..., K] / pc[..., 0]
            loss = loss + self.w_recovery * np.clip(self.recovery - rec, 0.0, 1.0)
        return loss, ratio

    def scenario_losses(self, sim):
        y = sim.y[..., self._out]
        peaks, base = self.peaks_from_outputs(y)
        loss, ratio = self.loss_from_peaks(peaks)
        det = {"peaks": peaks[..., :self.n_pulses], "baselines": base[..., :self.n_pulses], "max_ratio": ratio,
               "recovery_peak": peaks[..., self.n_pulses] if self.rest is not None else np.full(loss.shape, np.nan)}
        return loss, det

    def describe(self) -> str:
        if self.description:
            return self.description
        s = f"habituation of {self.output} to {self.n_pulses} pulses of {self.input}"
        return s + (f" with recovery after {self.rest}" if self.rest is not None else "")

    def figure(self, result, b: int = 0):
        """The output with the ON windows shaded and the per-pulse peaks marked."""
        from .plots import panel_grid, status_suffix

        fig, axes = panel_grid(self.n_scenarios)
        peaks, base = result.details["peaks"][b], result.details["baselines"][b]
        for s, ax in enumerate(axes):
            y = result.sim.output(self.output)[b, s]
            ax.plot(self.t, y, lw=1.2, color="C0")
            for a, c in zip(self.t_on, self.t_off):
                ax.axvspan(a, c, color="orange", alpha=0.2, lw=0)
            for k in range(self.n_pulses):
                m = self._masks[k]
                i = np.flatnonzero(m)[np.argmax(y[m])]
                ax.plot(self.t[i], base[s, k] + peaks[s, k], "rv", ms=5)
            ax.set_title(f"{self.scenario_label(s)}: max ratio {result.details['max_ratio'][b, s]:.3f}"
                         f" (loss {result.scenario_loss[b, s]:.3g}){status_suffix(result, b, s)}", fontsize=8)
            ax.set_xlabel("t", fontsize=8)
            ax.tick_params(labelsize=7)
        return fig


# ------------------------------------------------------------------ task files (gfn_crn.tasks.kinds)
@register("habituation", keys={"input", "n_pulses", "start", "width", "gap", "high", "low", "other_inputs", "rest",
                               "recovery", "peak_floor", "peak_ceiling", "w_floor", "w_ceiling", "w_recovery",
                               "output"}, default_time=False)
def _habituation_from_config(c: KindInput) -> HabituationTask:
    task = c.task
    high = task.get("high", [1.0])
    high = [high] if isinstance(high, (int, float)) and not isinstance(high, bool) else high
    task.d["high"] = high
    return HabituationTask(
        c.template, c.t, input=task.get("input", "u1"), n_pulses=task.number("n_pulses", 5, integer=True),
        start=task.number("start", 10.0), width=task.number("width", 5.0, positive=True),
        gap=task.number("gap", 15.0, positive=True), high=task.numbers("high"), low=task.number("low", 0.0),
        other_inputs=c.const_inputs("other_inputs"), init=c.init,
        rest=task.number("rest", positive=True), recovery=task.number("recovery", 0.8),
        peak_floor=task.number("peak_floor", 0.05, positive=True),
        peak_ceiling=task.number("peak_ceiling", 100.0, positive=True),
        w_floor=task.number("w_floor", 1.0), w_ceiling=task.number("w_ceiling", 1.0),
        w_recovery=task.number("w_recovery", 1.0), output=task.get("output"), **c.common)

