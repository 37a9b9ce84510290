"""Every second: the tallied checks to the store, expired pauses, incidents past their RTO."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from paramedic.agent.paging import Paging
from paramedic.agent.parts import AgentParts, Loop
from paramedic.agent.watching import Watching
from paramedic.catalog.model import Event
from paramedic.errors import ParamedicError
from paramedic.store import ComponentRow, IncidentRow

log = logging.getLogger("paramedic.agent")

OPEN_INCIDENTS_READ = 1_000_000
"""Every open incident (the store's default page of 100 would hide the oldest ones)."""


class Housekeeping(Loop):
    """The agent's one-second loop of small store work."""

    name = "housekeeping"

    def __init__(self, parts: AgentParts, watching: Watching, paging: Paging) -> None:
        super().__init__()
        self.parts = parts
        self.watching = watching
        self.paging = paging
        self._escalated_rto: set[str] = set()
        self.resets: dict[str, datetime] = {}
        """The circuit reset of each component the agent has carried out (from the store)."""
        self.last_tick = parts.clock.monotonic()
        """When the loop last ticked (monotonic seconds): the agent's liveness."""

    async def run(self) -> None:
        """Tick once a second until cancelled; one bad tick is logged, never fatal."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.tick()
            except ParamedicError as exc:
                log.warning("housekeeping: %s", exc)

    async def tick(self) -> None:
        """One pass."""
        self.last_tick = self.parts.clock.monotonic()
        await self.watching.flush_checks()
        store = self.parts.store
        # the store is read off the event loop: the checks must not wait for it
        paused, resets, open_incidents = await asyncio.to_thread(
            lambda: (
                store.paused_components(),
                store.circuit_resets(),
                store.incidents(open_only=True, limit=OPEN_INCIDENTS_READ),
            )
        )
        self.refresh_pauses(paused)
        self.refresh_resets(resets)
        await self._rto_watch(open_incidents)

    def refresh_pauses(self, rows: Sequence[ComponentRow] | None = None) -> None:
        """Apply the pauses of the store (``paramedic pause`` writes them there)."""
        parts = self.parts
        now = parts.clock.now()
        if rows is None:
            rows = parts.store.paused_components()
        paused_now = {row.name for row in rows if row.is_paused(now)}
        for name, watch in parts.watches.items():
            paused = name in paused_now
            if watch.paused and not paused:
                parts.say(name, "resumed", "maintenance over: recovering and paging again", at=now)
            watch.paused = paused

    def refresh_resets(self, resets: Mapping[str, datetime]) -> None:
        """Carry out the circuit resets operators wrote to the store (``paramedic reset``)."""
        parts = self.parts
        for name, at in resets.items():
            if self.resets.get(name) == at:
                continue
            self.resets[name] = at
            watch = parts.watches.get(name)
            if watch is None:
                continue
            before = watch.detector.state
            decision = watch.detector.reset_circuit(at)
            now = parts.clock.now()
            parts.say(name, decision.kind.value, decision.reason, at=now)
            if decision.state != before:
                parts.store.record_transition(
                    name,
                    at=now,
                    from_state=before.value,
                    to_state=decision.state.value,
                    reason=decision.reason,
                )
                parts.spawn(parts.scheduler.check_now(name))

    async def _rto_watch(self, open_incidents: Sequence[IncidentRow]) -> None:
        """Page the escalation route once for an incident open longer than its RTO."""
        now = self.parts.clock.now()
        for incident in open_incidents:
            if incident.id in self._escalated_rto or incident.state == "blocked":
                continue
            if incident.component not in self.parts.watches:
                continue  # another agent owns it (several agents): that one pages
            if (now - incident.failed_at).total_seconds() > incident.target_rto_s:
                self._escalated_rto.add(incident.id)
                await self.paging.notify(
                    Event.escalated,
                    incident.id,
                    incident.component,
                    f"open for longer than its RTO of {incident.target_rto_s:g}s",
                    outlived_rto=True,
                )
