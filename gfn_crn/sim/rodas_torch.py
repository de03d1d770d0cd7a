"""The Rodas4 method of :mod:`gfn_crn.sim.rodas` in torch, for large batches on an accelerator.

Every system advances together, one step per loop iteration, on tensors of shape (N, A)
(species, active systems; batch last) in float64 on any torch device; each system keeps its own
time, step size and error control, and systems that finish, diverge or fail leave the active set
(compaction, once an eighth of the rows has retired). The tableau, the step-size controller
(Hairer's RODAS controller with Gustafsson prediction), the initial step, the divergence/failure
rules and the continuous (dense) output are :mod:`gfn_crn.sim.rodas`'s, the same definitions the
compiled engine runs. Linear algebra is written out over the species (N is small: 2..8): LU
without pivoting of ``M = I/(gamma h) - J``.

Device-clean: no numpy round trips and no per-system ``.item()`` inside the step loop. Each loop
iteration synchronises with the host twice (the largest number of grid points any system
passes in this step, which sizes the dense-output block, and the count of retired systems,
which decides the loop's end and compaction); everything else, including per-system
bookkeeping (segment switches, status, step counts, the cap fill of diverged systems), is
masked tensor arithmetic. Results are deterministic on a given device.

On the CPU this path is slower than the compiled default (it exists to be run on a GPU with
thousands of systems at once); it matches the default engine to ~1e-9 relative.
"""

from __future__ import annotations

import torch

from .compile import ACT, LINEAR, REP, CompiledBatch
from .rodas import (A as STAGE_A, C as STAGE_C, D2, D3, EPS_T_REL, ERR_OLD_FLOOR, FAC_MAX, FAC_MIN, GAMMA, H_MIN_REL, INIT_DEFAULT,
                    INIT_MIN, INIT_TINY, NONFINITE_SHRINK, PIVOT_TOL, STATUS_DIVERGED, STATUS_OK, STATUS_STEP_BUDGET,
                    STATUS_STEP_UNDERFLOW, initial_step, predicted_ratio, step_ratio)

DT = torch.float64


class TorchKinetics:
    """dx/dt = S a(x) and its Jacobian for A systems, the torch twin of :class:`~gfn_crn.sim.kinetics.Kinetics`."""

    def __init__(self, cb: CompiledBatch, net_of_sys: torch.Tensor, coef: torch.Tensor):
        dev = coef.device
        self.N = cb.N
        R, J = cb.ftype.shape[1:]
        self.R, self.J = R, J
        self.has_hill = cb.has_hill
        A = net_of_sys.numel()
        self.coef = coef.T.contiguous()                                                     # (R, A)
        fidx = torch.as_tensor(cb.fidx, device=dev)[net_of_sys]                             # (A, R, J)
        self.fidx = fidx.reshape(A, R * J).T.contiguous()                                   # (RJ, A)
        self.S = torch.as_tensor(cb.S, dtype=DT, device=dev)[net_of_sys].permute(1, 2, 0).contiguous()  # (N, R, A)
        oh = fidx[..., None] == torch.arange(self.N, device=dev)                            # (A, R, J, N)
        self.onehot = oh.permute(1, 2, 3, 0).to(DT).contiguous()                            # (R, J, N, A)
        names = ["coef", "fidx", "S", "onehot"]
        if self.has_hill:
            ft = torch.as_tensor(cb.ftype, device=dev)[net_of_sys].permute(1, 2, 0)         # (R, J, A)
            self.is_lin, self.is_act, self.is_rep = ft == LINEAR, ft == ACT, ft == REP
            self.is_hill = self.is_act | self.is_rep
            self.fn = torch.as_tensor(cb.fn, dtype=DT, device=dev)[net_of_sys].permute(1, 2, 0).contiguous()
            self.Kn = torch.as_tensor(cb.fK, dtype=DT, device=dev)[net_of_sys].permute(1, 2, 0) ** self.fn
            names += ["is_lin", "is_act", "is_rep", "is_hill", "fn", "Kn"]
        self._names = names

    def take(self, keep: torch.Tensor) -> None:
        for name in self._names:
            setattr(self, name, getattr(self, name)[..., keep].contiguous())

    def set_coef_where(self, mask: torch.Tensor, coef_rows: torch.Tensor) -> None:
        """Coefficients ``coef_rows`` (A, R) for the systems in ``mask`` (A,)."""
        self.coef = torch.where(mask[None, :], coef_rows.T, self.coef)

    def _gather(self, y: torch.Tensor) -> torch.Tensor:
        xt = torch.cat([y.clamp_min(0.0), torch.ones_like(y[:1])])
        return xt.gather(0, self.fidx).reshape(self.R, self.J, -1)

    def _factors(self, v: torch.Tensor, deriv: bool):
        if not self.has_hill:
            return v, None
        vn = torch.where(self.is_hill, v, torch.ones_like(v)) ** self.fn
        den = self.Kn + vn
        f = torch.where(self.is_act, vn / den, torch.where(self.is_rep, self.Kn / den, v))
        if not deriv:
            return f, None
        pos = v > 0
        vnm1 = torch.where(self.fn == 1.0, torch.ones_like(v),
                           torch.where(pos, vn / torch.where(pos, v, torch.ones_like(v)), torch.zeros_like(v)))
        vnm1 = torch.where(self.is_hill, vnm1, torch.zeros_like(v))
        dh = self.fn * self.Kn * vnm1 / den**2
        df = torch.where(self.is_act, dh, torch.where(self.is_rep, -dh, self.is_lin.to(DT)))
        return f, df

    def rhs(self, y: torch.Tensor) -> torch.Tensor:
        f, _ = self._factors(self._gather(y), False)
        a = self.coef * (f[:, 0] * f[:, 1] if self.J == 2 else f.prod(dim=1))
        return torch.einsum("nra,ra->na", self.S, a)

    def jac(self, y: torch.Tensor) -> torch.Tensor:
        f, df = self._factors(self._gather(y), True)
        g = torch.empty_like(f)
        for j in range(self.J):
            others = torch.ones_like(f[:, 0])
            for l in range(self.J):
                if l != j:
                    others = others * f[:, l]
            g[:, j] = others if df is None else others * df[:, j]
        g = g * self.coef[:, None, :]
        dadx = torch.einsum("rja,rjma->rma", g, self.onehot)
        return torch.einsum("nra,rma->nma", self.S, dadx)


def _lu_inplace(M: torch.Tensor, N: int) -> torch.Tensor:
    """Doolittle LU without pivoting of M (N, N, A), in place; returns a bool (A,) 'ok' mask."""
    scale = M.abs().amax(dim=(0, 1))
    ok = torch.ones(M.shape[2], dtype=torch.bool, device=M.device)
    for k in range(N):
        piv = M[k, k].clone()
        ok &= piv.abs() > PIVOT_TOL * scale
        inv = 1.0 / torch.where(piv == 0, torch.ones_like(piv), piv)
        for i in range(k + 1, N):
            l = M[i, k] * inv
            M[i, k] = l
            if k + 1 < N:
                M[i, k + 1:] -= l * M[k, k + 1:]
    return ok


def _lu_solve(LU: torch.Tensor, b: torch.Tensor, N: int) -> torch.Tensor:
    x = b.clone()
    for i in range(1, N):
        x[i] -= (LU[i, :i] * x[:i]).sum(0)
    for i in range(N - 1, -1, -1):
        if i < N - 1:
            x[i] -= (LU[i, i + 1:] * x[i + 1:]).sum(0)
        x[i] /= LU[i, i]
    return x


def integrate(cb: CompiledBatch, net_of_sys, y0, t_grid, seg_end, seg_coef, *, rtol=1e-6, atol=1e-9, cap=1e4,
              max_steps=20000, device="cpu", progress=None):
    """Same contract as :func:`gfn_crn.sim.rodas_numba.integrate` (inputs numpy or torch), without
    ``min_raw`` and unclipped: returns numpy ``Y`` (A, T, N), ``status``, ``steps``, ``rejected``;
    the only host transfers are the inputs and the results."""
    dev = torch.device(device)

    def tt(x, dtype=DT):
        return torch.as_tensor(x, dtype=dtype, device=dev)

    y0 = tt(y0)
    t_grid = tt(t_grid)
    seg_end = tt(seg_end)
    seg_coef = tt(seg_coef)
    N, A0 = y0.shape
    T = t_grid.numel()
    G = seg_end.shape[1]
    t_final = float(t_grid[-1])  # one transfer before the loop
    a_coef = {s: tt(v) for s, v in STAGE_A.items()}
    c_coef = {s: tt(v) for s, v in STAGE_C.items()}
    d2, d3 = tt(D2), tt(D3)
    eps_t = EPS_T_REL * max(t_final, 1.0)
    h_min = H_MIN_REL * max(t_final, 1.0)
    i64 = dict(dtype=torch.long, device=dev)

    Yflat = torch.empty(A0 * T + 1, N, dtype=DT, device=dev)  # the extra row absorbs masked writes
    Y = Yflat[:-1].view(A0, T, N)
    Y[:, 0, :] = y0.T
    status_out = torch.full((A0,), -1, dtype=torch.int8, device=dev)
    steps_out = torch.zeros(A0, **i64)
    rej_out = torch.zeros(A0, **i64)
    stop_gi = torch.full((A0,), T, **i64)  # first grid index to fill with cap (diverged/failed)

    gid = torch.arange(A0, **i64)
    kin = TorchKinetics(cb, tt(net_of_sys, torch.long), seg_coef[:, 0])
    y = y0.clone()
    t = torch.zeros(A0, dtype=DT, device=dev)
    f0 = kin.rhs(y)
    seg = torch.zeros(A0, **i64)
    send = seg_end[:, 0].clone()
    gi = torch.ones(A0, **i64)
    steps = torch.zeros(A0, **i64)
    rejects = torch.zeros(A0, **i64)
    err_old = torch.ones(A0, dtype=DT, device=dev)
    h_old = torch.zeros(A0, dtype=DT, device=dev)
    first = torch.ones(A0, dtype=torch.bool, device=dev)
    last_rej = torch.zeros(A0, dtype=torch.bool, device=dev)
    sc0 = atol + rtol * y.abs()
    d0 = ((y / sc0) ** 2).mean(0).sqrt()
    d1 = ((f0 / sc0) ** 2).mean(0).sqrt()
    h = torch.where((d0 > INIT_TINY) & (d1 > INIT_TINY), initial_step(d0, torch.where(d1 > 0, d1, torch.ones_like(d1))),
                    torch.full_like(d0, INIT_DEFAULT))
    h = torch.minimum(h.clamp_min(INIT_MIN), send)
    live = torch.ones(A0, dtype=torch.bool, device=dev)
    A = A0
    while A:
        hh = torch.where(live, torch.minimum(h, send - t), torch.ones_like(h))
        to_end = hh >= send - t - eps_t
        M = -kin.jac(y)
        inv_gh = 1.0 / (GAMMA * hh)
        for i in range(N):
            M[i, i] += inv_gh
        lu_ok = _lu_inplace(M, N)
        inv_h = 1.0 / hh
        K = torch.empty(6, N, A, dtype=DT, device=dev)
        K[0] = _lu_solve(M, f0, N)
        y5 = None
        for s in range(2, 7):
            if s <= 5:
                ys = y + torch.einsum("j,jna->na", a_coef[s], K[: s - 1])
            else:
                ys = y5 + K[4]
            if s == 5:
                y5 = ys
            rhs = kin.rhs(ys) + torch.einsum("j,jna->na", c_coef[s], K[: s - 1]) * inv_h
            K[s - 1] = _lu_solve(M, rhs, N)
        ynew = (y5 + K[4]) + K[5]
        sc = atol + rtol * torch.maximum(y.abs(), ynew.abs())
        err = ((K[5] / sc) ** 2).mean(0).sqrt()
        finite = torch.isfinite(err) & torch.isfinite(ynew).all(0) & lu_ok
        err = torch.where(finite, err, torch.full_like(err, float("inf")))
        acc = (err <= 1.0) & live
        steps += live.long()
        rejects += (~acc & live).long()

        # ---- step-size control (gfn_crn.sim.rodas)
        fac = step_ratio(err).clamp(FAC_MIN, FAC_MAX)
        pred = predicted_ratio(err, err_old, h_old, hh)
        pred = torch.where(torch.isfinite(pred), pred, torch.ones_like(pred)).clamp(FAC_MIN, FAC_MAX)
        fac = torch.where(acc & ~first, torch.maximum(fac, pred), fac)
        hnew = hh / fac
        hnew = torch.where(acc & last_rej, torch.minimum(hnew, hh), hnew)
        hnew = torch.where(~finite, hh * NONFINITE_SHRINK, hnew)
        h_old = torch.where(acc, hh, h_old)
        err_old = torch.where(acc, err.clamp_min(ERR_OLD_FLOOR), err_old)
        first = first & ~acc
        last_rej = ~acc

        # ---- accepted steps: dense output onto the grid (one block of kmax points), advance
        t_new = torch.where(to_end, send, t + hh)
        gj = torch.searchsorted(t_grid, t_new + eps_t, right=True)
        cnt = torch.where(acc, gj - gi, torch.zeros_like(gi))
        kmax = int(cnt.max())  # host sync 1
        if kmax > 0:
            kk = torch.arange(kmax, **i64)
            gidx = gi[:, None] + kk[None, :]                                        # (A, kmax)
            valid = kk[None, :] < cnt[:, None]
            gsafe = torch.where(valid, gidx, torch.zeros_like(gidx))
            theta = ((t_grid[gsafe] - t[:, None]) / hh[:, None]).clamp(0.0, 1.0)   # (A, kmax)
            c3 = torch.einsum("j,jna->na", d2, K[:5])
            c4 = torch.einsum("j,jna->na", d3, K[:5])
            p0, p1, p2, p3 = (-c4).T, (c4 - c3).T, (ynew - y + c3).T, y.T         # (A, N)
            th = theta[..., None]
            vals = ((p0[:, None] * th + p1[:, None]) * th + p2[:, None]) * th + p3[:, None]  # (A, kmax, N)
            dest = torch.where(valid, gid[:, None] * T + gsafe, torch.full_like(gidx, A0 * T))
            Yflat[dest.reshape(-1)] = vals.reshape(-1, N)
        gi = torch.where(acc, torch.maximum(gi, gj), gi)
        t = torch.where(acc, t_new, t)
        y = torch.where(acc[None, :], ynew, y)

        # ---- divergence, failure, segment switches, completion
        big = acc & (ynew.abs().amax(0) >= cap)
        underflow = ~acc & (hnew < h_min) & ~big & live
        over_budget = (steps >= max_steps) & ~big & live & ~underflow
        fail = underflow | over_budget
        h = hnew
        fin = acc & (t >= t_final - eps_t) & ~big
        switch = acc & to_end & ~fin & ~big & ~fail
        seg = torch.where(switch, (seg + 1).clamp_max(G - 1), seg)
        send = torch.where(switch, seg_end[gid, seg], send)
        kin.set_coef_where(switch, seg_coef[gid, seg])
        need_f = acc & ~big & ~fin & ~fail
        f0 = torch.where(need_f[None, :], kin.rhs(y), f0)
        out = (big | fail | fin) & live
        new_status = torch.where(big, STATUS_DIVERGED, torch.where(
            underflow, STATUS_STEP_UNDERFLOW, torch.where(over_budget, STATUS_STEP_BUDGET, STATUS_OK))).to(torch.int8)
        status_out[gid] = torch.where(out, new_status, status_out[gid])
        steps_out[gid] = torch.where(out, steps, steps_out[gid])
        rej_out[gid] = torch.where(out, rejects, rej_out[gid])
        stop_gi[gid] = torch.where(out & (big | fail), gi, stop_gi[gid])
        live = live & ~out
        n_live = int(live.sum())  # host sync 2
        n_dead = A - n_live
        if progress is not None:
            n_out = int(out.sum())
            if n_out:
                progress(n_out)
        if n_dead and (n_dead * 8 >= A or n_live == 0):
            keep = live
            gid, y, t, f0, seg, send, gi = gid[keep], y[:, keep], t[keep], f0[:, keep], seg[keep], send[keep], gi[keep]
            steps, rejects, err_old, h_old, first, last_rej, h = (
                steps[keep], rejects[keep], err_old[keep], h_old[keep], first[keep], last_rej[keep], h[keep])
            kin.take(keep)
            live = live[keep]
            A = n_live
    # diverged/failed systems: the rest of the grid holds cap
    fill = torch.arange(T, **i64)[None, :] >= stop_gi[:, None]
    Y.masked_fill_(fill[..., None], cap)
    return Y.cpu().numpy(), status_out.cpu().numpy(), steps_out.cpu().numpy(), rej_out.cpu().numpy()
