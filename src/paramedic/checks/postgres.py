"""The ``postgres`` check: connect with psycopg 3, run the query, close.

The query must succeed; when it returns rows, the first row must exist and its
first value must not be ``false`` (so ``SELECT NOT pg_is_in_recovery()`` works
as a check). The DSN's password never reaches a detail: every text is redacted.
"""

from __future__ import annotations

import math
import re
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from paramedic.catalog.model import PostgresCheck
from paramedic.checks.probe import (
    ProbeContext,
    Verdict,
    failed,
    first_line,
    passed,
    timeout_detail,
)
from paramedic.checks.result import FailureClass
from paramedic.redact import redact

_SHOWN = 60  # characters of the query shown in a detail
_RESOLVE_REASON = re.compile(r"\[Errno -?\d+\] (.+)$")


async def probe_postgres(check: PostgresCheck, ctx: ProbeContext) -> Verdict:
    """Connect (libpq ``connect_timeout`` set from the check), run ``query``, close."""
    try:
        params = conninfo_to_dict(check.dsn)
    except psycopg.Error as exc:
        return failed(FailureClass.error, f"invalid DSN: {redact(first_line(exc))}")
    where = _where(params)
    extra: dict[str, Any] = {"connect_timeout": max(1, math.ceil(ctx.timeout_s))}
    if "options" not in params:  # let the server stop a slow query too
        extra["options"] = f"-c statement_timeout={max(1, round(ctx.timeout_s * 1000))}"
    try:
        conn = await psycopg.AsyncConnection.connect(
            check.dsn, autocommit=True, prepare_threshold=None, **extra
        )
    except psycopg.Error as exc:
        return _connect_failure(exc, where, ctx.timeout_s)
    try:
        return await _query(conn, check.query)
    finally:
        await conn.close()


async def _query(conn: psycopg.AsyncConnection[Any], query: str) -> Verdict:
    shown = _short(query)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(query)
            if cursor.description is None:
                return passed(f"{shown} succeeded")
            row = await cursor.fetchone()
    except psycopg.Error as exc:
        reason = redact(first_line(exc))
        if exc.sqlstate is None:  # not the server's answer: the connection itself failed
            return failed(FailureClass.error, f"{shown} failed: {reason}")
        return failed(FailureClass.bad_response, f"{shown} failed: {reason}")
    if row is None:
        return failed(FailureClass.bad_response, f"{shown} returned no rows")
    if row and row[0] is False:
        return failed(FailureClass.bad_response, f"{shown} answered false")
    value = redact(repr(row[0]))[:_SHOWN] if row else "an empty row"
    return passed(f"{shown} answered {value}")


def _connect_failure(exc: psycopg.Error, where: str, timeout_s: float) -> Verdict:
    text = str(exc)
    if "Connection refused" in text or "No such file or directory" in text:
        return failed(FailureClass.refused, f"connection refused on {where}")
    if "timeout expired" in text:
        return failed(FailureClass.timeout, timeout_detail(timeout_s))
    if "could not translate host name" in text or "failed to resolve host" in text:
        reason = _RESOLVE_REASON.search(first_line(exc))
        detail = f"cannot resolve {where.rsplit(':', 1)[0]}"
        return failed(FailureClass.error, f"{detail}: {reason[1]}" if reason else detail)
    return failed(FailureClass.error, f"cannot connect to {where}: {_reason(text)}")


def _reason(text: str) -> str:
    """libpq's reason without its ``connection to server at "h", port p failed:`` preamble."""
    line = redact(first_line(Exception(text)))
    _, sep, rest = line.rpartition(" failed: ")
    return (rest if sep else line).removeprefix("FATAL:").strip()


def _where(params: dict[str, Any]) -> str:
    host = str(params.get("host") or params.get("hostaddr") or "")
    port = params.get("port") or "5432"
    if not host:
        return f"the local socket (port {port})"
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"


def _short(query: str) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"
