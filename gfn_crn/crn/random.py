"""Random designs: distinct random library reactions with random parameters.

Used by the random-search baseline's peers in the benchmarks and by the tests; a reference point
("what does chance give?") for any task.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

import numpy as np

from .errors import CRNError
from .library import ReactionLibrary
from .network import Network, Template
from .reactions import HILL_COEFFICIENTS, ReactionInstance


def random_instances(rng: np.random.Generator, library: ReactionLibrary | Sequence, n: int, *,
                     exclude: Iterable = (), low: float = 0.1, high: float = 50.0,
                     prior=None) -> list[ReactionInstance]:
    """``n`` distinct reactions of ``library`` whose signatures are not in ``exclude``.

    Continuous parameters are log-uniform in [``low``, ``high``], or, with ``prior`` (a
    :class:`~gfn_crn.tasks.LogParameterPrior`), drawn from its normal on ln k truncated to its
    support; Hill coefficients are uniform over :data:`HILL_COEFFICIENTS`. The draws are
    ``rng.choice`` of the reactions, then all continuous values at once, then all discrete ones.
    """
    if not (0 < low <= high) or not (math.isfinite(low) and math.isfinite(high)):
        raise CRNError(f"random reactions: need 0 < low <= high (finite), got low={low}, high={high}")
    exclude = set(exclude)
    cands = [r for r in library if r.signature not in exclude]
    if n > len(cands):
        raise CRNError(f"random reactions: asked for {n} distinct reactions, the library has {len(cands)} "
                       f"outside the excluded ones")
    picked = [cands[int(i)] for i in rng.choice(len(cands), n, replace=False)]
    n_c = sum(r.n_continuous for r in picked)
    if prior is None:
        c = np.exp(rng.uniform(np.log(low), np.log(high), n_c))
    else:
        ys: list[float] = []
        while len(ys) < n_c:
            y = rng.normal(prior.mean, prior.std, 4 * n_c)
            ys += list(y[(y >= prior.low) & (y <= prior.high)])
        c = np.exp(np.asarray(ys[:n_c]))
    n_d = sum(r.n_discrete for r in picked)
    d = rng.choice(HILL_COEFFICIENTS, n_d) if n_d else np.zeros(0, dtype=int)
    out, ic, id_ = [], 0, 0
    for r in picked:
        out.append(ReactionInstance(r, tuple(float(v) for v in c[ic:ic + r.n_continuous]),
                                    tuple(int(v) for v in d[id_:id_ + r.n_discrete])))
        ic += r.n_continuous
        id_ += r.n_discrete
    return out


def random_network(rng: np.random.Generator, template: Template, parts: Sequence[tuple], *,
                   low: float = 0.1, high: float = 50.0, prior=None, name: Optional[str] = None) -> Network:
    """``template`` plus random reactions: ``parts`` lists ``(library, count)`` pairs; reactions
    already in the template or drawn from an earlier part are never repeated."""
    taken = {i.reaction.signature for i in template.fixed}
    added: list[ReactionInstance] = []
    for library, count in parts:
        new = random_instances(rng, library, int(count), exclude=taken, low=low, high=high, prior=prior)
        taken |= {i.reaction.signature for i in new}
        added += new
    return Network(template, tuple(added), name)


__all__ = ["random_instances", "random_network"]
