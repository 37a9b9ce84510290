"""Agent leases: membership of several agents sharing one state store, judged by its clock.

Each agent upserts its row every heartbeat; ``renewed_at`` is the database's
``now()`` on PostgreSQL, so ages (``now() - renewed_at``) are measured by one
clock whatever the agents' hosts say. SQLite serves one host, whose clock is
the only one. Atomic here: a renewal, a takeover of an incident (compare and
set in one statement) and the fence checked in the transaction that records a
recovery step (``fence_problem``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from paramedic.store import tables as t
from paramedic.store.components import CheckTally
from paramedic.store.core import StoreCore
from paramedic.store.rows import LeaseRow
from paramedic.store.types import as_utc


def fresh_since(conn: Connection, ttl_s: float, now: datetime) -> ColumnElement[bool]:
    """SQL: a lease renewed less than ``ttl_s`` ago (the database's clock on PostgreSQL)."""
    renewed = t.agent_leases.c.renewed_at
    if conn.dialect.name == "postgresql":
        return renewed > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, literal(float(ttl_s)))
    return renewed > as_utc(now) - timedelta(seconds=ttl_s)


def fence_problem(
    conn: Connection, incident_id: str, agent: str, ttl_s: float, now: datetime
) -> str | None:
    """Why ``agent`` must not act on ``incident_id`` now (inside the caller's transaction), or None.

    It may act while its own lease is fresh by the database's clock and the incident is
    its recovery (or nobody's yet).
    """
    lease = conn.execute(
        select(t.agent_leases.c.name).where(
            t.agent_leases.c.name == agent, fresh_since(conn, ttl_s, now)
        )
    ).first()
    if lease is None:
        return f"agent {agent} lost its lease (not renewed within {ttl_s:g}s)"
    holder = conn.execute(select(t.incidents.c.agent).where(t.incidents.c.id == incident_id))
    row = holder.first()
    if row is not None and row.agent not in (None, agent):
        return f"incident {incident_id} is now recovered by agent {row.agent}"
    return None


class LeaseRecords(StoreCore):
    """The ``agent_leases`` and ``agent_checks`` tables, and who runs each incident's recovery."""

    def renew_lease(
        self,
        name: str,
        *,
        host: str,
        pid: int,
        run_start: datetime,
        executor_id: str,
        tags: Sequence[str],
        catalog: str,
    ) -> None:
        """Create or renew ``name``'s lease, stamped with the database's clock."""
        values: dict[str, Any] = {
            "host": host,
            "pid": int(pid),
            "run_start": as_utc(run_start),
            "executor_id": executor_id,
            "tags": sorted(tags),
            "catalog": catalog,
            "renewed_at": func.now() if self.dialect == "postgresql" else self._now(),
        }
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        statement = dialect.insert(t.agent_leases).values(name=name, **values)
        statement = statement.on_conflict_do_update(index_elements=["name"], set_=values)
        with self._write() as conn:
            conn.execute(statement)

    def release_lease(self, name: str, executor_id: str) -> None:
        """A clean stop: drop this run's lease so the others take its share at once."""
        c = t.agent_leases.c
        with self._write() as conn:
            conn.execute(delete(t.agent_leases).where(c.name == name, c.executor_id == executor_id))

    def leases(self) -> list[LeaseRow]:
        """Every agent's lease with its age by the database's clock, oldest run first."""
        c = t.agent_leases.c
        with self._read() as conn:
            if self.dialect == "postgresql":
                age: Any = func.extract("epoch", func.now() - c.renewed_at)
                rows = conn.execute(
                    select(t.agent_leases, age.label("age_s")).order_by(c.run_start, c.name)
                ).all()
                return [LeaseRow(**{**r._mapping, "age_s": float(r.age_s)}) for r in rows]
            now = self._now()
            rows = conn.execute(select(t.agent_leases).order_by(c.run_start, c.name)).all()
        return [
            LeaseRow(**r._mapping, age_s=(now - as_utc(r.renewed_at)).total_seconds()) for r in rows
        ]

    def take_over(self, incident_id: str, agent: str, ttl_s: float) -> bool:
        """Make ``agent`` the one running ``incident_id``'s recovery, if nobody live runs it.

        One compare-and-set: it succeeds when the incident is open and its agent is
        ``agent``, none, or one whose lease is dead by the database's clock.
        """
        c = t.incidents.c
        with self._write() as conn:
            live = select(t.agent_leases.c.name).where(fresh_since(conn, ttl_s, self._now()))
            done = conn.execute(
                update(t.incidents)
                .where(
                    c.id == incident_id,
                    c.state.in_(t.OPEN_STATES),
                    or_(c.agent.is_(None), c.agent == agent, c.agent.not_in(live)),
                )
                .values(agent=agent)
            )
            return bool(done.rowcount)

    def recovering_agents(self) -> dict[str, str]:
        """Component → the agent running its open incident's recovery (where one is recorded)."""
        c = t.incidents.c
        with self._read() as conn:
            rows = conn.execute(
                select(c.component, c.agent).where(c.state.in_(t.OPEN_STATES), c.agent.is_not(None))
            ).all()
        return {r.component: r.agent for r in rows}

    def component_hosts(self) -> dict[str, str]:
        """Component → the host recorded as running it (host-bound components taken charge of)."""
        c = t.components.c
        with self._read() as conn:
            rows = conn.execute(select(c.name, c.host).where(c.host.is_not(None))).all()
        return {r.name: r.host for r in rows}

    def record_hosts(self, names: Sequence[str], host: str) -> None:
        """Record ``host`` as running each of ``names`` (one statement; unchanged rows kept)."""
        if not names:
            return
        c = t.components.c
        with self._write() as conn:
            conn.execute(
                update(t.components)
                .where(c.name.in_(list(names)), or_(c.host.is_(None), c.host != host))
                .values(host=host)
            )

    def count_checks(self, agent: str, tally: Sequence[CheckTally]) -> None:
        """Add ``agent``'s tallied checks to its per-component counts (one statement)."""
        if not tally:
            return
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        rows = [
            {"agent": agent, "component": i.name, "checks": i.checks, "last_at": as_utc(i.at)}
            for i in tally
        ]
        statement = dialect.insert(t.agent_checks).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["agent", "component"],
            set_={
                "checks": t.agent_checks.c.checks + statement.excluded.checks,
                "last_at": statement.excluded.last_at,
            },
        )
        with self._write() as conn:
            conn.execute(statement)

    def checks_by_agent(self) -> dict[str, dict[str, int]]:
        """Component → agent → how many checks that agent ran of it."""
        out: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for r in conn.execute(select(t.agent_checks)):
                out.setdefault(r.component, {})[r.agent] = int(r.checks)
        return out
