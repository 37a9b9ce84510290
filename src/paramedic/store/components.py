"""Components as last seen: catalog facts, health counters, transitions, maintenance pauses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from paramedic.errors import NotFound
from paramedic.redact import redact
from paramedic.store import tables as t
from paramedic.store.core import StoreCore, clip, no_component
from paramedic.store.rows import ComponentRow, TransitionRow, iso_utc
from paramedic.store.types import UTCDateTime, as_utc


@dataclass(frozen=True)
class ComponentFacts:
    """What the catalog says about one component, as the store keeps it."""

    name: str
    type: str
    location: str
    criticality: str
    provider: str
    rto_s: float
    rpo_s: float


_FACTS = ("type", "location", "criticality", "provider", "rto_s", "rpo_s")
"""The columns a registration refreshes (health, counters and pause are the store's own)."""


@dataclass(frozen=True)
class CheckTally:
    """The checks of one component since the last flush: how many, how many failed, the last one."""

    name: str
    checks: int
    failures: int
    at: datetime
    ok: bool
    detail: str


@dataclass(frozen=True)
class Transition:
    """One change of a component's health state, as the agent queues it for the next flush."""

    name: str
    at: datetime
    from_state: str
    to_state: str
    reason: str


class ComponentRecords(StoreCore):
    """The ``components`` and ``transitions`` tables."""

    def upsert_component(
        self,
        name: str,
        *,
        type: str,
        location: str,
        criticality: str,
        provider: str,
        rto_s: float,
        rpo_s: float,
    ) -> None:
        """Record the catalog's facts about ``name``; health, counters and pause are kept."""
        self.upsert_components(
            [ComponentFacts(name, type, location, criticality, provider, rto_s, rpo_s)]
        )

    def upsert_components(self, components: Sequence[ComponentFacts]) -> None:
        """Record many components' facts in ONE transaction (a few multi-row statements).

        An agent registers its whole catalog at start: 10,000 single-row upserts (one
        transaction and one statement compilation each) took most of a minute; one
        ``INSERT … ON CONFLICT DO UPDATE`` executed for many rows takes well under a
        second. Health, counters and pause of known components are kept.
        """
        if not components:
            return
        rows = [
            {
                "name": c.name,
                "type": str(c.type),
                "location": c.location,
                "criticality": str(c.criticality),
                "provider": c.provider,
                "rto_s": float(c.rto_s),
                "rpo_s": float(c.rpo_s),
            }
            for c in components
        ]
        dialect: Any = postgresql if self.dialect == "postgresql" else sqlite
        statement = dialect.insert(t.components)
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={column: statement.excluded[column] for column in _FACTS},
        )
        with self._write() as conn:
            # one statement compiled once, the rows sent through the driver's executemany
            conn.execute(statement, rows)

    def record_check(self, name: str, *, at: datetime, ok: bool, state: str, detail: str) -> None:
        """Count one check of ``name`` and keep it as the last one; no row per check."""
        at = as_utc(at)
        c = t.components.c
        values = {
            "checks_total": c.checks_total + 1,
            "failures_total": c.failures_total + (0 if ok else 1),
            "last_check_at": at,
            "last_ok": ok,
            "last_detail": clip(detail, 2000),
            "state": state,
            "state_since": case(
                (c.state == state, c.state_since), else_=literal(at, UTCDateTime())
            ),
        }
        with self._write() as conn:
            done = conn.execute(t.components.update().where(c.name == name).values(**values))
            if done.rowcount == 0:
                self._require_component(conn, name)

    def record_checks(self, tally: Sequence[CheckTally]) -> None:
        """Count many components' checks in ONE transaction (the agent flushes once a second).

        One UPDATE compiled once and sent for every row through the driver's executemany:
        at 10,000 components a statement built per row held the GIL for most of a second.
        """
        if not tally:
            return
        c = t.components.c
        statement = (
            t.components.update()
            .where(c.name == bindparam("b_name"))
            .values(
                checks_total=c.checks_total + bindparam("b_checks"),
                failures_total=c.failures_total + bindparam("b_failures"),
                last_check_at=bindparam("b_at", type_=UTCDateTime()),
                last_ok=bindparam("b_ok"),
                last_detail=bindparam("b_detail"),
            )
        )
        rows = [
            {
                "b_name": item.name,
                "b_checks": item.checks,
                "b_failures": item.failures,
                "b_at": as_utc(item.at),
                "b_ok": item.ok,
                "b_detail": clip(item.detail, 2000),
            }
            for item in tally
        ]
        with self._write() as conn:
            conn.execute(statement, rows)

    def paused_components(self) -> list[ComponentRow]:
        """Only the components with a pause on record (the agent reads this every second)."""
        with self._read() as conn:
            rows = conn.execute(select(t.components).where(t.components.c.paused.is_(True))).all()
        return [ComponentRow(**r._mapping) for r in rows]

    def record_transition(
        self, name: str, *, at: datetime, from_state: str, to_state: str, reason: str
    ) -> None:
        """Record a change of ``name``'s health state and make ``to_state`` its state."""
        at = as_utc(at)
        with self._write() as conn:
            self._require_component(conn, name)
            conn.execute(
                t.transitions.insert().values(
                    component=name,
                    at=at,
                    from_state=from_state,
                    to_state=to_state,
                    reason=clip(reason, 2000),
                )
            )
            conn.execute(
                t.components.update()
                .where(t.components.c.name == name)
                .values(state=to_state, state_since=at)
            )

    def record_transitions(self, batch: Sequence[Transition]) -> None:
        """Record many transitions in ONE transaction, in order; each component ends in the
        ``to_state`` of its last one (the agent flushes these once a second with the checks)."""
        if not batch:
            return
        c = t.components.c
        rows = [
            {
                "component": item.name,
                "at": as_utc(item.at),
                "from_state": item.from_state,
                "to_state": item.to_state,
                "reason": clip(item.reason, 2000),
            }
            for item in batch
        ]
        last = {row["component"]: row for row in rows}  # the newest per component wins
        update = (
            t.components.update()
            .where(c.name == bindparam("b_name"))
            .values(
                state=bindparam("b_state"),
                state_since=bindparam("b_at", type_=UTCDateTime()),
            )
        )
        with self._write() as conn:
            conn.execute(t.transitions.insert(), rows)
            conn.execute(
                update,
                [
                    {"b_name": name, "b_state": row["to_state"], "b_at": row["at"]}
                    for name, row in last.items()
                ],
            )

    def components(self) -> list[ComponentRow]:
        """Every component, by name."""
        with self._read() as conn:
            rows = conn.execute(select(t.components).order_by(t.components.c.name))
            return [ComponentRow(**r._mapping) for r in rows]

    def components_page(
        self, *, after: str | None = None, limit: int = 100, state: str | None = None
    ) -> list[ComponentRow]:
        """Up to ``limit`` components named after ``after``, by name; of one state when asked."""
        c = t.components.c
        query = select(t.components).order_by(c.name).limit(limit)
        if after is not None:
            query = query.where(c.name > after)
        if state is not None:
            query = query.where(c.state == state)
        with self._read() as conn:
            return [ComponentRow(**r._mapping) for r in conn.execute(query)]

    def component(self, name: str) -> ComponentRow:
        """One component; NotFound when the store has never seen it."""
        with self._read() as conn:
            return self._component(conn, name)

    def _component(self, conn: Connection, name: str) -> ComponentRow:
        row = conn.execute(select(t.components).where(t.components.c.name == name)).first()
        if row is None:
            raise NotFound(no_component(name))
        return ComponentRow(**row._mapping)

    def transitions(self, name: str, limit: int = 50) -> list[TransitionRow]:
        """The newest ``limit`` health transitions of ``name``, newest first."""
        tr = t.transitions.c
        query = (
            select(t.transitions)
            .where(tr.component == name)
            .order_by(tr.at.desc(), tr.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [TransitionRow(**r._mapping) for r in conn.execute(query)]

    def pause(self, name: str, *, until: datetime | None, reason: str, actor: str) -> None:
        """Maintenance: keep checking ``name`` but recover and page nothing until ``until``."""
        until = as_utc(until) if until is not None else None
        reason = clip(reason, 2000)
        with self._write(audited=True) as conn:
            self._require_component(conn, name)
            conn.execute(
                t.components.update()
                .where(t.components.c.name == name)
                .values(paused=True, paused_until=until, pause_reason=reason, paused_by=actor)
            )
            self._append_audit(
                conn,
                actor=actor,
                action="component.paused",
                subject=name,
                detail={"until": iso_utc(until) if until else None, "reason": reason},
            )

    def resume(self, name: str, *, actor: str) -> None:
        """End the maintenance pause of ``name`` (recorded even when it was not paused)."""
        with self._write(audited=True) as conn:
            was = self._component(conn, name)
            conn.execute(
                t.components.update()
                .where(t.components.c.name == name)
                .values(paused=False, paused_until=None, pause_reason=None, paused_by=None)
            )
            self._append_audit(
                conn,
                actor=actor,
                action="component.resumed",
                subject=name,
                detail={"was_paused": was.paused, "reason": redact(was.pause_reason or "")},
            )
