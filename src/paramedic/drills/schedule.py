"""Scheduled drills: ``drills.schedule`` (cron, agent local time) run by the agent itself.

One drill at a time across the catalog: a drill that falls due while another runs waits for
it. A firing outside the component's ``drills.window`` is skipped (the next one is awaited).
The fault is the first of ``drills.faults``, else the first the provider offers. The drill
goes through ``DrillRunner`` with every guard (``drills.allowed`` must be true), and its
result is notified like an incident's (``drill_finished``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from croniter import croniter

from paramedic.catalog.model import Catalog
from paramedic.drills.runner import DrillRefused, DrillRunner
from paramedic.drills.window import parse_window
from paramedic.errors import ParamedicError
from paramedic.providers.registry import provider_info


def next_fire(schedule: str, after: datetime) -> datetime:
    """The first time ``schedule`` fires strictly after ``after`` (in ``after``'s time zone)."""
    fire: datetime = croniter(schedule, after).get_next(datetime)
    return fire


def scheduled_fault(catalog: Catalog, name: str) -> str | None:
    """The fault a scheduled drill injects: the first of ``drills.faults``, else the provider's."""
    component = catalog.components[name]
    if component.drills.faults:
        return component.drills.faults[0]
    offered = provider_info(component.provider).faults
    return offered[0] if offered else None


@dataclass(frozen=True)
class DueDrill:
    """A scheduled drill to start now."""

    component: str
    fault: str


class DrillSchedule:
    """When each component's scheduled drill is next due; hands out one drill at a time."""

    def __init__(self) -> None:
        self._due: dict[str, datetime] = {}
        self.running: str | None = None
        """The component being drilled, if any."""
        self.skipped: list[tuple[str, str]] = []
        """``(component, why)`` of firings skipped since last read (outside the window)."""

    def due(self, catalog: Catalog, now: datetime) -> DueDrill | None:
        """The drill to start at ``now``, or None; ``now`` is read in the agent's local time."""
        local = now.astimezone()
        chosen: DueDrill | None = None
        for name, component in catalog.components.items():
            schedule = component.drills.schedule
            if not schedule:
                self._due.pop(name, None)
                continue
            due = self._due.setdefault(name, next_fire(schedule, local))
            if local < due or self.running is not None or chosen is not None:
                continue  # not yet, or waiting for the drill under way
            self._due[name] = next_fire(schedule, local)
            window = component.drills.window
            if window is not None and not _inside(window, local):
                self.skipped.append((name, f"scheduled drill skipped: outside window {window!r}"))
                continue
            fault = scheduled_fault(catalog, name)
            if fault is None:
                self.skipped.append((name, "scheduled drill skipped: the provider offers no fault"))
                continue
            chosen = DueDrill(name, fault)
        return chosen

    async def run(
        self, due: DueDrill, runner: DrillRunner, say: Callable[[str, str], None]
    ) -> None:
        """Run ``due`` through ``runner``; ``say(kind, text)`` reports the outcome in one line."""
        self.running = due.component
        try:
            result = await runner.run(due.component, due.fault)
        except DrillRefused as exc:
            say("drill_refused", f"scheduled drill of {due.fault} refused: {exc}")
        except ParamedicError as exc:
            say("drill_failed", f"scheduled drill of {due.fault} failed: {exc}")
        else:
            say(
                "drill_finished",
                f"scheduled drill of {due.fault}: {result.verdict}: {result.reason}",
            )
        finally:
            self.running = None


def _inside(window: str, local: datetime) -> bool:
    try:
        return parse_window(window).contains(local)
    except ValueError:
        return False
