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

    [verify]                    # optional: checks beyond the loss (gfn_crn.tasks.verification)
    horizon = 10                # long horizon in units of t_f; cap, settle_tol, off_grid_tol, ...

Input values in ``[scenarios].inputs`` may be numbers or piecewise-constant inputs written as
``{ times = [0, 50], values = [1, 2] }`` or ``{ pulses = { t_on = [10], t_off = [20], high = 1 } }``.
Relative paths (template files, CSV data) are relative to the task file. Unknown keys are
errors that name the key and the allowed ones.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Template
from ..sim import time_grid
# the built-in kind modules: importing them registers their kinds (gfn_crn.tasks.kinds)
from . import tracking as _tracking  # noqa: F401  (first: tracking, logic, ... lead the listing)
from . import oscillator as _oscillator, habituation as _habituation, datafit as _datafit  # noqa: F401
from . import stochastic as _stochastic  # noqa: F401
from .base import Task
from .kinds import REGISTRY, Section, KindInput, kind_names, lookup, read_init
from .prior import LogParameterPrior
from .verification import VerifySettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: the registered kind names (tracking, logic, dose_response, ... and the ssa_* kinds)
KINDS = kind_names()

TOP_KEYS = {"kind", "name", "description", "template", "scenarios", "time", "task", "reward", "sim"}
#: [task] keys of each kind (from the registry)
TASK_KEYS = {name: set(k.task_keys) for name, k in REGISTRY.items()}
_Section = Section  # the name this module used before the registry


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


def task_from_dict(cfg: Mapping, base_dir: str | Path = ".", source: str = "<task>") -> Task:
    """Build a task from a parsed TOML document (see the module docstring); its ``[verify]``
    table becomes ``task.verify_settings`` (:class:`gfn_crn.tasks.verification.VerifySettings`)."""

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
    if "kind" not in cfg:
        raise CRNError(f"{source}: missing 'kind' (one of {', '.join(KINDS)})")
    kind = lookup(cfg["kind"])
    if kind is None:
        raise CRNError(f"{source}: unknown kind {cfg['kind']!r} (known: {', '.join(KINDS)})")
    unknown = set(cfg) - TOP_KEYS - kind.sections
    if unknown:
        allowed = sorted(TOP_KEYS | kind.sections)
        raise CRNError(f"{source}: unknown top-level key(s) {sorted(unknown)} (allowed: {', '.join(allowed)})")
    if not kind.sim and "sim" in cfg:
        raise CRNError(f"{source}: {kind.name} tasks take their simulator settings in "
                       f"[{', '.join(sorted(kind.sections))}], not [sim]")
    if "template" not in cfg:
        raise CRNError(f"{source}: missing [template] (text, file or example)")
    try:
        template = _template(Section(cfg["template"], "template", {"text", "file", "example", "outputs"}, source),
                             base_dir)
        scen = Section(cfg.get("scenarios"), "scenarios", {"inputs", "init", "zip"} if kind.grid else {"init"},
                       source)
        tsec = Section(cfg.get("time"), "time", {"t_f", "n_t", "points"}, source)
        task = Section(cfg.get("task"), "task", kind.task_keys, source)
        rsec = Section(cfg.get("reward"), "reward", {"beta", "loss_cap", "floor", "good_threshold", "prior",
                                                     "reward_alpha", "reward_eps"}, source)
        ssec = Section(cfg.get("sim"), "sim", {"engine", "rtol", "atol", "cap", "max_steps", "device"}, source)

        # time grid (None: the kind's default where it has one)
        if "points" in tsec:
            if "t_f" in tsec or "n_t" in tsec:
                raise tsec.err("give either points or t_f/n_t")
            t = np.asarray(tsec.numbers("points"))
        elif "t_f" in tsec or "n_t" in tsec or kind.default_time:
            t = time_grid(tsec.number("t_f", 100.0, positive=True), tsec.number("n_t", 1000, integer=True))
        else:
            t = None
        init = read_init(scen)
        common = dict(name=cfg.get("name") or source, description=str(cfg.get("description", "")),
                      beta=rsec.number("beta", positive=True), loss_cap=rsec.number("loss_cap"),
                      floor=rsec.number("floor"), good_threshold=rsec.number("good_threshold"), prior=_prior(rsec),
                      **{k: rsec.number(k) for k in ("reward_alpha", "reward_eps") if k in rsec},
                      sim_options={k: v for k, v in ssec.d.items()})
        loss_kw = {}
        if kind.loss:
            loss_kw = dict(weights=task.get("weights"), norm=task.number("norm", 1, integer=True),
                           relative=bool(task.get("relative", False)))
            if "settle_weight" in task:
                loss_kw["settle_weight"] = task.number("settle_weight")
        return kind.build(KindInput(kind.name, template, scen, t, init, task, common, loss_kw, cfg, source, base_dir))
    except CRNError as e:
        msg = str(e)
        if not msg.startswith(source):
            msg = f"{source}: {msg}"
        raise CRNError(msg) from None


def _prior(rsec: Section) -> LogParameterPrior | None:
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
    return prior


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
