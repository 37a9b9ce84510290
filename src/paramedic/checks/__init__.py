"""Health checks: a probe per check kind, ``run_check`` to run one, the scheduler to run all."""

from paramedic.checks.process import ProcessProbe
from paramedic.checks.registry import register, run_check
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.checks.scheduler import CheckRunner, CheckScheduler, SchedulerStats

__all__ = [
    "CheckResult",
    "CheckRunner",
    "CheckScheduler",
    "FailureClass",
    "ProcessProbe",
    "SchedulerStats",
    "register",
    "run_check",
]
