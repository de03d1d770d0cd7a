"""Species and input names."""

from __future__ import annotations

import re

from .errors import CRNError

SPECIES_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
INPUT_RE = re.compile(r"^u[1-9][0-9]*\Z")


def check_species_name(name: str) -> str:
    """Return ``name`` if it is a valid species name, else raise :class:`CRNError`.

    Species names are identifiers; names of the form ``u<k>`` are reserved for inputs and
    ``0`` denotes the empty complex.
    """
    if not isinstance(name, str) or not SPECIES_RE.match(name):
        raise CRNError(f"invalid species name {name!r} (expected an identifier such as X1)")
    if INPUT_RE.match(name):
        raise CRNError(f"species name {name!r} is reserved for inputs (u1, u2, ...)")
    return name


def check_input_name(name: str) -> str:
    """Return ``name`` if it names an input (``u1``, ``u2``, ...), else raise."""
    if not isinstance(name, str) or not INPUT_RE.match(name):
        raise CRNError(f"invalid input name {name!r} (inputs are named u1, u2, ...)")
    return name


def input_sort_key(name: str) -> int:
    return int(name[1:])
