"""EventBridge events as delivered to SQS, parsed into AwsEvent (pure: no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from paramedic.providers.aws.events import parse_event, queue_policy


def rds(event_id: str, categories: list[str], message: str) -> dict[str, Any]:
    return {
        "source": "aws.rds",
        "detail-type": "RDS DB Instance Event",
        "time": "2026-11-25T14:00:05Z",
        "detail": {
            "EventCategories": categories,
            "SourceType": "DB_INSTANCE",
            "SourceArn": "arn:aws:rds:eu-west-1:123456789012:db:orders",
            "Message": message,
            "EventID": event_id,
        },
    }


def test_an_rds_restart_is_not_a_failure_and_the_identifier_comes_from_the_arn() -> None:
    event = parse_event(rds("RDS-EVENT-0006", ["availability"], "DB instance restarted"))
    assert event.resources == ("orders",)
    assert (event.state, event.failing) == ("RDS-EVENT-0006", False)
    assert event.at == datetime(2026, 11, 25, 14, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_id", "categories"),
    [("RDS-EVENT-0087", ["notification"]), ("RDS-EVENT-0079", ["failure"])],
)
def test_rds_stops_and_failures_are_failing(event_id: str, categories: list[str]) -> None:
    assert parse_event(rds(event_id, categories, "something")).failing


def test_an_alarm_back_to_ok_is_not_failing() -> None:
    event = parse_event(
        {
            "source": "aws.cloudwatch",
            "detail-type": "CloudWatch Alarm State Change",
            "detail": {"alarmName": "cache-latency", "state": {"value": "OK"}},
        }
    )
    assert (event.resources, event.state, event.failing) == (("cache-latency",), "OK", False)
    assert event.summary == "alarm cache-latency is OK"


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},
        {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"},
    ],
)
def test_anything_else_is_refused(document: Any) -> None:
    with pytest.raises((ValueError, KeyError)):
        parse_event(document)


def test_the_queue_policy_lets_only_the_rules_send() -> None:
    policy = queue_policy("arn:aws:sqs:eu-west-1:123456789012:q", ["arn:rule/a", "arn:rule/b"])
    [statement] = policy["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": ["arn:rule/a", "arn:rule/b"]}}
