"""``simulate``: a batch of networks x scenarios -> trajectories, status and solver statistics.

Engines (user guide: ``docs/engines.md``):

* ``"rodas"`` (default): Rodas4 (order 4, L-stable, per-system step control, dense output; the
  method is defined once in :mod:`gfn_crn.sim.rodas`), compiled with numba (``"rodas-numba"``,
  :mod:`gfn_crn.sim.rodas_numba`); if numba fails to load or compile, the torch engine on the CPU
  with a one-time warning.
* ``"rodas-numba"``: the compiled path only (raises :class:`CRNError` if it cannot be used).
* ``"torch"``: the same method in torch (:mod:`gfn_crn.sim.rodas_torch`), every system of the
  batch advancing together, on ``device`` (``"cpu"`` or ``"cuda"``), for large batches on an
  accelerator.
* ``"cvode"``: SUNDIALS CVODE (BDF of order <= 2 at a tenth of ``rtol``, dense, analytic
  Jacobian) through scikit-sundae, one system at a time: the robust fallback. It stops at the cap
  and after ``max_steps`` steps like the default engine (see :func:`_solve_cvode`).
* ``"scipy"``: ``scipy.integrate.solve_ivp`` (``Radau`` by default), one system at a time: the
  independent reference used by the tests (tight tolerances). It stops at the cap and after
  ``max_steps`` steps too (see :func:`_solve_scipy`).

A trajectory whose largest concentration reaches ``cap`` (default 1e4) or turns non-finite is
stopped, the rest of its points are set to ``cap`` and its status is ``DIVERGED``; a solver
failure (step size underflow, step budget exhausted) is filled the same way with status
``FAILED``. No exception escapes for a bad candidate; bad *input* (unknown inputs, malformed
grids) raises :class:`~gfn_crn.crn.CRNError`.

Concentrations are non-negative by construction of the model; solver round-off below zero is
reported as 0 (the most negative raw value is kept in ``stats["min_raw"]``).
"""

from __future__ import annotations

import logging
import time
import warnings
from functools import partial
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.limits import check_simulation_size
from ..crn.network import Network
from . import rodas
from .compile import CompiledBatch, compile_networks
from .kinetics import Kinetics
from .scenarios import PiecewiseConstant, Scenario, check_time_grid
from .status import STATUS_NAMES, FAILURES, SolverStatus, is_failure  # noqa: F401

OK = rodas.STATUS_OK
DIVERGED = rodas.STATUS_DIVERGED
FAILED = rodas.STATUS_FAILED  # one of the failure codes (gfn_crn.sim.status.FAILURES); test with is_failure
STEP_BUDGET = int(SolverStatus.STEP_BUDGET)  # the step budget (max_steps) was spent: a failure
ENGINES = ("rodas", "rodas-numba", "torch", "cvode", "scipy")
#: engines that no longer exist, and what to use instead
REMOVED_ENGINES = {"rodas-numpy": "the numpy Rodas4 was removed (numba is a pinned dependency): use 'rodas' "
                                  "(compiled) or 'torch' (the same method vectorised over the batch)"}

_log = logging.getLogger(__name__)


_FALLBACK_WARNED = False


def _compiled_available() -> bool:
    """Whether the numba kernel can be used; the first failure warns once (never silently)."""
    from . import rodas_numba

    try:
        rodas_numba.kernel()
        return True
    except RuntimeError as e:
        if not _FALLBACK_WARNED:
            _warn_fallback(str(e))
        return False


def _check_device(device) -> None:
    """A torch device that exists here, or a CRNError naming what is missing."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise CRNError(f"device {device!r} is not a torch device ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CRNError(f"device {str(device)!r}: CUDA is not available here (use device='cpu')")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise CRNError(f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA device(s) here")


def _warn_fallback(why: str) -> None:
    global _FALLBACK_WARNED
    _FALLBACK_WARNED = True
    msg = f"gfn_crn.sim: compiled Rodas kernel unavailable ({why}); using the torch engine on the CPU (slower)"
    _log.warning(msg)
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


class _ScenarioViews:
    """Views shared by deterministic and stochastic results: per-(network, scenario) ``ok``,
    per-network ``network_ok``, species lookup and status names (from ``_scenario_status``)."""

    species: tuple[str, ...]

    @property
    def ok(self) -> np.ndarray:
        """(networks, scenarios) bool: completed without divergence or failure."""
        return self._scenario_status == OK

    @property
    def network_ok(self) -> np.ndarray:
        """(networks,) bool: every scenario of the network is ok."""
        return self.ok.all(axis=1)

    def species_index(self, name: str) -> int:
        try:
            return self.species.index(name)
        except ValueError:
            raise CRNError(f"species {name!r} was not recorded (recorded: {' '.join(self.species)})") from None

    def status_name(self, b: int, s: int) -> str:
        return STATUS_NAMES[int(self._scenario_status[b, s])]


@dataclass
class SimResult(_ScenarioViews):
    """Trajectories ``y`` (networks, scenarios, points, species) with per-trajectory ``status``."""

    y: np.ndarray
    status: np.ndarray
    t: np.ndarray
    species: tuple[str, ...]
    scenarios: list[Scenario]
    stats: dict = field(default_factory=dict)

    @property
    def _scenario_status(self) -> np.ndarray:
        return self.status

    def output(self, name: str) -> np.ndarray:
        """(networks, scenarios, points) trajectory of one species."""
        return self.y[..., self.species_index(name)]


def _segments(scenarios: Sequence[Scenario], inputs: Sequence[str], t_final: float):
    """seg_end (S, G) and input values per segment u (S, G, Q)."""
    S = len(scenarios)
    bps = [[b for b in sc.breakpoints() if 0 < b < t_final] for sc in scenarios]
    G = 1 + max((len(b) for b in bps), default=0)
    seg_end = np.full((S, G), t_final)
    u = np.ones((S, G, len(inputs) + 1))  # last column: "no input" -> factor 1
    for s, (sc, bp) in enumerate(zip(scenarios, bps)):
        starts = [0.0] + bp
        seg_end[s, : len(bp)] = bp
        for g in range(G):
            t0 = starts[min(g, len(starts) - 1)]
            for q, name in enumerate(inputs):
                u[s, g, q] = sc.value(name, t0)
    return seg_end, u


def _check_scenarios(scenarios, species, inputs_used):
    if isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    scenarios = list(scenarios)
    if not scenarios:
        raise CRNError("no scenarios to simulate")
    for i, sc in enumerate(scenarios):
        if not isinstance(sc, Scenario):
            raise CRNError(f"scenario {i} is not a Scenario: {type(sc).__name__}")
        missing = [u for u in inputs_used if u not in sc.inputs]
        if missing:
            raise CRNError(f"the networks use input(s) {missing} that scenario {i} ({sc.describe()}) does not define")
        sc.init_vector(species)  # validates species names
    return scenarios


def simulate(
    networks: Network | Sequence[Network],
    scenarios: Scenario | Sequence[Scenario],
    t,
    *,
    engine: str = "rodas",
    rtol: float = 1e-5,
    atol: float = 1e-9,
    cap: float = 1e4,
    max_steps: int = 20000,
    method: str = "Radau",
    workers: int | None = None,
    progress: bool = False,
    device: str = "cpu",
    max_memory_mb: float | None = None,
) -> SimResult:
    """Simulate every network under every scenario on the time grid ``t`` (starting at 0).

    ``rtol``/``atol`` are the local error tolerances of the engine (the default rtol 1e-5 gives
    trajectories within ~2e-5 relative of a rtol-1e-10 reference on random RPA candidates, see
    ``benchmarks/RESULTS.md``); ``cap`` the divergence
    threshold; ``max_steps`` the step budget per system (every engine); ``method`` the scipy method
    (``engine="scipy"``); ``workers`` > 1 splits the networks over that many processes;
    ``device`` the torch device (``engine="torch"`` only). ``stats["engine"]`` names the engine
    that actually ran (``"rodas-numba"``, or ``"torch"`` after a fallback, for ``"rodas"``).
    ``max_memory_mb``: the largest trajectory array (networks x scenarios x points x species
    float64) the call may allocate, checked before any work (default ``GFN_CRN_MAX_SIM_MB`` or
    2,000 MB; :func:`gfn_crn.crn.limits.check_simulation_size`).
    """
    if isinstance(networks, Network):
        networks = [networks]
    networks = list(networks)
    if engine in REMOVED_ENGINES:
        raise CRNError(f"engine {engine!r}: {REMOVED_ENGINES[engine]}")
    if engine not in ENGINES:
        raise CRNError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    for name, v in (("rtol", rtol), ("atol", atol), ("cap", cap)):
        if not (np.isfinite(v) and v > 0):
            raise CRNError(f"{name} must be finite and > 0, got {v}")
    t = check_time_grid(t)
    cb = compile_networks(networks)
    species = cb.species
    scenarios = _check_scenarios(scenarios, species, cb.inputs)
    check_simulation_size(cb.B, len(scenarios), t.size, cb.N, max_memory_mb)
    if workers is not None and workers > 1 and len(networks) > 1:
        return _simulate_parallel(networks, scenarios, t, workers, engine=engine, rtol=rtol, atol=atol,
                                  cap=cap, max_steps=max_steps, method=method, device=device,
                                  max_memory_mb=max_memory_mb)
    if engine == "rodas":
        engine, device = ("rodas-numba", device) if _compiled_available() else ("torch", "cpu")
    if engine == "torch":
        _check_device(device)
    elif engine == "rodas-numba":
        from . import rodas_numba

        try:
            rodas_numba.kernel()
        except RuntimeError as e:
            raise CRNError(f"engine 'rodas-numba' is unavailable: {e}") from None
    t0 = time.perf_counter()
    B, S, N, R = cb.B, len(scenarios), cb.N, cb.coef.shape[1]
    seg_end, u = _segments(scenarios, cb.inputs, float(t[-1]))
    # coefficients per (network, scenario, segment, term)
    ch = np.where(cb.chan >= 0, cb.chan, u.shape[2] - 1)                     # (B, R)
    coef = cb.coef[:, None, None, :] * u[:, :, ch].transpose(2, 0, 1, 3)      # (B, S, G, R)
    y0 = np.stack([sc.init_vector(species) for sc in scenarios])            # (S, N)
    net_of_sys = np.repeat(np.arange(B), S)
    scen_of_sys = np.tile(np.arange(S), B)
    coef_sys = coef.reshape(B * S, -1, R)                                    # (A, G, R)
    seg_end_sys = seg_end[scen_of_sys]
    y0_sys = y0[scen_of_sys].T.copy()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=B * S, desc="simulating", unit="traj", leave=False)
    try:
        if engine == "rodas-numba":
            from . import rodas_numba

            Y, status, steps, rej, min_raw = rodas_numba.integrate(
                cb, net_of_sys, y0_sys, t, seg_end_sys, coef_sys, rtol=rtol, atol=atol, cap=cap,
                max_steps=max_steps, progress=bar.update if bar else None)
        elif engine == "torch":
            from . import rodas_torch

            Y, status, steps, rej = rodas_torch.integrate(
                cb, net_of_sys, y0_sys, t, seg_end_sys, coef_sys, rtol=rtol, atol=atol, cap=cap,
                max_steps=max_steps, device=device, progress=bar.update if bar else None)
        else:
            Y = np.empty((B * S, t.size, N))
            status = np.zeros(B * S, dtype=np.int8)
            steps = np.zeros(B * S, dtype=np.int64)
            rej = np.zeros(B * S, dtype=np.int64)
            solve_one = partial(_solve_scipy if engine == "scipy" else _solve_cvode, max_steps=max_steps)
            for a in range(B * S):
                Y[a], status[a], steps[a] = solve_one(
                    cb, int(net_of_sys[a]), y0_sys[:, a], t, seg_end_sys[a], coef_sys[a], rtol, atol, cap, method)
                if bar:
                    bar.update(1)
    finally:
        if bar:
            bar.close()
    if engine != "rodas-numba":  # the compiled kernel clips as it writes
        min_raw = float(np.min(Y)) if Y.size else 0.0
        np.clip(Y, 0.0, cap, out=Y)
    stats = {
        "engine": engine,
        "systems": B * S,
        "seconds": time.perf_counter() - t0,
        "steps": steps.reshape(B, S),
        "rejected": rej.reshape(B, S),
        "min_raw": min_raw,
    }
    return SimResult(Y.reshape(B, S, t.size, N), status.reshape(B, S), t, species, scenarios, stats)


# ------------------------------------------------------------------ one-system engines
def _one_kinetics(cb: CompiledBatch, b: int, coef_row: np.ndarray) -> Kinetics:
    return Kinetics(cb, np.array([b]), coef_row[None, :])


def _solve_segments(cb, b, y0, t, seg_end, seg_coef, cap, solve_segment):
    """Shared driver for the one-system engines: integrate segment by segment onto the grid."""
    N = y0.size
    Y = np.full((t.size, N), cap)
    Y[0] = y0
    y = y0.copy()
    t_start = 0.0
    nsteps = 0
    G = seg_end.size
    for g in range(G):
        t_end = float(seg_end[g])
        if t_end <= t_start:
            continue
        kin = _one_kinetics(cb, b, seg_coef[g])
        mask = (t > t_start) & (t <= t_end)
        t_eval = t[mask]
        status, yseg, yend, n = solve_segment(kin, y, t_start, t_end, t_eval)
        nsteps += n
        if status != OK:
            idx = np.nonzero(mask)[0]
            good = yseg.shape[0]
            Y[idx[:good]] = yseg
            return Y, status, nsteps
        Y[mask] = yseg
        y = yend
        t_start = t_end
        if t_end >= t[-1]:
            break
    return Y, OK, nsteps


def _solve_scipy(cb, b, y0, t, seg_end, seg_coef, rtol, atol, cap, method, max_steps=20000):
    """One system with ``scipy.integrate.solve_ivp``, segment by segment.

    Gives up like the other engines: a terminal event stops the integration as soon as the largest
    concentration reaches ``cap`` or turns non-finite (``DIVERGED``), and a second one once the
    system has taken ``max_steps`` steps over all its segments (``STEP_BUDGET``, a failure; solve_ivp
    has no step limit of its own, and a stiff random candidate at rtol 1e-8 ran for minutes).
    Events are evaluated once per accepted step (and a few times more while a root is located), so
    the count is the steps taken. The number of right-hand-side evaluations is returned."""
    from scipy.integrate import solve_ivp

    budget = max(int(max_steps), 1)
    steps = {"used": 0, "t_last": 0.0, "stop": None}  # over all segments of this system

    def seg(kin, y, t0, t1, t_eval):
        def f(_, x):
            return kin.rhs(x[:, None])[:, 0]

        def jac(_, x):
            return kin.jac(x[:, None])[:, :, 0]

        def blowup(_, x):
            return cap - np.max(np.abs(x)) if np.all(np.isfinite(x)) else -1.0

        def out_of_steps(t, _x):
            # positive while steps are left; once the budget is spent, a root in the middle of the
            # step that spent it (the event is a function of t then, as solve_ivp's root finder needs)
            if steps["stop"] is None:
                steps["used"] += 1
                if steps["used"] <= budget:
                    steps["t_last"] = t
                    return 1.0
                steps["stop"] = 0.5 * (steps["t_last"] + t)
            return steps["stop"] - t

        blowup.terminal = True
        out_of_steps.terminal = True
        # evaluate at the segment end too (it is the next segment's start), then drop it
        extra = not (t_eval.size and t_eval[-1] == t1)
        t_out = np.append(t_eval, t1) if extra else t_eval
        try:
            with np.errstate(all="ignore"):
                sol = solve_ivp(f, (t0, t1), y, method=method, t_eval=t_out, rtol=rtol, atol=atol,
                                jac=jac if method in ("Radau", "BDF", "LSODA") else None,
                                events=[blowup, out_of_steps])
        except Exception:  # noqa: BLE001 - a bad candidate must never raise
            return FAILED, np.empty((0, y.size)), y, 0
        n = int(getattr(sol, "nfev", 0))
        # solve_ivp returns an empty list, not an array, when no output time was reached
        Y = np.asarray(sol.y, dtype=float).reshape(y.size, -1)
        ys = Y.T[: t_eval.size]
        if sol.status == 1 and len(sol.t_events[1]) and not len(sol.t_events[0]):
            return STEP_BUDGET, ys[: np.sum(np.all(np.isfinite(ys), axis=1))], y, n
        if sol.status == 1 or (ys.size and not np.all(np.isfinite(ys))):
            return DIVERGED, ys[: np.sum(np.all(np.isfinite(ys), axis=1))], y, n
        if sol.status != 0 or Y.shape[1] < t_out.size:
            return FAILED, ys, y, n
        return OK, ys, Y[:, -1], n

    return _solve_segments(cb, b, y0, t, seg_end, seg_coef, cap, seg)


#: CVODE's BDF order limit. Orders 3-5 are not A-stable: random networks' oscillatory stiff modes
#: hold them to tiny steps (a diverging candidate took 7,600 steps to reach the cap where Rodas
#: took 102, and one that never reached it ran 50,000 steps per output interval). Order 2 is
#: A-stable; with the tolerance tightened by CVODE_RTOL_FACTOR its error on random candidates
#: matches order 5 at the requested one (benchmarks/RESULTS.md).
CVODE_MAX_ORDER = 2
CVODE_RTOL_FACTOR = 0.1


def _solve_cvode(cb, b, y0, t, seg_end, seg_coef, rtol, atol, cap, method, max_steps=20000):
    """One system with CVODE (BDF of order <= 2, dense, analytic Jacobian), segment by segment.

    Gives up like the default engine: a root function stops the integration as soon as the
    largest concentration reaches ``cap`` or turns non-finite (``DIVERGED``), and a second one
    when the system has used ``max_steps`` steps over all its segments (``FAILED``). The step
    count (root-function evaluations, one per step plus a few per located root) is returned.
    """
    from sksundae.cvode import CVODE

    used = [0]  # steps over all segments of this system
    budget = max(int(max_steps), 1)

    def seg(kin, y, t0, t1, t_eval):
        def rhsfn(_, x, xp):
            xp[:] = kin.rhs(x[:, None])[:, 0]

        def jacfn(_, x, xp, JJ):
            JJ[:, :] = kin.jac(x[:, None])[:, :, 0]

        def events(_, x, ev):
            used[0] += 1
            m = np.max(np.abs(x))
            ev[0] = cap - m if np.isfinite(m) else -1.0
            ev[1] = budget - used[0] + 0.5

        events.terminal = [True, True]
        events.direction = [0, 0]
        start = used[0]
        try:
            solver = CVODE(rhsfn, rtol=rtol * CVODE_RTOL_FACTOR, atol=atol, jacfn=jacfn, linsolver="dense",
                           max_order=CVODE_MAX_ORDER, max_num_steps=budget, eventsfn=events, num_events=2)
            tspan = np.concatenate([[t0], t_eval] + ([[t1]] if not (t_eval.size and t_eval[-1] == t1) else []))
            if tspan.size < 3:  # CVODE wants at least one intermediate output for arrays
                tspan = np.array([t0, 0.5 * (t0 + t1), t1])
            with np.errstate(all="ignore"):
                sol = solver.solve(tspan, y.copy())
        except Exception:  # noqa: BLE001
            return FAILED, np.empty((0, y.size)), y, used[0] - start
        n = used[0] - start
        ys = np.asarray(sol.y)
        ts = np.asarray(sol.t)
        if sol.t_events is not None and len(sol.t_events):
            good = np.searchsorted(t_eval, float(sol.t_events[0]), side="right")
            hit = np.asarray(sol.i_events)[0] if sol.i_events is not None else np.array([1, 0])
            status = DIVERGED if hit[0] != 0 else FAILED
            return status, _pick(ts, ys, t_eval[:good]), y, n
        if not sol.success:
            good = np.searchsorted(t_eval, ts[-1], side="right") if ts.size else 0
            return FAILED, _pick(ts, ys, t_eval[:good]), y, n
        return OK, _pick(ts, ys, t_eval), ys[-1], n

    return _solve_segments(cb, b, y0, t, seg_end, seg_coef, cap, seg)


def _pick(ts, ys, t_eval):
    idx = np.searchsorted(ts, t_eval)
    idx = np.clip(idx, 0, max(ts.size - 1, 0))
    return ys[idx]


# ------------------------------------------------------------------ process pool
def _simulate_chunk(args):
    nets, scenarios, t, kw = args
    return simulate(nets, scenarios, t, **kw)


def _simulate_parallel(networks, scenarios, t, workers, **kw) -> SimResult:
    chunks = np.array_split(np.arange(len(networks)), min(workers, len(networks)))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as ex:
        parts = list(ex.map(_simulate_chunk, [([networks[i] for i in c], scenarios, t, kw) for c in chunks]))
    res = SimResult(
        np.concatenate([p.y for p in parts]), np.concatenate([p.status for p in parts]), t, parts[0].species,
        scenarios,
        {
            "engine": parts[0].stats["engine"], "systems": sum(p.stats["systems"] for p in parts),
            "seconds": time.perf_counter() - t0,
            "steps": np.concatenate([p.stats["steps"] for p in parts]),
            "rejected": np.concatenate([p.stats["rejected"] for p in parts]),
            "min_raw": min(p.stats["min_raw"] for p in parts), "workers": len(chunks),
        },
    )
    return res
