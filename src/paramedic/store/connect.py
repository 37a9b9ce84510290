"""From a catalog's ``state:`` URL to a configured SQLAlchemy engine, and errors to one line.

SQLite (the default) gets WAL mode, a busy timeout and foreign keys on every
connection, and SQLAlchemy emits ``BEGIN`` itself so that write transactions
can be ``BEGIN IMMEDIATE`` (one writer at a time, waiting instead of failing
half-way). PostgreSQL URLs are driven by psycopg 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from paramedic.errors import StoreError
from paramedic.redact import redact

BUSY_TIMEOUT_MS = 5000
"""How long an SQLite writer waits for another one before giving up."""

CONNECT_TIMEOUT_S = 5
"""How long a PostgreSQL connection attempt may take."""

WRITE = "paramedic_write"
"""Execution option that makes an SQLite transaction ``BEGIN IMMEDIATE``."""

HINT = "check `state:` in the catalog"

MISSING_HINT = "start the agent first (paramedic run CATALOG) or pass --state URL or -c CATALOG"
"""What a read-only command says when the store it was pointed at is not there."""

_PG_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


@dataclass(frozen=True)
class Target:
    """A parsed ``state:`` URL: what to connect to and how to name it in messages."""

    shown: str
    """The URL as the user wrote it, password replaced by ``***``."""
    url: URL
    dialect: Literal["sqlite", "postgresql"]
    path: Path | None
    """The SQLite file, or None for PostgreSQL."""


def parse_target(url: str) -> Target:
    """Parse ``url`` (``sqlite:///FILE`` or ``postgresql://…``) or raise a one-line StoreError."""
    shown = redact(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"cannot read the state store URL {shown!r}: "
            f"use sqlite:////path/paramedic.db or postgresql://user@host/db; {HINT}"
        ) from exc
    scheme = parsed.drivername
    if scheme in ("sqlite", "sqlite+pysqlite"):
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise StoreError(
                f"the state store {shown} names no file: use sqlite:////path/paramedic.db; {HINT}"
            )
        return Target(shown, parsed.set(drivername="sqlite"), "sqlite", Path(database))
    if scheme in _PG_SCHEMES:
        return Target(shown, parsed.set(drivername="postgresql+psycopg"), "postgresql", None)
    raise StoreError(
        f"unsupported state store {shown}: use sqlite:///FILE or postgresql://…; {HINT}"
    )


def make_engine(target: Target, *, create: bool) -> Engine:
    """An engine for ``target``; for SQLite the file's folder is made when ``create``."""
    if target.dialect == "postgresql":
        return create_engine(
            target.url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "paramedic"},
        )
    assert target.path is not None
    if create:
        folder = target.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot open the state store {target.shown}: cannot create folder {folder}: "
                f"{_os_reason(exc)}; {HINT}"
            ) from exc
    elif not target.path.is_file():
        raise StoreError(f"the state store {target.shown} does not exist; {MISSING_HINT}")
    engine = create_engine(target.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN (see _sqlite_begin) instead of the driver's legacy handling.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the write lock up front, so it waits (busy timeout) rather than
    # failing when it upgrades a read lock another writer already holds.
    immediate = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_KNOWN = (
    ("connection refused", "connection refused"),
    ("timeout expired", "timed out"),
    ("could not translate host name", "unknown host"),
    ("name or service not known", "unknown host"),
    ("no such file or directory", "no server listens on that socket"),
    ("database is locked", "the database is locked by another writer"),
    ("readonly database", "the file is read-only"),
    ("unable to open database file", "the database file cannot be opened"),
    ("file is not a database", "the file is not an SQLite database"),
    ("disk i/o error", "disk I/O error"),
)
_SERVER_PREFIX = re.compile(
    r"^(connection failed: )?(connection to server (at|on) .*? failed: )?((FATAL|ERROR): +)?"
)


def reason(exc: BaseException) -> str:
    """A short, redacted, one-line reason for a database or OS error."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, OSError) and not isinstance(exc, DBAPIError):
        return _os_reason(orig)
    text = str(orig)
    lowered = text.lower()
    for needle, said in _KNOWN:
        if needle in lowered:
            return said
    first = next((line for line in text.splitlines() if line.strip()), type(orig).__name__)
    first = _SERVER_PREFIX.sub("", first.strip())
    one_line = redact(" ".join(first.split()))
    return one_line if len(one_line) <= 200 else one_line[:199] + "…"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return "a file is in the way"
    return (exc.strerror or str(exc)).lower()
