"""What a notification says (``Notice``) and what became of it on one route (the record)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel

from paramedic.catalog.model import Event

DeliveryStatus = Literal["sent", "failed"]


@dataclass(frozen=True)
class Notice:
    """One event about one component, to be sent to every route that wants it.

    ``payload`` is the incident as JSON-ready data with its timings, built by the caller.
    ``ladder_exhausted`` says every recovery strategy has been tried and failed;
    ``outlived_rto`` says the incident has lasted longer than the component's RTO.
    ``title`` is kept on one line: runs of whitespace, newlines included, become one space.
    """

    event: Event
    component: str
    incident_id: str | None
    title: str
    payload: dict[str, Any] = field(default_factory=dict)
    ladder_exhausted: bool = False
    outlived_rto: bool = False

    def __post_init__(self) -> None:
        # A title is one line; collapsing (rather than refusing) a multi-line one keeps a
        # check's multi-line output from ever making a notice, and so a recovery, fail.
        object.__setattr__(self, "title", " ".join(self.title.split()))

    def to_json(self) -> str:
        """The body every channel gets: event, component, incident_id, title, payload (sorted)."""
        document = {
            "event": self.event.value,
            "component": self.component,
            "incident_id": self.incident_id,
            "title": self.title,
            "payload": self.payload,
        }
        return json.dumps(document, sort_keys=True, default=_json_default)


def title_for(event: Event, component: str, detail: str | None = None) -> str:
    """The usual one-line title, e.g. ``[paramedic] web: failure detected (refused)``."""
    words = event.value.replace("_", " ")
    title = f"[paramedic] {component}: {words}"
    if detail:
        title += f" ({' '.join(detail.split())})"
    return title


@dataclass(frozen=True)
class NotificationRecord:
    """The final outcome of delivering one notice to one route (written to the journal)."""

    route: str
    event: Event
    component: str
    incident_id: str | None
    status: DeliveryStatus
    attempts: int
    error: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: enums as their values, ``at`` as ISO 8601."""
        return {
            "route": self.route,
            "event": self.event.value,
            "component": self.component,
            "incident_id": self.incident_id,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "at": self.at.isoformat(),
        }


def _json_default(value: Any) -> Any:
    """Make the usual non-JSON types of an incident payload serialisable."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)
