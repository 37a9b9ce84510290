"""Set-up shared by the RDS, ElastiCache and AWS Backup tests: a placed DB instance, a catalog."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Catalog
from paramedic.providers.base import ActionContext
from tests.aws_server import MotoAccount


@dataclass(frozen=True)
class PlacedDb:
    """A DB instance in its own subnet group, security group and parameter group."""

    identifier: str
    subnet_group: str
    security_group: str
    parameter_group: str
    arn: str


def placed_db(moto: MotoAccount, identifier: str = "orders") -> PlacedDb:
    """Create a VPC with two subnets, a security group, groups, and a tagged DB instance."""
    ec2 = moto.client("ec2")
    rds = moto.client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    sg = ec2.create_security_group(GroupName="orders-db", Description="db", VpcId=vpc)["GroupId"]
    rds.create_db_subnet_group(
        DBSubnetGroupName="orders-subnets", DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    rds.create_db_parameter_group(
        DBParameterGroupName="orders-params", DBParameterGroupFamily="postgres15", Description="x"
    )
    made = rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t3.small",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="password1",
        DBSubnetGroupName="orders-subnets",
        VpcSecurityGroupIds=[sg],
        DBParameterGroupName="orders-params",
        BackupRetentionPeriod=7,
        Tags=[{"Key": "team", "Value": "orders"}],
    )["DBInstance"]
    return PlacedDb(identifier, "orders-subnets", sg, "orders-params", made["DBInstanceArn"])


def write_catalog(tmp_path: Path, moto: MotoAccount, components: dict[str, Any]) -> Path:
    """A catalog file (JSON is YAML) with its state in ``tmp_path``."""
    path = tmp_path / "paramedic.yaml"
    data = {
        "version": 1,
        "state": f"sqlite:///{tmp_path / 'state.db'}",
        "aws": moto.catalog_block,
        "components": components,
    }
    path.write_text(json.dumps(data, indent=2))
    return path


def rds_component(identifier: str = "orders", **spec: Any) -> dict[str, Any]:
    """An aws.rds component of a catalog."""
    return {
        "type": "database",
        "criticality": "critical",
        "rto": "30m",
        "rpo": "1h",
        "provider": "aws.rds",
        "spec": {"db_instance_identifier": identifier, **spec},
        "health": {"check": "aws.rds_status", "interval": "1s", "timeout": "5s"},
        "recovery": [
            {"strategy": "restart_service", "timeout": "30s"},
            {"strategy": "restore_from_backup", "timeout": "60s"},
        ],
    }


def load(path: Path) -> Catalog:
    """The catalog at ``path``."""
    return load_catalog(path)


def action(
    catalog: Catalog, name: str, incident: str = "inc-20261125T120000-orders-ab12"
) -> ActionContext:
    """The context of step 1 of ``incident`` on ``name``, failed a minute ago."""
    return ActionContext(
        incident_id=incident,
        step_index=1,
        component_name=name,
        component=catalog.components[name],
        catalog=catalog,
        failed_at=datetime.now(UTC),
    )


def instances(moto: MotoAccount) -> dict[str, dict[str, Any]]:
    """Every DB instance by identifier."""
    found = moto.client("rds").describe_db_instances()["DBInstances"]
    return {i["DBInstanceIdentifier"]: i for i in found}


def tags(instance: dict[str, Any]) -> dict[str, str]:
    """An instance's tags as a dict."""
    return {t["Key"]: t["Value"] for t in instance.get("TagList", [])}
