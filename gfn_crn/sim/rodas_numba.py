"""The Rodas4 method of :mod:`gfn_crn.sim.rodas` compiled with numba, one system at a time (the
default engine).

The tableau, the step-size controller, the divergence/failure rules and the continuous extension
are :mod:`gfn_crn.sim.rodas`'s, compiled in; the torch engine (:mod:`gfn_crn.sim.rodas_torch`)
runs the same definitions vectorised over all systems. Every system runs its whole integration
in compiled code with scalar loops over species and terms, so a step of a 3-species, 7-term
system costs about 0.6 microseconds (its stages form one dependent chain: latency, not
arithmetic, bounds it) and a finished system costs nothing.

Kinetics are read from sparse per-term tables built from a :class:`CompiledBatch` (terms whose
net stoichiometry is zero, padding included, are skipped). Small integer Hill exponents are
expanded into products instead of ``pow``. The Jacobian is reused after a rejected step (same
state, same coefficients). Results differ from the torch engine only by floating-point rounding
(operation order), so the engines agree to far below the error tolerance.

Compilation is lazy (first call), cached on disk (``cache=True``), and reported through
:func:`kernel_status`. ``error_model="numpy"`` keeps IEEE semantics (a division by zero gives inf,
not an exception); no ``fastmath``, so results are deterministic and bit-for-bit repeatable.
"""

from __future__ import annotations

import time

import numpy as np

from .compile import LINEAR, CompiledBatch

_STATE = {"kernel": None, "error": None, "compile_s": None}


def _tables(cb: CompiledBatch):
    """Sparse per-network term tables for the kernel."""
    S = cb.S.transpose(0, 2, 1)                                              # (B, R, N)
    nz = S != 0
    st_n = nz.sum(axis=2).astype(np.int64)                                   # (B, R)
    st_idx = np.ascontiguousarray(np.argsort(~nz, axis=2, kind="stable"), dtype=np.int64)  # nonzero first
    st_val = np.ascontiguousarray(np.take_along_axis(S, st_idx, axis=2), dtype=float)
    fn = np.ascontiguousarray(cb.fn, dtype=float)
    Kn = np.ascontiguousarray(cb.fK, dtype=float) ** fn
    ni = np.where((fn == np.round(fn)) & (fn >= 1) & (fn <= 4), np.round(fn), -1).astype(np.int64)
    return (np.ascontiguousarray(cb.ftype, dtype=np.int64), np.ascontiguousarray(cb.fidx, dtype=np.int64),
            Kn, fn, ni, st_n, st_idx, st_val)


def _build():
    from ._rodas_kernels import integrate_range

    _drop_stale_cache(integrate_range)
    return integrate_range


def _drop_stale_cache(dispatcher) -> None:
    """numba keys its on-disk cache on the kernel module's file, but the kernel freezes the
    method's constants from :mod:`gfn_crn.sim.rodas` into its code: after that module changes,
    drop the cached kernel so it is compiled again (a stamp of the method's source sits beside
    the cache)."""
    import hashlib
    import inspect
    from pathlib import Path

    from . import rodas

    try:
        cache = dispatcher._cache                       # numba's FunctionCache (numba is pinned)
        stamp_file = Path(cache._cache_path) / "rodas_method.sha1"
        stamp = hashlib.sha1(inspect.getsource(rodas).encode()).hexdigest()
        if not stamp_file.exists() or stamp_file.read_text() != stamp:
            cache.flush()
            stamp_file.write_text(stamp)
    except (AttributeError, OSError):                   # no cache to keep in step with
        pass


def kernel():
    """The compiled kernel, compiling it on first use; raises if numba is unavailable or fails."""
    if _STATE["kernel"] is None:
        if _STATE["error"] is not None:
            raise RuntimeError(_STATE["error"])
        try:
            t0 = time.perf_counter()
            k = _build()
            _warmup(k)
            _STATE["compile_s"] = time.perf_counter() - t0
            _STATE["kernel"] = k
        except Exception as e:  # noqa: BLE001 - any import/compile failure means "fall back"
            _STATE["error"] = f"{type(e).__name__}: {e}"
            raise RuntimeError(_STATE["error"]) from e
    return _STATE["kernel"]


def kernel_status() -> dict:
    """{'compiled': bool, 'compile_s': seconds spent compiling/loading (None before), 'error': str|None}."""
    return {"compiled": _STATE["kernel"] is not None, "compile_s": _STATE["compile_s"], "error": _STATE["error"]}


def _warmup(k) -> None:
    """Compile (or load from the cache) for the one signature :func:`integrate` uses."""
    y0 = np.full((1, 1), 0.5)
    tg = np.array([0.0, 1.0])
    se = np.ones((1, 1))
    sc = np.ones((1, 1, 1))
    z = np.zeros((1, 1, 2), dtype=np.int64)
    ft = z.copy()
    ft[0, 0, 0] = LINEAR
    fi = z.copy()
    ones = np.ones((1, 1, 2))
    ni = np.ones((1, 1, 2), dtype=np.int64)
    stn = np.ones((1, 1), dtype=np.int64)
    sti = np.zeros((1, 1, 1), dtype=np.int64)
    stv = -np.ones((1, 1, 1))
    Y = np.empty((1, 2, 1))
    k(0, 1, y0, tg, se, sc, np.zeros(1, dtype=np.int64), ft, fi, ones, ones, ni, stn, sti, stv, 1e-6, 1e-9, 1e4,
      100, Y, np.zeros(1, dtype=np.int8), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1))


def integrate(cb: CompiledBatch, net_of_sys, y0, t_grid, seg_end, seg_coef, *, rtol=1e-6, atol=1e-9, cap=1e4,
              max_steps=20000, progress=None, chunk: int = 512):
    """Integrate A systems of the compiled batch from ``t = 0`` over ``t_grid`` (T,).

    ``net_of_sys`` (A,) the network of each system; ``y0`` (N, A); ``seg_end`` (A, G) end time of
    each input segment (the last equals ``t_grid[-1]``, unused trailing entries too);
    ``seg_coef`` (A, G, R) term coefficients in each segment. Returns ``Y`` (A, T, N) already
    clipped to [0, cap], ``status`` (A,), ``steps`` (A,), ``rejected`` (A,) and the most negative
    raw value ``min_raw``."""
    k = kernel()
    tabs = _tables(cb)
    N, A = y0.shape
    T = t_grid.size
    Y = np.empty((A, T, N))
    status = np.full(A, -1, dtype=np.int8)
    steps = np.zeros(A, dtype=np.int64)
    rej = np.zeros(A, dtype=np.int64)
    min_raw = np.zeros(A)
    args = (np.ascontiguousarray(y0.T, dtype=float), np.ascontiguousarray(t_grid, dtype=float),
            np.ascontiguousarray(seg_end, dtype=float), np.ascontiguousarray(seg_coef, dtype=float),
            np.ascontiguousarray(net_of_sys, dtype=np.int64)) + tabs
    step = A if progress is None else max(1, chunk)
    for a0 in range(0, A, step):
        a1 = min(A, a0 + step)
        k(a0, a1, *args, float(rtol), float(atol), float(cap), int(max_steps), Y, status, steps, rej, min_raw)
        if progress is not None:
            progress(a1 - a0)
    return Y, status, steps, rej, float(min_raw.min()) if A else 0.0
