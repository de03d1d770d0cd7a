"""The CRN model: species, reactions, libraries, templates and networks (DESIGN.md section 3)."""

from .errors import CRNError
from .library import ReactionLibrary, degradation_library, hill_library, mass_action_library, merge
from .network import Network, Template
from .reactions import (
    DEGRADATION,
    HILL,
    HILL_COEFFICIENTS,
    KINDS,
    MASS_ACTION,
    Reaction,
    ReactionInstance,
    degradation,
    hill,
    mass_action,
)
from .textio import format_network, load_network, network_from_json, network_to_json, parse_network

ANTITHETIC_TEXT = """\
# antithetic integral feedback
species: X1 Z1 Z2
outputs: X1
fixed: 0 -> Z1 ; k=1 * u1
fixed: X1 -> 0 ; k=1 * u2
Z1 -> Z1 + X1 ; k=3.11312
X1 -> Z2 ; k=1.00065
Z1 + Z2 -> 0 ; k=1.03465
0 -> 2 X1 ; k=0.952284
X1 + Z2 -> Z2 ; k=2.84721
"""


def antithetic_example() -> Network:
    """The antithetic integral feedback design of DESIGN.md section 5 (full-precision rates)."""
    return parse_network(ANTITHETIC_TEXT, name="antithetic integral feedback")


__all__ = [
    "CRNError", "ReactionLibrary", "mass_action_library", "hill_library", "degradation_library", "merge",
    "Network", "Template", "Reaction", "ReactionInstance", "mass_action", "hill", "degradation",
    "MASS_ACTION", "HILL", "DEGRADATION", "KINDS", "HILL_COEFFICIENTS", "parse_network", "format_network",
    "network_to_json", "network_from_json", "load_network", "antithetic_example", "ANTITHETIC_TEXT",
]
