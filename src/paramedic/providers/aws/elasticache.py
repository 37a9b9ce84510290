"""The ``aws.elasticache`` provider: one ElastiCache cluster, rebooted or restored from a snapshot.

- ``restart_service``: ``RebootCacheCluster`` of every node, then wait until the cluster
  and its nodes are available.
- ``restore_from_backup``: a new cluster ``<id>-r<incident>`` from the newest snapshot (of
  the original or of the current cluster) at or before the target, with the current
  cluster's node type, subnet group, security groups and parameter group, tagged with the
  incident; wait available; UPSERT ``spec.route53`` (CNAME) to its endpoint. The old
  cluster is kept. Repeated for the same incident, the cluster found by its identifier is
  used instead of creating another.

The cluster serving the component (``current_cluster``) is the newest one restored in its
place (tag ``paramedic:replaces``), else ``spec.cache_cluster_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from paramedic.catalog.aws import AwsSettings
from paramedic.catalog.model import RestartService, RestoreFromBackup
from paramedic.errors import ProviderError
from paramedic.providers.aws import session
from paramedic.providers.aws.data_common import (
    TAG_REPLACES,
    TAG_RESTORED_TO,
    derived_id,
    from_iso,
    incident_tags,
    iso,
    short_id,
    tag_dict,
    tag_list,
    upsert_cname,
    utc,
)
from paramedic.providers.aws.data_specs import ELASTICACHE, ElastiCacheSpec
from paramedic.providers.aws.iam import actions_of
from paramedic.providers.base import ActionContext, ActionResult, ProviderInfo, resolve_target
from paramedic.providers.local.datafiles import load_spec

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws.elasticache:restart_service": (
        "elasticache:DescribeCacheClusters",
        "elasticache:ListTagsForResource",
        "elasticache:RebootCacheCluster",
    ),
    "aws.elasticache:restore_from_backup": (
        "elasticache:DescribeCacheClusters",
        "elasticache:ListTagsForResource",
        "elasticache:DescribeSnapshots",
        "elasticache:CreateCacheCluster",
        "elasticache:AddTagsToResource",
        *actions_of(upsert_cname),
    ),
}
"""IAM actions each strategy of this provider calls."""


def ec(settings: AwsSettings) -> Any:
    """The ElastiCache client of ``settings``."""
    return session.client(settings, "elasticache")


def restored_cluster_id(original: str, incident_id: str) -> str:
    """Identifier of the cluster restored for ``incident_id`` (40 characters at most)."""
    return derived_id(original, f"r{short_id(incident_id)}", 40)


async def describe_cluster(settings: AwsSettings, cluster_id: str) -> dict[str, Any] | None:
    """The cluster with its nodes; None when not found."""
    try:
        found = await session.call(
            ec(settings),
            "DescribeCacheClusters",
            cluster_id,
            CacheClusterId=cluster_id,
            ShowCacheNodeInfo=True,
        )
    except session.AwsError as exc:
        if exc.code == "CacheClusterNotFound":
            return None
        raise
    clusters: list[dict[str, Any]] = found.get("CacheClusters", [])
    return clusters[0] if clusters else None


async def current_cluster(settings: AwsSettings, spec: ElastiCacheSpec) -> str:
    """The newest cluster restored in place of ``spec.cache_cluster_id``, else that id."""
    prefix = derived_id(spec.cache_cluster_id, "r00000000", 40)[:-8]
    clusters = await session.collect(ec(settings), "DescribeCacheClusters", "CacheClusters")
    candidates = sorted(
        (c for c in clusters if c["CacheClusterId"].startswith(prefix)),
        key=lambda c: str(c.get("CacheClusterCreateTime", "")),
        reverse=True,
    )
    for cluster in candidates:
        tags = await session.call(
            ec(settings),
            "ListTagsForResource",
            cluster["CacheClusterId"],
            ResourceName=cluster["ARN"],
        )
        if tag_dict(tags.get("TagList")).get(TAG_REPLACES) == spec.cache_cluster_id:
            return str(cluster["CacheClusterId"])
    return spec.cache_cluster_id


def unavailable(cluster: dict[str, Any]) -> str | None:
    """Why the cluster is not serving (its status, or a node's), None when all is available."""
    status = cluster.get("CacheClusterStatus")
    if status != "available":
        return f"cluster {cluster['CacheClusterId']} is {status}"
    for node in cluster.get("CacheNodes", []):
        if node.get("CacheNodeStatus", "available") != "available":
            return f"node {node.get('CacheNodeId')} of {cluster['CacheClusterId']} is {node['CacheNodeStatus']}"
    return None


def endpoint(cluster: dict[str, Any]) -> str | None:
    """Where clients reach the cluster: its configuration endpoint, else its first node's."""
    config = cluster.get("ConfigurationEndpoint") or {}
    if config.get("Address"):
        return str(config["Address"])
    for node in cluster.get("CacheNodes", []):
        address = (node.get("Endpoint") or {}).get("Address")
        if address:
            return str(address)
    return None


async def wait_cluster_available(
    settings: AwsSettings, cluster_id: str, within: timedelta
) -> dict[str, Any]:
    """Poll until the cluster and every node are available."""

    async def probe() -> dict[str, Any] | None:
        cluster = await describe_cluster(settings, cluster_id)
        return cluster if cluster is not None and unavailable(cluster) is None else None

    return await session.wait_for(
        probe, within=within, interval=settings.poll, what=f"cache cluster {cluster_id} available"
    )


class ElastiCacheProvider:
    """Reboots or restores one ElastiCache cluster."""

    info: ProviderInfo = ELASTICACHE
    start_if_down: bool = True
    """Ignored: an AWS resource is never started by taking charge of it."""

    def __init__(self, *, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self.name = name
        self.spec: ElastiCacheSpec = load_spec(ElastiCacheSpec, catalog, name)
        self.settings = catalog.aws_for(name)

    async def start(self) -> None:
        """Nothing to start: the cluster lives in AWS."""

    async def close(self, stop_owned: bool) -> None:
        """Nothing to release."""

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        ident = self.spec.cache_cluster_id
        if isinstance(step, RestartService):
            return f"reboot every node of ElastiCache cluster {ident} and wait until available"
        if isinstance(step, RestoreFromBackup):
            repoint = (
                f"point Route 53 {self.spec.route53.name} at it"
                if self.spec.route53
                else "leave clients to find it (no route53 in the spec)"
            )
            return (
                f"create cluster {restored_cluster_id(ident, '<incident>')} from the newest "
                f"snapshot of {ident} before {step.target}, wait until available, {repoint}; "
                f"{ident} is kept"
            )
        return f"nothing: the aws.elasticache provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; idempotent for the incident."""
        if ctx.dry_run:
            return ActionResult(output=f"dry run: would {self.describe(step)}")
        if isinstance(step, RestartService):
            return await self._reboot(step.timeout, ctx)
        if isinstance(step, RestoreFromBackup):
            return await self._restore(step, ctx)
        raise ProviderError(f"provider 'aws.elasticache' cannot carry out {step.strategy}")

    async def _reboot(self, within: timedelta, ctx: ActionContext) -> ActionResult:
        ident = await current_cluster(self.settings, self.spec)
        cluster = await describe_cluster(self.settings, ident)
        if cluster is None:
            raise ProviderError(
                f"cache cluster {ident} does not exist: a reboot cannot bring it back"
            )
        nodes = [n["CacheNodeId"] for n in cluster.get("CacheNodes", [])] or [
            f"{i:04d}" for i in range(1, int(cluster.get("NumCacheNodes", 1)) + 1)
        ]
        if "rebooting" not in str(cluster.get("CacheClusterStatus")):
            await session.call(
                ec(self.settings),
                "RebootCacheCluster",
                ident,
                CacheClusterId=ident,
                CacheNodeIdsToReboot=nodes,
            )
            ctx.log(f"{self.name}: rebooting nodes {', '.join(nodes)} of {ident}")
        await wait_cluster_available(self.settings, ident, within)
        return ActionResult(output=f"rebooted nodes {', '.join(nodes)} of cache cluster {ident}")

    async def _restore(self, step: RestoreFromBackup, ctx: ActionContext) -> ActionResult:
        settings, original = self.settings, self.spec.cache_cluster_id
        new_id = restored_cluster_id(original, ctx.incident_id)
        existing = await describe_cluster(settings, new_id)
        if existing is None:
            source_id = await current_cluster(settings, self.spec)
            source = await describe_cluster(settings, source_id)
            snapshot = await self._newest_snapshot(
                {original, source_id}, resolve_target(step.target, ctx.failed_at)
            )
            point_at = _snapshot_time(snapshot)
            kwargs = _placement(source or {}, snapshot)
            tags = incident_tags(ctx.incident_id, "restored", **{TAG_REPLACES: original})
            tags[TAG_RESTORED_TO] = iso(point_at) if point_at else ""
            await session.call(
                ec(settings),
                "CreateCacheCluster",
                new_id,
                CacheClusterId=new_id,
                SnapshotName=snapshot["SnapshotName"],
                Tags=tag_list(tags),
                **kwargs,
            )
            origin = f"snapshot {snapshot['SnapshotName']}"
            ctx.log(f"{self.name}: creating {new_id} from {origin}")
        else:
            tags_found = await session.call(
                ec(settings), "ListTagsForResource", new_id, ResourceName=existing["ARN"]
            )
            point_at = from_iso(tag_dict(tags_found.get("TagList")).get(TAG_RESTORED_TO))
            origin = "an earlier attempt of this step"
        cluster = await wait_cluster_available(settings, new_id, step.timeout)
        moved = "no route53 record to re-point"
        if self.spec.route53 is not None:
            address = endpoint(cluster)
            if address is None:
                raise ProviderError(
                    f"restored cache cluster {new_id} shows no endpoint to point at"
                )
            moved = await upsert_cname(settings, self.spec.route53, address, step.timeout)
        return ActionResult(
            output=f"restored {original} from {origin} into {new_id}; {moved}; the old cluster is kept",
            recovery_point_at=point_at,
            detail={"restored": new_id, "from": origin, "cutover": moved},
        )

    async def _newest_snapshot(self, clusters: set[str], target: datetime | None) -> dict[str, Any]:
        found: list[dict[str, Any]] = []
        for cluster_id in sorted(clusters):
            snapshots = await session.collect(
                ec(self.settings),
                "DescribeSnapshots",
                "Snapshots",
                cluster_id,
                CacheClusterId=cluster_id,
            )
            found.extend(s for s in snapshots if s.get("SnapshotStatus") == "available")
        if target is not None:
            found = [s for s in found if (t := _snapshot_time(s)) is not None and t <= target]
        if not found:
            aim = "" if target is None else f" taken at or before {iso(target)}"
            raise ProviderError(
                f"cache cluster {self.spec.cache_cluster_id} has no available snapshot{aim}; "
                "enable automatic backups (SnapshotRetentionLimit) or take one"
            )
        return max(found, key=lambda s: _snapshot_time(s) or _EPOCH)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _snapshot_time(snapshot: dict[str, Any]) -> datetime | None:
    """When the snapshot's data was taken: its first node snapshot's SnapshotCreateTime."""
    for node in snapshot.get("NodeSnapshots", []):
        moment = utc(node.get("SnapshotCreateTime"))
        if moment is not None:
            return moment
    return None


def _placement(cluster: dict[str, Any], snapshot: dict[str, Any]) -> dict[str, Any]:
    """Node type, subnet group, security groups and parameter group of the new cluster."""
    kwargs: dict[str, Any] = {}
    node_type = cluster.get("CacheNodeType") or snapshot.get("CacheNodeType")
    if node_type:
        kwargs["CacheNodeType"] = node_type
    subnet = cluster.get("CacheSubnetGroupName") or snapshot.get("CacheSubnetGroupName")
    if subnet:
        kwargs["CacheSubnetGroupName"] = subnet
    groups = [g["SecurityGroupId"] for g in cluster.get("SecurityGroups", [])]
    if groups:
        kwargs["SecurityGroupIds"] = groups
    params = (cluster.get("CacheParameterGroup") or {}).get("CacheParameterGroupName")
    if params:
        kwargs["CacheParameterGroupName"] = params
    return kwargs
