"""Verification of designs beyond the training loss: the runner of the task kinds' plans.

A loss below the task's good threshold says a design fits the training scenarios on the training
horizon. It does not say that the design keeps working afterwards, nor at inputs the task did not
train on. :func:`verify_batch` runs the checks that do: every task declares them in its
verification plan (``task.verification_plan(settings)``, :mod:`gfn_crn.tasks.verification`).
This module names no kind. It simulates the task's scenarios and every check's extra scenarios on
the long horizon (``horizon`` x t_f) in one call and adds one check every task gets:

``bounded``
    Every species stays below ``cap`` over the long horizon on every scenario (the task's and the
    checks' own). A trajectory the simulator stops as diverged fails it.

The built-in kinds' checks (``settled``, ``persists``, ``off_grid``, ``step``) are described with
their kinds in docs/verification.md. Every check reports ``name``, ``value``, ``tolerance`` and
``passed``. A design is **verified** when its loss is below the task's good threshold and every
check passes. Settings come from the task file's ``[verify]`` table (see :class:`VerifySettings`);
verification simulates with the task's own simulator options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..crn.network import Network
from ..sim import simulate
from ..tasks.verification import (Check, CheckSpec, Trajectories, VerificationPlan, VerifySettings,  # noqa: F401
                                  nan_to_inf, off_grid_values)


@dataclass
class Verification:
    """The verdict on one design: its training loss, its checks and whether it is verified."""

    loss: float
    valid: bool
    good: bool
    checks: list[Check]
    traces: dict = field(default_factory=dict, repr=False)

    @property
    def verified(self) -> bool:
        return bool(self.valid and self.good and all(c.passed for c in self.checks))

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        return {"loss": float(self.loss) if math.isfinite(self.loss) else None, "valid": bool(self.valid),
                "good": bool(self.good),
                "verified": self.verified, "checks": [c.to_dict() for c in self.checks]}


# ---------------------------------------------------------------- verify
def verify_batch(task, networks: Sequence[Network], settings: VerifySettings | None = None,
                 losses=None, keep_traces: bool = False) -> list[Verification]:
    """Verify every network against ``task`` (one simulator call for all of them).

    ``losses``: the networks' known losses (non-finite: invalid), so they are not evaluated again.
    ``keep_traces``: keep the long-horizon trajectories (for plots) in each verdict's ``traces``.
    """
    s = settings if settings is not None else getattr(task, "verify_settings", None) or VerifySettings()
    networks = task.check_networks(networks)
    if not networks:
        return []
    if losses is None:
        res = task.evaluate(networks)
        losses = np.where(res.valid, res.loss, np.inf)
    losses = np.asarray(losses, dtype=float)
    B = len(networks)
    plan: VerificationPlan = task.verification_plan(s)
    specs = [c for c in plan.checks if c.setting is None or getattr(s, c.setting)]
    T = s.horizon * float(task.t[-1])
    t_long = np.linspace(0.0, T, s.n_points or plan.n_points or 2001)
    base = list(task.scenarios)
    S0 = len(base)
    scen = list(base)
    spans = []                                                 # each check's scenarios in scen
    for c in specs:
        if c.scenarios:
            spans.append((len(scen), len(scen) + len(c.scenarios)))
            scen += list(c.scenarios)
        else:
            spans.append((0, S0))
    opts = dict(task.sim_options)
    opts["cap"] = min(float(opts.get("cap", 1e4)), s.cap)
    opts["max_steps"] = max(int(opts.get("max_steps", 20000)), 100000)
    sim = simulate(networks, scen, t_long, **opts)
    y, status = sim.y, sim.status                             # (B, S, T, N), (B, S)
    checks: list[list[Check]] = [[] for _ in range(B)]

    # bounded: every trajectory of every scenario (the checks' own included) below the cap
    peak = np.where(np.isfinite(y), y, np.inf).max(axis=(2, 3))          # (B, S)
    bounded_val = np.where(status != 0, np.inf, peak).max(axis=1)
    for b in range(B):
        checks[b].append(Check("bounded", float(bounded_val[b]), s.cap, bool(bounded_val[b] < s.cap),
                               f"largest concentration over t in [0, {T:g}]"))
    for c, (a, z) in zip(specs, spans):
        with np.errstate(all="ignore"):
            got = c.judge(Trajectories(t_long, y[:, a:z], sim.species, s))
        vals, details = got if isinstance(got, tuple) else (got, None)
        ok = status[:, a:z].max(axis=1) == 0
        val = np.where(ok, nan_to_inf(np.asarray(vals, dtype=float)), np.inf)
        for b in range(B):
            checks[b].append(Check(c.name, float(val[b]), float(c.tolerance), bool(val[b] <= c.tolerance),
                                   details[b] if details is not None else c.detail))
    out = []
    for b in range(B):
        v = Verification(float(losses[b]), bool(np.isfinite(losses[b])), bool(losses[b] < task.good_threshold),
                         checks[b])
        if keep_traces:
            groups = {"long horizon": (0, S0)}
            for c, (a, z) in zip(specs, spans):
                if c.scenarios:
                    groups[c.group or c.name] = (a, z)
            v.traces = {"t": t_long, "y": y[b], "species": sim.species,
                        "labels": [task.scenario_label(i) if i < S0 else (sc.label or f"scenario {i}")
                                   for i, sc in enumerate(scen)],
                        "groups": groups, "outputs": list(task.outputs)}
        out.append(v)
    return out


def verify(task, network: Network, settings: VerifySettings | None = None, keep_traces: bool = False) -> Verification:
    """Verify one design (see the module docstring)."""
    return verify_batch(task, [task.adopt(network)], settings, keep_traces=keep_traces)[0]
