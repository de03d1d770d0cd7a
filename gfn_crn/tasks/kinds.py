"""The registry of task kinds: each kind declares its own task-file settings and builder.

A kind module (``tracking.py``, ``oscillator.py``, ...) registers every kind it defines::

    @register("tracking", keys={"target"}, grid=True, loss=True, aliases=("rpa",))
    def _tracking(c: KindInput) -> TrackingTask:
        return TrackingTask(c.template, c.grid_scenarios(), c.t, c.task.get("target", "u1"),
                            **c.loss_kw, **c.common)

:func:`gfn_crn.tasks.config.task_from_dict` reads what every task file shares (``kind``,
``[template]``, ``[scenarios]``, ``[time]``, ``[reward]``, ``[sim]``; see
:mod:`gfn_crn.tasks.config`), checks the ``[task]`` table against the kind's ``keys`` and calls
its builder with a :class:`KindInput`. The Task subclass holds the rest of the kind's behaviour:
its loss, its plot (``figure``) and its verification plan (``verification_plan``,
:mod:`gfn_crn.tasks.verification`). Adding a kind is one module (the Task subclass and its
builder); a built-in one is also imported in :mod:`gfn_crn.tasks.config`, which loads the
built-in kind modules.

This module depends on :mod:`gfn_crn.crn` and :mod:`gfn_crn.sim` only, so kind modules can
import it without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np

from ..crn.errors import CRNError
from ..crn.settings import Spec, check_value
from ..sim import PiecewiseConstant, scenario_grid, scenario_zip

#: the [task] keys of the tracking-style losses (``loss=True`` kinds)
LOSS_KEYS = frozenset({"weights", "norm", "relative", "settle_weight"})


class Section:
    """A TOML table whose keys are checked; errors name the file and the section."""

    def __init__(self, d: Any, where: str, allowed, source: str):
        if d is None:
            d = {}
        if not isinstance(d, Mapping):
            raise CRNError(f"{source}: [{where}] must be a table, got {type(d).__name__}")
        unknown = set(d) - set(allowed)
        if unknown:
            raise CRNError(f"{source}: unknown key(s) {sorted(unknown)} in [{where}] (allowed: {', '.join(sorted(allowed))})")
        self.d, self.where, self.source = dict(d), where, source

    def get(self, key, default=None):
        return self.d.get(key, default)

    def __contains__(self, key):
        return key in self.d

    def number(self, key, default=None, positive=False, integer=False):
        """``key`` as a finite float (or int), read by the settings' one typed validator."""
        if key not in self.d:
            return default
        return check_value(self.d[key], f"{self.source}: [{self.where}] {key}",
                           Spec("int" if integer else "float", gt=0 if positive else None))

    def numbers(self, key, default=None):
        if key not in self.d:
            return default
        v = self.d[key]
        if not isinstance(v, list) or not v or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
            raise CRNError(f"{self.source}: [{self.where}] {key} must be a non-empty list of numbers, got {v!r}")
        return [float(x) for x in v]

    def err(self, msg: str) -> CRNError:
        return CRNError(f"{self.source}: [{self.where}] {msg}")


def input_value(v, where: str, source: str):
    """A number, ``{times, values}`` or ``{pulses = {...}}`` as an input value."""
    if isinstance(v, bool):
        raise CRNError(f"{source}: {where}: {v!r} is not an input value")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, Mapping):
        if set(v) == {"times", "values"}:
            return PiecewiseConstant(tuple(v["times"]), tuple(v["values"]))
        if set(v) == {"pulses"} and isinstance(v["pulses"], Mapping):
            p = dict(v["pulses"])
            bad = set(p) - {"t_on", "t_off", "high", "low"}
            if bad or not {"t_on", "t_off"} <= set(p):
                raise CRNError(f"{source}: {where}: pulses need t_on, t_off (and optional high, low), got {sorted(p)}")
            return PiecewiseConstant.pulses(p["t_on"], p["t_off"], p.get("high", 1.0), p.get("low", 0.0))
    raise CRNError(f"{source}: {where}: {v!r} is not a number, {{times, values}} or {{pulses = {{...}}}}")


def read_init(sec: Section):
    """``init`` of a section: a number, or a table species = value."""
    v = sec.get("init", 0.01)
    if isinstance(v, Mapping):
        for s, x in v.items():
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise sec.err(f"init of {s} must be a number, got {x!r}")
        return {s: float(x) for s, x in v.items()}
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise sec.err(f"init must be a number or a table species = value, got {v!r}")
    return float(v)


def const_inputs(v, where: str, source: str) -> dict:
    """A table ``u1 = value`` of input values ({} for None)."""
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise CRNError(f"{source}: {where} must be a table u1 = value, got {v!r}")
    return {k: input_value(x, f"{where}.{k}", source) for k, x in v.items()}


@dataclass
class KindInput:
    """What a kind's builder gets: the parts every task file shares, already read and checked.

    ``template``; ``scenarios`` (the ``[scenarios]`` section; ``inputs``/``zip`` only for ``grid``
    kinds); ``t`` (the time grid, None when the file gives none and the kind has no default
    grid); ``init`` (``[scenarios] init``); ``task`` (the ``[task]`` section, keys checked);
    ``common`` (the Task keyword arguments of ``[reward]``, ``[sim]``, name and description);
    ``loss_kw`` (weights, norm, relative and settle_weight for ``loss`` kinds); ``cfg`` (the whole document, for
    kinds with their own top-level tables); ``source``, ``base_dir``."""

    kind: str
    template: Any
    scenarios: Section
    t: Optional[np.ndarray]
    init: Any
    task: Section
    common: dict
    loss_kw: dict
    cfg: Mapping
    source: str
    base_dir: Path

    def grid_scenarios(self):
        """The scenarios of ``[scenarios] inputs`` (a grid, or a zip with ``zip = true``)."""
        scen = self.scenarios
        inputs = scen.get("inputs", {})
        if not isinstance(inputs, Mapping):
            raise scen.err(f"inputs must be a table u1 = [values], got {inputs!r}")
        grid = {}
        for u, vals in inputs.items():
            vals = vals if isinstance(vals, list) else [vals]
            if not vals:
                raise scen.err(f"inputs.{u} is empty")
            grid[u] = [input_value(v, f"[scenarios] inputs.{u}", self.source) for v in vals]
        if scen.get("zip", False):
            n = len(next(iter(grid.values()))) if grid else 1
            return scenario_zip(grid, [self.init] * n)
        return scenario_grid(grid, self.init)

    def const_inputs(self, key: str) -> dict:
        """``[task] key`` as a table of constant (or piecewise) input values."""
        return const_inputs(self.task.get(key), f"[task] {key}", self.source)


@dataclass(frozen=True)
class TaskKind:
    """A registered task kind: its name, its ``[task]`` keys, its builder and how the shared
    tables apply to it (``grid``: ``[scenarios]`` takes ``inputs``/``zip``; ``default_time``:
    without ``[time]`` the grid is 0..100 with 1000 points, else the kind chooses (``t`` None);
    ``loss``: the tracking-style loss keys ``weights``, ``norm``, ``relative``, ``settle_weight``; ``sections``:
    top-level tables the builder reads itself from ``cfg``; ``sim``: whether ``[sim]`` applies)."""

    name: str
    keys: frozenset
    build: Callable[[KindInput], Any]
    grid: bool = False
    default_time: bool = True
    loss: bool = False
    sections: frozenset = frozenset()
    sim: bool = True
    aliases: tuple = ()

    @property
    def task_keys(self) -> frozenset:
        return self.keys | (LOSS_KEYS if self.loss else frozenset())


#: every registered kind by name, in registration order
REGISTRY: dict[str, TaskKind] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, *, keys=(), grid: bool = False, default_time: bool = True, loss: bool = False,
             sections=(), sim: bool = True, aliases=()):
    """Decorator: register ``build(KindInput) -> Task`` as the task-file builder of kind ``name``."""

    def deco(build):
        if name in REGISTRY or name in _ALIASES:
            raise ValueError(f"task kind {name!r} registered twice")
        REGISTRY[name] = TaskKind(name, frozenset(keys), build, grid, default_time, loss, frozenset(sections), sim,
                                  tuple(aliases))
        for a in aliases:
            _ALIASES[a] = name
        return build

    return deco


def lookup(name) -> Optional[TaskKind]:
    """The kind called ``name`` (or one of its aliases), None if there is none."""
    if not isinstance(name, str):
        return None
    return REGISTRY.get(_ALIASES.get(name, name))


def kind_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


__all__ = ["Section", "KindInput", "TaskKind", "register", "lookup", "kind_names", "REGISTRY", "LOSS_KEYS",
           "input_value", "read_init", "const_inputs"]
