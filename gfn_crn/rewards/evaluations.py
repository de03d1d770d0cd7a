"""Recording every candidate evaluation, and the diversity figures computed from them.

:class:`RecordingTask` wraps a task so that every batch it scores (whoever asks: the GFlowNet
environment, REINFORCE, random search) is logged with its topologies and losses. The figures
(DESIGN.md section 7 and issue 6) are then computed from the log, identically for every method:

* distinct topologies whose best loss is below a threshold;
* evaluations spent until the first design below the threshold;
* mean pairwise Hamming distance between topologies (size of the symmetric difference of their
  added-reaction sets) among the best distinct ones;
* how many of the good topologies remain when, best first, every one closer than
  ``min_distance`` (default 4; for two 5-reaction topologies: two reactions swapped) to one
  already kept is dropped, so that topologies differing by one reaction around the same core
  count once.
"""

from __future__ import annotations

import itertools
import time
from typing import Sequence

import numpy as np

from .scorer import Wrapper


class RecordingTask(Wrapper):
    """A scorer that logs (evaluation index, topology, loss, valid) for every candidate it scores
    through ``inner`` (a :class:`~gfn_crn.rewards.Wrapper`: ``task`` is the inner scorer's task)."""

    def __init__(self, task):
        super().__init__(task)
        self.topologies: list[frozenset] = []
        self.losses: list[float] = []
        self.valid: list[bool] = []
        self.networks_best: dict[frozenset, tuple[float, object]] = {}
        self.t_start = time.perf_counter()
        self.times: list[float] = []

    def evaluate(self, networks):
        res = self.inner.evaluate(networks)
        now = time.perf_counter() - self.t_start
        for net, loss, ok in zip(networks, np.asarray(res.loss), np.asarray(res.valid)):
            topo = net.topology
            self.topologies.append(topo)
            self.losses.append(float(loss))
            self.valid.append(bool(ok))
            self.times.append(now)
            best = self.networks_best.get(topo)
            if ok and (best is None or loss < best[0]):
                self.networks_best[topo] = (float(loss), net)
        return res

    @property
    def n_evaluations(self) -> int:
        return len(self.losses)

    def figures(self, threshold: float, n_hamming: int = 50) -> dict:
        return diversity_figures(self.topologies, self.losses, self.valid, threshold, n_hamming)


def best_by_topology(topologies: Sequence[frozenset], losses: Sequence[float], valid: Sequence[bool]) -> dict:
    best: dict[frozenset, float] = {}
    for topo, loss, ok in zip(topologies, losses, valid):
        if ok and loss < best.get(topo, np.inf):
            best[topo] = float(loss)
    return best


def mean_pairwise_hamming(topologies: Sequence[frozenset]) -> float:
    """Mean size of the symmetric difference over all pairs (nan with fewer than 2)."""
    topologies = list(topologies)
    if len(topologies) < 2:
        return float("nan")
    d = [len(a ^ b) for a, b in itertools.combinations(topologies, 2)]
    return float(np.mean(d))


def spread_count(ranked: Sequence[frozenset], min_distance: int = 4) -> int:
    """Greedy, in the given order (best first): keep a topology if its Hamming distance to every
    kept one is at least ``min_distance``; returns how many are kept."""
    kept: list[frozenset] = []
    for t in ranked:
        if all(len(t ^ k) >= min_distance for k in kept):
            kept.append(t)
    return len(kept)


def rank_order(loss, valid) -> np.ndarray:
    """Indices of designs best first: valid ones (finite loss) by increasing loss, then the
    invalid ones in their original order. Every ranking of designs goes through this."""
    loss = np.asarray(loss, dtype=float).reshape(-1)
    ok = np.asarray(valid, dtype=bool).reshape(-1) & np.isfinite(loss)
    key = np.where(ok, loss, np.inf)
    return np.lexsort((np.arange(loss.size), key, ~ok))


def distinct_good_curve(topologies, losses, valid, threshold: float) -> np.ndarray:
    """Number of distinct topologies seen below ``threshold`` after each evaluation."""
    seen: set = set()
    out = np.empty(len(losses), dtype=np.int64)
    for i, (topo, loss, ok) in enumerate(zip(topologies, losses, valid)):
        if ok and loss < threshold:
            seen.add(topo)
        out[i] = len(seen)
    return out


def diversity_figures(topologies, losses, valid, threshold: float, n_hamming: int = 50,
                      min_distance: int = 4) -> dict:
    """Best loss, evaluations to the first good design, distinct good topologies (below the
    threshold and below twice it; ``distinct_good_spread``: those left by :func:`spread_count` at
    ``min_distance``), the mean pairwise Hamming distance of the ``n_hamming`` best distinct
    topologies and of the good ones."""
    best = best_by_topology(topologies, losses, valid)
    good_idx = [i for i, (l, ok) in enumerate(zip(losses, valid)) if ok and l < threshold]
    ranked = sorted(best, key=best.get)[:n_hamming]
    return {
        "evaluations": len(losses),
        "best_loss": min(best.values()) if best else float("nan"),
        "first_good_evaluation": (good_idx[0] + 1) if good_idx else None,
        "distinct_good": sum(1 for v in best.values() if v < threshold),
        "distinct_good_2x": sum(1 for v in best.values() if v < 2 * threshold),
        "distinct_topologies": len(best),
        "distinct_good_spread": spread_count([t for t in sorted(best, key=best.get) if best[t] < threshold],
                                             min_distance),
        "mean_hamming_top": mean_pairwise_hamming(ranked),
        "mean_hamming_good": mean_pairwise_hamming([t for t in ranked if best[t] < threshold]),
        "repeat_share": 1.0 - len(set(topologies)) / max(len(topologies), 1),
    }
