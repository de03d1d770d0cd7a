"""The final refinement of a family's run (a conditional GFlowNet, issue 24): per condition.

A single-target run spends the last ``refine_final_share`` of its budget on a successive-halving
rate refinement of its best archived designs (:func:`~gfn_crn.rewards.refine.refine_archive`). A
family's archive keeps its designs per (condition, topology); a design's rates are tuned for its
condition (on ``rpa-gain`` the gain is a ratio of rates), so each condition's best designs are
refined under that condition, through the scorer bound to it
(:class:`~gfn_crn.rewards.scorer.ConditionBound`), with an equal share of the budget.
"""

from __future__ import annotations

import numpy as np

from ..rewards.refine import RefineResult, refine_archive
from ..rewards.scorer import ConditionBound

#: the most conditions refined (a continuous range without ``train`` values archives nearly one
#: condition per design: the conditions with the best designs are refined)
MAX_CONDITIONS = 16
#: designs refined in all (split over the conditions; at least MIN_PER_CONDITION each)
TOTAL_DESIGNS = 128
MIN_PER_CONDITION = 16


def refine_per_condition(scorer, archive, space, budget: int, *, seed: int = 0) -> RefineResult | None:
    """Refine each condition's best archived designs under that condition: the conditions of the
    archive (a finite training set: every training condition that has designs; else the
    :data:`MAX_CONDITIONS` with the best designs), each with ``budget // n`` evaluations (the
    remainder to the first) over its ``max(16, 128 // n)`` best designs, seeded ``seed + i``.
    ``scorer`` scores with conditions (a run's recorder, so every batch is archived with its
    condition). Returns the merged result (networks, losses, evaluations), None when the archive
    has no design."""
    conds = archive.conditions()
    if not conds or budget <= 0:
        return None
    if not space.finite and len(conds) > MAX_CONDITIONS:
        best = {repr(sorted(c.items())): archive.top(1, condition=c)[0].loss for c in conds}
        conds = sorted(conds, key=lambda c: best[repr(sorted(c.items()))])[:MAX_CONDITIONS]
    n = len(conds)
    per = max(MIN_PER_CONDITION, TOTAL_DESIGNS // n)
    nets, losses, initial, sigmas, used = [], [], [], [], 0
    for i, c in enumerate(conds):
        b = budget // n + (1 if i < budget % n else 0)
        top = archive.top(per, condition=c)
        if b <= 0 or not top:
            continue
        r = refine_archive(ConditionBound(scorer, c), {e.topology: (e.loss, e.network) for e in top}, b,
                           seed=seed + 7919 * i)
        nets += list(r.networks)
        losses += list(r.losses)
        initial += list(r.initial_losses)
        sigmas += list(r.sigmas)
        used += r.evaluations
    return RefineResult(nets, np.asarray(losses, dtype=float), np.asarray(initial, dtype=float), used,
                        np.asarray(sigmas, dtype=float))


__all__ = ["refine_per_condition", "MAX_CONDITIONS", "TOTAL_DESIGNS"]
