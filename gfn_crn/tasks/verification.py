"""Verification plans: what a task kind checks beyond its training loss, declared by the kind.

Every task has ``verification_plan(settings) -> VerificationPlan`` (base: no checks of its own;
kinds override it in their module). :func:`gfn_crn.verify.verify_batch` runs a plan: it simulates
the task's scenarios and every check's extra scenarios on the long horizon (``horizon`` x t_f) in
one simulator call, adds the ``bounded`` check every kind gets, and asks each :class:`CheckSpec`
to judge its trajectories. The runner names no kind; what is checked, which off-grid scenarios
are made and how a result is judged is the kind's (see docs/verification.md for each built-in
kind's plan).

The types live here, below :mod:`gfn_crn.verify`, so task kinds can declare plans without
importing the runner (the layers: crn < sim < rewards < tasks < verify).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.settings import read_table, setting
from ..sim import PiecewiseConstant, Scenario


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
class Trajectories:
    """What a check's judge sees: the long-horizon trajectories of the check's scenarios.

    ``t`` (T,) the long grid (``t[-1]`` = horizon x t_f); ``y`` (B, S, T, N) every species of the
    check's scenarios (its own, or the task's when it adds none); ``species``; ``settings``."""

    t: np.ndarray
    y: np.ndarray
    species: Sequence[str]
    settings: "VerifySettings"


@dataclass
class CheckSpec:
    """One check of a plan.

    ``judge(trajectories) -> values`` (B,) (non-finite: failed), or ``(values, details)`` with one
    detail line per design. A design passes when its value is ``<= tolerance``; a design any of
    whose check scenarios the simulator stopped (diverged, failed) gets ``inf``.
    ``scenarios``: extra scenarios the check simulates (empty: it judges the task's own).
    ``group``: the label of those scenarios in verification plots. ``setting``: the name of a
    boolean :class:`VerifySettings` field that turns the check off (e.g. ``off_grid``)."""

    name: str
    judge: Callable[[Trajectories], object]
    tolerance: float
    detail: str = ""
    scenarios: Sequence[Scenario] = ()
    group: str = ""
    setting: Optional[str] = None


@dataclass
class VerificationPlan:
    """A kind's checks, in report order (after ``bounded``), and the number of points on the long
    horizon when the settings give none (None: 2001)."""

    checks: list = field(default_factory=list)
    n_points: Optional[int] = None


# ---------------------------------------------------------------- helpers kinds share
def nan_to_inf(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=np.inf, posinf=np.inf)


def constant_inputs(sc: Scenario) -> dict | None:
    """A scenario's inputs as numbers (None: some input is piecewise constant)."""
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


def middle(values: Sequence[float]) -> float:
    """The middle of the distinct values (the upper one of an even count)."""
    v = sorted({float(x) for x in values})
    return v[len(v) // 2]


def input_grid(task) -> dict[str, list[float]] | None:
    """Training values per input (None: some input is not constant)."""
    rows = [constant_inputs(sc) for sc in task.scenarios]
    if any(r is None for r in rows):
        return None
    names = sorted({k for r in rows for k in r})
    return {u: sorted({r[u] for r in rows if u in r}) for u in names}


def target_scale(task) -> float:
    """The largest training target (1 where the task has none)."""
    R = getattr(task, "R", None)
    m = float(np.abs(R).max()) if R is not None and np.size(R) else 0.0
    return m if m > 0 else 1.0


def rel_error(y: np.ndarray, r: np.ndarray, scale: float) -> np.ndarray:
    """(B, S) largest relative error over outputs, y (B, S, O), r (S, O)."""
    den = np.maximum(np.abs(r), scale)[None]
    return (np.abs(y - r[None]) / den).max(axis=-1)


def off_grid_tolerance(task, s: VerifySettings, default: float | None = None) -> float:
    """``off_grid_tol`` if set, else ``default`` (None: the task's good threshold)."""
    if s.off_grid_tol > 0:
        return s.off_grid_tol
    return float(task.good_threshold) if default is None else float(default)


def settled_check(task, s: VerifySettings) -> CheckSpec:
    """``settled``: every species has stopped moving at the end of the long horizon, on the task's
    scenarios (``|x(T) - x(T - w)| / (|x(T)| + settle_atol) <= settle_tol`` over the final
    ``settle_window`` w; ``settle_atol`` 0: 5% of the largest training target)."""

    def judge(tr: Trajectories):
        T = s.horizon * float(task.t[-1])
        i_w = int(np.searchsorted(tr.t, T * (1 - s.settle_window)))
        a, z = tr.y[:, :, i_w, :], tr.y[:, :, -1, :]
        with np.errstate(all="ignore"):
            ch = np.abs(z - a) / (np.abs(z) + (s.settle_atol or 0.05 * target_scale(task)))
        return nan_to_inf(ch).max(axis=(1, 2))

    return CheckSpec("settled", judge, s.settle_tol,
                     f"relative change of every species over the last {s.settle_window:.0%} of the horizon")


def scenario_check(scenarios: Sequence[Scenario], errors: Callable[[Trajectories], np.ndarray], tolerance: float,
                   reduce: str = "max", name: str = "off_grid", group: str = "off grid",
                   setting: str | None = "off_grid") -> CheckSpec:
    """A check on new ``scenarios``: ``errors`` maps their trajectories to per-scenario errors
    (B, S), reduced over scenarios by ``max`` or ``mean``; the detail names the worst scenario."""
    scenarios = list(scenarios)

    def judge(tr: Trajectories):
        e = nan_to_inf(errors(tr))
        val = e.mean(axis=1) if reduce == "mean" else e.max(axis=1)
        return val, [f"{len(scenarios)} scenarios; worst: {scenarios[int(w)].label}" for w in e.argmax(axis=1)]

    return CheckSpec(name, judge, tolerance, scenarios=scenarios, group=group, setting=setting)


def final_output_check(task, scenarios: Sequence[Scenario], error: Callable[[np.ndarray], np.ndarray],
                       tolerance: float, reduce: str = "max") -> CheckSpec:
    """``off_grid`` judged on the outputs at the end of the long horizon: ``error`` maps the final
    outputs (B, S, O) of ``scenarios`` to per-scenario errors (B, S)."""
    oidx = [task.template.species.index(o) for o in task.outputs]
    return scenario_check(scenarios, lambda tr: error(tr.y[:, :, -1, :][..., oidx]), tolerance, reduce)
