"""Scale-out on this machine: 1 against 2 processes (issue 7).

(a) Candidate evaluations per second on ``rpa``: ``n`` random designs (the task template plus 4
    random mass-action reactions, rates from the task's prior) scored by a
    :class:`~gfn_crn.rewards.pool.TaskPool` with 1 worker (in this process) and with 2 worker processes
    (start-up excluded: the pool is warmed on a first batch), chunks of 32.
(b) Training on ``rpa`` (batch 64, hidden 64), each run in its own subprocess launched the way a
    user would: ``gfn-crn train`` in one process; ``--workers 2`` (one trainer, two scoring
    processes); ``torchrun --nproc_per_node=2`` (two data-parallel trainers, each with its own
    batch of 64, so one iteration scores 128 designs). Iterations per second and evaluations per
    second come from the runs' metrics.jsonl (elapsed time from the end of the first iteration
    to the end of the last: start-up excluded, everything else included).

Every figure is printed as a ratio to the one-process run of the same invocation.

    python benchmarks/scaling.py [--quick] [--n 512] [--iterations 40] [--out benchmarks/results]

Writes ``<out>/scaling.json``. The last line is ``training_evaluations_ratio_ddp2=<ratio>``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cands import random_networks  # noqa: E402
from _provenance import provenance  # noqa: E402

from gfn_crn.rewards.pool import TaskPool  # noqa: E402
from gfn_crn.tasks import load_task  # noqa: E402


def pool_rate(task, nets, workers: int, repeats: int) -> float:
    with TaskPool(task, workers=workers, chunk_size=32) as pool:
        pool.evaluate(nets[:64])  # start the workers
        t0 = time.perf_counter()
        for _ in range(repeats):
            pool.evaluate(nets)
        return repeats * len(nets) / (time.perf_counter() - t0)


def train_rate(mode: str, iterations: int, workdir: Path) -> dict:
    out = workdir / mode
    args = ["train", "--task", "rpa", "--iterations", str(iterations), "--batch-size", "64", "--set", "hidden=64",
            "--no-finish", "--no-progress", "--out", str(out), "--overwrite"]
    if mode == "workers2":
        args += ["--workers", "2"]
    if mode == "ddp2":
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "gfn_crn.cli"]
    else:
        cmd = [sys.executable, "-m", "gfn_crn.cli"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd + args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{p.stderr[-3000:]}")
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
    # time between the ends of the first and the last iteration: everything an iteration costs
    # (sampling, scoring, update, and under torchrun the archive exchange and the stop checks)
    secs = rows[-1]["elapsed"] - rows[0]["elapsed"]
    evals = rows[-1]["evaluations"] - rows[0]["evaluations"]
    return {"iterations_per_s": (len(rows) - 1) / secs, "evaluations_per_s": evals / secs, "wall_s": wall,
            "evaluations": rows[-1]["evaluations"], "best_loss": rows[-1]["best_loss"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="128 designs, 8 iterations")
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args(argv)
    if a.quick:
        a.n, a.repeats, a.iterations = 128, 1, 8
    task = load_task("rpa")
    nets = random_networks(task.template, a.n, seed=0, n_added=4, prior=task.prior)

    res: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
                 "date": time.strftime("%Y-%m-%d"), "n": a.n, "iterations": a.iterations}
    r1 = pool_rate(task, nets, 1, a.repeats)
    r2 = pool_rate(task, nets, 2, a.repeats)
    res["evaluation"] = {"workers1_per_s": r1, "workers2_per_s": r2, "ratio": r2 / r1}
    print(f"candidate evaluations/s on rpa: 1 process {r1:.0f}, 2 worker processes {r2:.0f} "
          f"(ratio {r2 / r1:.2f})", flush=True)

    with tempfile.TemporaryDirectory() as d:
        runs = {m: train_rate(m, a.iterations, Path(d)) for m in ("single", "workers2", "ddp2")}
    base = runs["single"]
    res["training"] = runs
    print(f"{'training (rpa, batch 64)':28s} {'iterations/s':>13s} {'ratio':>6s} {'evaluations/s':>14s} {'ratio':>6s}")
    for m, label in (("single", "1 process"), ("workers2", "1 trainer + 2 scorers"), ("ddp2", "torchrun, 2 processes")):
        r = runs[m]
        r["iterations_ratio"] = r["iterations_per_s"] / base["iterations_per_s"]
        r["evaluations_ratio"] = r["evaluations_per_s"] / base["evaluations_per_s"]
        print(f"{label:28s} {r['iterations_per_s']:13.2f} {r['iterations_ratio']:6.2f} "
              f"{r['evaluations_per_s']:14.0f} {r['evaluations_ratio']:6.2f}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if not a.quick:
        res["provenance"] = provenance()  # deterministic under a seed on one machine; other CPUs may diverge
        (out / "scaling.json").write_text(json.dumps(res, indent=1) + "\n")
        print(f"written: {out / 'scaling.json'}")
    print(f"evaluation_ratio_workers2={res['evaluation']['ratio']:.2f}")
    print(f"training_evaluations_ratio_ddp2={runs['ddp2']['evaluations_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
