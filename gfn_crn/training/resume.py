"""Resuming a run: its directory's settings and checkpoint, with the run extended or changed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..crn.errors import CRNError
from .checkpoint import check_world_size, load_checkpoint
from .config import RunConfig, apply_overrides, load_run_config, to_toml
from .distributed import SINGLE, DistContext


def read_run_dir(out: Path, *, iterations: Optional[int] = None, max_minutes: Optional[float] = None,
                 workers: Optional[int] = None, warn=print, dist: DistContext = SINGLE,
                 max_evaluations: Optional[int] = None):
    """Read a run directory for resuming: its settings (``iterations``, ``max_minutes``, ``workers``,
    ``max_evaluations`` changed and written back; the exploration schedule keeps its length), its latest usable
    checkpoint and that checkpoint's path."""
    if not out.is_dir():
        raise CRNError(f"run directory {out} does not exist" if not out.exists()
                       else f"{out} is a file, not a run directory")
    cfg_path = out / "config.toml"
    if not cfg_path.exists():
        raise CRNError(f"{out} is not a run directory (no config.toml)")
    config = load_run_config(cfg_path)
    state, path = load_checkpoint(out, warn=warn)
    check_world_size(out, state, dist)  # before anything is rewritten
    if iterations is not None or max_minutes is not None or workers is not None or max_evaluations is not None:
        upd = {}
        if max_evaluations is not None:
            upd["max_evaluations"] = int(max_evaluations)
        if iterations is not None:
            upd["iterations"] = int(iterations)
        if max_minutes is not None:
            upd["max_minutes"] = float(max_minutes)
        if workers is not None:
            upd["workers"] = int(workers)
        config = apply_overrides(config, upd, "resume").validate()
        # the exploration schedule is part of the saved run: keep its length
        old = load_run_config(cfg_path)
        if max_evaluations is not None and old.max_evaluations and config.max_evaluations:
            # annealing spans a share of the evaluation budget: keep its length in evaluations
            frac = old.anneal_span() / (config.max_evaluations * (1 - config.refine.final_share))
            config = apply_overrides(config, {"anneal_fraction": min(frac, 1.0)}, "resume")
        elif iterations is not None:
            config = apply_overrides(config, {"anneal_fraction": same_anneal(
                old, config.train.n_iterations)}, "resume")
        (out / "config.toml").write_text(to_toml(config))
    return config, state, path


def same_anneal(old: RunConfig, new_iterations: int) -> float:
    """anneal_fraction for ``new_iterations`` that keeps the old run's annealing length."""
    if new_iterations <= 0:
        return old.train.anneal_fraction
    n_old = old.train.anneal_iterations
    return min(1.0, n_old / new_iterations) if n_old else 0.0


__all__ = ["read_run_dir", "same_anneal"]
