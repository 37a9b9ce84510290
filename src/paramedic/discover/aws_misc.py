"""What else one region shows as bound to one AZ: EFS One Zone file systems and NAT gateways.

Neither has a paramedic provider: they are findings without a component.

"""

from __future__ import annotations

from paramedic.discover.aws_scan import AwsScan
from paramedic.discover.finding import Finding, LeftOut, component_name, criticality_of, tag_dict
from paramedic.providers.aws import session


async def scan_efs(scan: AwsScan) -> None:
    """Add EFS One Zone file systems (``AvailabilityZoneName`` set) to the scan."""
    systems = await session.collect(scan.client("efs"), "DescribeFileSystems", "FileSystems")
    for fs in systems:
        tags = tag_dict(fs.get("Tags"))
        zone = fs.get("AvailabilityZoneName")
        if not scan.wanted(tags):
            continue
        ident = fs["FileSystemId"]
        if not zone:
            scan.discovery.left_out.append(LeftOut("efs", ident, "Regional EFS: in every AZ"))
            continue
        sources = {"location": f"efs DescribeFileSystems {ident}: AvailabilityZoneName"}
        finding = Finding(
            name=component_name(fs.get("Name"), ident),
            kind="efs_one_zone",
            resource=ident,
            type="file_system",
            location=zone,
            constraint=f"EFS One Zone file system {ident}: its data lives in {zone} only",
            provider=None,
            unsupported="paramedic has no EFS provider; back it up with AWS Backup",
            sources=sources,
            facts={"single_location": True},
            tags=tags,
        )
        finding.criticality = criticality_of(tags, sources)
        scan.add(finding)


async def scan_nat(scan: AwsScan) -> None:
    """Add available NAT gateways, each bound to its subnet's AZ, to the scan."""
    await scan.subnets()
    gateways = await session.collect(scan.client("ec2"), "DescribeNatGateways", "NatGateways")
    for gw in gateways:
        if gw.get("State") not in ("pending", "available"):
            continue
        tags = tag_dict(gw.get("Tags"))
        if not scan.wanted(tags):
            continue
        ident, subnet = gw["NatGatewayId"], gw.get("SubnetId", "?")
        zone = scan.subnet_az.get(subnet, "?")
        sources = {"location": f"ec2 DescribeNatGateways {ident}: its subnet {subnet}"}
        finding = Finding(
            name=component_name(tags.get("Name"), ident),
            kind="nat_gateway",
            resource=ident,
            type="load_balancer",
            location=zone,
            constraint=(
                f"NAT gateway {ident} lives in subnet {subnet} ({zone}): private subnets "
                "routing through it lose the internet with that AZ"
            ),
            provider=None,
            unsupported="paramedic has no NAT provider; give each AZ its own NAT gateway",
            sources=sources,
            facts={"single_location": True},
            tags=tags,
        )
        finding.criticality = criticality_of(tags, sources)
        scan.add(finding)
