"""Incidents, their recovery steps (the journal) and the approvals destructive steps wait for."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from paramedic.errors import Fenced, NotFound, Refused
from paramedic.store import tables as t
from paramedic.store.core import SYSTEM_ACTOR, StoreCore, clip, no_incident
from paramedic.store.leases import fence_problem
from paramedic.store.rows import (
    ApprovalRow,
    ApprovalState,
    IncidentKind,
    IncidentRow,
    IncidentState,
    StepRow,
    StepStatus,
)
from paramedic.store.types import as_utc

_TIMES = frozenset({"recovered_at", "escalated_at", "recovery_point_at"})
_FLOATS = frozenset({"measured_rto_s", "measured_rpo_s"})
_TEXTS = frozenset({"strategy", "blocked_by", "reason", "failure"})
UPDATABLE = frozenset({"state"}) | _TIMES | _FLOATS | _TEXTS
"""The incident fields ``update_incident`` accepts."""


def new_incident_id(component: str, failed_at: datetime) -> str:
    """``inc-20261125T194512-web-3f2a``: ``failed_at`` (UTC, the same instant as the incident's
    own field, so the id and the timings agree), component, 4 random hex digits."""
    return f"inc-{as_utc(failed_at):%Y%m%dT%H%M%S}-{component}-{secrets.token_hex(2)}"


def _one_at_a_time(component: str, existing: IncidentRow | None) -> Refused:
    held = f" {existing.id} ({existing.state})" if existing else ""
    return Refused(
        f"{component} already has an open incident{held}; one recovery at a time per component"
    )


def _changes(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - UPDATABLE)
    if unknown:
        raise TypeError(f"update_incident() cannot set {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "state":
            out[key] = IncidentState(value).value
        elif value is None:
            out[key] = "" if key == "reason" else None
        elif key in _TIMES:
            out[key] = as_utc(value)
        elif key in _FLOATS:
            out[key] = float(value)
        elif key == "reason":
            out[key] = clip(str(value), 2000)
        else:
            out[key] = str(value)
    return out


class IncidentRecords(StoreCore):
    """The ``incidents``, ``steps`` and ``approvals`` tables."""

    # ------------------------------------------------------------ incidents

    def open_incident(
        self,
        *,
        component: str,
        kind: str,
        failed_at: datetime,
        detected_at: datetime,
        failure: str | None,
        reason: str,
        target_rto_s: float,
        target_rpo_s: float,
        incident_id: str | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> IncidentRow:
        """Open an incident; Refused while the component has another open one.

        Given an ``incident_id`` that already exists for the same component, returns that
        incident unchanged, so a resumed workflow can call this again.
        """
        values: dict[str, Any] = {
            "component": component,
            "kind": IncidentKind(kind).value,
            "state": IncidentState.open.value,
            "failure": None if failure is None else str(failure),
            "reason": clip(reason, 2000),
            "failed_at": as_utc(failed_at),
            "detected_at": as_utc(detected_at),
            "target_rto_s": float(target_rto_s),
            "target_rpo_s": float(target_rpo_s),
        }
        with self._write(audited=True) as conn:
            self._require_component(conn, component)
            if incident_id is not None:
                same = self._find_incident(conn, incident_id)
                if same is not None:
                    if same.component != component:
                        raise Refused(
                            f"incident id {incident_id} already belongs to {same.component}"
                        )
                    return same
            existing = self._open_incident_of(conn, component)
            if existing is not None:
                raise _one_at_a_time(component, existing)
            new_id = incident_id
            while new_id is None or self._find_incident(conn, new_id) is not None:
                new_id = new_incident_id(component, values["failed_at"])
            try:
                conn.execute(t.incidents.insert().values(id=new_id, **values))
            except IntegrityError as exc:
                raise _one_at_a_time(component, None) from exc
            self._append_audit(
                conn,
                actor=actor,
                action="incident.opened",
                subject=new_id,
                detail={
                    "component": component,
                    "kind": values["kind"],
                    "failure": values["failure"],
                    "reason": values["reason"],
                },
            )
            return self._incident(conn, new_id)

    def open_incident_of(self, component: str) -> IncidentRow | None:
        """The component's open incident (open, recovering, awaiting approval, blocked), if any."""
        with self._read() as conn:
            return self._open_incident_of(conn, component)

    def incident(self, incident_id: str) -> IncidentRow:
        """One incident; NotFound when there is none with that id."""
        with self._read() as conn:
            return self._incident(conn, incident_id)

    def incidents(
        self, component: str | None = None, *, limit: int = 100, open_only: bool = False
    ) -> list[IncidentRow]:
        """Incidents, newest first; of one component, or only the open ones, when asked."""
        c = t.incidents.c
        query = select(t.incidents).order_by(c.detected_at.desc(), c.id.desc()).limit(limit)
        if component is not None:
            query = query.where(c.component == component)
        if open_only:
            query = query.where(c.state.in_(t.OPEN_STATES))
        with self._read() as conn:
            return [IncidentRow(**r._mapping) for r in conn.execute(query)]

    def update_incident(
        self,
        incident_id: str,
        *,
        actor: str = SYSTEM_ACTOR,
        fence: tuple[str, float] | None = None,
        **fields: Any,
    ) -> IncidentRow:
        """Set some of: state, recovered_at, escalated_at, strategy, measured_rto_s,
        measured_rpo_s, recovery_point_at, blocked_by, reason, failure.

        ``recovered_at`` without ``measured_rto_s`` fills it in as ``recovered_at - failed_at``.
        A change of state is audited; reopening while another incident is open is Refused.
        ``fence`` (agent, lease ttl): as in ``start_step``, Fenced in the same transaction
        unless that agent's lease is fresh and the incident is still its recovery.
        """
        changes = _changes(fields)
        with self._write(audited=True) as conn:
            if fence is not None:
                problem = fence_problem(conn, incident_id, fence[0], fence[1], self._now())
                if problem is not None:
                    raise Fenced(problem)
            before = self._incident(conn, incident_id)
            if changes.get("recovered_at") is not None and "measured_rto_s" not in changes:
                rto = (changes["recovered_at"] - before.failed_at).total_seconds()
                changes["measured_rto_s"] = rto
            if not changes:
                return before
            reopens = "state" in changes and IncidentState(changes["state"]).is_open
            if reopens and not before.is_open:
                holder = self._open_incident_of(conn, before.component)
                if holder is not None:
                    raise _one_at_a_time(before.component, holder)
            try:
                conn.execute(
                    t.incidents.update().where(t.incidents.c.id == incident_id).values(**changes)
                )
            except IntegrityError as exc:
                raise _one_at_a_time(before.component, None) from exc
            after = self._incident(conn, incident_id)
            if after.state != before.state:
                self._append_audit(
                    conn,
                    actor=actor,
                    action=f"incident.{after.state}",
                    subject=incident_id,
                    detail={"component": after.component, "from": before.state, **changes},
                )
            return after

    def _find_incident(self, conn: Connection, incident_id: str) -> IncidentRow | None:
        row = conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id)).first()
        return None if row is None else IncidentRow(**row._mapping)

    def _incident(self, conn: Connection, incident_id: str) -> IncidentRow:
        found = self._find_incident(conn, incident_id)
        if found is None:
            raise NotFound(no_incident(incident_id))
        return found

    def _open_incident_of(self, conn: Connection, component: str) -> IncidentRow | None:
        c = t.incidents.c
        row = conn.execute(
            select(t.incidents).where(c.component == component, c.state.in_(t.OPEN_STATES))
        ).first()
        return None if row is None else IncidentRow(**row._mapping)

    # ------------------------------------------------------------ steps (the journal)

    def start_step(
        self,
        incident_id: str,
        *,
        seq: int,
        strategy: str,
        started_at: datetime,
        dry_run: bool = False,
        detail: str = "",
        fence: tuple[str, float] | None = None,
    ) -> StepRow:
        """Record that step ``seq`` of an incident started; returns the existing row if it did.

        ``fence`` (agent, lease ttl): in the same transaction, Fenced unless that agent's
        lease is fresh by the database's clock and the incident is still its recovery.
        """
        started_at = as_utc(started_at)
        with self._write(audited=True) as conn:
            if fence is not None:
                problem = fence_problem(conn, incident_id, fence[0], fence[1], self._now())
                if problem is not None:
                    raise Fenced(problem)
            existing = self._find_step(conn, incident_id, seq)
            if existing is not None:
                return existing
            self._require_incident(conn, incident_id)
            conn.execute(
                t.steps.insert().values(
                    incident_id=incident_id,
                    seq=seq,
                    strategy=strategy,
                    started_at=started_at,
                    ended_at=None,
                    status=StepStatus.running.value,
                    dry_run=dry_run,
                    detail=clip(detail, 2000),
                    output="",
                    error="",
                    duration_s=None,
                )
            )
            self._append_audit(
                conn,
                actor=SYSTEM_ACTOR,
                action="step.started",
                subject=incident_id,
                detail={"seq": seq, "strategy": strategy, "dry_run": dry_run},
            )
            return self._step(conn, incident_id, seq)

    def finish_step(
        self,
        incident_id: str,
        seq: int,
        *,
        ended_at: datetime,
        status: str,
        output: str = "",
        error: str = "",
    ) -> StepRow:
        """Record how step ``seq`` ended; output and error are redacted and clipped.

        Finishing an already finished step with the same status returns it unchanged.
        """
        ended_at = as_utc(ended_at)
        final = StepStatus(status)
        if final is StepStatus.running:
            raise ValueError("finish_step needs a final status, not 'running'")
        with self._write(audited=True) as conn:
            step = self._step(conn, incident_id, seq)
            if step.ended_at is not None and step.status == final:
                return step
            duration = (ended_at - step.started_at).total_seconds()
            conn.execute(
                t.steps.update()
                .where(t.steps.c.id == step.id)
                .values(
                    ended_at=ended_at,
                    status=final.value,
                    output=clip(output),
                    error=clip(error),
                    duration_s=duration,
                )
            )
            self._append_audit(
                conn,
                actor=SYSTEM_ACTOR,
                action=f"step.{final.value}",
                subject=incident_id,
                detail={
                    "seq": seq,
                    "strategy": step.strategy,
                    "duration_s": duration,
                    "error": clip(error, 500),
                },
            )
            return self._step(conn, incident_id, seq)

    def steps(self, incident_id: str) -> list[StepRow]:
        """The steps of one incident, in order."""
        query = select(t.steps).where(t.steps.c.incident_id == incident_id).order_by(t.steps.c.seq)
        with self._read() as conn:
            return [StepRow(**r._mapping) for r in conn.execute(query)]

    def _find_step(self, conn: Connection, incident_id: str, seq: int) -> StepRow | None:
        s = t.steps.c
        row = conn.execute(
            select(t.steps).where(s.incident_id == incident_id, s.seq == seq)
        ).first()
        return None if row is None else StepRow(**row._mapping)

    def _step(self, conn: Connection, incident_id: str, seq: int) -> StepRow:
        found = self._find_step(conn, incident_id, seq)
        if found is None:
            self._require_incident(conn, incident_id)
            raise NotFound(f"incident {incident_id} has no step {seq}")
        return found

    # ------------------------------------------------------------ approvals

    def request_approval(
        self, incident_id: str, *, seq: int, strategy: str, at: datetime, summary: str
    ) -> None:
        """Ask an operator to approve step ``seq``; asking again for the same step does nothing."""
        at = as_utc(at)
        with self._write(audited=True) as conn:
            self._require_incident(conn, incident_id)
            a = t.approvals.c
            asked = conn.execute(
                select(a.id).where(a.incident_id == incident_id, a.seq == seq)
            ).first()
            if asked is not None:
                return
            summary = clip(summary, 2000)
            conn.execute(
                t.approvals.insert().values(
                    incident_id=incident_id,
                    seq=seq,
                    strategy=strategy,
                    requested_at=at,
                    summary=summary,
                    state=ApprovalState.waiting.value,
                )
            )
            self._append_audit(
                conn,
                actor=SYSTEM_ACTOR,
                action="approval.requested",
                subject=incident_id,
                detail={"seq": seq, "strategy": strategy, "summary": summary},
            )

    def decide_approval(
        self, incident_id: str, *, approved: bool, actor: str, at: datetime
    ) -> ApprovalRow:
        """Answer the waiting approval of an incident; Refused when nothing waits."""
        at = as_utc(at)
        a = t.approvals.c
        with self._write(audited=True) as conn:
            self._require_incident(conn, incident_id)
            row = conn.execute(
                select(t.approvals)
                .where(a.incident_id == incident_id, a.state == ApprovalState.waiting.value)
                .order_by(a.seq.desc())
            ).first()
            if row is None:
                raise Refused(f"incident {incident_id} has nothing waiting for approval")
            waiting = ApprovalRow(**row._mapping)
            state = ApprovalState.approved if approved else ApprovalState.denied
            conn.execute(
                t.approvals.update()
                .where(a.id == waiting.id)
                .values(state=state.value, decided_at=at, decided_by=actor)
            )
            self._append_audit(
                conn,
                actor=actor,
                action=f"approval.{state.value}",
                subject=incident_id,
                detail={"seq": waiting.seq, "strategy": waiting.strategy},
            )
            decided = conn.execute(select(t.approvals).where(a.id == waiting.id)).one()
            return ApprovalRow(**decided._mapping)

    def approval(self, incident_id: str) -> ApprovalRow | None:
        """The latest approval request of an incident (waiting or answered), if any."""
        a = t.approvals.c
        query = select(t.approvals).where(a.incident_id == incident_id).order_by(a.seq.desc())
        with self._read() as conn:
            row = conn.execute(query).first()
            return None if row is None else ApprovalRow(**row._mapping)
