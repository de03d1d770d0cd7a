"""``gfn-crn simulate --stochastic``: the stochastic branch of the simulate command.

``gfn_crn/cli.py`` wires it in with two calls: :func:`add_stochastic_arguments` on the simulate
subparser and, in the simulate command, ``return run_stochastic(args, net, scenarios, t)`` when
``args.stochastic`` is set.

    gfn-crn simulate FILE --stochastic [--trajectories 100] [--volume 100] [--seed 0]
                          [--max-events 1000000] [--tau] [--json] [--plot out.png]
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..crn.errors import CRNError


def add_stochastic_arguments(parser) -> None:
    """Add ``--stochastic``, ``--trajectories``, ``--volume``, ``--seed``, ``--max-events``, ``--tau``."""
    g = parser.add_argument_group("stochastic simulation (exact SSA on molecule counts)")
    g.add_argument("--stochastic", action="store_true",
                   help="simulate with Gillespie's exact SSA instead of the ODE; plots show mean and +-1 std")
    g.add_argument("--trajectories", type=int, default=100, metavar="N", help="trajectories per scenario (100)")
    g.add_argument("--volume", type=float, default=100.0, metavar="V",
                   help="molecules per unit concentration: counts = round(x * V) (100)")
    g.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (0)")
    g.add_argument("--max-events", type=int, default=1_000_000, metavar="E",
                   help="reaction events per trajectory before it is flagged failed (1e6)")
    g.add_argument("--tau", action="store_true", help="tau-leaping (approximate, faster at large volumes)")


def run_stochastic(args, net, scenarios, t) -> int:
    """Run the SSA for ``net`` under ``scenarios`` on ``t``; print (or JSON) the final mean, std and
    status counts per scenario; plot mean and band with ``--plot``. Returns the exit code."""
    from .plot import plot_stochastic
    from .simulate import DIVERGED, FAILED, OK, STATUS_NAMES
    from .ssa import ssa

    if args.trajectories < 1:
        raise CRNError(f"--trajectories must be >= 1, got {args.trajectories}")
    res = ssa(net, scenarios, t, trajectories=args.trajectories, volume=args.volume, seed=args.seed,
              max_events=args.max_events, method="tau" if args.tau else "exact",
              record="trajectories" if args.plot else "moments")
    rows = []
    for s, sc in enumerate(res.scenarios):
        counts = {STATUS_NAMES[k]: int(np.sum(res.status[0, s] == k)) for k in (OK, DIVERGED, FAILED)}  # the SSA's codes
        rows.append({
            "scenario": s,
            "inputs": {k: (v if isinstance(v, float) else {"times": list(v.times), "values": list(v.values)})
                       for k, v in sc.inputs.items()},
            "status": res.status_name(0, s),
            "trajectories": counts,
            "final_mean": {name: float(res.mean[0, s, -1, i]) for i, name in enumerate(res.species)},
            "final_std": {name: float(res.std[0, s, -1, i]) for i, name in enumerate(res.species)},
            "events_mean": float(res.events[0, s].mean()),
        })
    if args.plot:
        plot_stochastic(res, args.plot, 0, title=net.name or Path(args.file).stem, outputs=net.outputs)
    if args.json:
        print(json.dumps({"network": net.name, "species": list(res.species), "stochastic": True,
                          "trajectories": args.trajectories, "volume": args.volume, "seed": args.seed,
                          "method": res.stats["method"], "seconds": res.stats["seconds"], "scenarios": rows},
                         indent=1))
    else:
        print(f"stochastic: {args.trajectories} trajectories per scenario, volume {args.volume:g}, seed {args.seed}, "
              f"{res.stats['method']} ({res.stats['seconds']:.2f} s)")
        for r in rows:
            fin = "  ".join(f"{k}={r['final_mean'][k]:.4g}+-{r['final_std'][k]:.2g}" for k in r["final_mean"])
            ins = ", ".join(f"{k}={v}" for k, v in r["inputs"].items()) or "no inputs"
            bad = {k: v for k, v in r["trajectories"].items() if k != "ok" and v}
            flag = "" if not bad else " (" + ", ".join(f"{v} {k}" for k, v in bad.items()) + ")"
            print(f"[{r['status']:>8}] {ins}: {fin}{flag}")
        if args.plot:
            print(f"plot: {args.plot}")
    return 0
