"""Checkpoint files of a run directory: atomic writes, the previous one kept, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..crn.errors import CRNError
from .distributed import DistContext

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"
CHECKPOINT_VERSION = 1


class CheckpointError(CRNError):
    """A checkpoint is missing, unreadable or from another run."""


def save_checkpoint(path_dir: Path, state: dict) -> Path:
    """Write ``checkpoint.pt`` atomically; the previous one becomes ``checkpoint.prev.pt``."""
    path_dir = Path(path_dir)
    tmp = path_dir / (CHECKPOINT + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    cur = path_dir / CHECKPOINT
    if cur.exists():
        os.replace(cur, path_dir / PREVIOUS)
    os.replace(tmp, cur)
    return cur


def _read_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any failure to unpickle means a damaged file
        raise CheckpointError(f"{path} is unreadable ({type(e).__name__}: {_brief(e)})") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION or "trainer" not in state:
        raise CheckpointError(f"{path} is not a gfn-crn checkpoint (version {CHECKPOINT_VERSION})")
    return state


def _brief(e: BaseException, most: int = 160) -> str:
    """The first line of an exception's message, shortened at a sentence or word end (never
    mid-word) with "..." when it is longer than ``most`` characters."""
    lines = str(e).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if len(text) <= most:
        return text + (" ..." if len(lines) > 1 else "")
    cut = text[:most]
    end = cut.rfind(". ")
    if end >= most // 3:
        return cut[:end + 1] + " ..."
    return cut[:cut.rfind(" ")].rstrip(",;:") + " ..." if " " in cut else cut + "..."


def load_checkpoint(run_dir, warn=print) -> tuple[dict, Path]:
    """The latest usable checkpoint of ``run_dir`` and its path.

    ``checkpoint.pt`` is tried first; if it is missing or damaged, ``checkpoint.prev.pt`` is used
    and ``warn`` is called with a message saying why. If neither is usable a
    :class:`CheckpointError` names both problems.
    """
    run_dir = Path(run_dir)
    problems = []
    for name in (CHECKPOINT, PREVIOUS):
        p = run_dir / name
        if not p.exists():
            problems.append(f"{p} is missing")
            continue
        try:
            state = _read_checkpoint(p)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        if problems and warn is not None:
            warn(f"warning: {problems[0]}; resuming from the previous checkpoint {p} "
                 f"(iteration {state['trainer']['iteration']})")
        return state, p
    raise CheckpointError("no usable checkpoint: " + "; ".join(problems))


def check_world_size(out, state: dict, dist: DistContext) -> None:
    saved = int(state.get("world_size", 1))
    if saved != dist.world_size:
        raise CheckpointError(
            f"{out} was trained by {saved} process(es) and is being resumed by {dist.world_size}: resume it "
            f"with the same number (torchrun --nproc_per_node={saved} ... or no torchrun for 1), so that every "
            f"process continues its own random stream")


__all__ = ["CHECKPOINT", "PREVIOUS", "CHECKPOINT_VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint",
           "check_world_size"]
