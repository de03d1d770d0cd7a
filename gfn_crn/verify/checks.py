"""Verification of designs beyond the training loss.

A loss below the task's good threshold says a design fits the training scenarios on the training
horizon. It does not say that the design keeps working afterwards, nor at inputs the task did not
train on. :func:`verify` runs the checks that do, per task kind:

``bounded``
    Every species stays below ``cap`` over a long horizon (``horizon`` x t_f) on the task's
    scenarios. A trajectory the simulator stops as diverged fails it.
``settled`` (tracking with a time-independent target, logic, dose response, classification)
    Every species has stopped moving at the end of the long horizon: over the final
    ``settle_window`` of it, ``|x(T) - x(T - w)| / (|x(T)| + settle_atol) <= settle_tol``.
    A species that grows linearly changes by 10% over the last 10% of any horizon, so it fails at
    every horizon; one that approaches its steady state passes. ``settle_atol`` (default 5% of the
    largest training target) keeps species that creep toward zero at a negligible level (a
    second-order decay falls like 1/t) from counting as moving.
``persists`` (oscillator)
    The oscillation of the output in the last window of the long horizon has the frequency and
    amplitude of the first analysis window, within ``oscillation_tol`` (relative).
``off_grid`` (tracking, dose response, logic, classification, oscillator; oscillators are judged on
the second half of the long horizon)
    The task's target at inputs off the training grid: per input, half the smallest and twice the
    largest training value and the midpoints between training values (logic: the high level
    times 0.75 and 1.5; classification: every initial concentration times 0.9 and 1.1). The value
    is the largest error at the end of the long horizon, relative to ``max(|target|,
    0.1 * the largest training target)``, with the task's good threshold as tolerance. Logic and
    classification judge the answer, not the level: the value is the share of off-grid rows
    answered wrong (logic: an output on the wrong side of half the high level; classification:
    the largest output not the example's class), tolerance 0. Oscillators: the largest relative
    frequency error, tolerance ``oscillation_tol``.
``step`` (tracking tasks with a disturbance input, one the target does not depend on)
    The disturbance switches from its smallest to its largest training value (and back) halfway
    through the long horizon, the other inputs at their middle training value; the output must be
    back at the target at the end of both halves (same error and tolerance as ``off_grid``).

Every check reports ``name``, ``value``, ``tolerance`` and ``passed``. A design is **verified**
when its loss is below the task's good threshold and every check passes. Settings come from the
task file's ``[verify]`` table (see :class:`VerifySettings`); verification simulates with the
task's own simulator options.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.settings import read_table, setting
from ..crn.network import Network
from ..sim import PiecewiseConstant, Scenario, simulate

TRACKING_KINDS = ("tracking", "dose_response", "logic", "classification")


@dataclass(frozen=True)
class Check:
    """One verification check: its value against its tolerance."""

    name: str
    value: float
    tolerance: float
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict:
        v = float(self.value)
        return {"name": self.name, "value": v if math.isfinite(v) else None, "tolerance": float(self.tolerance),
                "passed": bool(self.passed), "detail": self.detail}


def _off_grid_inputs(v, label: str) -> dict:
    """``[verify] inputs``: input -> off-grid values (finite, >= 0)."""
    if not isinstance(v, Mapping):
        raise CRNError(f"{label} must be a table of input -> [values]")
    vals = {}
    for u, xs in v.items():
        try:
            arr = [float(x) for x in (xs if isinstance(xs, (list, tuple)) else [xs])]
        except (TypeError, ValueError):
            raise CRNError(f"{label}.{u} must be numbers, got {xs!r}") from None
        if not arr or not all(math.isfinite(x) and x >= 0 for x in arr):
            raise CRNError(f"{label}.{u} must be finite values >= 0, got {xs!r}")
        vals[str(u)] = tuple(arr)
    return vals


@dataclass(frozen=True)
class VerifySettings:
    """The ``[verify]`` table of a task file (every key optional)."""

    horizon: float = setting(10.0, "the long horizon, in units of the task's final time", ge=1)
    n_points: int = setting(0, "output points on the long horizon (0: 2001, or the task's spacing for oscillators)",
                            ge=0, check=lambda v: None if v == 0 or v >= 11 else "0 or an integer >= 11")
    cap: float = setting(1e3, "every species must stay below this concentration", gt=0)
    settle_window: float = setting(0.1, "the final fraction of the long horizon over which species must have "
                                        "stopped moving", gt=0, lt=1)
    settle_tol: float = setting(1e-2, "largest relative change over that window", gt=0)
    settle_atol: float = setting(0.0, "concentration added to the denominator, so species near zero do not count "
                                      "(0: 5% of the largest training target, or 0.05 where the task has none)", ge=0)
    off_grid: bool = setting(True, "run the off-grid check")
    off_grid_tol: float = setting(0.0, "tolerance of the off-grid and step checks (0: the kind's default, see the "
                                       "module doc)", ge=0)
    step: bool = setting(True, "run the disturbance-step check (tracking tasks with a disturbance input)")
    oscillation_tol: float = setting(0.1, "relative tolerance of the oscillator checks (frequency and amplitude)",
                                     gt=0)
    inputs: Mapping[str, Sequence[float]] = setting(
        doc="explicit off-grid values per input (replace the derived ones for that input)", default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping | None, where: str = "[verify]") -> "VerifySettings":
        """The settings of a ``[verify]`` table, each value read by the settings' one typed validator
        (:func:`gfn_crn.crn.settings.read_table`); errors name ``where`` and the key."""
        return cls(**read_table(cls, d, where, custom={"inputs": _off_grid_inputs}))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["inputs"] = {k: list(v) for k, v in self.inputs.items()}
        return d


@dataclass
class Verification:
    """The verdict on one design: its training loss, its checks and whether it is verified."""

    loss: float
    valid: bool
    good: bool
    checks: list[Check]
    traces: dict = field(default_factory=dict, repr=False)

    @property
    def verified(self) -> bool:
        return bool(self.valid and self.good and all(c.passed for c in self.checks))

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        return {"loss": float(self.loss) if math.isfinite(self.loss) else None, "valid": bool(self.valid),
                "good": bool(self.good),
                "verified": self.verified, "checks": [c.to_dict() for c in self.checks]}


# ---------------------------------------------------------------- scenario sets
def _const_inputs(sc: Scenario) -> dict | None:
    if any(isinstance(v, PiecewiseConstant) for v in sc.inputs.values()):
        return None
    return {k: float(v) for k, v in sc.inputs.items()}


def off_grid_values(values: Sequence[float]) -> list[float]:
    """Half the smallest (if > 0), the midpoints, twice the largest of a training grid."""
    v = sorted({float(x) for x in values})
    out = []
    if v[0] > 0:
        out.append(v[0] / 2)
    out += [(a + b) / 2 for a, b in zip(v[:-1], v[1:])]
    if v[-1] > 0:
        out.append(v[-1] * 2)
    return out


def _middle(values: Sequence[float]) -> float:
    v = sorted({float(x) for x in values})
    return v[len(v) // 2]


def _grid(task) -> dict[str, list[float]] | None:
    """Training values per input (None: some input is not constant)."""
    rows = [_const_inputs(sc) for sc in task.scenarios]
    if any(r is None for r in rows):
        return None
    names = sorted({k for r in rows for k in r})
    return {u: sorted({r[u] for r in rows if u in r}) for u in names}


def _target_inputs(task) -> set[str]:
    spec = getattr(task, "target_spec", None)
    from ..tasks.expr import Expr

    specs = spec.values() if isinstance(spec, Mapping) else [spec]
    used: set[str] = set()
    for s in specs:
        if isinstance(s, (str, Expr)):
            e = s if isinstance(s, Expr) else Expr(s, "target")
            used |= set(e.inputs())
            if "t" in e.names:
                return {"t"}
        elif not isinstance(s, (int, float)):
            return {"array"}
    return used


def _tracking_targets(task, scenarios: list[Scenario]) -> np.ndarray:
    """(S, O) targets of a tracking-family task at the end of new scenarios."""
    from ..tasks.tracking import TrackingTask

    t = np.linspace(0.0, float(task.t[-1]), 3)
    probe = TrackingTask(task.template, scenarios, t, task.target_spec, weights="uniform", prior=None)
    return probe.R[:, -1, :]


def _scenario_plan(task, s: VerifySettings):
    """The extra scenarios (off-grid, step) and how to judge them."""
    kind = task.kind
    plan = {"off_grid": None, "step": None}
    init = task.scenarios[0].init
    if kind in ("tracking", "dose_response"):
        grid = _grid(task)
        used = _target_inputs(task)
        if grid is None or used & {"t", "array"}:
            return plan
        vals = {u: list(s.inputs.get(u, off_grid_values(g) or g)) for u, g in grid.items()}
        if kind == "dose_response":
            other = {k: v for k, v in _const_inputs(task.scenarios[0]).items() if k != task.input}
            doses = list(s.inputs.get(task.input, off_grid_values(task.doses)))
            scen = [Scenario({task.input: d, **other}, init, label=f"{task.input}={d:g} (off grid)") for d in doses]
        else:
            names = list(vals)
            combos = list(itertools.product(*[vals[u] for u in names]))
            if len(combos) > 64:       # one input at a time, the others at their middle value
                combos = []
                for i, u in enumerate(names):
                    for v in vals[u]:
                        combos.append(tuple(v if j == i else _middle(grid[w]) for j, w in enumerate(names)))
            scen = [Scenario(dict(zip(names, c)), init,
                             label=", ".join(f"{u}={x:g}" for u, x in zip(names, c)) + " (off grid)") for c in combos]
        if scen:
            plan["off_grid"] = (scen, _tracking_targets(task, scen))
        dist = [u for u in grid if u not in used and len(grid[u]) >= 2] if kind == "tracking" else []
        if dist and s.step:
            steps = []
            t_switch = s.horizon * float(task.t[-1]) / 2
            for u in dist:
                lo, hi = grid[u][0], grid[u][-1]
                base = {w: _middle(g) for w, g in grid.items() if w != u}
                for a, b in ((lo, hi), (hi, lo)):
                    pc = PiecewiseConstant((0.0, t_switch), (a, b))
                    steps.append((Scenario({**base, u: pc}, init, label=f"{u}: {a:g} -> {b:g} at t={t_switch:g}"),
                                  Scenario({**base, u: a}, init), Scenario({**base, u: b}, init)))
            before = _tracking_targets(task, [x[1] for x in steps])
            after = _tracking_targets(task, [x[2] for x in steps])
            plan["step"] = ([x[0] for x in steps], before, after, t_switch)
    elif kind == "logic":
        levels = [0.75 * task.high, 1.5 * task.high]
        scen, targ = [], []
        for lev in levels:
            for row, tr in zip(task.bits, task.truth):
                scen.append(Scenario({u: (lev if b else task.low) for u, b in zip(task.truth_inputs, row)}, init,
                                     label=" ".join(f"{u}={int(b)}" for u, b in zip(task.truth_inputs, row))
                                     + f" (high={lev:g})"))
                targ.append(tr * task.output_high)
        plan["off_grid"] = (scen, np.asarray(targ, dtype=float))
    elif kind == "classification":
        scen, targ = [], []
        R = task.R[:, -1, :]
        for f in (0.9, 1.1):
            for i, sc in enumerate(task.scenarios):
                x0 = sc.init_vector(task.template.species) * f
                scen.append(Scenario(dict(sc.inputs), dict(zip(task.template.species, x0.tolist())),
                                     label=f"example {i}, init x{f:g}"))
                targ.append(R[i])
        plan["off_grid"] = (scen, np.asarray(targ))
    elif kind == "oscillator" and task.frequency_spec is not None:
        grid = _grid(task)
        if grid:
            vals = {u: list(s.inputs.get(u, off_grid_values(g) or g)) for u, g in grid.items()}
            names = list(vals)
            scen = [Scenario(dict(zip(names, c)), init, label=", ".join(f"{u}={x:g}" for u, x in zip(names, c)))
                    for c in itertools.product(*[vals[u] for u in names])]
            from ..tasks.base import scenario_env
            from ..tasks.expr import Expr

            e = task.frequency_spec if isinstance(task.frequency_spec, Expr) else Expr(task.frequency_spec, "frequency")
            env = scenario_env(scen, task.t, task.template.species)
            f = np.broadcast_to(e(env), (len(scen), task.t.size))[:, 0].astype(float)
            keep = f > 0
            if keep.any():
                plan["off_grid"] = ([sc for sc, k in zip(scen, keep) if k], f[keep])
    return plan


def _off_grid_tol(task, s: VerifySettings) -> float:
    if s.off_grid_tol > 0:
        return s.off_grid_tol
    if task.kind in ("logic", "classification"):
        return 0.0
    return float(task.good_threshold)


def _scale(task) -> float:
    R = getattr(task, "R", None)
    m = float(np.abs(R).max()) if R is not None and np.size(R) else 0.0
    return m if m > 0 else 1.0


def _rel_error(y: np.ndarray, r: np.ndarray, scale: float) -> np.ndarray:
    """(B, S) largest relative error over outputs, y (B, S, O), r (S, O)."""
    den = np.maximum(np.abs(r), scale)[None]
    return (np.abs(y - r[None]) / den).max(axis=-1)


# ---------------------------------------------------------------- verify
def verify_batch(task, networks: Sequence[Network], settings: VerifySettings | None = None,
                 losses=None, keep_traces: bool = False) -> list[Verification]:
    """Verify every network against ``task`` (one simulator call for all of them).

    ``losses``: the networks' known losses (non-finite: invalid), so they are not evaluated again.
    ``keep_traces``: keep the long-horizon trajectories (for plots) in each verdict's ``traces``.
    """
    s = settings if settings is not None else getattr(task, "verify_settings", None) or VerifySettings()
    networks = task.check_networks(networks)
    if not networks:
        return []
    if losses is None:
        res = task.evaluate(networks)
        losses = np.where(res.valid, res.loss, np.inf)
    losses = np.asarray(losses, dtype=float)
    B = len(networks)
    kind = task.kind
    t_f = float(task.t[-1])
    T = s.horizon * t_f
    if s.n_points:
        n = s.n_points
    elif kind == "oscillator":
        n = int(round(s.horizon * (task.t.size - 1))) + 1
    else:
        n = 2001
    t_long = np.linspace(0.0, T, n)
    plan = _scenario_plan(task, s) if s.off_grid or s.step else {"off_grid": None, "step": None}
    if not s.off_grid:
        plan["off_grid"] = None
    base = list(task.scenarios)
    off = plan["off_grid"][0] if plan["off_grid"] else []
    stp = plan["step"][0] if plan["step"] else []
    scen = base + off + stp
    opts = dict(task.sim_options)
    opts["cap"] = min(float(opts.get("cap", 1e4)), s.cap)
    opts["max_steps"] = max(int(opts.get("max_steps", 20000)), 100000)
    sim = simulate(networks, scen, t_long, **opts)
    y, status = sim.y, sim.status                             # (B, S, T, N), (B, S)
    S0, S1 = len(base), len(base) + len(off)
    oidx = [task.template.species.index(o) for o in task.outputs] if task.outputs else []
    checks: list[list[Check]] = [[] for _ in range(B)]

    # bounded: every trajectory of every scenario (off-grid and step included) below the cap
    peak = np.where(np.isfinite(y), y, np.inf).max(axis=(2, 3))          # (B, S)
    bounded_val = np.where(status != 0, np.inf, peak).max(axis=1)
    for b in range(B):
        checks[b].append(Check("bounded", float(bounded_val[b]), s.cap, bool(bounded_val[b] < s.cap),
                               f"largest concentration over t in [0, {T:g}]"))
    ok_b = status[:, :S0].max(axis=1) == 0

    steady = kind in ("logic", "dose_response", "classification") or (
        kind == "tracking" and not (_target_inputs(task) & {"t"})
        and all(_const_inputs(sc) is not None for sc in base))
    if steady:
        i_w = int(np.searchsorted(t_long, T * (1 - s.settle_window)))
        a, z = y[:, :S0, i_w, :], y[:, :S0, -1, :]
        with np.errstate(all="ignore"):
            ch = np.abs(z - a) / (np.abs(z) + (s.settle_atol or 0.05 * _scale(task)))
        val = np.where(ok_b, np.nan_to_num(ch, nan=np.inf, posinf=np.inf).max(axis=(1, 2)), np.inf)
        for b in range(B):
            checks[b].append(Check("settled", float(val[b]), s.settle_tol, bool(val[b] <= s.settle_tol),
                                   f"relative change of every species over the last {s.settle_window:.0%} "
                                   f"of the horizon"))
    if kind == "oscillator":
        from ..tasks.oscillator import oscillation_metrics

        w = t_f - task.t0
        dt = float(t_long[1] - t_long[0])
        i0 = int(np.searchsorted(t_long, task.t0 - 1e-9))
        i1 = int(np.searchsorted(t_long, t_f + 1e-9))
        j0 = int(np.searchsorted(t_long, T - w - 1e-9))
        out = task._out
        first = oscillation_metrics(y[:, :S0, i0:i1, out], dt, task.amplitude_floor, task.relative_floor)
        last = oscillation_metrics(y[:, :S0, j0:, out], dt, task.amplitude_floor, task.relative_floor)
        want = np.ones(S0, dtype=bool) if task.target_frequency is None else task.target_frequency > 0
        with np.errstate(all="ignore"):
            df = np.abs(last["frequency"] / first["frequency"] - 1)
            da = np.abs(last["amplitude"] / first["amplitude"] - 1)
        v = np.where(first["oscillating"] & last["oscillating"], np.maximum(df, da), np.inf)
        v = np.where(want[None], v, 0.0)
        val = np.where(ok_b, np.nan_to_num(v, nan=np.inf, posinf=np.inf).max(axis=1), np.inf)
        for b in range(B):
            checks[b].append(Check("persists", float(val[b]), s.oscillation_tol, bool(val[b] <= s.oscillation_tol),
                                   "frequency and amplitude of the last window vs the first (relative)"))

    tol = _off_grid_tol(task, s)
    if plan["off_grid"]:
        _, targ = plan["off_grid"]
        ok_o = status[:, S0:S1].max(axis=1) == 0
        if kind == "oscillator":
            from ..tasks.oscillator import oscillation_metrics

            # the second half of the long horizon: off-grid frequencies may be far below the
            # training ones, and the training window would hold too few of their cycles
            half = int(np.searchsorted(t_long, T / 2))
            dt = float(t_long[1] - t_long[0])
            met = oscillation_metrics(y[:, S0:S1, half:, task._out], dt, task.amplitude_floor, task.relative_floor)
            with np.errstate(all="ignore"):
                e = np.where(met["oscillating"], np.abs(met["frequency"] - targ[None]) / targ[None], np.inf)
            tol = s.oscillation_tol
        elif kind == "logic":
            fin = y[:, S0:S1, -1, :][..., oidx]
            e = ((fin > task.output_high / 2) != (targ[None] > task.output_high / 2)).any(axis=-1).astype(float)
        elif kind == "classification":
            fin = y[:, S0:S1, -1, :][..., oidx]
            e = (np.argmax(fin, axis=-1) != np.argmax(targ, axis=-1)[None]).astype(float)
        else:
            e = _rel_error(y[:, S0:S1, -1, :][..., oidx], targ, 0.1 * _scale(task))
        red = (lambda x: x.mean(axis=1)) if kind in ("logic", "classification") else (lambda x: x.max(axis=1))
        val = np.where(ok_o, red(np.nan_to_num(e, nan=np.inf, posinf=np.inf)), np.inf)
        worst = np.nan_to_num(e, nan=np.inf, posinf=np.inf).argmax(axis=1)
        for b in range(B):
            checks[b].append(Check("off_grid", float(val[b]), tol, bool(val[b] <= tol),
                                   f"{len(off)} scenarios; worst: {off[int(worst[b])].label}"))
    if plan["step"]:
        _, before, after, t_switch = plan["step"]
        ok_s = status[:, S1:].max(axis=1) == 0
        i_sw = int(np.searchsorted(t_long, t_switch)) - 1
        scale = 0.1 * _scale(task)
        e = np.maximum(_rel_error(y[:, S1:, i_sw, :][..., oidx], before, scale),
                       _rel_error(y[:, S1:, -1, :][..., oidx], after, scale))
        val = np.where(ok_s, np.nan_to_num(e, nan=np.inf, posinf=np.inf).max(axis=1), np.inf)
        for b in range(B):
            checks[b].append(Check("step", float(val[b]), tol, bool(val[b] <= tol),
                                   f"{len(stp)} disturbance steps at t={t_switch:g}; error before the step and at "
                                   f"the end"))
    out = []
    for b in range(B):
        v = Verification(float(losses[b]), bool(np.isfinite(losses[b])), bool(losses[b] < task.good_threshold),
                         checks[b])
        if keep_traces:
            v.traces = {"t": t_long, "y": y[b], "species": sim.species, "labels": [task.scenario_label(i) if i < S0 else (sc.label or f"scenario {i}")
                                                                                 for i, sc in enumerate(scen)],
                        "groups": {"long horizon": (0, S0), "off grid": (S0, S1), "step": (S1, len(scen))},
                        "outputs": list(task.outputs)}
        out.append(v)
    return out


def verify(task, network: Network, settings: VerifySettings | None = None, keep_traces: bool = False) -> Verification:
    """Verify one design (see the module docstring)."""
    return verify_batch(task, [task.adopt(network)], settings, keep_traces=keep_traces)[0]
