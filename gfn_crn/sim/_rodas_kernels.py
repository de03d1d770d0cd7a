"""numba kernels of :mod:`gfn_crn.sim.rodas_numba` (imported lazily: this module needs numba)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .compile import ACT, CONST, LINEAR, REP
from .rodas import (A_ROWS, C_ROWS, D2, D3, EPS_T_REL, ERR_OLD_FLOOR, FAC_MAX, FAC_MIN, GAMMA, H_MIN_REL,
                    INIT_DEFAULT, INIT_MIN, INIT_TINY, NONFINITE_SHRINK, PIVOT_TOL, STATUS_DIVERGED, STATUS_OK,
                    STATUS_STEP_BUDGET, STATUS_STEP_UNDERFLOW, initial_step, predicted_ratio, step_ratio)

jit = nb.njit(cache=True, error_model="numpy", nogil=True)
# helpers are inlined into the integrator at the numba IR level (no call overhead per stage)
jit_inline = nb.njit(cache=True, error_model="numpy", nogil=True, inline="always")

# the method's definition (gfn_crn.sim.rodas), compiled: global arrays and floats are frozen into
# the compiled code as constants, the formulas inlined
ALL_A = np.array(A_ROWS)   # (7, 5): row s holds stage s's coefficients
ALL_C = np.array(C_ROWS)
D2v, D3v = np.array(D2), np.array(D3)
_step_ratio = jit_inline(step_ratio)
_predicted_ratio = jit_inline(predicted_ratio)
_initial_step = jit_inline(initial_step)
_CONST, _LIN, _ACT, _REP = CONST, LINEAR, ACT, REP


@jit_inline
def ipow(x, n, k):
    if k == 1:
        return x
    if k == 2:
        return x * x
    if k == 3:
        return x * x * x
    if k == 4:
        x2 = x * x
        return x2 * x2
    return x**n


@jit_inline
def localize(b, ftype, fidx, Kn, fn, ni, st_n, st_idx, st_val, lr, lnf, lft, lfi, lKn, lfn, lni, lns, lsi, lsv, lS):
    """Copy network ``b``'s terms into small contiguous tables: only terms that change some
    species, only their non-constant factors. Returns the number of terms kept."""
    R = ftype.shape[1]
    J = ftype.shape[2]
    nt = 0
    for r in range(R):
        ns = st_n[b, r]
        if ns == 0:
            continue
        lr[nt] = r
        nf = 0
        for j in range(J):
            if ftype[b, r, j] == _CONST:
                continue
            lft[nt, nf] = ftype[b, r, j]
            lfi[nt, nf] = fidx[b, r, j]
            lKn[nt, nf] = Kn[b, r, j]
            lfn[nt, nf] = fn[b, r, j]
            lni[nt, nf] = ni[b, r, j]
            nf += 1
        lnf[nt] = nf
        lns[nt] = ns
        for i in range(lS.shape[0]):
            lS[i, nt] = 0.0
        for k in range(ns):
            lsi[nt, k] = st_idx[b, r, k]
            lsv[nt, k] = st_val[b, r, k]
            lS[st_idx[b, r, k], nt] = st_val[b, r, k]
        nt += 1
    return nt


@jit_inline
def rhs(y, c, nt, lr, lnf, lft, lfi, lKn, lfn, lni, lS, av, out):
    """dx/dt: the term rates first (independent of each other), then the dense (N x nt) product
    with the stoichiometry: no chain of read-modify-writes through ``out``."""
    N = y.shape[0]
    for r in range(nt):
        a = c[lr[r]]
        for j in range(lnf[r]):
            x = y[lfi[r, j]]
            if x < 0.0:
                x = 0.0
            ft = lft[r, j]
            if ft == _LIN:
                a *= x
            else:
                K = lKn[r, j]
                xn = ipow(x, lfn[r, j], lni[r, j])
                if ft == _ACT:
                    a *= xn / (K + xn)
                else:
                    a *= K / (K + xn)
        av[r] = a
    for i in range(N):
        acc = 0.0
        for r in range(nt):
            acc += lS[i, r] * av[r]
        out[i] = acc


@jit_inline
def jac(y, c, nt, lr, lnf, lft, lfi, lKn, lfn, lni, lns, lsi, lsv, Jm, fv, dfv):
    N = y.shape[0]
    for i in range(N):
        for m in range(N):
            Jm[i, m] = 0.0
    for r in range(nt):
        nf = lnf[r]
        for j in range(nf):
            x = y[lfi[r, j]]
            if x < 0.0:
                x = 0.0
            ft = lft[r, j]
            if ft == _LIN:
                fv[j] = x
                dfv[j] = 1.0
            else:
                n = lfn[r, j]
                K = lKn[r, j]
                xn = ipow(x, n, lni[r, j])
                den = K + xn
                if n == 1.0:
                    xnm1 = 1.0
                elif x > 0.0:
                    xnm1 = xn / x
                else:
                    xnm1 = 0.0
                dh = n * K * xnm1 / (den * den)
                if ft == _ACT:
                    fv[j] = xn / den
                    dfv[j] = dh
                else:
                    fv[j] = K / den
                    dfv[j] = -dh
        cr = c[lr[r]]
        for j in range(nf):
            g = cr * dfv[j]
            for l in range(nf):
                if l != j:
                    g *= fv[l]
            m = lfi[r, j]
            for k in range(lns[r]):
                Jm[lsi[r, k], m] += lsv[r, k] * g


@jit_inline
def lu_solve(M, dinv, X, row):
    """Solve LU x = X[row] in place; ``dinv`` holds the reciprocal pivots (no division in the
    serial chain)."""
    N = M.shape[0]
    for i in range(1, N):
        s = X[row, i]
        for j in range(i):
            s -= M[i, j] * X[row, j]
        X[row, i] = s
    for i in range(N - 1, -1, -1):
        s = X[row, i]
        for j in range(i + 1, N):
            s -= M[i, j] * X[row, j]
        X[row, i] = s * dinv[i]


@jit
def integrate_range(a0, a1, y0, t_grid, seg_end, seg_coef, net_of_sys, ftype, fidx, Kn, fn, ni, st_n,
                    st_idx, st_val, rtol, atol, cap, max_steps, Y, status, steps_out, rej_out, min_raw):
    N = y0.shape[1]
    T = t_grid.shape[0]
    G = seg_end.shape[1]
    J = ftype.shape[2]
    t_final = t_grid[T - 1]
    eps_t = EPS_T_REL * max(t_final, 1.0)
    h_min = H_MIN_REL * max(t_final, 1.0)
    y = np.empty(N)
    f0 = np.empty(N)
    ys = np.empty(N)
    y5 = np.empty(N)
    ynew = np.empty(N)
    tmp = np.empty(N)
    K = np.empty((6, N))
    M = np.empty((N, N))
    Jm = np.empty((N, N))
    dinv = np.empty(N)
    fv = np.empty(J)
    dfv = np.empty(J)
    c3 = np.empty(N)
    c4 = np.empty(N)
    R = ftype.shape[1]
    lr = np.empty(R, dtype=np.int64)
    lnf = np.empty(R, dtype=np.int64)
    lns = np.empty(R, dtype=np.int64)
    lft = np.empty((R, J), dtype=np.int64)
    lfi = np.empty((R, J), dtype=np.int64)
    lni = np.empty((R, J), dtype=np.int64)
    lKn = np.empty((R, J))
    lfn = np.empty((R, J))
    lsi = np.empty((R, N), dtype=np.int64)
    lsv = np.empty((R, N))
    lS = np.empty((N, R))
    av = np.empty(R)
    for a in range(a0, a1):
        nt = localize(net_of_sys[a], ftype, fidx, Kn, fn, ni, st_n, st_idx, st_val, lr, lnf, lft, lfi, lKn, lfn, lni,
                      lns, lsi, lsv, lS)
        mraw = np.inf  # most negative raw value written (outputs are clipped to [0, cap])
        for i in range(N):
            y[i] = y0[a, i]
            Y[a, 0, i] = min(max(y[i], 0.0), cap)
            mraw = min(mraw, y[i])
        t = 0.0
        seg = 0
        send = seg_end[a, 0]
        c = seg_coef[a, 0]
        rhs(y, c, nt, lr, lnf, lft, lfi, lKn, lfn, lni, lS, av, f0)
        # initial step: 1% of the time the state needs to change by its own size
        d0 = 0.0
        d1 = 0.0
        for i in range(N):
            sc0 = atol + rtol * abs(y[i])
            d0 += (y[i] / sc0) ** 2
            d1 += (f0[i] / sc0) ** 2
        d0 = math.sqrt(d0 / N)
        d1 = math.sqrt(d1 / N)
        if d0 > INIT_TINY and d1 > INIT_TINY:
            h = _initial_step(d0, d1)
        else:
            h = INIT_DEFAULT
        h = min(max(h, INIT_MIN), send)
        gi = 1
        nsteps = 0
        nrej = 0
        err_old = 1.0
        h_old = 0.0
        first = True
        last_rej = False
        jac_ok = False
        st = -1
        while st < 0:
            hh = min(h, send - t)
            to_end = hh >= send - t - eps_t
            if not jac_ok:
                jac(y, c, nt, lr, lnf, lft, lfi, lKn, lfn, lni, lns, lsi, lsv, Jm, fv, dfv)
                jac_ok = True
            inv_gh = 1.0 / (GAMMA * hh)
            scale = 0.0
            for i in range(N):
                for m in range(N):
                    M[i, m] = -Jm[i, m]
                M[i, i] += inv_gh
                for m in range(N):
                    if abs(M[i, m]) > scale:
                        scale = abs(M[i, m])
            # LU without pivoting; a tiny pivot rejects the step
            lu_ok = True
            for k in range(N):
                piv = M[k, k]
                if not (abs(piv) > PIVOT_TOL * scale):
                    lu_ok = False
                    break
                inv = 1.0 / piv
                dinv[k] = inv
                for i in range(k + 1, N):
                    l = M[i, k] * inv
                    M[i, k] = l
                    for m in range(k + 1, N):
                        M[i, m] -= l * M[k, m]
            err = np.inf
            finite = False
            if lu_ok:
                inv_h = 1.0 / hh
                for i in range(N):
                    K[0, i] = f0[i]
                lu_solve(M, dinv, K, 0)
                for s in range(2, 7):
                    if s <= 5:
                        for i in range(N):
                            acc_ = y[i]
                            for j in range(s - 1):
                                acc_ += ALL_A[s, j] * K[j, i]
                            ys[i] = acc_
                        if s == 5:
                            for i in range(N):
                                y5[i] = ys[i]
                    else:
                        for i in range(N):
                            ys[i] = y5[i] + K[4, i]
                    rhs(ys, c, nt, lr, lnf, lft, lfi, lKn, lfn, lni, lS, av, tmp)
                    for i in range(N):
                        acc_ = 0.0
                        for j in range(s - 1):
                            acc_ += ALL_C[s, j] * K[j, i]
                        K[s - 1, i] = tmp[i] + acc_ * inv_h
                    lu_solve(M, dinv, K, s - 1)
                e = 0.0
                finite = True
                for i in range(N):
                    yn = (y5[i] + K[4, i]) + K[5, i]
                    ynew[i] = yn
                    if not math.isfinite(yn):
                        finite = False
                    sc = atol + rtol * max(abs(y[i]), abs(yn))
                    e += (K[5, i] / sc) ** 2
                err = math.sqrt(e / N)
                if not math.isfinite(err):
                    finite = False
                if not finite:
                    err = np.inf
            acc = err <= 1.0
            nsteps += 1
            if not acc:
                nrej += 1
            # step-size control (gfn_crn.sim.rodas: Hairer's RODAS controller with Gustafsson prediction)
            fac = min(max(_step_ratio(err), FAC_MIN), FAC_MAX)
            if acc and not first:
                pred = _predicted_ratio(err, err_old, h_old, hh)
                if not math.isfinite(pred):
                    pred = 1.0
                pred = min(max(pred, FAC_MIN), FAC_MAX)
                fac = max(fac, pred)
            hnew = hh / fac
            if acc and last_rej:
                hnew = min(hnew, hh)
            if not finite:
                hnew = hh * NONFINITE_SHRINK
            if acc:
                h_old = hh
                err_old = max(err, ERR_OLD_FLOOR)
                first = False
            last_rej = not acc
            big = False
            if acc:
                t_new = send if to_end else t + hh
                if gi < T and t_grid[gi] <= t_new + eps_t:
                    # continuous extension, a cubic in theta evaluated by Horner
                    for i in range(N):
                        s3 = 0.0
                        s4 = 0.0
                        for j in range(5):
                            s3 += D2v[j] * K[j, i]
                            s4 += D3v[j] * K[j, i]
                        c3[i] = s3
                        c4[i] = s4
                    while gi < T and t_grid[gi] <= t_new + eps_t:
                        th = (t_grid[gi] - t) / hh
                        th = min(max(th, 0.0), 1.0)
                        for i in range(N):
                            v = (((-c4[i]) * th + (c4[i] - c3[i])) * th + (ynew[i] - y[i] + c3[i])) * th + y[i]
                            if v < mraw:
                                mraw = v
                            Y[a, gi, i] = min(max(v, 0.0), cap)
                        gi += 1
                t = t_new
                ymax = 0.0
                for i in range(N):
                    y[i] = ynew[i]
                    if abs(y[i]) > ymax:
                        ymax = abs(y[i])
                big = ymax >= cap
            underflow = (not acc) and hnew < h_min
            fail = (underflow or nsteps >= max_steps) and not big
            h = hnew
            if big or fail:
                for g in range(gi, T):
                    for i in range(N):
                        Y[a, g, i] = cap
                st = STATUS_DIVERGED if big else (STATUS_STEP_UNDERFLOW if underflow else STATUS_STEP_BUDGET)
            elif acc and t >= t_final - eps_t:
                st = STATUS_OK
            elif acc:
                if to_end and seg + 1 < G:
                    seg += 1
                    send = seg_end[a, seg]
                    c = seg_coef[a, seg]
                rhs(y, c, nt, lr, lnf, lft, lfi, lKn, lfn, lni, lS, av, f0)
                jac_ok = False
        status[a] = st
        steps_out[a] = nsteps
        rej_out[a] = nrej
        min_raw[a] = mraw
