"""Drills for people: a drill's phases and its RTO/RPO against the targets, the drill history,
and what each component offers to be drilled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from paramedic.catalog.duration import format_duration
from paramedic.store import DrillRow

_VERDICT = {"met": "[green]met[/]", "missed": "[red]missed[/]", "aborted": "[red]aborted[/]"}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _against(label: str, measured: float | None, target: float) -> str:
    if measured is None:
        return f"{label} - of {format_duration(target)} [yellow]not measured[/]"
    mark = "[green]met[/]" if measured <= target else "[red]missed[/]"
    return f"{label} {format_duration(measured)} of {format_duration(target)} {mark}"


def _phase_table(phases: Sequence[dict[str, Any]]) -> Table:
    origin = next((_t(p["at"]) for p in phases if p.get("phase") == "fault_injected"), None)
    table = Table(show_header=True, box=None, padding=(0, 1), pad_edge=False)
    table.add_column("at", no_wrap=True)
    table.add_column("+fault", no_wrap=True, justify="right")
    table.add_column("phase", no_wrap=True)
    table.add_column("detail")
    for phase in phases:
        at = _t(phase["at"])
        since = "" if origin is None else f"{(at - origin).total_seconds():+.2f}s"
        name = str(phase.get("phase", "?"))
        detail = str(phase.get("detail", ""))
        if name == "step":
            name = f"step {phase.get('seq')}"
            took = ""
            if phase.get("ended_at"):
                took = f" in {format_duration((_t(phase['ended_at']) - at).total_seconds())}"
            head = f"{phase.get('strategy')} {phase.get('status')}{took}"
            detail = f"{head}: {detail}" if detail else head
        if phase.get("verdict"):
            detail = f"{phase['verdict']}: {detail}"
        table.add_row(f"{at:%H:%M:%S.%f}"[:-3], since, escape(name), escape(detail))
    return table


def render_drill(drill: DrillRow, console: Console) -> None:
    """One drill: headline, phases, RTO and RPO against the targets."""
    verdict = _VERDICT.get(drill.verdict, drill.verdict)
    incident = f" · incident {drill.incident_id}" if drill.incident_id else ""
    console.print(
        f"[bold]drill {drill.id}[/] {escape(drill.component)} fault {escape(drill.fault)} "
        f"{drill.started_at:%Y-%m-%d %H:%M:%S}Z{incident} · {verdict}"
    )
    console.print(_phase_table(drill.phases))
    console.print(
        f"  {_against('RTO', drill.measured_rto_s, drill.target_rto_s)} · "
        f"{_against('RPO', drill.measured_rpo_s, drill.target_rpo_s)}"
    )


def render_drills(drills: Sequence[DrillRow], console: Console) -> None:
    """``history --drills``: each drill, newest first."""
    if not drills:
        console.print("no drill recorded")
        return
    for drill in drills:
        render_drill(drill, console)
        console.print()


def render_drill_list(components: Sequence[dict[str, Any]], console: Console) -> None:
    """``drill --list``: each component, the faults its provider offers, whether it may be drilled."""
    table = Table(show_header=True, box=None, padding=(0, 1), pad_edge=False)
    for column in ("component", "provider", "faults", "allowed", "window", "schedule", "abort"):
        table.add_column(column, no_wrap=column in ("component", "provider", "abort"))
    for c in components:
        faults = ", ".join(c["faults"]) or "-"
        if c["allowed_faults"] != c["faults"]:
            faults += f" (listed: {', '.join(c['allowed_faults'])})"
        if not c["can_inject"]:
            faults += " [yellow](not built yet)[/]"
        table.add_row(
            escape(c["name"]),
            c["provider"],
            faults,
            "yes" if c["allowed"] else "no (--yes)",
            escape(c["window"] or "any time"),
            escape(c["schedule"] or "-"),
            format_duration(c["abort_after_s"]),
        )
    console.print(table)
