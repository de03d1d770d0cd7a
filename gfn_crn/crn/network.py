"""Templates and networks.

A :class:`Template` is the fixed part of every candidate: the species, the outputs and the fixed
(typically input-driven) reactions with their parameters. A :class:`Network` is a template plus
a list of added reactions with parameters. Networks are immutable and hashable; two networks
are equal iff template and added reactions (in order) are equal. :meth:`Network.topology` gives
the order-free set of added signatures.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .errors import CRNError
from .limits import Limits, current_limits
from .reaction_text import _listing, _short_repr, format_reaction, parse_reaction, reaction_from_dict, reaction_to_dict
from .reactions import Reaction, ReactionInstance
from .species import INPUT_RE, SPECIES_RE, check_input_name, check_species_name, input_sort_key


def _check_instances(items: Iterable[ReactionInstance], species: set[str], what: str,
                     seen: dict[tuple, str]) -> tuple[ReactionInstance, ...]:
    out = []
    for i, inst in enumerate(items):
        if isinstance(inst, tuple) and not isinstance(inst, ReactionInstance):
            inst = ReactionInstance(*inst)
        if not isinstance(inst, ReactionInstance):
            raise CRNError(f"{what} {i} is not a ReactionInstance: {inst!r}")
        unknown = inst.reaction.species - species
        if unknown:
            raise CRNError(
                f"{what} '{inst.reaction.describe()}' uses undeclared species {sorted(unknown)} "
                f"(declared: {' '.join(sorted(species))})"
            )
        sig = inst.reaction.signature
        if sig in seen:
            raise CRNError(f"duplicate reaction '{inst.reaction.describe()}' ({seen[sig]} and {what})")
        seen[sig] = what
        out.append(inst)
    return tuple(out)


@dataclass(frozen=True)
class Template:
    """Species (ordered), output species and fixed reactions shared by every candidate."""

    species: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    fixed: tuple[ReactionInstance, ...] = ()
    declared_inputs: tuple[str, ...] = field(default=())

    def __post_init__(self):
        species = tuple(check_species_name(s) for s in self.species)
        if not species:
            raise CRNError("a template needs at least one species")
        if len(set(species)) != len(species):
            dup = sorted({s for s in species if species.count(s) > 1})
            raise CRNError(f"species declared twice: {dup}")
        outputs = tuple(self.outputs)
        for o in outputs:
            if o not in species:
                raise CRNError(f"output {o!r} is not a declared species (declared: {' '.join(species)})")
        fixed = _check_instances(self.fixed, set(species), "fixed reaction", {})
        declared = tuple(check_input_name(u) for u in self.declared_inputs)
        object.__setattr__(self, "species", species)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "fixed", fixed)
        object.__setattr__(self, "declared_inputs", declared)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Inputs declared or used by the fixed reactions, sorted u1, u2, ..."""
        used = {i.reaction.input for i in self.fixed if i.reaction.input}
        return tuple(sorted(used | set(self.declared_inputs), key=input_sort_key))

    @property
    def n_species(self) -> int:
        return len(self.species)

    def species_index(self, name: str) -> int:
        try:
            return self.species.index(name)
        except ValueError:
            raise CRNError(f"unknown species {name!r} (declared: {' '.join(self.species)})") from None

    def diff(self, other: "Template") -> list[str]:
        """Human-readable differences between two templates (empty if equal)."""
        out = []
        if self.species != other.species:
            out.append(f"species {list(self.species)} vs {list(other.species)}")
        if self.outputs != other.outputs:
            out.append(f"outputs {list(self.outputs)} vs {list(other.outputs)}")
        a = {i.reaction.signature: i for i in self.fixed}
        b = {i.reaction.signature: i for i in other.fixed}
        for sig in a.keys() - b.keys():
            out.append(f"fixed reaction '{a[sig].reaction.describe()}' only in the first")
        for sig in b.keys() - a.keys():
            out.append(f"fixed reaction '{b[sig].reaction.describe()}' only in the second")
        for sig in a.keys() & b.keys():
            if a[sig] != b[sig]:
                out.append(
                    f"fixed reaction '{a[sig].reaction.describe()}' has parameters "
                    f"{a[sig].params} vs {b[sig].params}"
                )
        return out


@dataclass(frozen=True)
class Network:
    """A template plus added reactions with parameters."""

    template: Template
    reactions: tuple[ReactionInstance, ...] = ()
    name: str | None = field(default=None, compare=False)

    def __post_init__(self):
        seen = {i.reaction.signature: "fixed reaction" for i in self.template.fixed}
        reactions = _check_instances(self.reactions, set(self.template.species), "reaction", seen)
        object.__setattr__(self, "reactions", reactions)

    # convenience views -----------------------------------------------------------
    @property
    def species(self) -> tuple[str, ...]:
        return self.template.species

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.template.outputs

    @property
    def all_reactions(self) -> tuple[ReactionInstance, ...]:
        """Fixed reactions first, then the added ones."""
        return self.template.fixed + self.reactions

    @property
    def inputs(self) -> tuple[str, ...]:
        used = {i.reaction.input for i in self.all_reactions if i.reaction.input}
        return tuple(sorted(used | set(self.template.declared_inputs), key=input_sort_key))

    @property
    def topology(self) -> frozenset:
        """The set of added reaction signatures (parameters and order ignored)."""
        return frozenset(i.reaction.signature for i in self.reactions)

    def with_reactions(self, reactions: Sequence[ReactionInstance]) -> "Network":
        return Network(self.template, tuple(reactions), self.name)

    # text / JSON -------------------------------------------------------------------
    def to_text(self) -> str:
        return format_network(self)

    @classmethod
    def from_text(cls, text: str) -> "Network":
        return parse_network(text)

    def to_json(self) -> str:
        return network_to_json(self)

    @classmethod
    def from_json(cls, text: str) -> "Network":
        return network_from_json(text)

    def __str__(self) -> str:
        return self.to_text()


# ---------------------------------------------------------------------------- text and JSON forms
# (the format is documented in gfn_crn.crn.textio)
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
