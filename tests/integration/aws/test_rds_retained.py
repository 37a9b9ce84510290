"""Restoring a deleted RDS instance from its retained automated backups (issue 13.12).

moto lists retained automated backups without their ARN (and ignores ``DbiResourceId``),
so no moto test reaches this path: the calls are checked with botocore's ``Stubber``
against answers shaped like AWS's (the API reference's examples). The provider first
reads the live instance from moto, as the agent's ``start`` does, and so remembers its
``DbiResourceId``: ``DBInstanceIdentifier`` must name an *existing* instance.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from paramedic.catalog.model import RestoreFromBackup
from paramedic.providers.aws.data_common import iso
from paramedic.providers.aws.rds import RdsProvider
from paramedic.providers.aws.rds_restore import restored_name, retained_backup
from paramedic.providers.aws.session import client
from paramedic.providers.registry import build_provider
from tests.aws_server import MotoAccount
from tests.integration.aws.data_setup import action, load, placed_db, rds_component, write_catalog

pytestmark = pytest.mark.integration

INCIDENT = "inc-20261125T120000-orders-ab12"
ACCOUNT = "123456789012"
EARLIEST = datetime(2026, 11, 18, 3, 10, tzinfo=UTC)
LATEST = datetime(2026, 11, 25, 11, 55, 12, tzinfo=UTC)
BACKUPS_ARN = (
    f"arn:aws:rds:us-east-1:{ACCOUNT}:auto-backup:ab-5jqtfb3lk2ubhkxbhxm2h7d5fsvxn3gw2x4ymq"
)


def _automated_backup(resource_id: str, status: str, **over: Any) -> dict[str, Any]:
    """One entry of DescribeDBInstanceAutomatedBackups as AWS answers it."""
    entry: dict[str, Any] = {
        "DBInstanceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders",
        "DbiResourceId": resource_id,
        "Region": "us-east-1",
        "DBInstanceIdentifier": "orders",
        "RestoreWindow": {"EarliestTime": EARLIEST, "LatestTime": LATEST},
        "AllocatedStorage": 20,
        "Status": status,
        "Port": 5432,
        "AvailabilityZone": "us-east-1a",
        "VpcId": "vpc-0a1b2c3d4e5f67890",
        "InstanceCreateTime": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        "MasterUsername": "app",
        "Engine": "postgres",
        "EngineVersion": "15.4",
        "LicenseModel": "postgresql-license",
        "OptionGroupName": "default:postgres-15",
        "Encrypted": False,
        "StorageType": "gp2",
        "IAMDatabaseAuthenticationEnabled": False,
        "BackupRetentionPeriod": 7,
        "DBInstanceAutomatedBackupsArn": BACKUPS_ARN,
        "DBInstanceAutomatedBackupsReplications": [],
        "BackupTarget": "region",
    }
    entry.update(over)
    return entry


def _instance(identifier: str, status: str, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "DBInstanceIdentifier": identifier,
        "DBInstanceClass": "db.t3.small",
        "Engine": "postgres",
        "DBInstanceStatus": status,
        "DbiResourceId": "db-NEWRESTOREDINSTANCE0000001",
        "DBInstanceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:{identifier}",
        "Endpoint": {
            "Address": f"{identifier}.c9akciq32.us-east-1.rds.amazonaws.com",
            "Port": 5432,
        },
        "TagList": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


async def _provider(tmp_path: Path, moto: MotoAccount) -> tuple[RdsProvider, dict[str, Any]]:
    placed = placed_db(moto)
    catalog = load(write_catalog(tmp_path, moto, {"orders": rds_component()}))
    provider = build_provider(catalog, "orders")
    assert isinstance(provider, RdsProvider)
    await provider.start()  # on moto: remembers the live instance, DbiResourceId included
    assert provider.remembered is not None
    assert provider.remembered["DBInstanceArn"] == placed.arn
    return provider, provider.remembered


async def test_a_deleted_instance_is_restored_from_its_retained_backups_by_resource_id(
    tmp_path: Path, moto: MotoAccount
) -> None:
    provider, alive = await _provider(tmp_path, moto)
    resource_id = str(alive["DbiResourceId"])
    new_id = restored_name("orders", INCIDENT)
    restored_tags = {
        "team": "orders",
        "paramedic:incident": INCIDENT,
        "paramedic:role": "restored",
        "paramedic:replaces": "orders",
        "paramedic:restored-to": iso(LATEST),
    }
    not_found = {
        "service_error_code": "DBInstanceNotFound",
        "service_message": "DBInstance orders not found.",
        "http_status_code": 404,
    }
    with Stubber(client(provider.settings, "rds")) as stub:
        stub.add_response("describe_db_instances", {"DBInstances": []}, {})  # none restored yet
        stub.add_client_error(
            "describe_db_instances", **not_found, expected_params={"DBInstanceIdentifier": "orders"}
        )
        stub.add_response(
            "describe_db_instance_automated_backups",
            {"DBInstanceAutomatedBackups": [_automated_backup(resource_id, "retained")]},
            {"DbiResourceId": resource_id},
        )
        stub.add_response(
            "restore_db_instance_to_point_in_time",
            {"DBInstance": _instance(new_id, "creating", restored_tags)},
            {
                "SourceDBInstanceAutomatedBackupsArn": BACKUPS_ARN,
                "TargetDBInstanceIdentifier": new_id,
                "UseLatestRestorableTime": True,
                "Tags": ANY,
                "MultiAZ": False,
                "DBSubnetGroupName": "orders-subnets",
                "VpcSecurityGroupIds": [alive["VpcSecurityGroups"][0]["VpcSecurityGroupId"]],
                "DBParameterGroupName": "orders-params",
                "DBInstanceClass": "db.t3.small",
            },
        )
        stub.add_response(
            "describe_db_instances",
            {"DBInstances": [_instance(new_id, "available", restored_tags)]},
            {"DBInstanceIdentifier": new_id},
        )
        for gone in ("orders", "orders-damaged-" + new_id.rsplit("-r", 1)[1]):
            stub.add_client_error(
                "describe_db_instances", **not_found, expected_params={"DBInstanceIdentifier": gone}
            )
        stub.add_response(
            "modify_db_instance",
            {"DBInstance": _instance(new_id, "renaming", restored_tags)},
            {
                "DBInstanceIdentifier": new_id,
                "NewDBInstanceIdentifier": "orders",
                "ApplyImmediately": True,
            },
        )
        stub.add_response(
            "describe_db_instances",
            {"DBInstances": [_instance("orders", "available", restored_tags)]},
            {"DBInstanceIdentifier": "orders"},
        )
        result = await provider.carry_out(
            RestoreFromBackup(strategy="restore_from_backup", timeout=timedelta(seconds=30)),
            action(provider.catalog, "orders", INCIDENT),
        )
        stub.assert_no_pending_responses()
    assert result.detail["from"] == "retained automated backups of deleted orders"
    assert result.recovery_point_at == LATEST
    assert result.output.startswith(
        f"restored orders from retained automated backups of deleted orders into {new_id} "
        f"(data as of {iso(LATEST)}); renamed {new_id} to orders"
    )


async def test_without_a_remembered_resource_id_the_region_s_backups_are_matched_by_name(
    tmp_path: Path, moto: MotoAccount
) -> None:
    provider, _ = await _provider(tmp_path, moto)
    provider.remembered = None  # the agent never saw the instance alive
    older = _automated_backup(
        "db-OLDERDELETEDORDERS000000001",
        "retained",
        RestoreWindow={"EarliestTime": EARLIEST, "LatestTime": LATEST - timedelta(days=30)},
        DBInstanceAutomatedBackupsArn=BACKUPS_ARN.replace("ab-5", "ab-4"),
    )
    answer = {
        "DBInstanceAutomatedBackups": [
            _automated_backup(
                "db-SOMEOTHERINSTANCE00000000001", "retained", DBInstanceIdentifier="billing"
            ),
            older,
            _automated_backup("db-ORDERSDELETEDINSTANCE0000001", "retained"),
            _automated_backup("db-ORDERSNOWLIVEINSTANCE000001", "active"),
        ]
    }
    with Stubber(client(provider.settings, "rds")) as stub:
        stub.add_response("describe_db_instance_automated_backups", answer, {})
        found = await retained_backup(provider, "orders")
        stub.assert_no_pending_responses()
    assert found is not None
    assert (found["DbiResourceId"], found["DBInstanceAutomatedBackupsArn"]) == (
        "db-ORDERSDELETEDINSTANCE0000001",
        BACKUPS_ARN,
    )


async def test_native_window_reads_the_automated_backups_by_resource_id(
    tmp_path: Path, moto: MotoAccount
) -> None:
    provider, alive = await _provider(tmp_path, moto)
    resource_id = str(alive["DbiResourceId"])
    live = {**alive, "LatestRestorableTime": LATEST}
    with Stubber(client(provider.settings, "rds")) as stub:
        stub.add_response(
            "describe_db_instances", {"DBInstances": [live]}, {"DBInstanceIdentifier": "orders"}
        )
        stub.add_response(
            "describe_db_instance_automated_backups",
            {"DBInstanceAutomatedBackups": [_automated_backup(resource_id, "active")]},
            {"DbiResourceId": resource_id},
        )
        window = await provider.native_window()
        stub.assert_no_pending_responses()
    assert (window.oldest, window.newest) == (EARLIEST, LATEST)
