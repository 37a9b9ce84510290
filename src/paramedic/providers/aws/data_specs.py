"""Specs and capabilities of the AWS data providers (RDS, ElastiCache). Filled in by the RDS work."""

from __future__ import annotations

from paramedic.catalog.model import ComponentType, StrategyName
from paramedic.providers.base import ProviderInfo, SpecModel


class RdsSpec(SpecModel):
    """One RDS DB instance."""

    db_instance_identifier: str


class ElastiCacheSpec(SpecModel):
    """One ElastiCache cluster."""

    cache_cluster_id: str


RDS = ProviderInfo(
    name="aws.rds",
    summary="a single-AZ RDS instance: reboot, restore to a point in time and cut over",
    types=frozenset({ComponentType.database}),
    strategies=frozenset({StrategyName.restart_service, StrategyName.restore_from_backup}),
    spec_model=RdsSpec,
    requires=("boto3",),
)

ELASTICACHE = ProviderInfo(
    name="aws.elasticache",
    summary="an ElastiCache cluster: reboot nodes, restore from the newest snapshot",
    types=frozenset({ComponentType.cache}),
    strategies=frozenset({StrategyName.restart_service, StrategyName.restore_from_backup}),
    spec_model=ElastiCacheSpec,
    requires=("boto3",),
)
