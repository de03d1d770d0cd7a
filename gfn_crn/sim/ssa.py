"""Stochastic simulation on molecule counts: Gillespie's direct method (exact) and tau-leaping,
batched over networks x scenarios x trajectories and vectorised with numpy (batch axis last).

Model (DESIGN.md section 3, on counts). A concentration ``x`` becomes ``n = round(x * volume)``
molecules; a term ``coef * prod_j f_j(x)`` of :mod:`gfn_crn.sim.compile` has the propensity

    a(n) = volume * coef * prod_j f_j(n / volume)

with the combinatorial correction for repeated reactants: the second LINEAR factor of ``2 X``
uses ``(n - 1) / volume`` (so ``k x^2`` becomes ``k n (n - 1) / volume``, whose mean-field limit
is the ODE's ``k x^2``: the ODE has no 1/2 factor, and neither does the propensity). Hill and
active-degradation factors are evaluated at ``n / volume`` (the usual non-elementary
propensities). Results are reported as concentrations (counts / volume).

Exact method: every active trajectory draws its waiting time ``tau = E / a0`` (E standard
exponential) and a reaction with probability ``a_r / a0``. A piecewise-constant input is exact:
a waiting time that would cross the segment boundary is discarded (memorylessness), the clock is
set to the boundary, the coefficients switch and the next step redraws. A trajectory with
``a0 = 0`` waits for the next boundary (or the end).

Recording: the value at grid time ``t_k`` is the state *before* any jump at ``t_k`` (the state
after every event at times < ``t_k``; events happen at a grid time with probability 0).

Flags (per trajectory, like :func:`gfn_crn.sim.simulate`): ``DIVERGED`` when a count reaches
``cap * volume`` (cap in concentration units, default 1e4; counts change by integers and stay
finite); ``FAILED`` when the trajectory has used ``max_events`` reaction events (exact) or
steps (tau) before the end (an infinite propensity ends here too). The rest of a flagged
trajectory is filled with ``cap``. Both checks are exact but lazy: a pass adds at most one event
and ``max(S)`` molecules to a count, so they run only when the cap or budget could be reached.
With ``abort_network=True`` (what tasks use) one flagged trajectory stops its network's other
trajectories with the same flag. No exception escapes for a bad
candidate; bad *input* raises :class:`~gfn_crn.crn.CRNError`.

Tau-leaping (``method="tau"``): Cao, Gillespie and Petzold's step-size selection (J. Chem. Phys.
124, 044109 (2006)) with error parameter ``tau_epsilon`` (bound on the relative change of every
propensity per leap, default 0.03) over the non-critical reactions; *critical* reactions (fewer
than 10 firings from exhausting a reactant) fire at most once per leap, exactly (their next event
time is drawn and the leap stops there if it comes first). Leaps are clipped to the next grid
time and segment boundary; a leap that would make a count negative is rejected and retried with
half the step; where a leap would cover fewer than 10 expected events the trajectory takes an
exact SSA step instead. Error: a bias of order ``tau_epsilon`` in the moments. Measured
(``tests/test_ssa.py``: dimerisation at ~700 molecules, 600 trajectories; and
``benchmarks/ssa_throughput.py``: the antithetic design at volume 100): means and standard
deviations within sampling error of the exact method. It only pays off at large counts: for
the antithetic design at volume 100 (~50-150 molecules) a leap would cover fewer than 10 events,
every step falls back to an exact one and the bookkeeping makes tau-leaping ~3x *slower*; at
volume 1000 it takes ~8,700 steps per trajectory where the exact method needs ~1.1e6 events.

Randomness: one :class:`numpy.random.Generator` (``seed``) drives the whole batch, so the same
seed and the same batch give the same trajectories; a trajectory's values depend on the batch it
was simulated in (draws are shared out lane by lane).

Cost: the loop runs once per event of the busiest trajectory; each pass costs a few numpy calls
over the active trajectories (finished ones are compacted away). Expect about
``volume * (sum of concentration fluxes) * t_final`` events per trajectory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Network
from .compile import ACT, CONST, LINEAR, REP, CompiledBatch, compile_networks
from .scenarios import Scenario, check_time_grid
from .simulate import DIVERGED, FAILED, OK, SimResult, _check_scenarios, _ScenarioViews, _segments

METHODS = ("exact", "tau")
RECORDS = ("trajectories", "moments")

#: a leap must cover at least this many expected events, else the lane takes an exact step
TAU_MIN_EVENTS = 10.0


# ------------------------------------------------------------------ result
@dataclass
class SSAResult(_ScenarioViews):
    """Stochastic trajectories of B networks x S scenarios x M trajectories on the grid ``t``.

    Values are concentrations (counts / ``volume``) of the recorded ``species``.

    * ``y``: (B, S, M, T, Nr) every trajectory (``record="trajectories"``), else ``None``;
    * ``mean``, ``var``: (B, S, T, Nr) mean and unbiased variance over the M trajectories
      (``var`` is 0 when M = 1); flagged trajectories count with their ``cap`` fill;
    * ``status``: (B, S, M) int8 OK / DIVERGED / FAILED per trajectory;
    * ``events``: (B, S, M) reaction events (exact) or leaps + exact steps (tau) per trajectory.
    """

    t: np.ndarray
    species: tuple[str, ...]
    scenarios: list[Scenario]
    volume: float
    mean: np.ndarray
    var: np.ndarray
    status: np.ndarray
    events: np.ndarray
    y: np.ndarray | None = None
    stats: dict = field(default_factory=dict)

    @property
    def n_trajectories(self) -> int:
        return self.status.shape[2]

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.maximum(self.var, 0.0))

    @property
    def scenario_status(self) -> np.ndarray:
        """(B, S) int8: DIVERGED if any trajectory diverged, else FAILED if any failed, else OK."""
        st = self.status
        return np.where((st == DIVERGED).any(axis=2), DIVERGED,
                        np.where((st == FAILED).any(axis=2), FAILED, OK)).astype(np.int8)

    _scenario_status = scenario_status  # ok / network_ok / status_name views (every trajectory completed)

    def mean_output(self, name: str) -> np.ndarray:
        """(B, S, T) mean trajectory of one species."""
        return self.mean[..., self.species_index(name)]

    def as_sim_result(self) -> SimResult:
        """The mean trajectories as a :class:`~gfn_crn.sim.SimResult` (status per scenario), for code
        written against the deterministic engine (tasks, plots)."""
        stats = dict(self.stats)
        stats["steps"] = self.events.max(axis=2)
        return SimResult(self.mean, self.scenario_status, self.t, self.species, self.scenarios, stats)


# ------------------------------------------------------------------ compiled propensities
def falling_offsets(cb: CompiledBatch) -> np.ndarray:
    """(B, R, J) int: for each LINEAR factor, how many earlier LINEAR factors of the same term
    name the same species (0 for ``X``, 1 for the second factor of ``2 X``). The stochastic
    propensity uses ``n - offset`` (the falling factorial n (n-1) ...)."""
    lin = cb.ftype == LINEAR
    same = (cb.fidx[..., :, None] == cb.fidx[..., None, :]) & lin[..., :, None] & lin[..., None, :]
    J = cb.ftype.shape[2]
    earlier = np.tril(np.ones((J, J), dtype=bool), k=-1)        # [j, l]: l < j
    return (same & earlier).sum(axis=-1).astype(np.int64)


class _Lanes:
    """Per-trajectory (lane) arrays, batch axis last, compacted as lanes finish.

    Mass-action-only batches fold the volume powers into the coefficients
    (``a = coef * volume^(1 - order) * prod n_(j)``) and work on raw counts; batches with Hill
    factors evaluate the factors at concentrations ``n / volume``.
    """

    def __init__(self, cb: CompiledBatch, net_of: np.ndarray, coef0: np.ndarray, volume: float):
        B, R, J = cb.ftype.shape
        self.N, self.R, self.J = cb.N, R, J
        self.volume = volume
        self.has_hill = cb.has_hill
        off = falling_offsets(cb)
        self.has_off = bool(off.any())
        self.net = net_of
        if self.has_hill:
            scale = np.full((B, R), volume)
        else:   # volume * prod_j (n_j / volume) over the LINEAR factors
            scale = volume ** (1.0 - (cb.ftype == LINEAR).sum(axis=2))
        self.cscale = np.ascontiguousarray(scale[net_of].T)                               # (R, A)
        self.coefV = np.ascontiguousarray(coef0.T) * self.cscale                          # (R, A)
        self.fidx = np.ascontiguousarray(cb.fidx[net_of].reshape(len(net_of), R * J).T)     # (RJ, A)
        self._per_lane = ["coefV", "cscale", "fidx", "net"]
        if self.has_off:
            self.off = np.ascontiguousarray(off[net_of].reshape(len(net_of), R * J).T).astype(float)
            self._per_lane.append("off")
        if self.has_hill:
            ft = cb.ftype[net_of].reshape(len(net_of), R * J).T
            self.is_act = np.ascontiguousarray(ft == ACT)
            self.is_rep = np.ascontiguousarray(ft == REP)
            self.is_hill = self.is_act | self.is_rep
            self.fn = np.ascontiguousarray(cb.fn[net_of].reshape(len(net_of), R * J).T)
            self.Kn = np.ascontiguousarray(cb.fK[net_of].reshape(len(net_of), R * J).T) ** self.fn
            self._per_lane += ["is_act", "is_rep", "is_hill", "fn", "Kn"]
        # net stoichiometry per network and term, rows (b * R + r); a last zero row for "no event"
        self.S2 = np.zeros((B * R + 1, cb.N))
        self.S2[:-1] = cb.S.transpose(0, 2, 1).reshape(B * R, cb.N)
        self.null_row = B * R
        self._index()

    def _index(self):
        A = self.coefV.shape[1]
        self.flat = self.fidx * A + np.arange(A)
        self.netR = self.net * self.R
        self._nt = np.empty((self.N + 1, A))
        self._nt[self.N] = self.volume if self.has_hill else 1.0   # the constant slot

    @property
    def A(self) -> int:
        return self.coefV.shape[1]

    def take(self, keep: np.ndarray) -> None:
        for name in self._per_lane:
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[..., keep]))
        self._index()

    def set_coef(self, idx: np.ndarray, coef_rows: np.ndarray) -> None:
        """New term coefficients (m, R) for lanes ``idx`` (a segment switch)."""
        self.coefV[:, idx] = coef_rows.T * self.cscale[:, idx]

    def propensities(self, n: np.ndarray) -> np.ndarray:
        """(R, A) propensities of counts ``n`` (N, A)."""
        nt = self._nt
        nt[: self.N] = n
        h = np.take(nt, self.flat)                                   # (RJ, A) counts (or the constant)
        if self.has_off:
            h -= self.off
            np.maximum(h, 0.0, out=h)
        if self.has_hill:
            h *= 1.0 / self.volume                                   # concentrations
            vn = np.where(self.is_hill, h, 1.0) ** self.fn
            den = self.Kn + vn
            h = np.where(self.is_act, vn / den, np.where(self.is_rep, self.Kn / den, h))
        h = h.reshape(self.R, self.J, -1)
        a = self.coefV * h[:, 0]
        for j in range(1, self.J):
            a *= h[:, j]
        return a

    def delta(self, r: np.ndarray, fire: np.ndarray | None = None) -> np.ndarray:
        """(N, A) change of counts when each lane fires its term ``r`` (A,) (where ``fire``)."""
        rows = self.netR + r
        if fire is not None:
            rows = np.where(fire, rows, self.null_row)
        return self.S2[rows].T


def _select(a: np.ndarray, u: np.ndarray):
    """Cumulative propensities by rows (R additions: faster than np.cumsum along a short axis 0),
    the total a0 and the selected term: the first r with cum_r >= (1 - u) a0 (always one with
    a_r > 0 when a0 > 0, since a0 is the last cumulative row itself)."""
    R = a.shape[0]
    cum = np.empty_like(a)
    cum[0] = a[0]
    for j in range(1, R):
        np.add(cum[j - 1], a[j], out=cum[j])
    a0 = cum[-1]
    thr = (1.0 - u) * a0
    r = np.zeros(a.shape[1], dtype=np.int64)
    for j in range(R - 1):
        r += cum[j] < thr
    return cum, a0, r


# ------------------------------------------------------------------ recording
class _Recorder:
    """Writes runs of grid points (lane, k0..k1-1) holding one state; trajectories or moments."""

    def __init__(self, mode: str, n_lanes: int, M: int, T: int, rec_idx: np.ndarray, volume: float):
        self.mode, self.M, self.T, self.rec = mode, M, T, rec_idx
        self.volume = volume
        nr = len(rec_idx)
        if mode == "trajectories":
            self.Y = np.empty((n_lanes, T, nr))
        self.S1 = np.zeros((n_lanes // M * T, nr))
        self.S2 = np.zeros((n_lanes // M * T, nr))

    def write(self, lane: np.ndarray, k0: np.ndarray, k1: np.ndarray, counts: np.ndarray) -> None:
        """``lane`` global lane ids (m,), grid runs [k0, k1), ``counts`` (N, m)."""
        cnt = k1 - k0
        tot = int(cnt.sum())
        if tot == 0:
            return
        vals = counts[self.rec].T                                  # (m, Nr)
        if tot == cnt.size:  # one point per lane (the common case at large volumes)
            rl, k, v = lane, k0, vals
        else:
            rl = np.repeat(lane, cnt)
            k = np.repeat(k0 - (np.cumsum(cnt) - cnt), cnt) + np.arange(tot)
            v = np.repeat(vals, cnt, axis=0)
        if self.mode == "trajectories":
            self.Y[rl, k] = v * (1.0 / self.volume)
        gk = (rl // self.M) * self.T + k
        np.add.at(self.S1, gk, v)
        np.add.at(self.S2, gk, v * v)

    def moments(self, shape) -> tuple[np.ndarray, np.ndarray]:
        M, V = self.M, self.volume
        s1 = self.S1.reshape(shape)
        s2 = self.S2.reshape(shape)
        mean = s1 / M
        var = np.maximum(s2 - s1 * mean, 0.0) / (M - 1) if M > 1 else np.zeros_like(mean)
        return mean / V, var / (V * V)


# ------------------------------------------------------------------ main entry
def ssa(
    networks: Network | Sequence[Network],
    scenarios: Scenario | Sequence[Scenario],
    t,
    *,
    trajectories: int = 1,
    volume: float = 100.0,
    seed: int | np.random.Generator | None = None,
    max_events: int = 1_000_000,
    cap: float = 1e4,
    method: str = "exact",
    tau_epsilon: float = 0.03,
    record: str = "trajectories",
    species: Sequence[str] | None = None,
    compact_fraction: float = 0.125,
    abort_network: bool = False,
) -> SSAResult:
    """Stochastic simulation of every network under every scenario, ``trajectories`` times each.

    Args:
        networks, scenarios, t: as for :func:`gfn_crn.sim.simulate` (the grid starts at 0).
        trajectories: M independent trajectories per (network, scenario).
        volume: counts per unit concentration: initial counts are ``round(x0 * volume)``.
        seed: an int, a :class:`numpy.random.Generator` or ``None`` (fresh entropy).
        max_events: budget of events (exact) or steps (tau) per trajectory; exhausted -> FAILED.
        cap: divergence threshold in concentration units (counts ``cap * volume``).
        method: ``"exact"`` (Gillespie direct) or ``"tau"`` (tau-leaping, see the module notes).
        tau_epsilon: tau-leaping error parameter.
        record: ``"trajectories"`` keeps every trajectory (memory B*S*M*T*Nr floats) and the
            moments; ``"moments"`` only the mean and variance (what the tasks use).
        species: species to record (default all).
        compact_fraction: drop finished lanes once this fraction of the active ones is done.
        abort_network: when one trajectory of a network diverges or fails, stop the network's
            unfinished trajectories with the same flag (filled with the cap): what a task needs
            (one flagged trajectory makes the candidate invalid) at a fraction of the cost.
    """
    if isinstance(networks, Network):
        networks = [networks]
    networks = list(networks)
    if method not in METHODS:
        raise CRNError(f"unknown SSA method {method!r} (known: {', '.join(METHODS)})")
    if record not in RECORDS:
        raise CRNError(f"unknown record mode {record!r} (known: {', '.join(RECORDS)})")
    if int(trajectories) != trajectories or trajectories < 1:
        raise CRNError(f"trajectories must be an integer >= 1, got {trajectories}")
    trajectories = int(trajectories)
    for name, v in (("volume", volume), ("cap", cap), ("tau_epsilon", tau_epsilon)):
        if not (isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v > 0):
            raise CRNError(f"{name} must be finite and > 0, got {v}")
    if int(max_events) != max_events or max_events < 1:
        raise CRNError(f"max_events must be an integer >= 1, got {max_events}")
    volume, cap, max_events = float(volume), float(cap), int(max_events)
    t = check_time_grid(t)
    cb = compile_networks(networks)
    scenarios = _check_scenarios(scenarios, cb.species, cb.inputs)
    rec_names = tuple(cb.species) if species is None else tuple(species)
    for s in rec_names:
        if s not in cb.species:
            raise CRNError(f"unknown species {s!r} to record (species: {' '.join(cb.species)})")
    rec_idx = np.array([cb.species.index(s) for s in rec_names], dtype=np.int64)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    t0_wall = time.perf_counter()
    B, S, M, N, T = cb.B, len(scenarios), trajectories, cb.N, t.size
    R = cb.coef.shape[1]
    t_final = float(t[-1])
    seg_end, u = _segments(scenarios, cb.inputs, t_final)                      # (S, G), (S, G, Q+1)
    ch = np.where(cb.chan >= 0, cb.chan, u.shape[2] - 1)
    coef = cb.coef[:, None, None, :] * u[:, :, ch].transpose(2, 0, 1, 3)      # (B, S, G, R)
    G = seg_end.shape[1]
    A = B * S * M
    lane_b = np.repeat(np.arange(B), S * M)
    lane_s = np.tile(np.repeat(np.arange(S), M), B)
    bs_coef = coef.reshape(B * S, G, R)                                       # rows b * S + s
    bs_of = lane_b * S + lane_s
    x0 = np.stack([sc.init_vector(cb.species) for sc in scenarios])           # (S, N)
    n = np.rint(x0 * volume)[lane_s].T.copy()                                 # (N, A)

    lanes = _Lanes(cb, lane_b, bs_coef[bs_of, 0], volume)
    rec = _Recorder(record, A, M, T, rec_idx, volume)
    gid = np.arange(A)                     # global lane id of each active lane
    tcur = np.zeros(A)
    kn = np.zeros(A, dtype=np.int64)       # next grid index to record
    g = np.zeros(A, dtype=np.int64)        # current segment
    segend = seg_end[lane_s, 0].copy()
    events = np.zeros(A, dtype=np.int64)
    status = np.zeros(A, dtype=np.int8)
    events_out = np.zeros(A, dtype=np.int64)
    capn = cap * volume
    done = np.zeros(A, dtype=bool)
    n_done = 0
    passes = 0
    leap_rejects = 0
    tau_mode = method == "tau"
    if tau_mode:
        tau_info = _tau_setup(cb, lanes)
        tau_info["eps"] = tau_epsilon
        tau_scale = np.ones(A)

    def finish(sel: np.ndarray, st: int, fill_cap: bool):
        """Close lanes ``sel`` (bool over active): record the rest of their grid, set status."""
        nonlocal n_done
        idx = np.nonzero(sel)[0]
        if idx.size == 0:
            return
        vals = np.full((N, idx.size), capn) if fill_cap else n[:, idx]
        rec.write(gid[idx], kn[idx], np.full(idx.size, T), vals)
        kn[idx] = T
        status[gid[idx]] = st
        events_out[gid[idx]] = events[idx]
        done[idx] = True
        n_done += idx.size
        if abort_network and st != OK:
            bad_nets = np.unique(lane_b[gid[idx]])
            rest = np.isin(lane_b[gid], bad_nets) & ~done
            if rest.any():
                finish(rest, st, True)

    tmax = t[T - 1]
    # exact lazy checks: an exact step adds at most `dmax` molecules to a count and one event, so
    # the cap and the budget cannot be reached before `next_check` passes
    dmax = max(1.0, float(np.max(cb.S))) if cb.S.size else 1.0
    next_check = 0
    err = np.seterr(divide="ignore", invalid="ignore", over="ignore")
    try:
        while True:
            A = gid.size
            if n_done >= max(1, compact_fraction * A):
                keep = ~done
                if not keep.any():
                    break
                gid, tcur, kn, g, segend, events, n = gid[keep], tcur[keep], kn[keep], g[keep], segend[keep], \
                    events[keep], n[:, keep]
                if tau_mode:
                    tau_scale = tau_scale[keep]
                lanes.take(keep)
                done = np.zeros(gid.size, dtype=bool)
                n_done = 0
                A = gid.size
            passes += 1
            a = lanes.propensities(n)
            ex = rng.standard_exponential(A)
            cum, a0, r = _select(a, rng.random(A))
            tnew = tcur + ex / a0                            # a0 = 0 -> inf: wait for the boundary
            live = ~done
            if tau_mode:
                tau, leap, crit, Sl = _tau_select(tau_info, lanes, n, a, a0, tau_scale)
                leap &= live
                d = np.zeros((N, A))
                if leap.any():
                    li = np.nonzero(leap)[0]
                    # leap to min(t + tau, the next grid time after t, the segment end)
                    k = np.minimum(kn[li], T - 1)
                    tg = np.where(t[k] > tcur[li], t[k], t[np.minimum(k + 1, T - 1)])
                    tl = np.minimum(np.minimum(tcur[li] + tau[li], tg), segend[li])
                    dl, ok, tl = _tau_leap(rng, Sl[li], n[:, li], a[:, li], crit[:, li], tcur[li], tl)
                    tau_scale[li] = np.where(ok, 1.0, tau_scale[li] * 0.5)
                    leap_rejects += int(np.sum(~ok))
                    d[:, li] = dl * ok
                    tnew[li] = np.where(ok, tl, tcur[li])       # a rejected leap stays put and retries
                hit = (tnew >= segend) & ~leap
                fire = ~hit & live
                d += lanes.delta(r, fire & ~leap)
            else:
                hit = tnew >= segend
                fire = ~hit & live
                d = lanes.delta(r, fire)
            # record the grid points in [t, min(t_new, segment end)) with the state before the jump
            tstop = np.minimum(tnew, segend)
            w = (t[np.minimum(kn, T - 1)] < tstop) & live
            if w.any():
                idx = np.nonzero(w)[0]
                khi = np.searchsorted(t, tstop[idx], side="left")
                rec.write(gid[idx], kn[idx], khi, n[:, idx])
                kn[idx] = khi
            n += d
            events += fire
            tcur = tstop
            # flags: divergence, end of time, budget; segment switches
            at_b = tcur >= segend
            if tau_mode or passes >= next_check:
                nmax = n.max(axis=0)                         # counts stay finite (integer steps)
                big = nmax >= capn
                over = events >= max_events
                live_now = ~done
                if live_now.any():
                    head = min((capn - nmax[live_now].max()) / dmax, max_events - events[live_now].max())
                    next_check = passes + max(int(head) - 1, 0)
                flagged = (big | over).any()
            else:
                big = over = False
                flagged = False
            if flagged or at_b.any():
                at_b &= live
                end = at_b & (segend >= tmax)
                sw = at_b & ~end
                if sw.any():
                    si = np.nonzero(sw)[0]
                    g[si] += 1
                    lanes.set_coef(si, bs_coef[bs_of[gid[si]], g[si]])
                    segend[si] = seg_end[lane_s[gid[si]], g[si]]
                finish(big & live, DIVERGED, True)
                finish(end & ~done, OK, False)
                finish(over & ~done, FAILED, True)
                if n_done == A:
                    break
    finally:
        np.seterr(**err)

    mean, var = rec.moments((B, S, T, len(rec_idx)))
    y = rec.Y.reshape(B, S, M, T, len(rec_idx)) if record == "trajectories" else None
    stats = {"method": method, "volume": volume, "trajectories": M, "passes": passes,
             "seconds": time.perf_counter() - t0_wall, "events_total": int(events_out.sum())}
    if tau_mode:
        stats["leap_rejects"] = leap_rejects
    return SSAResult(t, rec_names, scenarios, volume, mean, var, status.reshape(B, S, M),
                     events_out.reshape(B, S, M), y, stats)


# ------------------------------------------------------------------ tau-leaping
def _tau_setup(cb: CompiledBatch, lanes: _Lanes) -> dict:
    """Per network: the highest order g_i of a reaction consuming each species (Cao et al. 2006)."""
    B, R, J = cb.ftype.shape
    N = cb.N
    order = np.zeros((B, N))
    dimer = np.zeros((B, N), dtype=bool)
    lin = cb.ftype == LINEAR
    for b in range(B):  # setup only (per network, not per step)
        for r in range(R):
            reac = cb.fidx[b, r][lin[b, r]]
            tot = reac.size + int(np.sum(cb.ftype[b, r] >= ACT))
            for i in set(reac.tolist()):
                if cb.S[b, i, r] < 0:
                    rep = int(np.sum(reac == i))
                    # g_i: the reaction order; 2 X gets 2 + 1/(x - 1) at run time
                    order[b, i] = max(order[b, i], tot)
                    dimer[b, i] |= rep >= 2
            for i in range(N):  # species consumed by non-mass-action terms: treat as order 1
                if cb.S[b, i, r] < 0 and order[b, i] == 0:
                    order[b, i] = 1.0
    return {"order": order, "dimer": dimer}


def _tau_select(info: dict, lanes: _Lanes, n: np.ndarray, a: np.ndarray, a0: np.ndarray, scale: np.ndarray):
    """Cao-Gillespie-Petzold step per lane over the non-critical reactions, whether leaping is
    worth it, the critical reactions (R, A) (fewer than ``n_c = 10`` firings from exhausting a
    reactant) and the lanes' stoichiometry (A, R, N)."""
    Sl = lanes.S2[:-1].reshape(-1, lanes.R, lanes.N)[lanes.net]     # (A, R, N)
    neg = Sl < 0
    L = np.where(neg, np.floor(n.T[:, None, :] / np.where(neg, -Sl, 1.0)), np.inf).min(axis=2).T   # (R, A)
    crit = (L < 10.0) & (a > 0)
    an = np.where(crit, 0.0, a)
    mu = np.einsum("arn,ra->na", Sl, an)
    sig2 = np.einsum("arn,ra->na", Sl * Sl, an)
    gi = info["order"][lanes.net].T                                 # (N, A)
    dim = info["dimer"][lanes.net].T
    if dim.any():
        gi = np.where(dim, 2.0 + 1.0 / np.maximum(n - 1.0, 1.0), gi)
    eps = info.get("eps", 0.03)
    bound = np.maximum(eps * n / np.where(gi > 0, gi, 1.0), 1.0)
    consumed = gi > 0
    t1 = np.where(consumed & (mu != 0), bound / np.abs(mu), np.inf)
    t2 = np.where(consumed & (sig2 > 0), bound * bound / sig2, np.inf)
    tau = np.minimum(t1.min(axis=0), t2.min(axis=0)) * scale
    leap = tau * a0 >= TAU_MIN_EVENTS                               # inf * a0 > 0 leaps too
    return tau, leap, crit, Sl


def _tau_leap(rng, Sl, n, a, crit, t0, t1):
    """One leap from ``t0`` to at most ``t1`` for m lanes: Poisson firings of the non-critical
    reactions; if the critical reactions' next event (rate ``sum a_crit``) comes first, the leap
    stops there and that one critical reaction fires. Returns the (N, m) change, whether the
    leap keeps every count >= 0, and the leap's end time."""
    m = n.shape[1]
    ac = np.where(crit, a, 0.0)
    ac0 = ac.sum(axis=0)
    with np.errstate(divide="ignore"):
        tc = t0 + rng.standard_exponential(m) / ac0
    fire_c = tc < t1
    t1 = np.where(fire_c, tc, t1)
    k = rng.poisson(np.where(crit, 0.0, a) * (t1 - t0)).astype(float)    # (R, m)
    # one critical reaction where it comes first, chosen with probability a_r / sum a_crit
    cum = np.cumsum(ac, axis=0)
    rc = np.minimum((cum < (1.0 - rng.random(m)) * ac0).sum(axis=0), ac.shape[0] - 1)
    k[rc, np.arange(m)] += fire_c
    d = np.einsum("mrn,rm->nm", Sl, k)
    ok = (n + d >= 0).all(axis=0)
    return d, ok, t1


# ------------------------------------------------------------------ screened runs (tasks)
def ssa_screened(
    networks: Network | Sequence[Network],
    scenarios: Scenario | Sequence[Scenario],
    t,
    *,
    trajectories: int = 64,
    pilot: int = 4,
    seed: int | np.random.Generator | None = None,
    record: str = "moments",
    **kw,
) -> SSAResult:
    """:func:`ssa` in two rounds: ``pilot`` trajectories per (network, scenario) first, then the
    other ``trajectories - pilot`` only for networks whose pilot trajectories all completed.

    A network with a diverged or failed pilot trajectory has a flagged trajectory either way, so
    validity is the same as one full run (and the survivors' moments are over ``trajectories``
    independent trajectories, as before); what changes is the cost: a candidate that exhausts its
    event budget pays for ``pilot`` trajectories instead of all of them. The unrun trajectories of
    a screened-out network carry its pilot's flag (per scenario; scenarios whose pilots finished
    get the network's flag: DIVERGED if any pilot diverged, else FAILED), 0
    events, and no values (moments: the pilot's; ``y``: ``cap``). Keyword arguments go to
    :func:`ssa` (``abort_network`` is always on).
    """
    if isinstance(networks, Network):
        networks = [networks]
    networks = list(networks)
    if int(trajectories) != trajectories or trajectories < 1:
        raise CRNError(f"trajectories must be an integer >= 1, got {trajectories}")
    if int(pilot) != pilot or pilot < 1:
        raise CRNError(f"pilot must be an integer >= 1, got {pilot}")
    M, p = int(trajectories), min(int(pilot), int(trajectories))
    q = M - p
    kw["abort_network"] = True
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    r1 = ssa(networks, scenarios, t, trajectories=p, seed=rng, record=record, **kw)
    if q == 0:
        return r1
    good = np.nonzero(r1.network_ok)[0]
    B, S, T, Nr = r1.mean.shape
    cap = float(kw.get("cap", 1e4))
    net_flag = np.where((r1.status == DIVERGED).any(axis=(1, 2)), DIVERGED, FAILED)[:, None]
    flag = np.where(r1.scenario_status == OK, net_flag, r1.scenario_status).astype(np.int8)     # (B, S)
    status = np.concatenate([r1.status, np.repeat(flag[:, :, None], q, axis=2)], axis=2)
    events = np.concatenate([r1.events, np.zeros((B, S, q), dtype=np.int64)], axis=2)
    mean, var = r1.mean.copy(), r1.var.copy()
    y = None
    if record == "trajectories":
        y = np.concatenate([r1.y, np.full((B, S, q, T, Nr), cap)], axis=2)
    stats = dict(r1.stats)
    stats.update({"pilot": p, "screened_out": int(B - good.size), "pilot_seconds": r1.stats["seconds"],
                  "pilot_passes": r1.stats["passes"]})
    if good.size:
        r2 = ssa([networks[i] for i in good], r1.scenarios, t, trajectories=q, seed=rng, record=record, **kw)
        status[good, :, p:] = r2.status
        events[good, :, p:] = r2.events
        if y is not None:
            y[good, :, p:] = r2.y
        m1, v1, m2, v2 = r1.mean[good], r1.var[good], r2.mean, r2.var
        m = (p * m1 + q * m2) / M
        s2 = (p - 1) * v1 + p * m1 * m1 + (q - 1) * v2 + q * m2 * m2
        mean[good] = m
        var[good] = np.maximum(s2 - M * m * m, 0.0) / (M - 1) if M > 1 else 0.0
        stats["seconds"] = r1.stats["seconds"] + r2.stats["seconds"]
        stats["passes"] = r1.stats["passes"] + r2.stats["passes"]
        stats["events_total"] = r1.stats["events_total"] + r2.stats["events_total"]
    stats["trajectories"] = M
    return SSAResult(r1.t, r1.species, r1.scenarios, r1.volume, mean, var, status, events, y, stats)
