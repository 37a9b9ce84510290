"""AWS end to end: the real `paramedic run` against moto's server, faults made out of band.

A catalog with an EC2 instance behind a target group (and a Route 53 record)
and a single-AZ RDS instance. The instance is stopped and the DB instance
deleted behind paramedic's back. The agent must find both — the EC2 one
through EventBridge → SQS well before its next 30-second poll — recover
both, and `paramedic history --json` must show the timings.

moto emits no EventBridge event when an instance stops (tests/integration/aws/
test_events.py checks that), so the test puts the event EC2 would send, with
EC2's own source and shape, right after stopping the instance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.aws_server import MotoAccount
from tests.e2e.harness import Agent, history, paramedic, start_agent, wait_for
from tests.integration.aws.data_setup import placed_db
from tests.integration.aws.ec2_setup import Ec2World, build_world

pytestmark = pytest.mark.e2e

EC2_INTERVAL_S = 30


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _catalog(tmp_path: Path, moto: MotoAccount, world: Ec2World, db: str, topic_arn: str) -> Path:
    components: dict[str, Any] = {
        "web": {
            "type": "application_server",
            "criticality": "important",
            "location": "us-east-1a",
            "constraint": "licence bound to one host",
            "rto": "5m",
            "rpo": "0s",
            "depends_on": [],
            "provider": "aws.ec2",
            "spec": {
                "instance_id": world.instance_id,
                "target_group_arns": [world.target_group],
                "route53": {"zone_id": world.zone_id, "name": world.record},
                "data_volume": world.volume,
            },
            "health": {
                "check": "aws.ec2_status",
                "interval": f"{EC2_INTERVAL_S}s",
                "timeout": "10s",
                "failures": 2,
            },
            "recovery": [{"strategy": "replace_instance", "timeout": "90s"}],
        },
        "orders": {
            "type": "database",
            "criticality": "critical",
            "location": "us-east-1a",
            "constraint": "single-AZ RDS instance",
            "rto": "10m",
            "rpo": "1h",
            "provider": "aws.rds",
            "spec": {"db_instance_identifier": db},
            "health": {"check": "aws.rds_status", "interval": "1s", "timeout": "5s"},
            "recovery": [
                {"strategy": "restart_service", "timeout": "20s"},
                {"strategy": "restore_from_backup", "timeout": "90s"},
            ],
        },
    }
    path = tmp_path / "paramedic.yaml"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "location": "us-east-1a",
                "state": "sqlite:///paramedic.db",
                "aws": moto.catalog_block,
                "agent": {"events_queue": "paramedic-events", "metrics_namespace": "Paramedic"},
                "notify": [
                    {
                        "name": "ops-topic",
                        "url": f"sns://{topic_arn}",
                        "events": ["failure_detected", "recovery_succeeded"],
                    }
                ],
                "components": components,
            },
            indent=2,
        )
    )
    return path


@pytest.fixture
def agent_box() -> Iterator[list[Agent]]:
    started: list[Agent] = []
    yield started
    for agent in started:
        agent.stop()


def _ec2_event(moto: MotoAccount, instance_id: str) -> None:
    """The event EC2 sends EventBridge when an instance stops."""
    arn = f"arn:aws:ec2:{moto.region}:123456789012:instance/{instance_id}"
    answer = moto.client("events").put_events(
        Entries=[
            {
                "Source": "aws.ec2",
                "DetailType": "EC2 Instance State-change Notification",
                "Resources": [arn],
                "Detail": json.dumps({"instance-id": instance_id, "state": "stopped"}),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def _subscribed_topic(moto: MotoAccount) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed to it (raw delivery): (topic ARN, queue URL)."""
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name="paramedic-ops")["TopicArn"]
    queue = sqs.create_queue(QueueName="ops-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return topic, queue


def _drain(moto: MotoAccount, queue: str) -> set[tuple[str, str]]:
    """(event, component) of the notices waiting in ``queue``."""
    sqs = moto.client("sqs")
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    found = set()
    for message in got.get("Messages", []):
        body = json.loads(message["Body"])
        found.add((body["event"], body["component"]))
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def _done(cwd: Path, name: str) -> dict[str, Any] | None:
    finished = [i for i in history(cwd, name) if i["state"] in ("recovered", "escalated")]
    return finished[0] if finished else None


def test_stopped_instance_and_deleted_db_are_detected_recovered_and_measured(
    moto: MotoAccount, tmp_path: Path, agent_box: list[Agent]
) -> None:
    world = build_world(moto)
    db = placed_db(moto, "orders")
    topic_arn, inbox = _subscribed_topic(moto)
    _catalog(tmp_path, moto, world, db.identifier, topic_arn)

    wired = json.loads(paramedic("aws", "wire-events", "--json", cwd=tmp_path).stdout)
    assert wired["queue_url"].endswith("/paramedic-events")
    assert len(wired["rules"]) == 3

    agent = start_agent(tmp_path)
    agent_box.append(agent)
    wait_for("the agent to start", lambda: "agent_started" in agent.log(), timeout=60)
    wait_for(
        "both components healthy",
        lambda: (
            {c["name"]: c["state"] for c in _status(tmp_path)}
            == {
                "web": "healthy",
                "orders": "healthy",
            }
        ),
        timeout=60,
    )

    # Out of band: an operator stops the instance and deletes the database.
    ec2 = moto.client("ec2")
    stopped_at = datetime.now(UTC)
    ec2.stop_instances(InstanceIds=[world.instance_id])
    _ec2_event(moto, world.instance_id)
    moto.client("rds").delete_db_instance(
        DBInstanceIdentifier="orders", SkipFinalSnapshot=True, DeleteAutomatedBackups=False
    )

    web = wait_for("web recovered", lambda: _done(tmp_path, "web"), timeout=120, every=0.5)
    orders = wait_for("orders recovered", lambda: _done(tmp_path, "orders"), timeout=120, every=0.5)
    assert web["state"] == "recovered", web
    assert orders["state"] == "recovered", orders

    # EC2: found through EventBridge → SQS, long before the next 30 s poll could have.
    log = agent.log()
    assert '"aws_event"' in log, log[-3000:]
    detect_s = (_t(web["detected_at"]) - stopped_at).total_seconds()
    assert detect_s < EC2_INTERVAL_S / 2, web
    assert "AWS reported it" in web["reason"], web
    assert web["strategy"] == "replace_instance"
    new_id = ec2.describe_instances(
        Filters=[{"Name": "tag:paramedic:component", "Values": ["web"]}]
    )["Reservations"][0]["Instances"][0]["InstanceId"]
    assert new_id != world.instance_id
    assert world.instance(new_id)["State"]["Name"] == "running"
    assert world.instance(new_id)["SubnetId"] == world.subnet
    old = world.instance(world.instance_id)
    assert old["State"]["Name"] == "stopped"  # kept, never terminated
    assert world.tags(world.instance_id)["paramedic:incident"] == web["id"]
    targets = moto.client("elbv2").describe_target_health(TargetGroupArn=world.target_group)
    assert [t["Target"]["Id"] for t in targets["TargetHealthDescriptions"]] == [new_id]

    # RDS: restored under its own name with the source's placement.
    assert orders["strategy"] == "restore_from_backup"
    restored = moto.client("rds").describe_db_instances(DBInstanceIdentifier="orders")
    instance = restored["DBInstances"][0]
    assert instance["DBInstanceStatus"] == "available"
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == db.subnet_group
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [db.security_group]

    # The timings, as history --json shows them.
    for incident in (web, orders):
        assert incident["measured_rto_s"] is not None and incident["measured_rto_s"] > 0
        assert _t(incident["failed_at"]) <= _t(incident["detected_at"])
        assert _t(incident["detected_at"]) <= _t(incident["recovered_at"])
    assert orders["measured_rpo_s"] is not None and orders["measured_rpo_s"] >= 0

    # The pages went to SNS, and the agent's metrics to CloudWatch.
    seen: set[tuple[str, str]] = set()
    wanted = {(e, c) for e in ("failure_detected", "recovery_succeeded") for c in ("web", "orders")}

    def pages() -> set[tuple[str, str]] | None:
        seen.update(_drain(moto, inbox))
        return seen if wanted <= seen else None

    wait_for("the SNS pages", pages, timeout=30, every=0.5)
    cloudwatch = moto.client("cloudwatch")

    def metrics() -> set[tuple[str, str]] | None:
        listed = cloudwatch.list_metrics(Namespace="Paramedic")["Metrics"]
        found = {(m["MetricName"], m["Dimensions"][0]["Value"]) for m in listed}
        wanted = {("Healthy", "web"), ("Healthy", "orders"), ("MeasuredRTO", "web")}
        return found if wanted <= found else None

    wait_for("the agent's CloudWatch metrics", metrics, timeout=30, every=1)


def _ec2_only(
    cwd: Path, moto: MotoAccount, world: Ec2World, agent: dict[str, Any], approval: str = "none"
) -> None:
    """A catalog in ``cwd`` of one aws.ec2 component checked every second, started again on failure."""
    cwd.mkdir(parents=True, exist_ok=True)
    web = {
        "type": "application_server",
        "rto": "2m",
        "rpo": "0s",
        "provider": "aws.ec2",
        "spec": {"instance_id": world.instance_id, "restart_by": "stop_start"},
        "health": {"check": "aws.ec2_status", "interval": "1s", "timeout": "5s"},
        "recovery": [{"strategy": "restart_service", "timeout": "60s", "approval": approval}],
        "drills": {"allowed": True, "faults": ["stop-instance"]},
    }
    (cwd / "paramedic.yaml").write_text(
        json.dumps(
            {
                "version": 1,
                "state": "sqlite:///paramedic.db",
                "aws": moto.catalog_block,
                "agent": agent,
                "components": {"web": web},
            }
        )
    )


def _healthy(cwd: Path) -> bool:
    return any(c["name"] == "web" and c["state"] == "healthy" for c in _status(cwd))


def test_two_agents_race_and_the_recovery_is_claimed_once(
    moto: MotoAccount, tmp_path: Path, agent_box: list[Agent]
) -> None:
    world = build_world(moto)
    sites = [tmp_path / "agent-a", tmp_path / "agent-b"]
    for site in sites:
        _ec2_only(site, moto, world, {"claims": "dynamodb://race"}, approval="required")
        agent_box.append(start_agent(site))
    for site, agent in zip(sites, agent_box, strict=True):
        wait_for("the agent to start", lambda a=agent: "agent_started" in a.log(), timeout=60)
        wait_for("web healthy", lambda s=site: _healthy(s), timeout=60)

    moto.client("ec2").stop_instances(InstanceIds=[world.instance_id])

    # The first agent to find the failure claims it and waits for an operator's approval;
    # meanwhile the other one finds the failure too, and its claim is refused.
    def waiting() -> tuple[Path, str] | None:
        for site in sites:
            for incident in history(site, "web", open_only=True):
                if incident["state"] == "awaiting_approval":
                    return site, str(incident["id"])
        return None

    winner, incident_id = wait_for("a recovery awaiting approval", waiting, timeout=60)
    loser = sites[1 - sites.index(winner)]
    loser_agent = agent_box[sites.index(loser)]
    wait_for(
        "the other agent to find the claim taken",
        lambda: '"claimed_elsewhere"' in loser_agent.log(),
        timeout=30,
    )
    blocked = history(loser, "web", open_only=True)
    assert [i["state"] for i in blocked] == ["blocked"], blocked
    assert blocked[0]["blocked_by"].startswith("agent ") and str(winner) in blocked[0]["blocked_by"]
    claim = moto.client("dynamodb").get_item(
        TableName="race-claims", Key={"incident_id": {"S": "component/web"}}
    )["Item"]
    assert str(winner) in claim["holder"]["S"]

    paramedic("approve", incident_id, cwd=winner)
    won = wait_for("the winner recovered", lambda: _done(winner, "web"), timeout=60, every=0.5)
    lost = wait_for("the other one closed", lambda: _done(loser, "web"), timeout=60, every=0.5)
    assert (won["state"], won["strategy"]) == ("recovered", "restart_service")
    assert (lost["state"], lost["strategy"]) == ("recovered", "recovered_elsewhere")
    assert [s["strategy"] for s in lost["steps"]] == []  # it never acted
    assert world.instance(world.instance_id)["State"]["Name"] == "running"
    assert loser_agent.log().count('"claimed_elsewhere"') == 1  # said once, not every check


def test_a_stop_instance_drill_is_recovered_by_the_agent_and_measured(
    moto: MotoAccount, tmp_path: Path, agent_box: list[Agent]
) -> None:
    world = build_world(moto)
    _ec2_only(tmp_path, moto, world, {})
    agent = start_agent(tmp_path)
    agent_box.append(agent)
    wait_for("the agent to start", lambda: "agent_started" in agent.log(), timeout=60)
    wait_for("web healthy", lambda: _healthy(tmp_path), timeout=60)

    result = paramedic(
        "drill", "web", "--fault", "stop-instance", "--json", cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr + agent.log()[-3000:]
    record = json.loads(result.stdout)
    assert record["verdict"] == "met"
    assert 0 < record["measured_rto_s"] <= record["target_rto_s"] == 120.0
    steps = [p for p in record["phases"] if p["phase"] == "step"]
    assert [(p["strategy"], p["status"]) for p in steps] == [("restart_service", "succeeded")]
    assert world.instance(world.instance_id)["State"]["Name"] == "running"


def _status(cwd: Path) -> list[dict[str, Any]]:
    return list(json.loads(paramedic("status", "--json", cwd=cwd).stdout)["components"])
