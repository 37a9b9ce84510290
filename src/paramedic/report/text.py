"""The words and figures every rendering of the report shares (terminal, HTML, Markdown)."""

from __future__ import annotations

from datetime import UTC, datetime

from paramedic.catalog.duration import format_duration
from paramedic.drills.score import Evidence


def when(value: datetime | None) -> str:
    """``2026-05-30 14:02Z``; ``-`` for None."""
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


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
    """``met``, ``missed``, ``aborted`` or ``not recovered``."""
    return evidence.outcome.replace("_", " ")


def evidence_name(evidence: Evidence) -> str:
    """``drill #12`` or ``incident inc-…``."""
    return f"drill #{evidence.ref}" if evidence.source == "drill" else f"incident {evidence.ref}"


def evidence_facts(evidence: Evidence) -> str:
    """Which item, when, RTO and RPO against the targets."""
    rto = f"RTO {against(evidence.measured_rto_s, evidence.target_rto_s)}"
    rpo = f"RPO {against(evidence.measured_rpo_s, evidence.target_rpo_s)}"
    note = f" ({evidence.note})" if evidence.note else ""
    return f"{evidence_name(evidence)}{note} on {when(evidence.at)}: {rto}, {rpo}"


def evidence_line(evidence: Evidence) -> str:
    """One line: the facts of ``evidence_facts`` and the outcome."""
    return f"{evidence_facts(evidence)}: {outcome_word(evidence)}"


def plural(n: int, what: str) -> str:
    """``1 gap``, ``2 gaps``."""
    return f"{n} {what}{'' if n == 1 else 's'}"
