"""What the state store returns: frozen rows, each with its documented ``--json`` shape.

``to_json()`` gives times as ISO 8601 UTC strings ending in ``Z`` (milliseconds),
keeps ``None`` as null and redacts secrets from every string, so the dicts can be
printed by ``paramedic status --json`` and ``paramedic history --json`` as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from paramedic.objectives import met as _met
from paramedic.redact import redact


class IncidentKind(StrEnum):
    """Why an incident exists."""

    failure = "failure"
    manual = "manual"
    drill = "drill"
    verification = "verification"


class IncidentState(StrEnum):
    """Where an incident stands; the first four hold the component's one recovery slot."""

    open = "open"
    recovering = "recovering"
    awaiting_approval = "awaiting_approval"
    blocked = "blocked"
    recovered = "recovered"
    escalated = "escalated"
    cancelled = "cancelled"

    @property
    def is_open(self) -> bool:
        """True while the incident still holds the component's recovery slot."""
        return self in _OPEN


_OPEN = frozenset(
    {
        IncidentState.open,
        IncidentState.recovering,
        IncidentState.awaiting_approval,
        IncidentState.blocked,
    }
)


class StepStatus(StrEnum):
    """How one recovery step ended (``running`` until it does)."""

    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"
    unverified = "unverified"
    """The action finished but the component's own check did not pass in time."""
    skipped = "skipped"
    denied = "denied"
    cancelled = "cancelled"


class ApprovalState(StrEnum):
    """An approval request: waiting for an operator, then approved or denied."""

    waiting = "waiting"
    approved = "approved"
    denied = "denied"


def iso_utc(value: datetime) -> str:
    """``2026-11-25T19:45:12.345Z``: the one way paramedic writes a time in JSON."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """``value`` with times as ISO strings, strings redacted, containers walked."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class _Row:
    """Shared ``to_json``: every dataclass field, made JSON-safe and redacted."""

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-ready dict (times ISO ``Z``, secrets redacted)."""
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class ComponentRow(_Row):
    """A component as last seen: catalog facts, health, counters and maintenance pause."""

    name: str
    type: str
    location: str
    criticality: str
    provider: str
    rto_s: float
    rpo_s: float
    state: str
    state_since: datetime | None
    checks_total: int
    failures_total: int
    last_check_at: datetime | None
    last_ok: bool | None
    last_detail: str
    paused: bool
    paused_until: datetime | None
    pause_reason: str | None
    paused_by: str | None
    circuit_reset_at: datetime | None
    """When an operator last closed the circuit (``paramedic reset``); None: never."""
    host: str | None = None
    """The host whose agent last took charge of it (host-bound providers, several agents)."""

    def is_paused(self, now: datetime) -> bool:
        """True when paused with no end, or with an end still after ``now``."""
        return self.paused and (self.paused_until is None or self.paused_until > now)


@dataclass(frozen=True)
class TransitionRow(_Row):
    """One change of a component's health state."""

    id: int
    component: str
    at: datetime
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True)
class StepRow(_Row):
    """One strategy tried for one incident: a journal record with its timing and outcome."""

    id: int
    incident_id: str
    seq: int
    strategy: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    dry_run: bool
    detail: str
    output: str
    error: str
    duration_s: float | None


@dataclass(frozen=True)
class IncidentRow(_Row):
    """One failure of one component, from its first failed check to recovery or escalation."""

    id: str
    component: str
    kind: str
    state: str
    failure: str | None
    reason: str
    failed_at: datetime
    detected_at: datetime
    recovered_at: datetime | None
    escalated_at: datetime | None
    blocked_by: str | None
    strategy: str | None
    measured_rto_s: float | None
    measured_rpo_s: float | None
    recovery_point_at: datetime | None
    target_rto_s: float
    target_rpo_s: float
    agent: str | None = None
    """The agent running its recovery (several agents on one PostgreSQL), else None."""

    @property
    def is_open(self) -> bool:
        """True while the incident holds the component's one recovery slot."""
        return IncidentState(self.state).is_open

    @property
    def time_to_detect_s(self) -> float:
        """``detected_at - failed_at`` in seconds."""
        return (self.detected_at - self.failed_at).total_seconds()

    @property
    def rto_met(self) -> bool | None:
        """Measured RTO within the target; None until measured."""
        return _met(self.measured_rto_s, self.target_rto_s)

    @property
    def rpo_met(self) -> bool | None:
        """Measured RPO within the target; None until measured."""
        return _met(self.measured_rpo_s, self.target_rpo_s)

    def to_json(self, steps: Sequence[StepRow] | None = None) -> dict[str, Any]:
        """The incident with its derived figures; with ``steps`` given, a ``steps`` list too."""
        out = super().to_json()
        out.update(
            open=self.is_open,
            time_to_detect_s=self.time_to_detect_s,
            rto_met=self.rto_met,
            rpo_met=self.rpo_met,
        )
        if steps is not None:
            out["steps"] = [s.to_json() for s in steps]
        return out


@dataclass(frozen=True)
class ApprovalRow(_Row):
    """A destructive strategy waiting for (or answered by) an operator."""

    id: int
    incident_id: str
    seq: int
    strategy: str
    requested_at: datetime
    summary: str
    state: str
    decided_at: datetime | None
    decided_by: str | None

    @property
    def waiting(self) -> bool:
        """True while no operator has answered."""
        return self.state == ApprovalState.waiting


@dataclass(frozen=True)
class RecoveryPointRow(_Row):
    """A backup, snapshot or archived log position that data can be restored to."""

    id: int
    component: str
    engine: str
    taken_at: datetime
    location: str
    size_bytes: int | None
    checksum: str | None
    detail: dict[str, Any]
    verified_at: datetime | None
    verified_ok: bool | None
    verify_detail: str


@dataclass(frozen=True)
class DrillRow(_Row):
    """A fault injected on purpose, with the recovery measured against the objectives."""

    id: int
    component: str
    fault: str
    started_at: datetime
    incident_id: str | None
    phases: list[dict[str, Any]]
    verdict: str
    measured_rto_s: float | None
    measured_rpo_s: float | None
    target_rto_s: float
    target_rpo_s: float

    @property
    def rto_met(self) -> bool | None:
        """Measured RTO within the target; None when not measured."""
        return _met(self.measured_rto_s, self.target_rto_s)

    @property
    def rpo_met(self) -> bool | None:
        """Measured RPO within the target; None when not measured."""
        return _met(self.measured_rpo_s, self.target_rpo_s)

    def to_json(self) -> dict[str, Any]:
        """The drill with ``rto_met`` and ``rpo_met``."""
        out = super().to_json()
        out.update(rto_met=self.rto_met, rpo_met=self.rpo_met)
        return out


@dataclass(frozen=True)
class NotificationRow(_Row):
    """One notification sent (or given up on) through one route."""

    id: int
    incident_id: str | None
    route: str
    event: str
    at: datetime
    status: str
    attempts: int
    error: str


@dataclass(frozen=True)
class AuditRow(_Row):
    """One append-only audit record, chained to the previous one by its hash."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditVerdict(_Row):
    """The result of walking the audit chain: intact, or the first bad seq and why."""

    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str


@dataclass(frozen=True)
class LeaseRow(_Row):
    """One agent's lease: who it is, and how long ago it renewed by the database's clock."""

    name: str
    host: str
    pid: int
    run_start: datetime
    executor_id: str
    tags: list[str]
    catalog: str
    renewed_at: datetime
    age_s: float
    """Seconds since the last renewal, by the database's clock."""
