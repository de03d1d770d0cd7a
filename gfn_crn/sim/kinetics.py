"""Vectorised right-hand side and analytic Jacobian over many systems at once.

Arrays are laid out *batch last*: concentrations ``y`` have shape (N, A) for A active systems,
so every operation works on long contiguous rows. Rates use ``max(x, 0)`` so that solver
round-off below zero cannot drive a propensity negative (mass action ``x*x`` would otherwise
grow for x < 0).
"""

from __future__ import annotations

import numpy as np

from .compile import ACT, LINEAR, REP, CompiledBatch


class Kinetics:
    """dx/dt = S a(x) and its Jacobian for A systems (one network + one input segment each)."""

    def __init__(self, cb: CompiledBatch, net_of_sys: np.ndarray, coef: np.ndarray):
        """``net_of_sys`` (A,) maps each system to a network row of ``cb``; ``coef`` (A, R) holds the
        effective term coefficients (inputs already multiplied in)."""
        self.N = cb.N
        R, J = cb.ftype.shape[1:]
        self.R, self.J = R, J
        self.has_hill = cb.has_hill
        self.coef = np.ascontiguousarray(coef.T)                                    # (R, A)
        fidx = cb.fidx[net_of_sys]                                                  # (A, R, J)
        self.fidx = np.ascontiguousarray(fidx.reshape(len(net_of_sys), R * J).T)   # (RJ, A)
        self.S = np.ascontiguousarray(cb.S[net_of_sys].transpose(1, 2, 0))         # (N, R, A)
        oh = fidx[..., None] == np.arange(self.N)                                   # (A, R, J, N)
        self.onehot = np.ascontiguousarray(oh.transpose(1, 2, 3, 0).astype(float))  # (R, J, N, A)
        if self.has_hill:
            ft = cb.ftype[net_of_sys].transpose(1, 2, 0)                            # (R, J, A)
            self.is_lin = ft == LINEAR
            self.is_act = ft == ACT
            self.is_rep = ft == REP
            self.is_hill = self.is_act | self.is_rep
            self.fn = np.ascontiguousarray(cb.fn[net_of_sys].transpose(1, 2, 0))
            self.Kn = np.ascontiguousarray(cb.fK[net_of_sys].transpose(1, 2, 0)) ** self.fn
        self._arrays = ["coef", "fidx", "S", "onehot"] + (
            ["is_lin", "is_act", "is_rep", "is_hill", "fn", "Kn"] if self.has_hill else [])
        self._flat_index()

    def _flat_index(self) -> None:
        # gather x~[fidx[i, a], a] from the flattened (N+1, A) array in one np.take
        A = self.fidx.shape[1]
        self._flat = self.fidx * A + np.arange(A)

    @property
    def A(self) -> int:
        return self.coef.shape[1]

    def take(self, keep: np.ndarray) -> None:
        """Keep only systems ``keep`` (bool mask or indices over the current A)."""
        for name in self._arrays:
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[..., keep]))
        self._flat_index()

    def set_coef(self, rows: np.ndarray, coef_rows: np.ndarray) -> None:
        """Replace the coefficients of systems ``rows`` (e.g. at an input switch)."""
        self.coef[:, rows] = coef_rows.T

    # ------------------------------------------------------------------ evaluation
    def _gather(self, y: np.ndarray) -> np.ndarray:
        xt = np.empty((self.N + 1, y.shape[1]))
        np.maximum(y, 0.0, out=xt[: self.N])
        xt[self.N] = 1.0
        return np.take(xt, self._flat).reshape(self.R, self.J, -1)

    def _factors(self, v: np.ndarray, deriv: bool):
        """Factor values f (R, J, A) and, if ``deriv``, df/dx."""
        if not self.has_hill:
            return v, None
        vn = np.where(self.is_hill, v, 1.0) ** self.fn
        den = self.Kn + vn
        with np.errstate(divide="ignore", invalid="ignore"):
            act = vn / den
            rep = self.Kn / den
        f = np.where(self.is_act, act, np.where(self.is_rep, rep, v))
        if not deriv:
            return f, None
        with np.errstate(divide="ignore", invalid="ignore"):
            # d/dx x^n/(K^n+x^n) = n K^n x^(n-1) / (K^n+x^n)^2 ; x^(n-1) = vn / x for x > 0
            vnm1 = np.where(self.is_hill, np.where(self.fn == 1.0, 1.0, np.where(v > 0, vn / np.where(v > 0, v, 1.0), 0.0)), 0.0)
            dh = self.fn * self.Kn * vnm1 / den**2
        df = np.where(self.is_act, dh, np.where(self.is_rep, -dh, self.is_lin.astype(float)))
        return f, df

    def rhs(self, y: np.ndarray) -> np.ndarray:
        """dx/dt, shape (N, A)."""
        v = self._gather(y)
        f, _ = self._factors(v, False)
        a = self.coef * (f[:, 0] * f[:, 1] if self.J == 2 else np.prod(f, axis=1))
        return np.einsum("nra,ra->na", self.S, a)

    def jac(self, y: np.ndarray) -> np.ndarray:
        """Jacobian d(dx/dt)/dx, shape (N, N, A): [i, j] = d f_i / d x_j."""
        v = self._gather(y)
        f, df = self._factors(v, True)
        if df is None:  # mass action: factors are x (derivative 1) or the constant slot (no column)
            df = 1.0
        J = self.J
        g = np.empty_like(f)
        for j in range(J):
            others = np.ones_like(f[:, 0])
            for l in range(J):
                if l != j:
                    others = others * f[:, l]
            g[:, j] = others * (df if np.isscalar(df) else df[:, j])
        g *= self.coef[:, None, :]
        dadx = np.einsum("rja,rjma->rma", g, self.onehot)
        return np.einsum("nra,rma->nma", self.S, dadx)
