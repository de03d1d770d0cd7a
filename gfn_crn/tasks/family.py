"""Task families: one task file, a family of targets indexed by a condition (issue 24).

A task file with a ``[condition]`` table declares condition variables; every ``{name}`` in its
``[task]`` table is replaced by the variable's value to make the member task of a condition::

    [condition]
    g = { low = 0.5, high = 2.0 }                  # continuous: a range
    table = { choices = { "0001" = "u1 & u2",     # discrete: labels (what a user writes)
                          "0111" = "u1 | u2" } }  # and the text put in place of {table}
    # table = { choices = ["u1 & u2", "u1 | u2"] }  (a list: each choice is its own label)
    # g = { low = 0.5, high = 2.0, train = [0.5, 1.0, 2.0] }  (training draws from these values only)

    [task]
    target = "{g} * u1"                            # a string exactly "{g}" becomes the number

A condition is a point of the space: one value per variable (a number in the range, or one of
the labels). As a tensor (``States.conditions`` in torchgfn) a condition is one column per
variable: the number, or the index of the label. :meth:`ConditionSpace.features` turns that into
what networks read: a continuous value scaled to [-1, 1] over its range, a discrete one one-hot.

:class:`TaskFamily` is a scorer whose ``evaluate(networks, conditions)`` scores each network
under its own condition (the member tasks are built on demand and kept, least recently used
dropped first); its shared facts (template, prior, reward map, good threshold, ...) are those of
the member at the reference condition (the middle of each range, the first choice), and every
member must agree on them.
"""

from __future__ import annotations

import copy
import math
import re
from collections import OrderedDict
from typing import Callable, Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..rewards.result import TaskResult

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConditionVar:
    """One condition variable: continuous (``low``, ``high``) or discrete (``labels`` and the
    text each stands for, ``values``)."""

    def __init__(self, name: str, *, low: float | None = None, high: float | None = None,
                 labels: Sequence[str] | None = None, values: Sequence[str] | None = None,
                 train: Sequence | None = None):
        if not _NAME.match(str(name)):
            raise CRNError(f"condition variable name {name!r} must be an identifier (letters, digits, _)")
        self.name = str(name)
        if labels is None:
            if low is None or high is None:
                raise CRNError(f"condition {name}: needs low and high, or choices")
            low, high = float(low), float(high)
            if not (math.isfinite(low) and math.isfinite(high) and high > low):
                raise CRNError(f"condition {name}: needs finite low < high, got low={low}, high={high}")
            self.kind, self.low, self.high = "continuous", low, high
            self.labels = self.values = ()
        else:
            labels = tuple(str(x) for x in labels)
            values = tuple(str(x) for x in (values if values is not None else labels))
            if len(labels) < 1 or len(labels) != len(values):
                raise CRNError(f"condition {name}: needs at least one choice")
            if len(set(labels)) != len(labels):
                raise CRNError(f"condition {name}: choices repeat a label: {list(labels)}")
            self.kind, self.low, self.high = "discrete", None, None
            self.labels, self.values = labels, values
        #: the values training draws from (None: the whole range, or every choice); sampling a
        #: trained generator takes any value of the variable
        self.train = None
        if train is not None:
            if isinstance(train, (str, bytes)) or not hasattr(train, "__len__") or len(train) < 1:
                raise CRNError(f"condition {name}: train must be a non-empty list of values, got {train!r}")
            vals = tuple(self.check(v) for v in train)
            if len(set(vals)) != len(vals):
                raise CRNError(f"condition {name}: train repeats a value: {list(train)}")
            self.train = vals

    @property
    def continuous(self) -> bool:
        return self.kind == "continuous"

    @property
    def n_features(self) -> int:
        return 1 if self.continuous else len(self.labels)

    def describe(self) -> str:
        if self.continuous:
            return f"{self.name} in [{self.low:g}, {self.high:g}]"
        return f"{self.name} in {{{', '.join(self.labels)}}}"

    def check(self, value) -> float | str:
        """The value (a number in the range, or a label), or a CRNError naming the variable."""
        if self.continuous:
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise CRNError(f"condition {self.name}={value!r} is not a number "
                               f"({self.describe()})") from None
            if not (math.isfinite(v) and self.low <= v <= self.high):
                raise CRNError(f"condition {self.name}={value} is outside its range [{self.low:g}, {self.high:g}]")
            return v
        if str(value) not in self.labels:
            raise CRNError(f"condition {self.name}={value!r} is not one of its choices {', '.join(self.labels)}")
        return str(value)

    def column(self, value) -> float:
        """The tensor column of a checked value (the number, or the label's index)."""
        return float(value) if self.continuous else float(self.labels.index(value))

    def value(self, column: float) -> float | str:
        """The value of a tensor column (checked: a CRNError names the variable)."""
        c = float(column)
        if self.continuous:  # a tensor holds float32: its rounding of an end of the range (or of a
            # training value) is that value
            for end in (self.low, self.high) + (self.train or ()):
                if np.float32(c) == np.float32(end):
                    return end
            return self.check(c)
        i = int(round(c))
        if i != c or not 0 <= i < len(self.labels):
            raise CRNError(f"condition {self.name}: column value {c} is not a choice index in [0, {len(self.labels) - 1}]")
        return self.labels[i]

    def text(self, value) -> str:
        """What ``{name}`` is replaced with in the task file."""
        return repr(float(value)) if self.continuous else self.values[self.labels.index(value)]

    @property
    def reference(self):
        return 0.5 * (self.low + self.high) if self.continuous else self.labels[0]


class ConditionSpace:
    """The condition variables of a family (see the module docstring)."""

    def __init__(self, variables: Sequence[ConditionVar]):
        self.variables = tuple(variables)
        if not self.variables:
            raise CRNError("a condition space needs at least one variable")
        names = [v.name for v in self.variables]
        if len(set(names)) != len(names):
            raise CRNError(f"condition variables repeat a name: {names}")
        self.names = tuple(names)

    @classmethod
    def from_table(cls, table, source: str = "<task>") -> "ConditionSpace":
        """From a task file's ``[condition]`` table."""
        if not isinstance(table, Mapping) or not table:
            raise CRNError(f"{source}: [condition] must be a table of variables, e.g. g = {{ low = 0.5, high = 2 }}")
        out = []
        for name, spec in table.items():
            where = f"{source}: [condition] {name}"
            if not isinstance(spec, Mapping):
                raise CRNError(f"{where}: must be a table {{ low, high }} or {{ choices }}, got {spec!r}")
            bad = set(spec) - {"low", "high", "choices", "train"}
            if bad:
                raise CRNError(f"{where}: unknown key(s) {sorted(bad)} (allowed: low, high, choices, train)")
            train = spec.get("train")
            if train is not None and not isinstance(train, list):
                raise CRNError(f"{where}: train must be a list of values, got {train!r}")
            try:
                if "choices" in spec:
                    if "low" in spec or "high" in spec:
                        raise CRNError("give either low/high or choices")
                    ch = spec["choices"]
                    if isinstance(ch, Mapping):
                        if not all(isinstance(x, str) for x in ch.values()):
                            raise CRNError(f"choices must map labels to strings, got {dict(ch)!r}")
                        out.append(ConditionVar(name, labels=list(ch), values=list(ch.values()), train=train))
                    elif isinstance(ch, list) and all(isinstance(x, str) for x in ch):
                        out.append(ConditionVar(name, labels=ch, train=train))
                    else:
                        raise CRNError(f"choices must be a list of strings or a table label = text, got {ch!r}")
                else:
                    for k in ("low", "high"):
                        if k not in spec:
                            raise CRNError(f"missing {k}")
                        if isinstance(spec[k], bool) or not isinstance(spec[k], (int, float)):
                            raise CRNError(f"{k} must be a number, got {spec[k]!r}")
                    if train is not None and not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                     for x in train):
                        raise CRNError(f"train must be a list of numbers, got {train!r}")
                    out.append(ConditionVar(name, low=spec["low"], high=spec["high"], train=train))
            except CRNError as e:
                msg = str(e)
                raise CRNError(msg if msg.startswith(source) else f"{where}: {msg}") from None
        return cls(out)

    # ---------------------------------------------------------------- values
    @property
    def dim(self) -> int:
        """Columns of a condition tensor (one per variable)."""
        return len(self.variables)

    @property
    def n_features(self) -> int:
        """Width of :meth:`features`."""
        return sum(v.n_features for v in self.variables)

    @property
    def reference(self) -> dict:
        """The middle of every range, the first of every list of choices."""
        return {v.name: v.reference for v in self.variables}

    def check(self, values: Mapping) -> dict:
        """A complete, checked condition (a dict name -> value); an unknown or missing variable,
        or a value out of range or not a choice, is a CRNError that names it."""
        if not isinstance(values, Mapping):
            raise CRNError(f"a condition is a mapping name -> value, got {values!r}")
        unknown = [k for k in values if k not in self.names]
        if unknown:
            raise CRNError(f"unknown condition variable(s) {unknown} (this family's: {self.describe()})")
        missing = [n for n in self.names if n not in values]
        if missing:
            raise CRNError(f"missing condition variable(s) {missing} (this family's: {self.describe()})")
        return {v.name: v.check(values[v.name]) for v in self.variables}

    def parse(self, items: str | Sequence[str]) -> dict:
        """A condition from ``"g=1.3"`` items (a string with commas, or a list of them)."""
        if isinstance(items, str):
            items = [items]
        out: dict = {}
        for item in items:
            for part in str(item).split(","):
                if not part.strip():
                    continue
                if "=" not in part:
                    raise CRNError(f"a condition is NAME=VALUE, got {part.strip()!r} (this family's: {self.describe()})")
                k, v = (s.strip() for s in part.split("=", 1))
                if k in out:
                    raise CRNError(f"condition {k} given twice")
                out[k] = v
        return self.check(out)

    def describe(self, values: Mapping | None = None) -> str:
        """``g in [0.5, 2]`` for the space, ``g=1.3`` for a condition."""
        if values is None:
            return ", ".join(v.describe() for v in self.variables)
        return ",".join(f"{v.name}={values[v.name]:g}" if v.continuous else f"{v.name}={values[v.name]}"
                        for v in self.variables)

    def key(self, values: Mapping) -> tuple:
        """A hashable key of a checked condition (cache keys are (condition, structure))."""
        return tuple(values[n] for n in self.names)

    # ---------------------------------------------------------------- tensors
    def tensor(self, values: Mapping | Sequence[Mapping], n: int | None = None, device=None):
        """A (n, dim) condition tensor (torch's default dtype) of one condition repeated ``n``
        times, or of a list of conditions."""
        import torch

        rows = [values] * (1 if n is None else int(n)) if isinstance(values, Mapping) else list(values)
        cols = [[v.column(c[v.name]) for v in self.variables] for c in (self.check(r) for r in rows)]
        return torch.tensor(cols, dtype=torch.get_default_dtype(), device=device).reshape(len(rows), self.dim)

    def decode(self, tensor) -> list[dict]:
        """The conditions of the rows of a (B, dim) tensor (checked)."""
        t = np.asarray(tensor.detach().cpu().double() if hasattr(tensor, "detach") else tensor, dtype=float)
        t = t.reshape(-1, self.dim)
        return [{v.name: v.value(row[i]) for i, v in enumerate(self.variables)} for row in t]

    def sample(self, n: int, device=None, generator=None):
        """(n, dim) conditions drawn uniformly (over each range, or each list of choices, or each
        variable's ``train`` values where it has them) with torch's random stream (so a seeded run
        draws the same)."""
        import torch

        cols = []
        for v in self.variables:
            if v.train is not None:
                i = torch.randint(len(v.train), (n,), generator=generator)
                c = torch.tensor([v.column(x) for x in v.train], dtype=torch.float64)[i]
            elif v.continuous:
                u = torch.rand(n, generator=generator, dtype=torch.float64)
                c = v.low + (v.high - v.low) * u
            else:
                c = torch.randint(len(v.labels), (n,), generator=generator).double()
            cols.append(c)
        out = torch.stack(cols, dim=-1).to(torch.get_default_dtype())
        return out if device is None else out.to(device)

    @property
    def finite(self) -> bool:
        """Whether training draws from finitely many conditions (every variable discrete or with
        ``train`` values)."""
        return all(v.train is not None or not v.continuous for v in self.variables)

    def training_conditions(self) -> list[dict]:
        """Every condition training draws from (a finite space: :attr:`finite`), in order."""
        import itertools

        if not self.finite:
            raise CRNError(f"training draws from a continuous range ({self.describe()}): no finite list of conditions")
        lists = [v.train if v.train is not None else v.labels for v in self.variables]
        return [dict(zip(self.names, combo)) for combo in itertools.product(*lists)]

    def draw(self, rng) -> dict:
        """One training condition drawn with a numpy generator (uniform, as :meth:`sample`)."""
        out = {}
        for v in self.variables:
            vals = v.train if v.train is not None else (None if v.continuous else v.labels)
            out[v.name] = (vals[int(rng.integers(len(vals)))] if vals is not None
                           else float(v.low + (v.high - v.low) * rng.random()))
        return out

    def features(self, tensor):
        """(..., n_features): continuous columns scaled to [-1, 1] over their range, discrete
        ones one-hot (what condition encoders read)."""
        import torch

        parts = []
        for i, v in enumerate(self.variables):
            c = tensor[..., i]
            if v.continuous:
                parts.append(((c - 0.5 * (v.low + v.high)) / (0.5 * (v.high - v.low)))[..., None])
            else:
                parts.append(torch.nn.functional.one_hot(c.round().long().clamp(0, len(v.labels) - 1),
                                                         len(v.labels)).to(tensor.dtype))
        return torch.cat(parts, dim=-1)

    def __repr__(self) -> str:
        return f"ConditionSpace({self.describe()})"


# ------------------------------------------------------------------ the family scorer
#: the facts every member of a family shares (checked when a member is built)
SHARED = ("template", "prior", "reward", "good_threshold", "n_scenarios")


class TaskFamily:
    """A family of tasks indexed by a condition (see the module docstring).

    Args:
        space: the condition variables.
        build: ``build(condition) -> Task`` (a checked condition dict).
        name, description: for listings (default: the reference member's).
        cache_size: member tasks kept (least recently used dropped first).
    """

    kind = "family"

    def __init__(self, space: ConditionSpace, build: Callable[[dict], object], *, name: str | None = None,
                 description: str | None = None, cache_size: int = 256):
        self.conditions = space
        self._build = build
        self.cache_size = int(cache_size)
        self._members: OrderedDict[tuple, object] = OrderedDict()
        self.base = build(space.reference)
        self.name = name or self.base.name
        self.description = self.base.description if description is None else description
        self.max_reactions = getattr(self.base, "max_reactions", None)
        self.verify_settings = getattr(self.base, "verify_settings", None)

    # ---------------------------------------------------------------- the shared facts (the Scorer protocol)
    @property
    def task(self) -> "TaskFamily":
        return self

    # the facts a scorer chain, the env and a run read are the reference member's (explicit:
    # nothing is forwarded implicitly; evaluate needs a condition, see :meth:`evaluate`)
    template = property(lambda self: self.base.template, doc="the template every member shares")
    prior = property(lambda self: self.base.prior, doc="the parameter prior every member shares")
    reward = property(lambda self: self.base.reward, doc="the loss -> log-reward map every member shares")
    floor = property(lambda self: self.base.floor, doc="the log-reward of invalid candidates")
    beta = property(lambda self: self.base.beta, doc="reward temperature")
    loss_cap = property(lambda self: self.base.loss_cap, doc="losses above it count as the cap")
    power_span = property(lambda self: self.base.power_span, doc="the largest value of the power term")
    good_threshold = property(lambda self: self.base.good_threshold, doc="a loss below which a design is good")
    n_scenarios = property(lambda self: self.base.n_scenarios, doc="scenarios per member")
    outputs = property(lambda self: self.base.outputs, doc="the output species")

    def check_networks(self, networks):
        return self.base.check_networks(networks)

    def log_priors(self, networks):
        return self.base.log_priors(networks)

    def adopt(self, network):
        return self.base.adopt(network)

    def describe(self) -> str:
        return self.description

    def member(self, condition: Mapping):
        """The task of one condition (checked; built once and kept)."""
        c = self.conditions.check(condition)
        key = self.conditions.key(c)
        t = self._members.get(key)
        if t is None:
            t = self._build(c)
            for fact in SHARED:
                if getattr(t, fact) != getattr(self.base, fact):
                    raise CRNError(f"family {self.name}: the member at {self.conditions.describe(c)} has another "
                                   f"{fact} than the reference member; a condition may change the loss only")
            self._members[key] = t
            while len(self._members) > self.cache_size:
                self._members.popitem(last=False)
        else:
            self._members.move_to_end(key)
        return t

    def _conditions_of(self, conditions, n: int) -> list[dict]:
        if conditions is None:
            raise CRNError(f"task family {self.name} scores a network under a condition ({self.conditions.describe()}); "
                           "none was given")
        if isinstance(conditions, Mapping):
            return [self.conditions.check(conditions)] * n
        if hasattr(conditions, "shape"):
            conds = self.conditions.decode(conditions)
        else:
            conds = [self.conditions.check(c) for c in conditions]
        if len(conds) != n:
            raise CRNError(f"{len(conds)} conditions for {n} networks")
        return conds

    def evaluate(self, networks: Sequence, conditions=None) -> TaskResult:
        """Each network scored by the member task of its condition (``conditions``: one
        condition for all, a list of them, or a (B, dim) tensor); one simulator call per distinct
        condition."""
        networks = list(networks)
        if not networks:
            raise CRNError("evaluate needs at least one network")
        conds = self._conditions_of(conditions, len(networks))
        groups: OrderedDict[tuple, list[int]] = OrderedDict()
        for i, c in enumerate(conds):
            groups.setdefault(self.conditions.key(c), []).append(i)
        B, S = len(networks), int(self.base.n_scenarios)
        loss, lr, lp = np.zeros(B), np.zeros(B), np.zeros(B)
        valid = np.zeros(B, dtype=bool)
        reason = np.empty(B, dtype=object)
        sl = np.full((B, S), np.nan)
        for idx in groups.values():
            r = self.member(conds[idx[0]]).evaluate([networks[i] for i in idx])
            loss[idx], lr[idx], lp[idx], valid[idx], reason[idx] = r.loss, r.log_reward, r.log_prior, r.valid, r.reason
            sl[idx] = r.scenario_loss
        return TaskResult(loss, lr, valid, reason.astype(str), lp, sl, None)

    def __call__(self, networks: Sequence, conditions=None):
        r = self.evaluate(networks, conditions)
        return r.log_reward, r.valid

    def __repr__(self) -> str:
        return f"TaskFamily({self.name!r}, {self.conditions.describe()})"


# ------------------------------------------------------------------ task files
def substitute(table, texts: Mapping[str, str], numbers: Mapping[str, float]):
    """A copy of a task-file table with ``{name}`` replaced in every string (a string exactly
    ``{name}`` of a continuous variable becomes the number)."""
    if isinstance(table, str):
        for name, value in numbers.items():
            if table.strip() == "{" + name + "}":
                return value
        out = table
        for name, text in texts.items():
            out = out.replace("{" + name + "}", text)
        return out
    if isinstance(table, Mapping):
        return {k: substitute(v, texts, numbers) for k, v in table.items()}
    if isinstance(table, list):
        return [substitute(v, texts, numbers) for v in table]
    return copy.deepcopy(table)


def _mentions(table, name: str) -> bool:
    if isinstance(table, str):
        return "{" + name + "}" in table
    if isinstance(table, Mapping):
        return any(_mentions(v, name) for v in table.values())
    if isinstance(table, list):
        return any(_mentions(v, name) for v in table)
    return False


def family_from_dict(cfg: Mapping, build_member: Callable[[Mapping, str], object], source: str = "<task>") -> TaskFamily:
    """The family of a task file with a ``[condition]`` table: ``build_member(cfg, source)``
    builds the task of a member's table (``[condition]`` removed, ``{name}`` replaced in
    ``[task]``)."""
    space = ConditionSpace.from_table(cfg.get("condition"), source)
    rest = {k: v for k, v in cfg.items() if k != "condition"}
    unused = [n for n in space.names if not _mentions(rest.get("task", {}), n)]
    if unused:
        raise CRNError(f"{source}: condition variable(s) {unused} are not used: write {{{unused[0]}}} in [task]")

    def build(c: dict):
        texts = {v.name: v.text(c[v.name]) for v in space.variables}
        numbers = {v.name: float(c[v.name]) for v in space.variables if v.continuous}
        member = dict(rest, task=substitute(rest.get("task", {}), texts, numbers))
        return build_member(member, f"{source} [{space.describe(c)}]")

    fam = TaskFamily(space, build)
    fam.name = str(cfg.get("name") or source)
    fam.base.name = fam.name
    fam.description = str(cfg.get("description", fam.base.description))
    return fam


__all__ = ["ConditionVar", "ConditionSpace", "TaskFamily", "family_from_dict", "substitute"]
