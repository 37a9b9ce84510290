"""Reading RDS DB instances: one by identifier, the ones paramedic restored, waiting on status.

``DescribeDBInstances`` has no tag filter (in AWS only some filters; moto none), so
instances are listed and their ``TagList`` read; a restored instance's identifier starts
with the original's (``<id>-r<incident>``) or is the original after a rename.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from paramedic.catalog.aws import AwsSettings
from paramedic.providers.aws import session
from paramedic.providers.aws.data_common import (
    TAG_INCIDENT,
    TAG_REPLACES,
    TAG_ROLE,
    tag_dict,
    utc,
)
from paramedic.providers.aws.data_specs import RdsSpec
from paramedic.providers.aws.iam import calls


def rds(settings: AwsSettings) -> Any:
    """The RDS client of ``settings``."""
    return session.client(settings, "rds")


@calls("rds:DescribeDBInstances")
async def describe_instance(settings: AwsSettings, identifier: str) -> dict[str, Any] | None:
    """The DB instance ``identifier`` as DescribeDBInstances shows it; None when not found."""
    try:
        found = await session.call(
            rds(settings), "DescribeDBInstances", identifier, DBInstanceIdentifier=identifier
        )
    except session.AwsError as exc:
        if exc.code == "DBInstanceNotFound":
            return None
        raise
    instances: list[dict[str, Any]] = found.get("DBInstances", [])
    return instances[0] if instances else None


@calls("rds:DescribeDBInstances")
async def all_instances(settings: AwsSettings) -> list[dict[str, Any]]:
    """Every DB instance of the account and region (all pages)."""
    client = rds(settings)
    found: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Marker": marker} if marker else {}
        page = await session.call(client, "DescribeDBInstances", **kwargs)
        found.extend(page.get("DBInstances", []))
        marker = page.get("Marker")
        if not marker:
            return found


@calls(uses=(all_instances,))
async def restored_instances(
    settings: AwsSettings, original: str, incident_id: str | None = None
) -> list[dict[str, Any]]:
    """Instances paramedic restored in place of ``original`` (for one incident), newest first."""
    found = []
    for instance in await all_instances(settings):
        tags = tag_dict(instance.get("TagList"))
        if tags.get(TAG_REPLACES) != original or tags.get(TAG_ROLE) != "restored":
            continue
        if incident_id is not None and tags.get(TAG_INCIDENT) != incident_id:
            continue
        found.append(instance)
    found.sort(key=lambda i: str(i.get("InstanceCreateTime", "")), reverse=True)
    return found


@calls(uses=(restored_instances,))
async def current_identifier(settings: AwsSettings, spec: RdsSpec) -> str:
    """The instance serving the component now: with ``cutover: route53``, the newest restored one."""
    if spec.cutover == "route53":
        restored = await restored_instances(settings, spec.db_instance_identifier)
        if restored:
            return str(restored[0]["DBInstanceIdentifier"])
    return spec.db_instance_identifier


@calls(uses=(describe_instance,))
async def wait_available(
    settings: AwsSettings, identifier: str, within: timedelta
) -> dict[str, Any]:
    """Poll until ``identifier`` exists with status ``available``; AwsError after ``within``."""

    async def probe() -> dict[str, Any] | None:
        instance = await describe_instance(settings, identifier)
        if instance is not None and instance.get("DBInstanceStatus") == "available":
            return instance
        return None

    return await session.wait_for(
        probe, within=within, interval=settings.poll, what=f"DB instance {identifier} available"
    )


@calls(uses=(describe_instance,))
async def wait_gone(settings: AwsSettings, identifier: str, within: timedelta) -> None:
    """Poll until no instance answers to ``identifier`` (a rename has freed it)."""

    async def probe() -> bool | None:
        return True if await describe_instance(settings, identifier) is None else None

    await session.wait_for(
        probe, within=within, interval=settings.poll, what=f"identifier {identifier} freed"
    )


def latest_restorable(instance: dict[str, Any]) -> Any:
    """The instance's LatestRestorableTime in UTC (None when it has none yet)."""
    return utc(instance.get("LatestRestorableTime"))
