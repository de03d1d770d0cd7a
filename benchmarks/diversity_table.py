"""The markdown table of one or more ``benchmarks/diversity.py`` result files.

    python benchmarks/diversity_table.py benchmarks/results/diversity_rpa_topo.json \
        benchmarks/results/diversity_rpa_topo_ls.json [--plot main.png]

One row per method (files may hold different methods; a method found in two files is an error,
so nothing is averaged over different settings). Per-seed counts are printed seed0 / seed1 / ...
The last line is ``distinct_good_ratio_gfn_vs_reinforce=<ratio>``: the best GFlowNet variant's
mean count of distinct topologies below the threshold over the best REINFORCE variant's (floored
at 1), as ``diversity.py`` prints it for a single file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))


def load_runs(paths) -> tuple[dict, float, int]:
    by_method: dict[str, list] = {}
    origin: dict[str, str] = {}
    thr = budget = None
    for p in paths:
        d = json.loads(open(p).read())
        if thr is not None and (d["threshold"] != thr or d["budget"] != budget):
            raise SystemExit(f"{p}: threshold/budget {d['threshold']}/{d['budget']} differ from {thr}/{budget}")
        thr, budget = d["threshold"], d["budget"]
        for r in d["runs"]:
            m = r["method"]
            if m in origin and origin[m] != p:
                raise SystemExit(f"method {m} is in both {origin[m]} and {p}")
            origin[m] = p
            by_method.setdefault(m, []).append(r)
    return by_method, thr, budget


def _spread(run: dict, thr: float):
    """The run's distinct_good_spread. Files written before it existed have none; it is computed
    from the designs the file lists when they include every good topology (exact), else '?'."""
    if "distinct_good_spread" in run:
        return run["distinct_good_spread"]
    if run["distinct_good"] <= 1:
        return run["distinct_good"]
    listed = [d for d in run.get("top_designs", []) if d["loss"] < thr]
    if len(listed) < run["distinct_good"]:
        return "?"
    from gfn_crn.crn import parse_network
    from gfn_crn.rewards.evaluations import spread_count

    ranked = [parse_network(d["network"]).topology for d in sorted(listed, key=lambda d: d["loss"])]
    return spread_count(ranked)


def _verified(run: dict, task):
    """(verified designs, distinct verified mechanisms) of a run: from the file, else re-scored
    from the good designs it lists (``?`` when it does not list them all)."""
    if run.get("distinct_verified_mechanisms") is not None:
        return run["verified_designs"], run["distinct_verified_mechanisms"]
    if task is None:
        return "?", "?"
    from rescore_verified import verified_figures

    f = verified_figures(task, run)
    run["verified_designs"], run["distinct_verified_mechanisms"] = f["verified_designs"], f["distinct_verified_mechanisms"]
    return ("?" if f["verified_designs"] is None else f["verified_designs"],
            "?" if f["distinct_verified_mechanisms"] is None else f["distinct_verified_mechanisms"])


def table(by_method: dict, thr: float, task=None) -> str:
    head = (f"| method | best loss, mean (min) | distinct < {thr:g} | verified designs | "
            f"**distinct verified mechanisms** | distinct < {2 * thr:g} | first < {thr:g} "
            f"(evaluations) | search phase: best loss, mean | search phase: repeated topologies | "
            f"mean Hamming, top 50 | distinct < {thr:g}, pairwise Hamming >= 4 | s per run |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m, runs in by_method.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        best = [r["best_loss"] for r in runs]
        first = [r["first_good_evaluation"] for r in runs]
        lines.append(
            f"| {m} | {np.mean(best):.4f} ({np.min(best):.4f}) | "
            f"{' / '.join(str(r['distinct_good']) for r in runs)} | "
            f"{' / '.join(str(_verified(r, task)[0]) for r in runs)} | "
            f"{' / '.join(str(_verified(r, task)[1]) for r in runs)} | "
            f"{' / '.join(str(r['distinct_good_2x']) for r in runs)} | "
            f"{' / '.join('-' if f is None else f'{f:,}' for f in first)} | "
            f"{np.mean([r['search_phase']['best_loss'] for r in runs]):.4f} | "
            f"{np.mean([r['search_phase']['repeat_share'] for r in runs]):.1%} | "
            f"{np.nanmean([r['mean_hamming_top'] for r in runs]):.2f} | "
            f"{' / '.join(str(_spread(r, thr)) for r in runs)} | "
            f"{np.mean([r['wall_seconds'] for r in runs]):.0f} |")
    return "\n".join(lines)


def ratio(by_method: dict, key: str = "distinct_good") -> float:
    """Best GFlowNet method's mean ``key`` over the best REINFORCE method's (floored at 1)."""
    mean = {m: float(np.mean([r[key] if isinstance(r.get(key), (int, float)) else 0 for r in runs]))
            for m, runs in by_method.items()}
    gfn = max((v for m, v in mean.items() if m.startswith("gfn")), default=float("nan"))
    reinf = [v for m, v in mean.items() if m.startswith("reinforce")]
    return gfn / max(max(reinf), 1.0) if reinf else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--plot", default=None, help="also draw every run's curves (from the files' downsampled ones) here")
    ap.add_argument("--task", default="rpa", help="the task (plot titles; verification of the listed designs)")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip re-scoring files written before verification existed ('?' columns)")
    args = ap.parse_args(argv)
    by_method, thr, budget = load_runs(args.files)
    if args.plot:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from diversity import _plot

        curves = {(m, r["seed"]): (np.asarray(r["curve_evaluations"]), np.asarray(r["curve_distinct_good"]),
                                   np.asarray(r["curve_best_loss"]))
                  for m, runs in by_method.items() for r in runs}
        _plot(curves, thr, args.plot, args.task)
        print(f"plot: {args.plot}")
    print(f"budget {budget:,} evaluations per run, threshold {thr:g}\n")
    from gfn_crn.tasks import load_task

    task = load_task(args.task) if not args.no_verify else None
    print(table(by_method, thr, task))
    if task is not None:
        print(f"\nverified_mechanism_ratio_gfn_vs_reinforce={ratio(by_method, 'distinct_verified_mechanisms'):.2f}")
    print(f"\ndistinct_good_ratio_gfn_vs_reinforce={ratio(by_method):.2f}")


if __name__ == "__main__":
    main()
