"""Safe target expressions: ``u1``, ``2*u1``, ``u1/(1+u1)``, ``hill(u1, 1, 2)``, ``(u1 & u2) | u3``.

Expressions are parsed with :mod:`ast` and checked against a whitelist; they are never passed to
``eval``. Evaluation is vectorised with numpy over whatever shapes the names are bound to.

Allowed:

* numbers (``True``/``False`` count as 1/0); every constant is a float, so ``9**9**9`` cannot
  hang (it overflows to ``inf``);
* names: inputs ``u1, u2, ...``, initial concentrations ``init_<species>`` (e.g. ``init_X1``),
  time ``t``, and ``pi``/``e``; which names a given task binds is checked when the task is built;
* arithmetic ``+ - * / ** %`` and unary ``-``/``+``;
* comparisons ``< <= > >= == !=`` (give 0 or 1, chains allowed);
* logic on truth values (non-zero is true): ``&``/``and``, ``|``/``or``, ``^`` (xor),
  ``~``/``not``; results are 0 or 1;
* functions ``exp log sqrt abs min max hill(x, K, n)`` (``x^n/(K^n+x^n)``) and
  ``hillr(x, K, n)`` (``K^n/(K^n+x^n)``), positional arguments only.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Mapping

import numpy as np

from ..crn.errors import CRNError

MAX_LENGTH = 500

_BINOPS = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power, ast.Mod: np.mod,
}
_LOGIC = {
    ast.BitAnd: np.logical_and, ast.BitOr: np.logical_or, ast.BitXor: np.logical_xor,
}
_CMP = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}


def _hill(x, K, n):
    x = np.maximum(x, 0.0)
    return x**n / (K**n + x**n)


def _hillr(x, K, n):
    x = np.maximum(x, 0.0)
    return K**n / (K**n + x**n)


_FUNCS = {
    "exp": (np.exp, 1), "log": (np.log, 1), "sqrt": (np.sqrt, 1), "abs": (np.abs, 1),
    "min": (np.minimum, 2), "max": (np.maximum, 2), "hill": (_hill, 3), "hillr": (_hillr, 3),
}
_CONSTS = {"pi": math.pi, "e": math.e}
NAME_RE = re.compile(r"^(u[1-9][0-9]*|init_[A-Za-z_][A-Za-z0-9_]*|t)$")


class Expr:
    """A parsed, whitelisted expression; call with a mapping of name -> value (array or float).

    >>> Expr("u1/(1+u1)")({"u1": 1.0})
    array(0.5)
    """

    def __init__(self, text: str | float | int, what: str = "expression"):
        if isinstance(text, bool) or isinstance(text, (int, float)):
            text = repr(float(text))
        if not isinstance(text, str):
            raise CRNError(f"{what} must be a string or a number, got {type(text).__name__}")
        self.text = text.strip()
        self.what = what
        if not self.text:
            raise CRNError(f"{what} is empty")
        if len(self.text) > MAX_LENGTH:
            raise CRNError(f"{what} is longer than {MAX_LENGTH} characters")
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as e:
            raise CRNError(f"{what} {self.text!r} is not a valid expression: {e.msg}") from None
        self.names: set[str] = set()
        self._tree = tree.body
        self._check(self._tree)
        self.is_constant = not self.names

    def _err(self, node, why: str) -> CRNError:
        seg = ast.get_source_segment(self.text, node) or type(node).__name__
        return CRNError(f"{self.what} {self.text!r}: {why} ({seg!r})")

    def _check(self, node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or isinstance(node.value, (int, float)):
                if isinstance(node.value, float) and not math.isfinite(node.value):
                    raise self._err(node, "non-finite constant")
                return
            raise self._err(node, "only numbers are allowed as constants")
        if isinstance(node, ast.Name):
            if node.id in _CONSTS:
                return
            if node.id in ("True", "False"):
                return
            if not NAME_RE.match(node.id):
                raise self._err(node, "unknown name; use inputs u1, u2, ..., init_<species>, t, pi, e")
            self.names.add(node.id)
            return
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS and type(node.op) not in _LOGIC:
                raise self._err(node, f"operator {type(node.op).__name__} is not allowed")
            self._check(node.left)
            self._check(node.right)
            return
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not, ast.Invert)):
                raise self._err(node, f"operator {type(node.op).__name__} is not allowed")
            self._check(node.operand)
            return
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
            return
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMP:
                    raise self._err(node, f"comparison {type(op).__name__} is not allowed")
            self._check(node.left)
            for c in node.comparators:
                self._check(c)
            return
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
                raise self._err(node, f"unknown function; allowed: {', '.join(sorted(_FUNCS))}")
            if node.keywords:
                raise self._err(node, "keyword arguments are not allowed")
            _, n = _FUNCS[node.func.id]
            if len(node.args) != n:
                raise self._err(node, f"{node.func.id} takes {n} argument(s), got {len(node.args)}")
            for a in node.args:
                if isinstance(a, ast.Starred):
                    raise self._err(a, "starred arguments are not allowed")
                self._check(a)
            return
        raise self._err(node, f"{type(node).__name__} is not allowed")

    # ---------------------------------------------------------------- evaluation
    def __call__(self, env: Mapping[str, object]) -> np.ndarray:
        missing = self.names - set(env)
        if missing:
            raise CRNError(f"{self.what} {self.text!r} uses {sorted(missing)}, which this task does not define "
                           f"(available: {', '.join(sorted(env))})")
        with np.errstate(all="ignore"):
            return np.asarray(self._eval(self._tree, env), dtype=float)

    def _eval(self, node, env):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in _CONSTS:
                return _CONSTS[node.id]
            if node.id == "True":
                return 1.0
            if node.id == "False":
                return 0.0
            return np.asarray(env[node.id], dtype=float)
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left, env), self._eval(node.right, env)
            op = type(node.op)
            if op in _LOGIC:
                return _LOGIC[op](np.asarray(a) != 0, np.asarray(b) != 0).astype(float)
            return _BINOPS[op](np.asarray(a, dtype=float), b)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, env)
            if isinstance(node.op, ast.USub):
                return -np.asarray(v, dtype=float)
            if isinstance(node.op, ast.UAdd):
                return v
            return (np.asarray(v) == 0).astype(float)  # not / ~ on truth values
        if isinstance(node, ast.BoolOp):
            vals = [np.asarray(self._eval(v, env)) != 0 for v in node.values]
            f = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = vals[0]
            for v in vals[1:]:
                out = f(out, v)
            return out.astype(float)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            out = None
            for op, c in zip(node.ops, node.comparators):
                right = self._eval(c, env)
                r = _CMP[type(op)](left, right)
                out = r if out is None else np.logical_and(out, r)
                left = right
            return np.asarray(out).astype(float)
        # Call
        f, _ = _FUNCS[node.func.id]
        return f(*[np.asarray(self._eval(a, env), dtype=float) for a in node.args])

    def inputs(self) -> list[str]:
        """The input names used, sorted u1, u2, ..."""
        return sorted((n for n in self.names if n.startswith("u")), key=lambda s: int(s[1:]))

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __str__(self) -> str:
        return self.text
