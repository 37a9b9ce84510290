"""Open risks: what the evidence (or its absence) says can go wrong now.

Risk kinds (``Risk.kind``, stable identifiers):

``down_now`` (high)
    The component does not serve right now: an open incident, or an
    escalated one the store last saw still failing.
``never_proven`` (high)
    No drill and no incident ever measured the component's recovery.
``last_missed`` (high)
    The newest evidence missed an objective, was aborted, or never recovered.
``rpo_unknown`` (medium)
    The newest evidence recovered within the RTO but measured no RPO of a
    component whose data objective applies: it may have lost data.
``stale_evidence`` (medium)
    The newest evidence is older than the report's ``stale_after`` (30 days).
``rpo_exposure`` (high when breached, medium when at risk)
    The newest recovery point is older than the RPO (at risk past 80% of it),
    so a failure now would lose more data than the objective allows. Not
    judged for WAL-archiving engines, whose RPO is bounded by the archive
    (the agent watches that one; the store keeps base backups only).
``restore_forecast`` (high)
    A restore of the newest recovery point, at the measured throughput,
    would take longer than the RTO.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from paramedic.backup.schedule import RpoExposure
from paramedic.catalog.duration import format_duration
from paramedic.drills.score import Evidence
from paramedic.plan import Severity
from paramedic.report.incidents import DownNow
from paramedic.report.restores import RestoreForecast
from paramedic.report.text import evidence_line, when
from paramedic.store import iso_utc


@dataclass(frozen=True)
class Exposure:
    """How old the newest recovery point is against the RPO, as the store knows it."""

    newest_at: datetime | None
    age_s: float | None
    rpo_s: float
    at_risk: bool
    breached: bool
    continuous: bool
    """WAL archiving bounds the RPO, not this point (so it is shown, not judged)."""
    reason: str

    @classmethod
    def of(cls, exposure: RpoExposure, newest_at: datetime | None, continuous: bool) -> Exposure:
        """Wrap ``backup.schedule.rpo_exposure``'s answer."""
        reason = exposure.reason
        if continuous:
            reason += " (base backup; WAL archiving bounds the RPO, watched by the agent)"
        return cls(
            newest_at,
            exposure.age_s,
            exposure.rpo_s,
            exposure.at_risk and not continuous,
            exposure.breached and not continuous,
            continuous,
            reason,
        )

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this exposure."""
        return {
            "newest_at": None if self.newest_at is None else iso_utc(self.newest_at),
            "age_s": self.age_s,
            "rpo_s": self.rpo_s,
            "at_risk": self.at_risk,
            "breached": self.breached,
            "continuous": self.continuous,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Risk:
    """One open risk of one component."""

    component: str
    kind: str
    severity: Severity
    reason: str

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this risk."""
        return {
            "component": self.component,
            "kind": self.kind,
            "severity": self.severity.value,
            "reason": self.reason,
        }


def component_risks(
    name: str,
    evidence: list[Evidence],
    now: datetime,
    stale_after: timedelta,
    exposure: Exposure | None,
    restore: RestoreForecast | None,
    down: DownNow | None = None,
) -> list[Risk]:
    """The open risks of one component; ``evidence`` newest first."""
    risks: list[Risk] = []
    if down is not None:
        risks.append(Risk(name, "down_now", Severity.high, down.sentence()))
    if not evidence:
        risks.append(
            Risk(
                name,
                "never_proven",
                Severity.high,
                f"{name} has never been proven: no drill or incident measured its recovery;"
                " run a drill",
            )
        )
    else:
        newest = evidence[0]
        if newest.outcome == "unknown":
            risks.append(
                Risk(
                    name,
                    "rpo_unknown",
                    Severity.medium,
                    f"the newest evidence for {name} measured no RPO, so the data lost is"
                    f" unknown: {evidence_line(newest)}; run a drill (its canaries measure it)",
                )
            )
        elif newest.outcome != "met":
            risks.append(
                Risk(
                    name,
                    "last_missed",
                    Severity.high,
                    f"the newest evidence for {name} did not meet its objectives:"
                    f" {evidence_line(newest)}",
                )
            )
        old = (now - newest.at).total_seconds()
        if old > stale_after.total_seconds():
            risks.append(
                Risk(
                    name,
                    "stale_evidence",
                    Severity.medium,
                    f"the newest evidence for {name} is {format_duration(round(old))} old"
                    f" ({when(newest.at)}), older than {format_duration(stale_after)}:"
                    " run a drill",
                )
            )
    if exposure is not None and exposure.at_risk:
        severity = Severity.high if exposure.breached else Severity.medium
        risks.append(Risk(name, "rpo_exposure", severity, exposure.reason))
    if restore is not None and not restore.within:
        risks.append(Risk(name, "restore_forecast", Severity.high, f"{name}: {restore.reason()}"))
    return risks
