"""Noise-aware tasks: losses over exact stochastic simulations (:func:`gfn_crn.sim.ssa.ssa`).

* :class:`SSATrackingTask` (kind ``ssa_tracking``): the tracking loss of DESIGN.md section 5 on
  the **mean** of M stochastic trajectories per scenario.
* :class:`SSARobustTask` (kind ``ssa_robust``): that loss plus ``cv_weight`` times the weighted
  mean coefficient of variation of the outputs::

      CV_{s,o}(t) = std_{s,o}(t) / max(mean_{s,o}(t), 1 / volume)     (one molecule as the floor)
      cvbar_{s,o} = sum_t w(t) CV_{s,o}(t) / sum_t w(t)                (w: the tracking weights)
      loss_s      = tracking_s(mean) + cv_weight * mean_o cvbar_{s,o}

  A design that adapts perfectly in the mean but whose single cells scatter widely scores badly.

Validity is the base task's: a candidate with any diverged or failed trajectory (count cap
reached, default ``cap = 1000`` concentration units, or the event budget ``max_events``, default
100,000 per trajectory, exhausted) is invalid and gets the floor. Simulation runs through
:func:`gfn_crn.sim.ssa.ssa_screened`: ``pilot`` (default 4) trajectories per scenario first, the
rest only for candidates whose pilots all completed (same validity, a fraction of the cost for
candidates that blow their budget), and one flagged trajectory stops its candidate's others.

Randomness: every evaluation uses a fresh generator seeded with the task's ``seed`` (common random
numbers), so evaluating the same batch twice gives the same losses. A candidate's loss depends
slightly on the batch it is evaluated in (the generator's draws are shared out over the batch).

Task files: ``kind = "ssa_tracking"`` or ``"ssa_robust"``, everything a ``tracking`` task file
takes except ``[task] settle_weight`` and ``[reward] reward_alpha`` / ``reward_eps`` (errors, not
applied to these kinds), plus an ``[ssa]`` table (``trajectories``, ``volume``, ``seed``, ``max_events``,
``method`` = ``"exact"`` | ``"tau"``, ``tau_epsilon``, ``cap``) and, for ``ssa_robust``,
``cv_weight`` in ``[task]``. Presets: ``ssa_tracking`` and ``ssa_robust``
(:data:`gfn_crn.tasks.stochastic_presets.SSA_PRESETS`).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Template
from ..sim import Scenario, SimResult
from ..sim.ssa import METHODS, SSAResult, ssa_screened
from .base import Task, make_weights
from .kinds import KindInput, register
from .tracking import TrackingTask

SSA_KINDS = ("ssa_tracking", "ssa_robust")
SSA_KEYS = {"trajectories", "volume", "seed", "max_events", "method", "tau_epsilon", "cap", "pilot"}


def coefficient_of_variation(mean: np.ndarray, std: np.ndarray, volume: float) -> np.ndarray:
    """std / max(mean, 1/volume), elementwise (the floor is one molecule's concentration)."""
    return std / np.maximum(mean, 1.0 / volume)


def weighted_mean_cv(mean: np.ndarray, std: np.ndarray, w: np.ndarray, volume: float) -> np.ndarray:
    """(B, S, T, O) moments -> (B, S): sum_t w cv / sum_t w, averaged over outputs."""
    cv = coefficient_of_variation(mean, std, volume)
    return np.einsum("bsto,t->bs", cv, w) / (w.sum() * mean.shape[3])


class SSATrackingTask(TrackingTask):
    """Tracking on the mean of stochastic trajectories.

    Args (beyond :class:`~gfn_crn.tasks.TrackingTask`'s):
        trajectories: M trajectories per (candidate, scenario).
        volume: counts per unit concentration.
        seed: seed of every evaluation's generator.
        max_events: event budget per trajectory (exhausted -> invalid).
        method: ``"exact"`` (default) or ``"tau"`` (tau-leaping, faster at large volumes).
        tau_epsilon: tau-leaping error parameter.
        pilot: trajectories per scenario simulated first (see the module docstring).
        cap: divergence cap in concentration units. Default 1000, not the deterministic 1e4: an
            exact SSA pays one pass per event, so an exploding candidate costs about
            ``cap * volume`` events before it is flagged (20,000 at volume 20 instead of 200,000,
            about what a good RPA design needs for the whole run).

    Details: ``final_output`` (B, S, O) of the mean, ``final_std`` (B, S, O), ``tracking`` (B, S),
    ``cv`` (B, S) (the weighted mean CV, reported for both kinds), ``events`` (B, S) (largest
    event count over the trajectories). ``result.sim`` is the mean as a SimResult;
    ``task.last_ssa`` the full :class:`~gfn_crn.sim.ssa.SSAResult` of the last evaluation.
    """

    kind = "ssa_tracking"
    default_good_threshold = 0.05

    def __init__(self, template: Template, scenarios: Sequence[Scenario], t, target="u1", *, trajectories: int = 64,
                 volume: float = 20.0, seed: int = 0, max_events: int = 100_000, method: str = "exact",
                 tau_epsilon: float = 0.03, cap: float = 1000.0, pilot: int = 4, **kw):
        super().__init__(template, scenarios, t, target, **kw)
        if int(trajectories) != trajectories or trajectories < 2:
            raise CRNError(f"trajectories must be an integer >= 2 (a variance needs two), got {trajectories}")
        for nm, v in (("volume", volume), ("tau_epsilon", tau_epsilon), ("cap", cap)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise CRNError(f"{nm} must be a finite number > 0, got {v!r}")
        if int(max_events) != max_events or max_events < 1:
            raise CRNError(f"max_events must be an integer >= 1, got {max_events}")
        if method not in METHODS:
            raise CRNError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if isinstance(seed, bool) or int(seed) != seed:
            raise CRNError(f"seed must be an integer, got {seed!r}")
        if isinstance(pilot, bool) or int(pilot) != pilot or pilot < 1:
            raise CRNError(f"pilot must be an integer >= 1, got {pilot!r}")
        self.pilot = int(pilot)
        self.trajectories, self.volume, self.seed = int(trajectories), float(volume), int(seed)
        self.max_events, self.method, self.tau_epsilon, self.cap = int(max_events), method, float(tau_epsilon), float(cap)
        self.last_ssa: SSAResult | None = None

    def ssa_options(self) -> dict:
        return {"trajectories": self.trajectories, "volume": self.volume, "seed": self.seed,
                "max_events": self.max_events, "method": self.method, "tau_epsilon": self.tau_epsilon, "cap": self.cap,
                "pilot": self.pilot}

    def simulate(self, networks) -> SimResult:
        r = ssa_screened(networks, self.scenarios, self.t, trajectories=self.trajectories, pilot=self.pilot,
                         volume=self.volume, seed=np.random.default_rng(self.seed), max_events=self.max_events,
                         cap=self.cap, method=self.method, tau_epsilon=self.tau_epsilon, record="moments",
                         species=self.outputs)
        self.last_ssa = r
        sim = r.as_sim_result()
        sim.stats["std"] = r.std
        sim.stats["ssa"] = r
        return sim

    def scenario_losses(self, sim):
        sl, det = super().scenario_losses(sim)
        std = sim.stats["std"]
        det["tracking"] = sl
        det["cv"] = weighted_mean_cv(sim.y, std, self.w, self.volume)
        det["final_std"] = std[:, :, -1, :]
        det["events"] = sim.stats["steps"]
        return self._combine_terms(sl, det), det

    def _combine_terms(self, tracking, det):
        return tracking

    def describe(self) -> str:
        if self.description:
            return self.description
        return (f"stochastic tracking of {self.target_spec} (mean of {self.trajectories} SSA trajectories, "
                f"volume {self.volume:g}) over {self.n_scenarios} scenarios")

    def settings(self) -> dict:
        d = super().settings()
        d.update(self.ssa_options())
        return d

    def verification_plan(self, settings):
        """None of the tracking checks: the runner's deterministic ``bounded`` check only (the
        settle and off-grid checks of a deterministic simulation say little about a design
        judged on stochastic means)."""
        return Task.verification_plan(self, settings)

    def plot(self, result, b: int = 0, path=None, ax=None):
        """Mean and a +-1 std band of each output against its target, one panel per scenario."""
        from ..sim.plot import plot_mean_band

        std = result.sim.stats["std"]
        titles = [f"{self.scenario_label(s)} (loss {result.scenario_loss[b, s]:.3g})" for s in range(self.n_scenarios)]
        head = (f"{self.name}: loss {result.loss[b]:.4g}, log R {result.log_reward[b]:.3g}"
                + ("" if result.valid[b] else f" [invalid: {result.reason[b]}]"))
        return plot_mean_band(self.t, result.sim.y[b], std[b], result.sim.species, path, targets=self.R,
                              scenarios=self.scenarios, panel_titles=titles, title=head,
                              status=[result.sim.status_name(b, s) for s in range(self.n_scenarios)])


class SSARobustTask(SSATrackingTask):
    """Tracking of the SSA mean plus ``cv_weight`` times the weighted mean CV (module docstring)."""

    kind = "ssa_robust"
    default_good_threshold = 0.08

    def __init__(self, template: Template, scenarios: Sequence[Scenario], t, target="u1", *, cv_weight: float = 0.1,
                 **kw):
        if isinstance(cv_weight, bool) or not isinstance(cv_weight, (int, float)) or not math.isfinite(cv_weight) \
                or cv_weight < 0:
            raise CRNError(f"cv_weight must be a finite number >= 0, got {cv_weight!r}")
        self.cv_weight = float(cv_weight)
        super().__init__(template, scenarios, t, target, **kw)

    def _combine_terms(self, tracking, det):
        return tracking + self.cv_weight * det["cv"]

    def describe(self) -> str:
        if self.description:
            return self.description
        return (f"noise-robust tracking of {self.target_spec}: SSA-mean tracking + {self.cv_weight:g} x weighted CV "
                f"({self.trajectories} trajectories, volume {self.volume:g}, {self.n_scenarios} scenarios)")

    def settings(self) -> dict:
        d = super().settings()
        d["cv_weight"] = self.cv_weight
        return d


# ------------------------------------------------------------------ task files and presets
def _ssa_from_config(c: KindInput):
    """An ``ssa_tracking`` / ``ssa_robust`` task: the tracking settings as for ``tracking``,
    ``[ssa]`` and (``ssa_robust``) ``[task] cv_weight`` read here."""
    ssa_sec = c.cfg.get("ssa", {}) or {}
    if not isinstance(ssa_sec, Mapping):
        raise CRNError(f"{c.source}: [ssa] must be a table")
    unknown = set(ssa_sec) - SSA_KEYS
    if unknown:
        raise CRNError(f"{c.source}: unknown key(s) {sorted(unknown)} in [ssa] (allowed: {', '.join(sorted(SSA_KEYS))})")
    cv_weight = c.task.get("cv_weight")
    if cv_weight is not None and c.kind != "ssa_robust":
        raise CRNError(f"{c.source}: [task] cv_weight is an ssa_robust setting (this task is {c.kind})")
    # settings these kinds do not honour are errors, never dropped: the settle term needs every
    # species' trajectory (the SSA records the outputs' moments only); the power term was never
    # applied to these kinds (the Task classes would take it, but no SSA task file has been
    # calibrated with it)
    for key, sec in (("settle_weight", "task"), ("reward_alpha", "reward"), ("reward_eps", "reward")):
        if key in (c.loss_kw if sec == "task" else c.common):
            raise CRNError(f"{c.source}: [{sec}] {key} is not supported by {c.kind} tasks (remove it)")
    common = {k: v for k, v in c.common.items() if k != "sim_options"}   # [sim] is refused for these kinds
    try:
        opts = {k: ssa_sec[k] for k in ssa_sec}
        scenarios = c.grid_scenarios()
        target = c.task.get("target", "u1")
        if c.kind == "ssa_robust":
            if cv_weight is not None:
                opts["cv_weight"] = cv_weight
            return SSARobustTask(c.template, scenarios, c.t, target, **c.loss_kw, **common, **opts)
        return SSATrackingTask(c.template, scenarios, c.t, target, **c.loss_kw, **common, **opts)
    except (TypeError, ValueError) as e:
        raise CRNError(f"{c.source}: {e}") from None


for _kind in SSA_KINDS:
    register(_kind, keys={"target", "cv_weight"}, grid=True, loss=True, sections={"ssa"}, sim=False)(_ssa_from_config)
