"""The words and figures every rendering of the report shares (terminal, HTML, Markdown)."""

from __future__ import annotations

from datetime import UTC, datetime

from paramedic.catalog.duration import format_duration
from paramedic.drills.score import Evidence


def when(value: datetime | None) -> str:
    """``2026-05-30 14:02Z``; ``-`` for None."""
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def when_s(value: datetime | None) -> str:
    """``2026-05-30 14:02:07Z`` (to the second, for steps); ``-`` for None."""
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def step_word(status: str) -> str:
    """A step's status for people: ``timed out``, ``succeeded``, …"""
    return status.replace("_", " ")


def age(seconds: float | None) -> str:
    """``3d`` / ``5h`` / ``12m``: a rounded age; ``-`` for None."""
    if seconds is None:
        return "-"
    days = seconds / 86400
    if days >= 1:
        return f"{days:.0f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f}h"
    return format_duration(round(seconds))


def met_word(met: bool | None) -> str:
    """``met``, ``missed``, or ``not measured``."""
    return "not measured" if met is None else ("met" if met else "missed")


def against(measured: float | None, target: float) -> str:
    """``12s / 30s``: measured against target."""
    return f"{format_duration(measured)} / {format_duration(target)}"


def outcome_word(evidence: Evidence) -> str:
    """``met``, ``missed``, ``RPO unknown``, ``aborted`` or ``not recovered``."""
    if evidence.outcome == "unknown":
        return "RPO unknown"
    return evidence.outcome.replace("_", " ")


def rpo_against(evidence: Evidence) -> str:
    """``20m / 1h``; ``not applicable`` (nothing stateful, RPO 0s); ``unknown / 1h``."""
    if evidence.measured_rpo_s is None and evidence.recovered and not evidence.rpo_failed:
        if evidence.rpo == "not_applicable":
            return "not applicable"
        return f"unknown / {format_duration(evidence.target_rpo_s)}"
    return against(evidence.measured_rpo_s, evidence.target_rpo_s)


def rpo_word(evidence: Evidence) -> str:
    """``met``, ``missed``, ``not applicable``, ``unknown`` or ``not measured``."""
    if not evidence.recovered:
        return "not measured"
    return evidence.rpo.replace("_", " ")


def evidence_name(evidence: Evidence) -> str:
    """``drill #12``, ``incident inc-…`` or ``manual incident inc-…``."""
    if evidence.source == "drill":
        return f"drill #{evidence.ref}"
    return f"{'manual ' if evidence.manual else ''}incident {evidence.ref}"


def evidence_facts(evidence: Evidence) -> str:
    """Which item, when, RTO and RPO against the targets."""
    rto = f"RTO {against(evidence.measured_rto_s, evidence.target_rto_s)}"
    rpo = f"RPO {rpo_against(evidence)}"
    note = f" ({evidence.note})" if evidence.note else ""
    return f"{evidence_name(evidence)}{note} on {when(evidence.at)}: {rto}, {rpo}"


def evidence_line(evidence: Evidence) -> str:
    """One line: the facts of ``evidence_facts`` and the outcome."""
    return f"{evidence_facts(evidence)}: {outcome_word(evidence)}"


def plural(n: int, what: str) -> str:
    """``1 gap``, ``2 gaps``."""
    return f"{n} {what}{'' if n == 1 else 's'}"
