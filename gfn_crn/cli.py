"""The ``gfn-crn`` command line.

    gfn-crn simulate FILE [--inputs u1=1,u2=0.5 ...] [--init 0.01 | X1=0.1,Z1=0] [--t-final 100]
                          [--points 1000] [--engine rodas|cvode|scipy] [--json] [--plot out.png] [--overwrite]
                          [--stochastic [--trajectories N] [--volume V] [--seed S] [--max-events E] [--tau]]
    gfn-crn tasks / evaluate          (gfn_crn/tasks/cli.py)
    gfn-crn verify --task T FILE      (gfn_crn/verify/cli.py)
    gfn-crn demo [--out DIR]          # a short training run on rpa (gfn_crn/training/cli.py)
    gfn-crn train / sample / top / export   (see gfn_crn/training/cli.py)

Conventions (``docs/cli.md``): bad input of any kind prints exactly one line
``gfn-crn: error: ...`` naming the culprit and exits with status 2; a bug prints one line
``gfn-crn: internal error: ...`` and exits with 1 (``GFN_CRN_DEBUG=1`` shows the traceback);
Ctrl-C exits with 130.

Subcommands load lazily: :data:`COMMANDS` names, for each, the function that adds its arguments
(``"module:function"``, called with the command's subparser; it sets ``func`` with
``set_defaults``), and only the chosen command's module is imported. So ``gfn-crn tasks`` or
``gfn-crn simulate`` never import torch. To add a command, append one :class:`Command`::

    Command("mycmd", "what it does, in one line", "gfn_crn.mypackage.cli:add_mycmd_arguments"),
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from .cli_common import check_plot_path, positive
from .crn.errors import CRNError


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, and ``"module:function"`` that adds its arguments."""

    name: str
    help: str
    setup: str

    def add_arguments(self, parser) -> None:
        module, _, func = self.setup.partition(":")
        getattr(import_module(module), func)(parser)


COMMANDS: tuple[Command, ...] = (
    Command("simulate", "simulate a network file (text, JSON, SBML or Antimony)", "gfn_crn.cli:add_simulate_arguments"),
    Command("demo", "the main job: a short training run on the rpa task; prints the top designs",
            "gfn_crn.training.cli:add_demo_arguments"),
    Command("train", "train a CRN generator on a task; writes a run directory",
            "gfn_crn.training.cli:add_train_arguments"),
    Command("sample", "draw fresh designs from a trained run and score them",
            "gfn_crn.training.cli:add_sample_arguments"),
    Command("top", "print the best archived designs of a run", "gfn_crn.training.cli:add_top_arguments"),
    Command("export", "write the top designs of a run as text, JSON, Antimony and SBML",
            "gfn_crn.training.cli:add_export_arguments"),
    Command("tasks", "list the task presets", "gfn_crn.tasks.cli:add_tasks_arguments"),
    Command("evaluate", "score a network file under a task", "gfn_crn.tasks.cli:add_evaluate_arguments"),
    Command("verify", "check a design beyond its loss (long horizon, off-grid inputs, disturbance step) and print "
                      "its minimal core", "gfn_crn.verify.cli:add_verify_arguments"),
)

EXIT_USAGE = 2       # bad input: a malformed file, a bad flag, an output that would replace a user's file
EXIT_INTERNAL = 1    # a bug
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """An argparse error, raised instead of printing usage and exiting (one line, see main)."""

    def __init__(self, message: str, prog: str):
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`UsageError` (the subparsers inherit it)."""

    def error(self, message):  # noqa: D102 - argparse API
        raise UsageError(message, self.prog)


# ---------------------------------------------------------------------------- helpers for commands
def parse_assignments(text: str, what: str) -> dict[str, float]:
    """``u1=1,u2=0.5`` -> ``{"u1": 1.0, "u2": 0.5}``; errors name ``what`` and the culprit."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise CRNError(f"{what}: expected NAME=VALUE, got {part!r}")
        k, v = (x.strip() for x in part.split("=", 1))
        if not k:
            raise CRNError(f"{what}: a value without a name in {part!r}")
        if k in out:
            raise CRNError(f"{what}: {k} given twice")
        try:
            out[k] = float(v)
        except ValueError:
            raise CRNError(f"{what}: {k}={v!r} is not a number") from None
    return out




# ---------------------------------------------------------------------------- simulate
def _cmd_simulate(args) -> int:
    from .crn.textio import load_network

    if args.plot:
        check_plot_path(args.plot, args.overwrite)
    net = load_network(args.file)
    if args.init is None:
        init = 0.01
    elif "=" in args.init:
        init = parse_assignments(args.init, "--init")
        unknown = sorted(set(init) - set(net.species))
        if unknown:
            raise CRNError(f"--init: {', '.join(unknown)} {'is not a species' if len(unknown) == 1 else 'are not species'}"
                           f" of {args.file} (species: {' '.join(net.species[:20])}{' ...' if len(net.species) > 20 else ''})")
    else:
        try:
            init = float(args.init)
        except ValueError:
            raise CRNError(f"--init: {args.init!r} is neither a number nor X1=0.1,Z1=0 assignments") from None
    scenarios_in = [parse_assignments(s, "--inputs") for s in (args.inputs or [""])]
    needed = list(net.inputs)
    for i, given in enumerate(scenarios_in):
        missing = [u for u in needed if u not in given]
        if missing:
            example = ",".join(f"{u}=1" for u in needed)
            where = "" if args.inputs is None else f" (scenario {i + 1}: {args.inputs[i]!r})"
            raise CRNError(f"{args.file} uses the input{'s' if len(needed) > 1 else ''} {', '.join(needed)}: give "
                           f"{'their values' if len(needed) > 1 else 'its value'} with --inputs {example}"
                           f"{where}; missing {', '.join(missing)}")
        extra = sorted(set(given) - set(needed))
        if extra:
            raise CRNError(f"--inputs: {', '.join(extra)} {'is' if len(extra) == 1 else 'are'} not an input of "
                           f"{args.file} (its inputs: {', '.join(needed) or 'none'})")
    from .sim import Scenario, simulate, time_grid

    scenarios = [Scenario(s, init) for s in scenarios_in]
    t = time_grid(args.t_final, args.points)
    if args.stochastic:
        from .sim.ssa_cli import run_stochastic

        return run_stochastic(args, net, scenarios, t)
    res = simulate(net, scenarios, t, engine=args.engine, rtol=args.rtol, atol=args.atol)
    from .sim.plot import final_table

    rows = final_table(res, 0)
    if args.plot:
        from .sim.plot import plot_time_courses

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


def add_simulate_arguments(s) -> None:
    s.add_argument("file")
    s.add_argument("--inputs", action="append", metavar="u1=1,u2=0.5",
                   help="input values of one scenario; repeat for more scenarios")
    s.add_argument("--init", default=None, help="initial concentration (number) or X1=0.1,Z1=0 (others 0.01)")
    s.add_argument("--t-final", type=positive(float), default=100.0)
    s.add_argument("--points", type=positive(int), default=1000)
    s.add_argument("--engine", default="rodas", choices=["rodas", "cvode", "scipy"])
    s.add_argument("--rtol", type=positive(float), default=1e-5)
    s.add_argument("--atol", type=positive(float), default=1e-9)
    s.add_argument("--json", action="store_true", help="print final concentrations and status as JSON")
    s.add_argument("--plot", default=None, metavar="PNG", help="draw the time courses")
    s.add_argument("--overwrite", action="store_true", help="replace the --plot file if it exists")
    from .sim.ssa_cli import add_stochastic_arguments

    add_stochastic_arguments(s)
    s.set_defaults(func=_cmd_simulate)


# ---------------------------------------------------------------------------- the parser and main
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``gfn-crn`` parser. ``command`` None: every subcommand's arguments (imports them all);
    a name: only that one's; ``""``: none (enough for ``--help`` and for naming a bad command)."""
    p = Parser(prog="gfn-crn", description="Design chemical reaction networks with GFlowNets.",
               epilog="Errors: one line 'gfn-crn: error: ...', exit status 2. See docs/cli.md.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for c in COMMANDS:
        sp = sub.add_parser(c.name, help=c.help, description=c.help)
        if command is None or command == c.name:
            c.add_arguments(sp)
    return p


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _os_message(e: OSError) -> str:
    what = e.strerror or type(e).__name__
    name = f" {e.filename}" if getattr(e, "filename", None) else ""
    name2 = f" -> {e.filename2}" if getattr(e, "filename2", None) else ""
    return f"{what}:{name}{name2}" if name else f"{what} ({e})"


def error_line(message: str) -> str:
    return "gfn-crn: error: " + _one_line(message)


def main(argv=None) -> int:
    """Run one command; returns the exit status (0 ok, 2 bad input, 1 a bug, 130 interrupted)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    names = {c.name for c in COMMANDS}
    command = argv[0] if argv and argv[0] in names else ""
    try:
        try:
            args = build_parser(command).parse_args(argv)
        except UsageError as e:
            where = e.prog[len("gfn-crn"):].strip()
            hint = f" (see gfn-crn {where + ' ' if where else ''}--help)"
            print(error_line(f"{where + ': ' if where else ''}{e}{hint}"), file=sys.stderr)
            return EXIT_USAGE
        except SystemExit as e:  # --help, --version
            return int(e.code or 0) if not isinstance(e.code, str) else EXIT_USAGE
        return int(args.func(args) or 0)
    except CRNError as e:
        print(error_line(str(e)), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into head
        try:
            sys.stdout = open(os.devnull, "w")  # no second error when Python flushes at exit
        except OSError:
            pass
        return 0
    except OSError as e:  # files named by the user: missing, a directory, no permission, disk full
        print(error_line(_os_message(e)), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gfn-crn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(error_line("out of memory (see the size limits in docs/cli.md)"), file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001 - a bug: one line, not a traceback, unless asked for
        if os.environ.get("GFN_CRN_DEBUG"):
            raise
        print(f"gfn-crn: internal error: {type(e).__name__}: {_one_line(str(e))[:300]} (a bug; please report it with "
              f"the command line; GFN_CRN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
