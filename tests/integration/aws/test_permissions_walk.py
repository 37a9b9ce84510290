"""Every AWS call paramedic makes for a catalog is granted by ``paramedic aws permissions`` (issue 13.10).

botocore's ``before-call`` event is recorded on the session paramedic's own clients come
from (``providers.aws.session``), while each feature of an example catalog runs against
moto: the provider's ``start``, its check, the agent's RPO watch, every strategy of the
ladder, every fault and its undo. Each recorded operation is mapped to its IAM action
(``rds DescribeDBInstances`` -> ``rds:DescribeDBInstances``) and must be in
``actions_for(catalog)``: a call site whose declaration fell behind fails here, whatever
moto accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from paramedic.agent.aws import AwsSide
from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Catalog, Event, Strategy
from paramedic.checks.registry import run_check
from paramedic.clock import RealClock
from paramedic.decisions import DecisionLog
from paramedic.notify import Notice
from paramedic.notify.sns import SnsSender
from paramedic.providers.aws import session
from paramedic.providers.aws.events import EC2_STATE_CHANGE
from paramedic.providers.aws.permissions import actions_for
from paramedic.providers.base import ActionContext, FaultContext, NativeRecoveryPoints
from paramedic.providers.registry import build_provider
from tests.aws_server import MotoAccount
from tests.integration.aws import ec2_setup
from tests.integration.aws.data_setup import placed_db, rds_component, write_catalog

pytestmark = pytest.mark.integration

STEP: TypeAdapter[Strategy] = TypeAdapter(Strategy)

# where an IAM action is not ``<signing name>:<operation>``
IAM_PREFIX = {"monitoring": "cloudwatch"}
IAM_NAME = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "SendMessageBatch"): "SendMessage",
}


def iam_action(model: Any) -> str:
    """The IAM action a botocore operation model is authorised by."""
    service = model.service_model
    prefix = IAM_PREFIX.get(service.signing_name, service.signing_name)
    return f"{prefix}:{IAM_NAME.get((prefix, model.name), model.name)}"


@pytest.fixture
def made_calls(moto: MotoAccount) -> Iterator[set[str]]:
    """The IAM actions of every call paramedic's clients make while the test runs."""
    session.forget_clients()  # clients copy the session's handlers when they are created
    recorded: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        recorded.add(iam_action(model))

    events = session.session(moto.settings).events
    events.register("before-call", record)
    try:
        yield recorded
    finally:
        events.unregister("before-call", record)
        session.forget_clients()


def _action(catalog: Catalog, name: str, incident: str, step: int = 0) -> ActionContext:
    return ActionContext(
        incident_id=incident,
        step_index=step,
        component_name=name,
        component=catalog.components[name],
        catalog=catalog,
    )


def _fault(catalog: Catalog, name: str, drill: str) -> FaultContext:
    return FaultContext(
        drill_id=drill, component_name=name, component=catalog.components[name], catalog=catalog
    )


async def _walk(catalog: Catalog, name: str, incident: str) -> None:
    """Run what the agent runs for ``name``: start, check, RPO watch, ladder, faults."""
    component = catalog.components[name]
    provider = build_provider(catalog, name)
    await provider.start()
    await run_check(component.health, clock=RealClock())
    if component.backup is None and isinstance(provider, NativeRecoveryPoints):
        await provider.native_window()
    for index, step in enumerate(component.recovery):
        await provider.carry_out(step, _action(catalog, name, incident, index))
    if not component.drills.allowed:  # drills are granted only where they are allowed
        return
    for fault in component.drills.faults or provider.info.faults:
        ctx = _fault(catalog, name, f"{name}-{fault}")
        injected = await provider.inject_fault(fault, ctx)  # type: ignore[attr-defined]
        await provider.undo_fault(injected, ctx)  # type: ignore[attr-defined]


def _assert_granted(made: set[str], catalog: Catalog) -> None:
    assert made, "nothing was recorded: the hook is not on paramedic's clients"
    missing = sorted(made - set(actions_for(catalog)))
    assert not missing, f"called but not granted by `paramedic aws permissions`: {missing}"


async def test_an_rds_instance_without_backup_its_rpo_watch_is_granted(
    tmp_path: Path, moto: MotoAccount, made_calls: set[str]
) -> None:
    placed_db(moto)
    component = rds_component()
    component["recovery"] = [{"strategy": "restart_service", "timeout": "30s"}]
    catalog = load_catalog(write_catalog(tmp_path, moto, {"orders": component}))
    await _walk(catalog, "orders", "inc-20261125T120000-orders-0001")
    assert "rds:DescribeDBInstanceAutomatedBackups" in made_calls  # the RPO watch ran
    _assert_granted(made_calls, catalog)


async def test_an_rds_instance_restored_renamed_into_place_and_drilled(
    tmp_path: Path, moto: MotoAccount, made_calls: set[str]
) -> None:
    placed_db(moto)
    component = rds_component()
    component["drills"] = {"allowed": True}
    catalog = load_catalog(write_catalog(tmp_path, moto, {"orders": component}))
    await _walk(catalog, "orders", "inc-20261125T120000-orders-0002")
    # the drill deleted the instance: restore it again, from its retained backups or snapshot
    provider = build_provider(catalog, "orders")
    await provider.carry_out(
        STEP.validate_python({"strategy": "restore_from_backup", "timeout": "60s"}),
        _action(catalog, "orders", "inc-20261125T130000-orders-0003"),
    )
    assert {"rds:DeleteDBInstance", "rds:DescribeDBSnapshots", "rds:ModifyDBInstance"} <= made_calls
    _assert_granted(made_calls, catalog)


async def test_an_rds_instance_restored_with_a_route53_cutover(
    tmp_path: Path, moto: MotoAccount, made_calls: set[str]
) -> None:
    placed_db(moto)
    zone = moto.client("route53").create_hosted_zone(Name="internal.example", CallerReference="w")
    record = {"zone_id": zone["HostedZone"]["Id"], "name": "orders.internal.example", "ttl": 30}
    component = rds_component(cutover="route53", route53=record)
    catalog = load_catalog(write_catalog(tmp_path, moto, {"orders": component}))
    await _walk(catalog, "orders", "inc-20261125T120000-orders-0004")
    assert {"route53:ChangeResourceRecordSets", "route53:GetChange"} <= made_calls
    _assert_granted(made_calls, catalog)


async def test_an_ec2_instance_replaced_with_everything_moved(
    tmp_path: Path, moto: MotoAccount, made_calls: set[str]
) -> None:
    world = ec2_setup.build_world(moto)
    recovery = [
        {"strategy": "restart_service", "timeout": "30s"},
        {"strategy": "replace_instance", "timeout": "60s"},
    ]
    catalog = load_catalog(ec2_setup.write_catalog(tmp_path, moto, world.spec(), recovery))
    await _walk(catalog, "web", "inc-20261125T120000-web-0001")
    assert {"ec2:RunInstances", "route53:GetChange", "ec2:AttachVolume"} <= made_calls
    _assert_granted(made_calls, catalog)


async def test_the_checks_and_the_agent_s_own_aws_side_are_granted(
    tmp_path: Path, moto: MotoAccount, made_calls: set[str]
) -> None:
    world = ec2_setup.build_world(moto)
    moto.client("cloudwatch").put_metric_alarm(
        AlarmName="web-down",
        MetricName="StatusCheckFailed",
        Namespace="AWS/EC2",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    health_check = moto.client("route53").create_health_check(
        CallerReference="walk",
        HealthCheckConfig={"IPAddress": "10.0.1.4", "Port": 80, "Type": "HTTP"},
    )["HealthCheck"]["Id"]
    moto.client("sns").create_topic(Name="pm-walk-ops")
    queue_url = moto.client("sqs").create_queue(QueueName="pm-walk-events")["QueueUrl"]
    stopped = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": EC2_STATE_CHANGE,
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:ec2:us-east-1:123456789012:instance/{world.instance_id}"],
        "detail": {"instance-id": world.instance_id, "state": "stopped"},
    }
    moto.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(stopped))

    def ec2(health: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "application_server",
            "rto": "5m",
            "rpo": "0s",
            "provider": "aws.ec2",
            "spec": {"instance_id": world.instance_id},
            "health": {"interval": "1s", "timeout": "5s", **health},
            "recovery": [],
        }

    data = {
        "version": 1,
        "state": f"sqlite:///{tmp_path / 'state.db'}",
        "aws": moto.catalog_block,
        "agent": {
            "events_queue": "pm-walk-events",
            "metrics_namespace": "PmWalk",
            "claims": "dynamodb://pm-walk",
        },
        "notify": [{"name": "ops", "url": "sns://pm-walk-ops"}],
        "components": {
            "web": ec2({"check": "aws.ec2_status"}),
            "web-target": ec2(
                {"check": "aws.target_health", "target_group_arn": world.target_group}
            ),
            "web-alarm": ec2({"check": "aws.cloudwatch_alarm", "alarm_name": "web-down"}),
            "web-dns": ec2({"check": "aws.route53_health", "health_check_id": health_check}),
        },
    }
    path = tmp_path / "paramedic.yaml"
    path.write_text(json.dumps(data))
    catalog = load_catalog(path)
    for name in catalog.components:
        await _walk(catalog, name, f"inc-20261125T120000-{name}-0001")

    # the agent's AWS side, as agent.py drives it
    tasks: list[asyncio.Task[Any]] = []
    side = AwsSide(
        catalog,
        DecisionLog("text", io.StringIO()),
        RealClock(),
        lambda c: tasks.append(asyncio.ensure_future(c)),
    )
    await side.start()
    assert await side.claim("web", timedelta(minutes=10)) is None  # won
    side.observe("web", False)
    side.incident_opened("web")
    side.recovery_measured("web", 12.0, 0.0, "recovered")
    await asyncio.gather(*tasks)
    await side.flush_metrics()
    await side.release("web", {"id": "inc-20261125T120000-web-0001", "component": "web"})
    failing: asyncio.Queue[str] = asyncio.Queue()

    async def on_failure(component: str, summary: str) -> None:
        await failing.put(component)

    consumer = asyncio.create_task(side.consume_events(on_failure))
    try:
        assert await asyncio.wait_for(failing.get(), 30) == "web"
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    await SnsSender(list(catalog.notify), aws=catalog.aws).send(
        catalog.notify[0],
        Notice(Event.failure_detected, "web", "inc-1", "[paramedic] web: failure detected", {}),
    )
    assert {
        "sqs:ReceiveMessage",
        "cloudwatch:PutMetricData",
        "dynamodb:UpdateItem",
        "sns:Publish",
        "cloudwatch:DescribeAlarms",
        "elasticloadbalancing:DescribeTargetHealth",
        "route53:GetHealthCheckStatus",
    } <= made_calls
    _assert_granted(made_calls, catalog)
