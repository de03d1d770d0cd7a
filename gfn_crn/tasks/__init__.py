"""Tasks: what a circuit should do, as a loss (lower is better), a validity flag and a log-reward
(DESIGN.md section 5).

Every task has ``evaluate(networks) -> TaskResult`` (one simulator call per batch) and
``task(networks) -> (log_reward, valid)`` (numpy arrays), plus ``template``, ``beta``,
``loss_cap``, ``floor``, ``good_threshold`` and ``prior``. Build presets and TOML task files with
:func:`load_task`; list presets with :func:`list_presets`.
"""

from .base import Task, TaskResult, make_weights, transient_weights
from .config import KINDS, load_task, parse_task, task_from_dict
from .datafit import DataFitTask, Experiment, TraceTask, read_csv
from .expr import Expr
from .habituation import HabituationTask
from .oscillator import OscillatorTask, dominant_frequency, oscillation_metrics
from .presets import PRESETS, list_presets
from .prior import LogParameterPrior
from .tracking import ClassificationTask, DoseResponseTask, LogicTask, TrackingTask, tracking_error
from .stochastic import SSARobustTask, SSATrackingTask

__all__ = [
    "Task", "TaskResult", "make_weights", "transient_weights", "KINDS", "load_task", "parse_task", "task_from_dict",
    "DataFitTask", "Experiment", "TraceTask", "read_csv", "Expr", "HabituationTask", "OscillatorTask",
    "dominant_frequency", "oscillation_metrics", "PRESETS", "list_presets", "LogParameterPrior",
    "ClassificationTask", "DoseResponseTask", "LogicTask", "TrackingTask", "tracking_error",
    "SSATrackingTask", "SSARobustTask",
]
