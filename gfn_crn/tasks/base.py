"""The common machinery of every task: scenarios, one simulator call per batch, the loss ->
log-reward map, validity, template checks (DESIGN.md section 5).

Reward (every kind)::

    log R = -beta * min(loss, loss_cap) + log prior(parameters of the ADDED reactions)

A candidate is *invalid* when any of its trajectories diverged or failed in the simulator, when
its loss is not finite, or when a parameter lies outside the prior's support (log-prior -inf).
Invalid candidates get ``loss = loss_cap`` and ``log_reward = floor``. NaN never escapes:
``loss`` and ``log_reward`` are always finite.

Choice of defaults (the experiment is ``benchmarks/task_throughput.py --calibrate``, plus 4096
prior-sampled candidates: the RPA template + 5 distinct random reactions of the 3-species
mass-action library, rates drawn from the default prior; 84.6% valid, 15.4% diverge):

* ``beta = 30`` (tracking kinds). The fraction of random candidates below a loss x falls steeply
  in the lower tail: P(L < 0.5) = 11%, P(L < 0.4) = 4.5%, P(L < 0.3) = 1.0%, P(L < 0.25) =
  0.24%, P(L < 0.2) = 0.05% (none below 0.18), i.e. by e^15 per unit of loss around 0.35 and
  e^30 around 0.25, steepening further down. The reward mass of a loss band is (number of
  candidates) x e^(-beta L), so only beta above that slope makes the mass concentrate on low
  losses instead of on the far more numerous mediocre candidates: with beta = 10 the 4096
  samples put 2.7% of their reward mass below 0.2, with beta = 30 26%. At beta = 30 the
  antithetic design (loss 0.0029) has e^31.8 the reward of a median random candidate (loss
  1.05, capped at 1) and e^30 that of the template alone, a design at loss 0.01 is within
  e^0.2 of it (good designs keep comparable mass: diversity), and loss 0.1 -> 0.01 gains e^2.7.
* ``loss_cap = 1`` (tracking kinds): about the template alone (1.05 on RPA) and the median
  random candidate; anything worse than doing nothing is equally useless, and capping keeps
  wild-but-finite candidates (valid losses reach 1e3 at the p99) from setting the scale of the
  trajectory-balance regression.
* ``floor = -(beta * loss_cap + 40)`` (-70 for RPA): below every valid candidate that is not at
  the edge of the prior's support (valid random candidates: log-reward p1 -45, log-prior p1
  -15.4 for 5 reactions; the prior of 5 mass-action rates all at the support edge is -38), so
  diverging never pays, yet close enough that trajectory balance does not regress onto
  1000-nat targets. The floor is *derived* (:class:`~gfn_crn.rewards.RewardMap`: it stays 40 nats
  below the lowest valid loss term when beta, the cap or the power term change; an explicit
  ``floor`` sets that margin). An environment scored by the task (or a scorer around it) uses
  the same floor for the candidates it rejects itself.
* prior: :class:`LogParameterPrior` defaults (normal on ln k, mean 0, std 2, support
  [1e-3, 1e3]); see :mod:`gfn_crn.tasks.prior`.

Each kind overrides these class defaults where its loss has another scale (documented there).

Optional power term (``reward_alpha > 0``; default 0 = off, the reward above unchanged)::

    log R = -beta * min(loss, cap) - alpha * log((min(loss, cap) + eps) / (cap + eps)) + log prior

``exp(-beta * L)`` barely separates excellent from good designs (at beta 30, loss 0.003 vs 0.05 is
a factor e^1.4 = 4); the power factor ``((L + eps) / (cap + eps))^-alpha`` multiplies the ratio of
two small losses' rewards by ``((L2 + eps) / (L1 + eps))^alpha`` (alpha 3, eps 1e-3: 0.003 vs 0.05
gains another factor (0.051 / 0.004)^3 = 2000) while leaving large losses ranked by the linear
term. It is 0 at the cap and at most ``alpha * log((cap + eps) / eps)`` (20.7 nats for alpha 3,
eps 1e-3, cap 1), so valid candidates stay above the invalid floor only if the floor is lowered
by that much: with the default floor (``floor=None``) it is. ``reward_eps`` (default 1e-3) sets
the loss below which differences no longer matter (a scale, like a tolerance).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Network, Template
from ..sim import OK, PiecewiseConstant, Scenario, SimResult, simulate
from ..sim.scenarios import check_time_grid
from ..sim.status import is_failure
from ..rewards.map import RewardMap
from ..rewards.result import TaskResult
from .prior import LogParameterPrior

WEIGHT_SCHEMES = ("transient", "uniform", "steady_state", "custom")
REASONS = ("ok", "diverged", "failed", "nonfinite", "prior")


# ------------------------------------------------------------------ weights
def transient_weights(n_t: int) -> np.ndarray:
    """0.25 on the first 20% of points, 1 in the middle, 2 on the last 20%.

    Convention (reproduces the RPA goldens 0.002917 / 0.002264 / 1.0500): with
    ``m = floor(0.2 * n_t)`` points, indices ``0..m-1`` get 0.25 and ``n_t-m..n_t-1`` get 2
    (200 and 200 of 1000 points); the loss divides by ``n_t`` (a plain mean of ``w * error``),
    not by the sum of the weights (1050 for 1000 points).
    """
    m = int(math.floor(0.2 * n_t + 1e-9))
    w = np.ones(n_t)
    if m:
        w[:m] = 0.25
        w[n_t - m:] = 2.0
    return w


def make_weights(scheme, t: np.ndarray) -> np.ndarray:
    """Weights over the time grid ``t``.

    ``scheme``: ``"transient"``, ``"uniform"``, ``"steady_state"`` (the last point only, with
    weight ``n_t`` so that the mean over points is the last point's error), or custom: an array
    of ``n_t`` non-negative numbers, or a list of ``[time, weight]`` pairs meaning ``weight``
    from ``time`` on (piecewise constant; the first time must be <= t[0]).
    """
    n_t = len(t)
    if isinstance(scheme, str):
        if scheme == "transient":
            return transient_weights(n_t)
        if scheme == "uniform":
            return np.ones(n_t)
        if scheme == "steady_state":
            w = np.zeros(n_t)
            w[-1] = n_t
            return w
        raise CRNError(f"unknown weight scheme {scheme!r} (known: {', '.join(WEIGHT_SCHEMES[:3])}, "
                       "or a list of n_t weights, or [[time, weight], ...])")
    try:
        arr = np.asarray(scheme, dtype=float)
    except (TypeError, ValueError):
        raise CRNError(f"custom weights must be numbers, got {scheme!r}") from None
    if arr.ndim == 2 and arr.shape[1] == 2:
        times, vals = arr[:, 0], arr[:, 1]
        if np.any(np.diff(times) <= 0):
            raise CRNError(f"custom weight times must increase strictly: {times.tolist()}")
        if times[0] > t[0]:
            raise CRNError(f"custom weights start at time {times[0]} after the grid's first point {t[0]}")
        arr = vals[np.searchsorted(times, t, side="right") - 1]
    elif arr.ndim != 1 or arr.size != n_t:
        raise CRNError(f"custom weights need {n_t} values (one per time point) or [[time, weight], ...] "
                       f"pairs, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise CRNError("custom weights must be finite and >= 0")
    if not np.any(arr > 0):
        raise CRNError("custom weights are all zero")
    return arr


# ------------------------------------------------------------------ scenarios
def input_at(value, t: np.ndarray) -> np.ndarray:
    """Value of a constant or piecewise-constant input on the grid ``t``."""
    if isinstance(value, PiecewiseConstant):
        idx = np.searchsorted(value.times, t, side="right") - 1
        return np.asarray(value.values)[np.maximum(idx, 0)]
    return np.full(len(t), float(value))


def scenario_env(scenarios: Sequence[Scenario], t: np.ndarray, species: Sequence[str]) -> dict[str, np.ndarray]:
    """Names an expression may use, as arrays broadcastable to (S, T): inputs (S, T) at each time,
    ``init_<species>`` (S, 1), ``t`` (1, T)."""
    env: dict[str, np.ndarray] = {"t": np.asarray(t, dtype=float)[None, :]}
    names = sorted({u for sc in scenarios for u in sc.inputs})
    for u in names:
        rows = []
        for sc in scenarios:
            rows.append(input_at(sc.inputs[u], t) if u in sc.inputs else np.full(len(t), np.nan))
        env[u] = np.stack(rows)
    init = np.stack([sc.init_vector(species) for sc in scenarios])
    for i, s in enumerate(species):
        env["init_" + s] = init[:, i:i + 1]
    return env


def check_expr_names(expr, env: Mapping[str, np.ndarray], what: str):
    missing = expr.names - set(env)
    if missing:
        raise CRNError(f"{what} {expr.text!r} uses {sorted(missing)}, which this task does not define "
                       f"(available: {', '.join(sorted(env))})")
    for u in expr.inputs():
        if np.any(np.isnan(env[u])):
            raise CRNError(f"{what} {expr.text!r} uses input {u}, which some scenario does not set")


def eval_on_scenarios(expr, env, S: int, T: int, what: str) -> np.ndarray:
    """Evaluate ``expr`` to an (S, T) array of finite values."""
    check_expr_names(expr, env, what)
    v = np.broadcast_to(expr(env), (S, T)).astype(float)
    if not np.all(np.isfinite(v)):
        s = int(np.argwhere(~np.isfinite(v))[0][0])
        raise CRNError(f"{what} {expr.text!r} is not finite in scenario {s}")
    return v


# ------------------------------------------------------------------ results
class Task:
    """Base class: a template, scenarios, a time grid, a loss and the loss -> log-reward map.

    Subclasses implement :meth:`scenario_losses` (and may override :meth:`combine`). Construct
    tasks directly or with :func:`gfn_crn.tasks.load_task`.

    Args:
        template: the fixed part every candidate must share.
        scenarios: the scenarios simulated for every candidate.
        t: the time grid (starts at 0).
        name, description: for listings and reports.
        beta: reward temperature. loss_cap: losses above it count as the cap in the reward.
        floor: log-reward of invalid candidates (default ``-(beta * loss_cap + 40)``).
        prior: the parameter prior (``None``: no prior term).
        good_threshold: a loss below which a design counts as good.
        sim_options: keyword arguments for :func:`gfn_crn.sim.simulate` (rtol, atol, cap, engine).
    """

    kind = "base"
    verify_settings = None  # the task file's [verify] table (gfn_crn.tasks.verification.VerifySettings); None: defaults
    max_reactions = None  # the task file's max_reactions: the design size it is meant for (gfn-crn train's default)
    default_beta = 30.0
    default_loss_cap = 1.0
    default_good_threshold = 0.01
    floor_margin = 40.0

    def __init__(self, template: Template, scenarios: Sequence[Scenario], t, *, name: str | None = None,
                 description: str = "", beta: float | None = None, loss_cap: float | None = None,
                 floor: float | None = None, prior: LogParameterPrior | None = LogParameterPrior(),
                 good_threshold: float | None = None, sim_options: Mapping | None = None,
                 reward_alpha: float = 0.0, reward_eps: float = 1e-3):
        if not isinstance(template, Template):
            raise CRNError(f"template must be a Template, got {type(template).__name__}")
        self.template = template
        self.scenarios = list(scenarios)
        if not self.scenarios:
            raise CRNError(f"{self.kind} task has no scenarios")
        for i, sc in enumerate(self.scenarios):
            if not isinstance(sc, Scenario):
                raise CRNError(f"scenario {i} is not a Scenario: {type(sc).__name__}")
            sc.init_vector(template.species)
        missing = [u for u in template.inputs if any(u not in sc.inputs for sc in self.scenarios)]
        if missing:
            raise CRNError(f"the template uses input(s) {missing} that the scenarios do not set")
        self.t = check_time_grid(t)
        self.name = name or self.kind
        self.description = description
        self.good_threshold = float(self.default_good_threshold if good_threshold is None else good_threshold)
        if not math.isfinite(self.good_threshold):
            raise CRNError(f"good_threshold must be finite, got {self.good_threshold}")
        settings = dict(beta=self.default_beta if beta is None else beta,
                        cap=self.default_loss_cap if loss_cap is None else loss_cap,
                        alpha=reward_alpha, eps=reward_eps, margin=self.floor_margin)
        #: the loss -> log-reward map; the floor is derived from it (see :class:`RewardMap`)
        self.reward = RewardMap(**settings) if floor is None else RewardMap.with_floor(floor, **settings)
        if prior is not None and not isinstance(prior, LogParameterPrior):
            raise CRNError(f"prior must be a LogParameterPrior or None, got {type(prior).__name__}")
        self.prior = prior
        opts = dict(sim_options or {})
        allowed = {"engine", "rtol", "atol", "cap", "max_steps", "method", "workers", "device"}
        unknown = set(opts) - allowed
        if unknown:
            raise CRNError(f"unknown simulator option(s) {sorted(unknown)} (allowed: {', '.join(sorted(allowed))})")
        self.sim_options = opts
        self.outputs = template.outputs
        if not self.outputs and self.needs_outputs:
            raise CRNError(f"{self.kind} task: the template declares no output species ('outputs:')")
        self._oidx = [template.species.index(o) for o in self.outputs]
        self.env = scenario_env(self.scenarios, self.t, template.species)

    needs_outputs = True

    # ---------------------------------------------------------------- the reward map
    # beta, loss_cap, reward_alpha and reward_eps read and replace the reward map; the floor is
    # derived from it, so it follows every change (a valid candidate stays above an invalid one)
    @property
    def task(self) -> "Task":
        """A task is its own scorer's task (the :class:`~gfn_crn.rewards.Scorer` protocol)."""
        return self

    def _set_reward(self, **change) -> None:
        self.reward = replace(self.reward, **change)

    beta = property(lambda self: self.reward.beta, lambda self, v: self._set_reward(beta=v),
                    doc="reward temperature")
    loss_cap = property(lambda self: self.reward.cap, lambda self, v: self._set_reward(cap=v),
                        doc="losses above it count as the cap in the reward")
    reward_alpha = property(lambda self: self.reward.alpha, lambda self, v: self._set_reward(alpha=v),
                            doc="weight of the power term (0: off)")
    reward_eps = property(lambda self: self.reward.eps, lambda self, v: self._set_reward(eps=v),
                          doc="loss scale of the power term")

    @property
    def floor(self) -> float:
        """The log-reward of invalid candidates (derived from the reward map)."""
        return self.reward.floor

    @property
    def power_span(self) -> float:
        """The largest value of the power term (0 when ``reward_alpha`` is 0)."""
        return self.reward.power_span

    def loss_to_log_reward(self, loss: np.ndarray) -> np.ndarray:
        """The loss part of the log-reward (without the prior) for valid candidates."""
        return self.reward.loss_term(loss)

    # ---------------------------------------------------------------- candidates
    @property
    def n_scenarios(self) -> int:
        return len(self.scenarios)

    def adopt(self, network: Network) -> Network:
        """``network`` on this task's template.

        A network whose template equals the task's is returned as is. One with no fixed reactions
        (a file of added reactions only) is moved onto the task's template (its species must be
        the template's, its outputs none or the template's). Otherwise the templates must agree
        and the error lists where they differ.
        """
        if network.template == self.template:
            return network
        t = network.template
        if not t.fixed:
            extra = set(t.species) - set(self.template.species)
            if extra:
                raise CRNError(f"network species {sorted(extra)} are not in task {self.name!r}'s template "
                               f"(species: {' '.join(self.template.species)})")
            if t.outputs and t.outputs != self.template.outputs:
                raise CRNError(f"network outputs {list(t.outputs)} differ from task {self.name!r}'s "
                               f"outputs {list(self.template.outputs)}")
            # a model from another tool (SBML, Antimony) lists the template's reactions with the
            # design's: those that match the template are its fixed reactions, the rest the design
            fixed = {i.reaction.signature: i for i in self.template.fixed}
            design = []
            for inst in network.reactions:
                tmpl = fixed.get(inst.reaction.signature)
                if tmpl is None:
                    design.append(inst)
                elif tmpl != inst:
                    raise CRNError(f"reaction '{inst.reaction.describe()}' is task {self.name!r}'s template "
                                   f"reaction with other parameters ({inst.params} vs the template's {tmpl.params})")
            return Network(self.template, tuple(design), network.name)
        diff = t.diff(self.template)
        raise CRNError(f"the network's template (its 'fixed:' lines) differs from task {self.name!r}'s: "
                       + "; ".join(f"{d}" for d in diff).replace("the first", "the network")
                       .replace("the second", "the task"))

    def check_networks(self, networks: Sequence[Network]) -> list[Network]:
        if isinstance(networks, Network):
            networks = [networks]
        networks = list(networks)
        for i, net in enumerate(networks):
            if not isinstance(net, Network):
                raise CRNError(f"candidate {i} is not a Network: {type(net).__name__}")
            if net.template is not self.template and net.template != self.template:
                diff = net.template.diff(self.template)
                raise CRNError(f"candidate {i} does not use task {self.name!r}'s template: "
                               + "; ".join(diff).replace("the first", "the candidate")
                               .replace("the second", "the task"))
        return networks

    # ---------------------------------------------------------------- evaluation
    def simulate(self, networks: Sequence[Network]) -> SimResult:
        return simulate(networks, self.scenarios, self.t, **self.sim_options)

    def scenario_losses(self, sim: SimResult) -> tuple[np.ndarray, dict]:
        """(B, S) per-scenario losses (may be non-finite for bad trajectories) and details."""
        raise NotImplementedError

    def combine(self, scenario_loss: np.ndarray) -> np.ndarray:
        """(B, S) -> (B,): the mean over scenarios."""
        return scenario_loss.mean(axis=1)

    def log_priors(self, networks: Sequence[Network]) -> np.ndarray:
        """(B,) log-prior of the added reactions' parameters (vectorised over the batch)."""
        if self.prior is None:
            return np.zeros(len(networks))
        return self.prior.log_prob_networks(networks)

    def evaluate(self, networks: Sequence[Network]) -> TaskResult:
        """Loss, log-reward, validity and details of a batch, with one simulator call."""
        networks = self.check_networks(networks)
        if not networks:
            raise CRNError("evaluate needs at least one network")
        sim = self.simulate(networks)
        return self.score(sim, self.log_priors(networks))

    def score(self, sim: SimResult, log_prior=None) -> TaskResult:
        """The result for trajectories already simulated on this task's scenarios and grid (e.g.
        synthetic outputs in tests); ``log_prior`` (B,) defaults to 0."""
        B = sim.y.shape[0]
        if sim.y.shape[1] != self.n_scenarios or sim.y.shape[2] != self.t.size:
            raise CRNError(f"trajectories of shape {sim.y.shape} do not match the task's {self.n_scenarios} "
                           f"scenarios x {self.t.size} points")
        lp = np.zeros(B) if log_prior is None else np.asarray(log_prior, dtype=float)
        with np.errstate(all="ignore"):
            sl, details = self.scenario_losses(sim)
            sl = np.asarray(sl, dtype=float)
            raw = np.asarray(self.combine(sl), dtype=float)
        reason = np.full(B, "ok", dtype=object)
        reason[~np.isfinite(lp)] = "prior"
        # a sum is finite iff every term is (trajectories are clipped to the cap, so no overflow)
        reason[~np.isfinite(raw) | ~np.isfinite(sim.y.reshape(B, -1).sum(axis=1))] = "nonfinite"
        reason[is_failure(sim.status).any(axis=1)] = "failed"  # any cause (gfn_crn.sim.SolverStatus)
        reason[(sim.status == 1).any(axis=1)] = "diverged"
        valid = reason == "ok"
        loss = np.where(valid, raw, self.loss_cap)
        log_reward = self.reward.log_reward(loss, lp, valid)
        sl = np.where(~valid[:, None] | ~np.isfinite(sl), np.nan, sl)
        return TaskResult(loss.astype(float), log_reward.astype(float), valid, reason.astype(str), lp, sl, sim,
                          details)

    def __call__(self, networks: Sequence[Network]) -> tuple[np.ndarray, np.ndarray]:
        r = self.evaluate(networks)
        return r.log_reward, r.valid

    # ---------------------------------------------------------------- reporting
    def describe(self) -> str:
        """One line for listings."""
        return self.description or f"{self.kind} task"

    def scenario_label(self, s: int) -> str:
        sc = self.scenarios[s]
        if sc.label:
            return sc.label
        parts = []
        for k, v in sc.inputs.items():
            parts.append(f"{k}={v:g}" if not isinstance(v, PiecewiseConstant) else f"{k}=pulses")
        if isinstance(sc.init, dict) and sc.init:
            parts += [f"{k}(0)={v:g}" for k, v in sc.init.items()]
        return ", ".join(parts) or "default"

    def scenario_summary(self, result: TaskResult, b: int, s: int) -> dict:
        """JSON-ready details of scenario ``s`` of candidate ``b`` (kinds add their own)."""
        sc = self.scenarios[s]
        d = {"label": self.scenario_label(s),
             "inputs": {k: (v if not isinstance(v, PiecewiseConstant) else
                            {"times": list(v.times), "values": list(v.values)}) for k, v in sc.inputs.items()},
             "status": result.sim.status_name(b, s),
             "loss": _num(result.scenario_loss[b, s])}
        if isinstance(sc.init, dict):
            d["init"] = dict(sc.init)
        else:
            d["init"] = sc.init
        for k, v in result.details.items():
            v = np.asarray(v)
            if v.ndim >= 2 and v.shape[:2] == (len(result.loss), self.n_scenarios):
                d[k] = _num(v[b, s])
        return d

    def summary(self, result: TaskResult, b: int = 0) -> dict:
        """``{"loss", "log_reward", "valid", "reason", "log_prior", "good", "task", "scenarios": [...]}``."""
        return {
            "task": self.name,
            "kind": self.kind,
            "loss": _num(result.loss[b]),
            "log_reward": _num(result.log_reward[b]),
            "valid": bool(result.valid[b]),
            "reason": str(result.reason[b]),
            "log_prior": _num(result.log_prior[b]),
            "good": bool(result.valid[b] and result.loss[b] < self.good_threshold),
            "scenarios": [self.scenario_summary(result, b, s) for s in range(self.n_scenarios)],
        }

    def settings(self) -> dict:
        return {"kind": self.kind, "name": self.name, "beta": self.beta, "loss_cap": self.loss_cap,
                "reward_alpha": self.reward_alpha, "reward_eps": self.reward_eps, "floor": self.floor, "good_threshold": self.good_threshold,
                "scenarios": self.n_scenarios, "t_f": float(self.t[-1]), "n_t": int(self.t.size)}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, scenarios={self.n_scenarios}, n_t={self.t.size}, "
                f"beta={self.beta:g}, loss_cap={self.loss_cap:g})")

    def plot(self, result: TaskResult, b: int = 0, path=None, ax=None):
        """Draw candidate ``b`` against the target (see :mod:`gfn_crn.tasks.plots`)."""
        from .plots import plot_result

        return plot_result(self, result, b, path)

    def figure(self, result: TaskResult, b: int = 0):
        """The figure :meth:`plot` titles and saves: each kind draws its own view (base: the
        outputs over time, one panel per scenario)."""
        from .plots import outputs_figure

        return outputs_figure(self, result, b)

    def verification_plan(self, settings):
        """The checks beyond the loss (a :class:`~gfn_crn.tasks.verification.VerificationPlan`)
        under ``settings`` (:class:`~gfn_crn.tasks.verification.VerifySettings`). Base: none of
        its own (every task gets the runner's ``bounded`` check)."""
        from .verification import VerificationPlan

        return VerificationPlan()


def _num(v):
    """JSON-safe number (NaN/inf -> None) or nested list."""
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return _num(v.item())
        return [_num(x) for x in v]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None


def gather_outputs(sim: SimResult, outputs: Sequence[str]) -> np.ndarray:
    """(B, S, T, O) trajectories of the output species."""
    idx = [sim.species.index(o) for o in outputs]
    return sim.y[..., idx]


def status_ok(sim: SimResult) -> np.ndarray:
    return sim.status == OK
