"""The text and JSON forms of single reactions (the network-level forms are in
:mod:`gfn_crn.crn.network`; :mod:`gfn_crn.crn.textio` documents the format and gathers both)."""

from __future__ import annotations

import math
import re

from .errors import CRNError
from .reactions import (
    DEGRADATION,
    HILL,
    MASS_ACTION,
    Reaction,
    ReactionInstance,
    format_complex,
    make_complex,
)
from .species import INPUT_RE, SPECIES_RE, check_input_name

_TERM_RE = re.compile(r"^(?:(\d+)\s*\*?\s*)?([A-Za-z_][A-Za-z0-9_]*)$")


def _listing(names, most: int = 20) -> str:
    """``A B C ...`` (at most ``most`` names, then how many in all): error messages stay one
    short line even for a file that declares thousands of species."""
    names = sorted(names)
    return " ".join(names[:most]) + (f" ... ({len(names)} in all)" if len(names) > most else "")


def format_number(v: float) -> str:
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def _parse_number(tok: str, name: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise CRNError(f"parameter {name}: {tok!r} is not a number") from None
    if math.isnan(v):
        raise CRNError(f"parameter {name} is NaN")
    if math.isinf(v):
        raise CRNError(f"parameter {name} is infinite")
    return v


def _parse_value(tok: str, name: str) -> tuple[float, str | None]:
    """``1.5`` or ``1.5*u2`` -> (value, input)."""
    if "*" in tok:
        a, b = tok.split("*", 1)
        if INPUT_RE.match(b):
            return _parse_number(a, name), b
        if INPUT_RE.match(a):
            return _parse_number(b, name), a
        raise CRNError(f"parameter {name}: {tok!r} must be a number times an input such as u1")
    return _parse_number(tok, name), None


def _parse_complex(text: str, declared: set[str]) -> dict[str, int]:
    text = text.strip()
    if text in ("0", "", "∅"):
        if text == "":
            raise CRNError("empty side of a reaction (write 0 for nothing)")
        return {}
    out: dict[str, int] = {}
    for term in text.split("+"):
        term = term.strip()
        m = _TERM_RE.match(term)
        if not m:
            raise CRNError(f"malformed complex term {term!r}")
        n = int(m.group(1)) if m.group(1) else 1
        s = m.group(2)
        if INPUT_RE.match(s):
            raise CRNError(f"{s!r} is an input, not a species; inputs multiply rates (k=1 * {s})")
        if s not in declared:
            raise CRNError(f"unknown species {s!r} (declared: {_listing(declared)})")
        if n == 0:
            raise CRNError(f"zero coefficient in {term!r}")
        out[s] = out.get(s, 0) + n
    return out


def _expect_kv(tokens: list[str], i: int, key: str) -> tuple[str, int]:
    if i >= len(tokens) or not tokens[i].startswith(key + "="):
        got = tokens[i] if i < len(tokens) else "end of line"
        raise CRNError(f"expected {key}=<value>, got {got!r}")
    return tokens[i][len(key) + 1:], i + 1


def parse_reaction(line: str, declared: set[str]) -> ReactionInstance:
    """Parse ``LHS -> RHS ; PARAMS`` into a :class:`ReactionInstance`."""
    if ";" not in line:
        raise CRNError("missing ';' between the reaction and its parameters")
    eq, params = line.split(";", 1)
    if eq.count("->") != 1:
        raise CRNError("a reaction needs exactly one '->'")
    lhs, rhs = eq.split("->")
    reactants = _parse_complex(lhs, declared)
    products = _parse_complex(rhs, declared)
    params = re.sub(r"\s*\*\s*", "*", params.strip())
    params = re.sub(r"\s*=\s*", "=", params)
    tokens = params.split()
    if not tokens:
        raise CRNError("missing parameters after ';'")
    kind = MASS_ACTION
    if tokens[0] in ("hill", "deg", "mass"):
        kind = {"hill": HILL, "deg": DEGRADATION, "mass": MASS_ACTION}[tokens[0]]
        tokens = tokens[1:]
    elif not tokens[0].startswith("k="):
        raise CRNError(f"unknown parameter form {tokens[0]!r} (expected k=..., 'hill ...' or 'deg ...')")

    def check_species(s: str) -> str:
        if not SPECIES_RE.match(s):
            raise CRNError(f"malformed species name {s!r}")
        if s not in declared:
            raise CRNError(f"unknown species {s!r} (declared: {_listing(declared)})")
        return s

    if kind == MASS_ACTION:
        v, i = _expect_kv(tokens, 0, "k")
        k, u = _parse_value(v, "k")
        if i != len(tokens):
            raise CRNError(f"unexpected {' '.join(tokens[i:])!r} after k")
        r = Reaction(MASS_ACTION, make_complex(reactants), make_complex(products),
                     input=u, input_factor="k" if u else None)
        return ReactionInstance(r, (k,))
    if kind == DEGRADATION:
        v, i = _expect_kv(tokens, 0, "c")
        c, u = _parse_value(v, "c")
        v, i = _expect_kv(tokens, i, "K")
        K = _parse_number(v, "K")
        if i + 2 != len(tokens) or tokens[i] != "by":
            raise CRNError("degradation parameters must end with 'by <enzyme>'")
        enzyme = check_species(tokens[i + 1])
        r = Reaction(DEGRADATION, make_complex(reactants), make_complex(products), enzyme=enzyme,
                     input=u, input_factor="c" if u else None)
        return ReactionInstance(r, (c, K))
    # Hill
    v, i = _expect_kv(tokens, 0, "b")
    b, ub = _parse_value(v, "b")
    v, i = _expect_kv(tokens, i, "V")
    V, uV = _parse_value(v, "V")
    if ub and uV:
        raise CRNError("only one of b and V may be multiplied by an input")
    regs: dict[str, tuple[str, float, int]] = {}
    while i < len(tokens):
        role = tokens[i]
        if role not in ("act", "rep"):
            raise CRNError(f"expected 'act' or 'rep', got {role!r}")
        if i + 1 >= len(tokens):
            raise CRNError(f"'{role}' needs a species")
        s = check_species(tokens[i + 1])
        if s in regs:
            raise CRNError(f"regulator {s!r} listed twice")
        kv, i = _expect_kv(tokens, i + 2, "K")
        K = _parse_number(kv, f"K_{s}")
        nv, i = _expect_kv(tokens, i, "n")
        try:
            n = int(nv)
        except ValueError:
            raise CRNError(f"Hill coefficient n_{s}: {nv!r} is not an integer") from None
        regs[s] = (role, K, n)
    if not regs:
        raise CRNError("Hill production needs at least one regulator (act S K=.. n=.. or rep S K=.. n=..)")
    acts = tuple(sorted(s for s, (role, _, _) in regs.items() if role == "act"))
    reps = tuple(sorted(s for s, (role, _, _) in regs.items() if role == "rep"))
    u = ub or uV
    r = Reaction(HILL, make_complex(reactants), make_complex(products), acts, reps,
                 input=u, input_factor=("b" if ub else "V") if u else None)
    order = acts + reps
    return ReactionInstance(r, (b, V) + tuple(regs[s][1] for s in order), tuple(regs[s][2] for s in order))


def format_reaction(inst: ReactionInstance) -> str:
    r = inst.reaction
    p = inst.params

    def val(name: str) -> str:
        s = format_number(p[name])
        return f"{s} * {r.input}" if r.input and r.input_factor == name else s

    eq = f"{format_complex(r.reactants)} -> {format_complex(r.products)}"
    if r.kind == MASS_ACTION:
        return f"{eq} ; k={val('k')}"
    if r.kind == DEGRADATION:
        return f"{eq} ; deg c={val('c')} K={format_number(p['K'])} by {r.enzyme}"
    parts = [f"{eq} ; hill b={val('b')} V={val('V')}"]
    for role, regs in (("act", r.activators), ("rep", r.repressors)):
        for s in regs:
            parts.append(f"{role} {s} K={format_number(p['K_' + s])} n={p['n_' + s]}")
    return " ".join(parts)


def reaction_to_dict(inst: ReactionInstance) -> dict:
    r = inst.reaction
    d = {
        "kind": r.kind,
        "reactants": [[s, n] for s, n in r.reactants],
        "products": [[s, n] for s, n in r.products],
        "params": dict(zip(r.continuous_names, inst.cparams)),
    }
    if r.kind == HILL:
        d["activators"] = list(r.activators)
        d["repressors"] = list(r.repressors)
        d["hill_coefficients"] = dict(zip(r.discrete_names, inst.dparams))
    if r.enzyme:
        d["enzyme"] = r.enzyme
    if r.input:
        d["input"] = r.input
        d["input_factor"] = r.input_factor
    return d


def reaction_from_dict(d: dict) -> ReactionInstance:
    if not isinstance(d, dict):
        raise CRNError(f"a reaction entry must be a JSON object, got {_short_repr(d)}")
    try:
        def complex_of(key):
            pairs = d.get(key, [])
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise CRNError(f"'{key}' must be a list of [species, count] pairs, got {_short_repr(pairs)}")
            for sp, n in pairs:
                if not isinstance(sp, str) or isinstance(n, bool) or not isinstance(n, int):
                    raise CRNError(f"'{key}': [{sp!r}, {n!r}] is not a [species, integer count] pair")
            return make_complex({s: n for s, n in pairs})

        def names(key):
            v = d.get(key, ())
            if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
                raise CRNError(f"'{key}' must be a list of species names, got {_short_repr(v)}")
            return tuple(v)

        for key in ("kind", "enzyme", "input", "input_factor"):
            if d.get(key) is not None and not isinstance(d.get(key), str):
                raise CRNError(f"'{key}' must be a string, got {_short_repr(d.get(key))}")
        r = Reaction(
            d["kind"],
            complex_of("reactants"),
            complex_of("products"),
            names("activators"),
            names("repressors"),
            d.get("enzyme"),
            d.get("input"),
            d.get("input_factor"),
        )
        params = d["params"]
        if not isinstance(params, dict):
            raise CRNError(f"'params' must be an object of numbers, got {_short_repr(params)}")
        missing = [n for n in r.continuous_names if n not in params]
        if missing:
            raise CRNError(f"reaction '{r.equation}' misses parameters {missing}")
        extra = set(params) - set(r.continuous_names)
        if extra:
            raise CRNError(f"reaction '{r.equation}' has unknown parameters {sorted(extra)}")
        for n in r.continuous_names:
            if isinstance(params[n], bool) or not isinstance(params[n], (int, float)):
                raise CRNError(f"reaction '{r.equation}': parameter {n} = {_short_repr(params[n])} is not a number")
        hc = d.get("hill_coefficients", {})
        if not isinstance(hc, dict):
            raise CRNError(f"'hill_coefficients' must be an object, got {_short_repr(hc)}")
        return ReactionInstance(r, tuple(params[n] for n in r.continuous_names),
                                tuple(hc.get(n) for n in r.discrete_names))
    except KeyError as e:
        raise CRNError(f"reaction entry misses the key {e.args[0]!r}: {_short_repr(d)}") from None
    except (TypeError, ValueError, AttributeError, OverflowError) as e:
        if isinstance(e, CRNError):
            raise
        raise CRNError(f"malformed reaction entry {_short_repr(d)} ({type(e).__name__}: {e})") from None


def _short_repr(v, most: int = 120) -> str:
    r = repr(v)
    return r if len(r) <= most else r[:most - 4] + " ..."
