"""Inline SVG charts of measured RTO and RPO over time against the objective, written by hand.

No plotting library: a chart is a small SVG string the HTML page embeds as
it is, so the page needs nothing but a browser. Each measured item is a
marker (a circle for a drill, a square for an incident; green when the
objective held, red when missed) with a ``<title>`` tooltip; items that
never recovered have no duration to plot, so they are red crosses on their
own "not recovered" row above the plot; the objective is a dashed line.
The time axis spans the evidence (padded, at least ``MIN_SPAN``) with round
ticks, the value axis is in seconds, minutes, hours or days as its range
asks, and both axes are titled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from paramedic.catalog.duration import format_duration
from paramedic.drills.score import Evidence
from paramedic.report.text import evidence_name, outcome_word, when

WIDTH, HEIGHT = 520, 276
LEFT, RIGHT = 72, 16
BAND_TOP, BAND_H = 28, 20
"""The "not recovered" row above the plot: an outcome with no duration has no height."""
TOP = BAND_TOP + BAND_H + 8
BOTTOM = 70
MET, MISSED, TARGET, LINE, GRID, INK, BAND = (
    "#15803d",
    "#b91c1c",
    "#b45309",
    "#94a3b8",
    "#e2e8f0",
    "#334155",
    "#fef2f2",
)

_STEPS: tuple[float, ...] = (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)
_STEPS += (3600, 7200, 14400, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
_UNITS: tuple[tuple[float, str], ...] = ((86400, "days"), (3600, "hours"), (60, "minutes"))
_MIN, _HOUR, _DAY = 60, 3600, 86400
_TIME_STEPS: tuple[int, ...] = (60, 2 * _MIN, 5 * _MIN, 10 * _MIN, 15 * _MIN, 30 * _MIN)
_TIME_STEPS += (_HOUR, 2 * _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR, _DAY, 2 * _DAY)
_TIME_STEPS += (7 * _DAY, 14 * _DAY, 28 * _DAY, 91 * _DAY, 182 * _DAY, 364 * _DAY)
_MAX_TIME_TICKS = 6
MIN_SPAN = timedelta(minutes=20)
"""The narrowest time axis: one incident sits in the middle of 20 minutes."""
PAD = 0.06
"""Share of the evidence's time span added on each side, so no marker sits on an edge."""


@dataclass(frozen=True)
class ChartPoint:
    """One item on a chart: when, the measured seconds (None: not recovered), and a tooltip."""

    at: datetime
    value_s: float | None
    met: bool | None
    drill: bool
    tooltip: str


def points_of(evidence: Sequence[Evidence], objective: str) -> list[ChartPoint]:
    """The chart points of ``objective`` (``rto`` or ``rpo``); unmeasured RPOs of recoveries are left out."""
    found = []
    for e in evidence:
        measured = e.measured_rto_s if objective == "rto" else e.measured_rpo_s
        target = e.target_rto_s if objective == "rto" else e.target_rpo_s
        failed = e.outcome in ("aborted", "not_recovered")
        if measured is None and not failed:
            continue
        met = None if failed or measured is None else measured <= target
        shown = "-" if failed else format_duration(measured)
        verdict = outcome_word(e) if failed else ("met" if met else "missed")
        tip = (
            f"{evidence_name(e)} · {when(e.at)} · {objective.upper()} {shown}"
            f" / {format_duration(target)} · {verdict}"
        )
        found.append(ChartPoint(e.at, None if failed else measured, met, e.source == "drill", tip))
    return sorted(found, key=lambda p: p.at)


def _step(top: float) -> float:
    return next((s for s in _STEPS if s * 4 >= top), math.ceil(top / 4))


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def value_unit(y_max: float) -> tuple[float, str]:
    """The unit of a value axis reaching ``y_max`` seconds: ``(seconds per unit, name)``."""
    return next(((size, name) for size, name in _UNITS if y_max >= 2 * size), (1.0, "seconds"))


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def time_axis(points: Sequence[ChartPoint]) -> tuple[datetime, datetime]:
    """The span of the time axis: the evidence's own span, padded by ``PAD`` on each side,
    and never narrower than ``MIN_SPAN`` (centred on the evidence)."""
    start, end = points[0].at, points[-1].at
    pad = (end - start) * PAD
    start, end = start - pad, end + pad
    short = MIN_SPAN - (end - start)
    if short > timedelta(0):
        start, end = start - short / 2, end + short / 2
    return start, end


def time_ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Round times between ``start`` and ``end`` (UTC midnights for day steps), labelled
    with no more than the axis needs: ``14:30`` within a day, ``05-31 14:00`` across days,
    ``05-31`` for day steps."""
    total = (end - start).total_seconds()
    step = next((s for s in _TIME_STEPS if total / s <= _MAX_TIME_TICKS), _TIME_STEPS[-1])
    one_day = start.astimezone(UTC).date() == end.astimezone(UTC).date()
    fmt = "%m-%d" if step >= _DAY else "%H:%M" if one_day else "%m-%d %H:%M"
    tick = math.ceil(start.timestamp() / step) * step
    found = []
    while tick <= end.timestamp():
        at = datetime.fromtimestamp(tick, UTC)
        found.append((at, at.strftime(fmt)))
        tick += step
    return found


def time_title(start: datetime, end: datetime) -> str:
    """The time axis' title: ``time (UTC, 2026-05-31)`` when it lies within one day."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return f"time (UTC, {first.isoformat()})" if first == last else "time (UTC)"


def duration_chart(title: str, points: Sequence[ChartPoint], target_s: float) -> str:
    """An SVG chart of ``points`` over time with ``target_s`` as a dashed line, the outcomes
    that never recovered on their own row above the plot, both axes titled with units."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [p.value_s for p in points if p.value_s is not None]
    step = _step(max([target_s * 1.25, *(v * 1.1 for v in values), 1.0]))
    y_max = step * 4
    unit, unit_name = value_unit(y_max)
    measure = title.rsplit(": ", 1)[-1]

    def y(seconds: float) -> float:
        return TOP + plot_h - plot_h * min(seconds, y_max) / y_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="18" class="title" font-weight="600" fill="{INK}">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{BAND_TOP}" width="{plot_w}" height="{BAND_H}" fill="{BAND}"'
        f' stroke="{GRID}" class="band"/>'
        # two short lines fit the left margin where one long one would be cut off
        f'<text x="{LEFT - 6}" y="{BAND_TOP + 8}" text-anchor="end" fill="{MISSED}"'
        f' font-size="9.5" class="band-label">not<tspan x="{LEFT - 6}" dy="10">recovered</tspan>'
        "</text>",
        f'<text x="14" y="{_f(TOP + plot_h / 2)}" text-anchor="middle" fill="{INK}"'
        f' transform="rotate(-90 14 {_f(TOP + plot_h / 2)})" class="axis-title">'
        f"{escape(measure)} ({unit_name})</text>",
        _legend(),
    ]
    for i in range(5):
        seconds = step * i
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_f(y(seconds))}" y2="{_f(y(seconds))}"'
            f' stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{_f(y(seconds) + 4)}" text-anchor="end" fill="{INK}">'
            f"{_number(seconds / unit)}</text>"
        )
    ty = _f(y(target_s))
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty}" y2="{ty}" stroke="{TARGET}"'
        f' stroke-width="1.5" stroke-dasharray="6 4"><title>target {escape(format_duration(target_s))}</title></line>'
        f'<text x="{LEFT + plot_w}" y="{_f(y(target_s) - 5)}" text-anchor="end" fill="{TARGET}"'
        f' stroke="#fff" stroke-width="3" paint-order="stroke">'
        f"target {escape(format_duration(target_s))}</text>"
    )
    bottom = TOP + plot_h
    if not points:
        # a white halo keeps the words readable where the target line crosses them
        parts.append(
            f'<text x="{LEFT + plot_w / 2}" y="{_f(TOP + plot_h * 0.7)}" text-anchor="middle"'
            f' fill="{INK}" stroke="#fff" stroke-width="4" paint-order="stroke">'
            "no measurement yet</text>"
        )
        axis = "time (UTC)"
    else:
        start, end = time_axis(points)
        parts.extend(_series(points, y, start, end, plot_w))
        axis = time_title(start, end)
    parts.append(
        f'<text x="{_f(LEFT + plot_w / 2)}" y="{bottom + 33}" text-anchor="middle" fill="{INK}"'
        f' class="axis-title">{escape(axis)}</text>'
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="{INK}"/>'
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{bottom}" y2="{bottom}" stroke="{INK}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    y = HEIGHT - 8
    return (
        f'<g class="legend" fill="{INK}">'
        f'<circle cx="{LEFT + 4}" cy="{y - 4}" r="4" fill="{LINE}"/>'
        f'<text x="{LEFT + 12}" y="{y}">drill</text>'
        f'<rect x="{LEFT + 46}" y="{y - 8}" width="8" height="8" fill="{LINE}"/>'
        f'<text x="{LEFT + 58}" y="{y}">incident</text>'
        f'<circle cx="{LEFT + 120}" cy="{y - 4}" r="4" fill="{MET}"/>'
        f'<text x="{LEFT + 128}" y="{y}">met</text>'
        f'<circle cx="{LEFT + 162}" cy="{y - 4}" r="4" fill="{MISSED}"/>'
        f'<text x="{LEFT + 170}" y="{y}">missed</text>'
        f'<text x="{LEFT + 222}" y="{y + 1}" fill="{MISSED}" font-weight="700">×</text>'
        f'<text x="{LEFT + 234}" y="{y}">not recovered</text>'
        f'<line x1="{LEFT + 322}" x2="{LEFT + 346}" y1="{y - 4}" y2="{y - 4}" stroke="{TARGET}"'
        ' stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{LEFT + 352}" y="{y}">objective</text>'
        "</g>"
    )


def _series(
    points: Sequence[ChartPoint],
    y: Callable[[float], float],
    start: datetime,
    end: datetime,
    plot_w: float,
) -> list[str]:
    total = (end - start).total_seconds()

    def x(at: datetime) -> float:
        return LEFT + plot_w * (at - start).total_seconds() / total

    parts = []
    bottom = HEIGHT - BOTTOM
    for at, label in time_ticks(start, end):
        parts.append(
            f'<line x1="{_f(x(at))}" x2="{_f(x(at))}" y1="{bottom}" y2="{bottom + 4}"'
            f' stroke="{INK}"/>'
            f'<text x="{_f(x(at))}" y="{bottom + 17}" text-anchor="middle" fill="{INK}">'
            f"{label}</text>"
        )
    measured = [(p.at, p.value_s) for p in points if p.value_s is not None]
    if len(measured) > 1:
        line = " ".join(f"{_f(x(at))},{_f(y(value))}" for at, value in measured)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="1.2"/>')
    for p in points:
        tip = f"<title>{escape(p.tooltip)}</title>"
        px = _f(x(p.at))
        if p.value_s is None:
            parts.append(
                f'<text x="{px}" y="{BAND_TOP + BAND_H / 2 + 5:g}" text-anchor="middle"'
                f' fill="{MISSED}" font-weight="700" font-size="14" class="cross">×{tip}</text>'
            )
            continue
        color = MET if p.met else MISSED
        py = y(p.value_s)
        if p.drill:
            parts.append(f'<circle cx="{px}" cy="{_f(py)}" r="4.5" fill="{color}">{tip}</circle>')
        else:
            parts.append(
                f'<rect x="{_f(x(p.at) - 4)}" y="{_f(py - 4)}" width="8" height="8"'
                f' fill="{color}">{tip}</rect>'
            )
    return parts
