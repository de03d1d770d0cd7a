"""Oscillators: frequency and/or mean targets, possibly depending on the input (DESIGN.md 5).

Metrics on the window ``t >= t0`` of one output, with ``m`` its mean and ``A = (max - min) / 2``:

* ``f``: the dominant frequency: peak of the periodogram of ``(y - m) * hann`` zero-padded to
  8x, refined by a parabola through the log-magnitudes of the three bins around the peak
  (frequencies below 1.5 cycles per window are ignored);
* ``r1``: Pearson correlation between ``y(t)`` and ``y(t + 1/f)`` (``y`` linearly interpolated
  at the shifted times): a perfect sine gives 1 (the peer's metric gives 0.875);
* ``d``: ratio of the last to the first peak height above the mean, peaks being the maxima
  between an upward and the next downward crossing of ``m``, refined by a parabola through
  three samples: sustained oscillations give 1, damped ones < 1, growing ones > 1;
* the output *oscillates* iff ``A >= amplitude_floor``, ``A >= relative_floor * |m|`` and at
  least two peaks were found.

Loss per scenario (every term lies in [0, 1])::

    w_f min(|f - f*| / f*, 1) + w_d min(|1 - d|, 1) + w_r min(|1 - r1|, 1) + w_m min(|m - m*| / max(|m*|, eps), 1)

* no oscillation (with f* > 0 or no frequency target): the oscillation terms take their worst
  value ``no_oscillation_loss`` (default ``w_f + w_d + w_r``: any oscillation beats none);
* ``f* = 0`` means "must not oscillate": the frequency term is ``w_f`` if the output
  oscillates and 0 otherwise, and the d/r1 terms are dropped (no NaN, no division by 0);
* the mean term is present only with a mean target.

Defaults: ``t0`` = 20% of ``t_f``; ``amplitude_floor = 1e-3``, ``relative_floor = 0.01``;
``loss_cap = 3`` (= the no-oscillation loss: every non-oscillator is equally bad; a mean term
can exceed it, then it is capped); ``beta = 10``: the span beta * loss_cap = 30 nats is the
tracking kinds' (30 x 1), and a design at loss 0.05 (f 2% off, r1 0.99, d 0.98) has e^29.5 the
reward of a non-oscillator; ``good_threshold = 0.05``; ``floor = -(10 * 3 + 40) = -70``.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Template
from ..sim import Scenario
from .base import Task, check_expr_names
from .expr import Expr
from .kinds import KindInput, register
from .verification import CheckSpec, Trajectories, VerificationPlan, input_grid, nan_to_inf, off_grid_values, \
    scenario_check

PAD = 8
MIN_CYCLES = 1.5


def dominant_frequency(y: np.ndarray, dt: float) -> np.ndarray:
    """Dominant frequency of each row of ``y`` (..., T) sampled every ``dt`` (mean removed)."""
    y = np.asarray(y, dtype=float)
    T = y.shape[-1]
    yc = (y - y.mean(axis=-1, keepdims=True)) * np.hanning(T)
    nfft = 1 << int(np.ceil(np.log2(PAD * T)))
    P = np.abs(np.fft.rfft(yc, n=nfft, axis=-1))
    kmin = max(int(np.ceil(MIN_CYCLES * nfft / T)), 1)
    P[..., :kmin] = 0.0
    k = np.argmax(P, axis=-1)
    k = np.clip(k, 1, P.shape[-1] - 2)
    lp = np.log(np.maximum(np.stack([np.take_along_axis(P, (k + j)[..., None], -1)[..., 0] for j in (-1, 0, 1)]),
                           1e-300))
    den = lp[0] - 2 * lp[1] + lp[2]
    delta = np.where(den < 0, 0.5 * (lp[0] - lp[2]) / np.where(den < 0, den, -1.0), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    return (k + delta) / (nfft * dt)


def _peaks(y: np.ndarray, m: float) -> list[float]:
    above = y > m
    up = np.flatnonzero(~above[:-1] & above[1:]) + 1
    down = np.flatnonzero(above[:-1] & ~above[1:]) + 1
    out = []
    for u in up:
        j = np.searchsorted(down, u, side="right")
        if j >= len(down):
            break
        seg = y[u:down[j]]
        i = u + int(np.argmax(seg))
        p = y[i]
        if 0 < i < len(y) - 1:
            a, b, c = y[i - 1], y[i], y[i + 1]
            den = a - 2 * b + c
            if den < 0:
                p = b - (a - c) ** 2 / (8 * den)
        out.append(float(p))
    return out


def _shift_corr(y: np.ndarray, lag: float) -> float:
    T = y.size
    n = T - int(np.ceil(lag)) - 1
    if lag <= 0 or n < 3:
        return np.nan
    pos = np.arange(n) + lag
    i0 = np.floor(pos).astype(int)
    a = pos - i0
    ys = (1 - a) * y[i0] + a * y[i0 + 1]
    x = y[:n]
    xc, sc = x - x.mean(), ys - ys.mean()
    den = np.sqrt((xc * xc).sum() * (sc * sc).sum())
    return float((xc * sc).sum() / den) if den > 0 else np.nan


def oscillation_metrics(y: np.ndarray, dt: float, amplitude_floor: float = 1e-3, relative_floor: float = 0.01) -> dict:
    """Metrics of each row of ``y`` (..., T) (the window after the transient).

    Returns arrays of shape ``y.shape[:-1]``: ``frequency``, ``r1``, ``damping``, ``mean``,
    ``amplitude``, ``n_peaks``, ``oscillating`` (bool). Non-oscillating rows have frequency 0,
    r1 and damping NaN.
    """
    y = np.asarray(y, dtype=float)
    shape = y.shape[:-1]
    flat = y.reshape(-1, y.shape[-1])
    n = flat.shape[0]
    finite = np.all(np.isfinite(flat), axis=1)
    flat = np.where(finite[:, None], flat, 0.0)
    m = flat.mean(axis=1)
    amp = 0.5 * (flat.max(axis=1) - flat.min(axis=1))
    r1 = np.full(n, np.nan)
    d = np.full(n, np.nan)
    npk = np.zeros(n, dtype=int)
    cand = finite & (amp >= amplitude_floor) & (amp >= relative_floor * np.abs(m))
    f = np.zeros(n)
    if cand.any():                  # the periodogram only where the amplitude could oscillate
        f[cand] = dominant_frequency(flat[cand], dt)
    for i in np.flatnonzero(cand):
        pk = _peaks(flat[i], m[i])
        npk[i] = len(pk)
        if len(pk) < 2:
            continue
        d[i] = (pk[-1] - m[i]) / (pk[0] - m[i])
        r1[i] = _shift_corr(flat[i], 1.0 / (f[i] * dt))
    osc = cand & (npk >= 2) & np.isfinite(r1) & np.isfinite(d)
    f = np.where(osc, f, 0.0)
    r1 = np.where(osc, r1, np.nan)
    d = np.where(osc, d, np.nan)
    m = np.where(finite, m, np.nan)
    return {k: v.reshape(shape) for k, v in dict(frequency=f, r1=r1, damping=d, mean=m, amplitude=amp,
                                                     n_peaks=npk, oscillating=osc).items()}


class OscillatorTask(Task):
    """An output that oscillates at a target frequency and/or around a target mean.

    Args:
        template, scenarios, t: see :class:`~gfn_crn.tasks.base.Task` (scenarios: constant inputs).
        frequency: target frequency (number or expression of the inputs; 0 = must not
            oscillate; ``None``: no frequency target).
        mean: target mean (number or expression; ``None``: no mean target).
        output: the output species (default: the template's first output).
        t0: start of the analysis window (default 20% of the final time).
        weights: mapping with keys ``frequency``, ``damping``, ``regularity``, ``mean`` (default 1).
        amplitude_floor, relative_floor: below these the output does not oscillate.
        no_oscillation_loss: the oscillation terms' value for a non-oscillating output.

    Details (B, S): ``frequency``, ``r1``, ``damping``, ``mean``, ``amplitude``, ``oscillating``,
    and the targets ``target_frequency``/``target_mean`` (S,) on the task.
    """

    kind = "oscillator"
    default_loss_cap = 3.0
    default_beta = 10.0
    default_good_threshold = 0.05

    def __init__(self, template: Template, scenarios: Sequence[Scenario], t, *, frequency=0.1, mean=None,
                 output: str | None = None, t0: float | None = None, weights: Mapping[str, float] | None = None,
                 amplitude_floor: float = 1e-3, relative_floor: float = 0.01,
                 no_oscillation_loss: float | None = None, **kw):
        super().__init__(template, scenarios, t, **kw)
        self.output = output or self.outputs[0]
        if self.output not in template.species:
            raise CRNError(f"oscillator output {self.output!r} is not a species (species: {' '.join(template.species)})")
        self._out = template.species.index(self.output)
        dt = np.diff(self.t)
        if not np.allclose(dt, dt[0], rtol=1e-6, atol=0):
            raise CRNError("the oscillator task needs an equally spaced time grid")
        self.dt = float(dt[0])
        self.t0 = float(0.2 * self.t[-1] if t0 is None else t0)
        self.i0 = int(np.searchsorted(self.t, self.t0 - 1e-12 * max(1.0, abs(self.t0))))
        if self.t.size - self.i0 < 16:
            raise CRNError(f"t0={self.t0} leaves fewer than 16 points to analyse")
        w = {"frequency": 1.0, "damping": 1.0, "regularity": 1.0, "mean": 1.0}
        bad = set(weights or {}) - set(w)
        if bad:
            raise CRNError(f"unknown oscillator weight(s) {sorted(bad)} (known: {', '.join(w)})")
        w.update({k: float(v) for k, v in (weights or {}).items()})
        if any(v < 0 for v in w.values()):
            raise CRNError(f"oscillator weights must be >= 0, got {w}")
        self.loss_weights = w
        self.amplitude_floor = float(amplitude_floor)
        self.relative_floor = float(relative_floor)
        self.frequency_spec, self.mean_spec = frequency, mean
        self.target_frequency = self._scenario_values(frequency, "target frequency")
        self.target_mean = self._scenario_values(mean, "target mean")
        if self.target_frequency is not None and np.any(self.target_frequency < 0):
            raise CRNError("target frequency must be >= 0")
        if self.target_frequency is not None:
            nyq = 0.5 / self.dt
            window = self.t[-1] - self.t0
            hi = self.target_frequency.max()
            if hi >= nyq:
                raise CRNError(f"target frequency {hi} is above the grid's Nyquist frequency {nyq}")
            pos = self.target_frequency[self.target_frequency > 0]
            if pos.size and pos.min() * window < 2:
                raise CRNError(f"target frequency {pos.min()} gives fewer than 2 cycles in the analysis window "
                               f"[{self.t0}, {self.t[-1]}]: lengthen t_f or lower t0")
        if no_oscillation_loss is None:
            no_oscillation_loss = (w["frequency"] if self.target_frequency is not None else 0.0) + w["damping"] + w["regularity"]
        self.no_oscillation_loss = float(no_oscillation_loss)

    def _scenario_values(self, spec, what):
        if spec is None:
            return None
        e = spec if isinstance(spec, Expr) else Expr(spec, what)
        check_expr_names(e, self.env, what)
        bad = [n for n in e.names if n == "t"]
        if bad:
            raise CRNError(f"{what} {e.text!r} cannot depend on time")
        v = np.broadcast_to(e(self.env), (self.n_scenarios, self.t.size))[:, self.i0]
        if not np.all(np.isfinite(v)):
            raise CRNError(f"{what} {e.text!r} is not finite in some scenario")
        return np.asarray(v, dtype=float)

    def scenario_losses(self, sim):
        y = sim.y[:, :, self.i0:, self._out]
        met = oscillation_metrics(y, self.dt, self.amplitude_floor, self.relative_floor)
        w = self.loss_weights
        osc = met["oscillating"]
        B = y.shape[0]
        loss = np.zeros((B, self.n_scenarios))
        f_t = self.target_frequency
        if f_t is None:
            zero_target = np.zeros(self.n_scenarios, dtype=bool)
        else:
            zero_target = f_t == 0
        quality = w["damping"] * np.minimum(np.abs(1 - met["damping"]), 1.0) + \
            w["regularity"] * np.minimum(np.abs(1 - met["r1"]), 1.0)
        if f_t is not None:
            fpos = np.where(zero_target, 1.0, f_t)
            quality = quality + w["frequency"] * np.minimum(np.abs(met["frequency"] - fpos[None]) / fpos[None], 1.0)
        osc_part = np.where(osc, quality, self.no_oscillation_loss)
        zero_part = np.where(osc, w["frequency"], 0.0)
        loss += np.where(zero_target[None], zero_part, osc_part)
        if self.target_mean is not None:
            mt = self.target_mean[None]
            loss += w["mean"] * np.minimum(np.abs(met["mean"] - mt) / np.maximum(np.abs(mt), 1e-6), 1.0)
        details = {k: met[k] for k in ("frequency", "r1", "damping", "mean", "amplitude", "oscillating")}
        return loss, details

    def describe(self) -> str:
        if self.description:
            return self.description
        parts = []
        if self.frequency_spec is not None:
            parts.append(f"frequency {self.frequency_spec}")
        if self.mean_spec is not None:
            parts.append(f"mean {self.mean_spec}")
        return f"oscillator of {self.output} with " + " and ".join(parts)

    # ---------------------------------------------------------------- plot and verification
    def figure(self, result, b: int = 0):
        """The output per scenario, the analysis window shaded, f / f* / r1 / d in the title."""
        from .plots import panel_grid, status_suffix

        fig, axes = panel_grid(self.n_scenarios)
        d = result.details
        for s, ax in enumerate(axes):
            ax.plot(self.t, result.sim.output(self.output)[b, s], lw=1.2)
            ax.axvspan(self.t[0], self.t0, color="grey", alpha=0.15, lw=0)
            ft = "-" if self.target_frequency is None else f"{self.target_frequency[s]:.3g}"
            txt = (f"f {d['frequency'][b, s]:.3g} (f* {ft}), r1 {d['r1'][b, s]:.3f}, d {d['damping'][b, s]:.3f}"
                   if d["oscillating"][b, s] else f"no oscillation (f* {ft})")
            ax.set_title(f"{self.scenario_label(s)}: {txt}{status_suffix(result, b, s)}", fontsize=8)
            if self.target_mean is not None:
                ax.axhline(self.target_mean[s], color="k", ls="--", lw=0.8)
            ax.set_xlabel("t", fontsize=8)
            ax.tick_params(labelsize=7)
        return fig

    def verification_plan(self, s) -> VerificationPlan:
        """``persists``: the oscillation of the output in the last window of the long horizon has
        the frequency and amplitude of the first analysis window (relative, ``oscillation_tol``).
        With a frequency target of constant inputs, ``off_grid``: every combination of the
        inputs' off-grid values whose target frequency is > 0, judged on the second half of the
        long horizon (off-grid frequencies may be far below the training ones, and the training
        window would hold too few of their cycles): the largest relative frequency error,
        tolerance ``oscillation_tol``. The long horizon keeps the training grid's spacing."""
        plan = VerificationPlan([self._persists(s)], n_points=int(round(s.horizon * (self.t.size - 1))) + 1)
        grid = input_grid(self) if self.frequency_spec is not None else None
        if grid:
            init = self.scenarios[0].init
            vals = {u: list(s.inputs.get(u, off_grid_values(g) or g)) for u, g in grid.items()}
            names = list(vals)
            scen = [Scenario(dict(zip(names, c)), init, label=", ".join(f"{u}={x:g}" for u, x in zip(names, c)))
                    for c in itertools.product(*[vals[u] for u in names])]
            from .base import scenario_env

            e = self.frequency_spec if isinstance(self.frequency_spec, Expr) else Expr(self.frequency_spec,
                                                                                       "frequency")
            env = scenario_env(scen, self.t, self.template.species)
            f = np.broadcast_to(e(env), (len(scen), self.t.size))[:, 0].astype(float)
            keep = f > 0
            if keep.any():
                plan.checks.append(self._off_grid([sc for sc, k in zip(scen, keep) if k], f[keep], s))
        return plan

    def _persists(self, s) -> CheckSpec:
        t_f, w = float(self.t[-1]), float(self.t[-1]) - self.t0
        T = s.horizon * t_f
        want = np.ones(self.n_scenarios, dtype=bool) if self.target_frequency is None else self.target_frequency > 0

        def judge(tr: Trajectories):
            dt = float(tr.t[1] - tr.t[0])
            i0 = int(np.searchsorted(tr.t, self.t0 - 1e-9))
            i1 = int(np.searchsorted(tr.t, t_f + 1e-9))
            j0 = int(np.searchsorted(tr.t, T - w - 1e-9))
            first = oscillation_metrics(tr.y[:, :, i0:i1, self._out], dt, self.amplitude_floor, self.relative_floor)
            last = oscillation_metrics(tr.y[:, :, j0:, self._out], dt, self.amplitude_floor, self.relative_floor)
            df = np.abs(last["frequency"] / first["frequency"] - 1)
            da = np.abs(last["amplitude"] / first["amplitude"] - 1)
            v = np.where(first["oscillating"] & last["oscillating"], np.maximum(df, da), np.inf)
            return nan_to_inf(np.where(want[None], v, 0.0)).max(axis=1)

        return CheckSpec("persists", judge, s.oscillation_tol,
                         "frequency and amplitude of the last window vs the first (relative)")

    def _off_grid(self, scen, f, s) -> CheckSpec:
        T = s.horizon * float(self.t[-1])

        def errors(tr: Trajectories):
            half = int(np.searchsorted(tr.t, T / 2))
            dt = float(tr.t[1] - tr.t[0])
            met = oscillation_metrics(tr.y[:, :, half:, self._out], dt, self.amplitude_floor, self.relative_floor)
            return np.where(met["oscillating"], np.abs(met["frequency"] - f[None]) / f[None], np.inf)

        return scenario_check(scen, errors, s.oscillation_tol)


# ------------------------------------------------------------------ task files (gfn_crn.tasks.kinds)
@register("oscillator", keys={"frequency", "mean", "output", "t0", "weights", "amplitude_floor", "relative_floor",
                              "no_oscillation_loss"}, grid=True)
def _oscillator_from_config(c: KindInput) -> OscillatorTask:
    task = c.task
    return OscillatorTask(
        c.template, c.grid_scenarios(), c.t, frequency=task.get("frequency", 0.1), mean=task.get("mean"),
        output=task.get("output"), t0=task.number("t0"), weights=task.get("weights"),
        amplitude_floor=task.number("amplitude_floor", 1e-3),
        relative_floor=task.number("relative_floor", 0.01),
        no_oscillation_loss=task.number("no_oscillation_loss"), **c.common)

