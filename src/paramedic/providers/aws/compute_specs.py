"""Specs and capabilities of the AWS compute providers (EC2, Auto Scaling).

Kept free of boto3 so that the catalog loader and ``plan`` can read them
without the AWS SDK installed.
"""

from __future__ import annotations

import shlex
from typing import Literal

from pydantic import Field, model_validator

from paramedic.catalog.duration import Duration
from paramedic.catalog.model import ComponentType, StrategyName
from paramedic.providers.base import ProviderInfo, SpecModel

COMPONENT_TAG = "paramedic:component"
"""The instance serving a component carries ``paramedic:component=<component name>``."""


class LaunchTemplateRef(SpecModel):
    """The launch template a replacement instance is launched from."""

    id: str | None = Field(None, pattern=r"^lt-[0-9a-f]{8,17}$")
    name: str | None = None
    version: str = Field("$Default", description="a version number, $Default or $Latest")

    @model_validator(mode="after")
    def _one_of(self) -> LaunchTemplateRef:
        if (self.id is None) == (self.name is None):
            raise ValueError("give exactly one of id or name")
        return self

    def as_api(self) -> dict[str, str]:
        """The ``LaunchTemplate`` argument of RunInstances."""
        ref = {"LaunchTemplateId": self.id} if self.id else {"LaunchTemplateName": self.name or ""}
        return {**ref, "Version": self.version}


class Route53Record(SpecModel):
    """The DNS record re-pointed at the replacement instance (UPSERT)."""

    zone_id: str = Field(min_length=1, description="hosted zone id, e.g. Z0123456789ABC")
    name: str = Field(min_length=1, description="e.g. web.example.internal")
    type: Literal["A"] = "A"
    ttl: int = Field(60, ge=0, le=2_147_483_647)
    public: bool = Field(False, description="point at the public IP instead of the private one")


class Ec2Spec(SpecModel):
    """One EC2 instance paramedic watches and recovers."""

    instance_id: str = Field(
        pattern=r"^i-[0-9a-f]{8,17}$", description="the instance serving the component at first"
    )
    launch_template: LaunchTemplateRef | None = Field(
        None,
        description="launch replacements from it; default: copy the failed instance's AMI, "
        "type, subnet, security groups, key pair, instance profile, user data and tags",
    )
    target_group_arns: list[str] = Field(
        default_factory=list, description="ELBv2 target groups the replacement is registered in"
    )
    route53: Route53Record | None = Field(None, description="record UPSERTed to the replacement")
    elastic_ip: str | None = Field(
        None, pattern=r"^eipalloc-[0-9a-f]+$", description="allocation id moved to the replacement"
    )
    network_interface: str | None = Field(
        None,
        pattern=r"^eni-[0-9a-f]+$",
        description="secondary ENI moved to the replacement (device index 1)",
    )
    data_volume: str | None = Field(
        None,
        pattern=r"^vol-[0-9a-f]+$",
        description="EBS volume moved to the replacement once the failed instance stopped",
    )
    device: str | None = Field(
        None,
        pattern=r"^/dev/[a-z0-9]+$",
        description="device of data_volume on the replacement; default: its device on the "
        "failed instance, else /dev/sdf",
    )
    on_replace: Literal["stop", "terminate"] = Field(
        "stop", description="what happens to the failed instance after replace_instance"
    )
    restart_command: str | list[str] | None = Field(
        None,
        min_length=1,
        description="shell line (or argv, quoted for the shell) run through SSM AWS-RunShellScript",
    )
    restart_by: Literal["ssm", "reboot", "stop_start"] | None = Field(
        None,
        description="how restart_service restarts; default: ssm with restart_command, else reboot",
    )

    @model_validator(mode="after")
    def _restart(self) -> Ec2Spec:
        if self.restart_by == "ssm" and self.restart_command is None:
            raise ValueError("restart_by: ssm needs restart_command")
        if self.device is not None and self.data_volume is None:
            raise ValueError("device applies only with data_volume")
        return self

    @property
    def restart_line(self) -> str | None:
        """``restart_command`` as the one shell line SSM runs."""
        if isinstance(self.restart_command, list):
            return shlex.join(self.restart_command)
        return self.restart_command

    @property
    def restart_mode(self) -> Literal["ssm", "reboot", "stop_start"]:
        """How restart_service restarts the instance."""
        if self.restart_by is not None:
            return self.restart_by
        return "ssm" if self.restart_command is not None else "reboot"


class AsgSpec(SpecModel):
    """An Auto Scaling group paramedic recovers through."""

    group: str = Field(min_length=1, description="the Auto Scaling group's name")
    min_healthy_wait: Duration | None = Field(
        None,
        description="how long replace_instance waits for desired-capacity healthy instances; "
        "default: the step's timeout",
    )


EC2_FAULTS = ("stop-instance", "reboot-instance")

EC2 = ProviderInfo(
    name="aws.ec2",
    summary="one EC2 instance: reboot, restart through SSM, replace from its launch template",
    types=frozenset(ComponentType),
    strategies=frozenset({StrategyName.restart_service, StrategyName.replace_instance}),
    spec_model=Ec2Spec,
    faults=EC2_FAULTS,
    checks=frozenset({"aws.ec2_status"}),
    implementation="paramedic.providers.aws.ec2:Ec2Provider",
    requires=("boto3",),
)

ASG = ProviderInfo(
    name="aws.asg",
    summary="an Auto Scaling group: replace an unhealthy instance, scale out within max",
    types=frozenset(ComponentType),
    strategies=frozenset({StrategyName.replace_instance, StrategyName.scale_out}),
    spec_model=AsgSpec,
    checks=frozenset({"aws.ec2_status"}),
    implementation="paramedic.providers.aws.asg:AsgProvider",
    requires=("boto3",),
)
