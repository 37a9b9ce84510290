"""The "one click": a CloudFormation template of paramedic's footprint and per-component guard rails.

Footprint (always, named from ``agent.claims``' prefix, else ``paramedic``): the
three claims tables, an SNS topic (its ARN is an output; add ``sns://<ARN>`` as a
notify route), an SQS queue fed by three EventBridge rules (EC2 state change,
RDS DB instance event, CloudWatch alarm entering ALARM) with the queue policy
letting those rules send, and the agent's IAM role (for an agent on EC2, with
its instance profile, and for the Lambda entry point) whose policy allows
exactly ``actions_for(catalog)``; actions on the footprint's own tables, queue
and topic are scoped to them.

Guard rails, per component: for ``aws.ec2``, a CloudWatch alarm on
``StatusCheckFailed_System`` whose action is EC2's own ``recover``; for
``aws.rds``, an AWS Backup plan and selection on the instance whose schedule
matches the RPO (continuous backup when the RPO is under an hour) and whose
lifecycle is ``backup.keep``. CloudFormation cannot change the automated
backup retention of a DB instance the stack does not own, so the plan stands
in for it; the template's Metadata says so.
"""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from paramedic.providers.aws.claims import parse_claims_url, table_layouts
from paramedic.providers.aws.events import EVENT_RULES
from paramedic.providers.aws.permissions import actions_by_feature

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Component

DEFAULT_PREFIX = "paramedic"
RDS_RETENTION_NOTE = (
    "CloudFormation cannot change the automated backup retention of a DB instance this stack "
    "does not own; an AWS Backup plan on the instance stands in for it. To change the "
    "instance's own retention run: aws rds modify-db-instance --db-instance-identifier ID "
    "--backup-retention-period DAYS --apply-immediately"
)
EVENT_PATTERNS: dict[str, dict[str, Any]] = {r.logical_id: r.pattern for r in EVENT_RULES}
"""Logical id -> event pattern: the rules ``paramedic aws wire-events`` puts, by construction."""
_CONTINUOUS_MAX_DAYS = 35  # AWS Backup keeps continuous (point-in-time) backups at most 35 days
_FOOTPRINT_SERVICE = {"agent:claims": "dynamodb", "agent:events_queue": "sqs", "notify:sns": "sns"}


def _logical_id(name: str, suffix: str, taken: set[str]) -> str:
    base = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p) or "C"
    candidate, n = f"{base}{suffix}", 2
    while candidate in taken:
        candidate, n = f"{base}{n}{suffix}", n + 1
    taken.add(candidate)
    return candidate


def _queue_name(catalog: Catalog, prefix: str) -> str:
    queue = catalog.agent.events_queue
    if not queue:
        return f"{prefix}-events"
    return queue.rstrip("/").rsplit("/", 1)[-1]


def _sns_topic_arns(catalog: Catalog) -> list[str] | None:
    """Topic ARNs of the catalog's sns:// routes; None when one is not given as an ARN."""
    arns: list[str] = []
    for route in catalog.notify:
        if route.url.startswith("sns://"):
            target = route.url[len("sns://") :].split("?", 1)[0]
            if not target.startswith("arn:"):
                return None
            arns.append(target)
    return arns


def _footprint(prefix: str, queue_name: str) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = {}
    for table, keys in table_layouts(prefix).items():
        logical = _logical_id(table.removeprefix(prefix), "Table", set())
        resources[logical] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "TableName": table,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": k, "AttributeType": t} for k, t, _ in keys
                ],
                "KeySchema": [{"AttributeName": k, "KeyType": r} for k, _, r in keys],
            },
        }
    resources["NotifyTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": f"{prefix}-notify"},
    }
    resources["EventsQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"QueueName": queue_name, "MessageRetentionPeriod": 86400},
    }
    for rule, pattern in EVENT_PATTERNS.items():
        resources[rule] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "paramedic: events that open incidents at once",
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [{"Arn": {"Fn::GetAtt": ["EventsQueue", "Arn"]}, "Id": "paramedic"}],
            },
        }
    resources["EventsQueuePolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": "EventsQueue"}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": {"Fn::GetAtt": ["EventsQueue", "Arn"]},
                        "Condition": {
                            "ArnEquals": {
                                "aws:SourceArn": [
                                    {"Fn::GetAtt": [rule, "Arn"]} for rule in EVENT_PATTERNS
                                ]
                            }
                        },
                    }
                ],
            },
        },
    }
    return resources


def policy_statements(catalog: Catalog, prefix: str) -> list[dict[str, Any]]:
    """The agent policy's statements: exactly ``actions_for(catalog)``, footprint actions scoped."""
    by_feature = actions_by_feature(catalog)
    scopes: dict[str, list[Any]] = {
        "agent:claims": [
            {"Fn::GetAtt": [_logical_id(t.removeprefix(prefix), "Table", set()), "Arn"]}
            for t in table_layouts(prefix)
        ],
        "agent:events_queue": [{"Fn::GetAtt": ["EventsQueue", "Arn"]}],
    }
    topics = _sns_topic_arns(catalog)
    if topics is not None:
        scopes["notify:sns"] = [{"Ref": "NotifyTopic"}, *sorted(set(topics))]
    needed: dict[str, set[str]] = {}
    for feature, actions in by_feature.items():
        for action in actions:
            needed.setdefault(action, set()).add(feature)
    grouped: dict[str, list[str]] = {}
    resources_of: dict[str, Any] = {"*": "*"}
    namespace = catalog.agent.metrics_namespace
    for action, features in sorted(needed.items()):
        service, _, name = action.partition(":")
        scoped = not name.startswith("List") and all(
            _FOOTPRINT_SERVICE.get(f) == service and f in scopes for f in features
        )
        if scoped:
            key = "|".join(sorted(features))
            resources_of[key] = [r for f in sorted(features) for r in scopes[f]]
        elif action == "cloudwatch:PutMetricData" and features == {"agent:metrics_namespace"}:
            key = "metrics"
        else:
            key = "*"
        grouped.setdefault(key, []).append(action)
    statements: list[dict[str, Any]] = []
    for key, listed in sorted(grouped.items()):
        sid = "Any" if key == "*" else re.sub(r"[^A-Za-z0-9]", "", key.title())
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": sorted(listed),
            "Resource": resources_of.get(key, "*"),
        }
        if key == "metrics":
            statement["Condition"] = {"StringEquals": {"cloudwatch:namespace": namespace}}
        statements.append(statement)
    return statements


def _agent_role(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    role: dict[str, Any] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "paramedic agent: exactly the AWS actions its catalog uses",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
        },
    }
    if statements:
        role["Properties"]["Policies"] = [
            {
                "PolicyName": "paramedic-agent",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ]
    return {
        "AgentRole": role,
        "AgentInstanceProfile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Properties": {"Roles": [{"Ref": "AgentRole"}]},
        },
    }


def _ec2_alarm(name: str, component: Component) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"paramedic-{name}-system-check",
            "AlarmDescription": f"paramedic: EC2 recovers {name}'s instance when its host fails "
            "(render the template again after a replace_instance: the instance id changes)",
            "Namespace": "AWS/EC2",
            "MetricName": "StatusCheckFailed_System",
            "Dimensions": [{"Name": "InstanceId", "Value": str(component.spec["instance_id"])}],
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 2,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [
                {"Fn::Sub": "arn:${AWS::Partition}:automate:${AWS::Region}:ec2:recover"},
                {"Ref": "NotifyTopic"},
            ],
        },
    }


def backup_rule(rpo: timedelta, keep: timedelta) -> dict[str, Any]:
    """The AWS Backup rule meeting ``rpo``: continuous under an hour, else every ``floor(rpo)`` hours."""
    continuous = rpo < timedelta(hours=1)
    hours = math.floor(rpo / timedelta(hours=1))
    daily = continuous or hours >= 24  # continuous backup covers the RPO; the snapshot is a base
    schedule = "cron(0 5 * * ? *)" if daily else f"cron(0 0/{hours} * * ? *)"
    days = max(1, math.ceil(keep / timedelta(days=1)))
    if continuous:
        days = min(days, _CONTINUOUS_MAX_DAYS)
    return {
        "RuleName": "rpo",
        "TargetBackupVault": {"Ref": "BackupVault"},
        "ScheduleExpression": schedule,
        "StartWindowMinutes": 60,
        "CompletionWindowMinutes": 180,
        "EnableContinuousBackup": continuous,
        "Lifecycle": {"DeleteAfterDays": days},
    }


def _rds_backup(name: str, component: Component, taken: set[str]) -> dict[str, dict[str, Any]]:
    identifier = str(component.spec["db_instance_identifier"])
    keep = component.backup.keep if component.backup is not None else timedelta(days=7)
    plan = _logical_id(name, "BackupPlan", taken)
    selection = _logical_id(name, "BackupSelection", taken)
    return {
        plan: {
            "Type": "AWS::Backup::BackupPlan",
            "Metadata": {"paramedic": {"component": name, "retention": RDS_RETENTION_NOTE}},
            "Properties": {
                "BackupPlan": {
                    "BackupPlanName": f"paramedic-{name}",
                    "BackupPlanRule": [backup_rule(component.rpo, keep)],
                }
            },
        },
        selection: {
            "Type": "AWS::Backup::BackupSelection",
            "Properties": {
                "BackupPlanId": {"Ref": plan},
                "BackupSelection": {
                    "SelectionName": f"paramedic-{name}",
                    "IamRoleArn": {"Fn::GetAtt": ["BackupRole", "Arn"]},
                    "Resources": [
                        {
                            "Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}"
                            f":db:{identifier}"
                        }
                    ],
                },
            },
        },
    }


def _backup_shared(prefix: str) -> dict[str, dict[str, Any]]:
    managed = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyFor"
    return {
        "BackupVault": {
            "Type": "AWS::Backup::BackupVault",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"BackupVaultName": f"{prefix}-vault"},
        },
        "BackupRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "AWS Backup backs up and restores paramedic's RDS components",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "backup.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    {"Fn::Sub": f"{managed}Backup"},
                    {"Fn::Sub": f"{managed}Restores"},
                ],
            },
        },
    }


def render_template(catalog: Catalog) -> dict[str, Any]:
    """The CloudFormation template (a dict) deploying paramedic's footprint and guard rails."""
    prefix = parse_claims_url(catalog.agent.claims)[0] if catalog.agent.claims else DEFAULT_PREFIX
    resources = _footprint(prefix, _queue_name(catalog, prefix))
    resources.update(_agent_role(policy_statements(catalog, prefix)))
    taken = set(resources)
    guarded: list[str] = []
    for name, component in sorted(catalog.components.items()):
        if component.provider == "aws.ec2":
            resources[_logical_id(name, "RecoverAlarm", taken)] = _ec2_alarm(name, component)
        elif component.provider == "aws.rds":
            if "BackupVault" not in resources:
                resources.update(_backup_shared(prefix))
            resources.update(_rds_backup(name, component, taken))
        else:
            continue
        guarded.append(name)
    outputs = {
        "NotifyTopicArn": ("Ref", "NotifyTopic", "add sns://<this ARN> as a notify route"),
        "EventsQueueUrl": ("Ref", "EventsQueue", "agent.events_queue"),
        "AgentRoleArn": ("GetAtt", "AgentRole", "the agent's role"),
        "AgentInstanceProfile": ("Ref", "AgentInstanceProfile", "for an agent on EC2"),
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"paramedic footprint and guard rails for {catalog.source}",
        "Metadata": {
            "paramedic": {
                "claims": f"dynamodb://{prefix}",
                "guarded_components": guarded,
                "rds_backup_retention": RDS_RETENTION_NOTE,
            }
        },
        "Resources": resources,
        "Outputs": {
            key: {
                "Description": description,
                "Value": {"Ref": target} if kind == "Ref" else {"Fn::GetAtt": [target, "Arn"]},
            }
            for key, (kind, target, description) in outputs.items()
        },
    }


def template_yaml(catalog: Catalog) -> str:
    """``render_template(catalog)`` as YAML text (block style, keys in the template's order)."""
    from io import StringIO

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    out = StringIO()
    # round-trip through JSON: plain dicts and lists, no Python types for ruamel to tag
    yaml.dump(json.loads(json.dumps(render_template(catalog))), out)
    return out.getvalue()
