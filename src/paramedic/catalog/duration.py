"""Durations as the catalog writes them: ``500ms``, ``2s``, ``5m``, ``1h``, ``7d``, or ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"
DURATION_MESSAGE = "must be a duration like 2s (units: ms, s, m, h, d, w)"
MAX_DURATION = timedelta(days=36500)
"""The longest duration paramedic accepts: about 100 years, far past any RTO, pause or window
(and well inside what ``timedelta`` and dates can hold, so arithmetic on it cannot overflow)."""
TOO_LARGE_MESSAGE = "is too large: a duration is at most 100 years (36500d)"


def parse_duration(text: str) -> timedelta:
    """Parse ``"1h30m"`` into a timedelta; raise ValueError with the catalog's message."""
    compact = text.strip().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(DURATION_MESSAGE)
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))
    if not seconds <= MAX_DURATION.total_seconds():  # also catches inf from 400 digits
        raise ValueError(TOO_LARGE_MESSAGE)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float | None) -> str:
    """Render a duration the way the catalog writes it (``90s`` → ``1m30s``); ``-`` for None."""
    if value is None:
        return "-"
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if total < 0:
        return "-" + format_duration(-total)
    if total < 1 and total != 0:
        return f"{round(total * 1000)}ms"
    if total < 60 and total != int(total):
        return f"{total:.1f}s"
    rest = round(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


def _coerce(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(DURATION_MESSAGE)


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["500ms", "2s", "5m"]}
    ),
]
"""A catalog duration: a string like ``2s`` in YAML, a ``timedelta`` in code."""
