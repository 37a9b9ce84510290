"""Specs and capabilities of the AWS compute providers (EC2, Auto Scaling). Filled in by the EC2 work."""

from __future__ import annotations

from pydantic import Field

from paramedic.catalog.model import ComponentType, StrategyName
from paramedic.providers.base import ProviderInfo, SpecModel


class Ec2Spec(SpecModel):
    """One EC2 instance paramedic watches and recovers."""

    instance_id: str = Field(pattern=r"^i-[0-9a-f]{8,17}$")


class AsgSpec(SpecModel):
    """An Auto Scaling group paramedic recovers through."""

    group: str


EC2 = ProviderInfo(
    name="aws.ec2",
    summary="one EC2 instance: reboot, restart through SSM, replace from its launch template",
    types=frozenset(ComponentType),
    strategies=frozenset({StrategyName.restart_service, StrategyName.replace_instance}),
    spec_model=Ec2Spec,
    requires=("boto3",),
)

ASG = ProviderInfo(
    name="aws.asg",
    summary="an Auto Scaling group: replace an unhealthy instance, scale out within max",
    types=frozenset(ComponentType),
    strategies=frozenset({StrategyName.replace_instance, StrategyName.scale_out}),
    spec_model=AsgSpec,
    requires=("boto3",),
)
