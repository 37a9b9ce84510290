"""A mixed account for the discovery tests: single-location resources beside Multi-AZ ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.aws_server import MotoAccount


@dataclass
class MixedAccount:
    """What ``build_mixed`` created, by role."""

    moto: MotoAccount
    ami: str
    subnet_a: str
    subnet_b: str
    web_sg: str
    web_1: str
    web_2: str
    target_group: str
    nlb: str

    def run_web(self, name: str) -> str:
        """A standalone instance ``name`` in us-east-1a with the web security group."""
        return _run(self.moto, self.ami, self.subnet_a, self.web_sg, name)


def _run(moto: MotoAccount, ami: str, subnet: str, sg: str, name: str) -> str:
    # moto keeps no security groups on a cache cluster: the web tier names its cache in a tag
    tags = [{"Key": "Name", "Value": name}, {"Key": "session_store", "Value": "sessions"}]
    made = moto.client("ec2").run_instances(
        ImageId=ami,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.small",
        SubnetId=subnet,
        SecurityGroupIds=[sg],
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return str(made["Instances"][0]["InstanceId"])


def build_mixed(moto: MotoAccount) -> MixedAccount:
    """Single-AZ and Multi-AZ RDS, a spread and a one-AZ group, two instances behind a
    single-AZ NLB, a one-node and a replicated ElastiCache."""
    ec2 = moto.client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet_a, subnet_b = (
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{n}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    )
    web_sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    db_sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    cache_sg = ec2.create_security_group(GroupName="cache", Description="c", VpcId=vpc)["GroupId"]
    for sg, port in ((db_sg, 5432), (cache_sg, 6379)):
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "UserIdGroupPairs": [{"GroupId": web_sg}],
                }
            ],
        )
    web_1 = _run(moto, ami, subnet_a, web_sg, "web-1")
    web_2 = _run(moto, ami, subnet_a, web_sg, "web-2")
    volume = ec2.create_volume(Size=50, AvailabilityZone="us-east-1a", VolumeType="gp3")
    ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=web_1, Device="/dev/sdg")
    _rds(moto, subnet_a, subnet_b, db_sg)
    _groups(moto, ami, subnet_a, subnet_b)
    _caches(moto, subnet_a, subnet_b, cache_sg)
    elbv2 = moto.client("elbv2")
    nlb = elbv2.create_load_balancer(Name="front", Subnets=[subnet_a], Type="network")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(
        Name="web", Protocol="TCP", Port=80, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": web_1}, {"Id": web_2}])
    elbv2.create_listener(
        LoadBalancerArn=nlb,
        Protocol="TCP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    return MixedAccount(moto, ami, subnet_a, subnet_b, web_sg, web_1, web_2, tg, nlb)


def _rds(moto: MotoAccount, subnet_a: str, subnet_b: str, db_sg: str) -> None:
    rds = moto.client("rds")
    rds.create_db_subnet_group(
        DBSubnetGroupName="data", DBSubnetGroupDescription="d", SubnetIds=[subnet_a, subnet_b]
    )
    common: dict[str, Any] = {
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.small",
        "StorageType": "gp3",
        "MasterUsername": "app",
        "MasterUserPassword": "password1",
        "DBSubnetGroupName": "data",
        "VpcSecurityGroupIds": [db_sg],
        "BackupRetentionPeriod": 7,
    }
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        AllocatedStorage=500,
        AvailabilityZone="us-east-1a",
        Tags=[{"Key": "criticality", "Value": "critical"}],
        **common,
    )
    rds.create_db_instance(
        DBInstanceIdentifier="billing", AllocatedStorage=100, MultiAZ=True, **common
    )


def _groups(moto: MotoAccount, ami: str, subnet_a: str, subnet_b: str) -> None:
    moto.client("ec2").create_launch_template(
        LaunchTemplateName="worker",
        LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.small"},
    )
    asg = moto.client("autoscaling")
    for name, subnets in (("spread", [subnet_a, subnet_b]), ("batch", [subnet_a])):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "worker", "Version": "$Default"},
            MinSize=1,
            MaxSize=3,
            DesiredCapacity=len(subnets),
            VPCZoneIdentifier=",".join(subnets),
        )


def _caches(moto: MotoAccount, subnet_a: str, subnet_b: str, cache_sg: str) -> None:
    cache = moto.client("elasticache")
    cache.create_cache_cluster(
        CacheClusterId="sessions",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=1,
        PreferredAvailabilityZone="us-east-1a",
        SecurityGroupIds=[cache_sg],
        SnapshotRetentionLimit=1,
    )
    cache.create_replication_group(
        ReplicationGroupId="carts",
        ReplicationGroupDescription="replicated",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        PreferredCacheClusterAZs=["us-east-1a", "us-east-1b"],
    )
