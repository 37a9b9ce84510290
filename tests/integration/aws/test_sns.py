"""The ``sns://`` notification route on moto: a topic, an SQS subscriber, the Notifier."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from paramedic.catalog.model import Event, NotifyRoute
from paramedic.clock import RealClock
from paramedic.notify import DeliveryError, Notice, NotificationRecord, Notifier, validate_routes
from paramedic.notify.sns import subject_for
from paramedic.providers.aws.session import AwsError
from tests.aws_server import MotoAccount

pytestmark = pytest.mark.integration


def subscribed_queue(moto: MotoAccount, topic: str) -> tuple[str, str]:
    """A topic and an SQS queue subscribed to it (raw delivery off: SNS's envelope)."""
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{topic}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def read_one(moto: MotoAccount, queue_url: str) -> dict[str, Any]:
    """The next SNS envelope delivered to ``queue_url``."""
    sqs = moto.client("sqs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            envelope: dict[str, Any] = json.loads(messages[0]["Body"])
            return envelope
    raise AssertionError("no message reached the subscribed queue")


def notice(component: str = "orders-db") -> Notice:
    return Notice(
        Event.failure_detected,
        component,
        "inc-42",
        f"[paramedic] {component}: failure detected (refused: connection refused on 127.0.0.1:5432)",
        {"incident_id": "inc-42", "failed_at": "2026-11-25T14:00:00+00:00", "rto_s": 300},
    )


@pytest.mark.parametrize("by", ["name", "arn"])
async def test_notifier_publishes_the_incident_json_to_the_topic(
    moto: MotoAccount, by: str
) -> None:
    topic_arn, queue_url = subscribed_queue(moto, "paramedic-ops")
    url = "sns://paramedic-ops" if by == "name" else f"sns://{topic_arn}"
    routes = [NotifyRoute(name="ops-sns", url=url)]
    validate_routes(routes)
    records: list[NotificationRecord] = []
    notifier = Notifier(routes, clock=RealClock(), record=records.append, aws=moto.settings)
    sent = notice()
    await notifier.notify(sent)
    assert await notifier.drain(10)
    await notifier.aclose()

    assert [(r.route, r.status, r.attempts) for r in records] == [("ops-sns", "sent", 1)]
    envelope = read_one(moto, queue_url)
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == sent.title
    assert json.loads(envelope["Message"]) == json.loads(sent.to_json())
    assert json.loads(envelope["Message"])["payload"]["incident_id"] == "inc-42"
    attributes = envelope["MessageAttributes"]
    assert attributes["event"]["Value"] == "failure_detected"
    assert attributes["component"]["Value"] == "orders-db"


async def test_a_missing_topic_is_a_failed_delivery_naming_it(moto: MotoAccount) -> None:
    records: list[NotificationRecord] = []
    routes = [NotifyRoute(name="ops-sns", url="sns://nobody-made-this")]
    notifier = Notifier(
        routes, clock=RealClock(), record=records.append, aws=moto.settings, retries=0
    )
    await notifier.notify(notice())
    assert await notifier.drain(10)
    assert len(records) == 1
    assert records[0].status == "failed"
    # A topic name is no secret: the record names it.
    assert records[0].error == (
        "no SNS topic named 'nobody-made-this' in us-east-1; create it or give its ARN in the route"
    )


async def test_an_unknown_topic_arn_is_aws_own_refusal(moto: MotoAccount) -> None:
    from paramedic.notify.sns import SnsSender

    arn = "arn:aws:sns:us-east-1:123456789012:gone"
    route = NotifyRoute(name="ops-sns", url=f"sns://{arn}")
    sender = SnsSender([route], aws=moto.settings)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(route, notice())
    assert str(caught.value) == (
        f"notify route 'ops-sns' (sns://{arn}): sns Publish {arn}: NotFound: Endpoint does not exist"
    )
    assert isinstance(caught.value.__cause__, AwsError)


def test_sns_routes_sit_beside_apprise_routes() -> None:
    routes = [
        NotifyRoute(name="ops-sns", url="sns://paramedic-ops"),
        NotifyRoute(name="hook", url="json://127.0.0.1:9/hook"),
    ]
    validate_routes(routes)
    Notifier(routes, clock=RealClock())  # builds without reaching AWS


def test_subject_is_ascii_and_at_most_100_characters() -> None:
    subject = subject_for("[paramedic] café: " + "x" * 200)
    assert len(subject) == 100
    assert subject.startswith("[paramedic] caf?: ")
    assert subject.endswith("...")


async def test_an_unusable_aws_setting_is_a_failed_delivery_not_a_bare_aws_error() -> None:
    from paramedic.catalog.aws import AwsSettings
    from paramedic.notify.sns import SnsSender

    route = NotifyRoute(name="ops-sns", url="sns://arn:aws:sns:us-east-1:123456789012:ops")
    sender = SnsSender([route], aws=AwsSettings(profile="paramedic-no-such-profile"))
    with pytest.raises(DeliveryError) as caught:
        await sender.send(route, notice())
    assert "AWS profile 'paramedic-no-such-profile' is not in ~/.aws/config" in str(caught.value)
    assert isinstance(caught.value.__cause__, AwsError)
