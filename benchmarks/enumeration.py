"""Exhaustive enumeration: the baseline a sceptical user tries first.

    python benchmarks/enumeration.py [--task rpa] [--max-reactions 3] [--rounds 0] [--out DIR]
    python benchmarks/enumeration.py --quick      # designs of at most 2 reactions, a temp folder

Every design of 1..K distinct reactions of the task's mass-action library (90 reactions for
``rpa``: 90 + 4,005 + 117,480 = 121,575 structures at K = 3) is scored the way the default
recipe's topology reward scores a new structure: one evaluation with every rate at the prior's
mode (k = 1), then ``--rounds`` rounds of 8 perturbations of the elitist evolution strategy
(``gfn_crn.rewards.refine.refine``; ``--rounds 1`` is the default recipe's 9 evaluations). The
structures are visited in the natural order (fewer reactions first, then library order). Every
design below the good threshold is verified and reduced to its mechanism (``gfn_crn.verify``);
the script reports evaluations to the first verified design, distinct verified mechanisms at the
end, and mechanisms per 10,000 evaluations. Designs of 4-5 reactions (2.6M and 44M structures on
rpa) are out of its reach.

Writes ``enumeration_<task>_k<K>.json`` to ``--out`` (default: a temporary folder) with the
commit, date, CPU and BLAS. Last line: ``enumeration_first_verified_evals=<n> mechanisms=<m>``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rescore_verified import provenance  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="rpa")
    ap.add_argument("--max-reactions", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=0, help="ES rounds of 8 after the evaluation at k = 1")
    ap.add_argument("--chunk", type=int, default=512, help="structures per simulator call")
    ap.add_argument("--limit", type=int, default=0, help="stop after this many structures (0: all)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true", help="at most 2 reactions")
    args = ap.parse_args(argv)
    if args.quick:
        args.max_reactions = 2
    import torch  # noqa: F401  (not used; keeps thread settings comparable with training runs)

    from gfn_crn.crn import mass_action_library
    from gfn_crn.crn.network import Network
    from gfn_crn.crn.reactions import ReactionInstance
    from gfn_crn.tasks import load_task
    from gfn_crn.rewards.refine import refine
    from gfn_crn.verify.report import summarise_designs

    task = load_task(args.task)
    lib = mass_action_library(task.template.species)
    fixed = {i.reaction.signature for i in task.template.fixed}
    reactions = [r for r in lib.reactions if r.signature not in fixed]
    k0 = math.exp(task.prior.mean) if task.prior is not None else 1.0
    thr = task.good_threshold
    n_total = sum(math.comb(len(reactions), k) for k in range(1, args.max_reactions + 1))
    print(f"{args.task}: {len(reactions)} library reactions, {n_total:,} structures of 1..{args.max_reactions}; "
          f"{1 + 8 * args.rounds} evaluations each", flush=True)

    def structures():
        for k in range(1, args.max_reactions + 1):
            yield from itertools.combinations(range(len(reactions)), k)

    t0 = time.perf_counter()
    evals, seen, first_good, good = 0, 0, None, []
    it = structures()
    while True:
        chunk = list(itertools.islice(it, args.chunk))
        if args.limit:
            chunk = chunk[:max(0, args.limit - seen)]
        if not chunk:
            break
        nets = [Network(task.template, tuple(ReactionInstance(reactions[j], (k0,)) for j in c)) for c in chunk]
        if args.rounds == 0:
            res = task.evaluate(nets)
            losses = np.where(res.valid, res.loss, np.inf)
            best = nets
            evals += len(nets)
        else:
            r = refine(task, nets, len(nets) * (1 + 8 * args.rounds), popsize=8, sigma0=0.5,
                       seed=list(range(seen, seen + len(nets))), max_rounds=args.rounds)
            losses, best = r.losses, r.networks
            evals += r.evaluations
        for i in np.flatnonzero(losses < thr):
            good.append((float(losses[i]), best[i], evals))
            if first_good is None:
                first_good = evals
        seen += len(chunk)
        if seen % (args.chunk * 20) == 0:
            print(f"  {seen:,} structures, {evals:,} evaluations, {len(good)} good, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
    secs = time.perf_counter() - t0
    ms = summarise_designs(task, [n for _, n, _ in good], [l for l, _, _ in good])
    first_verified = min((e for (l, n, e), v in zip(good, ms.verifications) if v.verified), default=None)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="enum_"))
    out.mkdir(parents=True, exist_ok=True)
    fig = {"task": args.task, "max_reactions": args.max_reactions, "rounds": args.rounds, "structures": seen,
           "evaluations": evals, "seconds": round(secs, 1), "good_designs": len(good),
           "first_good_evaluation": first_good, "verified_designs": ms.n_verified,
           "distinct_verified_mechanisms": ms.n_mechanisms, "first_verified_evaluation": first_verified,
           "mechanisms_per_10k_evaluations": ms.n_mechanisms / evals * 1e4 if evals else None,
           "mechanisms": [{"core": m.to_dict()["core"], "best_loss": m.best_loss, "n_designs": m.n_designs}
                          for m in ms.mechanisms], "provenance": provenance()}
    path = out / f"enumeration_{args.task}_k{args.max_reactions}.json"
    path.write_text(json.dumps(fig, indent=1) + "\n")
    print(f"{seen:,} structures, {evals:,} evaluations in {secs:.0f} s: {len(good)} good, {ms.n_verified} verified, "
          f"{ms.n_mechanisms} distinct verified mechanisms; first good at {first_good}, first verified at "
          f"{first_verified}\nwritten: {path}")
    print(f"enumeration_first_verified_evals={first_verified if first_verified is not None else 'none'} "
          f"mechanisms={ms.n_mechanisms}")


if __name__ == "__main__":
    main()
