"""Reaction libraries: the choices a generator picks added reactions from.

Builders:

* :func:`mass_action_library` -- all ordered pairs (reactant complex, product complex) with
  reactant != product, complexes being multisets of size 0..max_order over the species. With
  ``C = (n+2 choose 2)`` complexes there are ``C (C-1)`` reactions: 30, 90, 210, 420, 756 for
  n = 2..6 species. (No ``0 -> 0`` filler: the generator has a real stop action.)
* :func:`hill_library` -- for each product complex and each choice of disjoint activator and
  repressor sets with 1..max_regulators regulators in all.
* :func:`degradation_library` -- the n(n-1) (substrate, enzyme) pairs.

Libraries merge with ``+`` or :func:`merge`; a duplicate signature is an error naming it.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import numpy as np

from .errors import CRNError
from .reactions import Reaction, degradation, hill, make_complex, mass_action
from .species import check_species_name

#: the orders in which a generator may add a design's library reactions: ``canonical`` (increasing
#: library index, one trajectory per design) or ``free`` (any order); :class:`gfn_crn.envs.CRNEnv`
#: takes one, and the run setting ``order`` offers these (declared here, below torch)
ORDERS = ("canonical", "free")


class ReactionLibrary:
    """An ordered, duplicate-free list of reactions over a fixed set of species.

    Attributes exposed for the environment:

    * ``n_continuous`` / ``n_discrete``: per-reaction parameter counts, arrays of shape (M,);
    * ``P_c`` / ``P_d``: their maxima (the padded widths);
    * ``continuous_mask`` (M, P_c) and ``discrete_mask`` (M, P_d): prefix masks, True on live slots.
    """

    def __init__(self, species: Sequence[str], reactions: Iterable[Reaction], name: str = "library"):
        self.species = tuple(check_species_name(s) for s in species)
        if len(set(self.species)) != len(self.species):
            raise CRNError(f"species listed twice in {list(self.species)}")
        self.name = name
        self.reactions: tuple[Reaction, ...] = tuple(reactions)
        known = set(self.species)
        self._index: dict[tuple, int] = {}
        for j, r in enumerate(self.reactions):
            if not isinstance(r, Reaction):
                raise CRNError(f"library entry {j} is not a Reaction: {r!r}")
            unknown = r.species - known
            if unknown:
                raise CRNError(
                    f"library reaction {j} '{r.describe()}' uses species {sorted(unknown)} "
                    f"not in the library's species {list(self.species)}"
                )
            sig = r.signature
            if sig in self._index:
                raise CRNError(
                    f"duplicate reaction '{r.describe()}' at positions {self._index[sig]} and {j}"
                )
            self._index[sig] = j
        self.n_continuous = np.array([r.n_continuous for r in self.reactions], dtype=np.int64)
        self.n_discrete = np.array([r.n_discrete for r in self.reactions], dtype=np.int64)
        self.P_c = int(self.n_continuous.max(initial=0))
        self.P_d = int(self.n_discrete.max(initial=0))
        self.continuous_mask = np.arange(self.P_c)[None, :] < self.n_continuous[:, None]
        self.discrete_mask = np.arange(self.P_d)[None, :] < self.n_discrete[:, None]

    def __len__(self) -> int:
        return len(self.reactions)

    def __getitem__(self, j: int) -> Reaction:
        return self.reactions[j]

    def __iter__(self):
        return iter(self.reactions)

    def __contains__(self, r: Reaction) -> bool:
        return r.signature in self._index

    def index(self, r: Reaction) -> int:
        """Position of ``r`` (by signature); :class:`CRNError` if absent."""
        try:
            return self._index[r.signature]
        except KeyError:
            raise CRNError(f"reaction '{r.describe()}' is not in {self.name}") from None

    def __add__(self, other: "ReactionLibrary") -> "ReactionLibrary":
        return merge(self, other)

    def __repr__(self) -> str:
        return f"ReactionLibrary({self.name!r}, species={list(self.species)}, M={len(self)})"


def merge(*libraries: ReactionLibrary, name: str | None = None) -> ReactionLibrary:
    """Concatenate libraries (species united in order of appearance); duplicates are an error."""
    species: list[str] = []
    reactions: list[Reaction] = []
    for lib in libraries:
        species += [s for s in lib.species if s not in species]
        reactions += list(lib.reactions)
    return ReactionLibrary(species, reactions, name=name or "+".join(l.name for l in libraries))


def complexes(species: Sequence[str], max_size: int, min_size: int = 0) -> list[tuple[str, ...]]:
    """All multisets of ``min_size..max_size`` species, as sorted name tuples (in species order)."""
    out: list[tuple[str, ...]] = []
    for size in range(min_size, max_size + 1):
        out += list(itertools.combinations_with_replacement(species, size))
    return out


def mass_action_library(species: Sequence[str], max_order: int = 2) -> ReactionLibrary:
    """Every mass-action reaction between complexes of size 0..max_order (reactant != product)."""
    species = [check_species_name(s) for s in species]
    if max_order > 2:
        raise CRNError(f"max_order {max_order} > 2 is not supported by the simulator")
    cs = complexes(species, max_order)
    reactions = [mass_action(r, p) for r in cs for p in cs if make_complex(r) != make_complex(p)]
    return ReactionLibrary(species, reactions, name=f"mass_action({len(species)})")


def hill_library(
    species: Sequence[str],
    max_regulators: int = 1,
    products: Sequence[Sequence[str]] | None = None,
    activators: bool = True,
    repressors: bool = True,
) -> ReactionLibrary:
    """Hill production reactions.

    ``products`` lists the product complexes (default: each single species). For each product
    complex, every pair of disjoint activator and repressor sets with 1..max_regulators
    regulators in total gives one reaction.
    """
    species = [check_species_name(s) for s in species]
    if max_regulators < 1:
        raise CRNError("max_regulators must be >= 1")
    prods = [tuple(p) for p in products] if products is not None else [(s,) for s in species]
    reactions = []
    for p in prods:
        for n_reg in range(1, max_regulators + 1):
            for regs in itertools.combinations(species, n_reg):
                for roles in itertools.product((0, 1), repeat=n_reg):
                    acts = [r for r, role in zip(regs, roles) if role == 0]
                    reps = [r for r, role in zip(regs, roles) if role == 1]
                    if (acts and not activators) or (reps and not repressors):
                        continue
                    reactions.append(hill(p, acts, reps))
    return ReactionLibrary(species, reactions, name=f"hill({len(species)},{max_regulators})")


def degradation_library(species: Sequence[str]) -> ReactionLibrary:
    """Active degradation of each species by each other species: n(n-1) reactions."""
    species = [check_species_name(s) for s in species]
    reactions = [degradation(s, e) for s in species for e in species if s != e]
    return ReactionLibrary(species, reactions, name=f"degradation({len(species)})")
