"""GFlowNet vs REINFORCE vs random search at an equal number of candidate evaluations (issue 6).

For each method and seed, every candidate any method evaluates goes through the same task and
simulator (wrapped in :class:`~gfn_crn.rewards.evaluations.RecordingTask`), and the figures are
computed from that log identically: best loss, evaluations to the first design below the task's
good threshold, distinct topologies below the threshold and below twice it, the mean pairwise
Hamming distance of the 50 best distinct topologies, the share of repeated topologies, wall time.

    python benchmarks/diversity.py [--task rpa] [--budget 12800] [--seeds 0 1 2] [--quick]
        [--methods gfn-canonical gfn-free reinforce reinforce-replay random] [--refine-share 0.3]
        [--reward-alpha A] [--out benchmarks/results]

Writes ``<out>/diversity_<task>.json`` and ``<out>/diversity_<task>.png`` (distinct good designs
against evaluations). The last line is ``distinct_good_ratio_gfn_vs_reinforce=<ratio>`` (mean
over seeds of the best GFlowNet variant vs the best REINFORCE variant run; REINFORCE's count
floored at 1).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance  # noqa: E402

import numpy as np

from gfn_crn.crn import mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.tasks import load_task
from gfn_crn.training import train
from gfn_crn.training.config import plain_tb
from gfn_crn.rewards.evaluations import RecordingTask, distinct_good_curve
from gfn_crn.rewards.refine import refine_archive
from gfn_crn.training.reinforce import ReinforceConfig, random_candidates, random_search, train_reinforce
from gfn_crn.rewards.topology import TopologyReward
from gfn_crn.training.local_search import LocalSearch, StructureLocalSearch

METHODS = ("gfn-canonical", "gfn-free", "reinforce", "reinforce-replay", "random")
#: the main comparison (benchmarks/RESULTS.md): the default set of methods
MAIN_METHODS = ("gfn-free-topo-ls", "gfn-free-topo", "reinforce", "reinforce-replay", "reinforce-topo",
                "reinforce-topo-ls", "random-topo", "random-topo-ls")
#: TrainConfig defaults of the GFlowNet runs on the topology reward (--gfn overrides them): a new
#: structure costs 9 evaluations, so small batches and replayed updates use them better
TOPO_GFN_DEFAULTS = {"batch_size": 16, "replay_capacity": 2000, "prioritized_replay": True, "replay_updates": 3}
#: GFlowNet variants with local search (periodic rate refinement of the best new topologies,
#: replayed to trajectory balance; gfn_crn.training.local_search.LocalSearch), selectable by name
LS_METHODS = ("gfn-canonical-ls", "gfn-free-ls")
#: methods scored by the topology-level reward (gfn_crn.rewards.topology.TopologyReward: each new
#: topology's loss after a short rate refinement from the prior's mode, cached); the REINFORCE and
#: random-search variants are the ablations that tell the reward's share from the sampler's
TOPO_METHODS = ("gfn-free-topo", "gfn-canonical-topo", "gfn-free-topo-ls", "reinforce-topo", "reinforce-topo-ls",
                "random-topo", "random-topo-ls")


class _BudgetReached(Exception):
    pass


def _override(cfg, overrides: dict) -> None:
    for k, v in overrides.items():
        setattr(cfg, k, v)


def _anneal_over(cfg, n: int) -> None:
    """Anneal exploration over ``n`` iterations (TrainConfig states it as a share of n_iterations)."""
    cfg.anneal_fraction = n / cfg.n_iterations if cfg.n_iterations else 0.0


class _NoBuffer:
    """Where the no-learning ablation's local search puts its trajectories: nowhere."""

    def add(self, trajectories):
        pass


def _set_reward(base, beta=None, alpha=None, eps=None):
    """Change the reward settings of a loaded task (its reward map; the floor is derived from it)."""
    change = {k: float(v) for k, v in (("beta", beta), ("alpha", alpha), ("eps", eps)) if v is not None}
    base.reward = replace(base.reward, **change)


def _reinforce_topo_ls(env, scorer, batch, seed, n_iterations, gfn_cfg, tls, stop_at_budget):
    """REINFORCE given gfn-free-topo-ls's structure local search: the same StructureLocalSearch
    (neighbours rebuilt by REINFORCE's own policy), called as often per sampled design as in the
    GFlowNet run (every ``every`` iterations of ``gfn_cfg['batch_size']`` designs), its finds fed to
    REINFORCE's self-imitation archive (replayed into the elite while they beat the batch best), as
    TB's replay buffer is fed in the GFlowNet run. REINFORCE keeps the peer's batch of 64 (its elite
    is the best 5%)."""
    import types

    import torch

    from gfn_crn.estimators.backward import default_backward_estimator
    from gfn_crn.training.reinforce import ArchiveReplayBuffer, ReinforceTrainer

    torch.set_num_threads(1)
    # the archive's look-ups and replays are not proposals: they must not count as repeated structures
    trainer = ReinforceTrainer(env, ReinforceConfig(n_iterations=n_iterations, batch_size=batch, seed=seed,
                                                    replay=True, replay_capacity=1000), task=scorer,
                               replay_task=scorer.uncounted())
    local = StructureLocalSearch(env, scorer, seed=seed, **(tls or {}))
    shim = types.SimpleNamespace(pf=trainer.pf, pb=default_backward_estimator(env),
                                 replay_buffer=ArchiveReplayBuffer(trainer.archive, scorer.uncounted()))
    per_search = int(gfn_cfg.get("batch_size", batch)) * local.every  # sampled designs per search call
    for it in range(n_iterations):
        trainer.step()
        stop_at_budget()
        for _ in range(batch * (it + 1) // per_search - batch * it // per_search):
            local(local.every - 1, None, shim)  # an iteration index at which the search is due
            stop_at_budget()


def run(method: str, task_name: str, budget: int, seed: int, batch: int, max_reactions: int,
        beta: float | None = None, gfn_overrides: dict | None = None,
        beta_anneal: tuple[float, float] | None = None, refine_share: float = 0.0,
        refine_networks: int = 128, refine_stages: int = 4, reward_alpha: float | None = None,
        reward_eps: float | None = None, refine_sigma: float = 1.0, ls: dict | None = None,
        topo: dict | None = None, tls: dict | None = None):
    """One run; returns ``(recording task, figures of the search phase before refinement)``."""
    base = load_task(task_name)
    _set_reward(base, beta, reward_alpha, reward_eps)
    task = RecordingTask(base)
    lib = mass_action_library(base.template.species)
    order = "free" if method.startswith("gfn-free") else "canonical"
    scorer = task
    if method in TOPO_METHODS:  # the sampler sees topology-level rewards; the log sees every evaluation
        scorer = TopologyReward(task, seed=seed, **(topo or {}))
    env = CRNEnv(lib, base.template, scorer, order=order, max_reactions=max_reactions, min_reactions=1)
    search_budget = int(round(budget * (1.0 - refine_share)))
    iters = max(1, search_budget // batch)

    def stop_at_budget(*_):
        if task.n_evaluations >= search_budget:
            raise _BudgetReached

    if method in TOPO_METHODS:
        # a cached topology costs nothing, so these run until the evaluations are spent (with a
        # cap on iterations in case a sampler stops proposing new topologies)
        gfn_cfg = {**TOPO_GFN_DEFAULTS, **(gfn_overrides or {})}
        try:
            if method.startswith("gfn"):
                # exploration anneals over the first half of the iterations the budget allows when
                # every sampled topology is new (each costs 1 + rounds * popsize evaluations)
                cfg = plain_tb(n_iterations=int(gfn_cfg.pop("n_iterations", 20 * iters)), batch_size=batch,
                                  lr=1e-3, lr_logZ=0.1, seed=seed, temperature_start=2.0, temperature_end=1.0,
                                  epsilon_start=0.1, epsilon_end=0.0)
                anneal = gfn_cfg.pop("anneal_iterations", None)
                _override(cfg, gfn_cfg)
                if anneal is None:
                    expected = search_budget // (cfg.batch_size * scorer.evaluations_per_structure)
                    anneal = max(1, expected // 2)
                _anneal_over(cfg, anneal)
                callback = stop_at_budget
                if method.endswith("-ls"):  # structure local search around the best structures
                    local = StructureLocalSearch(env, scorer, seed=seed, **(tls or {}))

                    def callback(it, rec_, result):
                        stop_at_budget()
                        local(it, rec_, result)
                        stop_at_budget()
                train(env, cfg, callback=callback)
            elif method == "reinforce-topo":
                train_reinforce(env, scorer, ReinforceConfig(n_iterations=20 * iters, batch_size=batch, seed=seed),
                                callback=stop_at_budget)
            elif method == "reinforce-topo-ls":
                _reinforce_topo_ls(env, scorer, batch, seed, 20 * iters, gfn_cfg, tls, stop_at_budget)
            else:
                rng = np.random.default_rng(seed)
                local, rb = None, batch
                if method == "random-topo-ls":
                    # the ablation of gfn-free-topo-ls: the same structure local search, rebuilding
                    # with an untrained policy (its initial, nearly uniform one), the same batch size
                    # between searches, and no learning anywhere
                    import torch

                    from gfn_crn.training.tb import build_gflownet, seed_everything

                    seed_everything(seed)
                    rb = int(gfn_cfg.get("batch_size", batch))
                    g = build_gflownet(env, plain_tb(hidden=int(gfn_cfg.get("hidden", 128))))
                    shim = type("Untrained", (), {"pf": g.pf, "pb": g.pb, "replay_buffer": _NoBuffer()})()
                    local = StructureLocalSearch(env, scorer, seed=seed, **(tls or {}))
                    torch.set_num_threads(1)
                for it in range(20 * iters):
                    scorer.evaluate(random_candidates(env, rb, rng))
                    stop_at_budget()
                    if local is not None:
                        local(it, None, shim)
                        stop_at_budget()
        except _BudgetReached:
            pass
    elif method.startswith("gfn"):
        cfg = plain_tb(n_iterations=iters, batch_size=batch, lr=1e-3, lr_logZ=0.1, seed=seed,
                          temperature_start=2.0, temperature_end=1.0, epsilon_start=0.1, epsilon_end=0.0)
        ov = dict(gfn_overrides or {})
        anneal = ov.pop("anneal_iterations", max(1, iters // 2))
        _override(cfg, ov)
        _anneal_over(cfg, anneal)
        callback = None
        if beta_anneal is not None:  # reward temperature raised geometrically over the first 3/4
            b0, b1 = beta_anneal

            def callback(it, rec, result):
                f = min(1.0, (it + 1) / max(1, 0.75 * iters))
                _set_reward(base, b0 * (b1 / b0) ** f)  # the env's floor follows the task's

            _set_reward(base, b0)
        if method in LS_METHODS:
            # local search: the training loop runs until the search budget is spent (the
            # refinement and its replay count); prioritised replay keeps refined designs
            ls = dict(ls or {})
            cfg.replay_capacity = int(ls.pop("capacity", 1000))
            cfg.prioritized_replay = True
            cfg.replay_fraction = float(ls.pop("fraction", 0.5))
            cfg.n_iterations = 10 ** 6
            local = LocalSearch(env, task, lambda: task.networks_best, seed=seed, **ls)
            inner = callback

            def callback(it, rec, result):
                if inner is not None:
                    inner(it, rec, result)
                if task.n_evaluations >= search_budget:
                    raise _BudgetReached
                local(it, rec, result)
                if task.n_evaluations >= search_budget:
                    raise _BudgetReached
        try:
            train(env, cfg, callback=callback)
        except _BudgetReached:
            pass
    elif method in ("reinforce", "reinforce-replay"):
        train_reinforce(env, task, ReinforceConfig(n_iterations=10 ** 9, batch_size=batch, seed=seed,
                                                   replay=method == "reinforce-replay",
                                                   max_evaluations=iters * batch))
    elif method == "random":
        random_search(env, task, iters * batch, batch_size=batch, seed=seed)
    else:
        raise SystemExit(f"unknown method {method!r} (known: {', '.join(METHODS + LS_METHODS + TOPO_METHODS)})")
    search = task.figures(base.good_threshold)
    if scorer is not task:
        # the log repeats each topology 1 + rounds * popsize times by construction; what tells a
        # sampler's diversity is how often it proposed a topology it had proposed before
        search["repeat_share"] = scorer.hits / max(scorer.requests, 1)
        search["sampled_topologies"] = len(scorer.cache)
    if refine_share > 0 and budget > task.n_evaluations:
        # the same local refinement of rates for every method, on its own archive, counted in the budget
        refine_archive(task, dict(task.networks_best), budget - task.n_evaluations, n_networks=refine_networks,
                       stages=refine_stages, seed=seed, sigma0=refine_sigma)
    return task, search


def one_run(method: str, seed: int, settings: dict):
    """One (method, seed) run: its figures (with the search phase, the top designs and downsampled
    curves) and its full curves ``(distinct good, best loss so far)`` per evaluation."""
    t0 = time.perf_counter()
    s = dict(settings)
    rec, search = run(method, s.pop("task_name"), s.pop("budget"), seed, s.pop("batch"), s.pop("max_reactions"),
                      **s)
    wall = time.perf_counter() - t0
    thr = rec.task.good_threshold
    fig = rec.figures(thr)
    fig["search_phase"] = search
    fig.update(method=method, seed=seed, threshold=thr, wall_seconds=wall, evals_per_second=fig["evaluations"] / wall)
    losses = np.where(rec.valid, rec.losses, np.inf)
    curve = (distinct_good_curve(rec.topologies, rec.losses, rec.valid, thr), np.minimum.accumulate(losses))
    # the 10 best distinct designs, so a reader can see what each method found
    top = sorted(rec.networks_best.values(), key=lambda t: t[0])[:10]
    fig["top_designs"] = [{"loss": l, "network": n.to_text()} for l, n in top]
    # every distinct topology below twice the threshold (at most 500), so that other diversity
    # figures can be computed from the file
    good = sorted((t for t in rec.networks_best.values() if t[0] < 2 * thr), key=lambda t: t[0])[:500]
    fig["good_designs"] = [{"loss": l, "network": n.to_text()} for l, n in good]
    # the currency: good designs that pass verification, and their distinct mechanisms (cores)
    from rescore_verified import verified_figures

    ver = verified_figures(load_task(settings["task_name"]), fig)
    fig["verified_designs"] = ver["verified_designs"]
    fig["distinct_verified_mechanisms"] = ver["distinct_verified_mechanisms"]
    fig["verified_mechanism_keys"] = ver["keys"]
    step = max(1, len(losses) // 200)  # downsampled curves, so the plots can be redrawn
    fig["curve_evaluations"] = list(range(step, len(losses) + 1, step))
    fig["curve_distinct_good"] = curve[0][step - 1::step].tolist()
    fig["curve_best_loss"] = curve[1][step - 1::step].tolist()
    return fig, curve


def _print_row(fig: dict, refine_share: float) -> None:
    thr, search = fig["threshold"], fig["search_phase"]
    print(f"{fig['method']:<14} seed {fig['seed']}: best {fig['best_loss']:.5f}  first<{thr:g} at "
          f"{fig['first_good_evaluation']}  distinct<{thr:g} {fig['distinct_good']}  "
          f"distinct<{2 * thr:g} {fig['distinct_good_2x']}  verified {fig.get('verified_designs')}  "
          f"mechanisms {fig.get('distinct_verified_mechanisms')}  spread {fig.get('distinct_good_spread', '-')}  "
          f"hamming(top50) {fig['mean_hamming_top']:.2f}  "
          f"repeats {fig['repeat_share']:.1%}  {fig['wall_seconds']:.0f} s" + (
              f"  [search only: best {search['best_loss']:.5f} distinct<{thr:g} {search['distinct_good']} "
              f"<{2 * thr:g} {search['distinct_good_2x']} repeats {search['repeat_share']:.1%}]"
              if refine_share > 0 else ""), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="rpa")
    ap.add_argument("--budget", type=int, default=102400, help="candidate evaluations per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-reactions", type=int, default=5)
    ap.add_argument("--methods", nargs="+", default=list(MAIN_METHODS),
                    help=f"default: the main comparison; also {', '.join(m for m in METHODS + LS_METHODS + TOPO_METHODS if m not in MAIN_METHODS)}")
    ap.add_argument("--quick", action="store_true", help="budget 640, one seed")
    ap.add_argument("--beta", type=float, default=None, help="override the task's reward temperature")
    ap.add_argument("--gfn", nargs="*", default=[], metavar="KEY=VALUE",
                    help="TrainConfig overrides for the GFlowNet runs, e.g. lr=3e-3 replay_capacity=1000")
    ap.add_argument("--tag", default="", help="suffix for the output files")
    ap.add_argument("--beta-anneal", default=None, metavar="START:END",
                    help="GFlowNet runs: raise the reward temperature beta from START to END (geometric)")
    ap.add_argument("--refine-share", type=float, default=0.3,
                    help="share of the budget spent, after the search, refining the rates of the best distinct "
                         "topologies of each run (gfn_crn/rewards/refine.py; same for every method)")
    ap.add_argument("--refine-networks", type=int, default=128, help="topologies entering the refinement")
    ap.add_argument("--refine-stages", type=int, default=4, help="successive-halving stages of the refinement")
    ap.add_argument("--refine-sigma", type=float, default=1.0, help="initial step size on ln k")
    ap.add_argument("--reward-alpha", type=float, default=None, help="power term of the reward (gfn_crn.tasks.base)")
    ap.add_argument("--reward-eps", type=float, default=None, help="its loss scale eps (default 1e-3)")
    ap.add_argument("--ls", nargs="*", default=[], metavar="KEY=VALUE",
                    help="local search of the *-ls methods: every=25 top_k=16 rounds=6 popsize=8 sigma0=1 "
                         "capacity=1000 fraction=0.5")
    ap.add_argument("--topo", nargs="*", default=[], metavar="KEY=VALUE",
                    help="topology reward of the *-topo methods: rounds=1 popsize=8 sigma0=0.5")
    ap.add_argument("--tls", nargs="*", default=[], metavar="KEY=VALUE",
                    help="structure local search of gfn-free-topo-ls: every=10 top_k=8 neighbours=4 destroy=1 "
                         "max_visits=4")
    ap.add_argument("--jobs", type=int, default=1,
                    help="run the (method, seed) runs in this many processes (figures do not depend on it; "
                         "wall times do)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    if args.quick:
        args.budget, args.seeds = 640, [0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = {}
    for kv in args.gfn:
        k, v = kv.split("=", 1)
        overrides[k] = type(getattr(plain_tb(), k))(v) if getattr(plain_tb(), k) is not None else float(v)
    kv = lambda items: {k: float(v) if "." in v or "e" in v else int(v)  # noqa: E731
                        for k, v in (x.split("=", 1) for x in items)}
    # a setting no selected method uses would be recorded in the results without having acted
    uses = {"--ls": [m for m in args.methods if m in LS_METHODS],
            "--beta-anneal": [m for m in args.methods if m.startswith("gfn") and m not in TOPO_METHODS],
            "--tls": [m for m in args.methods if m in TOPO_METHODS and m.endswith("-ls")],
            "--topo": [m for m in args.methods if m in TOPO_METHODS]}
    for flag, given in (("--ls", args.ls), ("--beta-anneal", args.beta_anneal), ("--tls", args.tls),
                        ("--topo", args.topo)):
        if given and not uses[flag]:
            raise SystemExit(f"{flag} is used by none of the selected methods ({', '.join(args.methods)})")
    if args.beta_anneal and any(m in TOPO_METHODS for m in args.methods):
        raise SystemExit("--beta-anneal is not implemented for the topology-reward (*-topo*) methods")
    anneal = tuple(float(x) for x in args.beta_anneal.split(":")) if args.beta_anneal else None
    settings = dict(task_name=args.task, budget=args.budget, batch=args.batch, max_reactions=args.max_reactions,
                    beta=args.beta, gfn_overrides=overrides, beta_anneal=anneal, refine_share=args.refine_share,
                    refine_networks=args.refine_networks, refine_stages=args.refine_stages,
                    reward_alpha=args.reward_alpha, reward_eps=args.reward_eps, refine_sigma=args.refine_sigma,
                    ls=kv(args.ls), topo=kv(args.topo), tls=kv(args.tls))
    jobs = [(method, seed) for method in args.methods for seed in args.seeds]
    if args.jobs > 1:  # independent seeded runs: the same figures in any number of processes
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as ex:
            futures = [ex.submit(one_run, m, sd, settings) for m, sd in jobs]
            results = []
            for f in futures:
                results.append(f.result())
                _print_row(results[-1][0], args.refine_share)
    else:
        results = []
        for m, sd in jobs:
            results.append(one_run(m, sd, settings))
            _print_row(results[-1][0], args.refine_share)
    rows = [fig for fig, _ in results]
    curves = {(fig["method"], fig["seed"]): c for fig, c in results}
    thr = rows[0]["threshold"]
    (out / f"diversity_{args.task}{args.tag}.json").write_text(json.dumps(
        {"provenance": provenance(),  # deterministic under a seed on one machine; other CPUs may diverge
         "task": args.task, "budget": args.budget, "threshold": thr, "beta": args.beta, "gfn_overrides": overrides,
         # what the GFlowNet runs on the topology reward were given (their defaults plus --gfn)
         "gfn_settings_topo": {**TOPO_GFN_DEFAULTS, **overrides} if uses["--topo"] else None,
         "refine_share": args.refine_share, "refine_networks": args.refine_networks,
         "refine_stages": args.refine_stages, "reward_alpha": args.reward_alpha, "reward_eps": args.reward_eps,
         "beta_anneal": args.beta_anneal, "ls": settings["ls"], "topo": settings["topo"], "tls": settings["tls"],
         "methods": args.methods, "seeds": args.seeds, "runs": rows}, indent=1, default=float))
    _plot(curves, thr, out / f"diversity_{args.task}{args.tag}.png", args.task)
    print(f"\n{'method':<14} {'best loss':>10} {'distinct good':>14} {'distinct 2x':>12} {'hamming':>8}")
    mean = {}
    for method in args.methods:
        r = [x for x in rows if x["method"] == method]
        mean[method] = float(np.mean([x["distinct_good"] for x in r]))
        print(f"{method:<14} {np.mean([x['best_loss'] for x in r]):>10.5f} {mean[method]:>14.1f} "
              f"{np.mean([x['distinct_good_2x'] for x in r]):>12.1f} {np.nanmean([x['mean_hamming_top'] for x in r]):>8.2f}")
    print(f"plot: {out / f'diversity_{args.task}{args.tag}.png'}")
    gfn = max((mean[m] for m in mean if m.startswith("gfn")), default=float("nan"))
    reinf = [mean[m] for m in mean if m.startswith("reinforce")]  # the better REINFORCE variant run
    ref = max(max(reinf), 1.0) if reinf else float("nan")
    print(f"distinct_good_ratio_gfn_vs_reinforce={gfn / ref:.2f}")


def _plot(curves, thr, path, task_name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2))
    colors = {"gfn-canonical": "C0", "gfn-free": "C2", "gfn-canonical-ls": "C9", "gfn-free-ls": "C4", "gfn-free-topo": "C6",
              "gfn-canonical-topo": "C8", "gfn-free-topo-ls": "m", "random-topo-ls": "y", "reinforce-topo": "C5", "reinforce-topo-ls": "navy", "random-topo": "k", "reinforce": "C3", "reinforce-replay": "C1", "random": "C7"}
    seen = set()
    for (method, seed), c in curves.items():  # (good, best) per evaluation, or (x, good, best)
        x, good, best = (np.arange(1, c[0].size + 1), *c) if len(c) == 2 else c
        label = None if method in seen else method
        ax.plot(x, good, color=colors.get(method, "k"), lw=1.4, alpha=0.85, label=label)
        bx.plot(x, best, color=colors.get(method, "k"), lw=1.4, alpha=0.85, label=label)
        seen.add(method)
    ax.set_xlabel("candidate evaluations")
    ax.set_ylabel(f"distinct topologies with loss < {thr:g}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(1, max(int(np.max(c[-2])) for c in curves.values())) * 1.1)
    ax.set_title(f"{task_name}: distinct good designs (one line per seed)", fontsize=10)
    bx.set_yscale("log")
    bx.axhline(thr, color="k", ls="--", lw=0.8, label=f"good threshold {thr:g}")
    bx.set_xlabel("candidate evaluations")
    bx.set_ylabel("best loss so far")
    bx.set_title(f"{task_name}: best loss found (one line per seed)", fontsize=10)
    for a in (ax, bx):
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
