"""``restore_from_backup`` of an RDS instance: restore into a new identifier, then cut over.

1. Find an instance already restored for this incident (tag ``paramedic:incident``); a
   repeated step continues with it instead of restoring again.
2. Otherwise restore into ``<id>-r<incident>``, with the source's subnet group, security
   groups, parameter group, class and tags, single-AZ (the API's defaults are the default
   VPC's, wrong for a replacement):
   - the source exists: ``RestoreDBInstanceToPointInTime`` (``latest``:
     ``UseLatestRestorableTime``; else ``RestoreTime``, held to LatestRestorableTime);
   - it was deleted: from its retained automated backups, found by the ``DbiResourceId``
     remembered from when it was alive (``SourceDBInstanceAutomatedBackupsArn``), else from
     its newest snapshot (final, manual or automated) at or before the target.
3. Wait until it is available, then cut over: rename the failed instance aside to
   ``<id>-damaged-<incident>`` and the restored one to ``<id>`` (``ApplyImmediately``), or
   UPSERT the Route 53 record to the restored endpoint. The failed instance is never deleted.

``recovery_point_at`` is the restore time used (for ``latest``: the source's
LatestRestorableTime at the call, or the snapshot's time); it is kept as the tag
``paramedic:restored-to`` so that a repeated step reports the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from paramedic.errors import ProviderError
from paramedic.providers.aws import session
from paramedic.providers.aws.data_common import (
    TAG_INCIDENT,
    TAG_REPLACES,
    TAG_RESTORED_TO,
    TAG_ROLE,
    derived_id,
    from_iso,
    incident_tags,
    iso,
    short_id,
    tag_dict,
    tag_list,
    upsert_cname,
    user_tags,
    utc,
)
from paramedic.providers.aws.iam import calls
from paramedic.providers.aws.rds_instances import (
    current_identifier,
    describe_instance,
    latest_restorable,
    rds,
    restored_instances,
    wait_available,
    wait_gone,
)
from paramedic.providers.base import ActionContext, ActionResult, resolve_target

if TYPE_CHECKING:
    from paramedic.catalog.model import RestoreFromBackup
    from paramedic.providers.aws.rds import RdsProvider


def restored_name(original: str, incident_id: str) -> str:
    """Identifier of the instance restored for ``incident_id``."""
    return derived_id(original, f"r{short_id(incident_id)}", 63)


def aside_name(original: str, incident_id: str) -> str:
    """Identifier the failed instance is renamed to."""
    return derived_id(original, f"damaged-{short_id(incident_id)}", 63)


def _placement(known: dict[str, Any], provider: RdsProvider) -> dict[str, Any]:
    """Subnet group, security groups, parameter group and class for the restored instance."""
    spec = provider.spec
    subnet = (known.get("DBSubnetGroup") or {}).get(
        "DBSubnetGroupName"
    ) or spec.db_subnet_group_name
    groups = [g["VpcSecurityGroupId"] for g in known.get("VpcSecurityGroups", [])] or (
        spec.vpc_security_group_ids or []
    )
    params = [p["DBParameterGroupName"] for p in known.get("DBParameterGroups", [])]
    parameter_group = (params[0] if params else None) or spec.db_parameter_group_name
    klass = known.get("DBInstanceClass") or spec.db_instance_class
    kwargs: dict[str, Any] = {"MultiAZ": False}
    if subnet:
        kwargs["DBSubnetGroupName"] = subnet
    if groups:
        kwargs["VpcSecurityGroupIds"] = groups
    if parameter_group:
        kwargs["DBParameterGroupName"] = parameter_group
    if klass:
        kwargs["DBInstanceClass"] = klass
    return kwargs


@calls("rds:DescribeDBInstanceAutomatedBackups")
async def retained_backup(provider: RdsProvider, source_id: str) -> dict[str, Any] | None:
    """The deleted instance's retained automated backups (newest restorable first), when AWS gives their ARN.

    ``DBInstanceIdentifier`` must name an *existing* instance, so a deleted one is looked up
    by the ``DbiResourceId`` remembered from when it was alive; when the agent never saw it,
    every automated backup of the region is listed and matched by its identifier.
    """
    client = rds(provider.settings)
    resource_id = (provider.remembered or {}).get("DbiResourceId")
    if resource_id:
        found = await session.call(
            client,
            "DescribeDBInstanceAutomatedBackups",
            source_id,
            DbiResourceId=str(resource_id),
        )
        backups = list(found.get("DBInstanceAutomatedBackups", []))
    else:
        listed = await session.collect(
            client, "DescribeDBInstanceAutomatedBackups", "DBInstanceAutomatedBackups", source_id
        )
        backups = [b for b in listed if b.get("DBInstanceIdentifier") == source_id]
    usable = [
        dict(b)
        for b in backups
        if b.get("Status") == "retained" and b.get("DBInstanceAutomatedBackupsArn")
    ]
    if not usable:
        return None
    return max(usable, key=_latest_restorable_of)


def _latest_restorable_of(backup: dict[str, Any]) -> datetime:
    latest = utc((backup.get("RestoreWindow") or {}).get("LatestTime"))
    return latest or datetime.min.replace(tzinfo=UTC)


@calls("rds:DescribeDBSnapshots")
async def _newest_snapshot(
    provider: RdsProvider, source_id: str, target: datetime | None
) -> dict[str, Any]:
    snapshots = await session.collect(
        rds(provider.settings),
        "DescribeDBSnapshots",
        "DBSnapshots",
        source_id,
        DBInstanceIdentifier=source_id,
    )
    usable = [
        s
        for s in snapshots
        if s.get("Status") == "available"
        and utc(s.get("SnapshotCreateTime")) is not None
        and (target is None or utc(s["SnapshotCreateTime"]) <= target)  # type: ignore[operator]
    ]
    if not usable:
        aim = "" if target is None else f" taken at or before {iso(target)}"
        raise ProviderError(
            f"DB instance {source_id} is gone and has no retained automated backup and no "
            f"snapshot{aim} to restore from; restore it by hand from another copy"
        )
    return max(usable, key=lambda s: utc(s["SnapshotCreateTime"]))  # type: ignore[arg-type,return-value]


@calls(
    "rds:RestoreDBInstanceToPointInTime",
    "rds:RestoreDBInstanceFromDBSnapshot",
    uses=(describe_instance, retained_backup, _newest_snapshot),
)
async def _restore_new(
    provider: RdsProvider, step: RestoreFromBackup, ctx: ActionContext, source_id: str
) -> tuple[dict[str, Any], str]:
    settings, spec = provider.settings, provider.spec
    original = spec.db_instance_identifier
    target = resolve_target(step.target, ctx.failed_at)
    new_id = restored_name(original, ctx.incident_id)
    source = await describe_instance(settings, source_id)
    known = source or provider.remembered or {}
    kwargs = _placement(known, provider)
    tags = user_tags(known.get("TagList")) | incident_tags(
        ctx.incident_id, "restored", **{TAG_REPLACES: original}
    )
    client = rds(settings)
    when: dict[str, Any]
    if source is not None:
        latest = latest_restorable(source)
        if target is None or (latest is not None and target > latest):
            if target is not None:
                ctx.log(f"{provider.name}: {iso(target)} is past LatestRestorableTime; using it")
            point_at, when = latest, {"UseLatestRestorableTime": True}
        else:
            point_at, when = target, {"RestoreTime": target}
        tags[TAG_RESTORED_TO] = iso(point_at) if point_at else ""
        found = await session.call(
            client,
            "RestoreDBInstanceToPointInTime",
            source_id,
            SourceDBInstanceIdentifier=source_id,
            TargetDBInstanceIdentifier=new_id,
            Tags=tag_list(tags),
            **when,
            **kwargs,
        )
        return found["DBInstance"], f"point in time of {source_id}"
    retained = await retained_backup(provider, source_id)
    if retained is not None:
        window = retained.get("RestoreWindow") or {}
        latest = utc(window.get("LatestTime"))
        use_latest = target is None or (latest is not None and target > latest)
        point_at = latest if use_latest else target
        tags[TAG_RESTORED_TO] = iso(point_at) if point_at else ""
        when = {"UseLatestRestorableTime": True} if use_latest else {"RestoreTime": target}

        found = await session.call(
            client,
            "RestoreDBInstanceToPointInTime",
            source_id,
            SourceDBInstanceAutomatedBackupsArn=retained["DBInstanceAutomatedBackupsArn"],
            TargetDBInstanceIdentifier=new_id,
            Tags=tag_list(tags),
            **when,
            **kwargs,
        )
        return found["DBInstance"], f"retained automated backups of deleted {source_id}"
    snapshot = await _newest_snapshot(provider, source_id, target)
    point_at = utc(snapshot.get("SnapshotCreateTime"))
    tags = user_tags(snapshot.get("TagList")) | tags
    tags[TAG_RESTORED_TO] = iso(point_at) if point_at else ""
    kwargs.pop("MultiAZ", None)
    found = await session.call(
        client,
        "RestoreDBInstanceFromDBSnapshot",
        snapshot["DBSnapshotIdentifier"],
        DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"],
        DBInstanceIdentifier=new_id,
        MultiAZ=False,
        Tags=tag_list(tags),
        **kwargs,
    )
    return found[
        "DBInstance"
    ], f"snapshot {snapshot['DBSnapshotIdentifier']} of deleted {source_id}"


@calls(
    "rds:AddTagsToResource",
    "rds:ModifyDBInstance",
    uses=(describe_instance, wait_gone, wait_available),
)
async def _rename_into_place(
    provider: RdsProvider, ctx: ActionContext, identifier: str, within: timedelta
) -> tuple[str | None, str]:
    """Rename the failed instance aside (when it still exists) and ``identifier`` into its place."""
    settings = provider.settings
    original = provider.spec.db_instance_identifier
    aside = aside_name(original, ctx.incident_id)
    if identifier == original:
        kept = await describe_instance(settings, aside)
        return (None if kept is None else aside), f"already renamed into {original}"
    client = rds(settings)
    failed = await describe_instance(settings, original)
    set_aside: str | None = None
    if failed is not None:
        if await describe_instance(settings, aside) is not None:
            raise ProviderError(
                f"cannot rename {original} aside: {aside} exists already; rename one by hand"
            )
        tags = tag_dict(failed.get("TagList"))
        if tags.get(TAG_INCIDENT) != ctx.incident_id or tags.get(TAG_ROLE) != "damaged":
            await session.call(
                client,
                "AddTagsToResource",
                original,
                ResourceName=failed["DBInstanceArn"],
                Tags=tag_list(incident_tags(ctx.incident_id, "damaged")),
            )
        await session.call(
            client,
            "ModifyDBInstance",
            original,
            DBInstanceIdentifier=original,
            NewDBInstanceIdentifier=aside,
            ApplyImmediately=True,
        )
        ctx.log(f"{provider.name}: renamed the failed {original} aside to {aside}")
        await wait_gone(settings, original, within)
        set_aside = aside
    elif await describe_instance(settings, aside) is not None:
        set_aside = aside
    await session.call(
        client,
        "ModifyDBInstance",
        identifier,
        DBInstanceIdentifier=identifier,
        NewDBInstanceIdentifier=original,
        ApplyImmediately=True,
    )
    await wait_available(settings, original, within)
    where = f"failed instance kept as {set_aside}" if set_aside else "no failed instance was left"
    return set_aside, f"renamed {identifier} to {original}; {where}"


@calls(
    uses=(
        restored_instances,
        current_identifier,
        _restore_new,
        wait_available,
        upsert_cname,
        _rename_into_place,
    )
)
async def restore(
    provider: RdsProvider, step: RestoreFromBackup, ctx: ActionContext
) -> ActionResult:
    """Restore, wait, cut over; idempotent for the incident (see the module docstring)."""
    settings, spec = provider.settings, provider.spec
    original = spec.db_instance_identifier
    within = step.timeout
    mine = await restored_instances(settings, original, ctx.incident_id)
    if mine:
        restored = mine[0]
        ctx.log(
            f"{provider.name}: continuing with {restored['DBInstanceIdentifier']}, restored earlier"
        )
        origin = "an earlier attempt of this step"
    else:
        source_id = await current_identifier(settings, spec)
        restored, origin = await _restore_new(provider, step, ctx, source_id)
    identifier = str(restored["DBInstanceIdentifier"])
    point_at = from_iso(tag_dict(restored.get("TagList")).get(TAG_RESTORED_TO))
    restored = await wait_available(settings, identifier, within)
    if spec.cutover == "route53":
        assert spec.route53 is not None
        address = str((restored.get("Endpoint") or {}).get("Address", ""))
        if not address:
            raise ProviderError(f"restored DB instance {identifier} has no endpoint address yet")
        moved = await upsert_cname(settings, spec.route53, address, within)
        aside = None
    else:
        aside, moved = await _rename_into_place(provider, ctx, identifier, within)
    text = f"restored {original} from {origin} into {identifier}"
    if point_at is not None:
        text += f" (data as of {iso(point_at)})"
    text += f"; {moved}"
    return ActionResult(
        output=text,
        recovery_point_at=point_at,
        detail={"restored": identifier, "set_aside": aside, "from": origin, "cutover": moved},
    )
