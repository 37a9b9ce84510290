"""Drills and finished incidents as evidence, judged against the catalog's objectives today."""

from __future__ import annotations

from paramedic.drills.score import Evidence
from paramedic.errors import StoreError
from paramedic.report.incidents import escalation_cause
from paramedic.store import DrillRow, IncidentKind, IncidentRow, IncidentState
from paramedic.store.connect import parse_target

EVIDENCE_KINDS = frozenset({IncidentKind.failure, IncidentKind.manual})
"""Incidents that measure a recovery (a drill's own incident is its drill's evidence)."""


def drill_evidence(row: DrillRow, rto_s: float, rpo_s: float, stateless: bool = False) -> Evidence:
    """A drill as evidence, judged against ``rto_s``/``rpo_s`` (the catalog's objectives).

    A drill the runner judged ``missed`` although it recovered with figures within the
    targets of its day (or with no RPO at all) failed on data the figures do not show:
    canaries that bound no RPO, or corruption. That stays a failed RPO whatever the targets.
    """
    aborted = row.verdict.lower().startswith("abort")
    recovered = not aborted and row.measured_rto_s is not None
    hidden = row.measured_rpo_s is None or (bool(row.rto_met) and bool(row.rpo_met))
    return Evidence(
        source="drill",
        ref=str(row.id),
        at=row.started_at,
        recovered=recovered,
        measured_rto_s=row.measured_rto_s,
        measured_rpo_s=row.measured_rpo_s,
        target_rto_s=rto_s,
        target_rpo_s=rpo_s,
        note=f"{row.fault}, {row.verdict}",
        aborted=aborted,
        rpo_failed=recovered and row.verdict == "missed" and hidden and not stateless,
        stateless=stateless,
        incident_id=row.incident_id,
    )


def incident_note(row: IncidentRow) -> str:
    """``refused, restart_service``; ``manual, …``; ``refused, escalated: flapping``."""
    state = IncidentState(row.state)
    what = "manual" if row.kind == IncidentKind.manual else (row.failure or "failure")
    if state is IncidentState.recovered:
        return f"{what}, {row.strategy or 'recovered'}"
    if state is IncidentState.escalated:
        return f"{what}, escalated: {escalation_cause(row.reason).label}"
    return f"{what}, {state.value}"


def incident_evidence(
    row: IncidentRow, rto_s: float, rpo_s: float, stateless: bool = False
) -> Evidence | None:
    """A finished failure or manual incident as evidence; None for any other incident."""
    state = IncidentState(row.state)
    if row.kind not in EVIDENCE_KINDS or state.is_open or state is IncidentState.cancelled:
        return None
    recovered = state is IncidentState.recovered
    return Evidence(
        source="incident",
        ref=row.id,
        at=row.failed_at,
        recovered=recovered,
        measured_rto_s=row.measured_rto_s if recovered else None,
        measured_rpo_s=row.measured_rpo_s if recovered else None,
        target_rto_s=rto_s,
        target_rpo_s=rpo_s,
        note=incident_note(row),
        stateless=stateless,
        manual=row.kind == IncidentKind.manual,
        incident_id=row.id,
    )


def state_shown(url: str) -> str:
    """Where the state lives, for people: ``sqlite:////var/lib/p.db`` reads ``/var/lib/p.db``."""
    try:
        target = parse_target(url)
    except StoreError:
        return url
    return str(target.path) if target.path is not None else target.shown
