"""Rodas4: the one definition of the method that every Rosenbrock engine runs.

Rodas4 (Hairer & Wanner, *Solving ODEs II*, section IV.7) is a 6-stage, order-4, L-stable,
stiffly accurate Rosenbrock method with an embedded order-3 solution for error control and a
continuous extension (order 3) for dense output. Two engines integrate with it and agree step for
step (same accepted and rejected steps, results equal up to floating-point rounding):

* :mod:`gfn_crn.sim.rodas_numba` (kernels in :mod:`gfn_crn.sim._rodas_kernels`): compiled with
  numba, one system after another (the default engine);
* :mod:`gfn_crn.sim.rodas_torch`: vectorised over all systems in torch, for accelerators.

This module holds what they share, so that it is written once: the tableau, the step-size
controller (constants and formulas), the initial step, and the rules that stop a system. It is
plain Python (floats and tuples; the formulas use only arithmetic, so they apply to a float in
compiled code and to a tensor alike) and imports nothing else of gfn_crn but the status codes.

The step, for a system ``y' = f(y)`` with Jacobian ``J`` at ``(t, y)`` and step ``h``: the stages
``k_1..k_6`` solve ``(I / (GAMMA h) - J) k_s = f(y + sum_j A[s][j] k_j) + sum_j (C[s][j] / h) k_j``
(stage 6 evaluates at ``y5 + k_5``, with ``y5`` the stage-5 point); the new state is
``ynew = y5 + k_5 + k_6``; ``k_6`` is the error estimate. The matrix is factored by LU without
pivoting; a pivot below ``PIVOT_TOL`` times the largest entry rejects the step (a smaller ``h``
makes the matrix diagonally dominant).

Error norm: ``err = sqrt(mean_i (k_6[i] / (atol + rtol * max(|y[i]|, |ynew[i]|)))^2)``; the step
is accepted when ``err <= 1``; a non-finite ``err`` or ``ynew`` (or a failed LU) counts as
``err = inf``.

Step-size control (Hairer's RODAS controller with Gustafsson's prediction): the new step is
``h / fac`` with ``fac = clip(step_ratio(err), FAC_MIN, FAC_MAX)``; after an accepted step that is
not the system's first accepted one, ``fac = max(fac, clip(predicted_ratio(...), FAC_MIN,
FAC_MAX))`` (a non-finite prediction counts as 1); after an accepted step that follows a
rejection the step does not grow; after a non-finite step it is ``NONFINITE_SHRINK * h``. An
accepted step stores ``h_old = h`` and ``err_old = max(err, ERR_OLD_FLOOR)``.

A system stops as ``diverged`` when an accepted state reaches ``cap`` in any species, as
``step_underflow`` when a rejected step's successor falls below ``H_MIN_REL * max(t_f, 1)``, and
as ``step_budget`` after ``max_steps`` steps (accepted or rejected); the rest of its grid then
holds ``cap``.
"""

from __future__ import annotations

from .status import SolverStatus

# ------------------------------------------------------------------ the tableau (W-form of Hairer's RODAS)
GAMMA = 0.25
#: ``A[s]``: the coefficients of k_1..k_{s-1} in the argument of f at stage s (s = 2..5)
A = {
    2: (1.544,),
    3: (0.9466785280815826, 0.2557011698983284),
    4: (3.314825187068521, 2.896124015972201, 0.9986419139977817),
    5: (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950),
}
#: ``C[s]``: the coefficients of k_1..k_{s-1} / h added to f at stage s (s = 2..6)
C = {
    2: (-5.6688,),
    3: (-2.430093356833875, -0.2063599157091915),
    4: (-0.1073529058151375, -9.594562251023355, -20.47028614809616),
    5: (7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160),
    6: (8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054),
}
#: the continuous extension, a cubic in theta = (t - t_n) / h:
#: ``y(theta) = y + theta (ynew - y + c3) + theta^2 (c4 - c3) - theta^3 c4``, c3 = sum D2[j] k_j,
#: c4 = sum D3[j] k_j over k_1..k_5
D2 = (10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823, 1.025137723295662)
D3 = (-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386, -6.594389125716872)
#: stages 1..6 of A and C as rows of 5 (zero-padded): row s holds stage s's coefficients
A_ROWS = tuple(tuple(A.get(s, ())) + (0.0,) * (5 - len(A.get(s, ()))) for s in range(7))
C_ROWS = tuple(tuple(C.get(s, ())) + (0.0,) * (5 - len(C.get(s, ()))) for s in range(7))

# ------------------------------------------------------------------ step-size control
SAFETY = 0.9            # the controller aims at err = SAFETY^4 of the tolerance
FAC_MIN = 1.0 / 6.0     # fac >= 1/6: a step grows at most 6x
FAC_MAX = 5.0           # fac <= 5: a step shrinks at most 5x
ERR_OLD_FLOOR = 0.01    # err_old kept for the prediction is at least this
NONFINITE_SHRINK = 0.2  # a step whose result is not finite is retried at 0.2 h

# ------------------------------------------------------------------ the initial step and the time tolerances
INIT_FRACTION = 0.01    # h0 = 0.01 * |y|_sc / |f(y)|_sc: 1% of the time the state needs to change by its own size
INIT_TINY = 1e-5        # ... where both norms exceed this; otherwise h0 = INIT_DEFAULT
INIT_DEFAULT = 1e-6
INIT_MIN = 1e-10        # h0 >= this (and <= the end of the first input segment)
H_MIN_REL = 1e-14       # step underflow below H_MIN_REL * max(t_f, 1)
EPS_T_REL = 1e-12       # time comparisons within EPS_T_REL * max(t_f, 1)
PIVOT_TOL = 1e-13       # LU pivot below PIVOT_TOL * max |M_ij| rejects the step

STATUS_OK, STATUS_DIVERGED, STATUS_FAILED = int(SolverStatus.OK), int(SolverStatus.DIVERGED), int(SolverStatus.FAILED)
STATUS_STEP_UNDERFLOW, STATUS_STEP_BUDGET = int(SolverStatus.STEP_UNDERFLOW), int(SolverStatus.STEP_BUDGET)


def step_ratio(err):
    """``err^(1/4) / SAFETY``: the controller's ratio of the current to the next step (before
    clipping to [FAC_MIN, FAC_MAX]). Arithmetic only: a float or a tensor."""
    return (err ** 0.5) ** 0.5 / SAFETY


def predicted_ratio(err, err_old, h_old, h):
    """Gustafsson's prediction, ``(h_old / h) * (err^2 / err_old)^(1/4) / SAFETY`` (before
    clipping; non-finite counts as 1). Arithmetic only: a float or a tensor."""
    return (h_old / h) * ((err * err / err_old) ** 0.5) ** 0.5 / SAFETY


def initial_step(d0, d1):
    """``INIT_FRACTION * d0 / d1`` (both norms above ``INIT_TINY``; the caller picks
    ``INIT_DEFAULT`` otherwise), with ``d0 = |y|`` and ``d1 = |f(y)|`` in the error norm."""
    return INIT_FRACTION * d0 / d1


__all__ = ["GAMMA", "A", "C", "D2", "D3", "A_ROWS", "C_ROWS", "SAFETY", "FAC_MIN", "FAC_MAX",
           "ERR_OLD_FLOOR", "NONFINITE_SHRINK", "INIT_FRACTION", "INIT_TINY", "INIT_DEFAULT", "INIT_MIN",
           "H_MIN_REL", "EPS_T_REL", "PIVOT_TOL", "step_ratio", "predicted_ratio", "initial_step"]
