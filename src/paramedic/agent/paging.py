"""The agent's notices: an incident's event to the notification routes, unless paused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paramedic.agent.parts import AgentParts
from paramedic.catalog.model import Event
from paramedic.notify import Notice


class Paging:
    """Sends an incident's notices through the notifier and records each delivery in the store."""

    def __init__(self, parts: AgentParts) -> None:
        self.parts = parts
        self.listeners: list[Callable[[Any], None]] = []
        """Called with each delivery record (the API's notification counters)."""

    async def notify(
        self,
        event: Event,
        incident_id: str,
        component: str,
        message: str,
        outlived_rto: bool = False,
    ) -> None:
        """Page about ``incident_id`` (suppressed, with a decision line, while the component is paused)."""
        parts = self.parts
        watch = parts.watches.get(component)
        if watch is not None and watch.paused:
            parts.say(component, "page_suppressed", f"paused: {event.value} not sent")
            return
        incident = parts.store.incident(incident_id)
        payload = incident.to_json()
        payload["message"] = message
        title = f"[paramedic] {component}: {event.value.replace('_', ' ')}: {message}"
        await parts.notifier.notify(
            Notice(
                event=event,
                component=component,
                incident_id=incident_id,
                title=title,
                payload=payload,
                outlived_rto=outlived_rto,
            )
        )

    def record(self, record: Any) -> None:
        """The notifier's callback: one delivery (sent, failed, retried) into the store."""
        for listener in self.listeners:
            listener(record)
        store = getattr(self.parts, "store", None)
        if store is not None:
            store.record_notification(
                incident_id=record.incident_id,
                route=record.route,
                event=str(record.event),
                at=record.at,
                status=str(record.status),
                attempts=record.attempts,
                error=record.error or "",
            )
