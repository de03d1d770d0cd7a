"""The metrics of a run: one JSON row per iteration in ``metrics.jsonl``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

#: metrics that depend on wall-clock time (everything else is reproducible bit-for-bit)
TIMING_KEYS = ("seconds", "sample_seconds", "elapsed")


def metrics_row(rec: dict, loss: np.ndarray, *, evaluations: int, archive, loss_cap: float, topology=None,
                t_iter: float, elapsed: float) -> dict:
    """The metrics row of an iteration: ``rec`` (the trainer's record, merged over the ranks),
    ``loss`` (the losses of every candidate scored in it), the evaluations so far, the archive
    after it, and (with the topology reward) this process's structure cache."""
    capped = np.minimum(loss, loss_cap)
    row = {
        "iteration": rec["iteration"],
        "evaluations": evaluations,
        "mean_loss": float(np.mean(capped)),  # losses above the task's loss_cap count as the cap
        "median_loss": float(np.median(loss)),
        "batch_best_loss": float(np.min(loss)),
        "best_loss": archive.best_loss if math.isfinite(archive.best_loss) else None,
        "distinct_good": archive.n_good,
        "archived": len(archive),
        "tb_loss": rec["loss"],
        "logZ": rec["logZ"],
        "mean_log_reward": rec["mean_log_reward"],
        "max_log_reward": rec["max_log_reward"],
        "valid_fraction": rec["valid_fraction"],
        "mean_length": rec["mean_length"],
    }
    if topology is not None:  # this process's cache (each rank keeps its own)
        row["structures"] = len(topology.cache)
        row["structure_repeats"] = topology.hits / max(topology.requests, 1)
    for k in ("temperature", "epsilon", "param_spread", "sf_bias", "param_epsilon"):
        if k in rec:
            row[k] = rec[k]
    row["seconds"] = t_iter
    row["sample_seconds"] = rec["sample_seconds"]
    row["elapsed"] = elapsed
    return row


def fmt(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_metrics(path) -> list[dict]:
    """Rows of a metrics.jsonl file (a torn last line from a crash is skipped)."""
    rows = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


__all__ = ["TIMING_KEYS", "metrics_row", "read_metrics", "atomic_text", "fmt"]
