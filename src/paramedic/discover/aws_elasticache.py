"""ElastiCache on one region: one-node clusters, and replication groups that cannot fail over to another AZ."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from paramedic.discover.aws_scan import AwsScan
from paramedic.discover.finding import Finding, LeftOut, component_name, criticality_of, tag_dict
from paramedic.providers.aws import session
from paramedic.providers.aws.session import AwsError

SNAPSHOT_RPO = timedelta(hours=24)
"""ElastiCache's automatic snapshot is daily."""


async def scan_elasticache(scan: AwsScan) -> None:
    """Add the region's single-location cache clusters and replication groups to the scan."""
    client = scan.client("elasticache")
    clusters = await session.collect(
        client, "DescribeCacheClusters", "CacheClusters", ShowCacheNodeInfo=True
    )
    by_id = {c["CacheClusterId"]: c for c in clusters}
    for cluster in clusters:
        if cluster.get("ReplicationGroupId"):
            continue  # judged with its group below
        tags = await _tags(client, cluster)
        if not scan.wanted(tags):
            continue
        ident = cluster["CacheClusterId"]
        zone = cluster.get("PreferredAvailabilityZone", "?")
        nodes = int(cluster.get("NumCacheNodes", 1))
        if nodes > 1 and zone == "Multiple":
            scan.discovery.left_out.append(
                LeftOut("elasticache_cluster", ident, f"{nodes} nodes in several AZs")
            )
            continue
        why = "one node" if nodes == 1 else f"{nodes} nodes, all in {zone}"
        scan.add(_cluster(cluster, tags, why))
    groups = await session.collect(client, "DescribeReplicationGroups", "ReplicationGroups")
    for group in groups:
        _group(scan, group, by_id)


async def _tags(client: Any, cluster: dict[str, Any]) -> dict[str, str]:
    arn = cluster.get("ARN")
    if not arn:
        return {}
    with contextlib.suppress(AwsError):  # tags are a nicety; a refused call leaves none
        answer = await session.call(
            client, "ListTagsForResource", cluster["CacheClusterId"], ResourceName=arn
        )
        return tag_dict(answer.get("TagList"))
    return {}


def _cluster(cluster: dict[str, Any], tags: dict[str, str], why: str) -> Finding:
    ident, zone = cluster["CacheClusterId"], cluster.get("PreferredAvailabilityZone", "?")
    retention = int(cluster.get("SnapshotRetentionLimit", 0) or 0)
    evidence = [
        f"ElastiCache {cluster.get('Engine', '?')} cluster {ident}: {why} "
        f"({cluster.get('CacheNodeType', '?')}), no replica in another AZ"
    ]
    sources = {
        "location": f"elasticache DescribeCacheClusters {ident}: PreferredAvailabilityZone",
        "spec.cache_cluster_id": "elasticache DescribeCacheClusters",
    }
    if retention > 0:
        sources["rpo"] = f"SnapshotRetentionLimit {retention}: a daily automatic snapshot"
    else:
        evidence.append("automatic snapshots are off (SnapshotRetentionLimit 0)")
        sources["rpo"] = (
            "automatic snapshots are off: nothing to restore; set SnapshotRetentionLimit above 0"
        )
    finding = Finding(
        name=component_name(tags.get("Name"), ident),
        kind="elasticache_cluster",
        resource=ident,
        type="cache",
        location=zone,
        constraint="; ".join(evidence),
        provider="aws.elasticache",
        spec={"cache_cluster_id": ident},
        health={
            "check": "aws.elasticache_status",
            "interval": "30s",
            "timeout": "10s",
            "failures": 2,
        },
        recovery=[
            {"strategy": "restart_service", "timeout": "10m"},
            {"strategy": "restore_from_backup", "timeout": "30m"},
        ],
        rpo=SNAPSHOT_RPO,
        sources=sources,
        facts={"single_location": True, "snapshot_retention": retention},
        tags=tags,
        groups=[g["SecurityGroupId"] for g in cluster.get("SecurityGroups", [])],
    )
    finding.criticality = criticality_of(tags, sources)
    return finding


def _group(scan: AwsScan, group: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> None:
    ident = group["ReplicationGroupId"]
    members = list(group.get("MemberClusters", []))
    zones = sorted(
        {by_id[m].get("PreferredAvailabilityZone", "?") for m in members if m in by_id}
        | {
            n.get("PreferredAvailabilityZone", "?")
            for ng in group.get("NodeGroups", [])
            for n in ng.get("NodeGroupMembers", [])
            if n.get("PreferredAvailabilityZone")
        }
    )
    failover = group.get("AutomaticFailover", "disabled")
    multi_az = group.get("MultiAZ") == "enabled"  # AWS then keeps replicas in other AZs
    if failover in ("enabled", "enabling") and (multi_az or len(zones) > 1):
        spread = "Multi-AZ" if multi_az else ", ".join(zones)
        scan.discovery.left_out.append(
            LeftOut("elasticache_replication_group", ident, f"automatic failover, {spread}")
        )
        return
    why = (
        f"automatic failover is {failover}"
        if failover not in ("enabled", "enabling")
        else f"every member in {zones[0] if zones else '?'}"
    )
    sources = {"location": f"elasticache DescribeReplicationGroups {ident}: members' AZs"}
    finding = Finding(
        name=component_name(None, ident),
        kind="elasticache_replication_group",
        resource=ident,
        type="cache",
        location=zones[0] if len(zones) == 1 else ",".join(zones) or "?",
        constraint=f"ElastiCache replication group {ident} ({len(members)} members): {why}",
        provider=None,
        unsupported="paramedic cannot restore replication groups yet (single clusters only)",
        sources=sources,
        facts={"single_location": True},
    )
    finding.criticality = criticality_of({}, sources)
    scan.add(finding)
