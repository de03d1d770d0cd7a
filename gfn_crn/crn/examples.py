"""Example networks in the text format (used by the demo, the docs and the tests)."""

from __future__ import annotations

from .network import Network
from .textio import parse_network

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

TOGGLE_TEXT = """\
# a Hill toggle switch with input-driven activation and enzymatic clearance
species: X1 X2 E
outputs: X1
fixed: 0 -> X1 ; hill b=0.05 V=2 * u1 rep X2 K=0.5 n=2
fixed: 0 -> X2 ; hill b=0.05 V=2 rep X1 K=0.5 n=2
X1 -> 0 ; k=0.5
X2 -> 0 ; k=0.5
0 -> E ; k=0.1
X2 -> 0 ; deg c=1 K=0.5 by E
"""

AUTOCATALYTIC_TEXT = """\
# X -> 2X blows up: flagged as diverged, never an exception
species: X
outputs: X
X -> 2 X ; k=0.5
"""

EXAMPLES = {
    "antithetic": ANTITHETIC_TEXT,
    "toggle": TOGGLE_TEXT,
    "autocatalytic": AUTOCATALYTIC_TEXT,
}


def example(name: str) -> Network:
    """One of :data:`EXAMPLES` as a :class:`Network`."""
    try:
        text = EXAMPLES[name]
    except KeyError:
        raise KeyError(f"unknown example {name!r} (known: {', '.join(EXAMPLES)})") from None
    return parse_network(text, name=name)


def antithetic_example() -> Network:
    """The antithetic integral feedback design of DESIGN.md section 5 (full-precision rates)."""
    return example("antithetic")
