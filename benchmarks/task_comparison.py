"""Every preset task: the default recipe, REINFORCE and random search at an equal evaluation
budget, counted in distinct verified mechanisms.

    python benchmarks/task_comparison.py [--budget 10240] [--seeds 0 1 2] [--tasks rpa logic-4 ...] [--out DIR]

Per (task, method, seed):
- ``gfn``: ``gfn-crn train --task T --seed k --max-evaluations N`` (the default recipe, nothing else);
- ``reinforce``: the REINFORCE baseline in the peer's form on the per-sample reward
  (``--algorithm reinforce --per-sample-reward``, same budget, batch 64);
- ``random``: random designs (1-5 library reactions, rates log-uniform in [0.1, 50]), the same
  number of evaluations.
Every design below the task's good threshold is verified and reduced to its mechanism
(``gfn_crn.verify``). Prints a markdown table (per seed: best loss, verified designs, distinct
verified mechanisms) and writes ``task_comparison.json`` to ``--out`` (default: a temporary
folder) with the commit, date, CPU and BLAS.
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

from _provenance import provenance  # noqa: E402

TASKS = ("rpa", "logic-4", "logic-and3", "dose-response", "oscillator", "habituation", "classifier", "trace")


def run_one(task: str, method: str, seed: int, budget: int, out: Path) -> dict:
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run
    from gfn_crn.verify.report import summarise_designs

    t0 = time.perf_counter()
    quiet = dict(final_samples=0, plot_top=0, export_top=0, checkpoint_every=10 ** 6)
    if method in ("gfn", "reinforce"):
        over = {"task": task, "seed": seed, "max_evaluations": budget, **quiet}
        if method == "reinforce":
            over.update(algorithm="reinforce", topology_reward=False, structure_search_every=0,
                        structure_search_swap_every=0, refine_every=0,
                        refine_final_share=0.0, batch_size=64)
        run = Run.create(resolve_config(overrides=over), out / f"{task}_{method}_{seed}", overwrite=True)
        try:
            run.train(progress=False)
            s = run.finish(final_samples=0, plots=False, quiet=True)
        finally:
            run.close()
        row = {"best_loss": s["best_loss"], "good": s["distinct_good"], "verified": s["verified_designs"],
               "mechanisms": s["distinct_verified_mechanisms"], "evaluations": s["evaluations"]}
    else:
        from gfn_crn.crn import mass_action_library
        from gfn_crn.envs import CRNEnv
        from gfn_crn.tasks import load_task
        from gfn_crn.training.reinforce import random_candidates

        t = load_task(task)
        env = CRNEnv(mass_action_library(t.template.species), t.template, t, max_reactions=5, min_reactions=1)
        rng = np.random.default_rng(seed)
        best: dict = {}
        done = 0
        while done < budget:
            nets = random_candidates(env, min(256, budget - done), rng)
            res = t.evaluate(nets)
            for n, l, ok in zip(nets, res.loss, res.valid):
                if ok and (n.topology not in best or l < best[n.topology][0]):
                    best[n.topology] = (float(l), n)
            done += len(nets)
        good = [(l, n) for l, n in best.values() if l < t.good_threshold]
        ms = summarise_designs(t, [n for _, n in good], [l for l, _ in good])
        row = {"best_loss": min((l for l, _ in best.values()), default=None), "good": len(good),
               "verified": ms.n_verified, "mechanisms": ms.n_mechanisms, "evaluations": done}
    row.update(task=task, method=method, seed=seed, seconds=round(time.perf_counter() - t0, 1))
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=10240)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--methods", nargs="+", default=["gfn", "reinforce", "random"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="taskcmp_"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task in args.tasks:
        for method in args.methods:
            for seed in args.seeds:
                r = run_one(task, method, seed, args.budget, out / "runs")
                rows.append(r)
                print(json.dumps(r), flush=True)
    print(f"\n| task | method | best loss per seed | verified designs | **distinct verified mechanisms** |")
    print("|---|---|---|---|---|")
    for task in args.tasks:
        for method in args.methods:
            rs = sorted((r for r in rows if r["task"] == task and r["method"] == method), key=lambda r: r["seed"])
            fmt = lambda v: "-" if v is None else f"{v:.3g}"  # noqa: E731
            print(f"| {task} | {method} | {' / '.join(fmt(r['best_loss']) for r in rs)} | "
                  f"{' / '.join(str(r['verified']) for r in rs)} | {' / '.join(str(r['mechanisms']) for r in rs)} |")
    path = out / "task_comparison.json"
    path.write_text(json.dumps({"budget": args.budget, "seeds": args.seeds, "runs": rows,
                                "provenance": provenance()}, indent=1) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
