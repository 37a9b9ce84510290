"""Each incident as the report tells it: its steps, why it was escalated, and what is down now.

The cause of an escalation is read from what the store records: the reason
the recovery engine or the agent wrote when it escalated (``Cause.kind``,
stable identifiers):

``flapping``          too many incidents in the detector's flap window
``circuit_open``      the component's recovery budget was spent
``ladder_exhausted``  every strategy ran and none was verified
``approval_timeout``  a destructive strategy waited for an operator who never answered
``no_provider``       no provider is built to recover the component
``recovery_error``    the recovery itself failed (a bug, a crash in a step)
``refused``           the ladder could not be planned (a ``--strategy`` it does not have)
``other``             any other reason, shown as it was written

An incident that stayed open longer than its RTO (``past_rto``) is what
the agent's watchdog pages about, measured the same way: from ``failed_at``
to its recovery, its escalation or now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from paramedic.catalog.duration import format_duration
from paramedic.redact import redact
from paramedic.store import ComponentRow, IncidentKind, IncidentRow, IncidentState, StepRow, iso_utc

CauseKind = Literal[
    "flapping",
    "circuit_open",
    "ladder_exhausted",
    "approval_timeout",
    "no_provider",
    "recovery_error",
    "refused",
    "other",
]

_CAUSES: tuple[tuple[str, CauseKind, str], ...] = (
    # (words the store's reason contains, kind, label): the engine's and detector's own texts
    (" is flapping", "flapping", "flapping"),
    ("circuit open", "circuit_open", "circuit open: recovery budget spent"),
    ("every strategy failed", "ladder_exhausted", "every strategy failed"),
    ("waited for approval", "approval_timeout", "nobody answered the approval"),
    ("has no provider", "no_provider", "no provider to recover it"),
    ("the recovery itself failed", "recovery_error", "the recovery itself failed"),
    ("strategy in its catalog entry", "refused", "no such strategy in the ladder"),
)

DOWN_STATES = frozenset({"failed", "escalated"})
"""Component health states (as the store last saw them) that mean it does not serve."""


@dataclass(frozen=True)
class Cause:
    """Why an incident was escalated: a stable kind, a short label and the recorded reason."""

    kind: CauseKind
    label: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """Stable JSON shape of this cause."""
        return {"kind": self.kind, "label": self.label, "reason": self.reason}


def escalation_cause(reason: str) -> Cause:
    """The cause of an escalation from the reason the store recorded with it."""
    shown = redact(reason)
    lowered = shown.lower()
    for words, kind, label in _CAUSES:
        if words in lowered:
            return Cause(kind, label, shown)
    return Cause("other", shown or "escalated", shown)


def _end(row: IncidentRow, now: datetime) -> datetime:
    return row.recovered_at or row.escalated_at or now


@dataclass(frozen=True)
class IncidentEntry:
    """One incident with its steps, for the report's incident sections."""

    row: IncidentRow
    steps: list[StepRow]
    now: datetime

    @property
    def id(self) -> str:
        """The incident's id (the anchor ``#i-ID`` in HTML)."""
        return self.row.id

    @property
    def manual(self) -> bool:
        """Asked for by hand (``paramedic recover``)."""
        return self.row.kind == IncidentKind.manual

    @property
    def title(self) -> str:
        """``incident ID``, ``manual incident ID`` or ``drill incident ID``."""
        kind = "" if self.row.kind == IncidentKind.failure else f"{self.row.kind} "
        return f"{kind}incident {self.row.id}"

    @property
    def cause(self) -> Cause | None:
        """Why it was escalated; None unless it was."""
        if self.row.state != IncidentState.escalated:
            return None
        return escalation_cause(self.row.reason)

    @property
    def open_for_s(self) -> float:
        """From the first failed check to its recovery, its escalation, or now."""
        return max(0.0, (_end(self.row, self.now) - self.row.failed_at).total_seconds())

    @property
    def past_rto(self) -> bool:
        """It stayed open (or is still open) longer than its RTO."""
        return self.row.state != IncidentState.cancelled and self.open_for_s > self.row.target_rto_s

    def ended(self) -> str:
        """``recovered by X``, ``escalated: cause``, or the state it is in."""
        row = self.row
        if row.state == IncidentState.recovered:
            return f"recovered by {row.strategy}" if row.strategy else "recovered"
        cause = self.cause
        if cause is not None:
            return f"escalated: {cause.label}"
        return row.state.replace("_", " ")

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape: the incident's figures, its cause and its steps."""
        row = self.row
        cause = self.cause
        return {
            "id": row.id,
            "kind": row.kind,
            "manual": self.manual,
            "state": row.state,
            "failure": row.failure,
            "reason": redact(row.reason),
            "failed_at": iso_utc(row.failed_at),
            "detected_at": iso_utc(row.detected_at),
            "recovered_at": iso_utc(row.recovered_at) if row.recovered_at else None,
            "escalated_at": iso_utc(row.escalated_at) if row.escalated_at else None,
            "strategy": row.strategy,
            "measured_rto_s": row.measured_rto_s,
            "measured_rpo_s": row.measured_rpo_s,
            "target_rto_s": row.target_rto_s,
            "open_for_s": self.open_for_s,
            "past_rto": self.past_rto,
            "ended": self.ended(),
            "cause": cause.to_json() if cause else None,
            "steps": [s.to_json() for s in self.steps],
        }


def step_text(step: StepRow) -> str:
    """The last line of a step's error, else of its output (redacted)."""
    lines = redact(step.error or step.output).strip().splitlines()
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class DownNow:
    """A component that does not serve right now, as the store knows it."""

    component: str
    incident_id: str
    state: str
    """The incident's state (open, recovering, awaiting_approval, blocked, escalated)."""
    since: datetime
    for_s: float
    target_rto_s: float
    reason: str

    @property
    def past_rto(self) -> bool:
        """Down longer than its RTO."""
        return self.for_s > self.target_rto_s

    def sentence(self) -> str:
        """One line for people: since when, in which state, against the RTO."""
        state = self.state.replace("_", " ")
        rto = format_duration(self.target_rto_s)
        against = f"past its RTO of {rto}" if self.past_rto else f"within its RTO of {rto}"
        return (
            f"{self.component} is down now: incident {self.incident_id} {state} for"
            f" {format_duration(round(self.for_s))} ({against}): {self.reason}"
        )

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {
            "incident_id": self.incident_id,
            "state": self.state,
            "since": iso_utc(self.since),
            "for_s": self.for_s,
            "target_rto_s": self.target_rto_s,
            "past_rto": self.past_rto,
            "reason": self.reason,
            "sentence": self.sentence(),
        }


def down_now(
    name: str, incidents: list[IncidentRow], row: ComponentRow | None, now: datetime
) -> DownNow | None:
    """``name`` is down when it has an open incident, or when its newest incident was
    escalated and the store last saw it failing (nobody has brought it back yet)."""
    relevant = [i for i in incidents if i.kind != IncidentKind.verification]
    current = next((i for i in relevant if i.is_open), None)
    newest = relevant[0] if relevant else None
    if (
        current is None
        and newest is not None
        and newest.state == IncidentState.escalated
        and row is not None
        and row.state in DOWN_STATES
    ):
        current = newest
    if current is None:
        return None
    reason = redact(current.reason)
    if current.state == IncidentState.escalated:
        reason = f"escalated ({escalation_cause(current.reason).label}), waiting for a human"
    elif current.blocked_by:
        reason = f"blocked by {current.blocked_by}"
    return DownNow(
        name,
        current.id,
        current.state,
        current.failed_at,
        max(0.0, (now - current.failed_at).total_seconds()),
        current.target_rto_s,
        reason,
    )
