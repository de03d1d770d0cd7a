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

from .files import load_network
from .network import (
    format_network,
    network_from_dict,
    network_from_json,
    network_to_dict,
    network_to_json,
    parse_network,
)
from .reaction_text import format_number, format_reaction, parse_reaction, reaction_from_dict, reaction_to_dict

__all__ = ["parse_network", "format_network", "network_to_dict", "network_from_dict", "network_to_json",
           "network_from_json", "load_network", "parse_reaction", "format_reaction", "reaction_to_dict",
           "reaction_from_dict", "format_number"]
