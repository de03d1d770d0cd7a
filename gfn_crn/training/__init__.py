"""Training: trajectory balance, exact checks on small settings, synthetic rewards.

The names below load on first use (PEP 562), so that ``gfn_crn.training.archive`` and the
command line's ``top``/``export`` do not import torch.
"""

from importlib import import_module

_LAZY = {
    "count_trajectories": "exact", "enumerate_sets": "exact", "exact_terminal_distribution": "exact",
    "l1_distance": "exact", "log_partition": "exact", "small_library": "exact", "target_distribution": "exact",
    "ProductDensityReward": "synthetic", "RandomQuadraticReward": "synthetic", "TableReward": "synthetic",
    "ConditionalTableReward": "synthetic",
    "network_indices": "synthetic",
    "TrainConfig": "config", "TrainResult": "tb", "Trainer": "tb", "build_gflownet": "tb", "make_optimizer": "tb",
    "seed_everything": "tb", "train": "tb",
    "ON_POLICY": "config", "RunConfig": "config",
}

__all__ = [
    "train", "Trainer", "TrainConfig", "ON_POLICY", "RunConfig", "TrainResult", "build_gflownet", "make_optimizer", "seed_everything",
    "exact_terminal_distribution", "enumerate_sets", "count_trajectories", "l1_distance",
    "log_partition", "small_library", "target_distribution", "TableReward", "ProductDensityReward",
    "RandomQuadraticReward", "network_indices", "ConditionalTableReward",
]


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
