"""Restore throughput measured in real restores, and the RTO it forecasts for today's data.

A measurement is a ``restore_from_backup`` step that succeeded in an incident
(a drill's or a real one) whose recovery point is known: the point used is
the component's newest recovery point taken at or before the incident's
``recovery_point_at`` (for a point-in-time restore, the base backup the WAL
was replayed on). With its size known, throughput = size / step duration
(the step includes the provider's own verification, as the RTO does).

The forecast scales the restore to the newest recovery point's size at the
median throughput, and keeps the rest of the measured recovery (detection,
earlier strategies, verification) at its median:

    forecast RTO = median(measured RTO − restore step) + newest size / median throughput
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from paramedic.catalog.duration import format_duration
from paramedic.store import IncidentRow, RecoveryPointRow, StepRow, StepStatus, iso_utc

RESTORE = "restore_from_backup"
_SLACK = timedelta(seconds=1)
"""Clock skew allowed between a point's recorded time and the restore's ``recovery_point_at``."""


def format_bytes(size: float) -> str:
    """``1.5 GiB``: binary units, one decimal past bytes."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class RestoreMeasurement:
    """One restore that ran, with the size of the point it restored and how long it took."""

    incident_id: str
    at: datetime
    """When the restore step started."""
    point_id: int
    point_taken_at: datetime
    size_bytes: int
    duration_s: float
    rest_s: float | None
    """The incident's measured RTO minus the restore step: detection, earlier steps."""

    @property
    def bytes_per_s(self) -> float:
        """Throughput of this restore."""
        return self.size_bytes / self.duration_s

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this measurement."""
        return {
            "incident_id": self.incident_id,
            "at": iso_utc(self.at),
            "point_id": self.point_id,
            "point_taken_at": iso_utc(self.point_taken_at),
            "size_bytes": self.size_bytes,
            "duration_s": self.duration_s,
            "bytes_per_s": self.bytes_per_s,
            "rest_s": self.rest_s,
        }


def _point_used(at: datetime, points: Sequence[RecoveryPointRow]) -> RecoveryPointRow | None:
    candidates = [p for p in points if p.taken_at <= at + _SLACK]
    return max(candidates, key=lambda p: (p.taken_at, p.id), default=None)


def restore_measurements(
    incident: IncidentRow, steps: Sequence[StepRow], points: Sequence[RecoveryPointRow]
) -> list[RestoreMeasurement]:
    """The measurable restores of one incident (at most one in practice)."""
    if incident.recovery_point_at is None:
        return []
    point = _point_used(incident.recovery_point_at, points)
    if point is None or not point.size_bytes:
        return []
    found = []
    for step in steps:
        if (
            step.strategy != RESTORE
            or step.dry_run
            or step.status != StepStatus.succeeded
            or not step.duration_s
        ):
            continue
        rest = None
        if incident.measured_rto_s is not None:
            rest = max(0.0, incident.measured_rto_s - step.duration_s)
        found.append(
            RestoreMeasurement(
                incident.id,
                step.started_at,
                point.id,
                point.taken_at,
                point.size_bytes,
                step.duration_s,
                rest,
            )
        )
    return found


@dataclass(frozen=True)
class RestoreForecast:
    """The RTO a restore of today's newest recovery point would take at the measured throughput."""

    size_bytes: int
    point_taken_at: datetime
    bytes_per_s: float
    restore_s: float
    rest_s: float
    rto_s: float
    target_rto_s: float
    measurements: int

    @property
    def within(self) -> bool:
        """True when the forecast RTO is within the objective."""
        return self.rto_s <= self.target_rto_s

    def reason(self) -> str:
        """One line with the figures."""
        verdict = "within" if self.within else "over"
        return (
            f"restoring the newest point ({format_bytes(self.size_bytes)}) at"
            f" {format_bytes(self.bytes_per_s)}/s takes {format_duration(self.restore_s)};"
            f" + {format_duration(self.rest_s)} of detection and earlier steps"
            f" = {format_duration(self.rto_s)}, {verdict} the RTO of"
            f" {format_duration(self.target_rto_s)}"
            f" (from {self.measurements} restore{'s' if self.measurements != 1 else ''})"
        )

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this forecast."""
        return {
            "size_bytes": self.size_bytes,
            "point_taken_at": iso_utc(self.point_taken_at),
            "bytes_per_s": self.bytes_per_s,
            "restore_s": self.restore_s,
            "rest_s": self.rest_s,
            "rto_s": self.rto_s,
            "target_rto_s": self.target_rto_s,
            "within": self.within,
            "measurements": self.measurements,
            "reason": self.reason(),
        }


def forecast(
    measurements: Sequence[RestoreMeasurement],
    newest: RecoveryPointRow | None,
    target_rto_s: float,
) -> RestoreForecast | None:
    """The forecast for ``newest`` (see the module doc); None without a measurement or a size."""
    if not measurements or newest is None or not newest.size_bytes:
        return None
    throughput = statistics.median(m.bytes_per_s for m in measurements)
    rests = [m.rest_s for m in measurements if m.rest_s is not None]
    rest = statistics.median(rests) if rests else 0.0
    restore = newest.size_bytes / throughput
    return RestoreForecast(
        size_bytes=newest.size_bytes,
        point_taken_at=newest.taken_at,
        bytes_per_s=throughput,
        restore_s=restore,
        rest_s=rest,
        rto_s=rest + restore,
        target_rto_s=target_rto_s,
        measurements=len(measurements),
    )
