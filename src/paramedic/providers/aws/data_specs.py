"""Specs and capabilities of the AWS data providers (RDS, ElastiCache)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from paramedic.catalog.model import BackupEngine, ComponentType, StrategyName
from paramedic.providers.base import ProviderInfo, SpecModel

RDS_ID = r"^[A-Za-z](-?[A-Za-z0-9])*$"
"""An RDS DB instance identifier: a letter, then letters, digits, single hyphens; 63 at most."""


class Route53Record(SpecModel):
    """A Route 53 record clients resolve; a restore UPSERTs it as a CNAME to the new endpoint."""

    zone_id: str = Field(description="hosted zone id, e.g. Z0123456789ABC")
    name: str = Field(description="record name, e.g. orders-db.internal.example.com")
    ttl: int = Field(60, ge=0, le=2147483647)


class RdsSpec(SpecModel):
    """One RDS DB instance."""

    db_instance_identifier: str = Field(pattern=RDS_ID, max_length=63)
    cutover: Literal["rename", "route53"] = Field(
        "rename",
        description="after a restore: rename the failed instance aside and the restored one "
        "to the identifier (rename), or UPSERT route53 to the restored endpoint (route53)",
    )
    route53: Route53Record | None = Field(None, description="the record of cutover: route53")
    db_subnet_group_name: str | None = Field(
        None, description="for a restore when the instance is gone; else copied from it"
    )
    vpc_security_group_ids: list[str] | None = Field(
        None, description="for a restore when the instance is gone; else copied from it"
    )
    db_parameter_group_name: str | None = Field(
        None, description="for a restore when the instance is gone; else copied from it"
    )
    db_instance_class: str | None = Field(
        None, description="for a restore when the instance is gone; else copied from it"
    )
    backup_role_arn: str | None = Field(
        None, description="IAM role AWS Backup assumes (backup.engine: aws_backup)"
    )

    @model_validator(mode="after")
    def _record_for_route53(self) -> RdsSpec:
        if self.cutover == "route53" and self.route53 is None:
            raise ValueError("cutover: route53 needs route53: {zone_id, name}")
        return self


class ElastiCacheSpec(SpecModel):
    """One ElastiCache cluster."""

    cache_cluster_id: str = Field(pattern=r"^[a-z](-?[a-z0-9])*$", max_length=40)
    route53: Route53Record | None = Field(
        None, description="record re-pointed (CNAME) to a restored cluster's endpoint"
    )


RDS = ProviderInfo(
    name="aws.rds",
    summary="a single-AZ RDS instance: reboot, restore to a point in time and cut over",
    types=frozenset({ComponentType.database}),
    strategies=frozenset({StrategyName.restart_service, StrategyName.restore_from_backup}),
    spec_model=RdsSpec,
    backup_engines=frozenset({BackupEngine.aws_backup}),
    faults=("reboot-db", "delete-db-instance"),
    implementation="paramedic.providers.aws.rds:RdsProvider",
    requires=("boto3",),
    native_backups="RDS automated backups (point-in-time restore up to LatestRestorableTime)",
)

ELASTICACHE = ProviderInfo(
    name="aws.elasticache",
    summary="an ElastiCache cluster: reboot nodes, restore from the newest snapshot",
    types=frozenset({ComponentType.cache}),
    strategies=frozenset({StrategyName.restart_service, StrategyName.restore_from_backup}),
    spec_model=ElastiCacheSpec,
    implementation="paramedic.providers.aws.elasticache:ElastiCacheProvider",
    requires=("boto3",),
    native_backups="ElastiCache snapshots (the cluster's newest snapshot)",
)
