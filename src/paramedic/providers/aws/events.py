"""Event-driven detection: EventBridge rules feed an SQS queue that the agent reads.

``wire_events`` (``paramedic aws wire-events``) creates, or finds and updates, one queue
and three rules targeting it: EC2 instance state changes towards stopped or terminated,
RDS DB instance events, and CloudWatch alarms entering ALARM. The queue policy lets
``events.amazonaws.com`` send to the queue from those rules only.

``receive_events`` long-polls the queue, parses each message into an ``AwsEvent`` and
deletes it; a message that is not an event of those kinds is logged once and deleted.
``components_for`` says which catalog components an event concerns, so the agent can
open their incidents at once instead of waiting for the next poll.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from paramedic.catalog.aws import AwsSettings, CloudWatchAlarmCheck
from paramedic.errors import ParamedicError
from paramedic.providers.aws import session

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog

log = logging.getLogger(__name__)

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "agent:events_queue": (
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "ec2:DescribeInstances",
    ),
    "cli:wire-events": (
        "sqs:CreateQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "events:PutRule",
        "events:PutTargets",
    ),
}
"""Feature -> the IAM actions it calls."""

COMPONENT_TAG = "paramedic:component"
EC2_STATE_CHANGE = "EC2 Instance State-change Notification"
RDS_INSTANCE_EVENT = "RDS DB Instance Event"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
EC2_FAILING_STATES = ("stopping", "stopped", "shutting-down", "terminated")
RDS_FAILING_CATEGORIES = frozenset({"failure", "deletion", "low storage"})
RDS_FAILING_EVENTS = frozenset(
    {
        "RDS-EVENT-0003",  # deleted
        "RDS-EVENT-0004",  # shut down
        "RDS-EVENT-0031",  # failed (incompatible configuration or data)
        "RDS-EVENT-0087",  # stopped
    }
)


@dataclass(frozen=True)
class EventRule:
    """One EventBridge rule feeding the queue: the one definition ``wire_events`` and the template use."""

    suffix: str
    """The rule ``wire_events`` puts is named ``<prefix>-<suffix>``."""
    logical_id: str
    """Its resource in the CloudFormation template (kept stable: a renamed one is replaced)."""
    pattern: dict[str, Any]


EVENT_RULES: tuple[EventRule, ...] = (
    EventRule(
        "ec2-state",
        "Ec2StateRule",
        {
            "source": ["aws.ec2"],
            "detail-type": [EC2_STATE_CHANGE],
            "detail": {"state": list(EC2_FAILING_STATES)},
        },
    ),
    EventRule(
        "rds-instance",
        "RdsEventRule",
        {"source": ["aws.rds"], "detail-type": [RDS_INSTANCE_EVENT]},
    ),
    EventRule(
        "alarm-state",
        "AlarmRule",
        {
            "source": ["aws.cloudwatch"],
            "detail-type": [ALARM_STATE_CHANGE],
            "detail": {"state": {"value": ["ALARM"]}},
        },
    ),
)

RULES: dict[str, dict[str, Any]] = {rule.suffix: rule.pattern for rule in EVENT_RULES}
"""Rule suffix -> event pattern (rule names are ``<prefix>-<suffix>``)."""


@dataclass(frozen=True)
class WiredEvents:
    """The queue and rules ``wire_events`` left in place."""

    queue_url: str
    queue_arn: str
    rules: dict[str, str] = field(default_factory=dict)
    """Rule name -> ARN."""


@dataclass(frozen=True)
class AwsEvent:
    """One EC2, RDS or CloudWatch alarm event, reduced to what detection needs."""

    source: str
    detail_type: str
    resources: tuple[str, ...]
    """Instance ids, DB instance identifiers or alarm names."""
    state: str
    at: datetime
    summary: str
    failing: bool


async def wire_events(
    settings: AwsSettings, queue_name: str = "paramedic-events", rule_prefix: str = "paramedic"
) -> WiredEvents:
    """Create or update the queue, its policy and the three rules; safe to run again."""
    sqs = session.client(settings, "sqs")
    events = session.client(settings, "events")
    # CreateQueue returns the existing queue's URL when one of that name exists.
    created = await session.call(sqs, "CreateQueue", queue_name, QueueName=queue_name)
    queue_url = str(created["QueueUrl"])
    attributes = await session.call(
        sqs, "GetQueueAttributes", queue_name, QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )
    queue_arn = str(attributes["Attributes"]["QueueArn"])
    rule_arns: dict[str, str] = {}
    for suffix, pattern in RULES.items():
        name = f"{rule_prefix}-{suffix}"
        rule = await session.call(
            events,
            "PutRule",
            name,
            Name=name,
            EventPattern=json.dumps(pattern, sort_keys=True),
            State="ENABLED",
            Description=f"paramedic: {suffix} events to SQS queue {queue_name}",
        )
        rule_arns[name] = str(rule["RuleArn"])
        await session.call(
            events,
            "PutTargets",
            name,
            Rule=name,
            Targets=[{"Id": "paramedic-queue", "Arn": queue_arn}],
        )
    policy = queue_policy(queue_arn, sorted(rule_arns.values()))
    await session.call(
        sqs,
        "SetQueueAttributes",
        queue_name,
        QueueUrl=queue_url,
        Attributes={"Policy": json.dumps(policy, sort_keys=True)},
    )
    return WiredEvents(queue_url, queue_arn, rule_arns)


def queue_policy(queue_arn: str, rule_arns: list[str]) -> dict[str, Any]:
    """The queue policy: EventBridge may send to the queue, from these rules only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "paramedic-eventbridge",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
            }
        ],
    }


async def receive_events(settings: AwsSettings, queue: str, wait_s: float) -> list[AwsEvent]:
    """Long-poll ``queue`` (URL or name) up to ``wait_s`` (at most 20 s); parse and delete."""
    sqs = session.client(settings, "sqs")
    queue_url = await _queue_url(sqs, queue)
    answer = await session.call(
        sqs,
        "ReceiveMessage",
        queue,
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=max(0, min(20, int(wait_s))),
    )
    found: list[AwsEvent] = []
    done: list[dict[str, str]] = []
    for index, message in enumerate(answer.get("Messages", [])):
        body = str(message.get("Body", ""))
        try:
            found.append(parse_event(json.loads(body)))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning(
                "events queue %s: message %s is not an EC2, RDS or alarm event (%s); deleted: %.200s",
                queue,
                message.get("MessageId", "?"),
                exc,
                body,
            )
        done.append({"Id": str(index), "ReceiptHandle": str(message["ReceiptHandle"])})
    if done:
        result = await session.call(
            sqs, "DeleteMessageBatch", queue, QueueUrl=queue_url, Entries=done
        )
        for failure in result.get("Failed", []):
            log.warning("events queue %s: could not delete a message: %s", queue, failure)
    return found


def parse_event(document: Any) -> AwsEvent:
    """An EventBridge event (as delivered to SQS) as an AwsEvent; ValueError if not one we know."""
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    source = str(document["source"])
    detail_type = str(document["detail-type"])
    detail = document.get("detail") or {}
    at = _time(document.get("time"))
    if detail_type == EC2_STATE_CHANGE:
        instance = str(detail["instance-id"])
        state = str(detail["state"])
        summary = f"EC2 instance {instance} is {state}"
        return AwsEvent(
            source, detail_type, (instance,), state, at, summary, state in EC2_FAILING_STATES
        )
    if detail_type == RDS_INSTANCE_EVENT:
        identifier = str(detail.get("SourceIdentifier") or "").strip()
        if not identifier:
            identifier = str(detail["SourceArn"]).rsplit(":", 1)[-1]
        categories = [str(c).lower() for c in detail.get("EventCategories") or []]
        event_id = str(detail.get("EventID") or "")
        message = " ".join(str(detail.get("Message") or "").split())
        failing = bool(RDS_FAILING_CATEGORIES.intersection(categories)) or (
            event_id in RDS_FAILING_EVENTS
        )
        state = event_id or ",".join(categories) or "event"
        summary = f"RDS DB instance {identifier}: {message or state}"
        return AwsEvent(source, detail_type, (identifier,), state, at, summary, failing)
    if detail_type == ALARM_STATE_CHANGE:
        alarm = str(detail["alarmName"])
        current = detail.get("state") or {}
        state = str(current["value"])
        reason = " ".join(str(current.get("reason") or "").split())
        summary = f"alarm {alarm} is {state}" + (f": {reason[:200]}" if reason else "")
        return AwsEvent(source, detail_type, (alarm,), state, at, summary, state == "ALARM")
    raise ValueError(f"unexpected detail-type {detail_type!r}")


async def components_for(event: AwsEvent, catalog: Catalog) -> list[str]:
    """Names of the catalog's components ``event`` is about (sorted; empty when none)."""
    names: set[str] = set()
    for resource in event.resources:
        if event.detail_type == EC2_STATE_CHANGE:
            names.update(await _ec2_components(resource, catalog))
        elif event.detail_type == RDS_INSTANCE_EVENT:
            names.update(await _rds_components(resource, catalog))
        elif event.detail_type == ALARM_STATE_CHANGE:
            names.update(
                name
                for name, component in catalog.components.items()
                if isinstance(component.health, CloudWatchAlarmCheck)
                and component.health.alarm_name == resource
            )
    return sorted(names)


async def _ec2_components(instance_id: str, catalog: Catalog) -> set[str]:
    """The component tagged on the instance (its replacement carries the tag), or named in a spec."""
    names = _matching(catalog, "instance_id", instance_id)
    for settings in _ec2_settings(catalog):
        ec2 = session.client(settings, "ec2")
        try:
            answer = await session.call(
                ec2, "DescribeInstances", instance_id, InstanceIds=[instance_id]
            )
        except ParamedicError as exc:  # gone for long, another region: the spec match stands
            log.info("EC2 event about %s: cannot read its tags: %s", instance_id, exc)
            continue
        for reservation in answer.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                for tag in instance.get("Tags", []):
                    if tag.get("Key") == COMPONENT_TAG and tag.get("Value") in catalog.components:
                        names.add(str(tag["Value"]))
    return names


async def _rds_components(identifier: str, catalog: Catalog) -> set[str]:
    """Components whose DB instance is ``identifier``: the spec's, or the restored one serving it.

    With ``cutover: route53`` a restore leaves a new instance (``ID-r…``) serving the
    component under its own identifier; its events must reach the component too.
    """
    from paramedic.providers.aws.data_specs import RdsSpec
    from paramedic.providers.aws.rds_instances import current_identifier

    names = _matching(catalog, "db_instance_identifier", identifier)
    for name, component in catalog.components.items():
        if component.provider != "aws.rds" or name in names:
            continue
        spec = RdsSpec.model_validate(component.spec)
        if spec.cutover != "route53":
            continue
        try:
            if await current_identifier(catalog.aws_for(name), spec) == identifier:
                names.add(name)
        except ParamedicError as exc:
            log.info(
                "RDS event about %s: cannot tell whether %s serves it: %s", identifier, name, exc
            )
    return names


def _ec2_settings(catalog: Catalog) -> list[AwsSettings]:
    """The distinct AWS settings of the catalog's EC2 components (the catalog's when none)."""
    found: dict[str, AwsSettings] = {}
    for name, component in catalog.components.items():
        if component.provider in ("aws.ec2", "aws.asg"):
            settings = catalog.aws_for(name)
            found.setdefault(settings.model_dump_json(), settings)
    return list(found.values()) or [catalog.aws]


def _matching(catalog: Catalog, key: str, value: str) -> set[str]:
    """Components whose spec, or whose AWS health check, names ``value`` under ``key``."""
    names: set[str] = set()
    for name, component in catalog.components.items():
        if component.spec.get(key) == value or getattr(component.health, key, None) == value:
            names.add(name)
    return names


async def _queue_url(sqs: Any, queue: str) -> str:
    if queue.startswith(("https://", "http://")):
        return queue
    answer = await session.call(sqs, "GetQueueUrl", queue, QueueName=queue)
    return str(answer["QueueUrl"])


def _time(value: Any) -> datetime:
    if isinstance(value, str) and value:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)
