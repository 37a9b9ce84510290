"""The aws_backup engine on the aws.rds provider, through paramedic's BackupService.

moto's AWS Backup has vaults and plans but no jobs or recovery points, so the ``backup``
client is driven by botocore's Stubber with the responses AWS documents
(StartBackupJob, DescribeBackupJob, ListRecoveryPointsByBackupVault,
GetRecoveryPointRestoreMetadata, StartRestoreJob, DescribeRestoreJob,
DeleteRecoveryPoint); the RDS side (the instance's ARN, the restored scratch instance,
its tag) is moto's server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from paramedic.backup.service import BackupService
from paramedic.clock import RealClock
from paramedic.providers.aws import session
from paramedic.store import Store
from tests.aws_server import MotoAccount
from tests.integration.aws.data_setup import (
    PlacedDb,
    instances,
    load,
    placed_db,
    rds_component,
    tags,
    write_catalog,
)

pytestmark = pytest.mark.integration

VAULT = "orders-vault"
ROLE = "arn:aws:iam::123456789012:role/AWSBackupDefaultServiceRole"
NOW = datetime.now(UTC)


def _point(arn: str, db: PlacedDb, age: timedelta) -> dict[str, Any]:
    return {
        "RecoveryPointArn": arn,
        "BackupVaultName": VAULT,
        "ResourceArn": db.arn,
        "ResourceType": "RDS",
        "CreationDate": NOW - age,
        "CompletionDate": NOW - age + timedelta(minutes=5),
        "Status": "COMPLETED",
        "BackupSizeInBytes": 1024,
    }


@pytest.fixture
def setup(tmp_path: Path, moto: MotoAccount) -> Iterator[tuple[BackupService, Stubber, PlacedDb]]:
    db = placed_db(moto)
    component = rds_component(backup_role_arn=ROLE)
    component["backup"] = {
        "engine": "aws_backup",
        "schedule": "0 * * * *",
        "repository": VAULT,
        "keep": "7d",
    }
    catalog = load(write_catalog(tmp_path, moto, {"orders": component}))
    backup = session.client(catalog.aws_for("orders"), "backup")
    store = Store.open(catalog.state_url())
    with Stubber(backup) as stub:
        yield BackupService(catalog, store, RealClock()), stub, db
        stub.assert_no_pending_responses()
    store.close()


async def test_take_waits_for_the_job_and_prunes_past_keep(
    setup: tuple[BackupService, Stubber, PlacedDb],
) -> None:
    service, stub, db = setup
    new_arn = "arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-new"
    old_arn = "arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-old"
    stub.add_response(
        "start_backup_job",
        {"BackupJobId": "job-1", "RecoveryPointArn": new_arn, "CreationDate": NOW},
        {"BackupVaultName": VAULT, "ResourceArn": db.arn, "IamRoleArn": ROLE},
    )
    stub.add_response(
        "describe_backup_job",
        {"BackupJobId": "job-1", "State": "RUNNING", "PercentDone": "40"},
        {"BackupJobId": "job-1"},
    )
    stub.add_response(
        "describe_backup_job",
        {
            "BackupJobId": "job-1",
            "State": "COMPLETED",
            "RecoveryPointArn": new_arn,
            "CreationDate": NOW,
            "BackupSizeInBytes": 2048,
        },
        {"BackupJobId": "job-1"},
    )
    listed = {
        "RecoveryPoints": [
            _point(old_arn, db, timedelta(days=9)),
            _point(new_arn, db, timedelta(0)),
        ]
    }
    stub.add_response(
        "list_recovery_points_by_backup_vault",
        listed,
        {"BackupVaultName": VAULT, "ByResourceArn": db.arn},
    )
    stub.add_response(
        "delete_recovery_point", {}, {"BackupVaultName": VAULT, "RecoveryPointArn": old_arn}
    )
    row = await service.take("orders")
    assert row.location == new_arn
    assert row.size_bytes == 2048


async def test_failed_job_is_reported_with_aws_message(
    setup: tuple[BackupService, Stubber, PlacedDb],
) -> None:
    from paramedic.errors import ProviderError

    service, stub, _db = setup
    stub.add_response(
        "start_backup_job",
        {"BackupJobId": "job-2", "RecoveryPointArn": "arn:x", "CreationDate": NOW},
    )
    stub.add_response(
        "describe_backup_job",
        {"BackupJobId": "job-2", "State": "FAILED", "StatusMessage": "role cannot be assumed"},
    )
    with pytest.raises(ProviderError, match="ended FAILED: role cannot be assumed"):
        await service.take("orders")


async def test_inventory_lists_points_oldest_first_and_the_window(
    setup: tuple[BackupService, Stubber, PlacedDb],
) -> None:
    service, stub, db = setup
    a, b = "arn:aws:backup:a", "arn:aws:backup:b"
    listed = {
        "RecoveryPoints": [_point(b, db, timedelta(hours=1)), _point(a, db, timedelta(hours=5))]
    }
    stub.add_response("list_recovery_points_by_backup_vault", listed)
    stub.add_response("list_recovery_points_by_backup_vault", listed)
    inventory = await service.inventory("orders")
    assert [p.location for p in inventory.points] == [a, b]
    assert inventory.window.oldest is not None and inventory.window.newest is not None
    assert inventory.window.newest > NOW - timedelta(minutes=1), "LatestRestorableTime widens it"


async def test_verify_restores_into_a_kept_tagged_scratch_instance(
    setup: tuple[BackupService, Stubber, PlacedDb], moto: MotoAccount
) -> None:
    service, stub, db = setup
    point = "arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-v"
    stub.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": [_point(point, db, timedelta(hours=1))]},
    )
    stub.add_response(
        "get_recovery_point_restore_metadata",
        {"RestoreMetadata": {"DBInstanceIdentifier": "orders", "DBInstanceClass": "db.t3.small"}},
        {"BackupVaultName": VAULT, "RecoveryPointArn": point},
    )

    def restored_by_aws_backup(scratch: str) -> None:
        # what AWS Backup's restore job would create
        moto.client("rds").restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="orders",
            TargetDBInstanceIdentifier=scratch,
            UseLatestRestorableTime=True,
        )

    from paramedic.providers.aws.data_common import derived_id, short_id

    scratch = derived_id("orders", f"v{short_id(point)}", 63)
    restored_by_aws_backup(scratch)
    stub.add_response(
        "start_restore_job",
        {"RestoreJobId": "restore-1"},
        {
            "RecoveryPointArn": point,
            "Metadata": {"DBInstanceIdentifier": scratch, "DBInstanceClass": "db.t3.small"},
            "IamRoleArn": ROLE,
            "IdempotencyToken": scratch,
        },
    )
    stub.add_response(
        "describe_restore_job",
        {
            "RestoreJobId": "restore-1",
            "Status": "COMPLETED",
            "CreatedResourceArn": f"arn:aws:rds:us-east-1:123456789012:db:{scratch}",
        },
        {"RestoreJobId": "restore-1"},
    )
    result = await service.verify("orders")
    assert result.ok, result.detail
    assert scratch in result.detail
    kept = instances(moto)[scratch]
    assert tags(kept)["paramedic:verification"] == point
