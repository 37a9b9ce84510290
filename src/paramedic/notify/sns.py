"""The ``sns://TOPIC`` notification route: publish the notice's JSON to an SNS topic.

``TOPIC`` is a topic ARN (``sns://arn:aws:sns:eu-west-1:123456789012:paramedic``) or a
name (``sns://paramedic``), looked up with ``ListTopics`` in the catalog's region and
account (``aws:`` of the catalog). The message is ``Notice.to_json()``; ``Subject`` is
the notice's title (ASCII, at most 100 characters, as SNS requires); the message
attributes ``event`` and ``component`` let subscriptions filter.

This scheme shadows Apprise's own ``sns://`` plugin (which sends a text to phone numbers
or topics with keys written in the URL): in a paramedic catalog ``sns://`` always means
this route, with the credentials boto3 finds.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from paramedic.catalog.aws import AwsSettings
from paramedic.catalog.model import NotifyRoute
from paramedic.errors import ParamedicError
from paramedic.notify.notice import Notice
from paramedic.notify.sender import DeliveryError
from paramedic.providers.aws import session

IAM_ACTIONS: dict[str, tuple[str, ...]] = {"notify:sns": ("sns:Publish", "sns:ListTopics")}
"""Feature -> the IAM actions it calls (ListTopics only when a route names a topic by name)."""

SCHEME = "sns://"
_SUBJECT_MAX = 100


def is_sns_route(route: NotifyRoute) -> bool:
    """True when ``route`` publishes to SNS (its URL starts with ``sns://``)."""
    return route.url.lower().startswith(SCHEME)


def topic_of(route: NotifyRoute) -> str:
    """The topic ARN or name of an ``sns://`` route; ParamedicError naming the route when empty."""
    topic = route.url[len(SCHEME) :].strip().rstrip("/")
    if not topic or "/" in topic or " " in topic:
        raise ParamedicError(
            f"notify route {route.name!r}: {route.url!r} names no SNS topic; "
            "write sns://TOPIC_NAME or sns://arn:aws:sns:REGION:ACCOUNT:TOPIC_NAME"
        )
    return topic


def subject_for(title: str) -> str:
    """``title`` as an SNS Subject: printable ASCII, one line, at most 100 characters."""
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in " ".join(title.split()))
    if len(text) > _SUBJECT_MAX:
        text = text[: _SUBJECT_MAX - 3] + "..."
    return text or "paramedic"


class SnsSender:
    """Publishes notices to the SNS topics of ``sns://`` routes, with the catalog's AWS settings."""

    def __init__(self, routes: Sequence[NotifyRoute], *, aws: AwsSettings | None = None) -> None:
        self._settings = aws if aws is not None else AwsSettings()
        self._topics = {route.name: topic_of(route) for route in routes if is_sns_route(route)}
        self._arns: dict[str, str] = {}
        self._lock = threading.Lock()

    async def send(self, route: NotifyRoute, notice: Notice) -> None:
        """Publish ``notice`` once; DeliveryError with AWS's reason when it was refused."""
        topic = self._topics.get(route.name)
        if topic is None:
            raise DeliveryError(route, "not among the sns:// routes this sender was built with")
        attributes: dict[str, Any] = {
            "event": {"DataType": "String", "StringValue": notice.event.value},
            "component": {"DataType": "String", "StringValue": notice.component},
        }
        try:
            sns = session.client(self._settings, "sns")  # a missing profile or region: AwsError
            arn = await self._arn(sns, topic)
            await session.call(
                sns,
                "Publish",
                arn,
                TopicArn=arn,
                Message=notice.to_json(),
                Subject=subject_for(notice.title),
                MessageAttributes=attributes,
            )
        except ParamedicError as exc:
            raise DeliveryError(route, str(exc)) from exc

    async def _arn(self, sns: Any, topic: str) -> str:
        """``topic`` itself when it is an ARN, else the ARN of the topic of that name (cached)."""
        if topic.startswith("arn:"):
            return topic
        with self._lock:
            known = self._arns.get(topic)
        if known is not None:
            return known
        token: str | None = None
        while True:
            page = await session.call(
                sns, "ListTopics", topic, **({"NextToken": token} if token else {})
            )
            for entry in page.get("Topics", []):
                arn = str(entry.get("TopicArn", ""))
                if arn.rsplit(":", 1)[-1] == topic:
                    with self._lock:
                        self._arns[topic] = arn
                    return arn
            token = page.get("NextToken")
            if not token:
                break
        where = self._settings.region or "the default region"
        raise ParamedicError(
            f"no SNS topic named {topic!r} in {where}; create it or give its ARN in the route"
        )
