"""Faults of the ``postgres`` provider, for drills: kill-postmaster, delete-data,
corrupt-relation, stop.

Data is never deleted: ``delete-data`` moves the data directory to ``<data_dir>.drill-<drill
id>``; ``corrupt-relation`` keeps a byte-exact copy of the file it damages under
``<run_dir>/<component>/drills/<drill id>/``.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import sql

from paramedic.errors import ProviderError
from paramedic.providers.base import FaultContext, InjectedFault
from paramedic.providers.local.faults import check_fault, drill_aside, identity_of, wait_gone
from paramedic.providers.local.step_marker import safe_name

if TYPE_CHECKING:
    from paramedic.clock import Clock
    from paramedic.providers.local.postgres import PostgresProvider

CANARY = "paramedic_canary"
"""The table ``corrupt-relation`` damages when it exists (else the largest user table)."""
PAGE_SIZE = 8192
GARBAGE = b"\xde\xad" * 12
"""What replaces the 24-byte header of every page: PostgreSQL refuses such a page when read."""

_LARGEST = """
SELECT c.oid::regclass::text, pg_relation_filepath(c.oid), pg_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  AND ({canary} OR c.relname = 'paramedic_canary')
ORDER BY c.relname = 'paramedic_canary' DESC, pg_relation_size(c.oid) DESC, c.oid
LIMIT 1
"""


async def inject(
    provider: PostgresProvider, fault: str, ctx: FaultContext, clock: Clock
) -> InjectedFault:
    """Inject ``fault`` into the cluster."""
    check_fault(provider.info, fault)
    if fault == "stop":
        if not provider.is_running():
            raise _not_running(provider, fault)
        await provider.stop("fast")
        description = f"PostgreSQL {provider.data_dir} stopped (pg_ctl stop -m fast)"
        return _done(provider, ctx, fault, clock, description, {})
    if fault == "corrupt-relation":
        return await _corrupt_relation(provider, ctx, clock)
    pid = _postmaster(provider, fault)
    _kill(provider, pid["pid"])
    if fault == "kill-postmaster":
        description = f"postmaster pid {pid['pid']} killed with SIGKILL"
        return _done(provider, ctx, fault, clock, description, pid)
    await wait_gone(pid["pid"], pid["start_time"])
    aside = drill_aside(provider.data_dir, ctx.drill_id)
    try:
        provider.data_dir.rename(aside)
    except OSError as exc:
        raise ProviderError(
            f"component {provider.name!r}: postmaster killed but {provider.data_dir} could not "
            f"be moved to {aside}: {exc.strerror}; check the permissions of its parent"
        ) from exc
    description = (
        f"postmaster pid {pid['pid']} killed with SIGKILL; data directory {provider.data_dir} "
        f"moved to {aside}"
    )
    return _done(provider, ctx, fault, clock, description, {**pid, "moved_to": str(aside)})


def _done(
    provider: PostgresProvider,
    ctx: FaultContext,
    fault: str,
    clock: Clock,
    description: str,
    undo: dict[str, Any],
) -> InjectedFault:
    injected_at = clock.now()
    ctx.log(f"{provider.name}: {description}")
    return InjectedFault(fault, injected_at, description, undo)


def _not_running(provider: PostgresProvider, fault: str) -> ProviderError:
    return ProviderError(
        f"component {provider.name!r}: PostgreSQL on {provider.data_dir} is not running; "
        f"start it before injecting {fault!r}"
    )


def _postmaster(provider: PostgresProvider, fault: str) -> dict[str, int]:
    pid = provider.postmaster_pid()
    found = identity_of(pid) if pid is not None and provider.is_running() else None
    if found is None:
        raise _not_running(provider, fault)
    return found


def _kill(provider: PostgresProvider, pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        raise ProviderError(
            f"component {provider.name!r}: postmaster pid {pid} exited before SIGKILL reached "
            "it; run the drill again once it runs"
        ) from None
    except PermissionError as exc:
        raise ProviderError(
            f"component {provider.name!r}: not allowed to signal postmaster pid {pid}; run "
            f"the drill as root or as {provider.spec.user or 'the cluster owner'}"
        ) from exc


async def _victim(provider: PostgresProvider) -> tuple[str, str, str, int]:
    """(database, table, file relative to data_dir, size): the canary, else the largest table."""
    databases = await provider.query(
        "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
    )
    found: list[tuple[bool, int, str, str, str]] = []
    for (database,) in databases:
        for canary_only in (True, False):
            query = sql.SQL(_LARGEST).format(canary=sql.SQL("false" if canary_only else "true"))
            rows = await provider.query(query, dbname=database)
            if rows:
                table, path, size = rows[0]
                found.append((table.endswith(CANARY), int(size), database, table, path))
                break
    if not found:
        raise ProviderError(
            f"component {provider.name!r}: no user table to corrupt; create table "
            f"{CANARY} (or any table) with some rows"
        )
    _canary, size, database, table, path = max(found)
    return database, table, path, size


async def _corrupt_relation(
    provider: PostgresProvider, ctx: FaultContext, clock: Clock
) -> InjectedFault:
    """Overwrite the header of every page of a table's first file, after a CHECKPOINT."""
    if not provider.is_running():
        raise _not_running(provider, "corrupt-relation")
    database, table, relative, _size = await _victim(provider)
    await provider.query("CHECKPOINT", dbname=database)
    target = provider.data_dir / relative
    try:
        original, pages = _overwrite(provider, ctx, database, table, target)
    except OSError as exc:
        raise ProviderError(
            f"component {provider.name!r}: cannot corrupt {target} ({table}): {exc.strerror}; "
            f"run the drill as root or as {provider.spec.user or 'the cluster owner'}"
        ) from exc
    description = (
        f"table {table} in database {database}: header of its {pages} page(s) overwritten in "
        f"{target}; original kept at {original}"
    )
    undo = {"database": database, "table": table, "file": str(target), "original": str(original)}
    return _done(provider, ctx, "corrupt-relation", clock, description, undo)


def _overwrite(
    provider: PostgresProvider, ctx: FaultContext, database: str, table: str, target: Path
) -> tuple[Path, int]:
    """Copy ``target`` into the run dir, then overwrite its page headers; (copy, pages)."""
    size = target.stat().st_size
    if size == 0:
        raise ProviderError(
            f"component {provider.name!r}: table {table} in database {database} is empty; "
            "put rows in it so there is something to corrupt"
        )
    keep = provider.run_dir / "drills" / safe_name(ctx.drill_id)
    keep.mkdir(parents=True, exist_ok=True)
    original, n = keep / f"{database}.{target.name}.original", 2
    while original.exists():  # never over the copy an earlier injection kept
        original, n = keep / f"{database}.{target.name}.original.{n}", n + 1
    shutil.copyfile(target, original)
    pages = (size + PAGE_SIZE - 1) // PAGE_SIZE
    with target.open("r+b") as file:
        for page in range(pages):
            file.seek(page * PAGE_SIZE)
            file.write(GARBAGE)
        file.flush()
        os.fsync(file.fileno())
    return original, pages


async def undo(provider: PostgresProvider, injected: InjectedFault, ctx: FaultContext) -> str:
    """Nothing is put back (the recovery restores); says where moved or copied data is."""
    state = injected.undo
    if injected.fault == "delete-data":
        return (
            f"nothing to undo: the data directory stays at {state.get('moved_to')} "
            "(not moved back; the recovery restored a new one)"
        )
    if injected.fault == "corrupt-relation":
        return (
            f"nothing to undo: the original file of {state.get('table')} stays at "
            f"{state.get('original')} (not copied back)"
        )
    return f"nothing to undo for {injected.fault!r}: the recovery starts PostgreSQL again"
