"""Scheduled drills (``drills.schedule``): started through the DrillRunner when due."""

from __future__ import annotations

import asyncio
import logging

from paramedic.agent.parts import AgentParts, Loop
from paramedic.drills.schedule import DrillSchedule

log = logging.getLogger("paramedic.agent")


class ScheduledDrills(Loop):
    """Once a second: the drill whose time has come, or a line saying why one was skipped."""

    name = "drills"

    def __init__(self, parts: AgentParts) -> None:
        super().__init__()
        self.parts = parts
        self.schedule = DrillSchedule()

    async def run(self) -> None:
        """Tick once a second until cancelled; one bad tick is logged, never fatal."""
        while True:
            await asyncio.sleep(1.0)
            try:
                self.tick()
            except Exception as exc:  # the loop must outlive one bad tick
                log.warning("drill schedule: %s: %s", type(exc).__name__, exc)

    def tick(self) -> None:
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
