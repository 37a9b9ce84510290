"""The aws.ec2 provider against moto's server: replace (provider and CLI), idempotency, restart, faults."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from botocore.stub import Stubber
from pydantic import TypeAdapter

from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Catalog, Strategy
from paramedic.errors import ProviderError
from paramedic.providers.aws import ssm
from paramedic.providers.aws.ec2 import Ec2Provider, current_instance
from paramedic.providers.base import ActionContext, FaultCapable, FaultContext, Provider
from paramedic.providers.registry import build_provider
from tests.aws_server import MotoAccount
from tests.e2e.harness import paramedic
from tests.integration.aws.ec2_setup import USER_DATA, Ec2World, build_world, write_catalog

pytestmark = pytest.mark.integration

STEP: TypeAdapter[Strategy] = TypeAdapter(Strategy)
COMMAND_ID = "0b6d5f2e-6a8b-4d4e-9c39-4f3f8d1f2a10"


def context(catalog: Catalog, incident: str = "inc-1", step: int = 0) -> ActionContext:
    """The context of one recovery step of ``web``."""
    return ActionContext(
        incident_id=incident,
        step_index=step,
        component_name="web",
        component=catalog.components["web"],
        catalog=catalog,
    )


def provider_for(path: Path) -> tuple[Catalog, Provider]:
    """The catalog at ``path`` and the registry's provider of ``web``."""
    catalog = load_catalog(path)
    return catalog, build_provider(catalog, "web")


def assert_replaced(world: Ec2World, new_id: str, incident: str) -> None:
    """Everything the failed instance had now belongs to ``new_id``; the old one is kept, stopped."""
    old_id = world.instance_id
    assert new_id != old_id
    new, old = world.instance(new_id), world.instance(old_id)
    assert new["State"]["Name"] == "running"
    assert (new["SubnetId"], new["ImageId"]) == (world.subnet, world.ami)
    assert [g["GroupId"] for g in new["SecurityGroups"]] == [world.security_group]
    assert world.tags(new_id)["Name"] == "web-1"
    assert world.tags(new_id)["team"] == "shop"
    assert world.tags(new_id)["paramedic:component"] == "web"
    assert old["State"]["Name"] == "stopped"  # kept aside, not terminated
    old_tags = world.tags(old_id)
    assert old_tags["paramedic:replaced-by"] == new_id
    assert old_tags["paramedic:incident"] == incident
    assert "paramedic:component" not in old_tags
    ec2 = world.moto.client("ec2")
    targets = world.moto.client("elbv2").describe_target_health(TargetGroupArn=world.target_group)
    assert [
        (t["Target"]["Id"], t["Target"]["Port"]) for t in targets["TargetHealthDescriptions"]
    ] == [(new_id, 8080)]
    records = world.moto.client("route53").list_resource_record_sets(HostedZoneId=world.zone_id)
    a_record = next(r for r in records["ResourceRecordSets"] if r["Type"] == "A")
    assert a_record["ResourceRecords"] == [{"Value": new["PrivateIpAddress"]}]
    address = ec2.describe_addresses(AllocationIds=[world.allocation])["Addresses"][0]
    assert address["InstanceId"] == new_id
    volume = ec2.describe_volumes(VolumeIds=[world.volume])["Volumes"][0]
    assert [(a["InstanceId"], a["Device"]) for a in volume["Attachments"]] == [(new_id, "/dev/sdg")]
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[world.eni])["NetworkInterfaces"][0]
    assert (eni["Attachment"]["InstanceId"], eni["Attachment"]["DeviceIndex"]) == (new_id, 1)


# ---------------------------------------------------------------- replace_instance


async def test_replace_instance_moves_everything_to_a_copy_and_keeps_the_old_one(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    catalog, provider = provider_for(
        write_catalog(tmp_path, moto, world.spec(), [{"strategy": "replace_instance"}])
    )
    await provider.start()
    result = await provider.carry_out(
        STEP.validate_python({"strategy": "replace_instance"}), context(catalog)
    )
    new_id = result.detail["new_instance"]
    assert result.detail["old_instance"] == world.instance_id
    assert_replaced(world, new_id, "inc-1")
    for done in (
        "launched",
        "moved ENI",
        "Elastic IP",
        "moved data volume",
        "registered",
        "UPSERT",
    ):
        assert done in result.output
    attribute = moto.client("ec2").describe_instance_attribute(
        InstanceId=new_id, Attribute="userData"
    )
    assert base64.b64decode(attribute["UserData"]["Value"]).decode() == USER_DATA
    assert await current_instance(moto.settings, "web", world.instance_id) == new_id


def test_recover_by_the_cli_replaces_the_stopped_instance(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    moto.client("ec2").stop_instances(InstanceIds=[world.instance_id])
    path = write_catalog(tmp_path, moto, world.spec(), [{"strategy": "replace_instance"}])
    result = paramedic(
        "recover", "web", "--json", "--catalog", str(path), cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    incident = json.loads(result.stdout)
    assert incident["state"] == "recovered"
    step = incident["steps"][0]
    assert step["status"] == "succeeded"
    tagged = moto.client("ec2").describe_instances(
        Filters=[{"Name": "tag:paramedic:component", "Values": ["web"]}]
    )
    new_id = tagged["Reservations"][0]["Instances"][0]["InstanceId"]
    assert_replaced(world, new_id, incident["id"])


async def test_replace_instance_twice_for_one_step_launches_one_instance(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    catalog, provider = provider_for(
        write_catalog(tmp_path, moto, world.spec(), [{"strategy": "replace_instance"}])
    )
    await provider.start()
    step = STEP.validate_python({"strategy": "replace_instance"})
    first = await provider.carry_out(step, context(catalog))
    again = await provider.carry_out(step, context(catalog))
    assert again.detail["new_instance"] == first.detail["new_instance"]
    assert "found replacement" in again.output
    launched = moto.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:paramedic:incident", "Values": ["inc-1"]},
            {"Name": "tag:paramedic:step", "Values": ["0"]},
        ]
    )
    assert sum(len(r["Instances"]) for r in launched["Reservations"]) == 1
    assert_replaced(world, first.detail["new_instance"], "inc-1")


async def test_a_step_that_failed_half_way_finishes_the_same_replacement(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    wrong = world.spec(route53={"zone_id": "ZNOSUCHZONE", "name": world.record})
    catalog, provider = provider_for(write_catalog(tmp_path, moto, wrong, []))
    await provider.start()
    step = STEP.validate_python({"strategy": "replace_instance"})
    with pytest.raises(ProviderError, match=r"route53 ChangeResourceRecordSets ZNOSUCHZONE"):
        await provider.carry_out(step, context(catalog))
    fixed, provider = provider_for(write_catalog(tmp_path, moto, world.spec(), []))
    result = await provider.carry_out(step, context(fixed))
    assert "found replacement" in result.output
    assert_replaced(world, result.detail["new_instance"], "inc-1")


async def test_replace_from_a_launch_template_keeps_subnet_and_security_groups(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    template = moto.client("ec2").create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={"ImageId": world.ami, "InstanceType": "t3.large"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    spec = {
        "instance_id": world.instance_id,
        "launch_template": {"name": "web"},
        "on_replace": "terminate",
    }
    catalog, provider = provider_for(write_catalog(tmp_path, moto, spec, []))
    result = await provider.carry_out(
        STEP.validate_python({"strategy": "replace_instance"}), context(catalog)
    )
    new = world.instance(result.detail["new_instance"])
    assert (new["InstanceType"], new["SubnetId"]) == ("t3.large", world.subnet)
    assert [g["GroupId"] for g in new["SecurityGroups"]] == [world.security_group]
    assert template.startswith("lt-")
    assert world.instance(world.instance_id)["State"]["Name"] == "terminated"  # the spec said so


# ---------------------------------------------------------------- restart_service


async def test_restart_by_ssm_sends_one_command_per_step(moto: MotoAccount, tmp_path: Path) -> None:
    world = build_world(moto)
    spec = {"instance_id": world.instance_id, "restart_command": "systemctl restart shop"}
    catalog, provider = provider_for(write_catalog(tmp_path, moto, spec, []))
    step = STEP.validate_python({"strategy": "restart_service"})
    result = await provider.carry_out(step, context(catalog))
    assert "`systemctl restart shop` Success" in result.output
    again = await provider.carry_out(step, context(catalog))
    assert again.detail["command_id"] == result.detail["command_id"]
    assert "sent before this attempt" in again.output
    commands = moto.client("ssm").list_commands(InstanceId=world.instance_id)["Commands"]
    assert [(c["Comment"], c["Parameters"]["commands"]) for c in commands] == [
        ("paramedic inc-1-0", ["systemctl restart shop"])
    ]


async def test_a_failed_ssm_command_reports_its_stderr() -> None:
    import boto3

    client = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    instance = "i-0123456789abcdef0"
    stub.add_response("list_commands", {"Commands": []}, {"InstanceId": instance, "MaxResults": 50})
    stub.add_response("send_command", {"Command": {"CommandId": COMMAND_ID, "Status": "Pending"}})
    stub.add_client_error("get_command_invocation", "InvocationDoesNotExist")
    stub.add_response("get_command_invocation", {"CommandId": COMMAND_ID, "Status": "InProgress"})
    stub.add_response(
        "get_command_invocation",
        {
            "CommandId": COMMAND_ID,
            "Status": "Failed",
            "ResponseCode": 5,
            "StandardErrorContent": "Job for shop.service failed.\nSee journalctl -xe\n",
        },
    )
    from datetime import timedelta

    with stub, pytest.raises(ProviderError) as caught:
        await ssm.run_shell(
            client,
            instance,
            "systemctl restart shop",
            "paramedic inc-1-0",
            within=timedelta(seconds=5),
            interval=timedelta(milliseconds=10),
        )
    assert str(caught.value) == (
        f"SSM command {COMMAND_ID} on {instance} ended Failed (exit 5): "
        "Job for shop.service failed. See journalctl -xe"
    )
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("restart_by", "said"), [("reboot", "rebooted"), ("stop_start", "stopped and started")]
)
async def test_restart_by_reboot_or_stop_start(
    moto: MotoAccount, tmp_path: Path, restart_by: str, said: str
) -> None:
    world = build_world(moto)
    spec = {"instance_id": world.instance_id, "restart_by": restart_by}
    catalog, provider = provider_for(write_catalog(tmp_path, moto, spec, []))
    step = STEP.validate_python({"strategy": "restart_service"})
    result = await provider.carry_out(step, context(catalog))
    assert result.output == f"{said} instance {world.instance_id}"
    assert world.instance(world.instance_id)["State"]["Name"] == "running"
    assert world.tags(world.instance_id)["paramedic:restarted"] == "inc-1-0"
    again = await provider.carry_out(step, context(catalog))
    assert again.output == f"instance {world.instance_id} was already restarted for this step"


async def test_restart_starts_a_stopped_instance(moto: MotoAccount, tmp_path: Path) -> None:
    world = build_world(moto)
    moto.client("ec2").stop_instances(InstanceIds=[world.instance_id])
    catalog, provider = provider_for(
        write_catalog(tmp_path, moto, {"instance_id": world.instance_id}, [])
    )
    result = await provider.carry_out(
        STEP.validate_python({"strategy": "restart_service"}), context(catalog)
    )
    assert result.output == f"instance {world.instance_id} was stopped: started it"
    assert world.instance(world.instance_id)["State"]["Name"] == "running"


async def test_restart_of_a_terminated_instance_says_to_replace_it(
    moto: MotoAccount, tmp_path: Path
) -> None:
    world = build_world(moto)
    moto.client("ec2").terminate_instances(InstanceIds=[world.instance_id])
    catalog, provider = provider_for(
        write_catalog(tmp_path, moto, {"instance_id": world.instance_id}, [])
    )
    with pytest.raises(ProviderError, match=r"is terminated; restart_service cannot bring it back"):
        await provider.carry_out(
            STEP.validate_python({"strategy": "restart_service"}), context(catalog)
        )


# ---------------------------------------------------------------- start, spec, faults


async def test_start_tags_the_spec_instance_once(moto: MotoAccount, tmp_path: Path) -> None:
    world = build_world(moto)
    _, provider = provider_for(
        write_catalog(tmp_path, moto, {"instance_id": world.instance_id}, [])
    )
    await provider.start()
    assert world.tags(world.instance_id)["paramedic:component"] == "web"
    await provider.start()  # idempotent


async def test_start_names_a_missing_instance(moto: MotoAccount, tmp_path: Path) -> None:
    _, provider = provider_for(
        write_catalog(tmp_path, moto, {"instance_id": "i-0123456789abcdef0"}, [])
    )
    with pytest.raises(ProviderError) as caught:
        await provider.start()
    assert str(caught.value) == (
        "component 'web': spec.instance_id i-0123456789abcdef0 does not exist in region us-east-1; "
        "fix spec.instance_id or aws.region"
    )


def test_a_bad_spec_is_named_with_its_key(moto: MotoAccount, tmp_path: Path) -> None:
    catalog = Catalog.model_validate(
        {
            "version": 1,
            "components": {
                "web": {
                    "type": "application_server",
                    "rto": "1m",
                    "rpo": "0s",
                    "provider": "aws.ec2",
                    "spec": {"instance_id": "i-1", "restart_by": "ssm"},
                    "health": {"check": "aws.ec2_status"},
                }
            },
        }
    )
    with pytest.raises(
        ProviderError, match=r"component 'web': spec.instance_id: String should match"
    ):
        Ec2Provider(catalog=catalog, name="web")


async def test_stop_instance_fault_and_its_undo(moto: MotoAccount, tmp_path: Path) -> None:
    world = build_world(moto)
    catalog, provider = provider_for(
        write_catalog(tmp_path, moto, {"instance_id": world.instance_id}, [])
    )
    assert isinstance(provider, FaultCapable)
    fault_ctx = FaultContext(
        drill_id="d-1", component_name="web", component=catalog.components["web"], catalog=catalog
    )
    injected = await provider.inject_fault("stop-instance", fault_ctx)
    assert injected.description == f"stopped instance {world.instance_id}"
    assert world.instance(world.instance_id)["State"]["Name"] == "stopped"
    assert (
        await provider.undo_fault(injected, fault_ctx)
        == f"started instance {world.instance_id} again"
    )
    assert world.instance(world.instance_id)["State"]["Name"] == "running"
    assert (
        await provider.undo_fault(injected, fault_ctx)
        == f"instance {world.instance_id} is running: nothing to undo"
    )
    rebooted = await provider.inject_fault("reboot-instance", fault_ctx)
    assert rebooted.description == f"rebooted instance {world.instance_id}"
    with pytest.raises(
        ProviderError,
        match=r"unknown fault 'melt' for aws.ec2; offered: stop-instance, reboot-instance",
    ):
        await provider.inject_fault("melt", fault_ctx)


async def test_undo_leaves_a_replaced_instance_stopped(moto: MotoAccount, tmp_path: Path) -> None:
    world = build_world(moto)
    catalog, provider = provider_for(write_catalog(tmp_path, moto, world.spec(), []))
    await provider.start()
    fault_ctx = FaultContext(
        drill_id="d-1", component_name="web", component=catalog.components["web"], catalog=catalog
    )
    assert isinstance(provider, FaultCapable)
    injected = await provider.inject_fault("stop-instance", fault_ctx)
    result = await provider.carry_out(
        STEP.validate_python({"strategy": "replace_instance"}), context(catalog)
    )
    said = await provider.undo_fault(injected, fault_ctx)
    assert (
        said
        == f"instance {world.instance_id} was replaced by {result.detail['new_instance']}: left as it is"
    )
    assert world.instance(world.instance_id)["State"]["Name"] == "stopped"
