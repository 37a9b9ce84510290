"""Whether a measured recovery held its objectives: the one definition every view uses.

``history --json`` (``rto_met``/``rpo_met`` of incidents and drills), the
recoverability score and the report all judge a figure with ``met``, and an
RPO with ``rpo_status``, so they never disagree about one incident.

An RPO that was not measured is never met:

- ``not_applicable`` when the component's RPO objective is 0 s and nothing
  stateful was touched (a stateless service replaced: no data to lose);
- ``unknown`` otherwise (a data-holding component replaced, a recovery that
  reported no recovery point): it may have lost data, nobody knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from paramedic.catalog.model import Component, ComponentType, StrategyName

if TYPE_CHECKING:
    from paramedic.store import IncidentRow, StepRow

RpoStatus = Literal["met", "missed", "not_applicable", "unknown"]


def met(measured: float | None, target: float) -> bool | None:
    """Measured within the target; None when not measured."""
    return None if measured is None else measured <= target


def rpo_status(
    measured: float | None, target: float, *, stateless: bool, failed: bool = False
) -> RpoStatus:
    """How the RPO of one recovery stands (see the module doc); ``failed`` forces ``missed``."""
    if failed:
        return "missed"
    held = met(measured, target)
    if held is not None:
        return "met" if held else "missed"
    return "not_applicable" if stateless and target <= 0 else "unknown"


STATELESS_TYPES = frozenset({ComponentType.application_server, ComponentType.load_balancer})
"""Component types that keep no data of their own (unless they have a ``backup:``)."""
DATA_STRATEGIES = frozenset({StrategyName.restore_from_backup, StrategyName.failover_to_standby})
"""Strategies that bring back or switch data: running one touches state."""


def stateless_recovery(
    component: Component, incident: IncidentRow | None, steps: Sequence[StepRow]
) -> bool:
    """True when nothing stateful was touched: the component keeps no data (its type, no
    ``backup:``) and the recovery used no recovery point and ran no data strategy."""
    if component.type not in STATELESS_TYPES or component.backup is not None:
        return False
    if incident is not None and incident.recovery_point_at is not None:
        return False
    return not any(s.strategy in DATA_STRATEGIES and not s.dry_run for s in steps)
