"""Settings of a training run (``gfn-crn train``): defaults, presets, TOML files.

Precedence, lowest first: the defaults below, ``--preset``, ``--config FILE.toml``, then the
command-line flags. The resolved settings are written to ``RUN_DIR/config.toml`` (a flat TOML
file that ``--config`` reads back).

A config file is flat ``key = value`` TOML with the keys of :class:`RunConfig`; an unknown key
is an error that names it and lists the allowed ones.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Optional

from ..crn.errors import CRNError
from .tb import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


ALGORITHMS = ("tb", "reinforce")


@dataclass
class RunConfig:
    """Every setting of a run, with its default. ``FIELD_DOCS`` documents each one."""

    # what to design
    task: str = "rpa"
    algorithm: str = "tb"
    library: str = "mass_action"
    max_reactions: int = 5
    min_reactions: int = 1
    order: str = "canonical"
    # how long
    iterations: int = 1000
    batch_size: int = 64
    seed: int = 0
    max_minutes: float = 0.0
    # optimisation
    lr: float = 1e-3
    lr_logZ: float = 0.1
    init_logZ: float = 0.0
    grad_clip: float = 10.0
    hidden: int = 128
    n_layers: int = 2
    family: str = ""
    learned_pb: bool = False
    # exploration (linear from *_start to *_end over anneal_fraction of the iterations)
    temperature_start: float = 1.5
    temperature_end: float = 1.0
    epsilon_start: float = 0.05
    epsilon_end: float = 0.0
    param_spread_start: float = 1.0
    param_spread_end: float = 1.0
    sf_bias: float = 0.0
    anneal_fraction: float = 0.5
    # replay
    replay_capacity: int = 0
    replay_fraction: float = 0.5
    prioritized_replay: bool = False
    replay_updates: int = 0
    # topology-level reward (gfn_crn.training.topology): each new structure's reward is taken at
    # the best loss of a short rate refinement from the prior's mode
    topology_reward: bool = False
    topology_rounds: int = 1
    topology_popsize: int = 8
    topology_sigma: float = 0.5
    # structure local search around the best structures (needs the topology reward and replay)
    structure_search_every: int = 0
    structure_search_top_k: int = 8
    structure_search_neighbours: int = 4
    structure_search_destroy: int = 1
    structure_search_max_visits: int = 4
    # REINFORCE baseline (algorithm = "reinforce"; the peer's settings otherwise)
    reinforce_lr: float = 1e-4
    reinforce_replay: bool = False
    # outputs
    archive_capacity: int = 1000
    checkpoint_every: int = 50
    final_samples: int = 256
    plot_top: int = 3
    export_top: int = 5
    threads: int = 1
    # reward evaluation
    workers: int = 1
    chunk_size: int = 32

    def train_config(self) -> TrainConfig:
        """The :class:`TrainConfig` of this run."""
        return TrainConfig(
            n_iterations=self.iterations, batch_size=self.batch_size, lr=self.lr, lr_logZ=self.lr_logZ,
            init_logZ=self.init_logZ, grad_clip=self.grad_clip, hidden=self.hidden, n_layers=self.n_layers,
            family=self.family or None, learned_pb=self.learned_pb,
            temperature_start=self.temperature_start, temperature_end=self.temperature_end,
            epsilon_start=self.epsilon_start, epsilon_end=self.epsilon_end,
            param_spread_start=self.param_spread_start, param_spread_end=self.param_spread_end,
            sf_bias=self.sf_bias, anneal_iterations=int(round(self.anneal_fraction * self.iterations)),
            replay_capacity=self.replay_capacity, replay_fraction=self.replay_fraction,
            prioritized_replay=self.prioritized_replay, replay_updates=self.replay_updates,
            seed=self.seed, num_threads=self.threads,
        )

    def reinforce_config(self):
        """The :class:`~gfn_crn.training.reinforce.ReinforceConfig` of a ``reinforce`` run."""
        from .reinforce import ReinforceConfig

        return ReinforceConfig(n_iterations=self.iterations, batch_size=self.batch_size, lr=self.reinforce_lr,
                               hidden=self.hidden, n_layers=self.n_layers, family=self.family or None,
                               seed=self.seed, num_threads=self.threads, replay=self.reinforce_replay)

    def validate(self) -> "RunConfig":
        def need(cond, msg):
            if not cond:
                raise CRNError(f"config: {msg}")

        need(self.order in ("canonical", "free"), f"order must be canonical or free, got {self.order!r}")
        need(self.algorithm in ALGORITHMS, f"algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}")
        need(self.iterations >= 0, f"iterations must be >= 0, got {self.iterations}")
        need(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        need(1 <= self.max_reactions, f"max_reactions must be >= 1, got {self.max_reactions}")
        need(0 <= self.min_reactions <= self.max_reactions,
             f"need 0 <= min_reactions <= max_reactions, got {self.min_reactions}, {self.max_reactions}")
        need(self.temperature_start > 0 and self.temperature_end > 0, "temperatures must be > 0")
        need(0 <= self.epsilon_start <= 1 and 0 <= self.epsilon_end <= 1, "epsilons must be in [0, 1]")
        need(0 <= self.anneal_fraction <= 1, f"anneal_fraction must be in [0, 1], got {self.anneal_fraction}")
        need(self.archive_capacity >= 1, "archive_capacity must be >= 1")
        need(self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        need(self.threads >= 1, "threads must be >= 1")
        need(self.workers >= 1, f"workers must be >= 1, got {self.workers}")
        need(self.chunk_size >= 1, f"chunk_size must be >= 1, got {self.chunk_size}")
        need(self.replay_updates >= 0, f"replay_updates must be >= 0, got {self.replay_updates}")
        need(self.replay_updates == 0 or self.replay_capacity >= self.batch_size,
             f"replay_updates = {self.replay_updates} needs a replay buffer of at least one batch "
             f"(replay_capacity >= batch_size = {self.batch_size}), got replay_capacity = {self.replay_capacity}")
        need(self.topology_rounds >= 0, f"topology_rounds must be >= 0, got {self.topology_rounds}")
        need(self.topology_popsize >= 1, f"topology_popsize must be >= 1, got {self.topology_popsize}")
        need(self.topology_sigma > 0 and math.isfinite(self.topology_sigma),
             f"topology_sigma must be positive, got {self.topology_sigma}")
        need(self.structure_search_every >= 0, f"structure_search_every must be >= 0, got {self.structure_search_every}")
        if self.structure_search_every:
            need(self.topology_reward, "structure_search_every needs topology_reward = true")
            need(self.algorithm == "tb", "structure_search_every works with algorithm = tb only")
            need(self.replay_capacity > 0, "structure_search_every needs a replay buffer (replay_capacity > 0)")
            for k in ("top_k", "neighbours", "destroy", "max_visits"):
                v = getattr(self, f"structure_search_{k}")
                need(v >= 1, f"structure_search_{k} must be >= 1, got {v}")
        need(self.max_minutes >= 0 and math.isfinite(self.max_minutes), "max_minutes must be >= 0")
        for part in self.library.split(","):
            parse_library_part(part)
        return self


FIELD_DOCS: dict[str, str] = {
    "task": "a preset name (gfn-crn tasks lists them) or a task TOML file",
    "algorithm": "tb (trajectory-balance GFlowNet) or reinforce (the risk-seeking REINFORCE baseline of "
                 "gfn_crn.training.reinforce, same policy network and environment)",
    "library": "comma-separated parts: mass_action (order <= 2), hill or hill:R (Hill production, <= R regulators, "
               "default 1), degradation (active degradation); over the template's species",
    "max_reactions": "at most this many added reactions per design",
    "min_reactions": "the exit action is allowed once this many are present",
    "order": "canonical (increasing library index, one trajectory per design) or free (any order)",
    "iterations": "training iterations (one batch each)",
    "batch_size": "designs sampled (and simulated) per iteration",
    "seed": "seeds torch, numpy and random; a resumed run continues bit-for-bit",
    "max_minutes": "stop (and save) after this many minutes of training; 0 = no limit",
    "lr": "Adam learning rate of the policy",
    "lr_logZ": "learning rate of log Z",
    "init_logZ": "initial log Z",
    "grad_clip": "gradient-norm clip (0 = off)",
    "hidden": "width of the policy network's hidden layers",
    "n_layers": "hidden layers of the policy network",
    "family": "continuous parameter family (empty: the estimator's default)",
    "learned_pb": "learn the backward policy (free order only; canonical has PB = 1)",
    "temperature_start": "structure-logit temperature of the exploration policy at the start",
    "temperature_end": "... at the end of the annealing",
    "epsilon_start": "share of uniform structure choices (and broad parameter proposals) at the start",
    "epsilon_end": "... at the end of the annealing",
    "param_spread_start": "scale factor of the continuous parameter distribution at the start",
    "param_spread_end": "... at the end of the annealing",
    "sf_bias": "subtracted from the exit logit while exploring",
    "anneal_fraction": "exploration anneals linearly over this share of the iterations",
    "replay_capacity": "replay buffer size (0 = no replay)",
    "replay_fraction": "replayed trajectories per batch, as a share of batch_size",
    "prioritized_replay": "the replay buffer keeps the highest-reward trajectories (else the latest)",
    "replay_updates": "extra TB updates per iteration on replayed trajectories only (no new simulations)",
    "topology_reward": "score structures, not single rate vectors: each new structure's reward is taken at the "
                       "best loss of a short rate refinement started at the prior's mode (cached; every "
                       "refinement evaluation counts), plus the prior of the sampled rates",
    "topology_rounds": "topology reward: refinement rounds per new structure (0: the prior's mode only)",
    "topology_popsize": "topology reward: candidates per round (a new structure costs 1 + rounds x popsize)",
    "topology_sigma": "topology reward: initial step of the refinement, in ln k",
    "structure_search_every": "every this many iterations, local search around the best structures (0 = off): "
                              "destroy-and-rebuild neighbours, scored and replayed to TB (needs topology_reward "
                              "and replay_capacity > 0)",
    "structure_search_top_k": "structure search: the best structures visited per search",
    "structure_search_neighbours": "structure search: neighbours per visited structure",
    "structure_search_destroy": "structure search: reactions removed before the policy rebuilds",
    "structure_search_max_visits": "structure search: visits per structure over the run",
    "reinforce_lr": "Adam learning rate of a reinforce run (lr, lr_logZ and the exploration settings are TB's)",
    "reinforce_replay": "reinforce runs: self-imitation replay of the best archived designs",
    "archive_capacity": "the archive keeps this many best distinct topologies",
    "checkpoint_every": "iterations between checkpoints (also saved at the end and on Ctrl-C)",
    "final_samples": "designs drawn on-policy after training for the loss histogram and samples.jsonl",
    "plot_top": "time-course plots of this many top designs",
    "export_top": "export this many top designs (text, JSON, Antimony, SBML) to designs/",
    "threads": "torch threads (1 keeps runs reproducible)",
    "workers": "processes that simulate (score) each batch; results do not depend on it (1 = this process)",
    "chunk_size": "designs per simulator call; a batch is cut into the same chunks whatever workers is",
}

#: ``--preset`` values: overrides of the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # a few minutes on 2 cores for the rpa task: shows designs, not the best the method can do
    "quick": {"iterations": 300, "batch_size": 64, "hidden": 64, "checkpoint_every": 50, "final_samples": 256},
    # the DESIGN.md section 8 budget on rpa (~20 minutes of simulation on one core)
    "paper": {"iterations": 3000, "batch_size": 64, "hidden": 128, "checkpoint_every": 100,
              "final_samples": 1024, "archive_capacity": 2000},
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


def _coerce(name: str, value, where: str):
    f = {f.name: f for f in fields(RunConfig)}[name]
    default = getattr(RunConfig(), name)
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise CRNError(f"{where}: {name} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise CRNError(f"{where}: {name} must be an integer, got {value!r}")
        try:
            v = float(value)
        except ValueError:
            raise CRNError(f"{where}: {name} must be an integer, got {value!r}") from None
        if v != int(v):
            raise CRNError(f"{where}: {name} must be an integer, got {value!r}")
        return int(v)
    if isinstance(default, float):
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
    del f
    return value


def apply_overrides(config: RunConfig, overrides: dict, where: str) -> RunConfig:
    names = [f.name for f in fields(RunConfig)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise CRNError(f"{where}: unknown setting(s) {unknown} (allowed: {', '.join(names)})")
    return replace(config, **{k: _coerce(k, v, where) for k, v in overrides.items()})


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
    return config.validate()


def to_toml(config: RunConfig) -> str:
    lines = ["# gfn-crn run settings (resolved); gfn-crn train --config this-file reruns them", ""]
    for f in fields(RunConfig):
        v = getattr(config, f.name)
        if isinstance(v, bool):
            s = "true" if v else "false"
        elif isinstance(v, (int, float)):
            s = repr(v)
        else:
            s = '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{f.name} = {s}  # {FIELD_DOCS.get(f.name, '')}")
    return "\n".join(lines) + "\n"


def config_table() -> str:
    """Markdown table of every setting, its default and meaning (for docs)."""
    d = RunConfig()
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for f in fields(RunConfig):
        rows.append(f"| `{f.name}` | `{getattr(d, f.name)!r}` | {FIELD_DOCS.get(f.name, '')} |")
    return "\n".join(rows)


__all__ = ["RunConfig", "FIELD_DOCS", "PRESETS", "resolve_config", "load_config_file", "to_toml", "build_library",
           "apply_overrides", "config_table", "asdict"]
