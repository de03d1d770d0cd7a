"""Discovery: does a single run find working designs, and what has the sampler itself learned?

    python benchmarks/discovery.py [--task rpa] [--budget 20480] [--seeds 0 1 ... 9] [--jobs 2]
                                   [--variant NAME[:KEY=VALUE,...]] ... [--samples 1000]
                                   [--no-enumeration] [--out DIR]
    python benchmarks/discovery.py --quick     # 3 seeds at the demo's budget, a temporary folder

For one task and budget it runs variants side by side over N seeds (default 10), each one
``gfn-crn train`` with the task, the seed, ``max_evaluations`` and the variant's settings:

- ``default``: the default recipe (no other setting);
- ``off``: the same recipe with learning switched off (``lr = 0``, ``lr_logZ = 0``: the untrained
  policy, with the same reward, structure search and refinements);
- any ``--variant NAME:KEY=VALUE,...`` given (replaces the two above; ``--variant default`` and
  ``--variant off`` name them);

and, as the sceptic's reference, the enumeration of every design of at most 3 reactions
(``benchmarks/enumeration.py``, seed-independent; ``--no-enumeration`` skips it).

Per run: the first verified design (evaluations), distinct verified mechanisms, and what found
each mechanism's first design (the archive's provenance: policy sample, structure search,
archive refinement, final refinement). After each run, ``--samples`` fresh designs are drawn
from the trained policy (as ``gfn-crn sample`` does: each sampled structure with the rates its
short refinement finds, i.e. refined like a new structure of the topology reward) and the
share below the good threshold and the distinct verified mechanisms among them are reported:
what the GFlowNet has learned, apart from the search.

Runs go to ``DIR/runs`` (default: a temporary folder; results are written to the repository only
when ``--out`` names it). ``--out DIR`` writes ``discovery_<task>_<budget>.json`` with every row,
the per-variant figures and the commit, date, CPU and BLAS. ``--jobs`` runs that many seeds at a
time, each in its own process with one thread (2 cores: 1 or 2). A seeded run is reproducible on
one machine, not across CPUs.

The last line, for the first variant (the default recipe unless ``--variant`` says otherwise):
``seeds_with_verified=<a>/<n> first_verified_median_evals=<b> mechanisms_median=<c>
learned_over_off=<r> sampled_good_share=<s>`` (a seed without a verified design counts as the
budget in the median; ``learned_over_off`` is the first variant's median mechanisms over the
``off`` variant's, floored at 1, ``nan`` without an ``off`` variant).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _provenance import provenance  # noqa: E402
from gfn_crn.training.archive import SOURCES  # noqa: E402  (what found a design: policy, search, ...)
BUILTIN = {"default": {}, "off": {"lr": 0.0, "lr_logZ": 0.0}}


def parse_variant(text: str) -> tuple[str, dict]:
    """``NAME`` (a built-in) or ``NAME:KEY=VALUE,KEY=VALUE`` (values as TOML would read them)."""
    import tomllib

    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise SystemExit(f"--variant {text!r}: no name")
    if not rest:
        if name not in BUILTIN:
            raise SystemExit(f"--variant {name!r}: not a built-in ({', '.join(BUILTIN)}); give its settings as "
                             f"{name}:KEY=VALUE,...")
        return name, dict(BUILTIN[name])
    sets = {}
    for part in rest.split(","):
        k, eq, v = part.partition("=")
        if not eq:
            raise SystemExit(f"--variant {text!r}: {part!r} is not KEY=VALUE")
        try:
            sets[k.strip()] = tomllib.loads(f"v = {v.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            sets[k.strip()] = v.strip()
    return name, {**BUILTIN.get(name, {}), **sets}


def sampled_figures(run, n: int) -> dict:
    """``n`` fresh designs of the run's policy (structures with their refined rates), the share
    below the good threshold, and their verified designs and distinct mechanisms."""
    from gfn_crn.verify.report import summarise_designs

    if n <= 0:
        return {"n": 0}
    t0 = time.perf_counter()
    s = run.sample(n)
    thr = float(run.task.good_threshold)
    ok = s.valid & np.isfinite(s.loss)
    good = ok & (s.loss < thr)
    best: dict = {}
    for net, loss, g in zip(s.networks, s.loss, good):   # one design per structure (its refined rates)
        if g and loss < best.get(net.topology, (math.inf, None))[0]:
            best[net.topology] = (float(loss), net)
    nets = [v[1] for v in best.values()]
    ms = summarise_designs(run.task, nets, [v[0] for v in best.values()])
    return {"n": len(s), "good_share": float(good.mean()), "median_loss": float(np.median(s.loss[ok])) if ok.any()
            else None, "distinct_good": len(best), "verified_designs": ms.n_verified,
            "distinct_verified_mechanisms": ms.n_mechanisms, "seconds": round(time.perf_counter() - t0, 1)}


def one_run(task: str, variant: str, settings: dict, seed: int, budget: int, out: str, samples: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run

    cfg = resolve_config(None, overrides={"task": task, "seed": seed, "max_evaluations": budget, "final_samples": 0,
                                          "plot_top": 0, "export_top": 0, **settings})
    t0 = time.perf_counter()
    run = Run.create(cfg, out, overwrite=True)
    try:
        run.train(progress=False)
        s = run.finish(final_samples=0, plots=False, quiet=True)
        wall = time.perf_counter() - t0
        sampled = sampled_figures(run, samples)
    finally:
        run.close()
    mech = json.loads((Path(out) / "mechanisms.json").read_text())
    return {"variant": variant, "seed": seed, "evaluations": s["evaluations"], "wall_seconds": round(wall, 1),
            "best_loss": s["best_loss"], "distinct_good": s["distinct_good"],
            "first_verified_evaluation": s["first_verified_evaluation"],
            "verified_designs": s["verified_designs"],
            "distinct_verified_mechanisms": s["distinct_verified_mechanisms"],
            "mechanism_sources": s["mechanism_sources"],
            "best_verified_loss": min((m["best_loss"] for m in mech["mechanisms"]), default=None),
            "verify_seconds": s["verify_seconds"], "sampled": sampled, "run_dir": str(out)}


def figures(rows: list[dict], budget: int) -> dict:
    firsts = [r["first_verified_evaluation"] for r in rows]
    mechs = [r["distinct_verified_mechanisms"] for r in rows]
    shares = [r["sampled"].get("good_share") for r in rows if r["sampled"].get("n")]
    smech = [r["sampled"].get("distinct_verified_mechanisms") for r in rows if r["sampled"].get("n")]
    bv = [r["best_verified_loss"] for r in rows if r["best_verified_loss"] is not None]
    src = {s: int(sum(r["mechanism_sources"][s] for r in rows)) for s in SOURCES}
    return {"seeds": len(rows), "seeds_with_verified": sum(1 for m in mechs if m > 0),
            "first_verified_median_evals": int(np.median([budget if f is None else f for f in firsts])),
            "mechanisms_median": float(np.median(mechs)), "mechanisms_min": int(min(mechs)),
            "mechanisms_per_seed": mechs, "mechanism_sources": src,
            "best_verified_loss_median": float(np.median(bv)) if bv else None,
            "sampled_good_share_median": float(np.median(shares)) if shares else None,
            "sampled_mechanisms_median": float(np.median(smech)) if smech else None,
            "wall_seconds_median": float(np.median([r["wall_seconds"] for r in rows]))}


def enumeration_reference(task: str, out: Path) -> dict | None:
    """benchmarks/enumeration.py at 3 reactions, its first verified design and mechanisms."""
    import enumeration

    enumeration.main(["--task", task, "--max-reactions", "3", "--out", str(out)])
    d = json.loads(next(out.glob("enumeration_*_k3.json")).read_text())
    return {k: d.get(k) for k in ("first_verified_evaluation", "distinct_verified_mechanisms", "evaluations",
                                  "seconds")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="rpa")
    ap.add_argument("--budget", type=int, default=20480, help="candidate evaluations per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--variant", action="append", default=None, metavar="NAME[:KEY=VALUE,...]",
                    help="a variant to run (repeatable; default: default and off)")
    ap.add_argument("--samples", type=int, default=1000, help="fresh policy samples after each run (0: none)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one process each, one thread)")
    ap.add_argument("--no-enumeration", action="store_true", help="skip the enumeration reference")
    ap.add_argument("--out", default=None, help="folder for discovery_<task>_<budget>.json (and the runs)")
    ap.add_argument("--quick", action="store_true", help="3 seeds at 20,480 evaluations, 200 samples, "
                                                          "no enumeration, a temporary folder")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.budget, args.samples, args.no_enumeration = [0, 1, 2], 20480, 200, True
    if args.jobs < 1:
        raise SystemExit("--jobs must be >= 1")
    variants = [parse_variant(v) for v in (args.variant or ["default", "off"])]
    names = [n for n, _ in variants]
    if len(set(names)) != len(names):
        raise SystemExit(f"--variant: a name is given twice ({names})")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="discovery_"))
    runs = out / "runs" if args.out else out
    runs.mkdir(parents=True, exist_ok=True)
    jobs = [(args.task, n, s, seed, args.budget, str(runs / f"{n}_seed{seed}"), args.samples)
            for n, s in variants for seed in args.seeds]
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as ex:
        for r in ex.map(one_run, *zip(*jobs)):
            rows.append(r)
            sm = r["sampled"]
            print(f"{r['variant']} seed {r['seed']}: first verified {r['first_verified_evaluation'] or '-'}; "
                  f"{r['distinct_verified_mechanisms']} mechanisms ({r['verified_designs']} verified of "
                  f"{r['distinct_good']} good; found by {r['mechanism_sources']}); best {r['best_loss']:.4g}; "
                  f"samples: {sm.get('good_share', float('nan')):.3f} good, "
                  f"{sm.get('distinct_verified_mechanisms', '-')} mechanisms; {r['wall_seconds']:.0f} s", flush=True)
    per = {n: figures([r for r in rows if r["variant"] == n], args.budget) for n in names}
    enum = None if args.no_enumeration else enumeration_reference(args.task, out / "enumeration")
    first = per[names[0]]
    off = per.get("off")
    ratio = (first["mechanisms_median"] / max(1.0, off["mechanisms_median"])) if off and names[0] != "off" else math.nan
    result = {"task": args.task, "budget": args.budget, "seeds": args.seeds, "samples": args.samples,
              "variants": {n: s for n, s in variants}, "figures": per, "learned_over_off": ratio,
              "enumeration": enum, "runs": rows, "seconds": round(time.perf_counter() - t0, 1),
              "provenance": provenance()}
    for n in names:
        f = per[n]
        print(f"{n}: {f['seeds_with_verified']}/{f['seeds']} seeds with a verified design; first verified "
              f"(median) {f['first_verified_median_evals']:,}; mechanisms per seed {f['mechanisms_per_seed']} "
              f"(median {f['mechanisms_median']:g}); found by {f['mechanism_sources']}; sampled good share "
              f"(median) {f['sampled_good_share_median']}")
    if enum:
        print(f"enumeration (<= 3 reactions): first verified at {enum['first_verified_evaluation']}, "
              f"{enum['distinct_verified_mechanisms']} mechanisms")
    if args.out:
        path = out / f"discovery_{Path(args.task).stem}_{args.budget}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"written: {path}")
    share = first["sampled_good_share_median"]
    print(f"seeds_with_verified={first['seeds_with_verified']}/{first['seeds']} "
          f"first_verified_median_evals={first['first_verified_median_evals']} "
          f"mechanisms_median={first['mechanisms_median']:g} learned_over_off={ratio:.3g} "
          f"sampled_good_share={'nan' if share is None else f'{share:.4f}'}")


if __name__ == "__main__":
    main()
