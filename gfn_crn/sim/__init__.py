"""Batched ODE simulation of networks under scenarios (DESIGN.md section 4).

torch is imported only by ``engine="torch"``."""

from .compile import CompiledBatch, compile_networks
from .scenarios import DEFAULT_INIT, PiecewiseConstant, Scenario, scenario_grid, scenario_zip, time_grid
from .simulate import DIVERGED, ENGINES, FAILED, OK, STATUS_NAMES, SimResult, simulate
from .status import FAILURES, SolverStatus, is_failure

__all__ = [
    "simulate", "SimResult", "Scenario", "PiecewiseConstant", "scenario_grid", "scenario_zip", "time_grid",
    "DEFAULT_INIT", "OK", "DIVERGED", "FAILED", "STATUS_NAMES", "SolverStatus", "FAILURES", "is_failure", "ENGINES", "compile_networks", "CompiledBatch",
]
