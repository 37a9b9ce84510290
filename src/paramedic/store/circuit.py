"""The queries behind each component's circuit: recoveries that ran, and operators' resets.

A recovery counts against the budget only when it ran a strategy: an incident
escalated before any step acted (flapping, a refused budget, no provider, a
destructive step denied or never approved) cost nothing and must not keep the
circuit open. It counts from the moment its first step began acting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, func, or_, select

from paramedic.store import tables as t
from paramedic.store.core import StoreCore, clip
from paramedic.store.rows import ApprovalState, ComponentRow, IncidentKind, StepStatus
from paramedic.store.types import as_utc

RECOVERY_KINDS = (IncidentKind.failure.value, IncidentKind.manual.value, IncidentKind.drill.value)
"""Incident kinds whose recoveries count against a component's budget (not backup verifications)."""

NOT_ACTED = (StepStatus.denied.value, StepStatus.skipped.value, StepStatus.cancelled.value)
"""Step statuses of a strategy that never acted."""


class CircuitRecords(StoreCore):
    """Budget counting and circuit resets on the ``incidents``, ``steps`` and ``components`` tables."""

    def recovery_starts(
        self, since: datetime, *, component: str | None = None, exclude: str | None = None
    ) -> dict[str, list[datetime]]:
        """Per component, when each recovery that ran a strategy began, for those begun at or after ``since``.

        A step behind an approval counts only once approved (a timed-out or denied approval
        acted on nothing); ``exclude`` leaves out one incident (the one asking).
        """
        s, i, a = t.steps.c, t.incidents.c, t.approvals.c
        first = func.min(s.started_at).label("first")
        query = (
            select(i.component, first)
            .select_from(
                t.steps.join(t.incidents, i.id == s.incident_id).outerjoin(
                    t.approvals, and_(a.incident_id == s.incident_id, a.seq == s.seq)
                )
            )
            .where(
                i.kind.in_(RECOVERY_KINDS),
                s.dry_run.is_(False),
                s.status.not_in(NOT_ACTED),
                or_(a.id.is_(None), a.state == ApprovalState.approved.value),
            )
            .group_by(s.incident_id, i.component)
            .having(first >= as_utc(since))
        )
        if component is not None:
            query = query.where(i.component == component)
        if exclude is not None:
            query = query.where(i.id != exclude)
        out: dict[str, list[datetime]] = {}
        with self._read() as conn:
            for name, started in conn.execute(query):
                out.setdefault(str(name), []).append(as_utc(started))
        for starts in out.values():
            starts.sort()
        return out

    def reset_circuit(self, name: str, *, at: datetime, reason: str, actor: str) -> ComponentRow:
        """Close ``name``'s circuit on purpose: recoveries and incidents before ``at`` stop counting.

        Audited as ``component.circuit_reset``; the running agent reads it from here.
        """
        at, reason = as_utc(at), clip(reason, 2000)
        with self._write(audited=True) as conn:
            was = self._component_row(conn, name)
            conn.execute(
                t.components.update().where(t.components.c.name == name).values(circuit_reset_at=at)
            )
            self._append_audit(
                conn,
                actor=actor,
                action="component.circuit_reset",
                subject=name,
                detail={"reason": reason, "state": was.state},
                at=at,
            )
            return self._component_row(conn, name)

    def circuit_resets(self) -> dict[str, datetime]:
        """Every component's latest circuit reset (the agent reads this every second)."""
        c = t.components.c
        query = select(c.name, c.circuit_reset_at).where(c.circuit_reset_at.is_not(None))
        with self._read() as conn:
            return {str(n): as_utc(at) for n, at in conn.execute(query)}

    def _component_row(self, conn: Connection, name: str) -> ComponentRow:
        self._require_component(conn, name)
        row = conn.execute(select(t.components).where(t.components.c.name == name)).one()
        return ComponentRow(**row._mapping)
