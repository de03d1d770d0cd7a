"""Local refinement of the rate constants of given topologies (issue 6).

Search methods (GFlowNet, REINFORCE, random search) find *topologies*; the rates they attach are
samples, rarely optimal. :func:`refine` spends a fixed number of candidate evaluations improving
the continuous parameters of a set of networks while keeping their topologies (and Hill
coefficients) fixed, so that a diverse set of promising topologies becomes a diverse set of good
designs. It is gradient-free and batched: every round scores ``popsize`` perturbations of every
network in one ``task.evaluate`` call (one vectorised simulator call).

Algorithm, per network (an elitist (1 + lambda) evolution strategy on y = ln k):

* start from the network's own log-rates, step size ``sigma0`` (ln units);
* each round draw ``popsize`` candidates ``y + sigma * N(0, I)`` (clipped to the prior's support,
  so refinement never leaves the region the reward is defined on), score them all;
* if the best candidate beats the incumbent, it becomes the incumbent and ``sigma *= grow``,
  otherwise ``sigma *= shrink`` (a 1/5th-success-style rule: with grow 1.5 and shrink 0.8 the
  step size is stable at a success rate of about one in three rounds);
* stop when the budget is spent. Networks are refined in parallel with equal shares of the
  budget; with more networks than the budget allows, the first ones (callers pass them best
  first) are refined.

Every evaluation goes through ``task.evaluate``, so a :class:`~gfn_crn.rewards.evaluations.
RecordingTask` counts and logs them like any other candidate. ``task`` is any scorer
(:class:`~gfn_crn.rewards.Scorer`); nothing here imports a task class.

Public API:

* :func:`refine` - the evolution strategy over a batch of networks (:class:`RefineResult`);
* :func:`refine_archive` - successive halving over the best distinct topologies of a log;
* :class:`ArchiveRefinement` - continued refinement of a run's best archived designs;
* :func:`log_rates` / :func:`with_log_rates` - a network's rate vector ``y = ln k`` and the
  network with another one (the search space of :func:`refine`);
* :func:`losses_or_inf` - a batch's losses with ``+inf`` for invalid candidates (how every
  search here ranks them).

The trainer callbacks that replay refined designs to trajectory balance
(:class:`~gfn_crn.training.local_search.LocalSearch`) live in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..crn.network import Network
from ..crn.reactions import ReactionInstance
from .scorer import task_of
from .structure import structure_key, structure_seed


@dataclass
class RefineResult:
    networks: list            # the best network found per input network
    losses: np.ndarray        # their losses (+inf where never valid)
    initial_losses: np.ndarray
    evaluations: int
    sigmas: np.ndarray = None  # final step sizes


def log_rates(network: Network) -> np.ndarray:
    """The natural logs of a network's continuous parameters (its rate constants), reaction by
    reaction in the network's order, each reaction's parameters in their own order: the vector
    ``y = ln k`` that :func:`refine` searches over."""
    return np.log(np.asarray([v for inst in network.reactions for v in inst.cparams], dtype=float))


def with_log_rates(network: Network, y: np.ndarray) -> Network:
    """A copy of ``network`` whose continuous parameters are ``exp(y)`` (``y`` laid out as
    :func:`log_rates` returns it); reactions, discrete parameters (Hill coefficients), template
    and name are kept. ``with_log_rates(n, log_rates(n))`` is ``n`` up to round-off."""
    insts, j = [], 0
    for inst in network.reactions:
        n = len(inst.cparams)
        insts.append(ReactionInstance(inst.reaction, tuple(float(v) for v in np.exp(y[j:j + n])), inst.dparams))
        j += n
    return Network(network.template, tuple(insts), network.name)


def losses_or_inf(scorer, networks: Sequence[Network]) -> np.ndarray:
    """The losses of a batch scored by ``scorer`` (one ``evaluate`` call, so a recorder or a
    budget counts every network), with ``+inf`` for invalid candidates: an invalid candidate
    ranks after every valid one, whatever loss it reports (a task reports its loss cap)."""
    res = scorer.evaluate(networks)
    return np.where(np.asarray(res.valid), np.asarray(res.loss, dtype=float), np.inf)


def refine(task, networks: Sequence[Network], budget: int, *, popsize: int = 8, sigma0: float = 0.5,
           grow: float = 1.5, shrink: float = 0.8, sigma_min: float = 1e-3, seed=0,
           low: float | None = None, high: float | None = None, score_initial: bool = True,
           initial_losses=None, sigmas=None, max_rounds: int | None = None) -> RefineResult:
    """Improve the rates of ``networks`` with at most ``budget`` evaluations of ``task``.

    ``low``/``high`` bound ln k (default: the task prior's support, else ln 1e-3 .. ln 1e3).
    ``score_initial`` spends one evaluation per network on its starting point; with
    ``initial_losses`` (their known losses) nothing is spent on them. ``sigmas``: per-network
    starting step sizes (default ``sigma0``); the result's ``sigmas`` continue a refinement.
    ``seed``: one seed for all draws, or one seed per network (each network then draws from its
    own generator, so its result does not depend on which other networks share the call).
    ``max_rounds``: at most this many rounds per network. Without it, budget that some networks
    leave unspent (nothing to refine, step size below ``sigma_min``) goes to extra rounds for the
    first others, so a network's result can depend on its batch-mates; with per-network seeds and
    ``budget >= len(networks) * (1 + max_rounds * popsize)`` it does not.
    """
    per_network_seeds = not np.isscalar(seed)
    rng = None if per_network_seeds else np.random.default_rng(seed)
    prior = getattr(task_of(task), "prior", None)
    lo = low if low is not None else (prior.low if prior is not None else math.log(1e-3))
    hi = high if high is not None else (prior.high if prior is not None else math.log(1e3))
    nets = list(networks)  # results stay aligned with the input (its first max_nets networks)
    budget = int(budget)
    if initial_losses is not None:
        score_initial = False
    per = popsize + (1 if score_initial else 0)
    max_nets = budget // per if budget >= per else 0
    nets = nets[:max_nets]
    if per_network_seeds:
        seeds = list(seed)
        if len(seeds) < len(nets):
            raise ValueError(f"refine got {len(seeds)} seeds for {len(nets)} networks")
        rngs = [np.random.default_rng(int(s)) for s in seeds[:len(nets)]]
    else:
        rngs = [rng] * len(nets)
    if not nets:
        return RefineResult([], np.zeros(0), np.zeros(0), 0, np.zeros(0))
    used = 0
    ys = [np.clip(log_rates(n), lo, hi) for n in nets]
    best_nets = [with_log_rates(n, y) for n, y in zip(nets, ys)]
    if score_initial:
        best = losses_or_inf(task, best_nets)
        used += len(best_nets)
    elif initial_losses is not None:
        best = np.asarray(initial_losses, dtype=float)[:len(nets)].copy()
    else:
        best = np.full(len(nets), np.inf)
    initial = best.copy()
    sig = (np.full(len(nets), float(sigma0)) if sigmas is None
           else np.asarray(sigmas, dtype=float)[:len(nets)].copy())
    sig[[y.size == 0 for y in ys]] = 0.0  # nothing continuous to refine: returned as is
    rounds = np.zeros(len(nets), dtype=int)
    while True:
        active = np.flatnonzero((sig >= sigma_min) & (max_rounds is None or rounds < max_rounds))
        if active.size == 0:
            break
        room = budget - used
        n_rows = room // popsize
        if n_rows <= 0:
            break
        active = active[:n_rows]
        cand, owner, ycand = [], [], []
        for i in active:
            for _ in range(popsize):
                y = np.clip(ys[i] + sig[i] * rngs[i].standard_normal(ys[i].size), lo, hi)
                cand.append(with_log_rates(nets[i], y))
                owner.append(i)
                ycand.append(y)
        loss = losses_or_inf(task, cand)
        used += len(cand)
        rounds[active] += 1
        owner = np.asarray(owner)
        for i in active:
            rows = np.flatnonzero(owner == i)
            j = rows[int(np.argmin(loss[rows]))]
            if loss[j] < best[i]:
                best[i], ys[i], best_nets[i] = loss[j], ycand[j], cand[j]
                sig[i] *= grow
            else:
                sig[i] *= shrink
    return RefineResult(best_nets, best, initial, used, sig)


def refine_archive(task, networks_best: dict, budget: int, *, n_networks: int | None = None, popsize: int = 8,
                   stages: int = 4, seed: int = 0, **kw) -> RefineResult:
    """Refine the best distinct topologies of ``networks_best`` (``{topology: (loss, network)}``, as
    kept by :class:`~gfn_crn.rewards.evaluations.RecordingTask`) by successive halving.

    The budget is split equally over ``stages``; stage 0 refines the ``n_networks`` best (default
    ``16 * 2**(stages-1)``, fewer if there are fewer), starting from their known losses (no
    evaluation spent on them); each later stage keeps the better half (by refined loss) and
    continues them with their step sizes, so promising topologies get exponentially more
    evaluations while many are screened. Returns the final stage's result over all refined
    networks (those dropped early keep their stage result).
    """
    ranked = sorted(networks_best.values(), key=lambda t: t[0])
    stages = max(1, int(stages))
    if n_networks is None:
        n_networks = 16 * 2 ** (stages - 1)
    pool = [n for _, n in ranked[:n_networks]]
    losses = np.asarray([l for l, _ in ranked[:n_networks]], dtype=float)
    initial = losses.copy()
    sig = np.full(len(pool), float(kw.pop("sigma0", 0.5)))
    used, spent_per_stage = 0, int(budget) // stages
    active = np.arange(len(pool))
    for s in range(stages):
        if active.size == 0:
            break
        b = spent_per_stage if s < stages - 1 else int(budget) - used
        r = refine(task, [pool[i] for i in active], b, popsize=popsize, seed=seed + s,
                   initial_losses=losses[active], sigmas=sig[active], **kw)
        used += r.evaluations
        for j, i in enumerate(active[:len(r.networks)]):
            pool[i], losses[i], sig[i] = r.networks[j], r.losses[j], max(r.sigmas[j], 0.05)
        if s < stages - 1:
            done = active[:len(r.networks)]
            active = done[np.argsort(losses[done], kind="stable")[:max(1, done.size // 2)]]
    return RefineResult(pool, losses, initial, used, sig)


class ArchiveRefinement:
    """Continued rate refinement of the best archived designs during a run.

    Every ``every`` iterations the ``top_k`` best archived designs (by loss; those refined
    ``max_visits`` times already are skipped) get ``rounds`` more rounds of the elitist evolution
    strategy of :func:`refine`, each continuing from its best rates and its own step size, with a
    seed that depends only on the structure and the visit. The evaluations go through ``scorer``
    (the run's recorder: counted and archived). So the structures that rank best get
    progressively more refinement (a multi-fidelity search: a new structure is scored after 9
    evaluations by the topology reward; the promising ones get tens more), and a design below the
    threshold is found as soon as a capable structure has been sampled, not only at the end.
    It changes no reward: the sampler's target stays what the scorer defines.
    """

    def __init__(self, scorer, archive, *, every: int = 5, top_k: int = 4, rounds: int = 2, popsize: int = 8,
                 sigma0: float = 0.5, max_visits: int = 8, seed: int = 0, admit=None):
        self.scorer, self.archive = scorer, archive
        self.admit = admit  # networks -> bool per network (the topology reward's screen), or None: all
        self.every, self.top_k, self.rounds, self.popsize = int(every), int(top_k), int(rounds), int(popsize)
        self.sigma0, self.max_visits, self.seed = float(sigma0), int(max_visits), int(seed)
        self.sigma: dict = {}
        self.visits: dict = {}
        self.calls = 0
        self.evaluations = 0

    def __call__(self, iteration: int) -> int:
        """Refine if due at ``iteration`` (0-based, after it ran); returns the evaluations spent."""
        if self.every <= 0 or (iteration + 1) % self.every:
            return 0
        chosen = []
        for e in self.archive.top():
            k = structure_key(e.network)
            if (self.visits.get(k, 0) < self.max_visits and self.sigma.get(k, self.sigma0) >= 1e-3
                    and (self.admit is None or self.admit([e.network], [e.loss])[0])):
                chosen.append((k, e))
            if len(chosen) == self.top_k:
                break
        if not chosen:
            return 0
        r = refine(self.scorer, [e.network for _, e in chosen], len(chosen) * self.popsize * self.rounds,
                   popsize=self.popsize, initial_losses=[e.loss for _, e in chosen],
                   sigmas=[self.sigma.get(k, self.sigma0) for k, _ in chosen],
                   seed=[structure_seed(k, self.seed + 7919 * self.visits.get(k, 0)) for k, _ in chosen],
                   max_rounds=self.rounds)
        for (k, _), s in zip(chosen, r.sigmas):
            self.sigma[k] = float(s)
            self.visits[k] = self.visits.get(k, 0) + 1
        self.calls += 1
        self.evaluations += r.evaluations
        return r.evaluations

    def state_dict(self) -> dict:
        return {"sigma": dict(self.sigma), "visits": dict(self.visits), "calls": self.calls,
                "evaluations": self.evaluations}

    def load_state_dict(self, state: dict) -> None:
        self.sigma, self.visits = dict(state["sigma"]), dict(state["visits"])
        self.calls, self.evaluations = int(state["calls"]), int(state["evaluations"])


__all__ = ["RefineResult", "refine", "refine_archive", "ArchiveRefinement", "log_rates", "with_log_rates",
           "losses_or_inf"]
