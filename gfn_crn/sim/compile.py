"""Turn a batch of networks into index arrays for vectorised kinetics.

Every reaction kind is written as one or two *terms* ``coef * prod_j f_j(x)`` with at most J
factors, each factor one of

* ``CONST`` : 1 (padding),
* ``LINEAR``: x_i,
* ``ACT``   : x_i^n / (K^n + x_i^n),
* ``REP``   : K^n / (K^n + x_i^n).

Mass action ``k * x_a * x_b`` is two LINEAR factors (``2 X`` gives x*x); Hill production is a
basal term ``b`` (no factors) plus ``V * prod ACT * prod REP``; active degradation is
``c * E * S/(K+S)`` = LINEAR(E) * ACT(S, K, n=1). An input channel multiplies ``coef`` of the
term holding the named factor. Terms of different networks are padded with ``coef = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Network
from ..crn.reactions import DEGRADATION, HILL, MASS_ACTION

CONST, LINEAR, ACT, REP = 0, 1, 2, 3


@dataclass
class CompiledBatch:
    """Index arrays for B networks over N species, R terms (padded), J factor slots."""

    species: tuple[str, ...]
    inputs: tuple[str, ...]      # input names, in channel order
    coef: np.ndarray             # (B, R) float
    chan: np.ndarray             # (B, R) int, input channel or -1
    ftype: np.ndarray            # (B, R, J) int
    fidx: np.ndarray             # (B, R, J) int in 0..N (N is a constant-1 slot)
    fK: np.ndarray               # (B, R, J) float (1 where unused)
    fn: np.ndarray               # (B, R, J) float Hill exponent (1 where unused)
    S: np.ndarray                # (B, N, R) net stoichiometric change
    has_hill: bool               # any ACT/REP factor (else the mass-action fast path applies)

    @property
    def B(self) -> int:
        return self.coef.shape[0]

    @property
    def N(self) -> int:
        return len(self.species)

    def take(self, idx: np.ndarray) -> "CompiledBatch":
        """Rows ``idx`` (e.g. one network per system)."""
        return CompiledBatch(self.species, self.inputs, self.coef[idx], self.chan[idx], self.ftype[idx],
                             self.fidx[idx], self.fK[idx], self.fn[idx], self.S[idx], self.has_hill)


def _terms(net: Network, sidx: dict[str, int], chan_of: dict[str, int]):
    """Yield (coef, chan, factors[(type, idx, K, n)], stoich{idx: change}) for each term."""
    for inst in net.all_reactions:
        r = inst.reaction
        p = inst.params
        ch = chan_of[r.input] if r.input else -1
        stoich: dict[int, int] = {}
        for s, n in r.reactants:
            stoich[sidx[s]] = stoich.get(sidx[s], 0) - n
        for s, n in r.products:
            stoich[sidx[s]] = stoich.get(sidx[s], 0) + n
        if r.kind == MASS_ACTION:
            factors = [(LINEAR, sidx[s], 1.0, 1.0) for s, n in r.reactants for _ in range(n)]
            yield p["k"], ch, factors, stoich
        elif r.kind == DEGRADATION:
            (s, _), = r.reactants
            factors = [(LINEAR, sidx[r.enzyme], 1.0, 1.0), (ACT, sidx[s], p["K"], 1.0)]
            yield p["c"], ch, factors, stoich
        elif r.kind == HILL:
            if p["b"] > 0:
                yield p["b"], ch if r.input_factor == "b" else -1, [], stoich
            factors = [(ACT, sidx[a], p[f"K_{a}"], float(p[f"n_{a}"])) for a in r.activators]
            factors += [(REP, sidx[q], p[f"K_{q}"], float(p[f"n_{q}"])) for q in r.repressors]
            yield p["V"], ch if r.input_factor == "V" else -1, factors, stoich
        else:  # pragma: no cover - Reaction validates kinds
            raise CRNError(f"unknown kind {r.kind}")


def compile_networks(networks: Sequence[Network], inputs: Sequence[str] | None = None) -> CompiledBatch:
    """Compile networks sharing one species list. ``inputs`` fixes the channel order (default:
    every input the networks use, sorted)."""
    if len(networks) == 0:
        raise CRNError("no networks to compile")
    for i, net in enumerate(networks):
        if not isinstance(net, Network):
            raise CRNError(f"item {i} of the batch is not a Network: {type(net).__name__}")
    species = networks[0].species
    for i, net in enumerate(networks):
        if net.species != species:
            raise CRNError(
                f"network {i} has species {list(net.species)} but network 0 has {list(species)}; "
                "a batch must share one species list"
            )
    used = sorted({u for net in networks for u in net.inputs}, key=lambda u: int(u[1:]))
    if inputs is None:
        inputs = used
    inputs = tuple(inputs)
    chan_of = {u: c for c, u in enumerate(inputs)}
    sidx = {s: i for i, s in enumerate(species)}
    N = len(species)
    all_terms = []
    for i, net in enumerate(networks):
        missing = [u for u in net.inputs if u not in chan_of]
        if missing:
            raise CRNError(f"network {i} uses input(s) {missing} that the scenarios do not define "
                           f"(defined: {list(inputs) or 'none'})")
        all_terms.append(list(_terms(net, sidx, chan_of)))
    B = len(networks)
    R = max(1, max(len(t) for t in all_terms))
    J = max([2] + [len(f) for terms in all_terms for _, _, f, _ in terms])
    coef = np.zeros((B, R))
    chan = np.full((B, R), -1, dtype=np.int64)
    ftype = np.zeros((B, R, J), dtype=np.int64)
    fidx = np.full((B, R, J), N, dtype=np.int64)
    fK = np.ones((B, R, J))
    fn = np.ones((B, R, J))
    S = np.zeros((B, N, R))
    for b, terms in enumerate(all_terms):
        for r, (c, ch, factors, stoich) in enumerate(terms):
            coef[b, r] = c
            chan[b, r] = ch
            for j, (t, i, K, n) in enumerate(factors):
                ftype[b, r, j], fidx[b, r, j], fK[b, r, j], fn[b, r, j] = t, i, K, n
            for i, d in stoich.items():
                S[b, i, r] = d
    has_hill = bool(np.any(ftype >= ACT))
    return CompiledBatch(tuple(species), inputs, coef, chan, ftype, fidx, fK, fn, S, has_hill)
