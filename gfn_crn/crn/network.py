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
from .reaction_text import format_reaction, parse_reaction, reaction_from_dict, reaction_to_dict
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
