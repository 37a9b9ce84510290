"""Drill windows: ``"Sat 02:00-04:00"``, ``"Mon-Fri 01:00-05:00"``, ``"daily 02:00-03:00"``.

A window is a set of week days and a span of wall-clock time, read in the agent's local
time. A span whose end is not after its start crosses midnight: ``"Sat 23:00-01:00"`` opens
on Saturday at 23:00 and closes on Sunday at 01:00. Days may be listed (``"Sat,Sun"``) or
ranged (``"Fri-Mon"`` wraps over the week end); ``24:00`` is accepted as an end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FORMAT_HINT = "must be like 'Sat 02:00-04:00', 'Mon-Fri 01:00-05:00' or 'daily 02:00-03:00'"
_SHAPE = re.compile(
    r"^\s*(?P<days>\S+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(word: str) -> int:
    key = word.strip().lower()
    for index, (short, full) in enumerate(zip(DAYS, _FULL, strict=True)):
        if key in (short, full):
            return index
    raise ValueError(f"unknown day {word.strip()!r}; {FORMAT_HINT}")


def _days(text: str) -> frozenset[int]:
    if text.lower() == "daily":
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if not dash:
            found.add(_day(first))
            continue
        start, end = _day(first), _day(last)
        span = (end - start) % 7
        found.update((start + offset) % 7 for offset in range(span + 1))
    return frozenset(found)


def _minutes(text: str, *, end: bool) -> int:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes)
    limit = 24 * 60 if end else 24 * 60 - 1
    if int(minutes) > 59 or value > limit:
        raise ValueError(f"{text!r} is not a time of day; {FORMAT_HINT}")
    return value


@dataclass(frozen=True)
class DrillWindow:
    """When drills may run: week days (0 = Monday) and a span of minutes after midnight."""

    text: str
    days: frozenset[int]
    start: int
    end: int

    @property
    def crosses_midnight(self) -> bool:
        """True when the span ends on the next day (``23:00-01:00``)."""
        return self.end < self.start

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (its wall-clock reading: pass local time) falls inside the window."""
        minute = moment.hour * 60 + moment.minute
        today = moment.weekday()
        if not self.crosses_midnight:
            return today in self.days and self.start <= minute < self.end
        yesterday = (today - 1) % 7
        return (today in self.days and minute >= self.start) or (
            yesterday in self.days and minute < self.end
        )


def parse_window(text: str) -> DrillWindow:
    """Read a window; ValueError with a one-line reason and the accepted forms."""
    match = _SHAPE.match(text)
    if match is None:
        raise ValueError(FORMAT_HINT)
    start = _minutes(match["start"], end=False)
    end = _minutes(match["end"], end=True)
    if start == end:
        raise ValueError(f"{text.strip()!r} is empty (it starts when it ends); {FORMAT_HINT}")
    return DrillWindow(text.strip(), _days(match["days"]), start, end)


def describe_moment(moment: datetime) -> str:
    """``Tue 14:03``: how a refusal shows the local time it was judged at."""
    return f"{DAYS[moment.weekday()].capitalize()} {moment:%H:%M}"


__all__ = ["FORMAT_HINT", "DrillWindow", "describe_moment", "parse_window"]
