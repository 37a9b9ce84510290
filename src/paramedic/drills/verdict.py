"""A drill's phases and verdict, from what the agent did and what the canaries show (pure).

Measured RTO = the incident's ``recovered_at`` − the moment the fault was injected.
Measured RPO, in order of evidence: from the canaries (fault time − newest surviving canary
written before the fault); else, when the recovery used a recovery point, fault time − that
point; else the incident's own figure (0 for a strategy that keeps data in place, e.g. a
restart of a process: components with no data run no canary). A component with canaries of
which none survived and no recovery point has an RPO that cannot be bounded: missed.

Verdict: ``met`` when the component was recovered with both figures within the targets and
the canaries show no gap; ``missed`` otherwise (escalated by the agent, a target exceeded,
data corruption); ``aborted`` when no recovery was verified within ``abort_after``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from paramedic.catalog.duration import format_duration
from paramedic.drills.canary import CanaryReport
from paramedic.objectives import rpo_status
from paramedic.redact import redact
from paramedic.store import IncidentRow, StepRow, iso_utc


def phase(name: str, at: datetime, detail: str = "", **more: Any) -> dict[str, Any]:
    """One phase of a drill record: its name, time (ISO ``Z``), detail (redacted) and more."""
    phase: dict[str, Any] = {"phase": name, "at": iso_utc(at)}
    if detail:
        phase["detail"] = redact(detail)
    phase.update(more)
    return phase


@dataclass
class AgentOutcome:
    """What waiting for the agent found."""

    incident: IncidentRow | None = None
    aborted: bool = False
    aborted_at: datetime | None = None


def fault_moment(
    asked_at: datetime, reported_at: datetime, incident: IncidentRow | None
) -> datetime:
    """When the fault took effect: the provider's report, or earlier when the agent saw it fail first.

    The fault took effect between the moment it was asked for and the moment the provider
    reported it (measured after its action returned). A failed check in between proves it
    had taken effect by then; one that began before the ask bounds it at the ask.
    """
    if incident is None or incident.failed_at >= reported_at:
        return reported_at
    return max(asked_at, incident.failed_at)


def agent_phases(outcome: AgentOutcome, steps: Sequence[StepRow]) -> list[dict[str, Any]]:
    """The phases the agent's incident shows: detected, each step, verified or escalated."""
    phases: list[dict[str, Any]] = []
    incident = outcome.incident
    if incident is not None:
        phases.append(
            phase("detected", incident.detected_at, incident.reason, incident_id=incident.id)
        )
        for step in steps:
            text = (step.error or step.output).strip().splitlines()
            phases.append(
                phase(
                    "step",
                    step.started_at,
                    text[-1] if text else "",
                    seq=step.seq,
                    strategy=step.strategy,
                    status=step.status,
                    ended_at=iso_utc(step.ended_at) if step.ended_at else None,
                )
            )
        if incident.state == "recovered" and incident.recovered_at is not None:
            phases.append(
                phase("verified", incident.recovered_at, f"recovered by {incident.strategy}")
            )
        elif incident.state == "escalated" and incident.escalated_at is not None:
            phases.append(phase("escalated", incident.escalated_at, incident.reason))
    if outcome.aborted and outcome.aborted_at is not None:
        phases.append(phase("aborted", outcome.aborted_at, "no verified recovery in time"))
    return phases


def judge(
    incident: IncidentRow | None,
    *,
    aborted: bool,
    injected_at: datetime,
    report: CanaryReport | None,
    target_rto_s: float,
    target_rpo_s: float,
    abort_after: timedelta,
    stateless: bool = False,
) -> tuple[str, str, float | None, float | None]:
    """``(verdict, reason, measured RTO, measured RPO)`` of a drill (pure).

    ``stateless``: nothing stateful was touched (``objectives.stateless_recovery``), so an
    unmeasured RPO of a 0 s objective is not applicable rather than unknown.
    """
    if aborted or incident is None:
        state = f" (incident {incident.id} still {incident.state})" if incident else ""
        detected = "" if incident else ": the agent never opened an incident"
        return (
            "aborted",
            f"not recovered within abort_after {format_duration(abort_after)}{state}{detected}",
            None,
            None,
        )
    if incident.state != "recovered" or incident.recovered_at is None:
        return (
            "missed",
            f"the agent did not recover it: {incident.state}: {incident.reason}",
            None,
            None,
        )
    rto = max(0.0, (incident.recovered_at - injected_at).total_seconds())
    rpo, rpo_basis = _rpo(incident, injected_at, report)
    problems = []
    rto_text = f"RTO {format_duration(rto)} of {format_duration(target_rto_s)}"
    problems.append(rto_text + (" met" if rto <= target_rto_s else " missed"))
    status = rpo_status(rpo, target_rpo_s, stateless=stateless)
    if status == "not_applicable":
        problems.append("RPO not applicable: no data kept and none touched")
    elif rpo is None:
        problems.append(f"RPO unknown: {rpo_basis}")
    else:
        ok = rpo <= target_rpo_s
        problems.append(
            f"RPO {format_duration(rpo)} of {format_duration(target_rpo_s)} "
            f"{'met' if ok else 'missed'} ({rpo_basis})"
        )
    measure = report.measure if report else None
    if measure is not None and measure.corrupted:
        problems.append(
            f"data corruption: canaries {measure.gaps_text()} missing below the newest "
            f"surviving one ({measure.newest_surviving.seq if measure.newest_surviving else '?'})"
        )
    met = (
        rto <= target_rto_s
        and status in ("met", "not_applicable")
        and not (measure is not None and measure.corrupted)
    )
    return ("met" if met else "missed"), "; ".join(problems), rto, rpo


def _rpo(
    incident: IncidentRow, injected_at: datetime, report: CanaryReport | None
) -> tuple[float | None, str]:
    """The measured RPO and what it rests on."""
    measure = report.measure if report else None
    if measure is not None and measure.rpo_s is not None:
        return measure.rpo_s, "from the canaries"
    if incident.recovery_point_at is not None:
        rpo = max(0.0, (injected_at - incident.recovery_point_at).total_seconds())
        if (
            report is not None
            and report.first_at is not None
            and report.first_at < incident.recovery_point_at
        ):
            return rpo, "from the recovery point, yet canaries older than it were lost"
        return rpo, "from the recovery point used; every canary was newer than it"
    if report is not None:
        if report.read_error:
            return None, report.read_error
        return None, "no canary written before the fault survived and no recovery point was used"
    return incident.measured_rpo_s, "data kept in place"


def canary_summary(report: CanaryReport) -> str:
    """One line: how many canaries survived, the newest survivor, gaps, and their removal."""
    m = report.measure
    if m is None:
        return f"canaries not read back: {report.read_error}; {report.removal}"
    newest = f", newest #{m.newest_surviving.seq}" if m.newest_surviving else ""
    gaps = f", gaps {m.gaps_text()}" if m.gaps else ""
    after = m.written - m.written_before_fault
    return (
        f"{m.survived_before_fault} of {m.written_before_fault} canaries written before the "
        f"fault survived{newest}{gaps}; {after} written after it; {report.removal}"
    )
