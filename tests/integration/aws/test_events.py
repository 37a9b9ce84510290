"""EventBridge -> SQS on moto: wiring, receiving, parsing, and mapping events to components.

moto does not emit events by itself: stopping an instance or setting an alarm's state
puts nothing on the bus (checked below). The tests put each event the way EC2, RDS or
CloudWatch would (same source, detail-type and detail), and moto's EventBridge routes
it through the rules to the SQS queue.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from paramedic.catalog.model import Catalog
from paramedic.providers.aws.events import (
    ALARM_STATE_CHANGE,
    EC2_STATE_CHANGE,
    RDS_INSTANCE_EVENT,
    AwsEvent,
    components_for,
    receive_events,
    wire_events,
)
from tests.aws_server import MotoAccount

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"


def launch(moto: MotoAccount, component: str | None = None) -> str:
    """A running instance, tagged ``paramedic:component`` when ``component`` is given."""
    ec2 = moto.client("ec2")
    image = "ami-12c6146b"  # one of the images moto ships (describing them all takes seconds)
    tags = [{"Key": "paramedic:component", "Value": component}] if component else []
    extra: dict[str, Any] = (
        {"TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]} if tags else {}
    )
    found = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, **extra)
    return str(found["Instances"][0]["InstanceId"])


def put(
    moto: MotoAccount, source: str, detail_type: str, resources: list[str], detail: Any
) -> None:
    answer = moto.client("events").put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": detail_type,
                "Resources": resources,
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def ec2_stopped(moto: MotoAccount, instance: str, state: str = "stopped") -> None:
    """The event EC2 sends when an instance changes state."""
    arn = f"arn:aws:ec2:{moto.region}:{ACCOUNT}:instance/{instance}"
    put(moto, "aws.ec2", EC2_STATE_CHANGE, [arn], {"instance-id": instance, "state": state})


def catalog(moto: MotoAccount, instance: str) -> Catalog:
    """web on EC2 (spec.instance_id), orders-db on RDS, cache watched by an alarm."""
    base = {"rto": "5m", "rpo": "1m"}
    return Catalog.model_validate(
        {
            "version": 1,
            "aws": moto.catalog_block,
            "components": {
                "web": {
                    **base,
                    "type": "application_server",
                    "provider": "aws.ec2",
                    "spec": {"instance_id": instance},
                    "health": {"check": "aws.ec2_status"},
                },
                "orders-db": {
                    **base,
                    "type": "database",
                    "provider": "aws.rds",
                    "spec": {"db_instance_identifier": "orders"},
                    "health": {"check": "aws.rds_status"},
                },
                "cache": {
                    **base,
                    "type": "cache",
                    "provider": "process",
                    "spec": {"restart_command": ["true"]},
                    "health": {"check": "aws.cloudwatch_alarm", "alarm_name": "cache-latency"},
                },
            },
        }
    )


async def test_wire_events_is_idempotent(moto: MotoAccount) -> None:
    first = await wire_events(moto.settings)
    again = await wire_events(moto.settings)
    assert again == first
    assert sorted(first.rules) == [
        "paramedic-alarm-state",
        "paramedic-ec2-state",
        "paramedic-rds-instance",
    ]
    sqs, events = moto.client("sqs"), moto.client("events")
    assert sqs.list_queues()["QueueUrls"] == [first.queue_url]
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=first.queue_url, AttributeNames=["Policy"])["Attributes"][
            "Policy"
        ]
    )
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == sorted(first.rules.values())
    for name in first.rules:
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        assert [t["Arn"] for t in targets] == [first.queue_arn]
    pattern = json.loads(events.describe_rule(Name="paramedic-ec2-state")["EventPattern"])
    assert pattern["detail"]["state"] == ["stopping", "stopped", "shutting-down", "terminated"]


async def test_moto_does_not_emit_ec2_state_changes_by_itself(moto: MotoAccount) -> None:
    wired = await wire_events(moto.settings)
    instance = launch(moto)
    moto.client("ec2").stop_instances(InstanceIds=[instance])
    assert await receive_events(moto.settings, wired.queue_url, wait_s=1) == []


async def test_an_ec2_stop_reaches_the_queue_and_maps_to_its_component(
    moto: MotoAccount,
) -> None:
    wired = await wire_events(moto.settings)
    instance = launch(moto)
    ec2_stopped(moto, instance)
    events = await receive_events(moto.settings, "paramedic-events", wait_s=2)
    assert len(events) == 1
    [event] = events
    assert (event.source, event.detail_type, event.resources) == (
        "aws.ec2",
        EC2_STATE_CHANGE,
        (instance,),
    )
    assert (event.state, event.failing) == ("stopped", True)
    assert event.summary == f"EC2 instance {instance} is stopped"
    assert abs((datetime.now(UTC) - event.at).total_seconds()) < 120
    assert await components_for(event, catalog(moto, instance)) == ["web"]
    # parsed messages are deleted
    assert await receive_events(moto.settings, wired.queue_url, wait_s=0) == []


async def test_a_replacement_is_found_by_its_component_tag(moto: MotoAccount) -> None:
    await wire_events(moto.settings)
    original = launch(moto)
    replacement = launch(moto, component="web")
    ec2_stopped(moto, replacement, "shutting-down")
    [event] = await receive_events(moto.settings, "paramedic-events", wait_s=2)
    assert event.resources == (replacement,)
    assert await components_for(event, catalog(moto, original)) == ["web"]


async def test_a_running_state_is_not_routed(moto: MotoAccount) -> None:
    await wire_events(moto.settings)
    ec2_stopped(moto, launch(moto), "running")
    assert await receive_events(moto.settings, "paramedic-events", wait_s=1) == []


async def test_rds_and_alarm_events_map_to_their_components(moto: MotoAccount) -> None:
    await wire_events(moto.settings)
    put(
        moto,
        "aws.rds",
        RDS_INSTANCE_EVENT,
        [f"arn:aws:rds:{moto.region}:{ACCOUNT}:db:orders"],
        {
            "EventCategories": ["availability"],
            "SourceType": "DB_INSTANCE",
            "SourceArn": f"arn:aws:rds:{moto.region}:{ACCOUNT}:db:orders",
            "Date": "2026-11-25T14:00:00.000Z",
            "Message": "DB instance shutdown",
            "SourceIdentifier": "orders",
            "EventID": "RDS-EVENT-0004",
        },
    )
    put(
        moto,
        "aws.cloudwatch",
        ALARM_STATE_CHANGE,
        [f"arn:aws:cloudwatch:{moto.region}:{ACCOUNT}:alarm:cache-latency"],
        {
            "alarmName": "cache-latency",
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "x"},
            "previousState": {"value": "OK"},
        },
    )
    put(  # an OK transition is filtered out by the rule
        moto,
        "aws.cloudwatch",
        ALARM_STATE_CHANGE,
        [],
        {"alarmName": "cache-latency", "state": {"value": "OK"}},
    )
    events: list[AwsEvent] = []
    for _ in range(3):
        events += await receive_events(moto.settings, "paramedic-events", wait_s=1)
    by_type = {event.detail_type: event for event in events}
    assert len(events) == 2
    rds = by_type[RDS_INSTANCE_EVENT]
    assert (rds.resources, rds.state, rds.failing) == (("orders",), "RDS-EVENT-0004", True)
    assert rds.summary == "RDS DB instance orders: DB instance shutdown"
    alarm = by_type[ALARM_STATE_CHANGE]
    assert (alarm.resources, alarm.state, alarm.failing) == (("cache-latency",), "ALARM", True)
    assert alarm.summary == "alarm cache-latency is ALARM: Threshold Crossed"
    listed = catalog(moto, launch(moto))
    assert await components_for(rds, listed) == ["orders-db"]
    assert await components_for(alarm, listed) == ["cache"]


async def test_a_malformed_message_is_logged_once_and_deleted(
    moto: MotoAccount, caplog: pytest.LogCaptureFixture
) -> None:
    wired = await wire_events(moto.settings)
    sqs = moto.client("sqs")
    sqs.send_message(QueueUrl=wired.queue_url, MessageBody="not json at all")
    sqs.send_message(QueueUrl=wired.queue_url, MessageBody=json.dumps({"source": "aws.s3"}))
    instance = launch(moto)
    ec2_stopped(moto, instance)
    found: list[AwsEvent] = []
    with caplog.at_level(logging.WARNING, logger="paramedic.providers.aws.events"):
        for _ in range(3):
            found += await receive_events(moto.settings, wired.queue_url, wait_s=1)
    assert [event.resources for event in found] == [(instance,)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all("is not an EC2, RDS or alarm event" in w and "deleted" in w for w in warnings)
    attributes = sqs.get_queue_attributes(
        QueueUrl=wired.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
