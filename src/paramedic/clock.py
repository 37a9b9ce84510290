"""Time, injected: the real clock for the agent, a fake one for tests and simulations.

Two readings are kept apart on purpose: ``now()`` is wall time (UTC, aware)
for what is recorded and shown; ``monotonic()`` is for measuring intervals
and scheduling, and never jumps when the wall clock is set.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of time that code asks instead of calling ``time`` directly."""

    def now(self) -> datetime:
        """Wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def since_boot(self) -> float:
        """Seconds since boot, counting time the machine was suspended (a lease's age does)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock advances instead)."""
        ...


class RealClock:
    """The system's clocks."""

    def now(self) -> datetime:
        """Wall time, UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def since_boot(self) -> float:
        """``CLOCK_BOOTTIME``: unlike ``time.monotonic()`` it keeps counting through a suspend."""
        return time.clock_gettime(time.CLOCK_BOOTTIME)

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to; ``sleep`` advances it at once."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        """The fake wall time."""
        return self._now

    def monotonic(self) -> float:
        """The fake monotonic reading."""
        return self._mono

    def since_boot(self) -> float:
        """The fake monotonic reading (a fake machine never suspends)."""
        return self._mono

    def advance(self, seconds: float | timedelta) -> None:
        """Move both readings forward."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if step < 0:
            raise ValueError("a clock does not go backwards")
        self._now += timedelta(seconds=step)
        self._mono += step

    async def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` and yield to the loop once."""
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
