"""The store's foundation: the engine, transactions, error translation and the audit log.

Every write runs in one transaction. A write that appends an audit row is
serialized with every other such write: ``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock (taken first, so lock order never inverts) on
PostgreSQL. The row and its audit record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from paramedic.clock import Clock
from paramedic.errors import NotFound, StoreError
from paramedic.redact import redact
from paramedic.store import tables as t
from paramedic.store.audit import AuditHead, audit_hash, clean_detail, verify_chain
from paramedic.store.connect import WRITE, Target, reason
from paramedic.store.rows import AuditRow, AuditVerdict
from paramedic.store.types import as_utc

AUDIT_LOCK = 0x706172616D656402
"""PostgreSQL advisory lock serializing audited writes (and so audit appends)."""

SYSTEM_ACTOR = "paramedic"
"""The actor of audit rows written by the agent itself."""

MAX_TEXT = 65536
"""Longest output or error kept for one step; the tail is kept, where errors usually are."""


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` redacted and cut to its last ``limit`` characters, saying how much was cut."""
    text = redact(text)
    if len(text) <= limit:
        return text
    return f"[{len(text) - limit} characters cut]\n" + text[-limit:]


def no_component(name: str) -> str:
    """The one-line message for a component the store has never seen."""
    return f"no component named {name!r} in the state store; check the name in the catalog"


def no_incident(incident_id: str) -> str:
    """The one-line message for an unknown incident id."""
    return f"no incident {incident_id!r} in the state store; `paramedic history` lists them"


class StoreCore:
    """Engine, transactions and the audit log that every part of ``Store`` builds on."""

    def __init__(self, engine: Engine, target: Target, clock: Clock) -> None:
        self._engine = engine
        self._target = target
        self._clock = clock

    @property
    def url(self) -> str:
        """The state store's URL with its password hidden."""
        return self._target.shown

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._target.dialect

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and diagnostics; write through methods only)."""
        return self._engine

    def close(self) -> None:
        """Release every connection."""
        self._engine.dispose()

    def __enter__(self) -> StoreCore:
        """Use the store in a ``with`` block; it is closed at the end."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()

    # ------------------------------------------------------------ transactions

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise StoreError(f"the state store {self.url} refused a write: {reason(exc)}") from exc
        except DBAPIError as exc:
            raise StoreError(f"the state store {self.url} failed: {reason(exc)}") from exc

    @contextmanager
    def _read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read-only transaction; ``snapshot`` gives one consistent view on PostgreSQL too."""
        with self._guard(), self._engine.connect() as conn:
            if snapshot and self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def _write(self, *, audited: bool = False) -> Iterator[Connection]:
        """A write transaction; ``audited`` ones are serialized so they can append audit rows."""
        with self._guard(), self._engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                if audited and self.dialect == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK)))
                yield conn

    def _now(self) -> datetime:
        return self._clock.now()

    # ------------------------------------------------------------ shared lookups

    def _require_component(self, conn: Connection, name: str) -> None:
        found = conn.execute(select(t.components.c.name).where(t.components.c.name == name))
        if found.first() is None:
            raise NotFound(no_component(name))

    def _require_incident(self, conn: Connection, incident_id: str) -> None:
        found = conn.execute(select(t.incidents.c.id).where(t.incidents.c.id == incident_id))
        if found.first() is None:
            raise NotFound(no_incident(incident_id))

    # ------------------------------------------------------------ audit

    def _append_audit(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        subject: str,
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditRow:
        """Append one audit row inside ``conn``'s audited write transaction."""
        when = as_utc(at) if at is not None else self._now()
        head = conn.execute(
            select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1)
        ).one()
        seq, prev = int(head.seq) + 1, str(head.hash)
        clean = clean_detail(detail)
        actor, subject = redact(actor), redact(subject)
        digest = audit_hash(
            prev, seq=seq, at=when, actor=actor, action=action, subject=subject, detail=clean
        )
        row = AuditRow(seq, when, actor, action, subject, clean, prev, digest)
        conn.execute(t.audit.insert().values(**vars(row)))
        conn.execute(
            t.audit_head.update().where(t.audit_head.c.id == 1).values(seq=seq, hash=digest)
        )
        return row

    def audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditRow:
        """Append one audit row (``at`` defaults to the clock's now); secrets are redacted."""
        with self._write(audited=True) as conn:
            return self._append_audit(
                conn, actor=actor, action=action, subject=subject, detail=detail, at=at
            )

    def audit_log(self, limit: int = 100) -> list[AuditRow]:
        """The newest ``limit`` audit rows, newest first."""
        query = select(t.audit).order_by(t.audit.c.seq.desc()).limit(limit)
        with self._read() as conn:
            return [AuditRow(**r._mapping) for r in conn.execute(query)]

    def verify_audit(self) -> AuditVerdict:
        """Walk the whole audit chain: intact, or the first bad seq and a one-line reason."""
        with self._read(snapshot=True) as conn:
            head_row = conn.execute(
                select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1)
            ).first()
            head = AuditHead(int(head_row.seq), str(head_row.hash)) if head_row else None
            result = conn.execution_options(yield_per=1000).execute(
                select(t.audit).order_by(t.audit.c.seq)
            )
            try:
                return verify_chain((AuditRow(**r._mapping) for r in result), head)
            finally:
                # verify_chain may stop early; close the (server-side) cursor before commit.
                result.close()
