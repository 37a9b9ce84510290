"""Notifications: route each notice to the catalog's Apprise URLs (or SNS topics), deliver in the background.

    notice = Notice(Event.failure_detected, "web", incident_id, title_for(...), payload)
    notifier = Notifier(catalog.notify, clock=RealClock(), record=store.add_notification, aws=catalog.aws)
    await notifier.notify(notice)     # returns at once; delivery, retries and records follow
    await notifier.aclose()           # at shutdown

Routing rules are in ``paramedic.notify.routing``; the fakes for tests in ``.fake``.
"""

from paramedic.notify.fake import RecordingNotifier, RecordingSender
from paramedic.notify.notice import DeliveryStatus, Notice, NotificationRecord, title_for
from paramedic.notify.notifier import Notifier, NotifierLike
from paramedic.notify.routing import LADDER_EVENTS, routes_for, skip_reason
from paramedic.notify.sender import (
    AppriseSender,
    DeliveryError,
    RoutedSender,
    Sender,
    validate_routes,
)

__all__ = [
    "LADDER_EVENTS",
    "AppriseSender",
    "DeliveryError",
    "DeliveryStatus",
    "Notice",
    "NotificationRecord",
    "Notifier",
    "NotifierLike",
    "RecordingNotifier",
    "RecordingSender",
    "RoutedSender",
    "Sender",
    "routes_for",
    "skip_reason",
    "title_for",
    "validate_routes",
]
