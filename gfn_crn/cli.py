"""The ``gfn-crn`` command line.

    gfn-crn simulate FILE [--inputs u1=1,u2=0.5 ...] [--init 0.01 | X1=0.1,Z1=0] [--t-final 100]
                          [--points 1000] [--engine rodas|cvode|scipy] [--json] [--plot out.png]
                          [--stochastic [--trajectories N] [--volume V] [--seed S] [--max-events E] [--tau]]
    gfn-crn demo [--out DIR]          # a short training run on rpa (gfn_crn/training/cli.py)
    gfn-crn train / sample / top / export   (see gfn_crn/training/cli.py)

Bad input (a malformed network file, an input the scenarios do not define, ...) prints one line
naming the culprit and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .crn.errors import CRNError


def _parse_assignments(text: str, what: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise CRNError(f"{what}: expected NAME=VALUE, got {part!r}")
        k, v = (x.strip() for x in part.split("=", 1))
        try:
            out[k] = float(v)
        except ValueError:
            raise CRNError(f"{what}: {k}={v!r} is not a number") from None
    return out


def _cmd_simulate(args) -> int:
    from .crn.textio import load_network
    from .sim import Scenario, simulate, time_grid
    from .sim.plot import final_table, plot_time_courses

    net = load_network(args.file)
    if args.init is None:
        init = 0.01
    elif "=" in args.init:
        init = _parse_assignments(args.init, "--init")
    else:
        init = float(args.init)
    scenarios = [Scenario(_parse_assignments(s, "--inputs"), init) for s in (args.inputs or [""])]
    t = time_grid(args.t_final, args.points)
    if args.stochastic:
        from .sim.ssa_cli import run_stochastic

        return run_stochastic(args, net, scenarios, t)
    res = simulate(net, scenarios, t, engine=args.engine, rtol=args.rtol, atol=args.atol)
    rows = final_table(res, 0)
    if args.plot:
        plot_time_courses(res, args.plot, titles=[net.name or Path(args.file).stem], outputs=net.outputs)
    if args.json:
        print(json.dumps({"network": net.name, "species": list(res.species), "scenarios": rows}, indent=1))
    else:
        for r in rows:
            fin = "  ".join(f"{k}={v:.6g}" for k, v in r["final"].items())
            ins = ", ".join(f"{k}={v}" for k, v in r["inputs"].items()) or "no inputs"
            print(f"[{r['status']:>8}] {ins}: {fin}")
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


def _cmd_demo(args) -> int:
    """The main job: a short GFlowNet training run on the rpa task (see gfn_crn.training.cli)."""
    from .training.cli import run_demo

    return run_demo(args.out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gfn-crn", description="Design chemical reaction networks with GFlowNets.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="simulate a network file (text or JSON)")
    s.add_argument("file")
    s.add_argument("--inputs", action="append", metavar="u1=1,u2=0.5",
                   help="input values of one scenario; repeat for more scenarios")
    s.add_argument("--init", default=None, help="initial concentration (number) or X1=0.1,Z1=0 (others 0.01)")
    s.add_argument("--t-final", type=float, default=100.0)
    s.add_argument("--points", type=int, default=1000)
    s.add_argument("--engine", default="rodas", choices=["rodas", "cvode", "scipy"])
    s.add_argument("--rtol", type=float, default=1e-5)
    s.add_argument("--atol", type=float, default=1e-9)
    s.add_argument("--json", action="store_true", help="print final concentrations and status as JSON")
    s.add_argument("--plot", default=None, metavar="PNG", help="draw the time courses")
    from .sim.ssa_cli import add_stochastic_arguments

    add_stochastic_arguments(s)
    s.set_defaults(func=_cmd_simulate)

    d = sub.add_parser("demo", help="the main job: a short training run on the rpa task; prints the top designs")
    d.add_argument("--out", default="demo_out")
    d.set_defaults(func=_cmd_demo)

    from .training.cli import add_training_commands  # train, sample, top, export

    add_training_commands(sub)

    try:  # task commands (tasks, evaluate) live with the tasks
        from .tasks.cli import add_task_commands
    except ImportError:
        pass
    else:
        add_task_commands(sub)

    from .verify.cli import add_verify_command  # verify: checks beyond the loss, the core

    add_verify_command(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CRNError as e:
        print(f"gfn-crn: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError) as e:
        print(f"gfn-crn: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
