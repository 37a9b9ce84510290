"""Scheduled drills (``drills.schedule``): started through the DrillRunner when due."""

from __future__ import annotations

import logging

from paramedic.agent.parts import AgentParts, Ticking
from paramedic.drills.schedule import DrillSchedule

log = logging.getLogger("paramedic.agent")


class ScheduledDrills(Ticking):
    """Once a second: the drill whose time has come, or a line saying why one was skipped."""

    name = "drills"
    label = "drill schedule"

    def __init__(self, parts: AgentParts) -> None:
        super().__init__()
        self.parts = parts
        self.schedule = DrillSchedule()

    async def tick(self) -> None:
        """Start the due drill, if any."""
        parts = self.parts
        now = parts.clock.now()
        due = self.schedule.due(parts.catalog, now)
        for name, why in self.schedule.skipped:
            parts.say(name, "drill_skipped", why, at=now)
        self.schedule.skipped.clear()
        if due is None or due.component not in parts.watches:
            return  # nothing due, or another agent owns it (several agents)
        from paramedic.drills import DrillRunner

        runner = DrillRunner(
            parts.catalog,
            parts.store,
            clock=parts.clock,
            notifier=parts.notifier,
            providers=parts.providers,
            progress=lambda line: log.info("drill: %s", line),
        )

        def say(kind: str, text: str) -> None:
            parts.say(due.component, kind, text)

        say("drill_started", f"scheduled drill: fault {due.fault}")
        parts.spawn(self.schedule.run(due, runner, say))
