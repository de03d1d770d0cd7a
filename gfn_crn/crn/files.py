"""Reading a network file: the one place where the suffix decides the format."""

from __future__ import annotations

from pathlib import Path

from .errors import CRNError
from .export import from_sbml
from .interop import from_antimony
from .limits import Limits, current_limits, read_text
from .network import Network, network_from_json, parse_network

__all__ = ["load_network"]


def load_network(path, limits: Limits | None = None) -> Network:
    """Read a network from a text, ``.json``, SBML (``.xml``, ``.sbml``) or Antimony (``.ant``,
    ``.antimony``) file; the suffix decides (SBML and Antimony: :mod:`gfn_crn.crn.interop`).

    Every problem raises :class:`CRNError` naming the file: missing, a directory, not UTF-8 text,
    over the size, species or reaction limits (:mod:`gfn_crn.crn.limits`; the size is checked
    before the file is read), or malformed (with the line).
    """
    p = Path(path)
    lim = current_limits(limits)
    text = read_text(p, "network file", lim)
    try:
        suffix = p.suffix.lower()
        if suffix == ".json":
            return network_from_json(text, lim)
        if suffix in (".xml", ".sbml", ".ant", ".antimony"):  # models written by other tools too
            net = from_sbml(text, name=p.stem) if suffix in (".xml", ".sbml") else from_antimony(text, name=p.stem)
            lim.check_species(len(net.species), f"{p.name} declares ")
            lim.check_reactions(len(net.all_reactions), f"{p.name} has ")
            return net
        return parse_network(text, name=p.stem, limits=lim)
    except CRNError as e:
        raise CRNError(f"{p}: {e}") from None
