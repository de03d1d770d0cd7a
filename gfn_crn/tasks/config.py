"""Task files (TOML) and presets: ``load_task(name_or_path)``.

A task file::

    kind = "tracking"           # tracking | logic | dose_response | oscillator | habituation
                                # | classification | data_fit | trace
    name = "rpa"                # optional (default: the file's stem)
    description = "..."         # optional, one line

    [template]                  # exactly one of text / file / example
    text = '''
    species: X1 Z1 Z2
    outputs: X1
    fixed: 0 -> Z1 ; k=1 * u1
    fixed: X1 -> 0 ; k=1 * u2
    '''
    # file = "my_template.txt"  # a network file; its species, outputs and fixed: lines
    # example = "antithetic"    # a built-in example's template
    # outputs = ["X1"]          # optional override of the outputs

    [scenarios]                 # tracking / oscillator: a grid (or zip = true) of input values
    inputs = { u1 = [0.5, 1.0, 1.5], u2 = [0.5, 1.0, 1.5] }
    init = 0.01                 # a number or { X1 = 0.1, Z1 = 0 } (others: 0.01); all kinds

    [time]                      # t_f and n_t (or points = [...]); defaults 100 and 1000
    t_f = 100
    n_t = 1000

    [task]                      # the kind's own settings (see each kind's keys below)
    target = "u1"
    weights = "transient"

    [reward]                    # all optional: beta, loss_cap, floor, good_threshold, and
    beta = 10                   # prior = { mean = 0, std = 2, low = -6.9, high = 6.9 } or false;
                                # reward_alpha, reward_eps: power term (gfn_crn.tasks.base)

    [sim]                       # optional: engine, rtol, atol, cap, max_steps, device
    rtol = 1e-6

    [verify]                    # optional: checks beyond the loss (gfn_crn.verify.VerifySettings)
    horizon = 10                # long horizon in units of t_f; cap, settle_tol, off_grid_tol, ...

Input values in ``[scenarios].inputs`` may be numbers or piecewise-constant inputs written as
``{ times = [0, 50], values = [1, 2] }`` or ``{ pulses = { t_on = [10], t_off = [20], high = 1 } }``.
Relative paths (template files, CSV data) are relative to the task file. Unknown keys are
errors that name the key and the allowed ones.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Template
from ..sim import PiecewiseConstant, scenario_grid, scenario_zip, time_grid
from .base import Task
from .datafit import DataFitTask, Experiment, TraceTask, read_csv
from .habituation import HabituationTask
from .oscillator import OscillatorTask
from .prior import LogParameterPrior
from .tracking import ClassificationTask, DoseResponseTask, LogicTask, TrackingTask

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KINDS = ("tracking", "logic", "dose_response", "oscillator", "habituation", "classification", "data_fit", "trace")
_ALIASES = {"rpa": "tracking", "dose-response": "dose_response", "classifier": "classification",
            "data-fit": "data_fit", "datafit": "data_fit"}

TOP_KEYS = {"kind", "name", "description", "template", "scenarios", "time", "task", "reward", "sim"}
TASK_KEYS = {
    "tracking": {"target", "weights", "norm", "relative", "settle_weight"},
    "logic": {"expression", "inputs", "low", "high", "output_high", "weights", "norm", "relative", "balanced",
              "settle_weight"},
    "dose_response": {"input", "doses", "range", "target", "hill", "other_inputs", "weights", "norm", "relative",
                      "settle_weight"},
    "oscillator": {"frequency", "mean", "output", "t0", "weights", "amplitude_floor", "relative_floor",
                   "no_oscillation_loss"},
    "habituation": {"input", "n_pulses", "start", "width", "gap", "high", "low", "other_inputs", "rest", "recovery",
                    "peak_floor", "peak_ceiling", "w_floor", "w_ceiling", "w_recovery", "output"},
    "classification": {"examples", "inputs", "high", "low", "weights", "norm", "relative", "settle_weight"},
    "data_fit": {"experiments", "norm", "normalise"},
    "trace": {"times", "values", "species", "inputs", "n_t"},
}
GRID_KINDS = {"tracking", "oscillator"}


class _Section:
    """A TOML table whose keys are checked; errors name the file and the section."""

    def __init__(self, d: Any, where: str, allowed: set[str], source: str):
        if d is None:
            d = {}
        if not isinstance(d, Mapping):
            raise CRNError(f"{source}: [{where}] must be a table, got {type(d).__name__}")
        unknown = set(d) - allowed
        if unknown:
            raise CRNError(f"{source}: unknown key(s) {sorted(unknown)} in [{where}] (allowed: {', '.join(sorted(allowed))})")
        self.d, self.where, self.source = dict(d), where, source

    def get(self, key, default=None):
        return self.d.get(key, default)

    def __contains__(self, key):
        return key in self.d

    def number(self, key, default=None, positive=False, integer=False):
        if key not in self.d:
            return default
        v = self.d[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise CRNError(f"{self.source}: [{self.where}] {key} must be a finite number, got {v!r}")
        if positive and v <= 0:
            raise CRNError(f"{self.source}: [{self.where}] {key} must be > 0, got {v!r}")
        if integer:
            if int(v) != v:
                raise CRNError(f"{self.source}: [{self.where}] {key} must be an integer, got {v!r}")
            return int(v)
        return float(v)

    def numbers(self, key, default=None):
        if key not in self.d:
            return default
        v = self.d[key]
        if not isinstance(v, list) or not v or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
            raise CRNError(f"{self.source}: [{self.where}] {key} must be a non-empty list of numbers, got {v!r}")
        return [float(x) for x in v]

    def err(self, msg: str) -> CRNError:
        return CRNError(f"{self.source}: [{self.where}] {msg}")


def _template(sec: _Section, base_dir: Path) -> Template:
    from ..crn import antithetic_example, load_network, parse_network

    srcs = [k for k in ("text", "file", "example") if k in sec]
    if len(srcs) != 1:
        raise sec.err(f"needs exactly one of text, file, example (got {srcs or 'none'})")
    try:
        if "text" in sec:
            net = parse_network(str(sec.get("text")))
        elif "file" in sec:
            p = Path(sec.get("file"))
            p = p if p.is_absolute() else base_dir / p
            if not p.exists():
                raise CRNError(f"template file {str(p)!r} does not exist")
            net = load_network(p)
        else:
            examples = {"antithetic": antithetic_example}
            ex = sec.get("example")
            if ex not in examples:
                raise CRNError(f"unknown example {ex!r} (known: {', '.join(examples)})")
            net = examples[ex]()
    except CRNError as e:
        raise sec.err(f"template: {e}") from None
    t = net.template
    if "outputs" in sec:
        outs = sec.get("outputs")
        if not isinstance(outs, list) or not all(isinstance(o, str) for o in outs):
            raise sec.err(f"outputs must be a list of species names, got {outs!r}")
        try:
            t = Template(t.species, tuple(outs), t.fixed, t.declared_inputs)
        except CRNError as e:
            raise sec.err(str(e)) from None
    return t


def _input_value(v, where: str, source: str):
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


def _init(sec: _Section):
    v = sec.get("init", 0.01)
    if isinstance(v, Mapping):
        for s, x in v.items():
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise sec.err(f"init of {s} must be a number, got {x!r}")
        return {s: float(x) for s, x in v.items()}
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise sec.err(f"init must be a number or a table species = value, got {v!r}")
    return float(v)


def _const_inputs(v, where: str, source: str) -> dict:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise CRNError(f"{source}: {where} must be a table u1 = value, got {v!r}")
    return {k: _input_value(x, f"{where}.{k}", source) for k, x in v.items()}


def task_from_dict(cfg: Mapping, base_dir: str | Path = ".", source: str = "<task>") -> Task:
    """Build a task from a parsed TOML document (see the module docstring); its ``[verify]``
    table becomes ``task.verify_settings`` (:class:`gfn_crn.verify.VerifySettings`)."""
    from ..verify.checks import VerifySettings

    if isinstance(cfg, Mapping) and "verify" in cfg:
        cfg = dict(cfg)
        settings = VerifySettings.from_dict(cfg.pop("verify"), f"{source}: [verify]")
    else:
        settings = VerifySettings()
    task = _build_task(cfg, base_dir, source)
    task.verify_settings = settings
    return task


def _build_task(cfg: Mapping, base_dir: str | Path = ".", source: str = "<task>") -> Task:
    base_dir = Path(base_dir)
    if not isinstance(cfg, Mapping):
        raise CRNError(f"{source}: a task file is a TOML table")
    if cfg.get("kind") in ("ssa_tracking", "ssa_robust"):  # noise-aware tasks (tasks/stochastic.py)
        from .stochastic import task_from_dict as _ssa_task_from_dict

        return _ssa_task_from_dict(cfg, base_dir, source)
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise CRNError(f"{source}: unknown top-level key(s) {sorted(unknown)} (allowed: {', '.join(sorted(TOP_KEYS))})")
    if "kind" not in cfg:
        raise CRNError(f"{source}: missing 'kind' (one of {', '.join(KINDS)})")
    kind = _ALIASES.get(cfg["kind"], cfg["kind"])
    if kind not in KINDS:
        raise CRNError(f"{source}: unknown kind {cfg['kind']!r} (known: {', '.join(KINDS)})")
    if "template" not in cfg:
        raise CRNError(f"{source}: missing [template] (text, file or example)")
    try:
        template = _template(_Section(cfg["template"], "template", {"text", "file", "example", "outputs"}, source),
                             base_dir)
        scen = _Section(cfg.get("scenarios"), "scenarios", {"inputs", "init", "zip"} if kind in GRID_KINDS else {"init"},
                        source)
        tsec = _Section(cfg.get("time"), "time", {"t_f", "n_t", "points"}, source)
        task = _Section(cfg.get("task"), "task", TASK_KEYS[kind], source)
        rsec = _Section(cfg.get("reward"), "reward", {"beta", "loss_cap", "floor", "good_threshold", "prior",
                                                      "reward_alpha", "reward_eps"}, source)
        ssec = _Section(cfg.get("sim"), "sim", {"engine", "rtol", "atol", "cap", "max_steps", "device"}, source)

        # time grid (None: the kind's default where it has one)
        if "points" in tsec:
            if "t_f" in tsec or "n_t" in tsec:
                raise tsec.err("give either points or t_f/n_t")
            t = np.asarray(tsec.numbers("points"))
        elif "t_f" in tsec or "n_t" in tsec or kind not in ("habituation", "data_fit", "trace"):
            t = time_grid(tsec.number("t_f", 100.0, positive=True), tsec.number("n_t", 1000, integer=True))
        else:
            t = None
        init = _init(scen)

        # reward
        prior: LogParameterPrior | None = LogParameterPrior()
        if "prior" in rsec:
            p = rsec.get("prior")
            if p is False:
                prior = None
            elif isinstance(p, Mapping):
                bad = set(p) - {"mean", "std", "low", "high"}
                if bad:
                    raise rsec.err(f"unknown prior key(s) {sorted(bad)} (allowed: mean, std, low, high)")
                prior = LogParameterPrior(**{k: float(v) for k, v in p.items()})
            else:
                raise rsec.err(f"prior must be a table {{mean, std, low, high}} or false, got {p!r}")
        common = dict(name=cfg.get("name") or source, description=str(cfg.get("description", "")),
                      beta=rsec.number("beta", positive=True), loss_cap=rsec.number("loss_cap"),
                      floor=rsec.number("floor"), good_threshold=rsec.number("good_threshold"), prior=prior,
                      **{k: rsec.number(k) for k in ("reward_alpha", "reward_eps") if k in rsec},
                      sim_options={k: v for k, v in ssec.d.items()})
        loss_kw = {}
        if kind in ("tracking", "logic", "dose_response", "classification"):
            loss_kw = dict(weights=task.get("weights"), norm=task.number("norm", 1, integer=True),
                           relative=bool(task.get("relative", False)))
            if "settle_weight" in task:
                loss_kw["settle_weight"] = task.number("settle_weight")

        if kind in GRID_KINDS:
            inputs = scen.get("inputs", {})
            if not isinstance(inputs, Mapping):
                raise scen.err(f"inputs must be a table u1 = [values], got {inputs!r}")
            grid = {}
            for u, vals in inputs.items():
                vals = vals if isinstance(vals, list) else [vals]
                if not vals:
                    raise scen.err(f"inputs.{u} is empty")
                grid[u] = [_input_value(v, f"[scenarios] inputs.{u}", source) for v in vals]
            if scen.get("zip", False):
                n = len(next(iter(grid.values()))) if grid else 1
                scenarios = scenario_zip(grid, [init] * n)
            else:
                scenarios = scenario_grid(grid, init)
            if kind == "tracking":
                target = task.get("target", "u1")
                return TrackingTask(template, scenarios, t, target, **loss_kw, **common)
            return OscillatorTask(
                template, scenarios, t, frequency=task.get("frequency", 0.1), mean=task.get("mean"),
                output=task.get("output"), t0=task.number("t0"), weights=task.get("weights"),
                amplitude_floor=task.number("amplitude_floor", 1e-3),
                relative_floor=task.number("relative_floor", 0.01),
                no_oscillation_loss=task.number("no_oscillation_loss"), **common)
        if kind == "logic":
            if "expression" not in task:
                raise task.err("missing expression (e.g. '(u1 & u2) | u3')")
            return LogicTask(template, task.get("expression"), t, inputs=task.get("inputs"),
                             low=task.number("low", 0.0), high=task.number("high", 1.0),
                             output_high=task.number("output_high", 1.0), init=init,
                             balanced=bool(task.get("balanced", True)), **loss_kw, **common)
        if kind == "dose_response":
            if ("doses" in task) == ("range" in task):
                raise task.err("give exactly one of doses = [...] or range = {low, high, n, log}")
            if "doses" in task:
                doses = task.numbers("doses")
            else:
                r = _Section(task.get("range"), "task.range", {"low", "high", "n", "log"}, source)
                lo, hi = r.number("low", positive=True), r.number("high", positive=True)
                n = r.number("n", 9, integer=True)
                if lo is None or hi is None or not hi > lo or n < 2:
                    raise r.err("needs low > 0, high > low and n >= 2")
                doses = list(np.geomspace(lo, hi, n) if r.get("log", False) else np.linspace(lo, hi, n))
            if "target" in task and "hill" in task:
                raise task.err("give either target or hill, not both")
            inp = task.get("input", "u1")
            target = task.get("hill") if "hill" in task else task.get("target", inp)
            return DoseResponseTask(template, doses, t, input=inp, target=target,
                                    other_inputs=_const_inputs(task.get("other_inputs"), "[task] other_inputs", source),
                                    init=init, **loss_kw, **common)
        if kind == "classification":
            exs = task.get("examples")
            if not isinstance(exs, list) or not exs:
                raise task.err("needs examples = [{ init = {...}, class = ... }, ...]")
            examples = []
            for i, ex in enumerate(exs):
                e = _Section(ex, f"task.examples[{i}]", {"init", "class", "target"}, source)
                if ("class" in e) == ("target" in e):
                    raise e.err("give exactly one of class (output name or index) or target (one value per output)")
                if "init" not in e:
                    raise e.err("missing init")
                examples.append((_init(e), e.get("class") if "class" in e else e.get("target")))
            return ClassificationTask(template, examples, t,
                                      inputs=_const_inputs(task.get("inputs"), "[task] inputs", source),
                                      high=task.number("high", 1.0), low=task.number("low", 0.0),
                                      default_init=init if isinstance(init, float) else 0.01, **loss_kw, **common)
        if kind == "habituation":
            high = task.get("high", [1.0])
            high = [high] if isinstance(high, (int, float)) and not isinstance(high, bool) else high
            task.d["high"] = high
            return HabituationTask(
                template, t, input=task.get("input", "u1"), n_pulses=task.number("n_pulses", 5, integer=True),
                start=task.number("start", 10.0), width=task.number("width", 5.0, positive=True),
                gap=task.number("gap", 15.0, positive=True), high=task.numbers("high"), low=task.number("low", 0.0),
                other_inputs=_const_inputs(task.get("other_inputs"), "[task] other_inputs", source), init=init,
                rest=task.number("rest", positive=True), recovery=task.number("recovery", 0.8),
                peak_floor=task.number("peak_floor", 0.05, positive=True),
                peak_ceiling=task.number("peak_ceiling", 100.0, positive=True),
                w_floor=task.number("w_floor", 1.0), w_ceiling=task.number("w_ceiling", 1.0),
                w_recovery=task.number("w_recovery", 1.0), output=task.get("output"), **common)
        if kind == "data_fit":
            exps = task.get("experiments")
            if not isinstance(exps, list) or not exps:
                raise task.err("needs experiments = [{ inputs, init, times, values } or { inputs, init, csv }, ...]")
            experiments = []
            for i, ex in enumerate(exps):
                e = _Section(ex, f"task.experiments[{i}]", {"inputs", "init", "times", "values", "csv", "label"}, source)
                label = str(e.get("label", f"experiment {i}"))
                if "csv" in e:
                    if "times" in e or "values" in e:
                        raise e.err("give either csv or times/values")
                    p = Path(e.get("csv"))
                    times, values = read_csv(p if p.is_absolute() else base_dir / p)
                else:
                    times = e.numbers("times")
                    values = e.get("values")
                    if times is None or not isinstance(values, Mapping):
                        raise e.err("needs times = [...] and values = { X1 = [...] } (or csv = 'file.csv')")
                experiments.append(Experiment(times, dict(values), _const_inputs(e.get("inputs"), f"{e.where}.inputs",
                                                                                  source), _init(e), label))
            return DataFitTask(template, experiments, t, norm=task.number("norm", 1, integer=True),
                               normalise=bool(task.get("normalise", False)), **common)
        # trace
        if "times" not in task or "values" not in task:
            raise task.err("needs times = [...] and values = [...]")
        return TraceTask(template, task.numbers("times"), task.numbers("values"), species=task.get("species"),
                         inputs=_const_inputs(task.get("inputs"), "[task] inputs", source), init=init,
                         n_t=task.number("n_t", integer=True), **common)
    except CRNError as e:
        msg = str(e)
        if not msg.startswith(source):
            msg = f"{source}: {msg}"
        raise CRNError(msg) from None


def parse_task(text: str, base_dir: str | Path = ".", source: str = "<task>") -> Task:
    """Build a task from TOML text."""
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CRNError(f"{source}: invalid TOML: {e}") from None
    return task_from_dict(cfg, base_dir, source)


def load_task(name_or_path: str | Path) -> Task:
    """A preset by name (see :func:`list_presets`) or a TOML task file."""
    from .presets import PRESETS

    key = str(name_or_path)
    if key in PRESETS:
        return parse_task(PRESETS[key], source=key)
    p = Path(key)
    if not p.exists():
        raise CRNError(f"{key!r} is neither a preset ({', '.join(PRESETS)}) nor an existing task file")
    if p.is_dir():
        raise CRNError(f"{key!r} is a directory, not a task file")
    from ..crn.limits import read_text

    cfg_text = read_text(p, "task file")
    try:
        cfg = tomllib.loads(cfg_text)
    except tomllib.TOMLDecodeError as e:
        raise CRNError(f"{key}: invalid TOML: {e}") from None
    if isinstance(cfg, dict) and "name" not in cfg:
        cfg["name"] = p.stem
    return task_from_dict(cfg, p.parent, key)
