"""Typed settings declared once, and the one validator that reads values against them.

A setting is a dataclass field made by :func:`setting`: its default, its documentation and what
a value must satisfy (``choices``; bounds ``ge``, ``gt``, ``le``, ``lt``), plus whatever its users
need (the run settings add ``key``, ``flag`` and ``resume``, see
:mod:`gfn_crn.training.config`). The type comes from the field's annotation (``bool``, ``int``,
``float``, ``str``, each optionally ``Optional[...]``).

:func:`check_value` is the one typed validator: the run settings (``--set``, ``--config``,
presets, the flags), the task files' tables (:class:`gfn_crn.tasks.kinds.Section`) and the
``[verify]`` table (:class:`gfn_crn.verify.checks.VerifySettings`) all read their values through
it, so a value is accepted or refused, and the error worded, the same way everywhere:
``<label> must be <what>, got <value>``, where the label names the culprit (the file, the
section, the key; or the flag).

This module imports nothing but the standard library and :mod:`gfn_crn.crn.errors`, so every
layer may use it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Callable, Mapping, Optional

from .errors import CRNError

KINDS = ("bool", "int", "float", "str")


def setting(default: Any = MISSING, doc: str = "", *, default_factory: Any = MISSING, choices=None, ge=None,
            gt=None, le=None, lt=None, **meta) -> Any:
    """A dataclass field with its documentation (``metadata["doc"]``), what a value must satisfy
    (``choices``, bounds) and any further metadata ``meta``."""
    if not doc:
        raise ValueError("every setting needs a doc")
    md = {"doc": doc, **meta}
    for name, v in (("choices", choices), ("ge", ge), ("gt", gt), ("le", le), ("lt", lt)):
        if v is not None:
            md[name] = tuple(v) if name == "choices" else v
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=md)
    return field(default=default, metadata=md)


@dataclass(frozen=True)
class Spec:
    """What a value must be: its base type, whether None (an empty string in TOML) is allowed,
    its choices and its bounds."""

    kind: str
    optional: bool = False
    choices: Optional[tuple] = None
    ge: Optional[float] = None
    gt: Optional[float] = None
    le: Optional[float] = None
    lt: Optional[float] = None
    check: Optional[Callable[[Any], Optional[str]]] = None  # value -> what it must be, or None if fine

    def describe_bounds(self) -> str:
        """``>= 1``, ``in [0, 1)``, ... (empty without bounds)."""
        lo = f"{'[' if self.ge is not None else '('}{self.ge if self.ge is not None else self.gt}" \
            if (self.ge is not None or self.gt is not None) else None
        hi = f"{self.le if self.le is not None else self.lt}{']' if self.le is not None else ')'}" \
            if (self.le is not None or self.lt is not None) else None
        if lo and hi:
            return f"in {lo}, {hi}"
        if lo:
            return f"{'>=' if self.ge is not None else '>'} {self.ge if self.ge is not None else self.gt}"
        if hi:
            return f"{'<=' if self.le is not None else '<'} {self.le if self.le is not None else self.lt}"
        return ""


def spec_of(f: Field) -> Spec:
    """The :class:`Spec` of a dataclass field: its annotation and its :func:`setting` metadata."""
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    kind = next((k for k in KINDS if k in t), None)
    if kind is None:
        raise TypeError(f"setting {f.name}: unsupported type {t}")
    m = f.metadata
    return Spec(kind, "Optional" in t or "None" in t, m.get("choices"), m.get("ge"), m.get("gt"), m.get("le"),
                m.get("lt"), m.get("check"))


def check_value(value: Any, label: str, spec: Spec, *, text: bool = False) -> Any:
    """``value`` as ``spec``'s type, checked against its choices and bounds; else a
    :class:`CRNError` ``"<label> must be <what>, got <value>"``.

    ``text``: the value may be a string to convert (``--set``, a flag, a config file written by
    hand); task files and ``[verify]`` tables must give TOML numbers and booleans. An integer
    setting takes an integral float (``3.0``); a float one must be finite; ``""`` stands for None
    where the setting is optional (TOML has no None).
    """
    def bad(what: str):
        return CRNError(f"{label} must be {what}, got {value!r}")

    kind = spec.kind
    if value is None or (spec.optional and value == "" and kind != "str"):
        if spec.optional:
            return None
        raise bad({"bool": "true or false", "int": "an integer", "float": "a finite number",
                   "str": "a string"}[kind])
    if kind == "bool":
        if text and isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise bad("true or false")
        v: Any = value
    elif kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)) or (
                isinstance(value, str) and not text):
            raise bad("an integer" if kind == "int" else "a finite number")
        try:
            x = float(value)
        except ValueError:
            raise bad("an integer" if kind == "int" else "a finite number") from None
        if not math.isfinite(x):
            raise bad("a finite integer" if kind == "int" else "a finite number")
        if kind == "int":
            if x != int(x):
                raise bad("an integer")
            v = int(value) if isinstance(value, numbers.Integral) else int(x)
        else:
            v = x
        for op, bound, ok in (("ge", spec.ge, lambda a, b: a >= b), ("gt", spec.gt, lambda a, b: a > b),
                              ("le", spec.le, lambda a, b: a <= b), ("lt", spec.lt, lambda a, b: a < b)):
            if bound is not None and not ok(v, bound):
                raise bad(spec.describe_bounds())
    else:
        if not isinstance(value, str):
            raise bad("a string")
        if spec.optional and value == "":
            return None
        v = value
    if spec.choices is not None and v not in spec.choices:
        raise bad("one of " + ", ".join(str(c) for c in spec.choices))
    if spec.check is not None:
        what = spec.check(v)
        if what:
            raise bad(what)
    return v


def read_table(cls, d: Mapping | None, where: str, *, custom: Optional[Mapping[str, Callable]] = None,
               text: bool = False) -> dict:
    """The fields of dataclass ``cls`` given in the TOML table ``d``, each read by
    :func:`check_value` (label ``<where>.<name>``) or by ``custom[name](value, label)``. An unknown
    key is an error naming it and the allowed ones."""
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise CRNError(f"{where} must be a table, got {type(d).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = set(d) - set(known)
    if unknown:
        raise CRNError(f"{where}: unknown key(s) {sorted(unknown)} (allowed: {', '.join(sorted(known))})")
    custom = custom or {}
    out = {}
    for name, v in d.items():
        label = f"{where}.{name}"
        out[name] = custom[name](v, label) if name in custom else check_value(v, label, spec_of(known[name]),
                                                                                text=text)
    return out


__all__ = ["setting", "Spec", "spec_of", "check_value", "read_table"]
