"""Recovery points: ``backup``, ``backups``, ``restore``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from paramedic.cli.app import app, err, out, print_json
from paramedic.cli.args import (
    CatalogOpt,
    JsonOpt,
    load,
)
from paramedic.cli.recovery_verbs import recover
from paramedic.errors import ParamedicError


def _backup_service(loaded: Any, store: Any, progress: Any = None, notifier: Any = None) -> Any:
    from paramedic.backup import BackupService
    from paramedic.clock import RealClock

    return BackupService(loaded, store, RealClock(), progress=progress, notifier=notifier)


async def _with_notifier(loaded: Any, work: Any) -> Any:
    """Run ``work(notifier)`` with the catalog's notification routes, delivering before returning."""
    from paramedic.clock import RealClock
    from paramedic.notify import Notifier

    notifier = Notifier(loaded.notify, clock=RealClock(), aws=loaded.aws)
    try:
        return await work(notifier)
    finally:
        await notifier.drain(15.0)
        await notifier.aclose()


@app.command()
def backup(
    component: Annotated[str, typer.Argument(help="component to back up")],
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a backup of COMPONENT now (exit 0 taken, 1 failed)."""
    import asyncio

    from rich.progress import Progress

    from paramedic.catalog.duration import format_duration
    from paramedic.errors import ProviderError
    from paramedic.store import Store

    loaded = load(catalog)
    store = Store.open(loaded.state_url())
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"backing up {component}", total=1.0)

            def progress(fraction: float, what: str) -> None:
                bar.update(task, completed=fraction, description=what)

            async def take(notifier: Any) -> Any:
                return await _backup_service(loaded, store, progress, notifier).take(component)

            try:
                row = asyncio.run(_with_notifier(loaded, take))
            except ProviderError as exc:
                err.print(f"paramedic: {exc}", markup=False)
                raise typer.Exit(1) from None
    finally:
        store.close()
    if as_json:
        print_json(row.to_json())
        return
    size = f"{row.size_bytes / 1e6:.1f} MB" if row.size_bytes is not None else "size unknown"
    age = format_duration((datetime.now(UTC) - row.taken_at).total_seconds())
    out.print(
        f"{component}: recovery point of {row.taken_at:%Y-%m-%d %H:%M:%S}Z ({age} ago), "
        f"{row.engine}, {size}, at {row.location}"
    )


@app.command()
def backups(
    component: Annotated[str | None, typer.Argument(help="only this component")] = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recovery points and the restorable window of each component with backups."""
    import asyncio

    from paramedic.store import Store

    loaded = load(catalog)
    names = [component] if component else [n for n, c in loaded.components.items() if c.backup]
    store = Store.open(loaded.state_url(), create=False)
    try:
        service = _backup_service(loaded, store)

        async def collect() -> list[Any]:
            return [await service.inventory(name) for name in names]

        inventories = asyncio.run(collect())
    finally:
        store.close()
    if as_json:
        print_json({"components": [_inventory_json(i) for i in inventories]})
        return
    from paramedic.views.backups import render_backups

    render_backups(inventories, out, now=datetime.now(UTC))


def _inventory_json(inventory: Any) -> dict[str, Any]:
    from paramedic.store import iso_utc

    window = inventory.window
    return {
        "component": inventory.component,
        "engine": inventory.engine,
        "repository": inventory.repository,
        "window": {
            "oldest": iso_utc(window.oldest) if window.oldest else None,
            "newest": iso_utc(window.newest) if window.newest else None,
        },
        "points": [p.to_json() for p in inventory.points],
    }


@app.command()
def restore(
    component: Annotated[str, typer.Argument(help="component to restore")],
    to: Annotated[
        str,
        typer.Option("--to", help="latest, before_failure, or a time like 2026-11-25T14:30:00Z"),
    ] = "latest",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would be done, do nothing")
    ] = False,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore COMPONENT to the newest recovery point or to a time, through the durable workflow."""
    from paramedic.catalog.model import RestoreFromBackup

    try:
        RestoreFromBackup.model_validate({"strategy": "restore_from_backup", "target": to})
    except ValueError:
        raise ParamedicError(
            f"--to {to!r}: must be latest, before_failure or a timestamp like 2026-11-25T14:30:00Z"
        ) from None
    recover(
        component,
        strategy="restore_from_backup",
        dry_run=dry_run,
        catalog=catalog,
        as_json=as_json,
        target=to,
    )
