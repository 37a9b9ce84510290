"""``paramedic history`` for people: incidents, their steps, measured RTO/RPO against targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from paramedic.catalog.duration import format_duration
from paramedic.objectives import met
from paramedic.store import IncidentRow, StepRow


def _against(measured: float | None, target: float) -> str:
    if measured is None:
        return f"- / {format_duration(target)}"
    mark = "[green]met[/]" if met(measured, target) else "[red]missed[/]"
    return f"{format_duration(measured)} / {format_duration(target)} {mark}"


def render_history(
    incidents: Sequence[IncidentRow], steps: Mapping[str, Sequence[StepRow]], console: Console
) -> None:
    """Print each incident with its timings and its steps."""
    if not incidents:
        console.print("no incident recorded")
        return
    for incident in incidents:
        detect = (
            format_duration((incident.detected_at - incident.failed_at).total_seconds())
            if incident.detected_at
            else "-"
        )
        console.print(
            f"[bold]{incident.id}[/] {incident.component} [{incident.kind}] {incident.state}"
            + (f" by {incident.strategy}" if incident.strategy else "")
        )
        console.print(
            f"  failed {incident.failed_at:%Y-%m-%d %H:%M:%S}Z · detected after {detect} · "
            f"RTO {_against(incident.measured_rto_s, incident.target_rto_s)} · "
            f"RPO {_against(incident.measured_rpo_s, incident.target_rpo_s)}"
        )
        console.print(f"  {incident.reason}", markup=False)
        rows = steps.get(incident.id, [])
        if rows:
            table = Table(show_header=True, box=None, padding=(0, 1), pad_edge=False)
            for column in ("#", "strategy", "status", "took", "output / error"):
                table.add_column(column, no_wrap=column != "output / error")
            for step in rows:
                text = (step.error or step.output).strip().splitlines()
                table.add_row(
                    str(step.seq),
                    step.strategy,
                    step.status,
                    format_duration(step.duration_s) if step.duration_s is not None else "-",
                    text[-1] if text else "",
                )
            console.print(table)
        console.print()
