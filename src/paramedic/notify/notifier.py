"""The Notifier: routes each notice and delivers it in the background, never blocking a recovery.

Each route a notice goes to is delivered by its own task, so one slow or failing channel
never holds up another. A failed attempt is retried ``retries`` times, waiting ``backoff``,
then twice that, and so on (``clock.sleep``); with the defaults, at most 4 attempts, 1 s,
2 s and 4 s apart. Every failed attempt is logged at WARNING with the route's name and
redacted URL, and every final outcome (sent or failed) goes to ``record``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from paramedic.catalog.model import NotifyRoute
from paramedic.clock import Clock
from paramedic.errors import ParamedicError
from paramedic.notify.notice import DeliveryStatus, Notice, NotificationRecord
from paramedic.notify.redaction import scrub, shown_url
from paramedic.notify.routing import require_unique_names, skip_reason
from paramedic.notify.sender import DeliveryError, RoutedSender, Sender

if TYPE_CHECKING:
    from paramedic.catalog.aws import AwsSettings

log = logging.getLogger("paramedic.notify")

CANCELLED = "cancelled before delivery: the notifier was closed"


class NotifierLike(Protocol):
    """What the agent and the recovery workflow need: Notifier and RecordingNotifier both fit."""

    async def notify(self, notice: Notice) -> None:
        """Hand ``notice`` over for delivery and return at once."""
        ...

    async def drain(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109
        """Wait up to ``timeout`` s for deliveries in flight; True when none is left."""
        ...

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Drain, then cancel what is still in flight; later notices are dropped."""
        ...


class Notifier:
    """Delivers notices to the catalog's routes in background tasks, with retries and records."""

    def __init__(
        self,
        routes: Sequence[NotifyRoute],
        *,
        clock: Clock,
        record: Callable[[NotificationRecord], None] | None = None,
        sender: Sender | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        aws: AwsSettings | None = None,
    ) -> None:
        """``aws``: the catalog's AWS settings, used by ``sns://`` routes (default: boto3's own)."""
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must not be negative")
        require_unique_names(routes)
        self._routes = list(routes)
        self._clock = clock
        self._record = record
        self._sender: Sender = sender if sender is not None else RoutedSender(self._routes, aws=aws)
        self._retries = retries
        self._backoff = backoff
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def in_flight(self) -> int:
        """Deliveries not finished yet."""
        return sum(1 for task in self._tasks if not task.done())

    async def notify(self, notice: Notice) -> None:
        """Start one background delivery per route that wants ``notice``; return at once."""
        if self._closed:
            log.warning(
                "notifier is closed: %s about %s not sent", notice.event.value, notice.component
            )
            return
        for route in self._routes:
            reason = skip_reason(route, notice)
            if reason is not None:
                log.debug("%s about %s: %s", notice.event.value, notice.component, reason)
                continue
            task = asyncio.create_task(
                self._deliver(route, notice), name=f"notify {route.name} {notice.event.value}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109
        """Wait up to ``timeout`` s for deliveries in flight; True when none is left."""
        pending = {task for task in self._tasks if not task.done()}
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=timeout)
        return not pending

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Refuse new notices, drain up to ``timeout`` s, cancel the rest (recorded as failed)."""
        self._closed = True
        await self.drain(timeout)
        leftovers = [task for task in self._tasks if not task.done()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    async def _deliver(self, route: NotifyRoute, notice: Notice) -> None:
        """Send with retries; record the final outcome; never raise (except cancellation)."""
        where = f"notify route {route.name!r} ({shown_url(route.url)})"
        attempts = 0
        try:
            while True:
                attempts += 1
                try:
                    await self._sender.send(route, notice)
                except Exception as exc:
                    error = scrub(_describe(exc), route.url)
                    if attempts > self._retries:
                        log.warning(
                            "%s: %s about %s not delivered after %d attempt%s: %s",
                            where,
                            notice.event.value,
                            notice.component,
                            attempts,
                            "" if attempts == 1 else "s",
                            error,
                        )
                        self._finish(route, notice, "failed", attempts, error)
                        return
                    delay = self._backoff * 2 ** (attempts - 1)
                    log.warning(
                        "%s: attempt %d for %s about %s failed, retrying in %gs: %s",
                        where,
                        attempts,
                        notice.event.value,
                        notice.component,
                        delay,
                        error,
                    )
                    await self._clock.sleep(delay)
                else:
                    log.info("%s: %s about %s sent", where, notice.event.value, notice.component)
                    self._finish(route, notice, "sent", attempts, None)
                    return
        except asyncio.CancelledError:
            log.warning(
                "%s: %s about %s: %s", where, notice.event.value, notice.component, CANCELLED
            )
            self._finish(route, notice, "failed", attempts, CANCELLED)
            raise

    def _finish(
        self,
        route: NotifyRoute,
        notice: Notice,
        status: DeliveryStatus,
        attempts: int,
        error: str | None,
    ) -> None:
        """Hand the outcome to ``record``; a failing recorder is logged, never raised."""
        if self._record is None:
            return
        outcome = NotificationRecord(
            route=route.name,
            event=notice.event,
            component=notice.component,
            incident_id=notice.incident_id,
            status=status,
            attempts=attempts,
            error=error,
            at=self._clock.now(),
        )
        try:
            self._record(outcome)
        except Exception as exc:
            log.warning(
                "notify route %r: could not record the %s outcome of %s: %s",
                route.name,
                status,
                notice.event.value,
                scrub(_describe(exc), route.url),
            )


def _describe(exc: BaseException) -> str:
    """One line about ``exc``: our own messages as they are, foreign ones with their type."""
    text = " ".join((exc.reason if isinstance(exc, DeliveryError) else str(exc)).split())
    if isinstance(exc, ParamedicError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
