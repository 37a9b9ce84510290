"""Evidence that objectives hold: recovery points, drills and the notifications sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from paramedic.errors import NotFound
from paramedic.redact import redact
from paramedic.store import tables as t
from paramedic.store.audit import clean_detail
from paramedic.store.core import SYSTEM_ACTOR, StoreCore, clip
from paramedic.store.rows import DrillRow, NotificationRow, RecoveryPointRow
from paramedic.store.types import as_utc


class EvidenceRecords(StoreCore):
    """The ``recovery_points``, ``drills`` and ``notifications`` tables."""

    # ------------------------------------------------------------ recovery points

    def add_recovery_point(
        self,
        *,
        component: str,
        engine: str,
        taken_at: datetime,
        location: str,
        size_bytes: int | None,
        checksum: str | None,
        detail: dict[str, Any] | None = None,
    ) -> RecoveryPointRow:
        """Record a backup or snapshot that ``component``'s data can be restored to."""
        values: dict[str, Any] = {
            "component": component,
            "engine": engine,
            "taken_at": as_utc(taken_at),
            "location": redact(location),
            "size_bytes": size_bytes,
            "checksum": checksum,
            "detail": clean_detail(detail),
            "verify_detail": "",
        }
        with self._write(audited=True) as conn:
            self._require_component(conn, component)
            point_id = conn.execute(
                t.recovery_points.insert().values(**values).returning(t.recovery_points.c.id)
            ).scalar_one()
            self._append_audit(
                conn,
                actor=SYSTEM_ACTOR,
                action="recovery_point.added",
                subject=component,
                detail={
                    "id": point_id,
                    "engine": engine,
                    "taken_at": values["taken_at"],
                    "location": values["location"],
                    "size_bytes": size_bytes,
                },
            )
            row = conn.execute(
                select(t.recovery_points).where(t.recovery_points.c.id == point_id)
            ).one()
            return RecoveryPointRow(**row._mapping)

    def recovery_points(self, component: str | None = None) -> list[RecoveryPointRow]:
        """Recovery points, newest first; of one component when given."""
        rp = t.recovery_points.c
        query = select(t.recovery_points).order_by(rp.taken_at.desc(), rp.id.desc())
        if component is not None:
            query = query.where(rp.component == component)
        with self._read() as conn:
            return [RecoveryPointRow(**r._mapping) for r in conn.execute(query)]

    def mark_verified(self, point_id: int, *, at: datetime, ok: bool, detail: str) -> None:
        """Record the outcome of a restore test of one recovery point."""
        at = as_utc(at)
        detail = clip(detail, 2000)
        rp = t.recovery_points.c
        with self._write(audited=True) as conn:
            component = conn.execute(select(rp.component).where(rp.id == point_id)).scalar()
            if component is None:
                raise NotFound(f"no recovery point {point_id} in the state store")
            conn.execute(
                t.recovery_points.update()
                .where(rp.id == point_id)
                .values(verified_at=at, verified_ok=ok, verify_detail=detail)
            )
            self._append_audit(
                conn,
                actor=SYSTEM_ACTOR,
                action="recovery_point.verified" if ok else "recovery_point.verify_failed",
                subject=str(component),
                detail={"id": point_id, "ok": ok, "detail": detail},
            )

    # ------------------------------------------------------------ drills

    def add_drill(
        self,
        *,
        component: str,
        fault: str,
        started_at: datetime,
        incident_id: str | None,
        phases: list[dict[str, Any]],
        verdict: str,
        measured_rto_s: float | None,
        measured_rpo_s: float | None,
        target_rto_s: float,
        target_rpo_s: float,
    ) -> DrillRow:
        """Record one finished drill with its phases and measured figures."""
        values: dict[str, Any] = {
            "component": component,
            "fault": fault,
            "started_at": as_utc(started_at),
            "incident_id": incident_id,
            "phases": clean_detail({"phases": phases})["phases"],
            "verdict": verdict,
            "measured_rto_s": None if measured_rto_s is None else float(measured_rto_s),
            "measured_rpo_s": None if measured_rpo_s is None else float(measured_rpo_s),
            "target_rto_s": float(target_rto_s),
            "target_rpo_s": float(target_rpo_s),
        }
        with self._write(audited=True) as conn:
            self._require_component(conn, component)
            if incident_id is not None:
                self._require_incident(conn, incident_id)
            drill_id = conn.execute(
                t.drills.insert().values(**values).returning(t.drills.c.id)
            ).scalar_one()
            self._append_audit(
                conn,
                actor=SYSTEM_ACTOR,
                action="drill.finished",
                subject=component,
                detail={
                    "id": drill_id,
                    "fault": fault,
                    "verdict": verdict,
                    "incident_id": incident_id,
                    "measured_rto_s": values["measured_rto_s"],
                    "measured_rpo_s": values["measured_rpo_s"],
                },
            )
            row = conn.execute(select(t.drills).where(t.drills.c.id == drill_id)).one()
            return DrillRow(**row._mapping)

    def drills(self, component: str | None = None) -> list[DrillRow]:
        """Drills, newest first; of one component when given."""
        d = t.drills.c
        query = select(t.drills).order_by(d.started_at.desc(), d.id.desc())
        if component is not None:
            query = query.where(d.component == component)
        with self._read() as conn:
            return [DrillRow(**r._mapping) for r in conn.execute(query)]

    # ------------------------------------------------------------ notifications

    def record_notification(
        self,
        *,
        incident_id: str | None,
        route: str,
        event: str,
        at: datetime,
        status: str,
        attempts: int,
        error: str = "",
    ) -> None:
        """Record one notification sent, or given up on, through one route."""
        values: dict[str, Any] = {
            "incident_id": incident_id,
            "route": redact(route),
            "event": event,
            "at": as_utc(at),
            "status": status,
            "attempts": attempts,
            "error": clip(error, 2000),
        }
        with self._write() as conn:
            if incident_id is not None:
                self._require_incident(conn, incident_id)
            conn.execute(t.notifications.insert().values(**values))

    def notifications(
        self, incident_id: str | None = None, *, limit: int = 1000
    ) -> list[NotificationRow]:
        """Notifications, newest first; of one incident when given."""
        n = t.notifications.c
        query = select(t.notifications).order_by(n.at.desc(), n.id.desc()).limit(limit)
        if incident_id is not None:
            query = query.where(n.incident_id == incident_id)
        with self._read() as conn:
            return [NotificationRow(**r._mapping) for r in conn.execute(query)]
