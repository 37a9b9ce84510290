"""``paramedic discover aws``: read an account, region by region, into a ``Discovery``.

Services are read in an order where each learns from the previous ones
(instances before the target groups that route to them). Dependencies are
then inferred across services: a security group that admits another
finding's group (the admitted one depends on the admitting one), and a tag
whose value names another finding's endpoint or identifier.

An API a principal may not call (AccessDenied) or an endpoint that does not
serve a service becomes a note and the scan goes on; no credentials or an
unreachable endpoint stop it with one line (``AwsError``, exit 2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from paramedic.catalog.aws import AwsSettings
from paramedic.discover.aws_ec2 import scan_ec2
from paramedic.discover.aws_elasticache import scan_elasticache
from paramedic.discover.aws_elb import scan_elb
from paramedic.discover.aws_misc import scan_efs, scan_nat
from paramedic.discover.aws_rds import scan_rds
from paramedic.discover.aws_scan import AwsScan
from paramedic.discover.finding import Discovery, Finding
from paramedic.providers.aws import session
from paramedic.providers.aws.session import AwsError

SCANS: list[tuple[str, Callable[[AwsScan], Awaitable[None]]]] = [
    ("ec2", scan_ec2),
    ("rds", scan_rds),
    ("elasticache", scan_elasticache),
    ("elbv2", scan_elb),
    ("efs", scan_efs),
    ("nat", scan_nat),
]


async def discover_aws(
    settings: AwsSettings, regions: Sequence[str] = (), tags: dict[str, str] | None = None
) -> Discovery:
    """Every single-location resource of ``regions`` (default: the settings' region)."""
    wanted = list(regions) or [settings.region or ""]
    first = wanted[0] or None
    discovery = Discovery(scope=f"aws {', '.join(r or 'default region' for r in wanted)}")
    discovery.aws = {
        k: v for k, v in {"region": first, "endpoint_url": settings.endpoint_url}.items() if v
    }
    for region in wanted:
        scoped = settings.model_copy(update={"region": region or settings.region})
        scan = AwsScan(scoped, discovery, dict(tags or {}))
        before = len(discovery.findings)
        for service, run in SCANS:
            try:
                await run(scan)
            except AwsError as exc:
                if exc.code is None:
                    raise  # no credentials, no endpoint: nothing else will answer either
                discovery.notes.append(f"{service} in {region or 'default region'} not read: {exc}")
        for finding in discovery.findings[before:]:
            finding.region = scoped.region or ""
        await _security_group_edges(scan, discovery.findings[before:])
    _tag_edges(discovery.findings)
    return discovery


async def _security_group_edges(scan: AwsScan, findings: list[Finding]) -> None:
    """``client`` depends on ``server`` when a group of ``server`` admits a group of ``client``."""
    owners: dict[str, list[Finding]] = {}
    for finding in findings:
        for group in finding.groups:
            owners.setdefault(group, []).append(finding)
    if not owners:
        return
    try:
        groups = await session.collect(
            scan.client("ec2"), "DescribeSecurityGroups", "SecurityGroups"
        )
    except AwsError as exc:
        scan.discovery.notes.append(f"security groups not read, dependencies may be missing: {exc}")
        return
    for group in groups:
        servers = owners.get(group["GroupId"], [])
        for permission in group.get("IpPermissions", []):
            port = permission.get("FromPort")
            where = f" port {port}" if port not in (None, -1) else ""
            for pair in permission.get("UserIdGroupPairs", []):
                for client in owners.get(pair.get("GroupId", ""), []):
                    for server in servers:
                        client.depend_on(
                            server.name,
                            f"security group {group['GroupId']} of {server.name} admits "
                            f"{pair['GroupId']} of {client.name}{where}",
                        )


def _tag_edges(findings: list[Finding]) -> None:
    """A tag whose value names another finding's endpoint or identifier is a dependency on it."""
    for finding in findings:
        for key, value in sorted(finding.tags.items()):
            for other in findings:
                if other is finding:
                    continue
                endpoint = str(other.facts.get("endpoint") or "")
                named = (endpoint and endpoint in value) or other.resource == value
                if named:
                    finding.depend_on(other.name, f"tag {key}={value} names {other.resource}")
