"""A vectorised Rodas4 integrator for many small stiff systems at once.

Rodas4 (Hairer & Wanner, *Solving ODEs II*, section IV.7) is a 6-stage, order-4, L-stable,
stiffly accurate Rosenbrock method with an embedded order-3 solution for error control and a
continuous extension (order 3) for dense output. Every system has its own time, step size and
error control; all systems advance together, one step per loop iteration, and systems that
finish, diverge or fail leave the active set at once (compaction), so a stiff straggler only
costs the loop overhead of itself.

Linear algebra is written out over the species (N is small: 2..8) on (A,)-long rows: LU
without pivoting of ``M = I/(gamma h) - J``; a tiny pivot rejects the step, and a smaller ``h``
makes ``M`` diagonally dominant.
"""

from __future__ import annotations

import numpy as np

from .status import SolverStatus

from .kinetics import Kinetics

# Rodas4 tableau in the W-form used by Hairer's RODAS (stages k_i solve
# (I/(gamma h) - J) k_i = f(y + sum a_ij k_j) + sum (c_ij / h) k_j).
GAMMA = 0.25
A_ = {
    2: (1.544,),
    3: (0.9466785280815826, 0.2557011698983284),
    4: (3.314825187068521, 2.896124015972201, 0.9986419139977817),
    5: (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950),
}
C_ = {
    2: (-5.6688,),
    3: (-2.430093356833875, -0.2063599157091915),
    4: (-0.1073529058151375, -9.594562251023355, -20.47028614809616),
    5: (7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160),
    6: (8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054),
}
A_VEC = {s: np.array(v) for s, v in A_.items()}
C_VEC = {s: np.array(v) for s, v in C_.items()}
D2 = (10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823, 1.025137723295662)
D3 = (-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386, -6.594389125716872)

D2_VEC, D3_VEC = np.array(D2), np.array(D3)

STATUS_OK, STATUS_DIVERGED, STATUS_FAILED = int(SolverStatus.OK), int(SolverStatus.DIVERGED), int(SolverStatus.FAILED)
STATUS_STEP_UNDERFLOW, STATUS_STEP_BUDGET = int(SolverStatus.STEP_UNDERFLOW), int(SolverStatus.STEP_BUDGET)


def _lu_inplace(M: np.ndarray, N: int) -> np.ndarray:
    """Doolittle LU without pivoting of M (N, N, A), in place; returns a bool (A,) 'ok' mask."""
    scale = np.abs(M).max(axis=(0, 1))
    ok = np.ones(M.shape[2], dtype=bool)
    for k in range(N):
        piv = M[k, k]
        ok &= np.abs(piv) > 1e-13 * scale
        inv = 1.0 / np.where(piv == 0, 1.0, piv)
        for i in range(k + 1, N):
            l = M[i, k] * inv
            M[i, k] = l
            if k + 1 < N:
                M[i, k + 1:] -= l * M[k, k + 1:]
    return ok


def _lu_solve(LU: np.ndarray, b: np.ndarray, N: int) -> np.ndarray:
    x = b.copy()
    for i in range(1, N):
        x[i] -= np.einsum("ja,ja->a", LU[i, :i], x[:i]) if i > 1 else LU[i, 0] * x[0]
    for i in range(N - 1, -1, -1):
        if i < N - 1:
            x[i] -= np.einsum("ja,ja->a", LU[i, i + 1:], x[i + 1:]) if N - 1 - i > 1 else LU[i, i + 1] * x[i + 1]
        x[i] /= LU[i, i]
    return x


def integrate(
    kin: Kinetics,
    y0: np.ndarray,
    t_grid: np.ndarray,
    seg_end: np.ndarray,
    seg_coef: np.ndarray,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    cap: float = 1e4,
    max_steps: int = 20000,
    progress=None,
):
    """Integrate A systems from ``t = 0`` over ``t_grid`` (T,).

    ``y0`` (N, A); ``seg_end`` (A, G) end time of each input segment (the last equals
    ``t_grid[-1]``, unused trailing entries too); ``seg_coef`` (A, G, R) term coefficients in each
    segment. ``kin`` must hold segment 0's coefficients.

    Returns ``Y`` (A, T, N), ``status`` (A,), ``steps`` (A,), ``rejected`` (A,).
    """
    N, A0 = y0.shape
    T = t_grid.size
    t_final = float(t_grid[-1])
    Y = np.empty((A0, T, N))
    Y[:, 0, :] = y0.T
    Yflat = Y.reshape(A0 * T, N)
    status = np.full(A0, -1, dtype=np.int8)
    steps_out = np.zeros(A0, dtype=np.int64)
    rej_out = np.zeros(A0, dtype=np.int64)
    eps_t = 1e-12 * max(t_final, 1.0)

    gid = np.arange(A0)
    y = y0.astype(float).copy()
    t = np.zeros(A0)
    f0 = kin.rhs(y)
    seg = np.zeros(A0, dtype=np.int64)
    send = seg_end[:, 0].copy()
    gi = np.ones(A0, dtype=np.int64)  # next grid index to fill
    steps = np.zeros(A0, dtype=np.int64)
    rejects = np.zeros(A0, dtype=np.int64)
    err_old = np.full(A0, 1.0)
    h_old = np.zeros(A0)
    first = np.ones(A0, dtype=bool)
    last_rej = np.zeros(A0, dtype=bool)
    # initial step: 1% of the time the state needs to change by its own size
    sc0 = atol + rtol * np.abs(y)
    d0 = np.sqrt(np.mean((y / sc0) ** 2, axis=0))
    d1 = np.sqrt(np.mean((f0 / sc0) ** 2, axis=0))
    h = np.where((d0 > 1e-5) & (d1 > 1e-5), 0.01 * d0 / np.where(d1 > 0, d1, 1.0), 1e-6)
    h = np.clip(h, 1e-10, send)
    h_min = 1e-14 * max(t_final, 1.0)

    live = np.ones(A0, dtype=bool)  # retired rows stay (ignored) until enough pile up to compact
    while gid.size:
        A = gid.size
        hh = np.where(live, np.minimum(h, send - t), 1.0)
        to_end = hh >= send - t - eps_t
        Jm = kin.jac(y)
        M = -Jm
        inv_gh = 1.0 / (GAMMA * hh)
        for i in range(N):
            M[i, i] += inv_gh
        lu_ok = _lu_inplace(M, N)
        inv_h = 1.0 / hh
        with np.errstate(all="ignore"):
            K = np.empty((6, N, A))
            K[0] = _lu_solve(M, f0, N)
            for s in range(2, 7):
                if s <= 5:
                    ys = y + np.einsum("j,jna->na", A_VEC[s], K[: s - 1])
                else:
                    ys = y5 + K[4]
                if s == 5:
                    y5 = ys
                rhs = kin.rhs(ys)
                rhs += np.einsum("j,jna->na", C_VEC[s], K[: s - 1]) * inv_h
                K[s - 1] = _lu_solve(M, rhs, N)
            k = [None] + list(K)
            y6 = y5 + k[5]
            ynew = y6 + k[6]
            sc = atol + rtol * np.maximum(np.abs(y), np.abs(ynew))
            err = np.sqrt(np.mean((k[6] / sc) ** 2, axis=0))
        finite = np.isfinite(err) & np.all(np.isfinite(ynew), axis=0) & lu_ok
        err = np.where(finite, err, np.inf)
        acc = (err <= 1.0) & live
        steps += live
        rejects += ~acc & live

        # ---- step-size control (Hairer's RODAS controller with Gustafsson prediction)
        with np.errstate(all="ignore"):
            fac = np.clip(err ** 0.25 / 0.9, 1.0 / 6.0, 5.0)
            pred = (h_old / hh) * (err**2 / err_old) ** 0.25 / 0.9
            pred = np.clip(np.where(np.isfinite(pred), pred, 1.0), 1.0 / 6.0, 5.0)
        fac = np.where(acc & ~first, np.maximum(fac, pred), fac)
        hnew = hh / fac
        hnew = np.where(acc & last_rej, np.minimum(hnew, hh), hnew)
        hnew = np.where(~finite, hh * 0.2, hnew)
        h_old = np.where(acc, hh, h_old)
        err_old = np.where(acc, np.maximum(err, 0.01), err_old)
        first &= ~acc
        last_rej = ~acc

        # ---- accepted steps: dense output onto the grid, advance
        ia = np.nonzero(acc)[0]
        if ia.size:
            t_new = np.where(to_end[ia], send[ia], t[ia] + hh[ia])
            gj = np.searchsorted(t_grid, t_new + eps_t, side="right")
            cnt = gj - gi[ia]
            has = cnt > 0
            if np.any(has):
                ib = ia[has]
                cb = cnt[has]
                rep = np.repeat(np.arange(ib.size), cb)
                offs = np.cumsum(cb) - cb
                gidx = gi[ib][rep] + (np.arange(rep.size) - offs[rep])
                sys = ib[rep]
                theta = (t_grid[gidx] - t[sys]) / hh[sys]
                np.clip(theta, 0.0, 1.0, out=theta)
                # continuous extension as a cubic in theta, per system, evaluated by Horner:
                # y = y0 + th (y1 - y0 + c3) + th^2 (c4 - c3) - th^3 c4
                Kb = K[:5, :, ib]
                c3 = np.einsum("j,jna->na", D2_VEC, Kb)
                c4 = np.einsum("j,jna->na", D3_VEC, Kb)
                y0b = y[:, ib]
                P = np.stack([-c4, c4 - c3, ynew[:, ib] - y0b + c3, y0b]).transpose(2, 0, 1)  # (Ab, 4, N)
                Pr = P[rep]
                th = theta[:, None]
                vals = ((Pr[:, 0] * th + Pr[:, 1]) * th + Pr[:, 2]) * th + Pr[:, 3]
                Yflat[gid[ib][rep] * T + gidx] = vals
                gi[ib] = gj[has]
            t[ia] = t_new
            y[:, ia] = ynew[:, ia]

        # ---- divergence, failure, segment switches, completion
        big = np.zeros(A, dtype=bool)
        if ia.size:
            big[ia] = np.max(np.abs(ynew[:, ia]), axis=0) >= cap
        underflow = ~acc & (hnew < h_min) & ~big & live
        over_budget = (steps >= max_steps) & ~big & live & ~underflow
        fail = underflow | over_budget
        h = hnew
        fin = acc & (t >= t_final - eps_t) & ~big
        switch = acc & to_end & ~fin & ~big & ~fail
        if np.any(switch):
            isw = np.nonzero(switch)[0]
            seg[isw] += 1
            send[isw] = seg_end[gid[isw], seg[isw]]
            kin.set_coef(isw, seg_coef[gid[isw], seg[isw]])
        need_f = acc & ~big & ~fin & ~fail
        if np.any(need_f):
            ifn = np.nonzero(need_f)[0]
            f0[:, ifn] = kin.rhs(y)[:, ifn]
        out = big | fail | fin
        if np.any(out):
            io = np.nonzero(out)[0]
            for i in io:
                g = gid[i]
                if big[i] or fail[i]:
                    Y[g, gi[i]:, :] = cap
            status[gid[io]] = np.where(big[io], STATUS_DIVERGED, np.where(
                underflow[io], STATUS_STEP_UNDERFLOW, np.where(over_budget[io], STATUS_STEP_BUDGET, STATUS_OK)))
            steps_out[gid[io]] = steps[io]
            rej_out[gid[io]] = rejects[io]
            live &= ~out
            if progress is not None:
                progress(io.size)
        n_dead = A - int(live.sum())
        if n_dead and (n_dead * 8 >= A or n_dead == A):
            keep = live
            gid, y, t, f0, seg, send, gi = gid[keep], y[:, keep], t[keep], f0[:, keep], seg[keep], send[keep], gi[keep]
            steps, rejects, err_old, h_old, first, last_rej, h = (
                steps[keep], rejects[keep], err_old[keep], h_old[keep], first[keep], last_rej[keep], h[keep])
            kin.take(keep)
            live = live[keep]
    return Y, status, steps_out, rej_out

