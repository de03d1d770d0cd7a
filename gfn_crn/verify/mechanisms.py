"""Minimal cores and mechanisms: when are two designs really different?

Designs found by a sampler often differ by a reaction the design does not need (a spectator, or a
reaction whose removal even lowers the loss). Counting such variants as different designs
inflates diversity. The **core** of a design is what is left after greedily removing, one at a
time, the added reaction whose removal gives the lowest loss, for as long as the loss stays below
the task's good threshold (:func:`minimal_core`). With ``refine_evals > 0`` each candidate removal
first gets a short rate refinement of the remaining rates (rates tuned jointly with a removed
reaction may need to move to do without it), which can only shrink cores further.

A core kept at its design's tuned rates can keep a reaction only because those rates were tuned
with it. The **chemical core** (:func:`chemical_core`, what runs, ``gfn-crn verify``, the report
and the benchmarks count) is minimal in the stronger sense: no reaction can be removed even after
the remaining rates are re-optimised (``refine_evals`` evaluations of the rate refinement per
candidate removal, :data:`CORE_REFINE_EVALS` by default: doubling it changes no benchmark core,
docs/verification.md). It is reached in two stages: the cheap reduction at the design's rates,
then the re-optimised reduction of that weak core, done once per distinct weak core (designs of
one family share it) through a ``cache``.

The **mechanism** of a design is its core's set of reaction signatures, up to relabelling the
species the template leaves interchangeable (:func:`template_symmetries`): a permutation of the
species that maps the template's fixed reactions, outputs and every scenario's initial
concentrations onto themselves. Two designs with the same mechanism key
(:func:`mechanism_key`) are one mechanism.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..crn.network import Network
from ..crn.reactions import Reaction, make_complex

MAX_SYMMETRY_SPECIES = 8
#: Evaluations of the rate refinement per candidate removal in :func:`chemical_core`.
CORE_REFINE_EVALS = 512


def _rename_complex(c, perm: dict):
    return make_complex({perm.get(s, s): n for s, n in c})


def rename_reaction(r: Reaction, perm: dict) -> Reaction:
    """``r`` with its species renamed by ``perm`` (species not in ``perm`` keep their names)."""
    return Reaction(r.kind, _rename_complex(r.reactants, perm), _rename_complex(r.products, perm),
                    tuple(perm.get(s, s) for s in r.activators), tuple(perm.get(s, s) for s in r.repressors),
                    perm.get(r.enzyme, r.enzyme) if r.enzyme else None, r.input, r.input_factor)


_SYM_CACHE: dict = {}


def template_symmetries(task) -> list[dict]:
    """The species permutations that leave the task unchanged (identity first).

    A permutation qualifies when it maps the set of fixed reactions (with their parameters) onto
    itself, fixes the outputs, and leaves every scenario's initial concentrations unchanged. Up to
    :data:`MAX_SYMMETRY_SPECIES` species every permutation is tried; beyond, only the identity
    (documented limitation: mechanisms are then compared by signatures as they are).
    """
    tpl = task.template
    species = list(tpl.species)
    inits = [sc.init_vector(species) for sc in task.scenarios]
    key = (tpl, tuple(tuple(x.tolist()) for x in inits))   # what the answer depends on
    if key in _SYM_CACHE:
        return _SYM_CACHE[key]
    ident = {s: s for s in species}
    out = [ident]
    if len(species) <= MAX_SYMMETRY_SPECIES:
        fixed = {(i.reaction.signature, i.cparams, i.dparams) for i in tpl.fixed}
        for p in itertools.permutations(species):
            perm = dict(zip(species, p))
            if perm == ident:
                continue
            if any(perm[o] != o for o in tpl.outputs):
                continue
            idx = [species.index(perm[s]) for s in species]
            if any(not np.array_equal(x[idx], x) for x in inits):
                continue
            moved = {(rename_reaction(i.reaction, perm).signature, i.cparams, i.dparams) for i in tpl.fixed}
            if moved != fixed:
                continue
            out.append(perm)
    _SYM_CACHE[key] = out
    return out


def _sig_text(r: Reaction) -> str:
    return repr(r.signature)


def mechanism_key(task, reactions: Sequence) -> str:
    """A canonical key of a set of reactions (``Reaction`` or ``ReactionInstance``) under the
    task's template symmetries: equal keys = same mechanism."""
    rs = [getattr(r, "reaction", r) for r in reactions]
    best = None
    for perm in template_symmetries(task):
        k = "|".join(sorted(_sig_text(rename_reaction(r, perm)) for r in rs))
        if best is None or k < best:
            best = k
    return best if best is not None else ""


@dataclass
class Core:
    """The minimal core of a design."""

    network: Network
    loss: float
    removed: list = field(default_factory=list)
    evaluations: int = 0

    @property
    def n_reactions(self) -> int:
        return len(self.network.reactions)


def minimal_core(task, network: Network, loss: float | None = None, threshold: float | None = None,
                 refine_evals: int = 0, seed: int = 0, memo: dict | None = None) -> Core:
    """Greedy reduction of ``network`` to its core (see the module docstring).

    ``loss``: the design's known loss (else evaluated). ``threshold``: default the task's good
    threshold. A design whose loss is not below the threshold is its own core. ``refine_evals``:
    evaluations of a rate refinement per candidate removal (0: rates kept as they are).
    ``memo``: a dict kept by the caller, structure -> (loss, network) of a candidate's refinement,
    so a candidate structure met again (designs of one family share most of their reductions) is
    not refined again.
    """
    thr = float(task.good_threshold if threshold is None else threshold)
    net = network
    evals = 0
    if loss is None:
        r = task.evaluate([net])
        evals += 1
        loss = float(r.loss[0]) if r.valid[0] else np.inf
    loss = float(loss)
    removed = []
    if not loss < thr:
        return Core(net, loss, removed, evals)
    while len(net.reactions) > 0:
        cands = [net.with_reactions(net.reactions[:i] + net.reactions[i + 1:]) for i in range(len(net.reactions))]
        res = task.evaluate(cands)
        evals += len(cands)
        losses = np.where(res.valid, res.loss, np.inf)
        if refine_evals > 0:
            from ..rewards.refine import refine
            from ..rewards.structure import structure_key

            keys = [structure_key(c) for c in cands]
            todo = [i for i, k in enumerate(keys) if memo is None or k not in memo]
            if todo:
                rr = refine(task, [cands[i] for i in todo], refine_evals * len(todo), initial_losses=losses[todo],
                            seed=[seed + i for i in todo], max_rounds=max(1, refine_evals // 8))
                evals += rr.evaluations
                for j, i in enumerate(todo):
                    if rr.losses[j] < losses[i]:
                        cands[i], losses[i] = rr.networks[j], rr.losses[j]
                    if memo is not None:
                        memo[keys[i]] = (float(losses[i]), cands[i])
            for i, k in enumerate(keys):
                if memo is not None and i not in todo and memo[k][0] < losses[i]:
                    losses[i], cands[i] = memo[k]
        j = int(np.argmin(losses))
        if not losses[j] < thr:
            break
        removed.append(net.reactions[j])
        net, loss = cands[j], float(losses[j])
    return Core(net, loss, removed, evals)


def chemical_core(task, network: Network, loss: float | None = None, refine_evals: int = CORE_REFINE_EVALS,
                  cache: dict | None = None, seed: int = 0, memo: dict | None = None) -> Core:
    """The core no reaction of which can be removed even with the remaining rates re-optimised
    (module docstring): the cheap reduction at the design's rates, then :func:`minimal_core` with
    ``refine_evals`` on that weak core. ``cache`` (a dict the caller keeps) maps a weak core's
    mechanism key to its reduction, so each weak core is re-optimised once; ``refine_evals = 0``
    is the weak core itself. ``evaluations`` counts both stages (a cache hit costs none of the
    second)."""
    weak = minimal_core(task, network, loss)
    if refine_evals <= 0 or not weak.loss < task.good_threshold:
        return weak
    key = mechanism_key(task, weak.network.reactions) if cache is not None else None
    if key is not None and key in cache:
        strong = cache[key]
        return Core(strong.network, strong.loss, list(weak.removed) + list(strong.removed), weak.evaluations)
    strong = minimal_core(task, weak.network, weak.loss, refine_evals=refine_evals, seed=seed, memo=memo)
    if key is not None:
        cache[key] = strong
    return Core(strong.network, strong.loss, list(weak.removed) + list(strong.removed),
                weak.evaluations + strong.evaluations)


@dataclass
class Mechanism:
    """One distinct mechanism: its core, and the designs that reduce to it."""

    key: str
    core: Network
    core_loss: float
    best_loss: float
    representative: Network
    n_designs: int = 0
    checks: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"core": [_line(i) for i in self.core.reactions], "core_text": self.core.to_text(),
                "core_loss": float(self.core_loss), "best_loss": float(self.best_loss),
                "n_designs": int(self.n_designs), "n_core_reactions": len(self.core.reactions),
                "representative": self.representative.to_text(),
                "checks": [c.to_dict() for c in self.checks]}


def _line(inst) -> str:
    from ..crn.textio import format_reaction

    return format_reaction(inst)


def group_mechanisms(task, networks: Sequence[Network], losses: Sequence[float], verifications=None,
                     refine_evals: int = CORE_REFINE_EVALS) -> tuple[list[Mechanism], list[str]]:
    """Reduce each design to its chemical core (:func:`chemical_core`; ``refine_evals = 0``: the
    weak core at the design's rates) and group designs by mechanism, best first.

    ``verifications``: the designs' :class:`~gfn_crn.verify.Verification` (only verified designs
    are grouped when given; the others get key ``""``). Returns the mechanisms and each design's
    key.
    """
    mechs: dict[str, Mechanism] = {}
    cache: dict = {}
    memo: dict = {}   # candidate structure -> its refined removal, shared by every weak core
    keys = []
    for i, (net, loss) in enumerate(zip(networks, losses)):
        if verifications is not None and not verifications[i].verified:
            keys.append("")
            continue
        core = chemical_core(task, net, loss, refine_evals=refine_evals, cache=cache, memo=memo)
        k = mechanism_key(task, core.network.reactions)
        keys.append(k)
        m = mechs.get(k)
        checks = verifications[i].checks if verifications is not None else []
        if m is None:
            mechs[k] = Mechanism(k, core.network, core.loss, float(loss), net, 1, checks)
        else:
            m.n_designs += 1
            if loss < m.best_loss:
                m.best_loss, m.representative, m.checks = float(loss), net, checks
            if core.loss < m.core_loss:
                m.core, m.core_loss = core.network, core.loss
    return sorted(mechs.values(), key=lambda m: m.best_loss), keys
