"""A reward that scores topologies, not single rate vectors (issue 6).

Why: on ``rpa`` a design below loss 0.01 needs an integral-feedback core *and* tuned rates. At
sampled rates a capable topology scores like any other (``benchmarks/motif_probe.py``), so the
reward of one (topology, rates) sample says almost nothing about the topology, and no sampler is
pulled towards the capable ones. A short rate refinement separates them: after 16 evaluations of
an evolution strategy started at the prior's mode, 14% of topologies containing the antithetic
core are below loss 0.1 and none of 192 random topologies is below 0.18.

:class:`TopologyReward` wraps a task. For each network it is asked to score, it looks up the
network's structure (its added reactions and their discrete parameters; rates ignored) in a
cache; a structure not seen before gets a short refinement (:func:`~gfn_crn.rewards.refine.refine`:
one evaluation at the prior's mode, then ``rounds`` rounds of ``popsize`` perturbations, the
random draws seeded by the structure itself), and its best loss ``L*(T)`` is cached. The network
then gets

    log R(T, k) = reward(L*(T)) + log prior(k),

the task's own loss-to-reward map (``beta``, cap, power term) at ``L*(T)``, plus the prior of the
network's own rates (and of its discrete parameters: the task prior scores Hill coefficients,
which are part of the structure). Because the prior of the rates is normalised, the GFlowNet
target's marginal over structures is proportional to ``exp(reward(L*(T)))`` times the prior of the
structure's Hill coefficients (1 for mass-action libraries): trajectory balance learns to sample
structures in proportion to the best loss a short refinement reaches on them, and the rate
heads learn the prior. ``L*`` is a deterministic function of the structure (the seed and the
starting point depend on nothing else), so the reward is a proper function of the terminal
state and every exactness argument for TB carries over.

**Screening (train on what is counted).** With a ``screen`` (a function of networks and their
known losses returning a verdict per network; a run passes the task's cheap verification
checks, bounded and settled over the long horizon) and ``screen_below > 0``, a new structure
whose ``L*`` is below ``screen_below`` times the good threshold has its best network screened;
one that fails is scored like a design that diverges (invalid, the reward's floor), which is
what an unbounded species does, only slowly. The verdict is a deterministic function of the
structure too, so the target stays a proper reward. Each screened network counts as one
evaluation. :meth:`TopologyReward.passes` gives the (cached) verdicts to the searches that pick
structures from the archive.

**Promotion (a second fidelity).** With ``rounds = 0`` a new structure costs one evaluation at
the prior's mode; with ``promote_below > 0`` one whose loss there is below :attr:`promote_bar`
gets ``promote_rounds`` more rounds (draws seeded by the structure), so most structures cost one
evaluation and the promising ones a real refinement, and ``L*`` stays a function of the
structure alone.

Every evaluation of the refinement goes through the wrapped task (so a
:class:`~gfn_crn.rewards.evaluations.RecordingTask` underneath counts and logs them); a cached
structure costs no evaluation. ``best_networks`` holds the best network found per structure.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Network
from .result import TaskResult
from .scorer import ConditionBound, Wrapper
from .refine import losses_or_inf, refine, with_log_rates
from .structure import structure_key, structure_seed

def condition_key(condition) -> tuple:
    """A hashable key of a condition (a mapping name -> value): the cache keys of a family's
    topology reward are (condition, structure)."""
    return tuple(sorted(dict(condition).items()))


#: the defaults of :class:`TopologyReward` (those of a run's ``topology_*`` settings,
#: :class:`gfn_crn.training.config.TopologyConfig`; a test checks that they agree)
DEFAULT_ROUNDS = 0
DEFAULT_POPSIZE = 8
DEFAULT_SIGMA = 0.5


class TopologyReward(Wrapper):
    """A scorer whose reward for a network is the task's reward at the best loss that a short
    rate refinement reaches on its structure, plus the prior of its own rates (see the module
    docstring). The refinement's evaluations go through ``inner``; the task's facts (prior,
    reward map, ...) are ``self.task``'s (``inner.task``).

    Args:
        task: the scorer that simulates (a task, a pool, or a recorder around them); kept as ``inner``.
        rounds: refinement rounds per new structure (0: the prior's mode only).
        popsize: candidates per round; a new structure costs ``1 + rounds * popsize`` evaluations.
        sigma0: initial step of the evolution strategy, in ln k.
        seed: mixed into every structure's seed.
        screen, screen_below: the screen (``screen(networks, losses) -> passed``) and the multiple
            of the good threshold below which a new structure is screened (0: never; module doc).
        promote_below, promote_rounds, promote_cap: the second fidelity: a new structure whose
            first-stage loss is below :attr:`promote_bar` (``promote_below`` thresholds, at most
            ``promote_cap`` x the loss cap) gets ``promote_rounds`` more rounds (0: never).

    Attributes:
        cache: ``{structure: (loss, valid)}``.
        best_networks: ``{structure: network}`` with the best rates found (valid structures only).
        evaluations: evaluations spent by refinements, promotions and the screen.
        screened, screen_evaluations, promoted: the screen's verdicts per structure, the
            evaluations it took, and the structures promoted.
        requests, hits: networks scored, and those whose structure was cached (``hits / requests``
            is the sampler's share of repeated structures).
    """

    def __init__(self, task, *, rounds: int = DEFAULT_ROUNDS, popsize: int = DEFAULT_POPSIZE,
                 sigma0: float = DEFAULT_SIGMA, seed: int = 0, screen=None, screen_below: float = 0.0,
                 promote_below: float = 0.0, promote_rounds: int = 0, promote_cap: float = 0.2):
        if int(rounds) != rounds or rounds < 0:
            raise CRNError(f"TopologyReward rounds must be an integer >= 0, got {rounds!r}")
        if int(popsize) != popsize or popsize < 1:
            raise CRNError(f"TopologyReward popsize must be an integer >= 1, got {popsize!r}")
        if not (math.isfinite(sigma0) and sigma0 > 0):
            raise CRNError(f"TopologyReward sigma0 must be positive and finite, got {sigma0!r}")
        if not (math.isfinite(promote_below) and promote_below >= 0):
            raise CRNError(f"TopologyReward promote_below must be >= 0 and finite, got {promote_below!r}")
        if not (math.isfinite(promote_cap) and 0 < promote_cap <= 1):
            raise CRNError(f"TopologyReward promote_cap must be in (0, 1], got {promote_cap!r}")
        if int(promote_rounds) != promote_rounds or promote_rounds < 0:
            raise CRNError(f"TopologyReward promote_rounds must be an integer >= 0, got {promote_rounds!r}")
        if not (math.isfinite(screen_below) and screen_below >= 0):
            raise CRNError(f"TopologyReward screen_below must be >= 0 and finite, got {screen_below!r}")
        super().__init__(task)
        self.rounds, self.popsize, self.sigma0, self.seed = int(rounds), int(popsize), float(sigma0), int(seed)
        self.screen, self.screen_below = screen, float(screen_below)
        self.promote_below, self.promote_rounds = float(promote_below), int(promote_rounds)
        self.promote_cap = float(promote_cap)
        self.promoted = 0   # structures that got the second fidelity
        self.screened: dict[frozenset, bool] = {}   # structure -> passed the screen
        self.screen_evaluations = 0
        self.cache: dict[frozenset, tuple[float, bool]] = {}
        self.best_networks: dict[frozenset, Network] = {}
        self.evaluations = 0
        self.hits = 0       # networks whose structure was already cached
        self.requests = 0   # networks scored

    @property
    def evaluations_per_structure(self) -> int:
        return 1 + self.rounds * self.popsize

    def _start(self, network: Network) -> Network:
        """The network with every rate at the prior's mode (k = 1 without a prior)."""
        prior = getattr(self.task, "prior", None)
        n = sum(len(i.cparams) for i in network.reactions)
        y0 = 0.0 if prior is None else float(np.clip(prior.mean, prior.low, prior.high))
        return with_log_rates(network, np.full(n, y0))

    def structure_losses(self, networks: Sequence[Network], count: bool = True,
                         conditions=None) -> tuple[np.ndarray, np.ndarray]:
        """``(L*, valid)`` per network; refines (and caches) the structures not seen before, all
        in one batched refinement. ``count=False`` leaves ``requests`` and ``hits`` alone (for
        look-ups that are not a sampler's proposals). ``conditions`` (one per network, for a
        family of tasks): each network is refined under its own condition and the cache is keyed
        by (condition, structure)."""
        if conditions is not None:
            return self._conditional_losses(list(networks), list(conditions), count)
        keys = [structure_key(n) for n in networks]
        new: dict[frozenset, Network] = {}
        for k, n in zip(keys, networks):
            if k not in self.cache and k not in new:
                new[k] = n
        if count:
            self.hits += sum(1 for k in keys if k in self.cache)
            self.requests += len(keys)
        if new:
            todo = list(new)
            self._refine_new(todo, [new[k] for k in todo], self.inner, todo)
        loss = np.asarray([self.cache[k][0] for k in keys], dtype=float)
        valid = np.asarray([self.cache[k][1] for k in keys], dtype=bool)
        return loss, valid

    def _conditional_losses(self, networks: list, conditions: list, count: bool):
        if len(conditions) != len(networks):
            raise CRNError(f"{len(conditions)} conditions for {len(networks)} networks")
        keys = [(condition_key(c), structure_key(n)) for c, n in zip(conditions, networks)]
        groups: dict[tuple, dict] = {}   # condition -> {key: (network, condition)}
        for k, n, c in zip(keys, networks, conditions):
            if k not in self.cache:
                groups.setdefault(k[0], {}).setdefault(k, (n, c))
        if count:
            self.hits += sum(1 for k in keys if k in self.cache)
            self.requests += len(keys)
        for new in groups.values():  # one refinement per condition, through the scorer bound to it
            todo = list(new)
            cond = new[todo[0]][1]
            self._refine_new(todo, [new[k][0] for k in todo], ConditionBound(self.inner, cond), [k[1] for k in todo])
        loss = np.asarray([self.cache[k][0] for k in keys], dtype=float)
        valid = np.asarray([self.cache[k][1] for k in keys], dtype=bool)
        return loss, valid

    def _refine_new(self, todo: list, networks: list, inner, structures: list) -> None:
        """Refine the new ``networks`` (cache keys ``todo``, structure keys ``structures`` for
        the seeds) through ``inner`` and cache their ``L*``."""
        starts = [self._start(n) for n in networks]
        if self.rounds == 0:
            found, losses = starts, losses_or_inf(inner, starts)
            self.evaluations += len(starts)
        else:
            r = refine(inner, starts, len(todo) * self.evaluations_per_structure, popsize=self.popsize,
                       sigma0=self.sigma0, seed=[structure_seed(k, self.seed) for k in structures],
                       max_rounds=self.rounds)
            if len(r.networks) != len(todo):  # pragma: no cover - the budget covers every structure
                raise RuntimeError("refinement dropped structures")
            found, losses = r.networks, r.losses
            self.evaluations += r.evaluations
        if self.promote_below > 0 and self.promote_rounds > 0:
            found, losses = self._promote(structures, list(found), np.asarray(losses, dtype=float), inner)
        cap = float(self.task.loss_cap)
        for k, net, loss in zip(todo, found, losses):
            ok = bool(np.isfinite(loss))  # +inf: no valid design in the refinement
            self.cache[k] = (float(loss) if ok else cap, ok)
            if ok:
                self.best_networks[k] = net
        if self.screening:
            bar = self.screen_below * float(self.task.good_threshold)
            near = [k for k in todo if self.cache[k][1] and self.cache[k][0] < bar]
            if near:
                passed = self.passes([self.best_networks[k] for k in near], [self.cache[k][0] for k in near])
                for k, p in zip(near, passed):
                    if not p:  # scored like a design that diverges: it does, only slowly
                        self.cache[k] = (cap, False)

    def evaluate(self, networks: Sequence[Network], count: bool = True, conditions=None):
        """A :class:`~gfn_crn.tasks.base.TaskResult` with ``loss = L*(structure)`` and
        ``log_reward = reward(L*) + log prior(rates)``; ``sim`` is None (no simulation of these
        rates is made) and ``reason`` is ``ok``, ``refine`` (no valid design in the refinement)
        or ``prior`` (rates outside the prior's support). ``count`` and ``conditions``: see
        :meth:`structure_losses`."""
        networks = self.task.check_networks(list(networks))
        loss, valid = self.structure_losses(networks, count=count, conditions=conditions)
        lp = np.asarray(self.task.log_priors(networks), dtype=float)
        reason = np.where(valid, "ok", "refine").astype(object)
        if self.screened:
            reason[[not self.screened.get(k, True) for k in map(structure_key, networks)]] = "screen"
        reason[~np.isfinite(lp)] = "prior"
        valid = valid & np.isfinite(lp)
        log_reward = self.task.reward.log_reward(loss, lp, valid)
        S = int(self.task.n_scenarios)
        return TaskResult(loss, log_reward.astype(float), valid, reason.astype(str), lp,
                          np.full((len(networks), S), np.nan), None)

    def _promote(self, keys, found: list, losses: np.ndarray, inner=None):
        """The second fidelity: structures whose first-stage loss is below :attr:`promote_bar` get
        ``promote_rounds`` more rounds, continuing from their best rates (draws seeded by the
        structure: still a function of the structure alone)."""
        bar = self.promote_bar
        idx = [i for i, l in enumerate(losses) if np.isfinite(l) and l < bar]
        if not idx:
            return found, losses
        r = refine(self.inner if inner is None else inner, [found[i] for i in idx],
                   len(idx) * self.promote_rounds * self.popsize,
                   popsize=self.popsize, sigma0=self.sigma0, initial_losses=losses[idx],
                   seed=[structure_seed(keys[i], self.seed + 104729) for i in idx], max_rounds=self.promote_rounds)
        self.evaluations += r.evaluations
        self.promoted += len(idx)
        losses = losses.copy()
        for j, i in enumerate(idx):
            if r.losses[j] < losses[i]:
                found[i], losses[i] = r.networks[j], r.losses[j]
        return found, losses

    @property
    def promote_bar(self) -> float:
        """``promote_below`` times the good threshold, but never above ``promote_cap`` times the
        loss cap (on a task whose ordinary designs sit within ``promote_below`` thresholds, e.g.
        logic-4, the bar would otherwise promote every structure)."""
        return min(self.promote_below * float(self.task.good_threshold),
                   self.promote_cap * abs(float(self.task.loss_cap)))

    @property
    def screening(self) -> bool:
        """Whether structures near the threshold are screened (a screen and ``screen_below > 0``)."""
        return self.screen is not None and self.screen_below > 0

    def passes(self, networks: Sequence[Network], losses=None) -> np.ndarray:
        """Whether each network's structure passes the screen (cached per structure; the first
        network screened for a structure decides). Without a screen every structure passes. A
        screened network costs one evaluation (counted in ``evaluations``)."""
        if self.screen is None:
            return np.ones(len(networks), dtype=bool)
        keys = [structure_key(n) for n in networks]
        todo: dict[frozenset, int] = {}
        for i, k in enumerate(keys):
            if k not in self.screened and k not in todo:
                todo[k] = i
        if todo:
            idx = list(todo.values())
            known = None if losses is None else [float(losses[i]) for i in idx]
            verdict = np.asarray(self.screen([networks[i] for i in idx], known), dtype=bool).reshape(-1)
            if verdict.shape != (len(idx),):
                raise RuntimeError(f"screen returned {verdict.shape[0]} verdicts for {len(idx)} networks")
            self.screened.update(zip(todo, verdict.tolist()))
            self.evaluations += len(idx)
            self.screen_evaluations += len(idx)
        return np.asarray([self.screened[k] for k in keys], dtype=bool)

    def uncounted(self) -> "UncountedView":
        """This reward as a task whose look-ups do not count as proposals (``requests``/``hits``
        unchanged; new structures are still refined, cached and their evaluations counted)."""
        return UncountedView(self)

    def fork(self, task=None) -> "TopologyReward":
        """A copy with the same settings and a copy of the cache, scoring new structures with
        ``task`` (default the same task): for scoring that must not change this object."""
        other = TopologyReward(self.inner if task is None else task, rounds=self.rounds, popsize=self.popsize,
                               sigma0=self.sigma0, seed=self.seed, screen=self.screen,
                               screen_below=self.screen_below, promote_below=self.promote_below,
                               promote_rounds=self.promote_rounds, promote_cap=self.promote_cap)
        other.load_state_dict(self.state_dict())
        return other

    def refined(self, networks: Sequence[Network], conditions=None) -> list[Network]:
        """Each network's structure with the best rates found for it (the network itself for a
        structure not refined yet or never valid); ``conditions``: under each one's condition."""
        if conditions is not None:
            return [self.best_networks.get((condition_key(c), structure_key(n)), n)
                    for n, c in zip(networks, conditions)]
        return [self.best_networks.get(structure_key(n), n) for n in networks]

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """The cache and counters (plain Python objects; the best networks included)."""
        return {"cache": dict(self.cache), "best_networks": dict(self.best_networks),
                "evaluations": self.evaluations, "hits": self.hits, "requests": self.requests,
                "screened": dict(self.screened), "screen_evaluations": self.screen_evaluations,
                "promoted": self.promoted,
                "settings": (self.rounds, self.popsize, self.sigma0, self.seed)}

    def load_state_dict(self, state: dict) -> None:
        settings = tuple(state["settings"])
        if settings != (self.rounds, self.popsize, self.sigma0, self.seed):
            raise CRNError(f"topology reward state was made with (rounds, popsize, sigma0, seed) = {settings}, "
                           f"not {(self.rounds, self.popsize, self.sigma0, self.seed)}")
        self.cache = dict(state["cache"])
        self.best_networks = dict(state["best_networks"])
        self.evaluations, self.hits, self.requests = int(state["evaluations"]), int(state["hits"]), int(state["requests"])
        self.screened = dict(state.get("screened", {}))   # checkpoints written before the screen: none
        self.screen_evaluations = int(state.get("screen_evaluations", 0))
        self.promoted = int(state.get("promoted", 0))

    def __repr__(self) -> str:
        return (f"TopologyReward({self.inner!r}, rounds={self.rounds}, popsize={self.popsize}, "
                f"sigma0={self.sigma0}, {len(self.cache)} structures cached)")


class UncountedView(Wrapper):
    """:meth:`TopologyReward.uncounted`: a scorer whose ``evaluate`` is the reward's with
    ``count=False``; the reward itself is ``inner`` (its cache, counters, ``refined``). For
    scoring that is not a proposal of the sampler (re-scoring replayed designs), so that the
    reward's ``requests``/``hits`` stay the sampler's own."""

    def evaluate(self, networks, conditions=None):
        return self.inner.evaluate(networks, count=False, conditions=conditions)

    def __repr__(self) -> str:
        return f"uncounted({self.inner!r})"


__all__ = ["TopologyReward", "UncountedView", "condition_key", "structure_key", "structure_seed", "DEFAULT_ROUNDS",
           "DEFAULT_POPSIZE", "DEFAULT_SIGMA"]
