"""Data-parallel training on ``torch.distributed`` (gloo on CPU, NCCL on GPUs).

Launch a training command under ``torchrun`` and it runs data-parallel::

    torchrun --standalone --nproc_per_node=2 -m gfn_crn.cli train --task rpa --out runs/rpa2

Every process (rank) samples its own batch with its own seed and scores it; the gradients of
all trainable parameters (log Z included) are averaged over the ranks after each backward pass,
so every rank takes the same optimizer step and the parameters, broadcast from rank 0 at the
start, stay identical. With equal batch sizes the averaged gradient is the gradient of the
trajectory-balance loss on the concatenation of all ranks' batches. Rank 0 alone writes the run
directory (checkpoints, metrics, archive); the archive is merged from every rank's designs.

This module reads the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``) and does not use ``gfn.utils.distributed`` (torchgfn 2.4.1's
helper imports mpi4py at import time and only reads PMI variables).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import torch

from ..crn.errors import CRNError

#: rank r samples with seed ``seed + RANK_SEED_STRIDE * r`` (rank 0 keeps the run's seed)
RANK_SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel job (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rank_seed(self, seed: Optional[int]) -> Optional[int]:
        """The sampling seed of this rank."""
        return None if seed is None else int(seed) + RANK_SEED_STRIDE * self.rank

    # ---------------------------------------------------------------- collectives
    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into every rank's ``module``."""
        if not self.enabled:
            return
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                torch.distributed.broadcast(t.data, src=0)

    def average_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace each gradient by its mean over the ranks (one all-reduce of a flat buffer;
        a missing gradient counts as zero, so every rank sends the same layout)."""
        if not self.enabled:
            return
        params = [p for p in params if p.requires_grad]
        if not params:
            return
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
        flat /= self.world_size
        i = 0
        for p in params:
            n = p.numel()
            g = flat[i:i + n].view_as(p)
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.copy_(g)
            i += n

    def all_gather(self, obj: Any) -> list:
        """Every rank's ``obj``, in rank order (a one-element list when not distributed)."""
        if not self.enabled:
            return [obj]
        out: list = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank (stop decisions stay in step)."""
        if not self.enabled:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)

    def agree(self, error: Optional[str]) -> None:
        """Raise the same :class:`CRNError` on every rank when some rank reports an error (so a
        failure on one rank never leaves the others waiting in a collective)."""
        for r, e in enumerate(self.all_gather(error)):
            if e is not None:
                raise CRNError(f"rank {r}: {e}" if self.enabled else e)

    @property
    def device(self) -> torch.device:
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")


SINGLE = DistContext()


def launched_by_torchrun() -> bool:
    """True when the torchrun variables say this process is one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(backend: Optional[str] = None) -> DistContext:
    """Join the process group described by torchrun's environment variables.

    Returns :data:`SINGLE` when ``WORLD_SIZE`` is unset or 1. ``backend`` defaults to the
    ``GFN_CRN_DIST_BACKEND`` environment variable, else gloo: :class:`~gfn_crn.training.run.Run`
    trains on the CPU, and gloo reduces CPU tensors. Pass ``"nccl"`` when the environment and the
    policy live on CUDA devices (each rank then uses ``cuda:LOCAL_RANK``); the collectives here
    work on whatever device the tensors are on. Calling it again returns the current context.
    """
    if not launched_by_torchrun():
        return SINGLE
    import torch.distributed as dist

    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise CRNError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} not set: launch with "
                       f"torchrun --nproc_per_node=N -m gfn_crn.cli train ...")
    if not dist.is_available():  # pragma: no cover - CPU builds of torch have gloo
        raise CRNError("this torch build has no torch.distributed")
    if not dist.is_initialized():
        backend = backend or os.environ.get("GFN_CRN_DIST_BACKEND") or "gloo"
        if backend not in ("gloo", "nccl", "mpi"):
            raise CRNError(f"unknown torch.distributed backend {backend!r} (gloo, nccl or mpi)")
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")), backend=dist.get_backend())


def shutdown_distributed() -> None:
    """Leave the process group (no-op when there is none)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # every rank reaches this point before any leaves: a rank that tears its group down while
        # another still talks to the store (rank 0 hosts it) can end the other with std::terminate
        try:
            torch.distributed.barrier()
        except RuntimeError:  # pragma: no cover - a peer already gone; leaving is all that is left
            pass
        torch.distributed.destroy_process_group()


__all__ = ["DistContext", "SINGLE", "init_distributed", "shutdown_distributed", "launched_by_torchrun",
           "RANK_SEED_STRIDE"]
