"""``gfn-crn verify --task TASK FILE [--json] [--plot OUT.png]``: a design's checks beyond the
loss and its minimal core. No torch import."""

from __future__ import annotations

import json
import math

from ..crn.errors import CRNError


VERIFY_HELP = ("check a design beyond its loss (long horizon, off-grid inputs, disturbance step) and print its "
               "minimal core")


def add_verify_command(subparsers) -> None:
    add_verify_arguments(subparsers.add_parser("verify", help=VERIFY_HELP))


def add_verify_arguments(v) -> None:
    """The arguments of ``gfn-crn verify`` (``gfn_crn.cli.COMMANDS`` calls this lazily)."""
    v.description = ("Verify a network under a task: its loss, every check (name, value, tolerance, passed), "
                     "whether it is verified (loss below the task's good threshold and every check passed), and "
                     "its core (the reactions left after greedily removing those it does not need).")
    v.add_argument("--task", required=True, metavar="PRESET_OR_TOML", help="a preset name or a TOML task file")
    v.add_argument("network", metavar="NETWORK_FILE", help="a network: text, .json, SBML (.xml, .sbml) or Antimony (.ant, .antimony)")
    v.add_argument("--json", action="store_true",
                   help="print JSON: loss, valid, verified, checks, core (network text), core_loss")
    v.add_argument("--condition", metavar="NAME=VALUE", default=None,
                   help="a family task's condition to verify under (e.g. g=1.3; required for a family)")
    v.add_argument("--plot", metavar="OUT.png", help="draw the long-horizon, off-grid and step time courses")
    v.add_argument("--overwrite", action="store_true", help="replace the --plot file if it exists")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args) -> int:
    from ..crn import load_network
    from ..tasks.config import load_task
    from .checks import verify
    from .mechanisms import chemical_core

    if args.plot:
        from ..cli_common import check_plot_path

        check_plot_path(args.plot, getattr(args, "overwrite", False))
    task = load_task(args.task)  # errors (CRNError, naming the file) become one line in gfn_crn.cli.main
    space = getattr(task, "conditions", None)   # a family of tasks: verified under one condition
    cond = getattr(args, "condition", None)
    if space is not None:
        if cond is None:
            raise CRNError(f"task {task.name} is a family of tasks ({space.describe()}): give --condition "
                           f"(e.g. {space.describe(space.reference)})")
        task = task.member(space.parse(cond))
    elif cond is not None:
        raise CRNError(f"--condition is for a family of tasks; task {task.name} has no conditions")
    net = task.adopt(load_network(args.network))
    v = verify(task, net)
    core = chemical_core(task, net, v.loss)   # the loss is known: an invalid design (inf) is its own core
    if args.json:
        d = v.to_dict()
        print(json.dumps({"loss": d["loss"], "valid": d["valid"], "verified": d["verified"], "checks": d["checks"],
                          "core": core.network.to_text(),
                          "core_loss": core.loss if math.isfinite(core.loss) else None}, indent=1, allow_nan=False))
    else:
        print(f"task {task.name} ({task.kind}): loss {v.loss:.6g} (good below {task.good_threshold:g}), "
              f"valid {v.valid}")
        for c in v.checks:
            print(f"  {c.name:<9} {'pass' if c.passed else 'FAIL'}  value {c.value:<11.4g} tolerance {c.tolerance:<8g} "
                  f"{c.detail}")
        print("VERIFIED" if v.verified else "NOT verified" + (
            f" (failed: {', '.join(v.failed)})" if v.failed else f" (loss not below {task.good_threshold:g})"))
        n_removed = len(core.removed)
        print(f"\ncore ({len(core.network.reactions)} reactions, loss {core.loss:.6g}; {n_removed} removed):")
        print(core.network.to_text().rstrip())
    if args.plot:
        from .report import plot_verification

        plot_verification(task, net, args.plot)
        if not args.json:
            print(f"plot written to {args.plot}")
    return 0
