"""Command-line subcommands for tasks: ``gfn-crn tasks`` and ``gfn-crn evaluate``.

Wire into the main parser with ``add_task_commands(subparsers)``; each subcommand sets
``func`` (``args.func(args) -> exit code``). Run them as ``gfn-crn tasks`` / ``gfn-crn evaluate``
(or ``python -m gfn_crn.cli ...``): the entry point is :mod:`gfn_crn.cli` alone.
"""

from __future__ import annotations

import argparse
import json

from ..crn.errors import CRNError


def add_task_commands(subparsers) -> None:
    """Register ``tasks`` and ``evaluate`` on an argparse subparsers object."""
    add_tasks_arguments(subparsers.add_parser(
        "tasks", help="list the task presets", description="List the task presets (one line each), or print one as TOML."))
    add_evaluate_arguments(subparsers.add_parser(
        "evaluate", help="score a network file under a task",
        description="Simulate a network under a task and print its loss, log-reward, validity and per-scenario details."))


def add_tasks_arguments(p) -> None:
    p.description = "List the task presets (one line each), or print one as TOML."
    p.add_argument("--show", metavar="PRESET", help="print this preset's TOML (a starting point for task files)")
    p.set_defaults(func=cmd_tasks)


def add_evaluate_arguments(e) -> None:
    e.description = ("Simulate a network under a task and print its loss, log-reward, validity and per-scenario "
                     "details. An invalid design (diverged or failed) has no loss: it shows '-' (JSON null).")
    e.add_argument("--task", required=True, metavar="PRESET_OR_TOML", help="a preset name or a TOML task file")
    e.add_argument("network", metavar="NETWORK_FILE",
                   help="a network: text, .json, SBML (.xml, .sbml) or Antimony (.ant, .antimony); its fixed: lines must "
                        "match the task's template, or be absent (the task's template is used; in an SBML or "
                        "Antimony model from another tool, the reactions equal to the template's are its own)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--plot", metavar="OUT.png", help="draw the output against the target")
    e.add_argument("--overwrite", action="store_true", help="replace the --plot file if it exists")
    e.set_defaults(func=cmd_evaluate)


def cmd_tasks(args) -> int:
    from .presets import PRESETS, list_presets

    if args.show:
        if args.show not in PRESETS:
            raise CRNError(f"unknown preset {args.show!r} (known: {', '.join(PRESETS)})")
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

    if args.plot:
        from ..cli_common import check_plot_path

        check_plot_path(args.plot, getattr(args, "overwrite", False))
    task = load_task(args.task)
    net = load_network(args.network)  # errors name the file
    net = task.adopt(net)
    result = task.evaluate([net])
    summary = task.summary(result, 0)
    valid = bool(result.valid[0])
    if not valid:  # an invalid design has no loss (the task's loss_cap is only its reward's stand-in)
        summary["loss"] = None
    if args.json:
        print(json.dumps(summary, indent=1, allow_nan=False))
    else:
        loss = f"{result.loss[0]:.6g}" if valid else "- (invalid)"
        print(f"task {task.name} ({task.kind}): loss {loss}, log_reward {result.log_reward[0]:.6g}, "
              f"valid {valid}" + ("" if valid else f" ({result.reason[0]})")
              + (", good" if summary["good"] else ""))
        for sc in summary["scenarios"]:
            sl = "-" if sc["loss"] is None else f"{sc['loss']:.6g}"
            print(f"  {sc['label']:<32s} loss {sl:<12s} {sc['status']}")
    if args.plot:
        task.plot(result, 0, args.plot)
        if not args.json:
            print(f"plot written to {args.plot}")
    return 0
