"""Training: trajectory balance, exact checks on small settings, synthetic rewards."""

from .exact import (
    count_trajectories,
    enumerate_sets,
    exact_terminal_distribution,
    l1_distance,
    log_partition,
    small_library,
    target_distribution,
)
from .synthetic import ProductDensityReward, RandomQuadraticReward, TableReward, network_indices
from .config import ON_POLICY, RunConfig
from .tb import TrainConfig, TrainResult, Trainer, build_gflownet, make_optimizer, seed_everything, train

__all__ = [
    "train", "Trainer", "TrainConfig", "ON_POLICY", "RunConfig", "TrainResult", "build_gflownet", "make_optimizer", "seed_everything",
    "exact_terminal_distribution", "enumerate_sets", "count_trajectories", "l1_distance",
    "log_partition", "small_library", "target_distribution", "TableReward", "ProductDensityReward",
    "RandomQuadraticReward", "network_indices",
]
