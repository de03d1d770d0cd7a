"""Every setting of gfn_crn training, declared once: its type, default and documentation.

The settings come in sections, each a dataclass whose fields carry their documentation in
``field(metadata={"doc": ...})``:

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
from typing import Any, Iterator, Optional

from ..crn.errors import CRNError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


ALGORITHMS = ("tb", "reinforce")


def setting(default, doc: str, **meta):
    """A dataclass field with its documentation (``metadata["doc"]``) and flat-key metadata."""
    if not doc:
        raise ValueError("every setting needs a doc")
    return field(default=default, metadata={"doc": doc, **meta})


# ---------------------------------------------------------------------------- sections
@dataclass
class TrainConfig:
    """Settings of trajectory-balance training (:func:`gfn_crn.training.train`)."""

    n_iterations: int = setting(100000, "training iterations (one batch each); runs with max_evaluations stop at "
                                          "the budget first", key="iterations")
    batch_size: int = setting(16, "designs sampled (and simulated) per iteration")
    seed: Optional[int] = setting(0, "seeds torch, numpy and random; a resumed run continues bit-for-bit")
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
    temperature_start: float = setting(2.0, "structure-logit temperature of the exploration policy at the start")
    temperature_end: float = setting(1.0, "... at the end of the annealing")
    epsilon_start: float = setting(0.1, "share of uniform structure choices (and broad parameter proposals) "
                                         "at the start")
    epsilon_end: float = setting(0.0, "... at the end of the annealing")
    param_spread_start: float = setting(1.0, "scale factor of the continuous parameter distribution at the start")
    param_spread_end: float = setting(1.0, "... at the end of the annealing")
    param_epsilon: Optional[float] = setting(None, "share of broad parameter proposals (None: epsilon's)", key=None)
    sf_bias: float = setting(0.0, "subtracted from the exit logit while exploring")
    anneal_fraction: float = setting(0.5, "exploration anneals linearly over this share of the iterations "
                                          "(0: the *_end values from the start)")
    # replay
    replay_capacity: int = setting(2000, "replay buffer size, in trajectories (one per sampled design; 0 = no replay)")
    replay_fraction: float = setting(0.5, "replayed trajectories per batch, as a share of batch_size")
    prioritized_replay: bool = setting(True, "the replay buffer keeps the highest-reward trajectories "
                                              "(else the latest)")
    replay_updates: int = setting(3, "extra TB updates per iteration, each on batch_size trajectories drawn from "
                                     "the replay buffer only (no new simulations; for expensive cached rewards)")
    # misc
    reward_cache_size: Optional[int] = setting(None, "size of the env's reward cache (None: the env's)", key=None)
    num_threads: Optional[int] = setting(1, "torch threads (1 keeps runs reproducible)", key="threads")
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
                prioritized_replay=False, replay_updates=0)


def plain_tb(**kw) -> "TrainConfig":
    """A :class:`TrainConfig` from :data:`PLAIN_TB`, with ``kw`` on top."""
    return TrainConfig(**{**PLAIN_TB, **kw})


#: the run settings (flat keys) of plain TB on the per-sample reward in canonical order: what
#: ``gfn-crn train`` ran before the default recipe
PLAIN_RUN = dict(order="canonical", topology_reward=False, structure_search_every=0, refine_every=0,
                 refine_final_share=0.0, max_evaluations=0, iterations=1000, batch_size=64, temperature_start=1.5,
                 epsilon_start=0.05, replay_capacity=0, prioritized_replay=False, replay_updates=0)

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
                            key="topology_reward")
    rounds: int = setting(1, "topology reward: refinement rounds per new structure (0: the prior's mode only)")
    popsize: int = setting(8, "topology reward: candidates per round (a new structure costs 1 + rounds x popsize)")
    sigma: float = setting(0.5, "topology reward: initial step of the refinement, in ln k")
    promote_below: float = setting(0.0, "topology reward: a new structure whose loss after the first rounds is "
                                         "below this multiple of the good threshold gets promote_rounds more "
                                         "rounds (a second fidelity for promising structures; 0 = off)",
                                   key="promote_below")
    promote_rounds: int = setting(3, "topology reward: rounds of the second fidelity (promote_below)",
                                  key="promote_rounds")
    screen_below: float = setting(0.0, "topology reward: screen every new structure whose refined loss is below "
                                       "this multiple of the good threshold with the cheap verification checks "
                                       "(bounded, settled over the long horizon); one that fails scores like a "
                                       "diverging design, and the archive refinements skip it (0 = off)",
                                  key="screen_below")


@dataclass
class StructureSearchConfig:
    """Structure local search (:class:`gfn_crn.training.local_search.StructureLocalSearch`)."""

    every: int = setting(10, "every this many iterations, local search around the best structures (0 = off): "
                            "destroy-and-rebuild neighbours, scored and replayed to TB (needs topology_reward "
                            "and replay_capacity > 0)")
    top_k: int = setting(8, "structure search: the best structures visited per search")
    neighbours: int = setting(4, "structure search: neighbours per visited structure")
    destroy: int = setting(1, "structure search: reactions removed before the policy rebuilds")
    max_visits: int = setting(4, "structure search: visits per structure over the run")


@dataclass
class RefineConfig:
    """Rate refinement of the best archived designs (:class:`gfn_crn.rewards.refine.ArchiveRefinement`
    during the run, :func:`gfn_crn.rewards.refine.refine_archive` at its end)."""

    every: int = setting(5, "every this many iterations, more rate refinement for the best archived designs "
                            "(0 = off); the evaluations count and the designs are archived")
    top_k: int = setting(4, "archive refinement: designs refined per call (the best not yet at max_visits)")
    rounds: int = setting(2, "archive refinement: rounds of 8 candidates per design and call")
    max_visits: int = setting(8, "archive refinement: calls per design over the run")
    final_share: float = setting(0.3, "share of max_evaluations kept for a final successive-halving refinement "
                                      "of the 128 best archived designs (needs max_evaluations)")


#: the sections of a run: attribute of :class:`RunConfig` -> flat-key prefix ("" = the field name)
SECTIONS = {"train": "", "reinforce": "reinforce_", "topology": "topology_", "search": "structure_search_",
            "refine": "refine_"}


@dataclass
class RunConfig:
    """Every setting of a ``gfn-crn train`` run: its own fields plus one of each section."""

    # what to design
    task: str = setting("rpa", "a preset name (gfn-crn tasks lists them) or a task TOML file")
    algorithm: str = setting("tb", "tb (trajectory-balance GFlowNet) or reinforce (the risk-seeking REINFORCE "
                                   "baseline of gfn_crn.training.reinforce, same policy network and environment)")
    library: str = setting("mass_action", "comma-separated parts: mass_action (order <= 2), hill or hill:R (Hill "
                                          "production, <= R regulators, default 1), degradation (active "
                                          "degradation); over the template's species")
    max_reactions: int = setting(5, "at most this many added reactions per design (default: the task file's "
                                    "max_reactions where it has one, else 5)")
    min_reactions: int = setting(1, "the exit action is allowed once this many are present")
    order: str = setting("free", "canonical (increasing library index, one trajectory per design) or free "
                                      "(any order)")
    max_minutes: float = setting(0.0, "stop (and save) after this many minutes of training; 0 = no limit")
    max_evaluations: int = setting(102400, "stop once this many candidates were evaluated (the budget that makes runs "
                                      "comparable; 0 = iterations only)")
    # outputs
    archive_capacity: int = setting(1000, "the archive keeps this many best distinct topologies")
    checkpoint_every: int = setting(50, "iterations between checkpoints (also saved at the end and on Ctrl-C)")
    final_samples: int = setting(256, "designs drawn on-policy after training for the loss histogram and "
                                      "samples.jsonl")
    plot_top: int = setting(3, "time-course plots of this many top designs")
    export_top: int = setting(5, "export this many top designs (text, JSON, Antimony, SBML) to designs/")
    # reward evaluation
    workers: int = setting(1, "processes that simulate (score) each batch; results do not depend on it "
                              "(1 = this process)")
    chunk_size: int = setting(32, "designs per simulator call; a batch is cut into the same chunks whatever "
                                  "workers is")
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

    def validate(self) -> "RunConfig":
        def need(cond, msg):
            if not cond:
                raise CRNError(f"config: {msg}")

        t, s = self.train, self.search
        need(self.order in ("canonical", "free"), f"order must be canonical or free, got {self.order!r}")
        need(self.algorithm in ALGORITHMS, f"algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}")
        need(t.n_iterations >= 0, f"iterations must be >= 0, got {t.n_iterations}")
        need(t.batch_size >= 1, f"batch_size must be >= 1, got {t.batch_size}")
        need(1 <= self.max_reactions, f"max_reactions must be >= 1, got {self.max_reactions}")
        need(0 <= self.min_reactions <= self.max_reactions,
             f"need 0 <= min_reactions <= max_reactions, got {self.min_reactions}, {self.max_reactions}")
        need(t.temperature_start > 0 and t.temperature_end > 0, "temperatures must be > 0")
        need(0 <= t.epsilon_start <= 1 and 0 <= t.epsilon_end <= 1, "epsilons must be in [0, 1]")
        need(0 <= t.anneal_fraction <= 1, f"anneal_fraction must be in [0, 1], got {t.anneal_fraction}")
        need(self.archive_capacity >= 1, "archive_capacity must be >= 1")
        need(self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        need(t.num_threads is not None and t.num_threads >= 1, "threads must be >= 1")
        need(self.workers >= 1, f"workers must be >= 1, got {self.workers}")
        need(self.chunk_size >= 1, f"chunk_size must be >= 1, got {self.chunk_size}")
        need(t.replay_updates >= 0, f"replay_updates must be >= 0, got {t.replay_updates}")
        need(t.replay_updates == 0 or t.replay_capacity >= t.batch_size,
             f"replay_updates = {t.replay_updates} needs a replay buffer of at least one batch "
             f"(replay_capacity >= batch_size = {t.batch_size}), got replay_capacity = {t.replay_capacity}")
        tp = self.topology
        need(tp.rounds >= 0, f"topology_rounds must be >= 0, got {tp.rounds}")
        need(tp.popsize >= 1, f"topology_popsize must be >= 1, got {tp.popsize}")
        need(tp.sigma > 0 and math.isfinite(tp.sigma), f"topology_sigma must be positive, got {tp.sigma}")
        need(tp.promote_below >= 0 and math.isfinite(tp.promote_below),
             f"promote_below must be >= 0 and finite, got {tp.promote_below}")
        need(tp.promote_rounds >= 0, f"promote_rounds must be >= 0, got {tp.promote_rounds}")
        need(tp.screen_below >= 0 and math.isfinite(tp.screen_below),
             f"screen_below must be >= 0 and finite, got {tp.screen_below}")
        need(s.every >= 0, f"structure_search_every must be >= 0, got {s.every}")
        if s.every:
            need(tp.enabled, "structure_search_every needs topology_reward = true")
            need(self.algorithm == "tb", "structure_search_every works with algorithm = tb only")
            need(t.replay_capacity > 0, "structure_search_every needs a replay buffer (replay_capacity > 0)")
            for k in ("top_k", "neighbours", "destroy", "max_visits"):
                v = getattr(s, k)
                need(v >= 1, f"structure_search_{k} must be >= 1, got {v}")
        need(self.max_minutes >= 0 and math.isfinite(self.max_minutes), "max_minutes must be >= 0")
        need(self.max_evaluations >= 0, f"max_evaluations must be >= 0, got {self.max_evaluations}")
        rf = self.refine
        need(rf.every >= 0, f"refine_every must be >= 0, got {rf.every}")
        for k in ("top_k", "rounds", "max_visits"):
            need(getattr(rf, k) >= 1, f"refine_{k} must be >= 1, got {getattr(rf, k)}")
        need(0 <= rf.final_share < 1, f"refine_final_share must be in [0, 1), got {rf.final_share}")
        need(rf.final_share == 0 or self.max_evaluations > 0,
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


def _kind(f) -> str:
    """bool, int, float or str: the base type of a field (``Optional[...]`` stripped)."""
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    for k in ("bool", "int", "float", "str"):
        if k in t:
            return k
    raise TypeError(f"setting {f.name}: unsupported type {t}")  # pragma: no cover


def _coerce(name: str, value, where: str):
    f = _field(name)
    kind = _kind(f)
    optional = "Optional" in str(f.type)
    if kind == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise CRNError(f"{where}: {name} must be true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise CRNError(f"{where}: {name} must be an integer, got {value!r}")
        try:
            v = float(value)
        except ValueError:
            raise CRNError(f"{where}: {name} must be an integer, got {value!r}") from None
        if v != int(v):
            raise CRNError(f"{where}: {name} must be an integer, got {value!r}")
        return int(v)
    if kind == "float":
        if isinstance(value, bool):
            raise CRNError(f"{where}: {name} must be a number, got {value!r}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise CRNError(f"{where}: {name} must be a number, got {value!r}") from None
        if not math.isfinite(v):
            raise CRNError(f"{where}: {name} must be finite, got {value!r}")
        return v
    if not isinstance(value, str):
        raise CRNError(f"{where}: {name} must be a string, got {value!r}")
    if optional and value == "":  # TOML has no None: an empty string stands for it
        return None
    return value


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
        (own if section is None else sections.setdefault(section, {}))[name] = _coerce(k, v, where)
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
ABSENT_MEANS_OFF: dict[str, Any] = {"max_evaluations": 0, "refine_every": 0, "refine_final_share": 0.0}


def load_run_config(path) -> RunConfig:
    """A run directory's ``config.toml``: like :func:`load_config_file`, but a setting the file
    does not have (written before the setting existed) takes its :data:`ABSENT_MEANS_OFF` value,
    not today's default."""
    return load_config_file(path, apply_overrides(RunConfig(), ABSENT_MEANS_OFF, "settings absent from old runs"))


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
    if config.algorithm == "reinforce" and config.search.every and "structure_search_every" not in given:
        # the default recipe's structure search drives the TB sampler; REINFORCE runs without it
        # unless asked (where it is refused by validate), and config.toml records the 0
        config = apply_overrides(config, {"structure_search_every": 0}, "algorithm reinforce")
    return config.validate()


def _read_toml_keys(path) -> list:
    try:
        return list(tomllib.loads(Path(path).read_text()))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []


def to_flat(config: RunConfig) -> dict[str, Any]:
    """The flat settings of ``config`` (None as "")."""
    return {key: ("" if (v := config.get(key)) is None else v) for key in _flat_index()}


def to_toml(config: RunConfig) -> str:
    lines = ["# gfn-crn run settings (resolved); gfn-crn train --config this-file reruns them", ""]
    for key, v in to_flat(config).items():
        if isinstance(v, bool):
            s = "true" if v else "false"
        elif isinstance(v, (int, float)):
            s = repr(v)
        else:
            s = '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} = {s}  # {FIELD_DOCS[key]}")
    return "\n".join(lines) + "\n"


def config_table() -> str:
    """Markdown table of every setting, its default and meaning (for docs)."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for key, v in to_flat(RunConfig()).items():
        rows.append(f"| `{key}` | `{v!r}` | {FIELD_DOCS[key]} |")
    return "\n".join(rows)


__all__ = ["RunConfig", "TrainConfig", "ReinforceConfig", "TopologyConfig", "StructureSearchConfig", "ON_POLICY",
           "FIELD_DOCS", "PRESETS", "PLAIN_TB", "PLAIN_RUN", "plain_tb", "SECTIONS", "flat_keys", "from_flat", "to_flat", "resolve_config",
           "load_config_file", "load_run_config", "ABSENT_MEANS_OFF", "to_toml", "build_library", "apply_overrides", "config_table"]
