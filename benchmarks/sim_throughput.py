"""Simulator throughput and accuracy (issues 2 and 18).

256 random candidates: the antithetic example's template plus 5 distinct random reactions from the
3-species mass-action library, rates log-uniform in [0.1, 50]; 9 scenarios (u1, u2 in
{0.5, 1, 1.5}); initial concentrations 0.01; t in [0, 100] with 1000 points. In one process,
single core (torch and BLAS limited to one thread):

(a) the default engine (median of ``--repeat`` runs): Rodas4 compiled with numba (``engine="rodas"``/``"rodas-numba"``), at
    batch n and at batch 64; its JIT compile (or cache load) time in this process,
(a3) the same method in torch on the CPU (``engine="torch"``, on ``--torch-n`` candidates; the numpy
    engine that was (a2) no longer exists),
(b) a peer-style baseline: one scenario at a time, scipy LSODA at rtol 1e-8, a right-hand side
    looping over reaction objects in Python, no Jacobian (run on a subsample),
(c) CVODE one system at a time (the fallback engine, subsample),

and the max relative trajectory error of (a), (a3) against a tight scipy LSODA reference
(with the analytic Jacobian) (rtol 1e-10) on the subsample, over trajectories that neither run
flags as diverged. Relative error of a trajectory: max over time and species of
|y - y_ref| / (max_t |y_ref| + 1e-6). All speed ratios are between runs of this process. Rates
use the process's CPU time (every path is single-threaded), so other jobs on a shared machine
inflate them less than wall time; the JSON records the wall times as well.

    python benchmarks/sim_throughput.py [--quick] [--n 256] [--sub 16] [--out DIR] [--cold-compile]

Writes ``sim_throughput.json`` (numbers plus commit, date, CPU, BLAS) to ``--out`` (default: a new
temporary folder). The last two lines are ``candidates_per_s=<n>`` (default engine, batch n) and
``speedup_vs_peer_style=<ratio>``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cands import random_candidates  # noqa: E402
from _provenance import provenance, versions  # noqa: E402  (shared: CPU, BLAS, commit; library versions)

from gfn_crn.sim import OK, scenario_grid, simulate, time_grid  # noqa: E402
from gfn_crn.sim.reference import naive_rhs  # noqa: E402


def peer_style(nets, scenarios, t, cap=1e4):
    """One scenario at a time, LSODA rtol 1e-8, Python loop over reactions, no Jacobian."""
    from scipy.integrate import solve_ivp

    out = []
    for net in nets:
        for sc in scenarios:
            u = dict(sc.inputs)
            y0 = sc.init_vector(net.species)

            def f(_, y):
                return naive_rhs(net, y, u)

            def blow(_, y):
                return cap - np.max(np.abs(y))

            blow.terminal = True
            sol = solve_ivp(f, (t[0], t[-1]), y0, method="LSODA", t_eval=t, rtol=1e-8, atol=1e-10, events=blow)
            out.append(sol.status)
    return out


def rel_error(y, yref):
    scale = np.abs(yref).max(axis=-2, keepdims=True) + 1e-6  # per trajectory and species
    return (np.abs(y - yref) / scale).max(axis=(-1, -2))


def cold_compile_seconds() -> float:
    """JIT compile time of the numba kernel from an empty cache (fresh process, temporary cache dir)."""
    code = "import time; t=time.perf_counter(); from gfn_crn.sim import rodas_numba; rodas_numba.kernel(); " \
           "print(time.perf_counter()-t)"
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


WALL: dict[str, float] = {}


def timed(fn, name: str = ""):
    """(result, CPU seconds of this process). Every measured path runs on one thread, so CPU time is
    the one-core cost and is not inflated by other jobs on a shared machine; wall time is kept in
    ``WALL`` (and the JSON) too."""
    w0, c0 = time.perf_counter(), time.process_time()
    r = fn()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    if name:
        WALL[name] = wall
    return r, cpu


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small subsamples, under a minute")
    ap.add_argument("--n", type=int, default=256, help="candidates for the default engine")
    ap.add_argument("--sub", type=int, default=None, help="subsample for peer-style/CVODE/reference")
    ap.add_argument("--torch-n", type=int, default=None, help="candidates for the torch engine (default n; quick 64)")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--atol", type=float, default=1e-9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="folder for sim_throughput.json (default: a temp folder)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the default engine (median)")
    ap.add_argument("--cold-compile", action="store_true", help="also time a JIT compile from an empty cache")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from gfn_crn.sim import rodas_numba

    sub = args.sub or (8 if args.quick else 32)
    peer_sub = sub  # the first 4 candidates alone are easier than average for the peer-style path
    torch_n = args.torch_n or (64 if args.quick else args.n)
    kw = dict(rtol=args.rtol, atol=args.atol)

    nets = random_candidates(args.n, seed=args.seed)
    scen = scenario_grid({"u1": [0.5, 1.0, 1.5], "u2": [0.5, 1.0, 1.5]})
    t = time_grid(100.0, 1000)
    print(f"{args.n} candidates x {len(scen)} scenarios, t 0..100 with {t.size} points, single core "
          "(rates from this process's CPU time; every path runs on one thread)")
    out: dict = {"provenance": provenance(), "versions": versions(), "n": args.n, "scenarios": len(scen),
                 "points": int(t.size), **kw}

    _, dt_jit = timed(lambda: simulate(nets[:4], scen, t, engine="rodas-numba"))  # compile or cache load + warm-up
    ks = rodas_numba.kernel_status()
    print(f"numba kernel: compile/cache-load {ks['compile_s']:.2f} s (first call incl. warm-up {dt_jit:.2f} s)")
    out["jit_load_s"] = ks["compile_s"]
    if args.cold_compile:
        out["jit_cold_compile_s"] = cold_compile_seconds()
        print(f"numba kernel: cold compile (empty cache, fresh process) {out['jit_cold_compile_s']:.2f} s")
    simulate(nets[:2], scen, t, engine="torch")

    # the default engine: --repeat interleaved runs at both batch sizes, the median counts (the box
    # is shared; the slow paths below run long enough to average by themselves)
    n64 = min(64, args.n)
    times: dict[str, list] = {"a": [], "64": []}
    for _ in range(args.repeat):
        res, d = timed(lambda: simulate(nets, scen, t, engine="rodas", **kw), "rodas-numba")
        times["a"].append(d)
        _, d = timed(lambda: simulate(nets[:n64], scen, t, engine="rodas", **kw), "rodas-numba_64")
        times["64"].append(d)
    dt_a, dt_64 = (float(np.median(times[k])) for k in ("a", "64"))
    out["repeat_cpu_seconds"] = times
    assert res.stats["engine"] == "rodas-numba", res.stats["engine"]
    rate_a = args.n / dt_a
    st = np.bincount(res.status.ravel(), minlength=3)
    print(f"(a) rodas-numba (default, rtol {args.rtol:g}), batch {args.n}: {dt_a:.2f} s, {rate_a:.1f} cand/s; "
          f"status ok/diverged/failed = {st.tolist()}; steps median {np.median(res.stats['steps']):.0f}, "
          f"max {res.stats['steps'].max()}")
    rate_64 = n64 / dt_64
    print(f"    rodas-numba, batch {n64}: {rate_64:.1f} cand/s")

    res_t, dt_t = timed(lambda: simulate(nets[:torch_n], scen, t, engine="torch", device="cpu", **kw), "torch-cpu")
    rate_t = torch_n / dt_t
    print(f"(a3) torch on cpu (1 thread), batch {torch_n}: {dt_t:.2f} s, {rate_t:.1f} cand/s")

    _, dt_b = timed(lambda: peer_style(nets[:peer_sub], scen, t), "peer-style")
    rate_b = peer_sub / dt_b
    print(f"(b) peer-style LSODA 1e-8, Python RHS, {peer_sub} candidates: {dt_b:.2f} s, {rate_b:.2f} cand/s")

    res_c, dt_c = timed(lambda: simulate(nets[:sub], scen, t, engine="cvode", **kw), "cvode")
    rate_c = sub / dt_c
    print(f"(c) CVODE one system at a time, {sub} candidates: {dt_c:.2f} s, {rate_c:.2f} cand/s")

    ref, dt_r = timed(lambda: simulate(nets[:sub], scen, t, engine="scipy", method="LSODA", rtol=1e-10, atol=1e-12))

    def err_vs_ref(r):
        both = (r.status[:sub] == OK) & (ref.status == OK)
        e = rel_error(r.y[:sub], ref.y)[both]
        return e, int(np.sum((r.status[:sub] == OK) != (ref.status == OK)))

    err, flag_mismatch = err_vs_ref(res)
    err_t, _ = err_vs_ref(res_t) if torch_n >= sub else (np.array([np.nan]), 0)
    err_c = rel_error(res_c.y, ref.y)[(res_c.status == OK) & (ref.status == OK)]
    nt = min(torch_n, args.n)
    tv = rel_error(res_t.y, res.y[:nt])[(res_t.status == OK) & (res.status[:nt] == OK)]
    print(f"reference LSODA 1e-10 on {sub} candidates ({dt_r:.1f} s): rodas-numba max rel error {err.max():.2e} "
          f"(median {np.median(err):.1e}, {err.size} trajectories), "
          f"torch {np.nanmax(err_t):.2e}, CVODE {err_c.max():.2e}; divergence flags differing from the reference: "
          f"{flag_mismatch}")
    print(f"torch against the default: max rel diff {tv.max():.1e}; status equal: "
          f"{bool(np.array_equal(res_t.status, res.status[:nt]))}")
    print(f"ratios: rodas-numba/peer-style = {rate_a / rate_b:.0f}x, "
          f"rodas-numba/torch-cpu = {rate_a / rate_t:.1f}x, "
          f"CVODE/peer-style = {rate_c / rate_b:.1f}x, rodas-numba/CVODE = {rate_a / rate_c:.0f}x")
    out.update({
        "cand_per_s": {"rodas-numba": rate_a, f"rodas-numba_batch{n64}": rate_64,
                       "torch-cpu": rate_t, "peer-style": rate_b, "cvode": rate_c},
        "timing": "CPU seconds of this process (one thread per path)", "wall_seconds": WALL,
        "torch_n": torch_n, "sub": sub, "peer_sub": peer_sub,
        "speedup_vs_peer_style": rate_a / rate_b,
        "max_rel_error_vs_reference": {"rodas-numba": float(err.max()),
                                       "torch-cpu": float(np.nanmax(err_t)), "cvode": float(err_c.max())},
        "max_rel_diff_vs_default": {"torch-cpu": float(tv.max())},
        "divergence_flags_differing": flag_mismatch,
        "status_counts": st.tolist(),
    })
    folder = args.out or Path(tempfile.mkdtemp(prefix="sim_throughput_"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sim_throughput.json").write_text(json.dumps(out, indent=1))
    print(f"wrote {folder / 'sim_throughput.json'}")
    print(f"candidates_per_s={rate_a:.1f}")
    print(f"speedup_vs_peer_style={rate_a / rate_b:.1f}")


if __name__ == "__main__":
    main()
