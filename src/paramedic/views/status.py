"""``paramedic status`` for people: one row per component, then the open incidents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from paramedic.catalog.duration import format_duration
from paramedic.recovery.budget import Circuit, CircuitState
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
    pids: Mapping[str, int | None] | None = None,
    circuits: Mapping[str, Circuit] | None = None,
) -> None:
    """Print the components' health (with the pid of each owned process), their open circuits
    and the way out, and the open incidents."""
    for part in _parts(components, incidents, now=now, pids=pids, circuits=circuits):
        if isinstance(part, str):  # a line naming a command: never split, so it can be copied
            console.print(part, markup=False, soft_wrap=True)
        else:
            console.print(part)


def status_view(
    components: Sequence[ComponentRow],
    incidents: Sequence[IncidentRow],
    *,
    now: datetime,
    pids: Mapping[str, int | None] | None = None,
    circuits: Mapping[str, Circuit] | None = None,
) -> RenderableType:
    """The components' table, the open circuits and the open incidents, as one renderable
    (``status --watch`` redraws it)."""
    parts = _parts(components, incidents, now=now, pids=pids, circuits=circuits)
    return Group(*(Text(p, overflow="fold") if isinstance(p, str) else p for p in parts))


def _parts(
    components: Sequence[ComponentRow],
    incidents: Sequence[IncidentRow],
    *,
    now: datetime,
    pids: Mapping[str, int | None] | None,
    circuits: Mapping[str, Circuit] | None,
) -> list[RenderableType]:
    """The table, each open circuit's line (a ``str``), then the open incidents."""
    if not components:
        return ["no component has been seen yet: start the agent with `paramedic run CATALOG`"]
    parts: list[RenderableType] = []
    table = Table(title="components", title_justify="left", expand=False)
    pids = pids or {}
    # lifetime counters of checks, so "12 (1 failed)" and not a "failed" column read as a state
    for column in ("component", "state", "since", "last check", "checks", "pid"):
        table.add_column(column, no_wrap=True)
    table.add_column("note")
    for row in components:
        note = row.last_detail if row.last_ok is False else ""
        if row.paused:
            until = (
                f" until {row.paused_until:%Y-%m-%d %H:%M}Z"
                if row.paused_until
                else " until resumed"
            )
            note = f"paused{until}: {row.pause_reason or ''}".strip()
        circuit = (circuits or {}).get(row.name)
        if circuit is not None and circuit.state is not CircuitState.closed:
            note = circuit.reason
        style = STATE_STYLE.get(row.state, "")
        table.add_row(
            row.name,
            f"[{style}]{row.state}[/]" if style else row.state,
            _ago(now, row.state_since),
            _ago(now, row.last_check_at),
            f"{row.checks_total} ({row.failures_total} failed)",
            str(pids.get(row.name) or "-"),
            note,
        )
    parts.append(table)
    for row in components:
        circuit = (circuits or {}).get(row.name)
        if circuit is not None and circuit.state is not CircuitState.closed:
            line = (
                f"{row.name}: {circuit.reason}; its next failure is escalated, not recovered."
                f" Get it out with `{circuit.escape(row.name)}`"
            )
            parts.append(line)
    if not incidents:
        parts.append("no open incident")
        return parts
    open_table = Table(title="open incidents", title_justify="left")
    for column in ("incident", "component", "state", "failed", "reason"):  # failed: … ago
        open_table.add_column(column, no_wrap=column != "reason")
    for incident in incidents:
        state = incident.state + (f" by {incident.blocked_by}" if incident.blocked_by else "")
        open_table.add_row(
            incident.id, incident.component, state, _ago(now, incident.failed_at), incident.reason
        )
    parts.append(open_table)
    return parts
