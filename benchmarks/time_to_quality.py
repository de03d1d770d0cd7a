"""Time to quality of the default recipe: per seed, evaluations and seconds to the first verified
design below the task's good threshold, and distinct verified mechanisms at the budget.

    python benchmarks/time_to_quality.py [--task rpa] [--seeds 0 1 2 3 4] [--budget 102400] [--out DIR]
    python benchmarks/time_to_quality.py --quick          # 3 seeds, the demo's budget, a temp folder

Each seed is one ``gfn-crn train`` run with no settings but the task, the seed and
``max_evaluations`` (the defaults are the recipe), into ``DIR/seed<k>`` (default: a temporary
folder; never the repository). Figures come from each run's ``summary.json`` (they are written by
the run's own verification of its archive, ``gfn_crn.verify``), and the results JSON records the
commit, date, CPU and BLAS. A seeded run is reproducible on one machine, not across CPUs.

The last line is ``first_verified_median_evals=<n> mechanisms_median=<m>`` (a seed without a
verified design counts as the budget in the median; ``none`` if no seed had one).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rescore_verified import provenance  # noqa: E402


def one_seed(task: str, seed: int, budget: int, out: Path, preset: str | None) -> dict:
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run

    cfg = resolve_config(preset, overrides={"task": task, "seed": seed, "max_evaluations": budget,
                                            "final_samples": 0, "plot_top": 0, "export_top": 0})
    t0 = time.perf_counter()
    run = Run.create(cfg, out, overwrite=True)
    try:
        run.train(progress=False)
        s = run.finish(final_samples=0, plots=False, quiet=True)
    finally:
        run.close()
    return {"seed": seed, "evaluations": s["evaluations"], "wall_seconds": round(time.perf_counter() - t0, 1),
            "training_seconds": s["training_seconds"], "best_loss": s["best_loss"],
            "first_good_evaluation": s["first_good_evaluation"],
            "first_verified_evaluation": s["first_verified_evaluation"],
            "first_verified_seconds": s["first_verified_seconds"], "distinct_good": s["distinct_good"],
            "verified_designs": s["verified_designs"],
            "distinct_verified_mechanisms": s["distinct_verified_mechanisms"],
            "verify_seconds": s["verify_seconds"], "run_dir": str(out)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="rpa")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--budget", type=int, default=102400, help="candidate evaluations per run")
    ap.add_argument("--preset", default=None, help="a training preset (default: the defaults)")
    ap.add_argument("--out", default=None, help="folder for the runs and time_to_quality_<task>.json "
                                                 "(default: a temporary folder)")
    ap.add_argument("--quick", action="store_true", help="3 seeds at the demo's budget, in a temporary folder")
    args = ap.parse_args(argv)
    if args.quick:
        from gfn_crn.training.cli import DEMO_PRESET
        from gfn_crn.training.config import PRESETS

        args.seeds, args.budget = [0, 1, 2], int(PRESETS[DEMO_PRESET]["max_evaluations"])
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="ttq_"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        r = one_seed(args.task, seed, args.budget, out / f"seed{seed}", args.preset)
        rows.append(r)
        fv, fs = r["first_verified_evaluation"], r["first_verified_seconds"]
        when = "-" if fv is None else f"{fv:,} evaluations, {fs or 0:.0f} s"
        print(f"{args.task} seed {seed}: first verified design at {when}; "
              f"{r['distinct_verified_mechanisms']} distinct verified mechanisms "
              f"({r['verified_designs']} verified of {r['distinct_good']} good) at {r['evaluations']:,} evaluations; "
              f"best {r['best_loss']}; {r['wall_seconds']:.0f} s", flush=True)
    firsts = [r["first_verified_evaluation"] for r in rows]
    med_first = (None if all(f is None for f in firsts)
                 else int(np.median([args.budget if f is None else f for f in firsts])))
    med_mech = float(np.median([r["distinct_verified_mechanisms"] for r in rows]))
    path = out / f"time_to_quality_{Path(args.task).stem}.json"
    path.write_text(json.dumps({"task": args.task, "budget": args.budget, "preset": args.preset, "runs": rows,
                                "first_verified_median_evaluations": med_first,
                                "mechanisms_median": med_mech, "provenance": provenance()}, indent=1) + "\n")
    print(f"written: {path}")
    print(f"first_verified_median_evals={'none' if med_first is None else med_first} "
          f"mechanisms_median={med_mech:g}")


if __name__ == "__main__":
    main()
