"""EC2 on one region: standalone instances, single-AZ Auto Scaling groups, the EBS volumes they hold.

An instance outside every Auto Scaling group lives in one AZ and its EBS
volumes with it; a group whose subnets all sit in one AZ loses every member
when that AZ does. A group spread over several AZs is left out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from paramedic.discover.aws_scan import EC2_HEALTH, AwsScan
from paramedic.discover.finding import Finding, LeftOut, component_name, criticality_of, tag_dict
from paramedic.providers.aws import session

LIVE_STATES = ("pending", "running", "stopping", "stopped")


async def scan_ec2(scan: AwsScan) -> None:
    """Add the region's single-AZ groups, then its standalone instances, to the scan."""
    ec2 = scan.client("ec2")
    reservations = await session.collect(
        ec2,
        "DescribeInstances",
        "Reservations",
        Filters=[{"Name": "instance-state-name", "Values": list(LIVE_STATES)}],
    )
    instances = {i["InstanceId"]: i for r in reservations for i in r["Instances"]}
    for iid, inst in instances.items():
        scan.instance_az[iid] = inst["Placement"]["AvailabilityZone"]
    volumes = await session.collect(ec2, "DescribeVolumes", "Volumes")
    attached: dict[str, list[dict[str, Any]]] = {}
    for volume in volumes:
        for att in volume.get("Attachments", []):
            attached.setdefault(att["InstanceId"], []).append({**volume, "Device": att["Device"]})
    grouped = await _groups(scan, instances)
    for iid, inst in instances.items():
        if iid in grouped:
            continue
        tags = tag_dict(inst.get("Tags"))
        if not scan.wanted(tags):
            continue
        added = scan.add(_instance(inst, tags, attached.get(iid, [])))
        scan.instance_owner[iid] = added.name


def _root(inst: dict[str, Any]) -> str:
    return str(inst.get("RootDeviceName") or "/dev/sda1")


def _instance(inst: dict[str, Any], tags: dict[str, str], volumes: list[dict[str, Any]]) -> Finding:
    iid, az = inst["InstanceId"], inst["Placement"]["AvailabilityZone"]
    sources: dict[str, str] = {"location": f"ec2 DescribeInstances {iid}: Placement"}
    data = [v for v in volumes if v["Device"] != _root(inst)]
    evidence = [f"EC2 instance {iid} ({inst.get('InstanceType', '?')}) is in no Auto Scaling group"]
    evidence += [
        f"EBS {v['VolumeId']} ({v['Size']} GiB {v.get('VolumeType', '')}) at {v['Device']}: "
        f"data bound to {v['AvailabilityZone']}".replace("  ", " ")
        for v in volumes
    ]
    spec: dict[str, Any] = {"instance_id": iid}
    sources["spec.instance_id"] = "ec2 DescribeInstances"
    if len(data) == 1:
        spec["data_volume"] = data[0]["VolumeId"]
        sources["spec.data_volume"] = (
            f"the one non-root EBS volume attached ({data[0]['Device']}): replace_instance moves it"
        )
    if data:
        sources["rpo"] = "data stays on its EBS volume, which replace_instance moves to the copy"
    else:
        sources["rpo"] = (
            "no data volume: the instance looks stateless; give an RPO and a backup if its root "
            "volume holds data"
        )
    finding = Finding(
        name=component_name(tags.get("Name"), iid),
        kind="ec2_instance",
        resource=iid,
        type="application_server",
        location=az,
        constraint="; ".join(evidence),
        provider="aws.ec2",
        spec=spec,
        health=dict(EC2_HEALTH),
        recovery=[
            {"strategy": "restart_service", "timeout": "5m"},
            {"strategy": "replace_instance", "timeout": "10m"},
        ],
        rpo=timedelta(0),
        sources=sources,
        facts={"single_location": True},
        tags=tags,
        groups=[g["GroupId"] for g in inst.get("SecurityGroups", [])],
    )
    finding.criticality = criticality_of(tags, sources)
    return finding


async def _groups(scan: AwsScan, instances: dict[str, dict[str, Any]]) -> set[str]:
    """Scan the Auto Scaling groups; return every instance that belongs to one."""
    groups = await session.collect(
        scan.client("autoscaling"), "DescribeAutoScalingGroups", "AutoScalingGroups"
    )
    await scan.subnets()
    members: set[str] = set()
    for group in groups:
        name = group["AutoScalingGroupName"]
        ids = [m["InstanceId"] for m in group.get("Instances", [])]
        members.update(ids)
        tags = {t["Key"]: t.get("Value", "") for t in group.get("Tags", [])}
        if not scan.wanted(tags):
            continue
        subnets = [s for s in str(group.get("VPCZoneIdentifier") or "").split(",") if s]
        zones = sorted({scan.subnet_az.get(s, "?") for s in subnets} or group["AvailabilityZones"])
        if len(zones) > 1:
            scan.discovery.left_out.append(
                LeftOut("asg", name, f"spread over several AZs: {', '.join(zones)}")
            )
            continue
        added = scan.add(_group(group, tags, zones[0], subnets, ids, instances))
        for iid in ids:
            scan.instance_owner[iid] = added.name
    return members


def _group(
    group: dict[str, Any],
    tags: dict[str, str],
    zone: str,
    subnets: list[str],
    ids: list[str],
    instances: dict[str, dict[str, Any]],
) -> Finding:
    name = group["AutoScalingGroupName"]
    sources: dict[str, str] = {
        "location": f"autoscaling DescribeAutoScalingGroups {name}: its subnets' AZ",
        "rpo": "members are replaceable copies: nothing to lose beyond their disks",
    }
    where = f"subnets {', '.join(subnets)}" if subnets else "AvailabilityZones"
    constraint = f"Auto Scaling group {name}: every subnet is in {zone} ({where})"
    target_groups = list(group.get("TargetGroupARNs", []))
    if target_groups:
        health: dict[str, Any] = {
            "check": "aws.target_health",
            "target_group_arn": target_groups[0],
            "interval": "30s",
            "timeout": "10s",
            "failures": 2,
        }
        sources["health"] = "the group's first target group: every member healthy in it"
    else:
        health = dict(EC2_HEALTH, instance_id=ids[0]) if ids else dict(EC2_HEALTH)
        sources["health"] = "no target group: one member's EC2 status checks"
    finding = Finding(
        name=component_name(tags.get("Name"), name),
        kind="asg",
        resource=name,
        type="application_server",
        location=zone,
        constraint=constraint,
        provider="aws.asg",
        spec={"group": name},
        health=health,
        recovery=[
            {"strategy": "replace_instance", "timeout": "10m"},
            {"strategy": "scale_out", "timeout": "10m"},
        ],
        sources=sources,
        facts={"single_location": True},
        tags=tags,
        groups=sorted(
            {g["GroupId"] for i in ids for g in instances.get(i, {}).get("SecurityGroups", [])}
        ),
    )
    finding.criticality = criticality_of(tags, sources)
    return finding
