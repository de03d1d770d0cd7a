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
            raise CRNError(f"unknown species {s!r} (declared: {' '.join(sorted(declared))})")
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
            raise CRNError(f"unknown species {s!r} (declared: {' '.join(sorted(declared))})")
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


def parse_network(text: str, name: str | None = None) -> Network:
    """Parse the text format; errors name the line and the culprit."""
    species: list[str] | None = None
    outputs: list[str] = []
    inputs: list[str] = []
    fixed: list[tuple[int, str, ReactionInstance]] = []
    added: list[tuple[int, str, ReactionInstance]] = []
    header_seen: dict[str, int] = {}
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
                    if len(set(rest)) != len(rest):
                        raise CRNError(f"species declared twice: {sorted({s for s in rest if rest.count(s) > 1})}")
                    species = rest
                elif key == "outputs":
                    outputs = rest
                else:
                    inputs = [check_input_name(u) for u in rest]
                continue
            if species is None:
                raise CRNError("'species:' must be declared before the first reaction")
            declared = set(species)
            if m:  # fixed:
                fixed.append((lineno, raw, parse_reaction(m.group(2), declared)))
            else:
                added.append((lineno, raw, parse_reaction(line, declared)))
        except CRNError as e:
            raise e.at(lineno, raw) from None
    if species is None:
        raise CRNError("no 'species:' line")
    for o in outputs:
        if o not in species:
            raise CRNError(f"output {o!r} is not a declared species (declared: {' '.join(species)})",
                           header_seen.get("outputs"))
    # duplicates, located
    seen: dict[tuple, int] = {}
    for lineno, raw, inst in fixed + added:
        sig = inst.reaction.signature
        if sig in seen:
            raise CRNError(f"duplicate reaction '{inst.reaction.describe()}' (also on line {seen[sig]})", lineno, raw)
        seen[sig] = lineno
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
    try:
        r = Reaction(
            d["kind"],
            make_complex({s: n for s, n in d.get("reactants", [])}),
            make_complex({s: n for s, n in d.get("products", [])}),
            tuple(d.get("activators", ())),
            tuple(d.get("repressors", ())),
            d.get("enzyme"),
            d.get("input"),
            d.get("input_factor"),
        )
        params = d["params"]
        missing = [n for n in r.continuous_names if n not in params]
        if missing:
            raise CRNError(f"reaction '{r.equation}' misses parameters {missing}")
        extra = set(params) - set(r.continuous_names)
        if extra:
            raise CRNError(f"reaction '{r.equation}' has unknown parameters {sorted(extra)}")
        hc = d.get("hill_coefficients", {})
        return ReactionInstance(r, tuple(params[n] for n in r.continuous_names),
                                tuple(hc.get(n) for n in r.discrete_names))
    except KeyError as e:
        raise CRNError(f"reaction entry misses the key {e.args[0]!r}: {d}") from None


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


def network_from_dict(d: dict) -> Network:
    if "species" not in d:
        raise CRNError("network JSON has no 'species'")
    t = Template(tuple(d["species"]), tuple(d.get("outputs", ())),
                 tuple(reaction_from_dict(x) for x in d.get("fixed", ())), tuple(d.get("inputs", ())))
    return Network(t, tuple(reaction_from_dict(x) for x in d.get("reactions", ())), d.get("name"))


def network_to_json(net: Network) -> str:
    return json.dumps(network_to_dict(net), indent=1, allow_nan=False)


def network_from_json(text: str) -> Network:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise CRNError(f"invalid JSON: {e}") from None
    return network_from_dict(d)


def load_network(path) -> Network:
    """Read a network from a ``.json`` or text file."""
    from pathlib import Path

    p = Path(path)
    text = p.read_text()
    if p.suffix == ".json":
        return network_from_json(text)
    return parse_network(text, name=p.stem)
