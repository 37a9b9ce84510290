"""``paramedic backups`` for people: recovery points and the restorable window per component."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from paramedic.catalog.duration import format_duration


def _when(now: datetime, moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return f"{moment:%Y-%m-%d %H:%M:%S}Z ({format_duration((now - moment).total_seconds())} ago)"


def render_backups(inventories: Sequence[Any], console: Console, *, now: datetime) -> None:
    """Print each component's points, newest last, and what can be restored now."""
    if not inventories:
        console.print("no component has a backup configured")
        return
    for inventory in inventories:
        window = inventory.window
        console.print(
            f"[bold]{inventory.component}[/] ({inventory.engine}, {inventory.repository}): "
            f"restorable from {_when(now, window.oldest)} to {_when(now, window.newest)}"
        )
        if not inventory.points:
            console.print("  no recovery point yet: `paramedic backup " + inventory.component + "`")
            continue
        table = Table(box=None, padding=(0, 1), pad_edge=False)
        for column in ("taken", "size", "verified", "location"):
            table.add_column(column, no_wrap=column != "location")
        for point in inventory.points:
            size = f"{point.size_bytes / 1e6:.1f} MB" if point.size_bytes is not None else "-"
            if point.verified_at is None:
                verified = "never"
            else:
                verdict = "[green]ok[/]" if point.verified_ok else "[red]failed[/]"
                verified = (
                    f"{verdict} {format_duration((now - point.verified_at).total_seconds())} ago"
                )
            table.add_row(_when(now, point.taken_at), size, verified, point.location)
        console.print(table)
