"""The in-process fan-out of decision lines: what ``GET /api/v1/events`` streams.

The agent publishes every decision line; each subscriber (an SSE connection)
gets its own bounded queue, so a slow reader loses its oldest lines (and is told
how many) instead of growing memory or slowing the agent. Publishing never
blocks and never waits for a reader.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 1000
"""Lines kept per subscriber before its oldest are dropped."""


@dataclass(eq=False)
class Subscription:
    """One reader's queue; ``dropped`` counts lines it lost to being slow."""

    queue: asyncio.Queue[dict[str, Any] | None]
    dropped: int = 0
    closed: bool = field(default=False)


class EventHub:
    """Decision lines fanned out to every current subscriber."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop the subscribers live on (lines from other threads hop onto it)."""
        self._loop = loop
        self._thread = threading.get_ident()

    @property
    def subscribers(self) -> int:
        """How many readers are connected."""
        return len(self._subscribers)

    def publish(self, record: dict[str, Any]) -> None:
        """Hand ``record`` to every subscriber; safe from any thread, never blocks."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._fan_out, record)
            return
        self._fan_out(record)

    def _fan_out(self, record: dict[str, Any]) -> None:
        self.published += 1
        for sub in list(self._subscribers):
            if sub.queue.qsize() >= self._queue_size:
                sub.queue.get_nowait()  # the oldest goes: a slow reader never slows the agent
                sub.dropped += 1
            sub.queue.put_nowait(record)

    def subscribe(self) -> Subscription:
        """A new reader's queue (call from the event loop)."""
        # one place more than the lines kept: room for the end-of-stream mark
        sub = Subscription(asyncio.Queue(maxsize=self._queue_size + 1))
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a reader (its connection closed)."""
        self._subscribers.discard(sub)

    def close(self) -> None:
        """End every stream (the agent is stopping)."""
        for sub in list(self._subscribers):
            sub.closed = True
            sub.queue.put_nowait(None)
        self._subscribers.clear()

    async def follow(
        self, sub: Subscription, heartbeat_s: float = 15.0
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Yield the subscriber's records as they come; None every ``heartbeat_s`` of silence.

        Ends when the hub closes; the caller unsubscribes when the reader goes away.
        """
        while True:
            try:
                record = await asyncio.wait_for(sub.queue.get(), heartbeat_s)
            except TimeoutError:
                yield None
                continue
            if record is None:
                return
            if sub.dropped:
                lost, sub.dropped = sub.dropped, 0
                yield {"decision": "events_dropped", "component": "-", "dropped": lost}
            yield record
