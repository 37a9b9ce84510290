"""``Store``: the one place paramedic's state is read and written.

Everything a person sees (CLI, API, reports) reads it; nothing else writes SQL.
SQLite by default, the same code on PostgreSQL when agents share state. The
methods are synchronous and thread-safe; async code calls them through
``asyncio.to_thread``.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from paramedic.clock import Clock, RealClock
from paramedic.errors import StoreError
from paramedic.store.circuit import CircuitRecords
from paramedic.store.components import ComponentRecords
from paramedic.store.connect import HINT, WRITE, make_engine, parse_target, reason
from paramedic.store.evidence import EvidenceRecords
from paramedic.store.incidents import IncidentRecords
from paramedic.store.leases import LeaseRecords
from paramedic.store.migrate import upgrade


class Store(ComponentRecords, IncidentRecords, EvidenceRecords, CircuitRecords, LeaseRecords):
    """Components, incidents and their steps, approvals, recovery points, drills,
    notifications, the hash-chained audit log and the agents' leases."""

    @classmethod
    def open(cls, url: str, *, create: bool = True, clock: Clock | None = None) -> Store:
        """Connect to ``url`` and migrate it to the current schema.

        ``create=False`` refuses to create a missing SQLite file or an empty schema (for
        read-only commands). Failures are a StoreError with a one-line, redacted message.
        """
        target = parse_target(url)
        engine = make_engine(target, create=create)
        verb = "reach" if target.dialect == "postgresql" else "open"
        try:
            with engine.connect() as conn:
                conn.execution_options(**{WRITE: True})
                with conn.begin():
                    upgrade(conn, target, create=create)
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(
                f"cannot {verb} the state store {target.shown}: {reason(exc)}; {HINT}"
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, target, clock or RealClock())

    def __enter__(self) -> Store:
        """Use the store in a ``with`` block; it is closed at the end."""
        return self
