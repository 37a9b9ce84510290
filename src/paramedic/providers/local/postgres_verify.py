"""Verification of a PostgreSQL recovery point: restored into a scratch cluster and queried.

First the engine's own check (``pg_verifybackup`` against the manifest, or ``pgbackrest
verify``); then a restore into ``ctx.scratch`` started as a scratch cluster (socket only,
archive_mode off, trust on its private socket, a free port, logging to stderr), recovered to the
end of the backup, queried with the component's health query (a ``postgres`` check's query in
its database, else ``SELECT 1``) and ``SELECT count(*)`` of ``backup.verify_table``, and stopped.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from paramedic.catalog.model import PostgresCheck
from paramedic.errors import ProviderError
from paramedic.providers.base import BackupContext, RecoveryPoint, Verification
from paramedic.providers.local.commands import last_lines
from paramedic.providers.local.step_marker import safe_name
from paramedic.redact import redact

if TYPE_CHECKING:
    from paramedic.providers.local.postgres_backup import WalEngine
    from paramedic.providers.local.postgres_cluster import PostgresCluster

_SCRATCH_WAIT_S = 600
_POLL_S = 0.1


async def verify_in_scratch(
    cluster: PostgresCluster, engine: WalEngine, ctx: BackupContext, point: RecoveryPoint
) -> Verification:
    """Check ``point`` with its engine, restore it as a scratch cluster, query it, stop it."""
    label = str(point.detail.get("label") or Path(point.location).name)
    problem = await engine.check(point)
    if problem is not None:
        return Verification(False, f"backup {label} is damaged: {problem}")
    root = ctx.scratch / f"{safe_name(cluster.name)}-verify"
    if root.exists():
        await asyncio.to_thread(shutil.rmtree, root)
    data, sock, log = root / "data", root / "sock", root / "server.log"
    engine.owned_folder(sock)
    cluster.own(root)
    try:
        await engine.restore_scratch(point, data)
    except ProviderError as exc:
        return Verification(False, f"backup {label} could not be restored: {exc}")
    hba = data / "pg_hba.conf"
    hba.write_text("local all all trust\n")  # the scratch copy only, on its private socket
    cluster.own(hba)
    log.touch()
    cluster.own(log)
    port = _free_port()
    options = shlex.join(
        [
            "-p", str(port), "-k", str(sock), "-c", "listen_addresses=",
            "-c", "archive_mode=off", "-c", f"hba_file={hba}", "-c", "logging_collector=off",
            "-c", "shared_buffers=128MB",
        ]
    )  # fmt: skip
    started = await cluster.pg_async(
        "pg_ctl", "start", "-D", str(data), "-o", options, "-l", str(log),
        "-w", "-t", str(_SCRATCH_WAIT_S), check=False,
    )  # fmt: skip
    try:
        if started.returncode != 0:
            return Verification(
                False, f"backup {label}: the scratch cluster did not start: {_log_tail(log)}"
            )
        ok, said = await _scratch_checks(cluster, ctx, sock, port)
        if not ok:
            return Verification(False, f"backup {label}: {said}")
        return Verification(True, f"backup {label} restored into a scratch cluster: {said}")
    finally:
        await cluster.pg_async(
            "pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w", check=False
        )


async def _scratch_checks(
    cluster: PostgresCluster, ctx: BackupContext, sock: Path, port: int
) -> tuple[bool, str]:
    """(passed?, what the scratch cluster answered)."""
    check = ctx.component.health
    dbname, query = "postgres", "SELECT 1"
    if isinstance(check, PostgresCheck):
        dbname = str(conninfo_to_dict(check.dsn).get("dbname") or "postgres")
        query = check.query
    dsn = make_conninfo(host=str(sock), port=port, user=cluster.spec.superuser, dbname=dbname)
    shown = query if len(query) <= 60 else query[:57] + "..."
    try:
        async with await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=5
        ) as conn:
            for _ in range(int(_SCRATCH_WAIT_S / _POLL_S)):
                row = await (await conn.execute("SELECT pg_is_in_recovery()")).fetchone()
                if row is not None and row[0] is False:
                    break
                await asyncio.sleep(_POLL_S)
            else:
                return False, f"the scratch cluster was still recovering after {_SCRATCH_WAIT_S}s"
            cursor = await conn.execute(query)
            answer = await cursor.fetchone() if cursor.description else ("ok",)
            if answer is None:
                return False, f"`{shown}` returned no rows"
            if answer and answer[0] is False:
                return False, f"`{shown}` answered false"
            said = f"`{shown}` answered {redact(repr(answer[0]))[:60] if answer else 'ok'}"
            table = ctx.component.backup.verify_table if ctx.component.backup else None
            if table:
                counted = sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(*table.split("."))
                )
                try:
                    rows = await (await conn.execute(counted)).fetchone()
                except psycopg.Error as exc:
                    return False, f"SELECT count(*) FROM {table} failed: {_reason(exc)}"
                said += f"; {table} has {rows[0] if rows else 0} rows"
            return True, f"{said} (port {port})"
    except psycopg.Error as exc:
        return False, f"the scratch cluster did not answer `{shown}`: {_reason(exc)}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_tail(log: Path) -> str:
    try:
        text = log.read_text(errors="replace")[-20_000:]
    except OSError:
        return "no server log"
    serious = [line for line in text.splitlines() if "FATAL" in line or "PANIC" in line]
    return redact(" | ".join(s.strip() for s in (serious[-2:] or last_lines(text, 2))))


def _reason(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return redact((lines[0] if lines else type(exc).__name__).rpartition(" failed: ")[2])


__all__ = ["verify_in_scratch"]
