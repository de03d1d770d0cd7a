"""``gfn-crn train``, ``sample``, ``top``, ``export`` and the ``demo`` training run.

    gfn-crn train --task PRESET_OR_TOML [--algorithm tb|reinforce] [--library mass_action[,hill[:R]][,degradation]]
                  [--max-reactions 5] [--order canonical|free] [--iterations 1000] [--batch-size 64]
                  [--seed 0] [--out DIR] [--preset quick|paper] [--config FILE.toml]
                  [--set KEY=VALUE ...] [--max-minutes M] [--workers N] [--topology-reward] [--no-progress]
    gfn-crn train --resume DIR [--iterations N] [--max-evaluations N] [--max-minutes M] [--workers N]
    torchrun --standalone --nproc_per_node=N -m gfn_crn.cli train ...   (data-parallel)
    gfn-crn sample DIR [-n 1000] [--temperature 1] [--seed 0] [--out FILE.jsonl] [--condition g=1.3]
    gfn-crn top DIR [-k 10] [--json]
    gfn-crn export DIR [-k 5] [--out DIR/designs]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..crn.errors import CRNError

#: the ``gfn-crn demo`` run: the default recipe at the ``quick`` preset's evaluation budget, at the
#: default seed (0, not chosen for its result), so its result does not depend on the machine's
#: speed or load. Of seeds 0-9 at this budget, 4 end with a verified design (seed 0 does not);
#: benchmarks/RESULTS.md ("Discovery") has every seed
DEMO_PRESET = "quick"
DEMO_SETTINGS = {"task": "rpa", "seed": 0}

#: ``gfn-crn train`` flags that are not settings of their own (``--per-sample-reward`` sets two)
#: and that a resumed run refuses, like every setting not in RESUMABLE
_RUN_ONLY_FLAGS = ("preset", "config", "out", "set", "per_sample_reward")


def _dest(flag: str) -> str:
    return flag[2:].replace("-", "_")


def _override_args(args) -> dict:
    """The command line's settings: each setting's own flag, ``--per-sample-reward``, then ``--set``
    (checked against the declarations here, so that an error names ``--set``)."""
    from .config import coerce_setting, flag_settings

    out = {key: getattr(args, _dest(flag)) for key, flag, _ in flag_settings()}
    if args.per_sample_reward:
        if args.topology_reward:
            raise CRNError("--per-sample-reward and --topology-reward contradict each other")
        out.update(topology_reward=False, structure_search_every=0, structure_search_swap_every=0)
    for item in args.set or []:
        if "=" not in item:
            raise CRNError(f"--set: expected KEY=VALUE, got {item!r}")
        k, v = (x.strip() for x in item.split("=", 1))
        out[k] = coerce_setting(k, v, "--set")
    return out


def _resume_guard(args) -> dict:
    """The settings a ``--resume`` may change (RESUMABLE, from the declarations); any other flag is
    an error naming it."""
    from .config import RESUMABLE, flag_settings

    given, changed = {}, []
    for key, flag, _ in flag_settings():
        v = getattr(args, _dest(flag))
        if v is None:
            continue
        if key in RESUMABLE:
            given[key] = v
        else:
            changed.append(flag)
    changed += [f"--{name.replace('_', '-')}" for name in _RUN_ONLY_FLAGS if getattr(args, name)]
    if changed:
        allowed = ", ".join(flag for key, flag, _ in flag_settings() if key in RESUMABLE)
        raise CRNError(f"--resume continues the run with its saved settings; {', '.join(changed)} cannot be "
                       f"changed (only {allowed})")
    return given


def _cmd_train(args) -> int:
    from .distributed import init_distributed, launched_by_torchrun, shutdown_distributed

    if not launched_by_torchrun():
        return _train(args, None)
    dist = init_distributed()
    rc = 1
    try:
        rc = _train(args, dist)
    except CRNError as exc:
        print(f"gfn-crn: error: {exc}", file=sys.stderr)
        rc = 2
    except KeyboardInterrupt:
        rc = 130
    except BaseException:  # noqa: BLE001 - reported, then the process leaves like the others
        import traceback

        traceback.print_exc()
        rc = 1
    finally:
        shutdown_distributed()
        # Leave without the interpreter's teardown: torch's gloo/store threads can end it with
        # 'terminate called without an active exception' (SIGABRT) after the work is saved, which
        # torchrun reports as a failed job (seen on about 1 run in 4 of a 2-rank job on 2 cores).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)


def _train(args, dist) -> int:
    from .config import resolve_config
    from .distributed import SINGLE
    from .run import Run

    dist = dist or SINGLE

    def say(msg):
        if dist.is_main:
            print(msg, file=sys.stderr)

    if args.resume:
        run = Run.load(args.resume, **_resume_guard(args), warn=lambda m: print(m, file=sys.stderr), dist=dist)
        say(f"resuming {run.dir} at iteration {run.iteration} of {run.config.train.n_iterations}")
    else:
        config = resolve_config(args.preset, args.config, _override_args(args))
        # every rank must use rank 0's directory (the default name holds the time)
        out = dist.broadcast(args.out or f"runs/{Path(config.task).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
        run = Run.create(config, out, overwrite=args.overwrite, allow_nonempty=args.allow_nonempty, dist=dist)
        say(f"run directory: {run.dir}" + (f" ({dist.world_size} processes, {dist.backend})" if dist.enabled else ""))
    try:
        run.train(progress=not args.no_progress)
        if not args.no_finish and dist.is_main:
            run.finish()
    finally:
        run.close()
    return 130 if run.stopped_by_user else 0


def _cmd_sample(args) -> int:
    from .archive import Archive, format_table
    from .run import Run

    from ..outputs import check_new_file

    if args.out:  # a path of the user's: never replaced without --overwrite (checked before sampling)
        check_new_file(args.out, overwrite=args.overwrite, what="--out")
    run = Run.load(args.dir, warn=lambda m: print(m, file=sys.stderr))
    cond = None
    if args.condition:  # a family's run: checked before sampling (unknown variable, out of range: an error)
        if run.env.conditions is None:
            run.close()
            raise CRNError(f"--condition: the task of {args.dir} ({run.task.name}) is not a family of tasks")
        try:
            cond = run.env.conditions.parse(args.condition)
        except CRNError as e:
            run.close()
            raise CRNError(f"--condition: {e}") from None
    samples = run.sample(args.n, temperature=args.temperature, seed=args.seed, condition=cond)
    tag = "" if cond is None else "_" + run.env.conditions.describe(cond).replace(",", "_")
    out = Path(args.out) if args.out else run.dir / f"sampled_n{args.n}_T{args.temperature:g}{tag}.jsonl"
    samples.write_jsonl(out)
    thr = run.task.good_threshold
    f = samples.figures(thr)
    from .report import valid_share

    under = "" if cond is None else f", condition {run.env.conditions.describe(cond)}"
    if cond is None and run.env.conditions is not None:
        under = ", one condition drawn per design"
    print(f"{f['n']} designs from {run.dir} (iteration {run.iteration}, temperature {args.temperature:g}{under}): "
          f"{valid_share(f['n_valid'], f['n'])}, {f['distinct_topologies']} distinct topologies, "
          f"{100 * f['good_fraction']:.1f}% below {thr:g} ({f['distinct_good']} distinct), best loss "
          f"{'-' if f['best_loss'] is None else format(f['best_loss'], '.4g')}, mean pairwise Hamming distance "
          f"of the good ones {'-' if f['mean_hamming_good'] is None else format(f['mean_hamming_good'], '.3g')}")
    a = Archive(capacity=max(args.n, 1), good_threshold=thr)
    a.update(samples.networks, samples.loss, samples.valid, samples.log_reward)
    print(format_table(a.top(args.show)))
    print(f"written: {out}")
    run.close()
    return 0


def _load_archive(d):
    from .archive import Archive

    d = Path(d)
    if not d.is_dir():
        raise CRNError(f"run directory {d} does not exist" if not d.exists() else f"{d} is a file, not a run directory")
    p = d / "archive.json"
    if not p.exists():
        raise CRNError(f"{d} has no archive.json (is it a run directory? runs save it with every checkpoint)")
    return Archive.load_json(p)


def _cmd_top(args) -> int:
    from .archive import condition_label, format_table, verdict_labels

    a = _load_archive(args.dir)
    mp = Path(args.dir) / "mechanisms.json"
    verdicts = verdict_labels(json.loads(mp.read_text())) if mp.exists() else None
    if args.json:
        rows = a.to_dict(args.k)["entries"]
        if verdicts is not None:
            for r in rows:
                rx = tuple(r["reactions"])   # a family's design: keyed by its condition too
                lab = verdicts.get(rx if r.get("condition") is None else (condition_label(r["condition"]), rx))
                r["verified"] = None if lab is None else lab.startswith("yes")
                r["mechanism"] = int(lab[6:-1]) if lab and lab.startswith("yes") else None
        print(json.dumps(rows, indent=1))
        return 0
    div = a.diversity()
    print(f"{len(a)} archived topologies; best loss {'-' if div['best_loss'] is None else format(div['best_loss'], '.4g')}; "
          f"distinct good (loss < {a.good_threshold:g}): {a.n_good}; mean pairwise Hamming distance "
          f"({div['mean_hamming_over']}): {'-' if div['mean_hamming'] is None else format(div['mean_hamming'], '.3g')}")
    if verdicts is not None:
        m = json.loads(mp.read_text())
        print(f"verified designs: {m['verified_designs']}; distinct verified mechanisms: "
              f"{m['distinct_verified_mechanisms']} (verified = bounded, settled, right off the training grid and "
              "after a disturbance step; '-': not below the threshold, not checked)")
    print(format_table(a.top(args.k), max_width=args.width, verdicts=verdicts))
    return 0


def _cmd_export(args) -> int:
    from ..crn.export import save_exports

    from ..outputs import check_new_files, check_out_directory
    from .archive import condition_label

    a = _load_archive(args.dir)
    out = check_out_directory(args.out) if args.out else Path(args.dir) / "designs"
    entries = a.top(args.k)
    if args.out:  # the default DIR/designs holds the run's own exports; a user's directory is checked
        check_new_files([out / f"rank{i + 1:02d}.{ext}" for i in range(len(entries))
                         for ext in ("crn", "json", "antimony", "xml")], overwrite=args.overwrite, what="design file")
    for i, e in enumerate(entries):
        paths = save_exports(e.network, out, f"rank{i + 1:02d}")
        cond = f"condition {condition_label(e.condition)}, " if e.condition is not None else ""
        print(f"rank {i + 1} ({cond}loss {e.loss:.4g}): " + " ".join(str(p) for p in paths.values()))
    return 0


def run_demo(out="demo_out", settings: dict | None = None) -> int:
    """The main job: a short training run on ``rpa`` that ends with the top designs and the plots."""
    from .config import resolve_config
    from .run import Run

    config = resolve_config(DEMO_PRESET, overrides={**DEMO_SETTINGS, **(settings or {})})
    print(f"gfn-crn demo: the default recipe on the rpa task (robust perfect adaptation), "
          f"{config.max_evaluations:,} candidate evaluations, seed {config.train.seed} -> {out}/", flush=True)
    run = Run.create(config, out, overwrite=True)
    try:
        run.train(progress=True)
        summary = run.finish()
    finally:
        run.close()
    thr = summary["good_threshold"]
    nv, nm = summary["verified_designs"], summary["distinct_verified_mechanisms"]
    if nv:
        print(f"\ndemo result: {nv} verified design{'s' if nv != 1 else ''} below {thr:g} (bounded, settled, right "
              f"off the training grid and after a disturbance step), {nm} distinct mechanism{'s' if nm != 1 else ''}; "
              f"the first after "
              f"{summary['first_verified_evaluation']:,} evaluations; best loss {summary['best_loss']:.4g}. "
              f"Mechanisms: {out}/report.md, {out}/mechanisms.json")
    else:
        print(f"\ndemo result: no verified design below {thr:g} in {summary['evaluations']:,} evaluations "
              f"(best loss {summary['best_loss']:.4g}); a longer run: gfn-crn train --task rpa --preset paper")
    return 0


def _flag_type(key: str, flag: str):
    """An argparse ``type`` that reads a flag's value as its setting is declared (type, choices,
    bounds); the error names the flag."""
    from ..crn.settings import check_value
    from .config import setting_spec

    spec = setting_spec(key)

    def conv(text: str):
        try:
            return check_value(text, "", spec, text=True)
        except CRNError as e:  # argparse prefixes "argument --flag:"
            raise argparse.ArgumentTypeError(str(e).strip()) from None

    conv.__name__ = spec.kind
    return conv


def add_train_arguments(t) -> None:
    """``gfn-crn train`` (imports the run settings, hence torch: training needs it anyway). The
    flags of the settings come from their declarations (:func:`gfn_crn.training.config.flag_settings`)."""
    from .config import PRESETS, RunConfig, flag_settings, setting_spec

    d = RunConfig()
    t.description = ("Train a GFlowNet that samples CRN designs for a task. Settings: defaults < --preset < --config "
                     "< flags/--set. The run directory holds config.toml, metrics.jsonl, checkpoints, the archive, "
                     "plots and report.md. Ctrl-C stops after the current iteration and saves.")
    for key, flag, f in flag_settings():
        note = f.metadata.get("resume")
        helptext = f"{f.metadata['doc']} (default {d.get(key)}{'; with --resume: ' + note if note else ''})"
        spec = setting_spec(key)
        if spec.kind == "bool":
            t.add_argument(flag, dest=_dest(flag), action="store_true", default=None, help=helptext)
        else:
            t.add_argument(flag, dest=_dest(flag), type=_flag_type(key, flag), default=None,
                           metavar=("{" + ",".join(spec.choices) + "}") if spec.choices else None, help=helptext)
    t.add_argument("--per-sample-reward", action="store_true", default=False,
                   help="score each sampled design at its own rates (no topology reward, no structure search)")
    t.add_argument("--out", default=None, help="run directory (default runs/<task>-<date>-<time>): new, empty, or a "
                                               "previous run (with --overwrite)")
    t.add_argument("--resume", default=None, metavar="DIR", help="continue the run in DIR (bit-for-bit under its seed)")
    t.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="; ".join(f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items()) for k, v in PRESETS.items()))
    t.add_argument("--config", default=None, metavar="FILE.toml", help="flat TOML of settings (see config.toml of a run)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="any setting of config.toml, e.g. --set lr=3e-3")
    t.add_argument("--overwrite", action="store_true", help="replace a previous run in --out (the files it wrote)")
    t.add_argument("--allow-nonempty", action="store_true",
                   help="write the run into an existing directory that holds other files; a file with the name of "
                        "one the run writes (config.toml, report.md, *.png, ...) is still never replaced")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--no-finish", action="store_true", help="skip final samples, plots, exports and report")
    t.set_defaults(func=_cmd_train)


def add_demo_arguments(d) -> None:
    d.add_argument("--out", default="demo_out", help="run directory: new, empty, or a previous demo run (replaced)")
    d.set_defaults(func=_cmd_demo)


def add_sample_arguments(s) -> None:
    from ..cli_common import positive

    s.add_argument("dir")
    s.add_argument("-n", type=positive(int), default=1000, help="number of designs (default 1000)")
    s.add_argument("--temperature", type=positive(float), default=1.0, help="structure-logit temperature (default 1)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default=None, help="JSONL file (default DIR/sampled_n<N>_T<T>[_<condition>].jsonl)")
    s.add_argument("--condition", action="append", default=None, metavar="NAME=VALUE",
                   help="a family's run (e.g. --task rpa-gain): draw designs for this condition, e.g. g=1.3 "
                        "(repeat or comma-separate for several variables; default: one drawn per design)")
    s.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    s.add_argument("--show", type=positive(int, allow_zero=True), default=10,
                   help="print this many best distinct samples")
    s.set_defaults(func=_cmd_sample)


def add_top_arguments(k) -> None:
    from ..cli_common import positive

    k.add_argument("dir")
    k.add_argument("-k", type=positive(int), default=10)
    k.add_argument("--json", action="store_true", help="JSON entries (lossless networks)")
    k.add_argument("--width", type=positive(int), default=200, help="truncate the reactions column to this many characters")
    k.set_defaults(func=_cmd_top)


def add_export_arguments(e) -> None:
    from ..cli_common import positive

    e.add_argument("dir")
    e.add_argument("-k", type=positive(int), default=5)
    e.add_argument("--out", default=None, help="directory (default DIR/designs)")
    e.add_argument("--overwrite", action="store_true", help="replace design files already in --out")
    e.set_defaults(func=_cmd_export)


def _cmd_demo(args) -> int:
    return run_demo(args.out)


__all__ = ["add_train_arguments", "add_demo_arguments", "add_sample_arguments",
           "add_top_arguments", "add_export_arguments", "run_demo", "DEMO_PRESET", "DEMO_SETTINGS"]
