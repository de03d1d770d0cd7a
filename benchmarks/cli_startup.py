"""Start-up time of the command line against a bare ``import numpy, scipy.integrate``.

    python benchmarks/cli_startup.py [--rounds 9] [--out results.json]

Each round runs, in fresh interpreters and in turn, the reference
``python -c "import numpy, scipy.integrate"`` and each command below (output discarded); the
figures are the medians over the rounds, measured in the same session so that machine load hits
both alike. The target: ``gfn-crn tasks`` at most 2.5x the reference. The last line is
``cli_tasks_ratio=<ratio>``.

Commands: ``tasks``, ``--help``, ``simulate`` of the antithetic example (11 points), ``train --help``;
and, for scale, a bare ``import torch`` (what every command paid before the lazy imports).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance  # noqa: E402


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    return dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--out", default=None, help="also write the figures (with provenance) to this JSON file")
    args = ap.parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory() as d:
        from gfn_crn.crn import ANTITHETIC_TEXT

        net = Path(d) / "anti.crn"
        net.write_text(ANTITHETIC_TEXT)
        cmds = {
            "reference: import numpy, scipy.integrate": [py, "-c", "import numpy, scipy.integrate"],
            "gfn-crn tasks": [py, "-m", "gfn_crn.cli", "tasks"],
            "gfn-crn --help": [py, "-m", "gfn_crn.cli", "--help"],
            "gfn-crn simulate (11 points)": [py, "-m", "gfn_crn.cli", "simulate", str(net), "--inputs", "u1=1,u2=1",
                                             "--points", "11"],
            "gfn-crn train --help": [py, "-m", "gfn_crn.cli", "train", "--help"],
            "python -c \"import torch\" (for scale)": [py, "-c", "import torch"],
        }
        for c in cmds.values():  # warm the file cache
            _time(c)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for k, c in cmds.items():
                times[k].append(_time(c))
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med["reference: import numpy, scipy.integrate"]
    print(f"{'command':40s} {'median s':>9s} {'min s':>7s} {'x reference':>12s}")
    for k in cmds:
        print(f"{k:40s} {med[k]:9.3f} {min(times[k]):7.3f} {med[k] / ref:12.2f}")
    ratio = med["gfn-crn tasks"] / ref
    if args.out:
        Path(args.out).write_text(json.dumps({"provenance": provenance(), "rounds": args.rounds,
                                              "median_seconds": med, "seconds": times,
                                              "tasks_ratio": ratio}, indent=1) + "\n")
        print(f"written: {args.out}")
    print(f"cli_tasks_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
