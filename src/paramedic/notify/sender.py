"""Delivering one notice to one route: the ``Sender`` contract and its Apprise implementation.

The body sent is ``Notice.to_json()``. Channels wrap it their own way; Apprise's ``json://``
plugin, for one, POSTs ``{"version": "1.0", "title": ..., "message": BODY, "attachments": [],
"type": "info|success|warning|failure"}``, so our JSON arrives as the *string* in ``message``;
``form://`` and ``xml://`` carry it in their ``message`` field the same way.

``sns://TOPIC`` routes do not go through Apprise: ``RoutedSender`` hands them to
``paramedic.notify.sns.SnsSender`` (boto3, the catalog's ``aws:`` settings) and every other
route to ``AppriseSender``. Apprise itself (~20 MB of plugins) is imported only when a
route needs it, so a catalog without Apprise routes never loads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from paramedic.catalog.model import Event, NotifyRoute
from paramedic.errors import ParamedicError
from paramedic.notify.notice import Notice
from paramedic.notify.redaction import scrub, shown_url
from paramedic.notify.routing import require_unique_names

if TYPE_CHECKING:
    from paramedic.catalog.aws import AwsSettings

_FAILURE_EVENTS = frozenset(
    {
        Event.failure_detected,
        Event.recovery_failed,
        Event.escalated,
        Event.verification_failed,
        Event.backup_failed,
    }
)
_WARNING_EVENTS = frozenset({Event.blocked, Event.approval_needed, Event.rpo_at_risk})
_SUCCESS_EVENTS = frozenset({Event.recovery_succeeded})


class DeliveryError(ParamedicError):
    """A channel could not be reached or refused a notice; the message names the route.

    ``reason`` is the message without the route, for records that already name it.
    """

    def __init__(self, route: NotifyRoute, reason: str) -> None:
        self.route_name = route.name
        self.reason = reason
        super().__init__(f"notify route {route.name!r} ({shown_url(route.url)}): {reason}")


class Sender(Protocol):
    """Delivers one notice to one route, once; retrying is the caller's business."""

    async def send(self, route: NotifyRoute, notice: Notice) -> None:
        """Deliver ``notice`` through ``route``; raise (DeliveryError) when it was not delivered.

        The error message must not contain the route URL's secrets.
        """
        ...


def notify_type(event: Event) -> str:
    """Apprise's notification type for ``event``: failure, warning, success or info."""
    import apprise

    if event in _FAILURE_EVENTS:
        return str(apprise.NotifyType.FAILURE.value)
    if event in _WARNING_EVENTS:
        return str(apprise.NotifyType.WARNING.value)
    if event in _SUCCESS_EVENTS:
        return str(apprise.NotifyType.SUCCESS.value)
    return str(apprise.NotifyType.INFO.value)


def _apprise_for(route: NotifyRoute) -> Any:
    """One Apprise object for ``route``; ParamedicError naming the route if the URL is unusable."""
    import apprise

    scheme = route.url.partition("://")[0].lower() if "://" in route.url else ""
    instance = apprise.Apprise()
    plugins: Any = apprise.NotificationManager  # a singleton holding every loaded plugin
    if scheme and scheme not in plugins():
        reason = f"unknown scheme {scheme}://"
    elif instance.add(route.url) and len(instance) > 0:
        return instance
    else:
        reason = "it cannot parse it or a required field is missing"
    raise ParamedicError(
        f"notify route {route.name!r}: Apprise cannot use this URL ({shown_url(route.url)}): "
        f"{reason}; fix notify[].url (see https://github.com/caronc/apprise/wiki)"
    )


def validate_routes(routes: Sequence[NotifyRoute]) -> None:
    """Raise ParamedicError (one line) at the first route Apprise cannot use or a repeated name."""
    from paramedic.notify.sns import is_sns_route, topic_of

    require_unique_names(routes)
    for route in routes:
        if is_sns_route(route):
            topic_of(route)
        else:
            _apprise_for(route)


class AppriseSender:
    """Sends through Apprise: one Apprise object per route, built (and checked) at construction."""

    def __init__(self, routes: Sequence[NotifyRoute], *, timeout: float = 30.0) -> None:
        require_unique_names(routes)
        self._apprise = {route.name: _apprise_for(route) for route in routes}
        self._timeout = timeout

    async def send(self, route: NotifyRoute, notice: Notice) -> None:
        """Deliver once; DeliveryError with Apprise's own explanation when it reports failure."""
        import apprise

        instance = self._apprise.get(route.name)
        if instance is None:
            raise DeliveryError(route, "not among the routes this sender was built with")
        arguments: dict[str, Any] = {
            "body": notice.to_json(),
            "title": notice.title,
            "notify_type": notify_type(notice.event),
            "body_format": apprise.NotifyFormat.TEXT,
        }
        try:
            if hasattr(instance, "async_notify"):
                call = instance.async_notify(**arguments)
            else:  # older Apprise: the blocking call, in a thread
                call = asyncio.to_thread(instance.notify, **arguments)
            result = await asyncio.wait_for(call, self._timeout)
        except TimeoutError as exc:
            raise DeliveryError(route, f"no answer within {self._timeout:g}s") from exc
        try:
            if not result:
                detail = scrub(_failure_detail(result), route.url)
                raise DeliveryError(route, f"Apprise could not deliver: {detail}")
        finally:
            close = getattr(result, "close", None)
            if callable(close):
                close()


def _failure_detail(result: Any) -> str:
    """Apprise's warnings and errors for a failed call (newer Apprise keeps them on its result)."""
    logs = getattr(result, "logs", None)
    if not callable(logs):
        return "it returned False (its reason is in the 'apprise' log)"
    lines: list[str] = []
    for entry in logs():
        level = logging.getLevelName(str(entry.level).upper())
        if isinstance(level, int) and level >= logging.WARNING:
            message = " ".join(str(entry.message).split())
            if message not in lines:
                lines.append(message)
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    return "; ".join(lines) or f"status {status}, no reason given"


class RoutedSender:
    """Sends ``sns://`` routes through SNS (boto3) and every other route through Apprise."""

    def __init__(
        self,
        routes: Sequence[NotifyRoute],
        *,
        aws: AwsSettings | None = None,
        timeout: float = 30.0,
    ) -> None:
        from paramedic.notify.sns import SnsSender, is_sns_route

        require_unique_names(routes)
        sns_routes = [route for route in routes if is_sns_route(route)]
        self._sns_names = {route.name for route in sns_routes}
        self._sns = SnsSender(sns_routes, aws=aws)
        others = [route for route in routes if route.name not in self._sns_names]
        self._apprise = AppriseSender(others, timeout=timeout)

    async def send(self, route: NotifyRoute, notice: Notice) -> None:
        """Deliver once through the route's channel; DeliveryError when it was not delivered."""
        if route.name in self._sns_names:
            await self._sns.send(route, notice)
        else:
            await self._apprise.send(route, notice)
