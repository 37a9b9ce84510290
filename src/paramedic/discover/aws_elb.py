"""ELBv2 on one region: load balancers enabled in one AZ, target groups whose healthy targets share one AZ.

paramedic has no load balancer provider on AWS, so both are findings
without a component: they count in the blast radius of the instances they
route to, and each standalone instance learns its target groups
(``spec.target_group_arns``, which ``replace_instance`` re-registers).
"""

from __future__ import annotations

from typing import Any

from paramedic.discover.aws_scan import AwsScan
from paramedic.discover.finding import Finding, LeftOut, component_name, criticality_of, tag_dict
from paramedic.providers.aws import session

NO_PROVIDER = "paramedic has no ELB provider: enable the load balancer in a second AZ"


async def scan_elb(scan: AwsScan) -> None:
    """Add the region's single-AZ load balancers and target groups to the scan."""
    client = scan.client("elbv2")
    balancers = await session.collect(client, "DescribeLoadBalancers", "LoadBalancers")
    groups = await session.collect(client, "DescribeTargetGroups", "TargetGroups")
    tags = await _tags(
        client, [b["LoadBalancerArn"] for b in balancers] + [g["TargetGroupArn"] for g in groups]
    )
    group_finding: dict[str, str] = {}
    by_name = scan.discovery.by_name()
    for group in groups:
        arn, name = group["TargetGroupArn"], group["TargetGroupName"]
        answer = await session.call(client, "DescribeTargetHealth", name, TargetGroupArn=arn)
        targets = answer.get("TargetHealthDescriptions", [])
        ids = [t["Target"]["Id"] for t in targets]
        owners = sorted({scan.instance_owner[i] for i in ids if i in scan.instance_owner})
        for owner in owners:
            finding = by_name.get(owner)
            if finding is not None and finding.kind == "ec2_instance":
                arns = finding.spec.setdefault("target_group_arns", [])
                if arn not in arns:
                    arns.append(arn)
                    finding.sources["spec.target_group_arns"] = (
                        "elbv2 DescribeTargetHealth: registered there"
                    )
        if not scan.wanted(tags.get(arn, {})):
            continue
        healthy = [t for t in targets if t.get("TargetHealth", {}).get("State") == "healthy"]
        counted = healthy or targets
        zones = sorted({_zone(scan, t) for t in counted})
        if not counted:
            continue
        if len(zones) > 1:
            scan.discovery.left_out.append(
                LeftOut("target_group", name, f"targets in several AZs: {', '.join(zones)}")
            )
            continue
        which = "healthy targets" if healthy else "registered targets (none healthy)"
        sources = {"location": "elbv2 DescribeTargetHealth: its targets' AZ"}
        finding = Finding(
            name=component_name(None, f"tg-{name}"),
            kind="target_group",
            resource=arn,
            type="load_balancer",
            location=zones[0],
            constraint=f"target group {name}: all {len(counted)} {which} are in {zones[0]}",
            provider=None,
            unsupported=NO_PROVIDER.replace("enable the load balancer", "register targets"),
            sources=sources,
            facts={"single_location": True},
        )
        finding.criticality = criticality_of({}, sources)
        for owner in owners:
            finding.depend_on(owner, f"target group {name} routes to it")
        group_finding[arn] = scan.add(finding).name
    for balancer in balancers:
        _balancer(scan, balancer, tags.get(balancer["LoadBalancerArn"], {}), groups, group_finding)


def _zone(scan: AwsScan, target: dict[str, Any]) -> str:
    zone = target["Target"].get("AvailabilityZone")
    if zone and zone != "all":
        return str(zone)
    return scan.instance_az.get(target["Target"]["Id"], "?")


async def _tags(client: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):  # DescribeTags takes 20 ARNs at a time
        answer = await session.call(client, "DescribeTags", ResourceArns=arns[start : start + 20])
        for item in answer.get("TagDescriptions", []):
            found[item["ResourceArn"]] = tag_dict(item.get("Tags"))
    return found


def _balancer(
    scan: AwsScan,
    balancer: dict[str, Any],
    tags: dict[str, str],
    groups: list[dict[str, Any]],
    group_finding: dict[str, str],
) -> None:
    if not scan.wanted(tags):
        return
    name, arn = balancer["LoadBalancerName"], balancer["LoadBalancerArn"]
    zones = sorted({z["ZoneName"] for z in balancer.get("AvailabilityZones", [])})
    kind = balancer.get("Type", "application")
    if len(zones) > 1:
        scan.discovery.left_out.append(
            LeftOut("load_balancer", name, f"enabled in several AZs: {', '.join(zones)}")
        )
        return
    sources = {"location": f"elbv2 DescribeLoadBalancers {name}: AvailabilityZones"}
    finding = Finding(
        name=component_name(tags.get("Name"), name),
        kind="load_balancer",
        resource=arn,
        type="load_balancer",
        location=zones[0] if zones else "?",
        constraint=f"{kind} load balancer {name} is enabled in one AZ ({', '.join(zones)})",
        provider=None,
        unsupported=NO_PROVIDER,
        sources=sources,
        facts={"single_location": True, "endpoint": balancer.get("DNSName", "")},
        tags=tags,
        groups=list(balancer.get("SecurityGroups", [])),
    )
    finding.criticality = criticality_of(tags, sources)
    for group in groups:
        if arn in group.get("LoadBalancerArns", []) and group["TargetGroupArn"] in group_finding:
            finding.depend_on(
                group_finding[group["TargetGroupArn"]],
                f"its listener forwards to target group {group['TargetGroupName']}",
            )
    scan.add(finding)
