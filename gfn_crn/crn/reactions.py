"""Reaction kinds, signatures and parameters (DESIGN.md section 3).

Three kinds, with propensity ``a(x, u)``; ``dx/dt = S a``:

* ``mass_action``: reactant multiset -> product multiset, ``a = k * prod x_i^nu_i``
  (``2 X`` gives ``x^2``, no 1/2 factor); reactant order at most 2.
* ``hill``: ``0 -> products``, ``a = b + V * prod_act x^n/(K^n+x^n) * prod_rep K^n/(K^n+x^n)``,
  one ``K`` (continuous) and one Hill coefficient ``n`` in {1,2,3,4} (discrete) per regulator.
* ``degradation``: ``S -> 0`` catalysed by ``E``, ``a = c * E * S/(K + S)``.

Any reaction may carry an input channel ``u<c>`` that multiplies one named rate factor
(``k`` for mass action, ``c`` for degradation, ``V`` or ``b`` for Hill). Library reactions carry
no input unless the library says so.

A reaction's *signature* is its kind, reactant and product multisets, regulators (activators,
repressors, enzyme) and input channel (including which factor it multiplies). Two reactions are
the same iff their signatures are equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

from .errors import CRNError
from .species import check_input_name, check_species_name

MASS_ACTION = "mass_action"
HILL = "hill"
DEGRADATION = "degradation"
KINDS = (MASS_ACTION, HILL, DEGRADATION)

#: Allowed Hill coefficients (the discrete parameters of Hill reactions).
HILL_COEFFICIENTS = (1, 2, 3, 4)
#: Largest reactant order the simulator supports for mass action.
MAX_ORDER = 2

Complex = tuple[tuple[str, int], ...]


def make_complex(names: Iterable[str] | dict[str, int]) -> Complex:
    """A canonical multiset: sorted ``(species, count)`` pairs, counts > 0."""
    counts: dict[str, int] = {}
    if isinstance(names, dict):
        for s, c in names.items():
            if int(c) != c or c < 0:
                raise CRNError(f"stoichiometric count for {s!r} must be a non-negative integer, got {c!r}")
            if c:
                counts[check_species_name(s)] = counts.get(s, 0) + int(c)
    else:
        for s in names:
            counts[check_species_name(s)] = counts.get(s, 0) + 1
    return tuple(sorted(counts.items()))


def complex_size(c: Complex) -> int:
    return sum(n for _, n in c)


def format_complex(c: Complex) -> str:
    if not c:
        return "0"
    return " + ".join(s if n == 1 else f"{n} {s}" for s, n in c)


@dataclass(frozen=True)
class Reaction:
    """The structure of one reaction (no parameter values).

    Build with :func:`mass_action`, :func:`hill`, :func:`degradation`.
    """

    kind: str
    reactants: Complex = ()
    products: Complex = ()
    activators: tuple[str, ...] = ()
    repressors: tuple[str, ...] = ()
    enzyme: str | None = None
    input: str | None = None
    input_factor: str | None = None

    # ------------------------------------------------------------------ structure
    def __post_init__(self):
        if self.kind not in KINDS:
            raise CRNError(f"unknown reaction kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind == MASS_ACTION:
            if complex_size(self.reactants) > MAX_ORDER:
                raise CRNError(
                    f"reactant order {complex_size(self.reactants)} of "
                    f"'{format_complex(self.reactants)}' exceeds the supported maximum {MAX_ORDER}"
                )
            if self.reactants == self.products:
                raise CRNError(f"reaction '{self.equation}' does nothing (reactants equal products)")
            if self.activators or self.repressors or self.enzyme:
                raise CRNError("mass-action reactions have no regulators")
        elif self.kind == HILL:
            if self.reactants:
                raise CRNError(f"Hill production must have no reactants (0 -> products), got '{self.equation}'")
            if not self.products:
                raise CRNError("Hill production must produce something")
            both = set(self.activators) & set(self.repressors)
            if both:
                raise CRNError(f"species {sorted(both)} cannot be both activator and repressor")
            regs = self.activators + self.repressors
            if len(set(regs)) != len(regs):
                raise CRNError(f"a regulator is listed twice in {list(regs)}")
            if self.enzyme:
                raise CRNError("Hill production has no enzyme")
        else:
            if len(self.reactants) != 1 or self.reactants[0][1] != 1 or self.products:
                raise CRNError(f"active degradation must have the form 'S -> 0', got '{self.equation}'")
            if not self.enzyme:
                raise CRNError("active degradation needs an enzyme ('by E')")
            check_species_name(self.enzyme)
            if self.enzyme == self.reactants[0][0]:
                raise CRNError(f"enzyme {self.enzyme!r} cannot degrade itself")
            if self.activators or self.repressors:
                raise CRNError("active degradation has no Hill regulators")
        if self.input is not None:
            check_input_name(self.input)
            if self.input_factor not in self.input_factors:
                raise CRNError(
                    f"input {self.input} cannot multiply {self.input_factor!r} in a {self.kind} "
                    f"reaction (allowed: {', '.join(self.input_factors)})"
                )
        elif self.input_factor is not None:
            raise CRNError("input_factor given without an input")

    @property
    def regulators(self) -> tuple[str, ...]:
        return self.activators + self.repressors

    @property
    def input_factors(self) -> tuple[str, ...]:
        """Names of the rate factors an input may multiply."""
        return {MASS_ACTION: ("k",), HILL: ("V", "b"), DEGRADATION: ("c",)}[self.kind]

    @cached_property
    def signature(self) -> tuple:
        return (
            self.kind,
            self.reactants,
            self.products,
            self.activators,
            self.repressors,
            self.enzyme,
            self.input,
            self.input_factor,
        )

    @cached_property
    def species(self) -> frozenset[str]:
        """Every species the reaction mentions (cached: networks validate it often)."""
        out = {s for s, _ in self.reactants} | {s for s, _ in self.products}
        out |= set(self.regulators)
        if self.enzyme:
            out.add(self.enzyme)
        return frozenset(out)

    @property
    def equation(self) -> str:
        return f"{format_complex(self.reactants)} -> {format_complex(self.products)}"

    # ------------------------------------------------------------------ parameters
    @property
    def continuous_names(self) -> tuple[str, ...]:
        if self.kind == MASS_ACTION:
            return ("k",)
        if self.kind == DEGRADATION:
            return ("c", "K")
        return ("b", "V") + tuple(f"K_{r}" for r in self.regulators)

    @property
    def discrete_names(self) -> tuple[str, ...]:
        if self.kind == HILL:
            return tuple(f"n_{r}" for r in self.regulators)
        return ()

    @property
    def n_continuous(self) -> int:
        return len(self.continuous_names)

    @property
    def n_discrete(self) -> int:
        return len(self.discrete_names)

    def check_params(self, cparams: Sequence[float], dparams: Sequence[int] = ()) -> tuple[tuple[float, ...], tuple[int, ...]]:
        """Validate parameter values; return them as canonical tuples.

        Every continuous parameter must be finite and > 0, except the Hill basal rate ``b``,
        which may be 0. Hill coefficients must be in :data:`HILL_COEFFICIENTS`.
        """
        names = self.continuous_names
        if len(cparams) != len(names):
            raise CRNError(
                f"'{self.equation}' ({self.kind}) takes {len(names)} continuous parameter(s) "
                f"{list(names)}, got {len(cparams)}"
            )
        dnames = self.discrete_names
        if len(dparams) != len(dnames):
            raise CRNError(
                f"'{self.equation}' ({self.kind}) takes {len(dnames)} discrete parameter(s) "
                f"{list(dnames)}, got {len(dparams)}"
            )
        cout = []
        for name, v in zip(names, cparams):
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise CRNError(f"parameter {name} of '{self.equation}' must be a number, got {v!r}") from None
            if not math.isfinite(v):
                raise CRNError(f"parameter {name} of '{self.equation}' must be finite, got {v}")
            if name == "b":
                if v < 0:
                    raise CRNError(f"parameter b of '{self.equation}' must be >= 0, got {v}")
            elif v <= 0:
                raise CRNError(f"parameter {name} of '{self.equation}' must be > 0, got {v}")
            cout.append(v)
        dout = []
        for name, v in zip(dnames, dparams):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, (int,)) or isinstance(v, bool) or v not in HILL_COEFFICIENTS:
                raise CRNError(
                    f"Hill coefficient {name} of '{self.equation}' must be one of "
                    f"{list(HILL_COEFFICIENTS)}, got {v!r}"
                )
            dout.append(int(v))
        return tuple(cout), tuple(dout)

    def describe(self) -> str:
        """A short human-readable form without parameter values."""
        s = self.equation
        if self.kind == HILL:
            parts = [f"act {a}" for a in self.activators] + [f"rep {r}" for r in self.repressors]
            s += " ; hill " + " ".join(parts)
        elif self.kind == DEGRADATION:
            s += f" ; deg by {self.enzyme}"
        if self.input:
            s += f" [{self.input_factor}*{self.input}]"
        return s

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.describe()


def mass_action(reactants: Iterable[str] | dict[str, int], products: Iterable[str] | dict[str, int],
                input: str | None = None) -> Reaction:
    """A mass-action reaction; ``reactants``/``products`` are species lists (repeats allowed)."""
    return Reaction(MASS_ACTION, make_complex(reactants), make_complex(products),
                    input=input, input_factor="k" if input else None)


def hill(products: Iterable[str] | dict[str, int], activators: Iterable[str] = (), repressors: Iterable[str] = (),
         input: str | None = None, input_factor: str = "V") -> Reaction:
    """A Hill production reaction ``0 -> products`` with activators and repressors."""
    acts = tuple(sorted(check_species_name(a) for a in activators))
    reps = tuple(sorted(check_species_name(r) for r in repressors))
    return Reaction(HILL, (), make_complex(products), acts, reps,
                    input=input, input_factor=input_factor if input else None)


def degradation(substrate: str, enzyme: str, input: str | None = None) -> Reaction:
    """Active degradation ``substrate -> 0`` catalysed by ``enzyme`` (Michaelis-Menten)."""
    return Reaction(DEGRADATION, make_complex([substrate]), (), enzyme=check_species_name(enzyme),
                    input=input, input_factor="c" if input else None)


@dataclass(frozen=True)
class ReactionInstance:
    """A reaction together with its parameter values (validated)."""

    reaction: Reaction
    cparams: tuple[float, ...]
    dparams: tuple[int, ...] = ()

    def __post_init__(self):
        c, d = self.reaction.check_params(self.cparams, self.dparams)
        object.__setattr__(self, "cparams", c)
        object.__setattr__(self, "dparams", d)

    @property
    def params(self) -> dict[str, float | int]:
        out: dict[str, float | int] = dict(zip(self.reaction.continuous_names, self.cparams))
        out.update(zip(self.reaction.discrete_names, self.dparams))
        return out
