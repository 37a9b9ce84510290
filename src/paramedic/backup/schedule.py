"""Pure timing of backups: when the next one is due, when to verify, how exposed the RPO is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

from paramedic.catalog.duration import format_duration

VERIFY_EVERY = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
AT_RISK_FRACTION = 0.8
"""``rpo_at_risk`` fires when the newest restorable data is older than this share of the RPO."""


def next_run(schedule: str, after: datetime) -> datetime:
    """The first time ``schedule`` (cron, evaluated in UTC) fires strictly after ``after``."""
    fire: datetime = croniter(schedule, after).get_next(datetime)
    return fire


def verify_due(verify: str, last_verified: datetime | None, now: datetime) -> bool:
    """Whether a scheduled verification (``daily``/``weekly``) is due; ``after_backup``/``never``: no."""
    every = VERIFY_EVERY.get(verify)
    if every is None:
        return False
    return last_verified is None or now - last_verified >= every


@dataclass(frozen=True)
class RpoExposure:
    """How old the newest restorable data is, against the RPO."""

    age_s: float | None
    rpo_s: float
    at_risk: bool
    breached: bool
    reason: str


def rpo_exposure(
    component: str, newest: datetime | None, rpo: timedelta, now: datetime
) -> RpoExposure:
    """Data written since ``newest`` would be lost now: warn at 80% of the RPO, breach past it."""
    rpo_s = rpo.total_seconds()
    if newest is None:
        return RpoExposure(
            None,
            rpo_s,
            True,
            True,
            f"{component} has no restorable point at all (RPO {format_duration(rpo)})",
        )
    age = max(0.0, (now - newest).total_seconds())
    breached = age > rpo_s
    at_risk = age > rpo_s * AT_RISK_FRACTION
    if breached:
        reason = f"{component}: newest restorable data is {format_duration(age)} old, past the RPO of {format_duration(rpo)}"
    elif at_risk:
        reason = (
            f"{component}: newest restorable data is {format_duration(age)} old, "
            f"{format_duration(rpo_s - age)} before the RPO of {format_duration(rpo)} is breached"
        )
    else:
        reason = f"{component}: newest restorable data is {format_duration(age)} old (RPO {format_duration(rpo)})"
    return RpoExposure(age, rpo_s, at_risk, breached, reason)
