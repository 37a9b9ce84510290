"""One scan of an AWS account in one region: the settings, the tag filter, what is known so far.

The per-service modules (``aws_ec2``, ``aws_rds``, …) read through it and
add findings to its ``Discovery``; later services use what earlier ones
learnt (which finding serves an instance, which AZ an instance is in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paramedic.catalog.aws import AwsSettings
from paramedic.discover.finding import Discovery, Finding
from paramedic.providers.aws import session

EC2_HEALTH = {"check": "aws.ec2_status", "interval": "30s", "timeout": "10s", "failures": 2}
"""The check of an instance: AWS's own status checks (AWS checks poll every 30 s)."""


@dataclass
class AwsScan:
    """The state of one region's scan."""

    settings: AwsSettings
    discovery: Discovery
    tags: dict[str, str] = field(default_factory=dict)
    """``--tag KEY=VALUE`` filters: a resource must carry every one."""
    instance_az: dict[str, str] = field(default_factory=dict)
    """EC2 instance id → its availability zone (every instance seen)."""
    instance_owner: dict[str, str] = field(default_factory=dict)
    """EC2 instance id → the finding that holds it (a standalone instance or its group)."""
    subnet_az: dict[str, str] = field(default_factory=dict)
    """Subnet id → availability zone."""

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` through paramedic's session layer."""
        return session.client(self.settings, service)

    def wanted(self, tags: dict[str, str]) -> bool:
        """Whether a resource with ``tags`` passes the ``--tag`` filters."""
        return all(tags.get(k) == v for k, v in self.tags.items())

    def add(self, finding: Finding) -> Finding:
        """Add a finding to the discovery (its name made unique)."""
        return self.discovery.add(finding)

    async def subnets(self) -> None:
        """Learn every subnet's availability zone (once)."""
        if self.subnet_az:
            return
        found = await session.collect(self.client("ec2"), "DescribeSubnets", "Subnets")
        self.subnet_az = {s["SubnetId"]: s["AvailabilityZone"] for s in found}
