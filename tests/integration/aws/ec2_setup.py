"""Set-up shared by the EC2 tests and the AWS end-to-end test: an instance and all that points at it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.aws_server import MotoAccount

USER_DATA = "#!/bin/sh\necho serving\n"


@dataclass
class Ec2World:
    """A VPC with the instance serving ``web``: volume, ENI, EIP, target group and DNS record."""

    moto: MotoAccount
    ami: str
    subnet: str
    security_group: str
    instance_id: str
    target_group: str
    zone_id: str
    record: str
    allocation: str
    eni: str
    volume: str

    def instance(self, instance_id: str) -> dict[str, Any]:
        """The instance as DescribeInstances shows it."""
        answer = self.moto.client("ec2").describe_instances(InstanceIds=[instance_id])
        found: dict[str, Any] = answer["Reservations"][0]["Instances"][0]
        return found

    def tags(self, instance_id: str) -> dict[str, str]:
        """An instance's tags."""
        return {t["Key"]: t["Value"] for t in self.instance(instance_id).get("Tags", [])}

    def spec(self, **extra: Any) -> dict[str, Any]:
        """The ``aws.ec2`` spec re-pointing everything at a replacement."""
        return {
            "instance_id": self.instance_id,
            "target_group_arns": [self.target_group],
            "route53": {"zone_id": self.zone_id, "name": self.record},
            "elastic_ip": self.allocation,
            "network_interface": self.eni,
            "data_volume": self.volume,
            **extra,
        }


def build_world(moto: MotoAccount) -> Ec2World:
    """Create the VPC, the instance and everything pointing at it."""
    ec2 = moto.client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.create_key_pair(KeyName="ops")
    tags = [{"Key": "Name", "Value": "web-1"}, {"Key": "team", "Value": "shop"}]
    instance_id = ec2.run_instances(
        ImageId=ami,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.small",
        SubnetId=subnet_id,
        SecurityGroupIds=[sg],
        KeyName="ops",
        UserData=USER_DATA,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]["InstanceId"]
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance_id, Device="/dev/sdg")
    eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=1)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=allocation, InstanceId=instance_id)
    elbv2 = moto.client("elbv2")
    tg = elbv2.create_target_group(
        Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id, "Port": 8080}])
    route53 = moto.client("route53")
    zone = route53.create_hosted_zone(
        Name="example.internal",
        CallerReference="paramedic-test",
        HostedZoneConfig={"Comment": "test", "PrivateZone": True},
        VPC={"VPCRegion": moto.region, "VPCId": vpc},
    )["HostedZone"]["Id"]
    return Ec2World(
        moto,
        ami,
        subnet_id,
        sg,
        instance_id,
        tg,
        zone,
        "web.example.internal",
        allocation,
        eni,
        volume,
    )


def write_catalog(
    tmp_path: Path,
    moto: MotoAccount,
    spec: dict[str, Any],
    recovery: list[dict[str, Any]],
    health: dict[str, Any] | None = None,
) -> Path:
    """A catalog with one ``aws.ec2`` component ``web``, written as YAML (JSON is YAML)."""
    data = {
        "version": 1,
        "state": "sqlite:///paramedic.db",
        "aws": moto.catalog_block,
        "components": {
            "web": {
                "type": "application_server",
                "rto": "5m",
                "rpo": "0s",
                "provider": "aws.ec2",
                "spec": spec,
                "health": health
                or {"check": "aws.ec2_status", "interval": "1s", "timeout": "5s", "failures": 1},
                "recovery": recovery,
                "drills": {"allowed": True},
            }
        },
    }
    path = tmp_path / "paramedic.yaml"
    path.write_text(json.dumps(data, indent=2))
    return path
