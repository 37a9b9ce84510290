"""Pure decisions of a recovery: which strategies, in which order, how long to back off, and what it cost.

The budget (the circuit) is in ``budget.py``.

Nothing here does I/O; the durable workflow asks these functions and carries
their answers out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from paramedic.catalog.base import CheckBase
from paramedic.catalog.model import Budget, Component, Strategy, StrategyName
from paramedic.errors import Refused


@dataclass(frozen=True)
class PlannedStep:
    """One rung of the ladder: the strategy's position in the catalog and its settings."""

    seq: int
    """1-based position in this incident's journal."""
    index: int
    """Position of the strategy in the component's ``recovery`` list."""
    strategy: Strategy

    @property
    def name(self) -> str:
        """The strategy's name (``restart_service`` ...)."""
        return str(self.strategy.strategy)


def plan_ladder(
    component_name: str, component: Component, only: str | None = None
) -> list[PlannedStep]:
    """The strategies to try, in order; ``only`` narrows to one (``recover --strategy``)."""
    if not component.recovery:
        raise Refused(
            f"component {component_name!r} has no recovery strategy; add one under "
            f"components.{component_name}.recovery"
        )
    indexed = list(enumerate(component.recovery))
    if only is not None:
        if only not in StrategyName.__members__:
            known = ", ".join(StrategyName.__members__)
            raise Refused(f"unknown strategy {only!r}; expected one of: {known}")
        indexed = [(i, s) for i, s in indexed if s.strategy == only]
        if not indexed:
            listed = ", ".join(str(s.strategy) for s in component.recovery)
            raise Refused(
                f"component {component_name!r} has no {only} strategy in its catalog entry "
                f"(it has: {listed})"
            )
    return [PlannedStep(seq=n, index=i, strategy=s) for n, (i, s) in enumerate(indexed, start=1)]


def backoff_before(attempt: int, budget: Budget) -> timedelta:
    """Wait before strategy number ``attempt`` (1-based): none before the first, then doubling."""
    if attempt <= 1:
        return timedelta(0)
    wait: timedelta = budget.backoff * (2 ** (attempt - 2))
    return wait if wait < budget.backoff_max else budget.backoff_max


@dataclass(frozen=True)
class Measured:
    """What an incident really cost, by DESIGN.md's timing definitions."""

    rto_s: float | None
    detect_s: float | None
    rpo_s: float | None


def measure(
    failed_at: datetime,
    detected_at: datetime | None,
    recovered_at: datetime | None,
    recovery_point_at: datetime | None,
    data_kept_in_place: bool,
) -> Measured:
    """Measured RTO = recovered − failed; detect = detected − failed; RPO = failed − newest surviving data.

    A strategy that kept the data where it was (a restart) lost none: RPO 0. A
    restore reports the recovery point it used. Otherwise the RPO is unknown (None).
    """
    rto = (recovered_at - failed_at).total_seconds() if recovered_at else None
    detect = (detected_at - failed_at).total_seconds() if detected_at else None
    if recovery_point_at is not None:
        rpo: float | None = max(0.0, (failed_at - recovery_point_at).total_seconds())
    elif data_kept_in_place and recovered_at is not None:
        rpo = 0.0
    else:
        rpo = None
    return Measured(rto, detect, rpo)


KEEPS_DATA_IN_PLACE = frozenset(
    {StrategyName.restart_service, StrategyName.scale_out, StrategyName.run}
)
"""Strategies that leave the component's data where it was (no data lost by the recovery itself)."""


def verification_spacing(interval: timedelta) -> float:
    """Seconds between verification checks: a quarter of the interval, within [0.1 s, 1 s]."""
    return min(1.0, max(0.1, interval.total_seconds() / 4))


STARTS_PROCESS = ("restart_service", "replace_instance")
"""Strategies after which the component is starting again (its ``health.start_period``)."""


def start_wait(health: CheckBase, strategy: str) -> timedelta:
    """How long verification may wait after ``strategy``'s action, past its step's timeout.

    A component that has just been started may fail its checks for ``start_period``: the
    verification does not give up before that period and ``successes`` spaced checks have
    passed, whatever the step's timeout. Zero for other strategies or without a start period.
    """
    if strategy not in STARTS_PROCESS or health.start_period <= timedelta(0):
        return timedelta(0)
    spacing = timedelta(seconds=verification_spacing(health.interval))
    return health.start_period + spacing * health.successes


def strategy_names(steps: Sequence[PlannedStep]) -> list[str]:
    """The ladder's strategy names in order."""
    return [s.name for s in steps]
