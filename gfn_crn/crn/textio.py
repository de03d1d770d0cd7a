"""Plain-text and JSON forms of networks.

Text format (one item per line, ``#`` starts a comment)::

    species: X1 Z1 Z2          # required, before any reaction; fixes the species order
    outputs: X1                # optional
    inputs: u1 u2              # optional; inputs used by reactions are added automatically
    fixed: 0 -> Z1 ; k=1 * u1  # a template reaction (input u1 multiplies k)
    Z1 -> Z1 + X1 ; k=3.11312  # an added mass-action reaction
    0 -> X2 ; hill b=0.1 V=2 act X1 K=0.5 n=2 rep X3 K=1 n=1
    X1 -> 0 ; deg c=1 K=0.5 by Z1

Complexes are ``0`` (empty) or ``a A + b B`` with integer coefficients. Parameter forms:

* mass action: ``k=<value>`` or ``k=<value> * u<c>``;
* Hill production: ``hill b=<basal> V=<max>`` followed, for each regulator, by ``act S K=<K>
  n=<n>`` or ``rep S K=<K> n=<n>``; ``V`` (or ``b``) may be multiplied by an input;
* active degradation: ``deg c=<value> K=<value> by <enzyme>``; ``c`` may be multiplied by an input.

Numbers are written with Python's shortest round-trip repr, so format -> parse is lossless.
"""

from __future__ import annotations

import json
import math
import re

from .errors import CRNError
from .limits import Limits, current_limits, read_text
from .network import Network, Template
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


def parse_network(text: str, name: str | None = None, limits: Limits | None = None) -> Network:
    """Parse the text format; errors name the line and the culprit.

    ``limits`` (default :meth:`Limits.from_env`) bounds the species and reactions: the count is
    checked as the file is read, before anything is built. Duplicate reactions are found by a
    hash of their signatures (linear time).
    """
    lim = current_limits(limits)
    species: list[str] | None = None
    declared: set[str] = set()
    n_reactions = 0
    outputs: list[str] = []
    inputs: list[str] = []
    fixed: list[tuple[int, str, ReactionInstance]] = []
    added: list[tuple[int, str, ReactionInstance]] = []
    header_seen: dict[str, int] = {}
    seen: dict[tuple, int] = {}  # reaction signature -> line
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            m = re.match(r"^(species|outputs|inputs|fixed)\s*:(.*)$", line)
            if m and m.group(1) != "fixed":
                key, rest = m.group(1), m.group(2).split()
                if key in header_seen:
                    raise CRNError(f"'{key}:' given twice (first on line {header_seen[key]})")
                header_seen[key] = lineno
                if key == "species":
                    if fixed or added:
                        raise CRNError("'species:' must come before the reactions")
                    if not rest:
                        raise CRNError("'species:' lists no species")
                    for s in rest:
                        if INPUT_RE.match(s):
                            raise CRNError(f"{s!r} is reserved for inputs and cannot be a species")
                        if not SPECIES_RE.match(s):
                            raise CRNError(f"malformed species name {s!r}")
                    lim.check_species(len(rest), "'species:' declares ")
                    declared = set(rest)
                    if len(declared) != len(rest):
                        seen_s: set[str] = set()
                        twice = sorted({s for s in rest if s in seen_s or seen_s.add(s)})
                        raise CRNError(f"species declared twice: {twice[:20]}")
                    species = rest
                elif key == "outputs":
                    outputs = rest
                else:
                    inputs = [check_input_name(u) for u in rest]
                continue
            if species is None:
                raise CRNError("'species:' must be declared before the first reaction")
            n_reactions += 1
            if n_reactions > lim.reactions:
                lim.check_reactions(n_reactions, "the file has ")
            inst = parse_reaction(m.group(2) if m else line, declared)
            sig = inst.reaction.signature  # duplicates: one hash look-up per reaction, found as read
            if sig in seen:
                raise CRNError(f"duplicate reaction '{inst.reaction.describe()}' (also on line {seen[sig]})")
            seen[sig] = lineno
            (fixed if m else added).append((lineno, raw, inst))
        except CRNError as e:
            raise e.at(lineno, raw) from None
    if species is None:
        raise CRNError("no 'species:' line")
    for o in outputs:
        if o not in species:
            raise CRNError(f"output {o!r} is not a declared species (declared: {_listing(species)})",
                           header_seen.get("outputs"))
    template = Template(tuple(species), tuple(outputs), tuple(i for _, _, i in fixed), tuple(inputs))
    return Network(template, tuple(i for _, _, i in added), name)


def format_network(net: Network, header: str | None = None) -> str:
    lines = []
    if header:
        lines += [f"# {h}" for h in header.splitlines()]
    elif net.name:
        lines.append(f"# {net.name}")
    t = net.template
    lines.append("species: " + " ".join(t.species))
    if t.outputs:
        lines.append("outputs: " + " ".join(t.outputs))
    if t.declared_inputs:
        lines.append("inputs: " + " ".join(t.declared_inputs))
    lines += ["fixed: " + format_reaction(i) for i in t.fixed]
    lines += [format_reaction(i) for i in net.reactions]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- JSON
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


def network_to_dict(net: Network) -> dict:
    t = net.template
    return {
        "format": "gfn_crn.network/1",
        "name": net.name,
        "species": list(t.species),
        "outputs": list(t.outputs),
        "inputs": list(t.declared_inputs),
        "fixed": [reaction_to_dict(i) for i in t.fixed],
        "reactions": [reaction_to_dict(i) for i in net.reactions],
    }


def network_from_dict(d: dict, limits: Limits | None = None) -> Network:
    """The inverse of :func:`network_to_dict`; malformed entries raise :class:`CRNError` naming
    them, and ``limits`` bounds the species and reactions before anything is built."""
    lim = current_limits(limits)
    if not isinstance(d, dict):
        raise CRNError(f"network JSON must be an object, got {_short_repr(d)}")
    if "species" not in d:
        raise CRNError("network JSON has no 'species'")
    lists = {}
    for key in ("species", "outputs", "inputs", "fixed", "reactions"):
        v = d.get(key, [])
        if not isinstance(v, list):
            raise CRNError(f"network JSON: '{key}' must be a list, got {_short_repr(v)}")
        lists[key] = v
    for key in ("species", "outputs", "inputs"):
        bad = [x for x in lists[key] if not isinstance(x, str)]
        if bad:
            raise CRNError(f"network JSON: '{key}' must list names (strings), got {_short_repr(bad[0])}")
    lim.check_species(len(lists["species"]), "network JSON declares ")
    lim.check_reactions(len(lists["fixed"]) + len(lists["reactions"]), "network JSON has ")
    name = d.get("name")
    if name is not None and not isinstance(name, str):
        raise CRNError(f"network JSON: 'name' must be a string, got {_short_repr(name)}")

    def parse(key):
        out = []
        for i, x in enumerate(lists[key]):
            try:
                out.append(reaction_from_dict(x))
            except CRNError as e:
                raise CRNError(f"network JSON '{key}' entry {i}: {e}") from None
        return tuple(out)

    t = Template(tuple(lists["species"]), tuple(lists["outputs"]), parse("fixed"), tuple(lists["inputs"]))
    return Network(t, parse("reactions"), name)


def network_to_json(net: Network) -> str:
    return json.dumps(network_to_dict(net), indent=1, allow_nan=False)


def network_from_json(text: str, limits: Limits | None = None) -> Network:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise CRNError(f"invalid JSON: {e}") from None
    except RecursionError:
        raise CRNError("invalid JSON: nested too deeply") from None
    return network_from_dict(d, limits)


def load_network(path, limits: Limits | None = None) -> Network:
    """Read a network from a ``.json`` or text file.

    Every problem raises :class:`CRNError` naming the file: missing, a directory, not UTF-8 text,
    over the size, species or reaction limits (:mod:`gfn_crn.crn.limits`; the size is checked
    before the file is read), or malformed (with the line).
    """
    from pathlib import Path

    p = Path(path)
    lim = current_limits(limits)
    text = read_text(p, "network file", lim)
    try:
        if p.suffix == ".json":
            return network_from_json(text, lim)
        return parse_network(text, name=p.stem, limits=lim)
    except CRNError as e:
        raise CRNError(f"{p}: {e}") from None
