"""Fakes for tests: a notifier that keeps its notices, and a sender that can be told to fail.

``RecordingNotifier`` stands in for ``Notifier`` in other parts' unit tests (same
``notify``/``drain``/``aclose``). ``RecordingSender`` stands in for ``AppriseSender`` under a
real ``Notifier``; both senders pass the same contract test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence

from paramedic.catalog.model import Event, NotifyRoute
from paramedic.notify.notice import Notice
from paramedic.notify.routing import routes_for
from paramedic.notify.sender import DeliveryError


class RecordingNotifier:
    """Keeps every notice it is given; optionally knows the routes, to say who would get what."""

    def __init__(self, routes: Sequence[NotifyRoute] = ()) -> None:
        self.routes = list(routes)
        self.notices: list[Notice] = []
        self.closed = False

    async def notify(self, notice: Notice) -> None:
        """Keep ``notice`` (notices given after ``aclose`` are dropped, as the real one does)."""
        if not self.closed:
            self.notices.append(notice)

    async def drain(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109
        """Nothing is ever in flight: True."""
        return True

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Mark closed."""
        self.closed = True

    def events(self, component: str | None = None) -> list[Event]:
        """The events notified so far, in order (of one component when given)."""
        return [n.event for n in self.notices if component is None or n.component == component]

    def routed_to(self, route_name: str) -> list[Notice]:
        """The notices the route named ``route_name`` would have been sent."""
        return [
            notice
            for notice in self.notices
            if any(route.name == route_name for route in routes_for(notice, self.routes))
        ]


class RecordingSender:
    """A Sender that keeps what it delivers and fails where told.

    ``failures`` maps a route name to how many first attempts fail; ``down`` lists routes
    whose every attempt fails; while ``hold`` is given and not set, sends wait for it.
    """

    def __init__(
        self,
        *,
        failures: Mapping[str, int] | None = None,
        down: Iterable[str] = (),
        hold: asyncio.Event | None = None,
    ) -> None:
        self._failures = dict(failures or {})
        self._down = set(down)
        self._hold = hold
        self.attempts: list[tuple[str, Notice]] = []
        self.sent: list[tuple[str, Notice]] = []

    async def send(self, route: NotifyRoute, notice: Notice) -> None:
        """Record the attempt; raise DeliveryError if this route is down or has failures left."""
        self.attempts.append((route.name, notice))
        if self._hold is not None:
            await self._hold.wait()
        if route.name in self._down:
            raise DeliveryError(route, "the channel is down (fake)")
        left = self._failures.get(route.name, 0)
        if left > 0:
            self._failures[route.name] = left - 1
            raise DeliveryError(route, "refused (fake)")
        self.sent.append((route.name, notice))

    def sent_to(self, route_name: str) -> list[Notice]:
        """Notices delivered to the route named ``route_name``, in order."""
        return [notice for name, notice in self.sent if name == route_name]
