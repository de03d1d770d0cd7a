"""Command-line subcommands for tasks: ``gfn-crn tasks`` and ``gfn-crn evaluate``.

Wire into the main parser with ``add_task_commands(subparsers)``; each subcommand sets
``func`` (``args.func(args) -> exit code``). Standalone: ``python -m gfn_crn.tasks.cli ...``.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..crn.errors import CRNError


def add_task_commands(subparsers) -> None:
    """Register ``tasks`` and ``evaluate`` on an argparse subparsers object."""
    p = subparsers.add_parser("tasks", help="list the task presets",
                              description="List the task presets (one line each), or print one as TOML.")
    p.add_argument("--show", metavar="PRESET", help="print this preset's TOML (a starting point for task files)")
    p.set_defaults(func=cmd_tasks)

    e = subparsers.add_parser("evaluate", help="score a network file under a task",
                              description="Simulate a network under a task and print its loss, log-reward, "
                                          "validity and per-scenario details.")
    e.add_argument("--task", required=True, metavar="PRESET_OR_TOML", help="a preset name or a TOML task file")
    e.add_argument("network", metavar="NETWORK_FILE",
                   help="a network (text or .json); its fixed: lines must match the task's template, "
                        "or be absent (the task's template is used)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--plot", metavar="OUT.png", help="draw the output against the target")
    e.set_defaults(func=cmd_evaluate)


def cmd_tasks(args) -> int:
    from .presets import PRESETS, list_presets

    if args.show:
        if args.show not in PRESETS:
            print(f"error: unknown preset {args.show!r} (known: {', '.join(PRESETS)})", file=sys.stderr)
            return 2
        print(PRESETS[args.show].strip())
        return 0
    rows = list_presets()
    w = max(len(n) for n, _ in rows)
    for name, desc in rows:
        print(f"{name:<{w}}  {desc}")
    return 0


def cmd_evaluate(args) -> int:
    from ..crn import load_network
    from .config import load_task

    try:
        task = load_task(args.task)
        try:
            net = load_network(args.network)
        except OSError as exc:
            raise CRNError(f"cannot read network file {args.network!r}: {exc.strerror}") from None
        except CRNError as exc:
            raise CRNError(f"{args.network}: {exc}") from None
        net = task.adopt(net)
        result = task.evaluate([net])
    except CRNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = task.summary(result, 0)
    if args.json:
        print(json.dumps(summary, indent=1, allow_nan=False))
    else:
        print(f"task {task.name} ({task.kind}): loss {result.loss[0]:.6g}, log_reward {result.log_reward[0]:.6g}, "
              f"valid {bool(result.valid[0])}" + ("" if result.valid[0] else f" ({result.reason[0]})")
              + (", good" if summary["good"] else ""))
        for sc in summary["scenarios"]:
            loss = "-" if sc["loss"] is None else f"{sc['loss']:.6g}"
            print(f"  {sc['label']:<32s} loss {loss:<12s} {sc['status']}")
    if args.plot:
        task.plot(result, 0, args.plot)
        if not args.json:
            print(f"plot written to {args.plot}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gfn-crn")
    sub = parser.add_subparsers(dest="command", required=True)
    add_task_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
