"""Re-score stored diversity results in verified designs and distinct verified mechanisms.

    python benchmarks/rescore_verified.py benchmarks/results/diversity_rpa_topo_ls.json \
        benchmarks/results/diversity_rpa_topo_ls_reinforce.json [--refine-evals 16] [--out DIR]

Every good design a ``diversity.py`` file lists (the designs are stored; no re-run) is verified
(``gfn_crn.verify``: bounded and settled over 10 x t_f, off-grid inputs, disturbance step) and
reduced to its minimal core, rates kept; with ``--refine-evals N`` the cores are also computed
with a short re-refinement of the remaining rates at each removal (N evaluations per candidate
removal), and both counts are reported. Mechanisms are also pooled over every run of every file:
``union`` is the number of distinct verified mechanisms any run found, and each run's share of it.

Writes ``rescore_<task>.json`` to ``--out`` (default: a temporary folder) with the commit, date,
CPU and BLAS. The last line is ``verified_mechanism_ratio_gfn_vs_reinforce=<ratio>`` (the best
GFlowNet method's mean count of distinct verified mechanisms over the best REINFORCE method's,
floored at 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance  # noqa: E402  (shared: CPU, BLAS, commit)


def listed_good(run: dict, thr: float):
    """The run's good designs as stored (None when the file lists fewer than it counted)."""
    rows = run.get("good_designs") or run.get("top_designs") or []
    good = [r for r in rows if r["loss"] < thr]
    if len(good) < run.get("distinct_good", 0):
        return None
    return sorted(good, key=lambda r: r["loss"])


def verified_figures(task, run: dict, refine_evals: int = 0) -> dict:
    """``verified_designs``, ``distinct_verified_mechanisms`` and the mechanism keys of a stored
    run (``None`` figures when the file does not list every good design)."""
    from gfn_crn.crn import parse_network
    from gfn_crn.verify.report import summarise_designs

    thr = float(task.good_threshold)
    good = listed_good(run, thr)
    if good is None:
        return {"verified_designs": None, "distinct_verified_mechanisms": None, "keys": [], "failed": {}}
    nets = [task.adopt(parse_network(r["network"])) for r in good]
    ms = summarise_designs(task, nets, [r["loss"] for r in good], refine_evals=refine_evals)
    failed: dict[str, int] = {}
    for v in ms.verifications:
        for f in v.failed:
            failed[f] = failed.get(f, 0) + 1
    return {"verified_designs": ms.n_verified, "distinct_verified_mechanisms": ms.n_mechanisms,
            "keys": [m.key for m in ms.mechanisms], "failed": failed, "seconds": ms.seconds,
            "mechanisms": [{"core": m.to_dict()["core"], "best_loss": m.best_loss, "n_designs": m.n_designs}
                           for m in ms.mechanisms]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--refine-evals", type=int, default=0,
                    help="also count cores found with this many re-refinement evaluations per candidate removal")
    ap.add_argument("--out", default=None, help="folder for rescore_<task>.json (default: a temporary folder)")
    args = ap.parse_args(argv)
    from gfn_crn.tasks import load_task

    rows, union, union_refined = [], set(), set()
    task = None
    for p in args.files:
        d = json.loads(Path(p).read_text())
        if task is None:
            task = load_task(d["task"])
        elif d["task"] != task.name:
            raise SystemExit(f"{p}: task {d['task']} differs from {task.name}")
        for r in d["runs"]:
            f = verified_figures(task, r)
            row = {"file": str(p), "method": r["method"], "seed": r["seed"], "distinct_good": r["distinct_good"],
                   "best_loss": r["best_loss"], **f}
            union |= set(f["keys"])
            if args.refine_evals > 0 and f["verified_designs"] is not None:
                g = verified_figures(task, r, args.refine_evals)
                row["distinct_verified_mechanisms_refined"] = g["distinct_verified_mechanisms"]
                row["keys_refined"] = g["keys"]
                union_refined |= set(g["keys"])
            rows.append(row)
            print(f"{r['method']:<20} seed {r['seed']}: good {r['distinct_good']:>3}  verified "
                  f"{f['verified_designs'] if f['verified_designs'] is not None else '?':>3}  mechanisms "
                  f"{f['distinct_verified_mechanisms'] if f['distinct_verified_mechanisms'] is not None else '?':>3}"
                  + (f"  (re-refined cores: {row['distinct_verified_mechanisms_refined']})"
                     if "distinct_verified_mechanisms_refined" in row else "")
                  + (f"  failed: {f['failed']}" if f["failed"] else ""), flush=True)
    for row in rows:
        row["share_of_union"] = len(set(row["keys"])) / len(union) if union else None
    print(f"\nunion of distinct verified mechanisms over every run: {len(union)}"
          + (f" (re-refined cores: {len(union_refined)})" if args.refine_evals > 0 else ""))
    by_method: dict[str, list] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    print("\n| method | good designs | verified designs | distinct verified mechanisms | share of the union |")
    print("|---|---:|---:|---:|---:|")

    def fmt(v):
        return "?" if v is None else str(v)

    def share(r):
        return "-" if r["share_of_union"] is None else f"{r['share_of_union']:.0%}"
    for m, rs in by_method.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        print(f"| {m} | {' / '.join(str(r['distinct_good']) for r in rs)} | "
              f"{' / '.join(fmt(r['verified_designs']) for r in rs)} | "
              f"{' / '.join(fmt(r['distinct_verified_mechanisms']) for r in rs)} | "
              f"{' / '.join(share(r) for r in rs)} |")
    mean = {m: np.mean([r["distinct_verified_mechanisms"] or 0 for r in rs]) for m, rs in by_method.items()}
    gfn = max((v for m, v in mean.items() if m.startswith("gfn")), default=float("nan"))
    reinf = [v for m, v in mean.items() if m.startswith("reinforce")]
    ratio = gfn / max(max(reinf), 1.0) if reinf else float("nan")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rescore_"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"rescore_{task.name}.json"
    path.write_text(json.dumps({"task": task.name, "files": args.files, "refine_evals": args.refine_evals,
                                "union": len(union), "union_refined": len(union_refined) if args.refine_evals else None,
                                "runs": rows, "provenance": provenance()}, indent=1) + "\n")
    print(f"\nwritten: {path}")
    print(f"verified_mechanism_ratio_gfn_vs_reinforce={ratio:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
