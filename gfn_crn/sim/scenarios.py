"""Scenarios (input values and initial concentrations) and time grids (DESIGN.md section 4)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.species import check_input_name, input_sort_key

#: Default initial concentration of every species (the peer's setting).
DEFAULT_INIT = 0.01


@dataclass(frozen=True)
class PiecewiseConstant:
    """An input that is ``values[i]`` on ``[times[i], times[i+1])``; ``times[0]`` must be 0.

    The last value holds until the end of the simulation.
    """

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self):
        times = tuple(float(t) for t in self.times)
        values = tuple(float(v) for v in self.values)
        if len(times) != len(values) or not times:
            raise CRNError(f"piecewise input needs as many times as values, got {len(times)} and {len(values)}")
        if times[0] != 0.0:
            raise CRNError(f"piecewise input must start at time 0, got {times[0]}")
        if any(b <= a for a, b in zip(times, times[1:])):
            raise CRNError(f"piecewise input times must increase strictly: {list(times)}")
        for v in values:
            if not math.isfinite(v) or v < 0:
                raise CRNError(f"input values must be finite and >= 0, got {v}")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    def __call__(self, t: float) -> float:
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return self.values[max(i, 0)]

    @classmethod
    def pulses(cls, t_on: Sequence[float], t_off: Sequence[float], high: float = 1.0, low: float = 0.0) -> "PiecewiseConstant":
        """A pulse train: ``high`` on each ``[t_on[i], t_off[i])``, ``low`` elsewhere."""
        times, values = [0.0], [low]
        for a, b in zip(t_on, t_off):
            if b <= a or a < times[-1]:
                raise CRNError(f"pulse ({a}, {b}) overlaps or is out of order")
            if a == times[-1]:
                values[-1] = high
            else:
                times.append(a)
                values.append(high)
            times.append(b)
            values.append(low)
        return cls(tuple(times), tuple(values))


InputValue = float | PiecewiseConstant


@dataclass(frozen=True)
class Scenario:
    """Input values (constant or piecewise constant) and initial concentrations.

    ``init`` is a number (every species), or a mapping species -> value with ``default`` used for
    species not named.
    """

    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    init: float | Mapping[str, float] = DEFAULT_INIT
    label: str | None = None

    def __post_init__(self):
        inputs = {}
        for name, v in dict(self.inputs).items():
            check_input_name(name)
            if not isinstance(v, PiecewiseConstant):
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    raise CRNError(f"input {name}: {v!r} is not a number or PiecewiseConstant") from None
                if not math.isfinite(v) or v < 0:
                    raise CRNError(f"input {name} must be finite and >= 0, got {v}")
            inputs[name] = v
        object.__setattr__(self, "inputs", dict(sorted(inputs.items(), key=lambda kv: input_sort_key(kv[0]))))
        init = self.init
        if isinstance(init, Mapping):
            init = dict(init)
            for s, v in init.items():
                v = float(v)
                if not math.isfinite(v) or v < 0:
                    raise CRNError(f"initial concentration of {s} must be finite and >= 0, got {v}")
                init[s] = v
        else:
            init = float(init)
            if not math.isfinite(init) or init < 0:
                raise CRNError(f"initial concentration must be finite and >= 0, got {init}")
        object.__setattr__(self, "init", init)

    def init_vector(self, species: Sequence[str], default: float = DEFAULT_INIT) -> np.ndarray:
        if isinstance(self.init, dict):
            unknown = set(self.init) - set(species)
            if unknown:
                raise CRNError(f"initial concentration given for unknown species {sorted(unknown)} "
                               f"(species: {' '.join(species)})")
            return np.array([self.init.get(s, default) for s in species], dtype=float)
        return np.full(len(species), self.init, dtype=float)

    def value(self, name: str, t: float = 0.0) -> float:
        v = self.inputs[name]
        return v(t) if isinstance(v, PiecewiseConstant) else v

    def breakpoints(self) -> list[float]:
        out = set()
        for v in self.inputs.values():
            if isinstance(v, PiecewiseConstant):
                out |= set(v.times[1:])
        return sorted(out)

    def describe(self) -> str:
        if self.label:
            return self.label
        parts = []
        for k, v in self.inputs.items():
            parts.append(f"{k}={v:g}" if not isinstance(v, PiecewiseConstant) else f"{k}=pulses")
        return ", ".join(parts) or "no inputs"


def scenario_grid(inputs: Mapping[str, Sequence[InputValue]], init: float | Mapping[str, float] = DEFAULT_INIT) -> list[Scenario]:
    """The cartesian product of input values (last input varies fastest)."""
    names = list(inputs)
    return [Scenario(dict(zip(names, combo)), init) for combo in itertools.product(*(inputs[n] for n in names))]


def scenario_zip(inputs: Mapping[str, Sequence[InputValue]], inits: Sequence[float | Mapping[str, float]] | None = None) -> list[Scenario]:
    """Scenarios taken row by row (for data sets): all sequences must have the same length."""
    names = list(inputs)
    lengths = {len(inputs[n]) for n in names} | ({len(inits)} if inits is not None else set())
    if len(lengths) > 1:
        raise CRNError(f"scenario_zip needs sequences of equal length, got {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    return [
        Scenario({k: inputs[k][i] for k in names}, inits[i] if inits is not None else DEFAULT_INIT)
        for i in range(n)
    ]


def time_grid(t_f: float = 100.0, n_t: int = 1000, t0: float = 0.0) -> np.ndarray:
    """``n_t`` equally spaced points on ``[t0, t_f]`` (the peer's default: 0..100, 1000 points)."""
    if isinstance(t_f, bool) or not isinstance(t_f, (int, float, np.integer, np.floating)):
        raise CRNError(f"t_f must be a number, got {t_f!r}")
    if not (math.isfinite(t_f) and t_f > t0):
        raise CRNError(f"t_f must be finite and > t0={t0}, got {t_f}")
    try:
        whole = int(n_t) == n_t
    except (TypeError, ValueError, OverflowError):  # inf, NaN, a string from a task file
        whole = False
    if not whole or n_t < 2:
        raise CRNError(f"n_t must be an integer >= 2, got {n_t!r}")
    from ..crn.limits import check_points

    check_points(n_t, "time grid")
    return np.linspace(t0, t_f, int(n_t))


def check_time_grid(t) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size < 2:
        raise CRNError(f"time grid must be 1-D with >= 2 points, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise CRNError("time grid contains non-finite values")
    if np.any(np.diff(t) <= 0):
        raise CRNError("time grid must increase strictly")
    if t[0] != 0.0:
        raise CRNError(f"time grid must start at 0 (initial conditions are given at t=0), got {t[0]}")
    return t
