"""Full training-loop throughput: evaluations per second of a short training run on the RPA task
(``--recipe default``: what ``gfn-crn train`` runs with no flags; ``per-sample``: plain TB on the
per-sample reward), simulation plus training, and the shares of simulation and policy time.

The same short run (same seed, same settings) is trained twice in one process: once with the
default simulation engine (compiled Rodas4) and once with the torch engine on the CPU (the same
method vectorised over the batch; ``--engines`` picks others), so the gain of the faster
simulator on the whole loop is a ratio between runs of this process. Simulation time is
the wall time inside ``gfn_crn.sim.simulate`` (instrumented by wrapping the call the tasks make);
"policy" time is everything else in ``Run.train`` (sampling with the policy network, the reward
bookkeeping outside the simulator, the loss, backward pass and optimiser step, the archive).
Single core: torch, BLAS and the simulator on one thread, ``workers=1`` (scoring in this process);
times are the process's CPU time (robust to other jobs on a shared machine), wall times are in
the JSON too.

    python benchmarks/loop_throughput.py [--quick] [--iterations 40] [--recipe default|per-sample]
                                         [--batch-size B] [--out DIR]

Writes ``loop_throughput.json`` (numbers plus commit, date, CPU, BLAS) and the two run
directories into ``--out`` (default: a new temporary folder), never into the repository unless
asked. The last line is ``evaluations_per_s=<n>`` (default engine).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance, versions  # noqa: E402  (shared: CPU, BLAS, commit; library versions)

import gfn_crn.tasks.base as task_base  # noqa: E402
from gfn_crn.training.config import from_flat  # noqa: E402
from gfn_crn.training.run import Run  # noqa: E402


class SimTimer:
    """Wraps the ``simulate`` the tasks call: forces an engine, sums wall time and candidates."""

    def __init__(self, engine: str):
        self.engine = engine
        self.seconds = 0.0
        self.wall = 0.0
        self.candidates = 0
        self.calls = 0
        self.engines_seen: set[str] = set()
        self._orig = task_base.simulate

    def __call__(self, networks, scenarios, t, **kw):
        kw["engine"] = self.engine
        t0, w0 = time.process_time(), time.perf_counter()
        res = self._orig(networks, scenarios, t, **kw)
        self.seconds += time.process_time() - t0
        self.wall += time.perf_counter() - w0
        self.candidates += len(networks)
        self.calls += 1
        self.engines_seen.add(res.stats["engine"])
        return res

    def __enter__(self):
        task_base.simulate = self
        return self

    def __exit__(self, *exc):
        task_base.simulate = self._orig


def one_run(engine: str, args, folder: Path) -> dict:
    flat = {"task": "rpa", "iterations": args.iterations, "seed": args.seed, "threads": 1, "workers": 1,
            "checkpoint_every": args.iterations + 1}
    if args.batch_size:
        flat["batch_size"] = args.batch_size
    if args.recipe == "per-sample":  # what `gfn-crn train --per-sample-reward` sets
        flat.update(topology_reward=False, structure_search_every=0, structure_search_swap_every=0)
    cfg = from_flat(flat, "loop_throughput")
    out = folder / f"run_{engine}"
    with SimTimer(engine) as timer:
        run = Run.create(cfg, out, overwrite=True)
        t0, w0 = time.process_time(), time.perf_counter()
        run.train(progress=False, handle_sigint=False)
        total, wall = time.process_time() - t0, time.perf_counter() - w0
    evals = int(run.evaluations)
    policy = total - timer.seconds
    return {
        "engine": engine, "engines_seen": sorted(timer.engines_seen), "iterations": args.iterations,
        "recipe": args.recipe, "batch_size": cfg.train.batch_size if hasattr(cfg, "train") else args.batch_size, "evaluations": evals, "simulated_candidates": timer.candidates,
        "simulate_calls": timer.calls, "seconds": total, "sim_seconds": timer.seconds, "policy_seconds": policy,
        "evaluations_per_s": evals / total, "sim_share": timer.seconds / total, "policy_share": policy / total,
        "sim_candidates_per_s": timer.candidates / max(timer.seconds, 1e-12),
        "timing": "CPU seconds of this process (single-threaded)", "wall_seconds": wall, "sim_wall_seconds": timer.wall,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short run (~15 iterations per engine)")
    ap.add_argument("--iterations", type=int, default=None, help="TB iterations per run (default 40; quick 15)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--recipe", choices=["default", "per-sample"], default="default",
                    help="default: what `gfn-crn train` runs with no flags (topology reward, structure search, "
                         "replay, refinement); per-sample: the plain per-sample TB reward")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON and run dirs (default: temp)")
    ap.add_argument("--engines", default="rodas,torch", help="comma-separated; the first is the headline")
    args = ap.parse_args(argv)
    args.iterations = args.iterations or (15 if args.quick else 40)
    torch.set_num_threads(1)
    folder = args.out or Path(tempfile.mkdtemp(prefix="loop_throughput_"))
    folder.mkdir(parents=True, exist_ok=True)

    from gfn_crn.sim import rodas_numba

    try:
        rodas_numba.kernel()  # compile / load outside the timed runs
    except RuntimeError:
        pass
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    # warm-up (torch and task first-use costs) so that neither timed run pays them
    one_run(engines[0], argparse.Namespace(**{**vars(args), "iterations": 2}), folder / "warmup")
    print(f"RPA task, {args.recipe} training recipe, {args.iterations} iterations, single core")
    rows = []
    for engine in engines:
        r = one_run(engine, args, folder)
        rows.append(r)
        print(f"{engine:12s} ({'/'.join(r['engines_seen'])}): {r['seconds']:.1f} s, {r['evaluations']} evaluations, "
              f"{r['evaluations_per_s']:.0f} evaluations/s; simulation {100 * r['sim_share']:.0f}% "
              f"({r['sim_candidates_per_s']:.0f} cand/s inside simulate), policy and training "
              f"{100 * r['policy_share']:.0f}%")
    if len(rows) > 1:
        print(f"full-loop speed-up {rows[0]['engine']} vs {rows[1]['engine']}: "
              f"{rows[0]['evaluations_per_s'] / rows[1]['evaluations_per_s']:.2f}x")
    res = {"provenance": provenance(), "versions": versions(), "runs": rows}
    (folder / "loop_throughput.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {folder / 'loop_throughput.json'}")
    print(f"sim_share={rows[0]['sim_share']:.3f}")
    print(f"evaluations_per_s={rows[0]['evaluations_per_s']:.1f}")


if __name__ == "__main__":
    main()
