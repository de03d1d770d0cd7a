"""The structure of a network (what the topology reward and the local searches key on)."""

from __future__ import annotations

import zlib

from ..crn.network import Network


def structure_key(network: Network) -> frozenset:
    """The structure of a network: its added reactions with their discrete parameters, rates
    and order ignored (equal to :attr:`Network.topology` for mass-action libraries)."""
    return frozenset((i.reaction.signature, tuple(i.dparams)) for i in network.reactions)


def structure_seed(key: frozenset, seed: int) -> int:
    """A seed that depends only on the structure and ``seed`` (stable across processes and runs:
    no use of Python's salted ``hash``)."""
    text = "|".join(sorted(repr(k) for k in key))
    return (zlib.crc32(text.encode()) ^ (int(seed) * 0x9E3779B1)) & 0xFFFFFFFF


__all__ = ["structure_key", "structure_seed"]
