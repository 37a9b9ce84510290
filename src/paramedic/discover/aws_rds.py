"""RDS on one region: single-AZ instances, read replicas beside their source, one-AZ Aurora clusters.

The RPO proposed follows what the instance can restore: with automated
backups (retention above 0) a point-in-time restore up to
LatestRestorableTime, which lags about 5 minutes, so 15 minutes; without
them nothing bounds the loss, which the constraint says.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from paramedic.discover.aws_scan import AwsScan
from paramedic.discover.finding import Finding, LeftOut, component_name, criticality_of, tag_dict
from paramedic.providers.aws import session

PITR_RPO = timedelta(minutes=15)
"""RPO proposed with point-in-time restore: the ~5 min restorable lag, three times over."""

NO_BACKUP_RPO = timedelta(hours=24)


async def scan_rds(scan: AwsScan) -> None:
    """Add the region's single-location DB instances and Aurora clusters to the scan."""
    rds = scan.client("rds")
    instances = await session.collect(rds, "DescribeDBInstances", "DBInstances")
    by_id = {i["DBInstanceIdentifier"]: i for i in instances}
    clusters: dict[str, list[dict[str, Any]]] = {}
    for inst in instances:
        tags = tag_dict(inst.get("TagList"))
        if inst.get("DBClusterIdentifier"):
            clusters.setdefault(inst["DBClusterIdentifier"], []).append(inst)
            continue
        if not scan.wanted(tags):
            continue
        ident = inst["DBInstanceIdentifier"]
        source = inst.get("ReadReplicaSourceDBInstanceIdentifier")
        if source:
            source_az = by_id.get(source, {}).get("AvailabilityZone")
            if inst.get("MultiAZ") or source_az != inst.get("AvailabilityZone"):
                scan.discovery.left_out.append(
                    LeftOut("rds_replica", ident, f"read replica in another AZ than {source}")
                )
                continue
            why = f"read replica of {source} in the same AZ ({source_az}): one AZ loses both"
        elif inst.get("MultiAZ"):
            scan.discovery.left_out.append(LeftOut("rds_instance", ident, "Multi-AZ"))
            continue
        else:
            why = "RDS MultiAZ is false"
        scan.add(_instance(inst, tags, why))
    for cluster_id, members in clusters.items():
        zones = sorted({m.get("AvailabilityZone", "?") for m in members})
        if len(zones) > 1:
            scan.discovery.left_out.append(
                LeftOut(
                    "aurora_cluster", cluster_id, f"instances in several AZs: {', '.join(zones)}"
                )
            )
            continue
        scan.add(_cluster(cluster_id, members, zones[0]))


def _instance(inst: dict[str, Any], tags: dict[str, str], why: str) -> Finding:
    ident, az = inst["DBInstanceIdentifier"], inst.get("AvailabilityZone", "?")
    retention = int(inst.get("BackupRetentionPeriod", 0))
    storage = (
        f"storage {inst.get('AllocatedStorage', '?')} GiB {inst.get('StorageType', '')}".strip()
    )
    evidence = [why, storage]
    subnet_zones = sorted(
        {
            s["SubnetAvailabilityZone"]["Name"]
            for s in inst.get("DBSubnetGroup", {}).get("Subnets", [])
            if s.get("SubnetAvailabilityZone", {}).get("Name")
        }
    )
    if len(subnet_zones) == 1:
        group = inst["DBSubnetGroup"].get("DBSubnetGroupName", "?")
        evidence.append(
            f"DB subnet group {group} has subnets in {subnet_zones[0]} only: it cannot turn "
            "Multi-AZ without a subnet in another AZ"
        )
    sources = {
        "location": f"rds DescribeDBInstances {ident}: AvailabilityZone",
        "spec.db_instance_identifier": "rds DescribeDBInstances",
    }
    if retention > 0:
        rpo = PITR_RPO
        sources["rpo"] = (
            f"BackupRetentionPeriod {retention} days: point-in-time restore up to "
            "LatestRestorableTime, which lags about 5m"
        )
    else:
        rpo = NO_BACKUP_RPO
        evidence.append("automated backups are off (BackupRetentionPeriod 0): nothing to restore")
        sources["rpo"] = (
            "automated backups are off: no restore bounds the loss; turn them on "
            "(BackupRetentionPeriod) and lower this"
        )
    finding = Finding(
        name=component_name(tags.get("Name"), ident),
        kind="rds_instance",
        resource=ident,
        type="database",
        location=az,
        constraint="; ".join(evidence),
        provider="aws.rds",
        spec={"db_instance_identifier": ident},
        health={"check": "aws.rds_status", "interval": "30s", "timeout": "10s", "failures": 2},
        recovery=[
            {"strategy": "restart_service", "timeout": "10m"},
            {
                "strategy": "restore_from_backup",
                "target": "before_failure",
                "approval": "required",
                "timeout": "45m",
            },
        ],
        rpo=rpo,
        sources=sources,
        facts={"single_location": True, "backup_retention_days": retention},
        tags=tags,
        groups=[g["VpcSecurityGroupId"] for g in inst.get("VpcSecurityGroups", [])],
    )
    finding.facts["endpoint"] = inst.get("Endpoint", {}).get("Address", "")
    finding.criticality = criticality_of(tags, sources)
    return finding


def _cluster(cluster_id: str, members: list[dict[str, Any]], zone: str) -> Finding:
    tags = tag_dict(members[0].get("TagList"))
    sources = {"location": f"rds DescribeDBInstances: every instance of {cluster_id}"}
    names = ", ".join(sorted(m["DBInstanceIdentifier"] for m in members))
    finding = Finding(
        name=component_name(None, cluster_id),
        kind="aurora_cluster",
        resource=cluster_id,
        type="database",
        location=zone,
        constraint=f"Aurora cluster {cluster_id}: every instance ({names}) is in {zone}",
        provider=None,
        unsupported="paramedic has no Aurora cluster provider yet; add a reader in another AZ",
        sources=sources,
        facts={"single_location": True},
        tags=tags,
        groups=sorted(
            {g["VpcSecurityGroupId"] for m in members for g in m.get("VpcSecurityGroups", [])}
        ),
    )
    finding.criticality = criticality_of(tags, sources)
    return finding
