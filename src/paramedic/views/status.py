"""``paramedic status`` for people: one row per component, then the open incidents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.table import Table

from paramedic.catalog.duration import format_duration
from paramedic.store import ComponentRow, IncidentRow

STATE_STYLE = {
    "healthy": "green",
    "unknown": "dim",
    "suspect": "yellow",
    "failed": "bold red",
    "recovering": "bold yellow",
    "escalated": "bold red",
    "blocked": "magenta",
}


def _ago(now: datetime, then: datetime | None) -> str:
    return "-" if then is None else f"{format_duration((now - then).total_seconds())} ago"


def render_status(
    components: Sequence[ComponentRow],
    incidents: Sequence[IncidentRow],
    console: Console,
    *,
    now: datetime,
) -> None:
    """Print the components' health and the open incidents."""
    console.print(status_view(components, incidents, now=now))


def status_view(
    components: Sequence[ComponentRow], incidents: Sequence[IncidentRow], *, now: datetime
) -> RenderableType:
    """The components' table and the open incidents, as one renderable (``status --watch`` redraws it)."""
    if not components:
        return "no component has been seen yet: start the agent with `paramedic run CATALOG`"
    parts: list[RenderableType] = []
    table = Table(title="components", title_justify="left", expand=False)
    for column in ("component", "state", "since", "last check", "checks", "failed", "note"):
        table.add_column(column, no_wrap=column in ("component", "state"))
    for row in components:
        note = row.last_detail if row.last_ok is False else ""
        if row.paused:
            until = (
                f" until {row.paused_until:%Y-%m-%d %H:%M}Z"
                if row.paused_until
                else " until resumed"
            )
            note = f"paused{until}: {row.pause_reason or ''}".strip()
        style = STATE_STYLE.get(row.state, "")
        table.add_row(
            row.name,
            f"[{style}]{row.state}[/]" if style else row.state,
            _ago(now, row.state_since),
            _ago(now, row.last_check_at),
            str(row.checks_total),
            str(row.failures_total),
            note,
        )
    parts.append(table)
    if not incidents:
        parts.append("no open incident")
        return Group(*parts)
    open_table = Table(title="open incidents", title_justify="left")
    for column in ("incident", "component", "state", "failed", "reason"):
        open_table.add_column(column, no_wrap=column != "reason")
    for incident in incidents:
        state = incident.state + (f" by {incident.blocked_by}" if incident.blocked_by else "")
        open_table.add_row(
            incident.id, incident.component, state, _ago(now, incident.failed_at), incident.reason
        )
    parts.append(open_table)
    return Group(*parts)
