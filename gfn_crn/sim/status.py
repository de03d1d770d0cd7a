"""Why a simulation of one (network, scenario) stopped.

The codes are small integers (``SimResult.status`` arrays hold them as int8); ``FAILED`` stays 2
as before, and the two causes the Rosenbrock engine can tell apart got codes of their own."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class SolverStatus(IntEnum):
    OK = 0              #: reached the final time
    DIVERGED = 1        #: a concentration reached the cap, or the state turned non-finite
    FAILED = 2          #: the solver gave up for another or unknown reason (scipy, CVODE), or the SSA event budget
    STEP_UNDERFLOW = 3  #: the step size fell below the minimum (1e-14 of the time span) on a rejected step
    STEP_BUDGET = 4     #: the step budget (max_steps) was spent before the final time


#: the codes that mean "the solver failed" (the candidate is invalid, but did not diverge)
FAILURES = (SolverStatus.FAILED, SolverStatus.STEP_UNDERFLOW, SolverStatus.STEP_BUDGET)
#: code -> name ("ok", "diverged", "failed", "step_underflow", "step_budget")
STATUS_NAMES = {int(s): s.name.lower() for s in SolverStatus}


def is_failure(status) -> np.ndarray:
    """Elementwise: a solver failure of any cause."""
    return np.isin(np.asarray(status), [int(s) for s in FAILURES])


__all__ = ["SolverStatus", "FAILURES", "STATUS_NAMES", "is_failure"]
