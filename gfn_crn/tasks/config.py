"""Task files (TOML) and presets: ``load_task(name_or_path)``.

A task file::

    kind = "tracking"           # tracking | logic | dose_response | oscillator | habituation
                                # | classification | data_fit | trace
    name = "rpa"                # optional (default: the file's stem)
    max_reactions = 5           # optional: the design size it is meant for (gfn-crn train's default)
    description = "..."         # optional, one line

    [template]                  # exactly one of text / file / example
    text = '''
    species: X1 Z1 Z2
    outputs: X1
    fixed: 0 -> Z1 ; k=1 * u1
    fixed: X1 -> 0 ; k=1 * u2
    '''
    # file = "my_template.txt"  # a network file; its species, outputs and fixed: lines
    # file = "plant.xml"        # an SBML (.xml, .sbml) or Antimony (.ant, .antimony) model: from
                                # another tool, every reaction is a template reaction
    # example = "antithetic"    # a built-in example's template
    # outputs = ["X1"]          # optional override of the outputs
    # inputs = { d = "u2" }     # model parameters that are inputs (SBML/Antimony files only)
    # controller = ["Z1", "Z2"] # species added for the designs (the library is built over all)
    # fixed = "0 -> Z1 ; k=1 * u1"  # more template reactions, in the text format
    # (template = "plant.xml" at the top level is short for [template] file = "plant.xml")

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

    [condition]                 # optional: a family of tasks (gfn_crn.tasks.family); {g} in
    g = { low = 0.5, high = 2 } # [task] is replaced by the condition's value, e.g.
                                # target = "{g} * u1"; or gate = { choices = [...] }

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

TOP_KEYS = {"kind", "name", "description", "template", "scenarios", "time", "task", "reward", "sim", "max_reactions"}
#: [task] keys of each kind (from the registry)
TASK_KEYS = {name: set(k.task_keys) for name, k in REGISTRY.items()}
_Section = Section  # the name this module used before the registry


MODEL_SUFFIXES = (".xml", ".sbml", ".ant", ".antimony")
TEMPLATE_KEYS = {"text", "file", "example", "outputs", "inputs", "controller", "fixed"}


def _model_template(p: Path, sec: _Section) -> Template:
    """The template of an SBML or Antimony model file: a model of another tool (no gfn_crn marks)
    is the process itself, every reaction a template reaction; one gfn_crn wrote keeps its own
    template. ``outputs`` and ``inputs`` (a list of input names, or a table parameter -> input)
    say what the model cannot."""
    from ..crn.export import from_sbml, is_gfn_sbml
    from ..crn.interop import from_antimony
    from ..crn.limits import read_text

    text = read_text(p, "template file")
    outs = sec.get("outputs") if "outputs" in sec else None
    ins = sec.get("inputs") if "inputs" in sec else None
    if ins is not None and not (isinstance(ins, list) and all(isinstance(u, str) for u in ins)) and not (
            isinstance(ins, Mapping) and all(isinstance(v, str) for v in ins.values())):
        raise sec.err(f"inputs must be a list of input names or a table parameter = \"u1\", got {ins!r}")
    if outs is not None and not (isinstance(outs, list) and all(isinstance(o, str) for o in outs)):
        raise sec.err(f"outputs must be a list of species names, got {outs!r}")
    try:
        if p.suffix.lower() in (".xml", ".sbml"):
            ours = is_gfn_sbml(text)
            net = from_sbml(text, name=p.stem, outputs=outs, inputs=ins, fixed=None if ours else "all")
        else:
            ours = text.startswith("// gfn_crn network")
            net = from_antimony(text, name=p.stem, outputs=outs, inputs=ins, fixed=None if ours else "all")
    except CRNError as e:
        raise CRNError(f"{p.name}: {e}") from None
    return net.template


def _template(sec: _Section, base_dir: Path) -> Template:
    from ..crn import antithetic_example, load_network, parse_network

    srcs = [k for k in ("text", "file", "example") if k in sec]
    if len(srcs) != 1:
        raise sec.err(f"needs exactly one of text, file, example (got {srcs or 'none'})")
    model = False
    try:
        if "text" in sec:
            net = parse_network(str(sec.get("text")))
        elif "file" in sec:
            p = Path(sec.get("file"))
            p = p if p.is_absolute() else base_dir / p
            if not p.exists():
                raise CRNError(f"template file {str(p)!r} does not exist")
            model = p.suffix.lower() in MODEL_SUFFIXES
            if model:
                t = _model_template(p, sec)
            else:
                net = load_network(p)
        else:
            examples = {"antithetic": antithetic_example}
            ex = sec.get("example")
            if ex not in examples:
                raise CRNError(f"unknown example {ex!r} (known: {', '.join(examples)})")
            net = examples[ex]()
    except CRNError as e:
        raise sec.err(f"template: {e}") from None
    if not model:
        if "inputs" in sec:
            raise sec.err("inputs (which model parameters are inputs) is for SBML or Antimony template files "
                          f"({', '.join(MODEL_SUFFIXES)})")
        t = net.template
        if "outputs" in sec:
            outs = sec.get("outputs")
            if not isinstance(outs, list) or not all(isinstance(o, str) for o in outs):
                raise sec.err(f"outputs must be a list of species names, got {outs!r}")
            try:
                t = Template(t.species, tuple(outs), t.fixed, t.declared_inputs)
            except CRNError as e:
                raise sec.err(str(e)) from None
    if "controller" in sec or "fixed" in sec:
        t = _extend_template(t, sec)
    return t


def _extend_template(t: Template, sec: _Section) -> Template:
    """The controller species the task adds to the template (the library is built over all of
    them) and extra template reactions in the text format (``fixed = "0 -> Z1 ; k=1 * u1"``)."""
    from ..crn import parse_network

    ctrl = sec.get("controller") if "controller" in sec else []
    if not isinstance(ctrl, list) or not all(isinstance(c, str) for c in ctrl):
        raise sec.err(f"controller must be a list of species names, got {ctrl!r}")
    twice = sorted(set(ctrl) & set(t.species))
    if twice:
        raise sec.err(f"controller species {twice} are already the template's")
    species = tuple(t.species) + tuple(ctrl)
    lines = sec.get("fixed") if "fixed" in sec else ""
    if isinstance(lines, list) and all(isinstance(x, str) for x in lines):
        lines = "\n".join(lines)
    if not isinstance(lines, str):
        raise sec.err(f"fixed must be reactions in the text format (a string or a list of strings), got {lines!r}")
    try:
        extra = parse_network("species: " + " ".join(species) + "\n"
                              + "".join(f"fixed: {x}\n" for x in lines.splitlines() if x.split("#")[0].strip()))
        return Template(species, t.outputs, t.fixed + extra.template.fixed, t.declared_inputs)
    except CRNError as e:
        raise sec.err(f"template: {e.reason if e.line else e}" + (f" [{e.text.strip()}]" if e.line else "")) from None


def task_from_dict(cfg: Mapping, base_dir: str | Path = ".", source: str = "<task>") -> Task:
    """Build a task from a parsed TOML document (see the module docstring); its ``[verify]``
    table becomes ``task.verify_settings`` (:class:`gfn_crn.tasks.verification.VerifySettings`)."""

    if isinstance(cfg, Mapping) and "condition" in cfg:  # a family of tasks (gfn_crn.tasks.family)
        from .family import family_from_dict

        fam = family_from_dict(cfg, lambda member, src: task_from_dict(member, base_dir, src), source)
        fam.max_reactions = design_size(cfg, source)
        return fam
    if isinstance(cfg, Mapping) and "verify" in cfg:
        cfg = dict(cfg)
        settings = VerifySettings.from_dict(cfg.pop("verify"), f"{source}: [verify]")
    else:
        settings = VerifySettings()
    task = _build_task(cfg, base_dir, source)
    task.verify_settings = settings
    task.max_reactions = design_size(cfg, source)
    return task


def design_size(cfg: Mapping, source: str = "<task>") -> int | None:
    """A task file's top-level ``max_reactions`` (the design size the task is meant for, the
    default of ``gfn-crn train --max-reactions``), or None."""
    v = cfg.get("max_reactions") if isinstance(cfg, Mapping) else None
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise CRNError(f"{source}: max_reactions must be an integer >= 1, got {v!r}")
    return v


def task_design_size(name_or_path) -> int | None:
    """The ``max_reactions`` of a preset or task file, read without building the task (None when
    it has none or cannot be read: loading the task reports that)."""
    from .presets import PRESETS

    key = str(name_or_path)
    try:
        text = PRESETS[key] if key in PRESETS else Path(key).read_text()
        return design_size(tomllib.loads(text), key)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def task_is_family(name_or_path) -> bool:
    """Whether a preset or task file declares ``[condition]`` (a family of tasks), read without
    building it (False when it cannot be read: loading the task reports that)."""
    from .presets import PRESETS

    key = str(name_or_path)
    try:
        text = PRESETS[key] if key in PRESETS else Path(key).read_text()
        return "condition" in tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


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
        tsrc = cfg["template"]
        if isinstance(tsrc, str):  # template = "plant.xml": the file's species, outputs and reactions
            tsrc = {"file": tsrc}
        template = _template(Section(tsrc, "template", TEMPLATE_KEYS, source), base_dir)
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
    from .presets import PRESETS, preset_dir

    key = str(name_or_path)
    if key in PRESETS:  # a preset's files (a template model) lie beside it in the package
        return parse_task(PRESETS[key], base_dir=preset_dir(), source=key)
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
