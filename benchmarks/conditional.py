"""Conditional generation: one family run against from-scratch runs at held-out conditions (issue 24).

1. Train one conditional GFlowNet on a task family (default `rpa-gain`, the default recipe at
   `--budget` evaluations). The held-out conditions (default g in {0.7, 1.3, 1.8}) are never
   drawn in training: the family's training draws come from its `train` values (rpa-gain:
   g in {0.5, 0.75, ..., 2.0}, 0.25 apart), and the script refuses a held-out condition that is
   one of them; the nearest training value is 0.05 away from each default held-out g.
2. For each held-out condition, sample `--samples` designs from the trained policy under that
   condition, each structure refined like a new structure of the topology reward (one evaluation
   at the prior's mode, 3 rounds of 8 more when promising: the run's own settings, a fresh cache),
   and verify the distinct designs below the good threshold (the full checks of `gfn-crn verify`),
   grouped into mechanisms. The evaluations the conditional sampler needed: those spent until
   the batch (of 50 samples) that holds its first verified design.
3. Against it, a from-scratch default run at that condition (the family's member task, a plain
   rpa-like task at that g) with the same budget: the evaluation at which its first verified
   design was found (its good archived designs verified in the order they were found).

Outputs: `heldout_verified` (held-out conditions with a verified design among the samples) of
`heldout_total`; `eval_ratio`, the mean over held-out conditions where both found one of
(conditional evaluations to the first verified design) / (from-scratch evaluations to the first
verified design); and the family run's cost against the from-scratch runs' (wall seconds of
training at the same budget, `cost_ratio`).

    python benchmarks/conditional.py --quick                      # small, in a temporary folder
    python benchmarks/conditional.py --out benchmarks/results     # the full study (one process, one thread)

Last line: `heldout_verified=<a>/<n> eval_ratio=<r>`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _provenance import provenance  # noqa: E402


def member_toml(family_name: str, condition: dict) -> str:
    """The task file of one member: the family's file with ``[condition]`` removed and every
    ``{name}`` replaced by the condition's value (a plain single-target task)."""
    from gfn_crn.tasks.presets import PRESETS

    if family_name in PRESETS:
        text = PRESETS[family_name]
    else:
        text = Path(family_name).read_text()
    out, skip = [], False
    for line in text.splitlines():
        if line.strip().startswith("["):
            skip = line.strip() == "[condition]"
            if skip:
                continue
        if skip:
            continue
        out.append(line)
    text = "\n".join(out) + "\n"
    for k, v in condition.items():
        text = text.replace("{" + k + "}", repr(v) if isinstance(v, float) else str(v))
    label = ",".join(f"{k}={v}" for k, v in condition.items())
    text = re.sub(r'^name = "([^"]*)"', lambda m: f'name = "{m.group(1)}-{label}"', text, count=1, flags=re.M)
    return text


def first_verified_evaluation(run) -> tuple[int | None, int]:
    """(evaluation at which the run's first verified design was found, designs verified): the good
    archived designs in the order they were found (iteration, then loss), verified in chunks of
    16 until one passes."""
    from gfn_crn.verify.checks import verify_batch

    evals_at = {m["iteration"]: m["evaluations"] for m in run.metrics()}
    good = sorted(run.archive.good_entries(), key=lambda e: (e.iteration, e.loss))
    checked = 0
    for i in range(0, len(good), 16):
        chunk = good[i:i + 16]
        vs = verify_batch(run.task, [e.network for e in chunk], losses=[e.loss for e in chunk])
        checked += len(chunk)
        for e, v in zip(chunk, vs):
            if v.verified:
                return evals_at.get(e.iteration, run.evaluations), checked
    return None, checked


def sample_heldout(run, condition: dict, n: int, seed: int, batch: int = 50, refine_budget: int = 0) -> dict:
    """``n`` samples of the family run's policy under ``condition``, refined like new structures
    of the topology reward (a fresh cache, the run's settings), the good ones verified. With
    ``refine_budget``, then a successive-halving refinement (the run's final refinement,
    :func:`~gfn_crn.rewards.refine.refine_archive`) of the 128 best distinct sampled structures
    with that many evaluations, and its good designs verified too (reported apart)."""
    import numpy as np
    import torch

    from gfn_crn.rewards.structure import structure_key
    from gfn_crn.rewards.topology import TopologyReward
    from gfn_crn.verify.report import summarise_designs

    t0 = time.perf_counter()
    cfg = run.config
    member = run.task.member(condition)
    topo = TopologyReward(member, rounds=cfg.topology.rounds, popsize=cfg.topology.popsize,
                          sigma0=cfg.topology.sigma, seed=cfg.train.seed,
                          promote_below=cfg.topology.promote_below, promote_rounds=cfg.topology.promote_rounds,
                          promote_cap=cfg.topology.promote_cap)
    env, sampler = run.env, run.trainer.sampler
    thr = float(member.good_threshold)
    torch.manual_seed(seed)
    seen: dict = {}   # structure -> (loss, network, evaluations after its batch)
    losses_all = []
    done = 0
    while done < n:
        b = min(batch, n - done)
        with torch.no_grad():
            traj = sampler.sample_trajectories(env, n=b, conditions=env.condition_tensor(condition, b))
        nets = env.states_to_networks(traj.terminating_states)
        loss, ok = topo.structure_losses(nets)
        refined = topo.refined(nets)
        for net, l, v in zip(refined, loss, ok):
            losses_all.append(float(l) if v else math.inf)
            k = structure_key(net)
            if v and k not in seen:
                seen[k] = (float(l), net, topo.evaluations)
        done += b
    good = [(l, net, ev) for l, net, ev in seen.values() if l < thr]
    ms = summarise_designs(member, [g[1] for g in good], [g[0] for g in good])
    first = None
    for (l, net, ev), v in zip(good, ms.verifications):
        if v.verified and (first is None or ev < first):
            first = ev
    la = np.asarray(losses_all)
    refined = None
    if refine_budget > 0 and seen:
        from gfn_crn.rewards.refine import refine_archive

        t1 = time.perf_counter()
        r = refine_archive(member, {k: (l, net) for k, (l, net, _) in seen.items()}, refine_budget, seed=seed)
        best = {}
        for net, l in zip(r.networks, r.losses):
            k = structure_key(net)
            if np.isfinite(l) and (k not in best or l < best[k][0]):
                best[k] = (float(l), net)
        good2 = [(l, net) for l, net in best.values() if l < thr]
        ms2 = summarise_designs(member, [g[1] for g in good2], [g[0] for g in good2])
        refined = {"budget": refine_budget, "evaluations": r.evaluations, "distinct_good": len(good2),
                   "verified_designs": ms2.n_verified, "distinct_verified_mechanisms": ms2.n_mechanisms,
                   "best_loss": float(min(r.losses)) if len(r.losses) else None,
                   "evaluations_with_sampling": topo.evaluations + r.evaluations,
                   "seconds": round(time.perf_counter() - t1, 1)}
    return {"samples": n, "evaluations": topo.evaluations, "distinct_structures": len(seen),
            "good_share": float(np.mean(la < thr)), "distinct_good": len(good),
            "verified_designs": ms.n_verified, "distinct_verified_mechanisms": ms.n_mechanisms,
            "first_verified_evaluation": first, "refined": refined,
            "best_loss": float(la[np.isfinite(la)].min()) if np.isfinite(la).any() else None,
            "seconds": round(time.perf_counter() - t0, 1)}


def scratch_run(family_name: str, condition: dict, budget: int, seed: int, folder: Path) -> dict:
    """A from-scratch default run on the member task of ``condition``."""
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run

    label = "_".join(f"{k}{v}" for k, v in condition.items())
    path = folder / f"member_{label}.toml"
    path.write_text(member_toml(family_name, condition))
    cfg = resolve_config(None, overrides={"task": str(path), "max_evaluations": budget, "seed": seed, "threads": 1})
    run = Run.create(cfg, folder / f"scratch_{label}")
    t0 = time.perf_counter()
    run.train(progress=False)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    first, checked = first_verified_evaluation(run)
    out = {"evaluations": run.evaluations, "train_seconds": round(seconds, 1), "best_loss": run.archive.best_loss,
           "distinct_good": run.archive.n_good, "first_verified_evaluation": first, "designs_verified": checked,
           "verify_seconds": round(time.perf_counter() - t1, 1)}
    run.close()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="rpa-gain", help="a family task (preset name or .toml with [condition])")
    ap.add_argument("--heldout", nargs="+", default=["g=0.7", "g=1.3", "g=1.8"],
                    help="held-out conditions (never training values of the family)")
    ap.add_argument("--budget", type=int, default=102400, help="evaluations of the family run and of each "
                    "from-scratch run")
    ap.add_argument("--samples", type=int, default=1000, help="samples per held-out condition")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heldout-refine", type=int, default=4096, metavar="N",
                    help="then refine the best sampled structures of each held-out condition with N evaluations "
                         "(successive halving, as the final refinement; reported apart; 0: skip)")
    ap.add_argument("--family-set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="settings of the family run on top of the default recipe (which now includes the final "
                         "policy updates, final_update_ratio; the committed study ran with final_updates=2000, "
                         "their fixed-count predecessor)")
    ap.add_argument("--no-scratch", action="store_true", help="skip the from-scratch runs")
    ap.add_argument("--family-run", default=None, metavar="DIR",
                    help="re-use a trained family run (a run directory) instead of training one: the held-out "
                         "sampling only (with --no-scratch: e.g. other --heldout-refine budgets)")
    ap.add_argument("--tag", default="", help="suffix of the JSON's name: conditional_<family><tag>.json")
    ap.add_argument("--out", default=None, help="folder for conditional_<family>.json (and the runs under runs/)")
    ap.add_argument("--quick", action="store_true", help="4,096 evaluations per run, 100 samples, temporary folder")
    args = ap.parse_args(argv)
    if args.quick:
        args.budget, args.samples, args.heldout_refine = 4096, 100, min(args.heldout_refine, 512)
    import torch

    torch.set_num_threads(1)
    from gfn_crn.tasks import load_task
    from gfn_crn.training.config import resolve_config
    from gfn_crn.training.run import Run

    family = load_task(args.family)
    space = getattr(family, "conditions", None)
    if space is None:
        raise SystemExit(f"--family {args.family}: not a family of tasks (no [condition] table)")
    heldout = [space.parse(h) for h in args.heldout]
    training = space.training_conditions() if space.finite else None
    gaps = []
    for h in heldout:
        if training is not None and h in training:
            raise SystemExit(f"held-out condition {space.describe(h)} is a training value of {args.family}")
        cont = [v for v in space.variables if v.continuous]
        if training is not None and cont:
            gaps.append(min(max(abs(float(h[v.name]) - float(t[v.name])) for v in cont) for t in training))
    if training is None:
        raise SystemExit(f"--family {args.family}: training draws from the whole range; give its continuous "
                         "variables train values that exclude the held-out conditions")
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="conditional_"))
    runs = base / "runs" if args.out else base
    runs.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()

    extra = {}
    for kv in args.family_set:
        if "=" not in kv:
            raise SystemExit(f"--family-set: KEY=VALUE expected, got {kv!r}")
        k, v = kv.split("=", 1)
        extra[k.strip()] = v.strip()
    from gfn_crn.training.config import coerce_setting

    extra = {k: coerce_setting(k, v, "--family-set") for k, v in extra.items()}
    cfg = resolve_config(None, overrides={"task": args.family, "max_evaluations": args.budget, "seed": args.seed,
                                          "threads": 1, **extra})
    if args.family_run:
        run = Run.load(args.family_run)
        if Path(run.config.task).stem != Path(args.family).stem:
            raise SystemExit(f"--family-run {args.family_run} trained {run.config.task}, not {args.family}")
        cfg = run.config
        fam_seconds = float(run.elapsed)
    else:
        run = Run.create(cfg, runs / "family", overwrite=True)
        t0 = time.perf_counter()
        run.train(progress=False)
        fam_seconds = time.perf_counter() - t0
    per_training = []
    for c in training:
        ents = run.archive.top(condition=c)
        per_training.append({"condition": space.describe(c), "best_loss": ents[0].loss if ents else None,
                             "distinct_good": sum(1 for e in ents if e.loss < family.good_threshold)})
    fam = {"settings": extra, "reused": args.family_run, "evaluations": run.evaluations, "train_seconds": round(fam_seconds, 1),
           "final_refine_evaluations": run.final_refine_evaluations, "training_conditions": per_training}
    print(f"family run {args.family}: {run.evaluations} evaluations in {fam_seconds:.0f} s; per training condition "
          + "; ".join(f"{r['condition']}: best {r['best_loss'] if r['best_loss'] is None else round(r['best_loss'], 4)}"
                      f" ({r['distinct_good']} good)" for r in per_training), flush=True)

    rows = []
    for i, h in enumerate(heldout):
        s = sample_heldout(run, h, args.samples, seed=args.seed * 1000 + i, refine_budget=args.heldout_refine)
        row = {"condition": space.describe(h), "nearest_training_gap": gaps[i] if gaps else None, "conditional": s}
        print(f"held-out {space.describe(h)}: {s['samples']} samples, {s['evaluations']} evaluations, "
              f"{s['distinct_good']} good structures, {s['verified_designs']} verified, "
              f"{s['distinct_verified_mechanisms']} mechanisms, first verified at {s['first_verified_evaluation']}, "
              f"best {s['best_loss']:.4g}; {s['seconds']:.0f} s", flush=True)
        rf = s["refined"]
        if rf:
            print(f"  then refined ({rf['evaluations']} evaluations, {rf['evaluations_with_sampling']} with the "
                  f"sampling): best {rf['best_loss']:.4g}, {rf['distinct_good']} good, {rf['verified_designs']} "
                  f"verified, {rf['distinct_verified_mechanisms']} mechanisms", flush=True)
        rows.append(row)
    run.close()
    for i, (h, row) in enumerate(zip(heldout, rows)):
        if args.no_scratch:
            row["scratch"] = None
            continue
        sc = scratch_run(args.family, h, args.budget, args.seed, runs)
        row["scratch"] = sc
        print(f"from scratch {space.describe(h)}: {sc['evaluations']} evaluations in {sc['train_seconds']:.0f} s, "
              f"best {sc['best_loss']:.4g}, first verified at {sc['first_verified_evaluation']}", flush=True)
    ratios = []
    for row in rows:
        c, sc = row["conditional"]["first_verified_evaluation"], row["scratch"]
        if c is not None and sc is not None and sc["first_verified_evaluation"]:
            row["eval_ratio"] = c / sc["first_verified_evaluation"]
            ratios.append(row["eval_ratio"])
        else:
            row["eval_ratio"] = None
    scratch_secs = [r["scratch"]["train_seconds"] for r in rows if r["scratch"]]
    scratch_rate = [r["scratch"]["train_seconds"] / r["scratch"]["evaluations"] for r in rows if r["scratch"]]
    result = {
        "family": args.family, "budget": args.budget, "samples": args.samples, "seed": args.seed,
        "heldout": [space.describe(h) for h in heldout], "heldout_refine": args.heldout_refine,
        "training_conditions": [space.describe(c) for c in training],
        "heldout_verified": int(sum(1 for r in rows if r["conditional"]["verified_designs"] > 0)),
        "heldout_verified_after_refine": int(sum(1 for r in rows if (r["conditional"]["refined"] or {}).get(
            "verified_designs", 0) > 0)),
        "heldout_total": len(rows),
        "eval_ratio": float(sum(ratios) / len(ratios)) if ratios else None,
        "eval_ratio_over": len(ratios),
        "family_run": fam,
        # training seconds per evaluation, family run over the mean from-scratch run (same budget;
        # each run overshoots it by its last iteration's evaluations, so per evaluation)
        "cost_ratio": round((fam_seconds / run.evaluations) / (sum(scratch_rate) / len(scratch_rate)), 3)
        if scratch_rate else None,
        "cost_ratio_wall": round(fam_seconds / (sum(scratch_secs) / len(scratch_secs)), 3) if scratch_secs else None,
        "rows": rows,
        "seconds": round(time.perf_counter() - t_all, 1),
        "command": "python benchmarks/conditional.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "provenance": provenance(),
    }
    print(f"family run cost {fam_seconds:.0f} s against a from-scratch run's "
          f"{(sum(scratch_secs) / len(scratch_secs)) if scratch_secs else float('nan'):.0f} s "
          f"(per evaluation: cost_ratio {result['cost_ratio']}); held-out conditions verified after the extra "
          f"refinement: {result['heldout_verified_after_refine']}/{len(rows)}; {result['seconds']:.0f} s in all")
    if args.out:
        path = Path(args.out) / f"conditional_{Path(args.family).stem}{args.tag}.json"
        path.write_text(json.dumps(result, indent=1, default=float) + "\n")
        print(f"written: {path}")
    r = result["eval_ratio"]
    print(f"heldout_verified={result['heldout_verified']}/{result['heldout_total']} "
          f"eval_ratio={'nan' if r is None else f'{r:.4g}'}")
    return result


if __name__ == "__main__":
    main()
