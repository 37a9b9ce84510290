"""The aws.asg provider against moto's server: replace an unhealthy instance, scale out within max.

moto's Auto Scaling does not act on ``SetInstanceHealth(Unhealthy)``: the
instance stays InService/Unhealthy and no replacement comes (tested below).
Where a test needs the group to replace it, a stand-in does what AWS would:
it takes the Unhealthy instance out of the group without lowering the desired
capacity (``DetachInstances``), and moto launches a new one.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Catalog, Strategy
from paramedic.errors import ProviderError
from paramedic.providers.aws.session import AwsError
from paramedic.providers.base import ActionContext, Provider
from paramedic.providers.registry import build_provider
from tests.aws_server import MotoAccount

pytestmark = pytest.mark.integration

STEP: TypeAdapter[Strategy] = TypeAdapter(Strategy)


@dataclass
class Group:
    """An Auto Scaling group ``g`` behind target group ``web``."""

    moto: MotoAccount
    target_group: str

    def describe(self) -> dict[str, Any]:
        """The group as DescribeAutoScalingGroups shows it."""
        answer = self.moto.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=["g"]
        )
        found: dict[str, Any] = answer["AutoScalingGroups"][0]
        return found

    def members(self) -> dict[str, str]:
        """Instance id -> health status."""
        return {i["InstanceId"]: i["HealthStatus"] for i in self.describe()["Instances"]}


def make_group(moto: MotoAccount, desired: int = 2, maximum: int = 3) -> Group:
    """A launch template, a target group and the group using both."""
    ec2 = moto.client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")
    template = ec2.create_launch_template(
        LaunchTemplateName="shop", LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    tg = moto.client("elbv2").create_target_group(
        Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    moto.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Default"},
        MinSize=1,
        MaxSize=maximum,
        DesiredCapacity=desired,
        VPCZoneIdentifier=subnet["Subnet"]["SubnetId"],
        TargetGroupARNs=[tg],
    )
    return Group(moto, tg)


def provider_for(
    tmp_path: Path, moto: MotoAccount, health: dict[str, Any], **spec: Any
) -> tuple[Catalog, Provider]:
    """A catalog with one ``aws.asg`` component ``shop`` and its provider."""
    data = {
        "version": 1,
        "aws": moto.catalog_block,
        "components": {
            "shop": {
                "type": "application_server",
                "rto": "5m",
                "rpo": "0s",
                "provider": "aws.asg",
                "spec": {"group": "g", **spec},
                "health": health,
                "recovery": [{"strategy": "replace_instance"}, {"strategy": "scale_out"}],
            }
        },
    }
    path = tmp_path / "paramedic.yaml"
    path.write_text(json.dumps(data))
    catalog = load_catalog(path)
    return catalog, build_provider(catalog, "shop")


def context(catalog: Catalog, step: int = 0) -> ActionContext:
    """The context of one recovery step of ``shop``."""
    return ActionContext(
        incident_id="inc-1",
        step_index=step,
        component_name="shop",
        component=catalog.components["shop"],
        catalog=catalog,
    )


async def stand_in_for_auto_scaling(group: Group) -> None:
    """What AWS does and moto does not: take Unhealthy instances out and launch replacements."""
    autoscaling = group.moto.client("autoscaling")
    while True:
        sick = [i for i, health in group.members().items() if health == "Unhealthy"]
        if sick:
            await asyncio.to_thread(
                autoscaling.detach_instances,
                InstanceIds=sick,
                AutoScalingGroupName="g",
                ShouldDecrementDesiredCapacity=False,
            )
        await asyncio.sleep(0.1)


async def test_replace_marks_the_unhealthy_target_and_waits_for_the_group(
    moto: MotoAccount, tmp_path: Path
) -> None:
    group = make_group(moto)
    sick = next(iter(group.members()))
    moto.client("ec2").stop_instances(InstanceIds=[sick])  # the target group now says unused
    health = {"check": "aws.target_health", "target_group_arn": group.target_group}
    catalog, provider = provider_for(tmp_path, moto, health)
    stand_in = asyncio.create_task(stand_in_for_auto_scaling(group))
    try:
        result = await provider.carry_out(
            STEP.validate_python({"strategy": "replace_instance"}), context(catalog)
        )
    finally:
        stand_in.cancel()
    assert result.detail["marked"] == [sick]
    healthy = result.detail["healthy"]
    assert len(healthy) == 2 and sick not in healthy
    assert result.output.startswith(f"marked {sick} Unhealthy in g; the group has 2/2 healthy")
    state = moto.client("ec2").describe_instances(InstanceIds=[sick])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "stopped"  # not terminated


async def test_moto_leaves_an_unhealthy_instance_in_service(
    moto: MotoAccount, tmp_path: Path
) -> None:
    group = make_group(moto)
    named = next(iter(group.members()))
    health = {"check": "aws.ec2_status", "instance_id": named}
    catalog, provider = provider_for(tmp_path, moto, health)
    step = STEP.validate_python({"strategy": "replace_instance", "timeout": "2s"})
    with pytest.raises(AwsError) as caught:
        await provider.carry_out(step, context(catalog))
    assert str(caught.value) == (
        "timed out after 1.8s waiting for Auto Scaling group g to have 2 healthy instances"
    )
    assert group.members()[named] == "Unhealthy"  # marked, still InService: moto replaces nothing
    assert len(group.members()) == 2


async def test_scale_out_raises_desired_once_per_step_and_refuses_at_max(
    moto: MotoAccount, tmp_path: Path
) -> None:
    group = make_group(moto, desired=1, maximum=3)
    health = {"check": "aws.target_health", "target_group_arn": group.target_group}
    catalog, provider = provider_for(tmp_path, moto, health)
    one = STEP.validate_python({"strategy": "scale_out"})
    result = await provider.carry_out(one, context(catalog, step=1))
    assert result.output == "raised desired capacity of g from 1 to 2; 2 healthy instances"
    again = await provider.carry_out(one, context(catalog, step=1))
    assert (
        again.output == "desired capacity of g was raised to 2 for this step; 2 healthy instances"
    )
    assert group.describe()["DesiredCapacity"] == 2
    many = STEP.validate_python({"strategy": "scale_out", "count": 5})
    capped = await provider.carry_out(many, context(catalog, step=2))
    assert capped.output == (
        "raised desired capacity of g from 2 to 3 (capped at max 3); 3 healthy instances"
    )
    with pytest.raises(ProviderError) as caught:
        await provider.carry_out(one, context(catalog, step=3))
    assert str(caught.value) == (
        "component 'shop': Auto Scaling group g is already at its maximum size (3 of max 3); "
        "scale_out cannot add instances: raise the group's MaxSize"
    )


async def test_an_unknown_group_is_named(moto: MotoAccount, tmp_path: Path) -> None:
    make_group(moto)
    health = {"check": "aws.ec2_status", "instance_id": "i-0123456789abcdef0"}
    catalog, provider = provider_for(tmp_path, moto, health)
    catalog.components["shop"].spec["group"] = "nope"
    provider = build_provider(catalog, "shop")
    with pytest.raises(ProviderError) as caught:
        await provider.carry_out(STEP.validate_python({"strategy": "scale_out"}), context(catalog))
    assert str(caught.value) == (
        "component 'shop': Auto Scaling group 'nope' does not exist in region us-east-1; "
        "fix spec.group or aws.region"
    )


def set_lifecycle(instance_id: str, state: str) -> None:
    """Put a group member in ``state`` in moto's backend (moto's instances are InService at once)."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    group = autoscaling_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].autoscaling_groups["g"]
    member = next(s for s in group.instance_states if s.instance.id == instance_id)
    member.lifecycle_state = state


async def test_replace_run_again_never_marks_the_replacement_still_launching(
    moto: MotoAccount, tmp_path: Path
) -> None:
    # After a crash the step runs again while Auto Scaling boots the replacement: that
    # instance is Pending and not yet healthy in the target group. Marking it Unhealthy would
    # have Auto Scaling terminate the very replacement the recovery waits for.
    group = make_group(moto)
    sick, launching = list(group.members())
    moto.client("ec2").stop_instances(InstanceIds=[sick, launching])
    set_lifecycle(launching, "Pending")
    health = {"check": "aws.target_health", "target_group_arn": group.target_group}
    catalog, provider = provider_for(tmp_path, moto, health)
    step = STEP.validate_python({"strategy": "replace_instance", "timeout": "1s"})
    with pytest.raises(AwsError):  # moto replaces nothing: the wait runs out
        await provider.carry_out(step, context(catalog))
    assert group.members() == {sick: "Unhealthy", launching: "Healthy"}


async def test_scale_out_run_again_after_a_crash_between_tag_and_capacity_finishes_it(
    moto: MotoAccount, tmp_path: Path
) -> None:
    # The tag is written before SetDesiredCapacity; an agent that stopped between the two
    # finds its tag and sets the capacity it announced (not desired + count again).
    group = make_group(moto, desired=1, maximum=3)
    moto.client("autoscaling").create_or_update_tags(
        Tags=[
            {
                "ResourceId": "g",
                "ResourceType": "auto-scaling-group",
                "Key": "paramedic:scale-out",
                "Value": "inc-1-1 1->2",
                "PropagateAtLaunch": False,
            }
        ]
    )
    health = {"check": "aws.target_health", "target_group_arn": group.target_group}
    catalog, provider = provider_for(tmp_path, moto, health)
    step = STEP.validate_python({"strategy": "scale_out", "timeout": "10s"})
    result = await provider.carry_out(step, context(catalog, step=1))
    assert result.output == (
        "desired capacity of g was raised to 2 for this step; 2 healthy instances"
    )
    assert group.describe()["DesiredCapacity"] == 2
