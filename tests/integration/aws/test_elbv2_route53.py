"""The compute probes (aws.ec2_status, aws.target_health, aws.route53_health) and the re-pointing
helpers (ELBv2 targets, Route 53 UPSERT) against moto's server; Stubber where moto cannot fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from paramedic.catalog.loader import load_catalog
from paramedic.checks import run_check
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.clock import RealClock
from paramedic.providers.aws import elbv2, route53
from paramedic.providers.aws.session import AwsError, client
from tests.aws_server import MotoAccount
from tests.integration.aws.ec2_setup import Ec2World, build_world, write_catalog

pytestmark = pytest.mark.integration


async def check(
    tmp_path: Path, moto: MotoAccount, world: Ec2World, health: dict[str, Any]
) -> CheckResult:
    """Run ``health`` as the check of the component ``web`` (through the check registry)."""
    spec = {"instance_id": world.instance_id}
    catalog = load_catalog(write_catalog(tmp_path, moto, spec, [], {"timeout": "5s", **health}))
    return await run_check(catalog.components["web"].health, clock=RealClock())


# ---------------------------------------------------------------- aws.ec2_status


async def test_ec2_status_passes_on_a_running_instance_and_fails_once_stopped(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    ok = await check(tmp_path, moto, world, {"check": "aws.ec2_status"})
    assert (ok.ok, ok.detail) == (True, f"instance {world.instance_id} running, status checks ok")
    moto.client("ec2").stop_instances(InstanceIds=[world.instance_id])
    stopped = await check(tmp_path, moto, world, {"check": "aws.ec2_status"})
    assert stopped.summary == f"exited: instance {world.instance_id} is stopped"


async def test_ec2_status_follows_the_component_tag(moto: MotoAccount, tmp_path: Path) -> None:
    world = build_world(moto)
    ec2 = moto.client("ec2")
    other = ec2.run_instances(ImageId=world.ami, MinCount=1, MaxCount=1, SubnetId=world.subnet)
    other_id = other["Instances"][0]["InstanceId"]
    ec2.create_tags(Resources=[other_id], Tags=[{"Key": "paramedic:component", "Value": "web"}])
    ec2.stop_instances(InstanceIds=[world.instance_id])  # the spec's instance is not watched now
    result = await check(tmp_path, moto, world, {"check": "aws.ec2_status"})
    assert result.detail == f"instance {other_id} running, status checks ok"


async def test_ec2_status_of_an_unknown_instance_is_an_error_line(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    missing = "i-0123456789abcdef0"
    result = await check(tmp_path, moto, world, {"check": "aws.ec2_status", "instance_id": missing})
    assert result.failure == FailureClass.error
    assert result.detail.startswith(
        f"ec2 DescribeInstanceStatus {missing}: InvalidInstanceID.NotFound"
    )


@pytest.mark.parametrize(
    ("instance", "system", "ok", "detail"),
    [
        ("initializing", "ok", False, "instance status initializing, system status ok"),
        ("ok", "impaired", False, "instance status ok, system status impaired"),
        ("insufficient-data", "ok", True, "instance status insufficient-data, system status ok"),
    ],
)
async def test_ec2_status_reads_both_status_checks(
    moto: MotoAccount, tmp_path: Path, instance: str, system: str, ok: bool, detail: str
) -> None:
    world = build_world(moto)
    status = {
        "InstanceStatuses": [
            {
                "InstanceId": world.instance_id,
                "InstanceState": {"Code": 16, "Name": "running"},
                "InstanceStatus": {"Status": instance},
                "SystemStatus": {"Status": system},
            }
        ]
    }
    health = {"check": "aws.ec2_status", "instance_id": world.instance_id}
    with Stubber(client(moto.settings, "ec2")) as stub:  # moto reports ok at once, always
        stub.add_response("describe_instance_status", status)
        result = await check(tmp_path, moto, world, health)
    assert result.ok is ok
    assert result.detail == f"instance {world.instance_id} running, {detail}"
    if not ok:
        assert result.failure == FailureClass.bad_response


# ---------------------------------------------------------------- aws.target_health


async def test_target_health_passes_healthy_and_fails_with_the_reason(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    health = {"check": "aws.target_health", "target_group_arn": world.target_group}
    ok = await check(tmp_path, moto, world, health)
    assert (ok.ok, ok.detail) == (True, f"{world.instance_id} healthy in target group web")
    moto.client("ec2").stop_instances(InstanceIds=[world.instance_id])
    sick = await check(tmp_path, moto, world, health)
    assert sick.summary == (
        f"bad_response: {world.instance_id} is unused (Target.InvalidState: Target is in the "
        f"stopped state) in target group web"
    )


async def test_target_health_of_a_group_counts_every_target(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    ec2 = moto.client("ec2")
    other = ec2.run_instances(ImageId=world.ami, MinCount=1, MaxCount=1, SubnetId=world.subnet)
    other_id = other["Instances"][0]["InstanceId"]
    await elbv2.register_target(moto.settings, world.target_group, other_id, 8080)
    spec: dict[str, Any] = {"group": "web-asg"}
    health = {"check": "aws.target_health", "target_group_arn": world.target_group}
    path = write_catalog(tmp_path, moto, spec, [], {"timeout": "5s", **health})
    text = path.read_text().replace('"aws.ec2"', '"aws.asg"')
    path.write_text(text)
    catalog = load_catalog(path)
    ok = await run_check(catalog.components["web"].health, clock=RealClock())
    assert ok.detail == "2 of 2 targets healthy in target group web"
    ec2.stop_instances(InstanceIds=[other_id])
    sick = await run_check(catalog.components["web"].health, clock=RealClock())
    assert sick.summary.startswith(
        f"bad_response: 1 of 2 targets of target group web not healthy: {other_id} unused"
    )


async def test_register_and_deregister_a_target(moto: MotoAccount) -> None:
    world = build_world(moto)
    await elbv2.deregister_target(moto.settings, world.target_group, world.instance_id, 8080)
    assert await elbv2.target_health(moto.settings, world.target_group) == []
    alone = await elbv2.target_health(moto.settings, world.target_group, world.instance_id)
    assert (alone[0].state, alone[0].reason) == ("unused", "Target.NotRegistered")
    await elbv2.register_target(moto.settings, world.target_group, world.instance_id)
    [target] = await elbv2.target_health(moto.settings, world.target_group)
    assert (target.instance_id, target.port, target.healthy) == (world.instance_id, 80, True)


# ---------------------------------------------------------------- Route 53


STEP = timedelta(seconds=30)


async def test_upsert_record_creates_then_replaces_the_value(moto: MotoAccount) -> None:
    world = build_world(moto)
    await route53.upsert_record(
        moto.settings, world.zone_id, world.record, "A", "10.0.1.7", 30, within=STEP
    )
    zone = world.zone_id.removeprefix("/hostedzone/")
    await route53.upsert_record(moto.settings, zone, world.record, "A", "10.0.1.8", within=STEP)
    values = await route53.record_values(moto.settings, world.zone_id, world.record, "A")
    assert values == ["10.0.1.8"]


async def test_upsert_record_asks_get_change_before_it_returns(moto: MotoAccount) -> None:
    world = build_world(moto)
    route53_client = client(moto.settings, "route53")
    asked: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        asked.append((model.name, params))

    route53_client.meta.events.register("before-parameter-build.route53.*", record)
    try:
        change = await route53.upsert_record(
            moto.settings, world.zone_id, world.record, "A", "10.0.1.9", within=STEP
        )
    finally:
        route53_client.meta.events.unregister("before-parameter-build.route53.*", record)
    assert [name for name, _ in asked] == ["ChangeResourceRecordSets", "GetChange"]
    # botocore's own handler has already cut "/change/" off the id the call sends
    assert change.startswith("/change/") and asked[1][1] == {"Id": change.removeprefix("/change/")}


def _change(status: str) -> dict[str, Any]:
    # the shape of Route 53's answer (ChangeResourceRecordSets and GetChange alike)
    submitted = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return {
        "ChangeInfo": {"Id": "/change/C2682N5HXP0BZ4", "Status": status, "SubmittedAt": submitted}
    }


async def test_upsert_record_waits_until_route53_says_insync(moto: MotoAccount) -> None:
    route53_client = client(moto.settings, "route53")
    with Stubber(route53_client) as stub:  # moto answers INSYNC at once; AWS answers PENDING
        stub.add_response("change_resource_record_sets", _change("PENDING"))
        for status in ("PENDING", "PENDING", "INSYNC"):
            stub.add_response("get_change", _change(status), {"Id": "/change/C2682N5HXP0BZ4"})
        change = await route53.upsert_record(
            moto.settings, "Z1D633PJN98FT9", "db.example.com", "CNAME", "orders.x", within=STEP
        )
        stub.assert_no_pending_responses()
    assert change == "/change/C2682N5HXP0BZ4"


async def test_a_change_still_pending_at_the_step_timeout_fails_the_step(
    moto: MotoAccount,
) -> None:
    route53_client = client(moto.settings, "route53")
    with Stubber(route53_client) as stub:
        stub.add_response("change_resource_record_sets", _change("PENDING"))
        for _ in range(4):
            stub.add_response("get_change", _change("PENDING"))
        with pytest.raises(AwsError) as caught:
            await route53.upsert_record(
                moto.settings,
                "Z1D633PJN98FT9",
                "db.example.com",
                "CNAME",
                "orders.x",
                within=timedelta(milliseconds=300),
            )
    assert str(caught.value) == (
        "timed out after 0.3s waiting for Route 53 change /change/C2682N5HXP0BZ4 INSYNC"
    )


async def test_route53_health_passes_when_the_checkers_succeed(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    made = moto.client("route53").create_health_check(
        CallerReference="web",
        HealthCheckConfig={
            "IPAddress": "10.0.1.4",
            "Port": 80,
            "Type": "HTTP",
            "ResourcePath": "/",
        },
    )
    hc = made["HealthCheck"]["Id"]
    ok = await check(tmp_path, moto, world, {"check": "aws.route53_health", "health_check_id": hc})
    assert ok.detail == f"Route 53 health check {hc}: 1 of 1 checkers report success"


async def test_route53_health_fails_when_most_checkers_fail(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    hc = "abcdef01-2345-6789-abcd-ef0123456789"

    def seen(status: str) -> dict[str, Any]:
        return {
            "Region": "us-east-1",
            "IPAddress": "15.177.2.1",
            "StatusReport": {"Status": status},
        }

    answer = {
        "HealthCheckObservations": [
            seen("Success: HTTP Status Code 200, OK"),
            seen("Failure: Connection timed out. The endpoint or the internet connection is down."),
            seen("Failure: HTTP Status Code 503, Service Unavailable"),
        ]
    }
    with Stubber(client(moto.settings, "route53")) as stub:  # moto's checkers always succeed
        stub.add_response("get_health_check_status", answer, {"HealthCheckId": hc})
        result = await check(
            tmp_path, moto, world, {"check": "aws.route53_health", "health_check_id": hc}
        )
    assert result.summary == (
        f"bad_response: Route 53 health check {hc}: 1 of 3 checkers report success: "
        "Failure: Connection timed out. The endpoint or the internet connection is down."
    )


async def test_route53_health_of_an_unknown_check_is_an_error_line(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    result = await check(
        tmp_path, moto, world, {"check": "aws.route53_health", "health_check_id": "nope"}
    )
    assert result.failure == FailureClass.error
    assert result.detail.startswith("route53 GetHealthCheckStatus nope: NoSuchHealthCheck")
