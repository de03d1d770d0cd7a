"""Verified designs and their mechanisms for a set of designs (a run's archive, a benchmark's
good designs), and the plot of a verification's time courses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..crn.network import Network
from .checks import Verification, verify_batch
from .mechanisms import Mechanism, group_mechanisms


@dataclass
class MechanismSummary:
    """The verdict on a set of designs: one verification each, the distinct verified mechanisms
    (best first) and which mechanism each design reduces to (-1: not verified)."""

    verifications: list[Verification]
    mechanisms: list[Mechanism]
    design_mechanism: list[int]
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def n_verified(self) -> int:
        return sum(v.verified for v in self.verifications)

    @property
    def n_mechanisms(self) -> int:
        return len(self.mechanisms)

    def to_dict(self, designs: Sequence[Network] | None = None) -> dict:
        d = {"verified_designs": self.n_verified, "distinct_verified_mechanisms": self.n_mechanisms,
             "seconds": round(self.seconds, 3),
             "mechanisms": [dict(rank=i + 1, **m.to_dict()) for i, m in enumerate(self.mechanisms)],
             "designs": [dict(v.to_dict(), mechanism=(m + 1 if m >= 0 else None))
                         for v, m in zip(self.verifications, self.design_mechanism)]}
        if designs is not None:
            for row, net in zip(d["designs"], designs):
                row["network"] = net.to_text()
        return d


def summarise_designs(task, networks: Sequence[Network], losses: Sequence[float] | None = None,
                      refine_evals: int | None = None, chunk: int = 256) -> MechanismSummary:
    """Verify ``networks`` (only those below the task's good threshold are simulated further)
    and group the verified ones by mechanism. ``losses``: known losses (else evaluated)."""
    t0 = time.perf_counter()
    nets = list(networks)
    if not nets:
        return MechanismSummary([], [], [], 0.0)
    if losses is None:
        res = task.evaluate(nets)
        losses = np.where(res.valid, res.loss, np.inf)
    losses = np.asarray(losses, dtype=float)
    good = np.flatnonzero(losses < task.good_threshold)
    ver: list[Verification | None] = [None] * len(nets)
    for i in range(0, len(good), chunk):
        idx = good[i:i + chunk]
        for j, v in zip(idx, verify_batch(task, [nets[k] for k in idx], losses=losses[idx])):
            ver[j] = v
    for j in range(len(nets)):
        if ver[j] is None:
            ver[j] = Verification(float(losses[j]), bool(np.isfinite(losses[j])), False, [])
    kw = {} if refine_evals is None else {"refine_evals": refine_evals}   # default: the chemical core
    mechs, keys = group_mechanisms(task, nets, losses, ver, **kw)
    index = {m.key: i for i, m in enumerate(mechs)}
    dm = [index.get(k, -1) if k else -1 for k in keys]
    return MechanismSummary(ver, mechs, dm, time.perf_counter() - t0)


def plot_verification(task, network: Network, path, settings=None):
    """The long-horizon, off-grid and step time courses of one design's outputs, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .checks import verify

    v = verify(task, network, settings, keep_traces=True)
    tr = v.traces
    groups = [(name, a, b) for name, (a, b) in tr["groups"].items() if b > a]
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False)
    oidx = [tr["species"].index(o) for o in tr["outputs"]] or list(range(len(tr["species"])))
    verdict = {c.name: c for c in v.checks}
    for ax, (name, a, b) in zip(axes[0], groups):
        for s in range(a, b):
            for o in oidx:
                ax.plot(tr["t"], tr["y"][s, :, o], lw=0.9, label=tr["labels"][s] if b - a <= 9 else None)
        key = {"long horizon": "settled" if "settled" in verdict else ("persists" if "persists" in verdict
                                                                           else "bounded"),
               "off grid": "off_grid", "step": "step"}[name]
        c = verdict.get(key)
        status = "" if c is None else f" - {key} {'passed' if c.passed else 'FAILED'} ({c.value:.3g} vs {c.tolerance:g})"
        ax.set_title(f"{name}{status}", fontsize=9)
        ax.set_xlabel("time")
        if b - a <= 9:
            ax.legend(fontsize=6)
    axes[0][0].set_ylabel(", ".join(tr["outputs"]) or "species")
    fig.suptitle(f"{task.name}: loss {v.loss:.4g}, {'verified' if v.verified else 'NOT verified'}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
