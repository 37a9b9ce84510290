"""The CloudFormation template's rules: backup schedule from the RPO, the policy, the names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from paramedic.catalog.model import Catalog
from paramedic.providers.aws.permissions import actions_for
from paramedic.providers.aws.template import (
    RDS_RETENTION_NOTE,
    backup_rule,
    render_template,
    template_yaml,
)


def _catalog(components: dict[str, Any], **top: Any) -> Catalog:
    return Catalog.model_validate({"version": 1, "components": components, **top})


def _ec2(instance: str = "i-0123456789abcdef0") -> dict[str, Any]:
    return {
        "type": "application_server",
        "rto": "5m",
        "rpo": "0s",
        "provider": "aws.ec2",
        "spec": {"instance_id": instance},
        "health": {"check": "aws.cloudwatch_alarm", "alarm_name": "web-down"},
        "recovery": [{"strategy": "restart_service"}],
    }


def _rds(rpo: str, keep: str = "7d") -> dict[str, Any]:
    return {
        "type": "database",
        "rto": "30m",
        "rpo": rpo,
        "provider": "aws.rds",
        "spec": {"db_instance_identifier": "orders"},
        "health": {"check": "aws.cloudwatch_alarm", "alarm_name": "db-down"},
        "backup": {"engine": "pg_basebackup", "schedule": "0 * * * *", "keep": keep},
        "recovery": [{"strategy": "restart_service"}],
    }


def _policy_actions(template: dict[str, Any]) -> list[str]:
    role = template["Resources"]["AgentRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    return sorted(a for s in statements for a in s["Action"])


def test_rpo_under_an_hour_takes_continuous_backup_kept_at_most_35_days() -> None:
    rule = backup_rule(timedelta(minutes=15), timedelta(days=90))
    assert rule["EnableContinuousBackup"] is True
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rule["ScheduleExpression"] == "cron(0 5 * * ? *)"


def test_rpo_in_hours_takes_a_snapshot_at_least_that_often() -> None:
    rule = backup_rule(timedelta(hours=4, minutes=30), timedelta(days=7))
    assert rule["EnableContinuousBackup"] is False
    assert rule["ScheduleExpression"] == "cron(0 0/4 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 7}
    assert rule["StartWindowMinutes"] == 60  # AWS's default of 8 h would break the RPO
    assert backup_rule(timedelta(days=2), timedelta(hours=5))["ScheduleExpression"] == (
        "cron(0 5 * * ? *)"
    )
    assert backup_rule(timedelta(days=2), timedelta(hours=5))["Lifecycle"] == {"DeleteAfterDays": 1}


def test_the_policy_is_exactly_the_catalog_actions_with_footprint_actions_scoped() -> None:
    catalog = _catalog(
        {"web": _ec2(), "orders-db": _rds("15m")},
        agent={"claims": "dynamodb://pm", "events_queue": "https://sqs/1/pm-events"},
        notify=[{"name": "ops", "url": "sns://arn:aws:sns:us-east-1:1:ops"}],
    )
    template = render_template(catalog)
    assert _policy_actions(template) == actions_for(catalog)
    statements = template["Resources"]["AgentRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["AgentClaims"]["Resource"] == [
        {"Fn::GetAtt": [table, "Arn"]} for table in ("ClaimsTable", "IncidentsTable", "AuditTable")
    ]
    assert "sns:Publish" in by_sid["NotifySns"]["Action"]
    assert by_sid["NotifySns"]["Resource"] == [
        {"Ref": "NotifyTopic"},
        "arn:aws:sns:us-east-1:1:ops",
    ]
    resources = template["Resources"]
    assert resources["EventsQueue"]["Properties"]["QueueName"] == "pm-events"
    assert resources["ClaimsTable"]["Properties"]["TableName"] == "pm-claims"


def test_guard_rails_per_component() -> None:
    template = render_template(
        _catalog({"web": _ec2(), "web_": _ec2("i-0fedcba9876543210"), "orders-db": _rds("4h")})
    )
    resources = template["Resources"]
    alarm = resources["WebRecoverAlarm"]["Properties"]
    assert alarm["MetricName"] == "StatusCheckFailed_System"
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}]
    assert alarm["AlarmActions"][0] == {
        "Fn::Sub": "arn:${AWS::Partition}:automate:${AWS::Region}:ec2:recover"
    }
    second = resources["Web2RecoverAlarm"]["Properties"]  # names that clash get a number
    assert second["Dimensions"][0]["Value"] == "i-0fedcba9876543210"
    plan = resources["OrdersDbBackupPlan"]
    assert plan["Metadata"]["paramedic"]["retention"] == RDS_RETENTION_NOTE
    rule = plan["Properties"]["BackupPlan"]["BackupPlanRule"][0]
    assert rule["ScheduleExpression"] == "cron(0 0/4 * * ? *)"
    selection = resources["OrdersDbBackupSelection"]["Properties"]["BackupSelection"]
    assert selection["Resources"][0]["Fn::Sub"].endswith(":db:orders")
    assert template["Metadata"]["paramedic"]["guarded_components"] == ["orders-db", "web", "web_"]


def test_without_claims_the_footprint_takes_the_default_prefix_and_no_policy() -> None:
    local = {
        "type": "application_server",
        "rto": "5m",
        "rpo": "0s",
        "provider": "process",
        "spec": {"command": ["true"]},
        "health": {"check": "tcp", "host": "127.0.0.1", "port": 80},
    }
    template = render_template(_catalog({"web": local}))
    resources = template["Resources"]
    assert resources["AuditTable"]["Properties"]["TableName"] == "paramedic-audit"
    assert resources["EventsQueue"]["Properties"]["QueueName"] == "paramedic-events"
    assert "Policies" not in resources["AgentRole"]["Properties"]
    assert "BackupVault" not in resources
    assert "Parameters" not in template
    text = template_yaml(_catalog({"web": local}))
    assert text.startswith("AWSTemplateFormatVersion: '2010-09-09'\n")
