"""Every setting of gfn_crn training, declared once: its type, default and documentation.

The settings come in sections, each a dataclass whose fields are declared with
:func:`gfn_crn.crn.settings.setting`: the default, the documentation, what a value must be
(``choices``, bounds ``ge``/``gt``/``le``/``lt``; the type is the annotation) and, for the
settings ``gfn-crn train`` takes as flags of their own, ``flag=True`` (``resume="..."``: the flag
may change on ``--resume``). The flags, the resume guard, the checks of ``--set``, config files,
presets and :meth:`RunConfig.validate`, the docs table (:func:`config_table`) and the
``config.toml`` comments are all made from these declarations:

* :class:`TrainConfig` - trajectory-balance training (:func:`gfn_crn.training.train`);
* :class:`ReinforceConfig` - the REINFORCE baseline (:func:`gfn_crn.training.reinforce.train_reinforce`);
* :class:`TopologyConfig` - the topology-level reward (:class:`gfn_crn.rewards.topology.TopologyReward`);
* :class:`StructureSearchConfig` - structure local search (:class:`gfn_crn.training.local_search.StructureLocalSearch`);
* :class:`RunConfig` - a ``gfn-crn train`` run: what to design, outputs, and one of each section.

``train(env)`` in Python and ``gfn-crn train`` without flags start from the same defaults (those
of these dataclasses); ``tests/test_config.py`` checks it.

A run's settings are read and written as flat ``key = value`` TOML (``RUN_DIR/config.toml``)
and set by ``--set KEY=VALUE``. Each flat key is one section field: by default the field's own
name (run and train sections) or ``<section prefix>_<name>``; a field's ``metadata["key"]``
names it explicitly, ``metadata["key"] = None`` keeps it out of the run settings (a Python-only
setting), and ``metadata["shared"] = "train"`` says the run takes it from the train section
(the REINFORCE baseline uses the same iterations, batch size, network and seed as TB).
:func:`flat_keys` lists the mapping.

Precedence, lowest first: the defaults, ``--preset``, ``--config FILE.toml``, then the
command-line flags. An unknown key is an error that names it and lists the allowed ones.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from ..crn.errors import CRNError
from ..crn.settings import Spec, check_value, setting, spec_of
from ..crn.library import ORDERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


ALGORITHMS = ("tb", "reinforce")


# ---------------------------------------------------------------------------- sections
@dataclass
class TrainConfig:
    """Settings of trajectory-balance training (:func:`gfn_crn.training.train`)."""

    n_iterations: int = setting(100000, "training iterations (one batch each); runs with max_evaluations stop at "
                                          "the budget first", key="iterations", ge=0, flag=True,
                                  resume="the new total")
    batch_size: int = setting(16, "designs sampled (and simulated) per iteration", ge=1, flag=True)
    seed: Optional[int] = setting(0, "seeds torch, numpy and random; a resumed run continues bit-for-bit",
                                  flag=True)
    lr: float = setting(1e-3, "Adam learning rate of the policy")
    lr_logZ: float = setting(0.1, "learning rate of log Z")
    init_logZ: float = setting(0.0, "initial log Z")
    grad_clip: float = setting(10.0, "gradient-norm clip (0 = off)")
    # policy network
    hidden: int = setting(128, "width of the policy network's hidden layers")
    n_layers: int = setting(2, "hidden layers of the policy network")
    activation: str = setting("relu", "activation of the policy network", key=None)
    family: Optional[str] = setting(None, "continuous parameter family (empty: the estimator's default)")
    learned_pb: bool = setting(False, "learn the backward policy (free order only; canonical has PB = 1)")
    # exploration schedules: linear from *_start to *_end over anneal_fraction of the iterations
    temperature_start: float = setting(2.0, "structure-logit temperature of the exploration policy at the start",
                                        gt=0)
    temperature_end: float = setting(1.0, "... at the end of the annealing", gt=0)
    epsilon_start: float = setting(0.1, "share of uniform structure choices (and broad parameter proposals) "
                                         "at the start", ge=0, le=1)
    epsilon_end: float = setting(0.0, "... at the end of the annealing", ge=0, le=1)
    param_spread_start: float = setting(1.0, "scale factor of the continuous parameter distribution at the start")
    param_spread_end: float = setting(1.0, "... at the end of the annealing")
    param_epsilon: Optional[float] = setting(None, "share of broad parameter proposals (None: epsilon's)", key=None)
    sf_bias: float = setting(0.0, "subtracted from the exit logit while exploring")
    anneal_fraction: float = setting(0.5, "exploration anneals linearly over this share of the iterations "
                                          "(0: the *_end values from the start)", ge=0, le=1)
    # replay
    replay_capacity: int = setting(2000, "replay buffer size, in trajectories (one per sampled design; 0 = no replay)")
    replay_fraction: float = setting(0.5, "replayed trajectories per batch, as a share of batch_size")
    prioritized_replay: bool = setting(True, "the replay buffer keeps the highest-reward trajectories "
                                              "(else the latest)")
    replay_updates: int = setting(3, "extra TB updates per iteration, each on batch_size trajectories drawn from "
                                     "the replay buffer only (no new simulations; for expensive cached rewards)", ge=0)
    final_update_ratio: float = setting(0.1, "TB updates on the replay buffer once the search is over, per "
                                              "evaluation of the budget (no new simulations; 0 = none): the policy "
                                              "is fit to the best designs found, so that its own samples propose them",
                                        ge=0)
    final_buffer_share: float = setting(0.5, "the share of the policy's probability the final updates put on the "
                                             "replay buffer's designs, in proportion to their rewards (log Z is set "
                                             "to log(buffer reward / share) and held); the rest stays on designs "
                                             "not seen", gt=0, le=1)
    # misc
    reward_cache_size: Optional[int] = setting(None, "size of the env's reward cache (None: the env's)", key=None)
    num_threads: Optional[int] = setting(1, "torch threads (1 keeps runs reproducible)", key="threads", ge=1)
    log_every: int = setting(0, "print a progress line every this many iterations (0 = never)", key=None)

    @property
    def anneal_iterations(self) -> int:
        """Iterations over which exploration anneals: ``round(anneal_fraction * n_iterations)``."""
        return int(round(self.anneal_fraction * self.n_iterations))

    def policy_kwargs(self, iteration: int) -> dict[str, float]:
        """The exploration ``policy_kwargs`` at ``iteration`` (empty when on-policy)."""
        n = self.anneal_iterations
        return self.policy_kwargs_at(1.0 if n <= 0 else min(iteration / n, 1.0))

    def policy_kwargs_at(self, f: float) -> dict[str, float]:
        """The exploration ``policy_kwargs`` at annealing progress ``f`` (0: *_start, 1: *_end).
        Runs with an evaluation budget anneal over ``anneal_fraction`` of the budget instead."""
        f = min(max(float(f), 0.0), 1.0)

        def lerp(a, b):
            return a + (b - a) * f

        kw: dict[str, float] = {}
        t = lerp(self.temperature_start, self.temperature_end)
        e = lerp(self.epsilon_start, self.epsilon_end)
        s = lerp(self.param_spread_start, self.param_spread_end)
        if t != 1.0:
            kw["temperature"] = t
        if e != 0.0:
            kw["epsilon"] = e
        if s != 1.0:
            kw["param_spread"] = s
        if self.sf_bias != 0.0:
            kw["sf_bias"] = self.sf_bias
        if self.param_epsilon is not None:
            kw["param_epsilon"] = self.param_epsilon
        return kw


#: plain trajectory balance: the :class:`TrainConfig` defaults before the default recipe (no replay,
#: milder exploration, batch 64). Tests and benchmarks that study TB itself start from these.
PLAIN_TB = dict(n_iterations=1000, batch_size=64, temperature_start=1.5, epsilon_start=0.05, replay_capacity=0,
                prioritized_replay=False, replay_updates=0, final_update_ratio=0.0)


def plain_tb(**kw) -> "TrainConfig":
    """A :class:`TrainConfig` from :data:`PLAIN_TB`, with ``kw`` on top."""
    return TrainConfig(**{**PLAIN_TB, **kw})


#: the run settings (flat keys) of plain TB on the per-sample reward in canonical order: what
#: ``gfn-crn train`` ran before the default recipe
PLAIN_RUN = dict(order="canonical", topology_reward=False, structure_search_every=0, structure_search_swap_every=0,
                 promote_below=0.0, screen_below=0.0, refine_every=0,
                 refine_final_share=0.0, max_evaluations=0, iterations=1000, batch_size=64, temperature_start=1.5,
                 epsilon_start=0.05, replay_capacity=0, prioritized_replay=False, replay_updates=0,
                 final_update_ratio=0.0)

#: on-policy sampling from the first iteration (the :class:`TrainConfig` defaults explore)
ON_POLICY = dict(temperature_start=1.0, temperature_end=1.0, epsilon_start=0.0, epsilon_end=0.0,
                 param_spread_start=1.0, param_spread_end=1.0, anneal_fraction=0.0)


@dataclass
class ReinforceConfig:
    """Settings of the risk-seeking REINFORCE baseline (:mod:`gfn_crn.training.reinforce`).

    In a run the fields marked ``shared`` come from the train section."""

    n_iterations: int = setting(100000, "training iterations (one batch each)", shared="train")
    batch_size: int = setting(16, "designs sampled per iteration", shared="train")
    lr: float = setting(1e-4, "Adam learning rate of a reinforce run (lr, lr_logZ and the exploration settings "
                              "are TB's)")
    risk: float = setting(0.95, "keep the best (1 - risk) share of each batch", key=None)
    entropy_coef: float = setting(1e-3, "entropy bonus coefficient", key=None)
    grad_clip: float = setting(1.0, "gradient-norm clip of REINFORCE (0 = off)", key=None)
    hidden: int = setting(128, "width of the policy network's hidden layers", shared="train")
    n_layers: int = setting(2, "hidden layers of the policy network", shared="train")
    family: Optional[str] = setting(None, "continuous parameter family", shared="train")
    seed: Optional[int] = setting(0, "seeds torch, numpy and random", shared="train")
    num_threads: Optional[int] = setting(1, "torch threads", shared="train")
    replay: bool = setting(False, "reinforce runs: self-imitation replay of the best archived designs")
    replay_capacity: int = setting(64, "self-imitation archive size, in trajectories (one per distinct topology: "
                                       "the best seen)", key=None)
    replay_batch: int = setting(8, "at most this many archived designs re-scored and replayed per iteration", key=None)
    replay_weight: float = setting(1.0, "weight of a replayed design's term (1: like an elite sample)", key=None)
    max_evaluations: Optional[int] = setting(None, "stop once this many candidates were evaluated (batch + replay; "
                                                   "None: n_iterations only)", key=None)


@dataclass
class TopologyConfig:
    """The topology-level reward (:class:`gfn_crn.rewards.topology.TopologyReward`)."""

    enabled: bool = setting(True, "score structures, not single rate vectors: each new structure's reward is "
                                   "taken at the best loss of a short rate refinement started at the prior's mode "
                                   "(cached; every refinement evaluation counts), plus the prior of the sampled rates",
                            key="topology_reward", flag=True)
    rounds: int = setting(0, "topology reward: refinement rounds per new structure (0: the prior's mode only)", ge=0)
    popsize: int = setting(8, "topology reward: candidates per round (a new structure costs 1 + rounds x popsize)", ge=1)
    sigma: float = setting(0.5, "topology reward: initial step of the refinement, in ln k", gt=0)
    promote_below: float = setting(20.0, "topology reward: a new structure whose loss after the first rounds is "
                                         "below this multiple of the good threshold gets promote_rounds more "
                                         "rounds (a second fidelity for promising structures; 0 = off)",
                                   key="promote_below", ge=0)
    promote_cap: float = setting(0.2, "topology reward: the promotion bar never exceeds this share of the loss cap "
                                      "(rpa: 20 x 0.01 = 0.2 = 0.2 x 1, unchanged; logic-4: 0.2 instead of 1.0)",
                                 key="promote_cap", gt=0, le=1)
    promote_rounds: int = setting(3, "topology reward: rounds of the second fidelity (promote_below)",
                                  key="promote_rounds", ge=0)
    screen_below: float = setting(5.0, "topology reward: screen every new structure whose refined loss is below "
                                       "this multiple of the good threshold with the cheap verification checks "
                                       "(bounded, settled over the long horizon); one that fails scores like a "
                                       "diverging design, and the archive refinements skip it (0 = off)",
                                  key="screen_below", ge=0)


@dataclass
class StructureSearchConfig:
    """Structure local search (:class:`gfn_crn.training.local_search.StructureLocalSearch`)."""

    every: int = setting(10, "every this many iterations, local search around the best structures (0 = off): "
                            "destroy-and-rebuild neighbours, scored and replayed to TB (needs topology_reward "
                            "and replay_capacity > 0)", ge=0)
    top_k: int = setting(8, "structure search: the best structures visited per search", ge=1)
    neighbours: int = setting(4, "structure search: neighbours per visited structure", ge=1)
    destroy: int = setting(1, "structure search: reactions removed before the policy rebuilds", ge=1)
    max_visits: int = setting(4, "structure search: visits per structure over the run", ge=1)
    swap_every: int = setting(2, "every this many iterations, the best structure not expanded yet has its whole "
                                 "one-move neighbourhood scored (each added reaction swapped for every other "
                                 "library reaction, one added, one removed; 0 = off; pairs with topology_rounds = 0)",
                              ge=0)
    swap_replay: int = setting(16, "swap search: the best neighbours replayed to TB per expansion", ge=1)
    swap_max: int = setting(1024, "swap search: at most this many neighbours scored per expansion (a seeded sample "
                                  "of a larger neighbourhood: 5 x 415 on logic-4, 8 x 748 on rpa-plant)", ge=1)
    swap_pool: int = setting(8, "swap search: the structure expanded is drawn uniformly from this many best "
                                "structures not expanded yet (1: always the best)", ge=1)


@dataclass
class RefineConfig:
    """Rate refinement of the best archived designs (:class:`gfn_crn.rewards.refine.ArchiveRefinement`
    during the run, :func:`gfn_crn.rewards.refine.refine_archive` at its end)."""

    every: int = setting(5, "every this many iterations, more rate refinement for the best archived designs "
                            "(0 = off); the evaluations count and the designs are archived", ge=0)
    top_k: int = setting(4, "archive refinement: designs refined per call (the best not yet at max_visits)", ge=1)
    rounds: int = setting(2, "archive refinement: rounds of 8 candidates per design and call", ge=1)
    max_visits: int = setting(8, "archive refinement: calls per design over the run", ge=1)
    final_share: float = setting(0.3, "share of max_evaluations kept for a final successive-halving refinement "
                                      "of the 128 best archived designs (needs max_evaluations)", ge=0, lt=1)


#: the sections of a run: attribute of :class:`RunConfig` -> flat-key prefix ("" = the field name)
SECTIONS = {"train": "", "reinforce": "reinforce_", "topology": "topology_", "search": "structure_search_",
            "refine": "refine_"}


@dataclass
class RunConfig:
    """Every setting of a ``gfn-crn train`` run: its own fields plus one of each section."""

    # what to design
    task: str = setting("rpa", "a preset name (gfn-crn tasks lists them) or a task TOML file", flag=True)
    algorithm: str = setting("tb", "tb (trajectory-balance GFlowNet) or reinforce (the risk-seeking REINFORCE "
                                   "baseline of gfn_crn.training.reinforce, same policy network and environment)",
                             choices=ALGORITHMS, flag=True)
    library: str = setting("mass_action", "comma-separated parts: mass_action (order <= 2), hill or hill:R (Hill "
                                          "production, <= R regulators, default 1), degradation (active "
                                          "degradation); over the template's species", flag=True)
    max_reactions: int = setting(5, "at most this many added reactions per design (default: the task file's "
                                    "max_reactions where it has one, else 5)", ge=1, flag=True)
    min_reactions: int = setting(1, "the exit action is allowed once this many are present", ge=0)
    order: str = setting("free", "canonical (increasing library index, one trajectory per design) or free "
                                      "(any order)", choices=ORDERS, flag=True)
    max_minutes: float = setting(0.0, "stop (and save) after this many minutes of training; 0 = no limit", ge=0,
                                 flag=True, resume="may change")
    max_evaluations: int = setting(102400, "stop once this many candidates were evaluated (the budget that makes runs "
                                      "comparable; 0 = iterations only)", ge=0, flag=True,
                                  resume="the new total")
    # outputs
    archive_capacity: int = setting(1000, "the archive keeps this many best distinct topologies", ge=1)
    checkpoint_every: int = setting(50, "iterations between checkpoints (also saved at the end and on Ctrl-C)", ge=1)
    final_samples: int = setting(256, "designs drawn on-policy after training for the loss histogram and "
                                      "samples.jsonl", ge=0)
    plot_top: int = setting(3, "time-course plots of this many top designs", ge=0)
    export_top: int = setting(5, "export this many top designs (text, JSON, Antimony, SBML) to designs/", ge=0)
    # reward evaluation
    workers: int = setting(1, "processes that simulate (score) each batch; results do not depend on it "
                              "(1 = this process)", ge=1, flag=True, resume="may change")
    chunk_size: int = setting(32, "designs per simulator call; a batch is cut into the same chunks whatever "
                                  "workers is", ge=1)
    # sections
    train: TrainConfig = field(default_factory=TrainConfig)
    reinforce: ReinforceConfig = field(default_factory=ReinforceConfig)
    topology: TopologyConfig = field(default_factory=TopologyConfig)
    search: StructureSearchConfig = field(default_factory=StructureSearchConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)

    def train_config(self) -> TrainConfig:
        """The :class:`TrainConfig` of this run."""
        return self.train

    def reinforce_config(self) -> ReinforceConfig:
        """The :class:`ReinforceConfig` of a ``reinforce`` run (shared fields from the train section)."""
        return replace(self.reinforce, **{f.name: getattr(self.train, f.name) for f in fields(ReinforceConfig)
                                          if f.metadata.get("shared") == "train"})

    def get(self, key: str):
        """The value of a flat setting (``config.get("iterations")``)."""
        section, name = _flat_index()[key]
        return getattr(self if section is None else getattr(self, section), name)

    def training_budget(self) -> int:
        """Evaluations after which training stops and the final refinement spends the rest of
        ``max_evaluations``: ``round(max_evaluations x (1 - refine_final_share))`` (0: no budget)."""
        return int(round(self.max_evaluations * (1 - self.refine.final_share)))

    def anneal_span(self) -> float:
        """Evaluations over which exploration anneals in a run with a budget: ``anneal_fraction`` of
        the evaluations before the final refinement (0 without a budget: the schedule counts
        iterations, :meth:`TrainConfig.policy_kwargs`)."""
        return self.train.anneal_fraction * self.max_evaluations * (1 - self.refine.final_share)

    def exploration_schedule(self, evaluations: Callable[[], int]) -> Callable[[int], dict]:
        """The TB trainer's schedule, iteration -> exploration ``policy_kwargs``: over the iterations
        (:meth:`TrainConfig.policy_kwargs`), or, in a run with a budget, over :meth:`anneal_span`
        evaluations (``evaluations()`` is the run's count so far)."""
        if self.algorithm == "reinforce" or not self.max_evaluations:
            return self.train.policy_kwargs
        span, train = self.anneal_span(), self.train
        return lambda it: train.policy_kwargs_at(1.0 if span <= 0 else evaluations() / span)

    def validate(self) -> "RunConfig":
        """``self`` if every setting is of its type, in its choices and bounds (declared with the
        setting) and the settings agree with each other; else a :class:`CRNError` naming it."""
        def need(cond, msg):
            if not cond:
                raise CRNError(f"config: {msg}")

        for key, _section, f in flat_keys():
            check_value(self.get(key), f"config: {key}", spec_of(f))
        t, s = self.train, self.search
        need(0 <= self.min_reactions <= self.max_reactions,
             f"need 0 <= min_reactions <= max_reactions, got {self.min_reactions}, {self.max_reactions}")
        need(t.num_threads is not None, "threads must be >= 1")
        need(t.replay_updates == 0 or t.replay_capacity >= t.batch_size,
             f"replay_updates = {t.replay_updates} needs a replay buffer of at least one batch "
             f"(replay_capacity >= batch_size = {t.batch_size}), got replay_capacity = {t.replay_capacity}")
        if t.final_update_ratio and self.algorithm == "tb":
            need(t.replay_capacity >= t.batch_size, f"final_update_ratio = {t.final_update_ratio} needs a replay "
                 f"buffer of at least one batch (replay_capacity >= batch_size = {t.batch_size}), got "
                 f"replay_capacity = {t.replay_capacity}; set final_update_ratio = 0 to train without one")
        for key, on in (("structure_search_every", s.every), ("structure_search_swap_every", s.swap_every)):
            if on:
                need(self.topology.enabled, f"{key} needs topology_reward = true")
                need(self.algorithm == "tb", f"{key} works with algorithm = tb only")
                need(t.replay_capacity > 0, f"{key} needs a replay buffer (replay_capacity > 0)")
        need(self.refine.final_share == 0 or self.max_evaluations > 0,
             "refine_final_share needs a budget: set max_evaluations")
        for part in self.library.split(","):
            parse_library_part(part)
        return self


# ---------------------------------------------------------------------------- flat keys
def flat_keys() -> Iterator[tuple[str, Optional[str], Any]]:
    """``(flat key, section attribute or None for the run's own fields, dataclass field)`` of
    every run setting, in declaration order."""
    for f in fields(RunConfig):
        if f.name in SECTIONS:
            continue
        yield f.name, None, f
    for section, prefix in SECTIONS.items():
        cls = {f.name: f for f in fields(RunConfig)}[section].default_factory
        for f in fields(cls):
            if f.metadata.get("shared"):
                continue
            key = f.metadata.get("key", prefix + f.name)
            if key is None:
                continue
            yield key, section, f


_FLAT: dict = {}


def _flat_index() -> dict[str, tuple[Optional[str], str]]:
    if not _FLAT:
        for key, section, f in flat_keys():
            if key in _FLAT:  # pragma: no cover - a declaration error
                raise RuntimeError(f"flat setting {key!r} declared twice")
            _FLAT[key] = (section, f.name)
    return _FLAT


def _field(key: str):
    section, name = _flat_index()[key]
    cls = RunConfig if section is None else type(getattr(RunConfig(), section))
    return {f.name: f for f in fields(cls)}[name]


#: the documentation of every flat run setting (from the fields' metadata)
FIELD_DOCS: dict[str, str] = {key: f.metadata["doc"] for key, _, f in flat_keys()}


def flag_settings() -> Iterator[tuple[str, str, Any]]:
    """``(flat key, flag, dataclass field)`` of every setting that ``gfn-crn train`` takes as a
    flag of its own (``metadata["flag"]``: True for ``--<key with dashes>``, or the flag's name);
    every other setting is set with ``--set KEY=VALUE``. A setting with ``metadata["resume"]``
    (a note for the help) may change on ``--resume``; the others may not."""
    for key, _, f in flat_keys():
        fl = f.metadata.get("flag")
        if fl:
            yield key, "--" + (key.replace("_", "-") if fl is True else fl), f


#: the flat settings that may change when a run is resumed (``gfn-crn train --resume DIR``)
RESUMABLE: tuple[str, ...] = tuple(key for key, _, f in flat_keys() if f.metadata.get("resume"))

#: ``--preset`` values: overrides of the defaults (flat keys).
PRESETS: dict[str, dict[str, Any]] = {
    # the default recipe at the demo's budget: a few minutes on 2 cores for the rpa task
    "quick": {"max_evaluations": 20480, "checkpoint_every": 50, "final_samples": 256},
    # the default recipe at the budget of the published comparisons (102,400 evaluations)
    "paper": {"max_evaluations": 102400, "checkpoint_every": 100, "final_samples": 1024, "archive_capacity": 2000},
}

LIBRARY_PARTS = ("mass_action", "hill", "degradation")


def parse_library_part(part: str) -> tuple[str, int]:
    part = part.strip()
    name, _, arg = part.partition(":")
    if name not in LIBRARY_PARTS:
        raise CRNError(f"unknown library part {part!r} (known: {', '.join(LIBRARY_PARTS)}; e.g. mass_action,hill:2)")
    n = 1
    if arg:
        if name != "hill" or not arg.isdigit() or int(arg) < 1:
            raise CRNError(f"library part {part!r}: only hill takes a number of regulators (hill:2)")
        n = int(arg)
    return name, n


def build_library(spec: str, species):
    from ..crn import degradation_library, hill_library, mass_action_library, merge

    libs = []
    for part in spec.split(","):
        name, n = parse_library_part(part)
        if name == "mass_action":
            libs.append(mass_action_library(species))
        elif name == "hill":
            libs.append(hill_library(species, max_regulators=n))
        else:
            libs.append(degradation_library(species))
    return libs[0] if len(libs) == 1 else merge(*libs)


def setting_spec(key: str) -> Spec:
    """What a value of flat setting ``key`` must be (type, choices, bounds: its declaration)."""
    return spec_of(_field(key))


def coerce_setting(key: str, value, where: str):
    """``value`` of flat setting ``key`` converted and checked against its declaration (strings
    are read as the setting's type: ``--set``, flags and hand-written config files give them)."""
    if key not in _flat_index():
        raise CRNError(f"{where}: unknown setting {key!r} (allowed: {', '.join(_flat_index())})")
    return check_value(value, f"{where}: {key}", setting_spec(key), text=True)


def apply_overrides(config: RunConfig, overrides: dict, where: str) -> RunConfig:
    """``config`` with flat settings replaced (values coerced and checked against their types)."""
    index = _flat_index()
    unknown = sorted(set(overrides) - set(index))
    if unknown:
        raise CRNError(f"{where}: unknown setting(s) {unknown} (allowed: {', '.join(index)})")
    own: dict = {}
    sections: dict[str, dict] = {}
    for k, v in overrides.items():
        section, name = index[k]
        (own if section is None else sections.setdefault(section, {}))[name] = coerce_setting(k, v, where)
    for section, upd in sections.items():
        own[section] = replace(getattr(config, section), **upd)
    return replace(config, **own)


def from_flat(values: dict, where: str = "settings") -> RunConfig:
    """A :class:`RunConfig` from flat settings over the defaults."""
    return apply_overrides(RunConfig(), values, where)


def load_config_file(path, base: Optional[RunConfig] = None) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise CRNError(f"config file {path} does not exist")
    try:
        from ..crn.limits import read_text

        data = tomllib.loads(read_text(path, "config file"))
    except tomllib.TOMLDecodeError as e:
        raise CRNError(f"{path}: not valid TOML ({e})") from None
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise CRNError(f"{path}: tables {nested} are not allowed: a run config is flat key = value "
                       f"(the task's own settings go in the task file)")
    config = apply_overrides(base or RunConfig(), data, str(path))
    task = config.task
    if task.endswith(".toml") and not Path(task).is_absolute() and "task" in data:
        cand = path.parent / task
        if cand.is_file():
            config = replace(config, task=str(cand))
    return config


#: settings added after runs were first written, with the value that means "what runs did before
#: them": a run directory whose config.toml lacks one resumes as it was trained
ABSENT_MEANS_OFF: dict[str, Any] = {"max_evaluations": 0, "refine_every": 0, "refine_final_share": 0.0,
                                     "final_update_ratio": 0.0}


def load_run_config(path) -> RunConfig:
    """A run directory's ``config.toml``: like :func:`load_config_file`, but a setting the file
    does not have (written before the setting existed) takes its :data:`ABSENT_MEANS_OFF` value,
    not today's default."""
    return load_config_file(path, apply_overrides(RunConfig(), ABSENT_MEANS_OFF, "settings absent from old runs"))


#: the settings a family run turns off (they score without a condition; the swap search and the
#: final refinement work per condition)
FAMILY_OFF = ("structure_search_every", "refine_every", "screen_below")


def resolve_config(preset: Optional[str] = None, config_file=None, overrides: Optional[dict] = None) -> RunConfig:
    """Defaults < preset < config file < overrides (None values in ``overrides`` are ignored)."""
    config = RunConfig()
    if preset:
        if preset not in PRESETS:
            raise CRNError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        config = apply_overrides(config, PRESETS[preset], f"preset {preset}")
    if config_file:
        config = load_config_file(config_file, config)
    if overrides:
        config = apply_overrides(config, {k: v for k, v in overrides.items() if v is not None}, "command line")
    given = set(k for k, v in (overrides or {}).items() if v is not None)
    if config_file:
        given |= set(_read_toml_keys(config_file))
    if "max_reactions" not in given and not (preset and "max_reactions" in PRESETS[preset]):
        # a task made for a design size (its file's max_reactions, e.g. rpa-plant's 8) sets the default
        from ..tasks.config import task_design_size

        size = task_design_size(config.task)
        if size is not None:
            config = apply_overrides(config, {"max_reactions": size}, f"task {config.task}")
    from ..tasks.config import task_is_family

    if task_is_family(config.task):
        # a family of tasks (gfn_crn.tasks.family): the searches, refinements and screen score
        # without a condition, so a family run trains without them unless asked (where wiring
        # refuses), and config.toml records the 0
        off = {k: 0 for k in FAMILY_OFF if config.get(k) and k not in given}
        if off:
            config = apply_overrides(config, off, f"task family {config.task}")
    if config.algorithm == "reinforce":
        # the default recipe's structure search drives the TB sampler; REINFORCE runs without it
        # unless asked (where it is refused by validate), and config.toml records the 0
        off = {k: 0 for k, on in (("structure_search_every", config.search.every),
                                  ("structure_search_swap_every", config.search.swap_every))
               if on and k not in given}
        if off:
            config = apply_overrides(config, off, "algorithm reinforce")
    return config.validate()


def _read_toml_keys(path) -> list:
    try:
        return list(tomllib.loads(Path(path).read_text()))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []


def to_flat(config: RunConfig) -> dict[str, Any]:
    """The flat settings of ``config`` (None as "")."""
    return {key: ("" if (v := config.get(key)) is None else v) for key in _flat_index()}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(config: RunConfig) -> str:
    lines = ["# gfn-crn run settings (resolved); gfn-crn train --config this-file reruns them", ""]
    for key, v in to_flat(config).items():
        lines.append(f"{key} = {_toml_value(v)}  # {FIELD_DOCS[key]}")
    return "\n".join(lines) + "\n"


def allowed(key: str) -> str:
    """What a value of flat setting ``key`` may be, in words (type, choices, bounds)."""
    spec = setting_spec(key)
    if spec.choices:
        return " or ".join(str(c) for c in spec.choices)
    what = {"bool": "true or false", "int": "integer", "float": "number", "str": "text"}[spec.kind]
    bounds = spec.describe_bounds()
    return what + (f" {bounds}" if bounds else "") + (" or empty" if spec.optional and spec.kind != "bool" else "")


def config_table() -> str:
    """Markdown table of every run setting: its flag, default, allowed values and meaning (the
    table in docs/training.md; ``tests/test_docs.py`` checks that it is this one)."""
    flags = {key: flag for key, flag, _ in flag_settings()}
    rows = ["| setting | flag | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key, v in to_flat(RunConfig()).items():
        doc = FIELD_DOCS[key].replace("|", "\\|")
        rows.append(f"| `{key}` | {'`' + flags[key] + '`' if key in flags else ''} | `{_toml_value(v)}` | {allowed(key)} "
                    f"| {doc} |")
    return "\n".join(rows)


__all__ = ["RunConfig", "TrainConfig", "ReinforceConfig", "TopologyConfig", "StructureSearchConfig", "ON_POLICY",
           "FIELD_DOCS", "PRESETS", "PLAIN_TB", "PLAIN_RUN", "plain_tb", "SECTIONS", "flat_keys", "from_flat", "to_flat", "resolve_config",
           "load_config_file", "load_run_config", "ABSENT_MEANS_OFF", "to_toml", "build_library", "apply_overrides", "config_table",
           "flag_settings", "RESUMABLE", "coerce_setting", "setting_spec", "allowed", "ALGORITHMS"]
