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

from .examples import ANTITHETIC_TEXT, EXAMPLES, antithetic_example, example
from .random import random_instances, random_network

__all__ = [
    "CRNError", "ReactionLibrary", "mass_action_library", "hill_library", "degradation_library", "merge",
    "Network", "Template", "Reaction", "ReactionInstance", "mass_action", "hill", "degradation",
    "MASS_ACTION", "HILL", "DEGRADATION", "KINDS", "HILL_COEFFICIENTS", "parse_network", "format_network",
    "network_to_json", "network_from_json", "load_network", "antithetic_example", "ANTITHETIC_TEXT", "EXAMPLES", "example",
    "random_instances", "random_network",
]
